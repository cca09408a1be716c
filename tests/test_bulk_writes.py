"""The store's bulk writes, on both backends (on PostgreSQL through COPY and row by row alike): rows of
one key within one write apply as if one by one (newer-or-equal wins, the last of equals), the counts
are those of the row-by-row statements, two writes of one table in one transaction both apply, and a
value the store refuses refuses the whole write."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from inventory_push_kit.receiver import storage
from inventory_push_kit.receiver.errors import StoreRefused

metadata = sa.MetaData()
items = sa.Table(
    "bulk_items", metadata,
    sa.Column("k", sa.String(40), primary_key=True),
    sa.Column("ts", storage.Timestamp, nullable=False),
    sa.Column("v", sa.Integer),
)
COLUMNS = ("k", "ts", "v")


@pytest.fixture(params=["copy", "row-by-row"])
def db(request: pytest.FixtureRequest, store: storage.Store,
       monkeypatch: pytest.MonkeyPatch) -> Iterator[storage.Store]:
    """The store, with PostgreSQL's writes going through COPY whatever their size, or never (SQLite's
    are row by row either way): both paths keep the same guarantees."""
    monkeypatch.setattr(storage, "BULK_MIN_ROWS", 1 if request.param == "copy" else 10**9)
    metadata.create_all(store.engine)
    yield store
    metadata.drop_all(store.engine)


def stamp(minute: int) -> str:
    return f"2026-01-01 10:{minute:02d}:00"


def state(store: storage.Store) -> dict[str, tuple[str, int]]:
    with store.read() as conn:
        return {k: (str(ts)[:19], v) for k, ts, v in conn.execute(sa.select(items).order_by(items.c.k))}


def one_by_one(held: dict[str, tuple[str, int]], rows: Sequence[tuple[str, str, int]],
               newer_or_equal: bool) -> int:
    """What the row-by-row upsert does, as a model: returns the rows written."""
    written = 0
    for k, ts, v in rows:
        if k not in held or not newer_or_equal or ts >= held[k][0]:
            held[k] = (ts, v)
            written += 1
    return written


@pytest.mark.parametrize("newer_or_equal", [True, False])
def test_rows_of_one_key_in_one_write_apply_in_order_with_the_row_by_row_counts(
        db: storage.Store, newer_or_equal: bool) -> None:
    rng = random.Random(5)
    model: dict[str, tuple[str, int]] = {}
    for round_number in range(40):
        rows = [(f"k{rng.randrange(6)}", stamp(rng.randrange(5)), round_number * 100 + i)
                for i in range(rng.randrange(1, 12))]
        with db.write() as conn:
            written = storage.upsert_rows(conn, items, COLUMNS, rows, newer_or_equal="ts" if newer_or_equal else None)
        assert written == one_by_one(model, rows, newer_or_equal), rows
        assert state(db) == model, rows


def test_insert_ignore_keeps_the_first_row_of_a_key_and_counts_the_new_keys(db: storage.Store) -> None:
    with db.write() as conn:
        assert storage.insert_ignore(conn, items, COLUMNS, [("a", stamp(1), 1)]) == 1
    with db.write() as conn:
        new = storage.insert_ignore(conn, items, COLUMNS,
                                    [("b", stamp(1), 2), ("a", stamp(2), 3), ("b", stamp(3), 4), ("c", stamp(1), 5)])
    assert new == 2
    assert state(db) == {"a": (stamp(1), 1), "b": (stamp(1), 2), "c": (stamp(1), 5)}


def test_two_writes_of_one_table_in_one_transaction_both_apply(db: storage.Store) -> None:
    with db.write() as conn:
        assert storage.upsert_rows(conn, items, COLUMNS, [("a", stamp(1), 1), ("b", stamp(1), 1)]) == 2
        assert storage.upsert_rows(conn, items, COLUMNS, [("b", stamp(2), 2), ("c", stamp(2), 2)]) == 2
        assert storage.insert_ignore(conn, items, COLUMNS, [("c", stamp(3), 3), ("d", stamp(3), 3)]) == 1
    assert state(db) == {"a": (stamp(1), 1), "b": (stamp(2), 2), "c": (stamp(2), 2), "d": (stamp(3), 3)}


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # SQLite's integers hold 64 bits
def test_a_value_the_store_refuses_refuses_the_whole_write_and_changes_nothing(db: storage.Store) -> None:
    with db.write() as conn:
        storage.upsert_rows(conn, items, COLUMNS, [("a", stamp(1), 1)])
    rows: list[Any] = [("a", stamp(2), 2), ("b", stamp(2), 2**40)]  # beyond a 32-bit integer column
    with pytest.raises(StoreRefused, match="out of range"), db.write() as conn:
        storage.upsert_rows(conn, items, COLUMNS, rows)
    assert state(db) == {"a": (stamp(1), 1)}
    with db.write() as conn:  # the connection is fine afterwards
        assert storage.upsert_rows(conn, items, COLUMNS, [("b", stamp(3), 3)]) == 1

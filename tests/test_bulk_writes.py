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


def delivery_item(number: int) -> dict[str, Any]:
    """A delivery of every shape the channels log: with or without counts, warnings, a body, headers."""
    item: dict[str, Any] = {"channel": "erp", "outcome": ("accepted", "duplicate", "rejected")[number % 3],
                            "status": None if number % 2 else 200, "reason": f"réason {number}" if number % 4 else None,
                            "counts": {"queue": "q", "n": number, "ü": [1.5, None]} if number % 5 else None,
                            "warnings": [{"column": "x", "value": number}] if number % 7 == 1 else None,
                            "content_type": "application/json", "remote_addr": None}
    if number % 6:
        item["body"] = b'{"\xc3\xbc": "\\u0000", "tab": "\t\\\\"}' + bytes([number % 256])
    if number % 8 == 3:
        item["headers"] = [["Content-Type", "application/json"], ["X-Key", "*** (masked, 3 characters)"]]
    if number % 3 == 0:
        item["changes"] = {"kind": "customer", "id": str(number), "new": number % 2 == 0, "diff": [{"path": ["ü"]}]}
    return item


def logged(conn: sa.Connection, ids: Sequence[int]) -> list[dict[str, Any]]:
    """The rows of ``ids`` as SQLAlchemy reads them back, with the JSON columns' stored text."""
    table = storage.deliveries
    query = sa.select(table, sa.cast(table.c.counts, sa.Text).label("counts_text"),
                      sa.cast(table.c.warnings, sa.Text).label("warnings_text")).where(table.c.id.in_(ids))
    return [dict(row._mapping) for row in conn.execute(query.order_by(table.c.id))]


@pytest.mark.parametrize("size", [1, 5, 70])
def test_the_delivery_log_holds_each_delivery_in_order_as_sqlalchemy_itself_writes_it(db: storage.Store,
                                                                                      size: int) -> None:
    batch = [delivery_item(number) for number in range(size)]
    table = storage.deliveries
    with db.write() as conn:
        before = storage.record_delivery(conn, channel="stock", outcome="accepted")
        ids = storage.record_deliveries(conn, batch)
        # The same rows through SQLAlchemy's own insert: the reference for what is stored.
        reference = [int(conn.execute(table.insert().values(
            id=delivery + 1_000_000, received_at=row["received_at"],
            **{c: row[c] for c in storage.DELIVERY_COLUMNS if c != "received_at"})).inserted_primary_key[0])
            for delivery, row in ((d, r) for d, r in zip(ids, logged(conn, ids), strict=True))]
        after = storage.record_delivery(conn, channel="stock", outcome="accepted")
    assert ids == sorted(ids) and len(set(ids)) == size and before < ids[0] and ids[-1] < after
    with db.read() as conn:
        rows, copies = logged(conn, ids), logged(conn, reference)
        details = {delivery: storage.get_details(conn, delivery) for delivery in ids}
    for number, (item, row, copy) in enumerate(zip(batch, rows, copies, strict=True)):
        body = item.get("body")
        assert row["channel"] == "erp" and row["outcome"] == item["outcome"] and row["status"] == item["status"]
        assert row["reason"] == item["reason"] and row["counts"] == item["counts"]
        assert row["warnings"] == item["warnings"]
        assert row["body_bytes"] == (len(body) if body is not None else None)
        assert row["body_sha256"] == (storage.sha256(body) if body is not None else None)
        assert row["raw_body"] == (body if item["outcome"] == "rejected" else None), number  # keep_bodies default
        assert row["received_at"] is not None and row["received_at"] == rows[0]["received_at"]
        assert {k: v for k, v in row.items() if k != "id"} == {k: v for k, v in copy.items() if k != "id"}, number
        shown = details[row["id"]]
        assert (shown.headers if shown is not None else None) == item.get("headers"), number
        assert (shown.changes if shown is not None else None) == item.get("changes"), number


def test_delivery_ids_drawn_beforehand_are_the_ones_the_log_uses(db: storage.Store) -> None:
    batch = [delivery_item(number) for number in range(3)]
    with db.write() as conn:
        if db.backend != "postgresql":
            with pytest.raises(ValueError, match="PostgreSQL only"):
                storage.record_deliveries(conn, batch, ids=[1, 2, 3])
            return
        [ids, states] = storage.pg_read_at_once(conn, [storage.next_delivery_ids(3), ("SELECT %s::text", ("x",))])
        drawn = [row[0] for row in ids]
        assert states == [("x",)] and drawn == sorted(drawn)
        assert storage.record_deliveries(conn, batch, ids=drawn) == drawn
        with pytest.raises(ValueError, match="2 delivery ids drawn for 3 deliveries"):
            storage.record_deliveries(conn, batch, ids=drawn[:2])
    with db.read() as conn:
        assert [row["reason"] for row in logged(conn, drawn)] == [item["reason"] for item in batch]
        assert storage.get_details(conn, drawn[0]).changes == batch[0]["changes"]


def test_a_write_rolled_back_on_a_fresh_connection_leaves_the_next_write_working(db: storage.Store) -> None:
    db.engine.dispose()  # fresh connections: the first bulk write of one creates its temporary table
    for _ in range(2):
        with pytest.raises(RuntimeError, match="after the write"), db.write() as conn:
            storage.upsert_rows(conn, items, COLUMNS, [("a", stamp(1), 1)])
            raise RuntimeError("the apply fails after the write")  # rolled back, the table's creation too
    with db.write() as conn:
        assert storage.upsert_rows(conn, items, COLUMNS, [("b", stamp(1), 1)]) == 1
    with db.write() as conn:  # the same connection again, its table known now
        assert storage.upsert_rows(conn, items, COLUMNS, [("b", stamp(2), 2), ("c", stamp(2), 3)]) == 2
    assert state(db) == {"b": (stamp(2), 2), "c": (stamp(2), 3)}

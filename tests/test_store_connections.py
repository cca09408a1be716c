"""The PostgreSQL store's pooled connections when the server closes them (a restart, an administrator, a
network timeout): an idle connection is checked before use, so the next write succeeds; a connection
closed while in steady use fails one transaction as an outage, and the next one succeeds."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from inventory_push_kit.receiver import storage
from inventory_push_kit.receiver.errors import StorageFailure
from tests.conftest import postgres_schema


@pytest.fixture
def store(postgres_url: str) -> Iterator[storage.Store]:
    with postgres_schema(postgres_url, "conn") as url:
        store = storage.Store(url)
        store.create_schema()
        yield store
        store.dispose()


def close_pooled_connection(store: storage.Store, postgres_url: str) -> None:
    """The server ends the pool's one idle connection, as a restart would."""
    with store.read() as conn:
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    admin = sa.create_engine(postgres_url)
    try:
        with admin.begin() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        # The signal is sent; wait until the backend has gone, or the next query may still reach it.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with admin.begin() as conn:
                alive = conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                                     {"pid": pid}).scalar_one()
            if not alive:
                return
            time.sleep(0.01)
        raise AssertionError(f"backend {pid} still running 10 s after pg_terminate_backend")
    finally:
        admin.dispose()


def logged(store: storage.Store) -> int:
    with store.write() as conn:
        return storage.record_delivery(conn, channel="stock", outcome="accepted")


def test_a_connection_closed_while_idle_is_replaced_before_the_next_write(store: storage.Store, postgres_url: str,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage, "PING_AFTER_IDLE_S", 0.0)  # every checkout counts as after an idle spell
    first = logged(store)
    close_pooled_connection(store, postgres_url)
    assert logged(store) > first  # no failure: the closed connection was noticed and replaced


def test_a_connection_closed_in_steady_use_fails_one_write_as_an_outage_then_the_pool_recovers(
        store: storage.Store, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage, "PING_AFTER_IDLE_S", 3600.0)  # never idle long enough to be checked
    first = logged(store)
    close_pooled_connection(store, postgres_url)
    with pytest.raises(StorageFailure, match="storage unavailable"):
        logged(store)
    assert logged(store) > first
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(storage.deliveries)).scalar_one() == 2

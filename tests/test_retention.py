"""Which bodies the delivery log keeps ([deliveries] keep_bodies) and how long each kind is kept
([retention], receiver/retention.py, `inventory-receiver prune`), on both backends."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from inventory_push_kit.receiver import create_app, retention, storage
from inventory_push_kit.receiver.channels import erp, s360
from inventory_push_kit.receiver.cli import main
from inventory_push_kit.receiver.config import ConfigError, from_mapping
from inventory_push_kit.receiver.retention import RetentionConfig
from tests.conftest import STOCK_HEADERS, receiver_config

STOCK_PUSH = Path(__file__).resolve().parent.parent / "fixtures" / "stock"


def stock_body(name: str) -> bytes:
    return (STOCK_PUSH / f"{name}.json").read_bytes()


def kept(store: storage.Store) -> dict[str, bool]:
    """channel/outcome → whether its raw body is stored, for every delivery logged."""
    with store.read() as conn:
        rows = conn.execute(sa.select(storage.deliveries.c.channel, storage.deliveries.c.outcome,
                                      storage.deliveries.c.raw_body.is_not(None))).all()
    return {f"{channel}/{outcome}": bool(body) for channel, outcome, body in rows}


@pytest.mark.parametrize(("keep_bodies", "expected"), [
    ("rejected", {"stock/accepted": False, "stock/rejected": True, "erp/accepted": False, "erp/rejected": True}),
    ("all", {"stock/accepted": True, "stock/rejected": True, "erp/accepted": True, "erp/rejected": True}),
    ("none", {"stock/accepted": False, "stock/rejected": False, "erp/accepted": False, "erp/rejected": False}),
])
def test_keep_bodies_decides_which_bodies_every_channel_stores(store_url: str, keep_bodies: str,
                                                               expected: dict[str, bool]) -> None:
    store = storage.Store(store_url, keep_bodies=keep_bodies)
    store.create_schema()
    client = create_app(receiver_config(store_url), store=store).test_client()
    assert client.post("/stock-push", data=stock_body("document-example"), headers=STOCK_HEADERS,
                       content_type="application/json").status_code == 200
    assert client.post("/stock-push", data=b"{not json", headers=STOCK_HEADERS,
                       content_type="application/json").status_code == 400
    erp.receive_batch(store, [
        erp.Notification(erp.CUSTOMER, erp.CUSTOMER.queue, b'{"id": "1", "status": "Active", "name": "A"}'),
        erp.Notification(erp.CUSTOMER, erp.CUSTOMER.queue, b"poison"),
    ])
    assert kept(store) == expected
    store.dispose()


def test_an_unknown_keep_bodies_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="keep_bodies must be one of 'rejected', 'all', 'none'"):
        from_mapping({"deliveries": {"keep_bodies": "some"}})


def test_the_delivery_log_must_outlive_what_it_dates() -> None:
    with pytest.raises(ConfigError, match="deliveries_days .* s360_history_days"):
        from_mapping({"retention": {"deliveries_days": 10, "s360_history_days": 20}})


def test_reapply_says_when_the_body_was_not_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'receiver.db'}"
    config_file = tmp_path / "receiver.toml"
    config_file.write_text(f'[storage]\nurl = "{url}"\n[deliveries]\nkeep_bodies = "none"\n')
    store = storage.Store(url, keep_bodies="none")
    store.create_schema()
    [receipt] = erp.receive_batch(store, [erp.Notification(erp.CUSTOMER, erp.CUSTOMER.queue, b"poison")])
    assert main(["--config", str(config_file), "reapply", str(receipt.delivery)]) == 2
    assert "has no stored body" in capsys.readouterr().err


# --- a day of S-360's schedule, compressed -----------------------------------------------------------

PRODUCTS = 1000
BATCHES = 96  # one every 15 minutes for a day
START = datetime(2026, 1, 1, tzinfo=UTC)


def s360_day(store: storage.Store, config: RetentionConfig | None) -> list[dict[str, int]]:
    """Apply 96 whole-inventory batches of 1,000 (small) products, 15 minutes apart (the log's times set as if
    the day had passed), pruning after each with ``config`` (or never); the sizes after each batch."""
    products = [{"id": 1000 + n, "code": f"PRD-{n:04d}", "state": "ACTIVE", "price": {"amount": 10.0}}
                for n in range(PRODUCTS)]
    sizes = []
    for run in range(BATCHES):
        moment = START + timedelta(minutes=15 * run)
        for product in products[(run * 50) % PRODUCTS:][:50]:  # 5% of the products change each run
            product["price"] = {"amount": 10.0 + run}
        body = json.dumps(products).encode()
        receipt = s360.receive(store, s360.Config(enabled=True), body)
        with store.write() as conn:
            storage.update_delivery(conn, receipt.delivery, received_at=moment)
        if config is not None:
            retention.prune(store, config, now=moment)
        sizes.append(measure(store))
    return sizes


def measure(store: storage.Store) -> dict[str, int]:
    with store.read() as conn:
        counts = {name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
                  for name, table in (("changes", s360.change_table), ("deliveries", storage.deliveries))}
        counts["bodies"] = int(conn.execute(sa.select(sa.func.count()).where(
            storage.deliveries.c.raw_body.is_not(None))).scalar_one())
        if store.backend == "postgresql":
            counts["bytes"] = int(conn.execute(sa.text(
                "SELECT pg_total_relation_size('s360_product_changes') + pg_total_relation_size('deliveries')")
            ).scalar_one())
        else:
            counts["bytes"] = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one()) * int(
                conn.exec_driver_sql("PRAGMA page_size").scalar_one())
    return counts


def test_retention_holds_a_day_of_s360_within_its_bound(store_url: str, tmp_path: Path) -> None:
    # Two hours of change history and bodies, four of the log: at most 9 batches' change rows, 5 bodies.
    config = RetentionConfig(bodies_days=1 / 24, deliveries_days=4 / 24, s360_history_days=2 / 24,
                             servicemobility_events_days=2 / 24, digests_days=2 / 24, batch_size=500)
    bounded_store = storage.Store(store_url, keep_bodies="all")
    bounded_store.create_schema()
    bounded = s360_day(bounded_store, config)
    bounded_store.dispose()
    for sizes in bounded:
        assert sizes["changes"] <= 9 * PRODUCTS
        assert sizes["deliveries"] <= 17
        assert sizes["bodies"] <= 5
    # Once the bound is reached (after 4 hours of the log), the database stops growing: what the last
    # batch leaves is no more than half again what the 17th left, pages being reused.
    assert bounded[-1]["bytes"] <= 1.5 * bounded[16]["bytes"]

    if store_url.startswith("sqlite"):
        unbounded_url = f"sqlite:///{tmp_path / 'unbounded.db'}"  # a fresh file: SQLite files never shrink
    else:
        unbounded_url = store_url  # the same schema, emptied
        emptied = storage.Store(store_url)
        with emptied.write() as conn:
            for table in (s360.change_table, s360.product_table, storage.deliveries, storage.push_digests):
                conn.execute(table.delete())
        emptied.dispose()
    unbounded_store = storage.Store(unbounded_url, keep_bodies="all")
    unbounded_store.create_schema()
    unbounded = s360_day(unbounded_store, None)
    unbounded_store.dispose()
    assert unbounded[-1]["changes"] == BATCHES * PRODUCTS
    assert unbounded[-1]["bytes"] >= 3 * bounded[-1]["bytes"]
    print(f"\n{store_url.split(':')[0]}: bounded {bounded[-1]}, unbounded {unbounded[-1]}")


def test_prune_prints_what_it_removed_per_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'receiver.db'}"
    config_file = tmp_path / "receiver.toml"
    config_file.write_text(f'[storage]\nurl = "{url}"\n')
    store = storage.Store(url)
    store.create_schema()
    old = datetime.now(UTC) - timedelta(days=100)
    with store.write() as conn:
        for _ in range(3):
            delivery = storage.record_delivery(conn, channel="stock", outcome="rejected", body=b"{}")
            storage.update_delivery(conn, delivery, received_at=old)
        storage.record_delivery(conn, channel="stock", outcome="rejected", body=b"[]")
    assert main(["--config", str(config_file), "prune"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "bodies: 3 removed (older than 14 days)" in out
    assert "deliveries: 3 removed (older than 90 days)" in out
    assert kept(store) == {"stock/rejected": True}  # the recent one, body and all
    store.dispose()


def test_only_one_process_prunes_at_a_time(store: storage.Store) -> None:
    config = RetentionConfig()
    with retention._pruning_lock(store, wait=False) as held:
        assert held
        assert retention.prune(store, config).skipped == "another process is pruning"
    assert retention.prune(store, config).skipped is None



def test_the_background_prunes_until_stopped(store: storage.Store) -> None:
    old = datetime.now(UTC) - timedelta(days=100)
    with store.write() as conn:
        delivery = storage.record_delivery(conn, channel="stock", outcome="rejected", body=b"{}")
        storage.update_delivery(conn, delivery, received_at=old)
        storage.record_delivery(conn, channel="stock", outcome="rejected", body=b"[]")
    stop = retention.start_background(store, RetentionConfig(interval_seconds=0.05))
    assert stop is not None
    try:
        for _ in range(400):  # up to 20 s: the guarantee is that it happens, not how fast
            if len(kept(store)) == 1 and _count(store) == 1:
                break
            threading.Event().wait(0.05)
        assert _count(store) == 1
    finally:
        stop()
    assert retention.start_background(store, RetentionConfig(interval_seconds=0)) is None


def _count(store: storage.Store) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(storage.deliveries)).scalar_one())

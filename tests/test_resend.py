"""`inventory-receiver resend`: a stored delivery sent again, byte for byte, to another (real, served)
receiver with the target's own credentials, and recorded; each failure one line, non-zero."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from inventory_push_kit.receiver import create_app, storage
from inventory_push_kit.receiver.cli import main
from tests.conftest import STOCK_HEADERS, receiver_config

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
STAGING_SECRET = "staging-jwt-secret-of-at-least-32-bytes!"
STAGING_STOCK = {"X-Stock-User": "staging", "X-Stock-Key": "staging-key"}


@pytest.fixture
def staging(tmp_path: Path) -> Iterator[tuple[str, storage.Store]]:
    """Another receiver, served over real HTTP on its own SQLite file, with credentials of its own."""
    url = f"sqlite:///{tmp_path / 'staging.db'}"
    config = receiver_config(url, stock={"credential_headers": STAGING_STOCK},
                             s360={"auth": "BASIC_AUTH", "login": "stage", "password": "pw"},
                             servicemobility={"jwt": "hs256", "secret": STAGING_SECRET})
    store = storage.Store(url)
    store.create_schema()
    server = make_server("127.0.0.1", 0, create_app(config, store=store), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", store
    server.shutdown()
    store.dispose()


@pytest.fixture
def source(store_url: str, tmp_path: Path) -> Iterator[tuple[Path, storage.Store]]:
    """The receiver whose deliveries are re-sent (every body kept), and its configuration file."""
    config_file = tmp_path / "receiver.toml"
    config_file.write_text(f'[storage]\nurl = "{store_url}"\n[deliveries]\nkeep_bodies = "all"\n')
    store = storage.Store(store_url, keep_bodies="all")
    store.create_schema()
    yield config_file, store
    store.dispose()


def deliver(store: storage.Store, path: str, body: bytes, headers: dict[str, str]) -> int:
    client = create_app(receiver_config(store.url.render_as_string(hide_password=False)), store=store).test_client()
    answer = client.post(path, data=body, headers=headers, content_type="application/json")
    return int(answer.get_json().get("delivery") or _last(store))


def _last(store: storage.Store) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.max(storage.deliveries.c.id))).scalar_one())


def resends(store: storage.Store) -> list[tuple[int, str, int | None, str | None]]:
    with store.read() as conn:
        return [tuple(row) for row in conn.execute(sa.select(  # type: ignore[misc]
            storage.resends.c.delivery_id, storage.resends.c.target, storage.resends.c.status,
            storage.resends.c.error).order_by(storage.resends.c.id))]


def staging_bodies(store: storage.Store) -> list[tuple[str, int | None]]:
    with store.read() as conn:
        return [(c, s) for c, s in conn.execute(sa.select(storage.deliveries.c.channel, storage.deliveries.c.status))]


def test_a_stock_push_is_resent_byte_for_byte_with_the_targets_credentials(
        source: tuple[Path, storage.Store], staging: tuple[str, storage.Store],
        capsys: pytest.CaptureFixture[str]) -> None:
    config_file, store = source
    base, staging_store = staging
    body = (FIXTURES / "stock" / "document-example.json").read_bytes()
    delivery = deliver(store, "/stock-push", body, STOCK_HEADERS)
    target = base.replace("http://", "http://user:hunter2@") + "/stock-push"
    assert main(["--config", str(config_file), "resend", str(delivery), "--to", target,
                 "--header", "X-Stock-User: staging", "--header", "X-Stock-Key: staging-key"]) == 0
    assert ": 200 (recorded as resend" in capsys.readouterr().out
    with staging_store.read() as conn:
        assert conn.execute(sa.select(storage.deliveries.c.body_sha256)).scalar_one() == storage.sha256(body)
    assert resends(store) == [(delivery, target.replace("hunter2", "***"), 200, None)]


def test_servicemobility_gets_a_fresh_token_and_s360_its_auth_mode(
        source: tuple[Path, storage.Store], staging: tuple[str, storage.Store]) -> None:
    config_file, store = source
    base, staging_store = staging
    event = (FIXTURES / "servicemobility" / "document-envelope.json").read_bytes()
    products = (FIXTURES / "s360" / "minimal-products.json").read_bytes()
    sm = deliver(store, "/servicemobility/InventoryUsage/", event, {})
    s3 = deliver(store, "/s360/inventory", products, {})
    common = ["--config", str(config_file), "resend"]
    # Without the target's secret, the target refuses it: recorded with its status, exit 1.
    assert main([*common, str(sm), "--to", f"{base}/servicemobility/InventoryUsage/"]) == 1
    assert main([*common, str(sm), "--to", f"{base}/servicemobility/InventoryUsage/",
                 "--jwt-secret", STAGING_SECRET]) == 0
    assert main([*common, str(s3), "--to", f"{base}/s360/inventory", "--s360-auth", "basic:stage:pw"]) == 0
    assert [status for _, _, status, _ in resends(store)] == [401, 200, 200]
    assert staging_bodies(staging_store) == [("servicemobility", 401), ("servicemobility", 200), ("s360", 200)]


def test_each_failure_is_one_line_and_non_zero(source: tuple[Path, storage.Store],
                                               staging: tuple[str, storage.Store],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    config_file, store = source
    base, _ = staging
    kept = deliver(store, "/stock-push", (FIXTURES / "stock" / "document-example.json").read_bytes(), STOCK_HEADERS)
    with store.write() as conn:
        gone = storage.record_delivery(conn, channel="stock", outcome="accepted")  # no body
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    common = ["--config", str(config_file), "resend"]
    cases = {
        "no delivery 99999": ([*common, "99999", "--to", base], 2),
        f"delivery {gone} (stock, accepted) has no stored body": ([*common, str(gone), "--to", base], 2),
        "cannot reach http://127.0.0.1": ([*common, str(kept), "--to", f"http://127.0.0.1:{closed_port}/x"], 1),
        "TLS failure talking to https://127.0.0.1": ([*common, str(kept), "--to", base.replace("http", "https")], 1),
    }
    for expected, (argv, code) in cases.items():
        assert main(argv) == code, expected
        said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("resend failed")]
        assert len(said) == 1 and expected in said[0], said  # one line (the log's own lines aside)
    assert [(status, (error or "").split(":")[0]) for _, _, status, error in resends(store)] == [
        (None, "no answer"), (None, "TLS failure")]

"""The receiver as its users run it: ``inventory-receiver`` commands and the real gunicorn server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import requests

from devtools.serving import make_tls, running_receiver, write_toml
from inventory_push_kit.simulator.core import Request
from inventory_push_kit.simulator.http import Sender
from inventory_push_kit.simulator.stock import StockGenerator
from tests.conftest import API_TOKEN, STOCK_HEADERS

JSON = {"Content-Type": "application/json"}


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "inventory_push_kit.receiver", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})


def test_serving_without_certificate_is_refused_with_the_fix(tmp_path: Path) -> None:
    config = write_toml(tmp_path / "receiver.toml", {"stock": {"enabled": True, "credential_headers": STOCK_HEADERS}})
    result = cli(config, "serve")
    assert result.returncode == 3
    assert "certfile and keyfile are required" in result.stderr and "insecure_http" in result.stderr


def test_plain_http_only_when_asked_and_with_a_warning(tmp_path: Path) -> None:
    config = {"storage": {"data_dir": str(tmp_path / "data")},
              "stock": {"enabled": True, "credential_headers": STOCK_HEADERS}}
    with running_receiver(config, tmp_path, tls=None) as receiver:
        assert receiver.url.startswith("http://")
        assert requests.get(f"{receiver.url}/healthz", timeout=10).status_code == 200
    assert "serving PLAIN HTTP" in receiver.log_text() and "requires an SSL-encrypted connection" in receiver.log_text()


def test_an_oversize_body_gets_its_413_even_while_it_is_still_being_sent(tmp_path: Path) -> None:
    limit = 1024 * 1024
    config = {"storage": {"data_dir": str(tmp_path / "data")}, "api": {"token": API_TOKEN},
              "stock": {"enabled": True, "credential_headers": STOCK_HEADERS, "max_body_bytes": limit}}
    with running_receiver(config, tmp_path, tls=make_tls(tmp_path / "tls")) as receiver:
        sender = Sender(f"{receiver.url}/stock-push", ca_bundle=str(receiver.ca))
        huge = b'{"data": {"pn": [' + b'"x",' * (10 * limit) + b'"x"]}}'  # 40 MiB: far more than socket buffers
        delivery = sender.send(Request(huge, {**STOCK_HEADERS, **JSON}))
        assert delivery.status == 413, delivery.summary()
        assert str(limit) in delivery.json()["error"]["message"]
        # The connection pool still works afterwards.
        ok = sender.send(StockGenerator(seed=3).first_push(2).to_request(STOCK_HEADERS))
        assert ok.status == 200
        sender.close()
    assert "Traceback" not in receiver.log_text()


def test_secrets_never_reach_the_server_log(tmp_path: Path) -> None:
    config = {"storage": {"data_dir": str(tmp_path / "data")}, "api": {"token": API_TOKEN},
              "stock": {"enabled": True, "credential_headers": STOCK_HEADERS}}
    with running_receiver(config, tmp_path, tls=make_tls(tmp_path / "tls")) as receiver:
        sender = Sender(f"{receiver.url}/stock-push", ca_bundle=str(receiver.ca))
        push = StockGenerator(seed=5).first_push(3)
        assert sender.send(push.to_request(STOCK_HEADERS)).status == 200
        assert sender.send(push.to_request({**STOCK_HEADERS, "X-Stock-Key": "attacker-guess"})).status == 401
        sender.close()
    log = receiver.log_text()
    assert "stock delivery" in log  # it does log deliveries…
    for secret in (*STOCK_HEADERS.values(), "attacker-guess", API_TOKEN):
        assert secret not in log  # …but never a credential


def test_check_config_masks_secrets(tmp_path: Path) -> None:
    config = write_toml(tmp_path / "receiver.toml", {
        "server": {"insecure_http": True}, "storage": {"url": "postgresql://app:db-password@db.internal/inventory"},
        "api": {"token": API_TOKEN}, "stock": {"enabled": True, "credential_headers": STOCK_HEADERS}})
    result = cli(config, "check-config", "--offline", "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)["config"]
    assert shown["stock"]["credential_headers"] == dict.fromkeys(STOCK_HEADERS, "***")
    for secret in (*STOCK_HEADERS.values(), API_TOKEN, "db-password"):
        assert secret not in result.stdout + result.stderr


def test_a_storage_url_password_never_shows_and_a_bad_url_is_a_clear_error(tmp_path: Path) -> None:
    config = write_toml(tmp_path / "receiver.toml", {
        "server": {"insecure_http": True},
        "storage": {"url": "postgres://app:S3cretPw@db.internal/inventory"},  # the common spelling
        "servicemobility": {"enabled": True, "jwt": "jwks",
                            "jwks_url": "https://reader:hunter2@keys.example/jwks.json?api_key=KEYSECRET"}})
    shown = cli(config, "check-config", "--offline")
    assert shown.returncode == 0, shown.stderr
    for secret in ("S3cretPw", "hunter2", "KEYSECRET"):
        assert secret not in shown.stdout + shown.stderr
    bad = write_toml(tmp_path / "bad.toml", {"storage": {"url": "mysql://root:pw@db/x"}})
    refused = cli(bad, "init-db")
    assert refused.returncode == 3 and "is not supported" in refused.stderr and "Traceback" not in refused.stderr


def test_a_rejected_delivery_can_be_reapplied_after_a_fix(tmp_path: Path) -> None:
    from inventory_push_kit.receiver import create_app
    from inventory_push_kit.receiver.config import load_config
    from inventory_push_kit.receiver.storage import Store

    config_path = write_toml(tmp_path / "receiver.toml", {
        "storage": {"data_dir": str(tmp_path / "data")}, "api": {"token": API_TOKEN},
        "stock": {"enabled": True, "credential_headers": STOCK_HEADERS}})
    config = load_config(config_path)
    Store.from_config(config.storage).create_schema()  # as `serve` and `init-db` do
    client = create_app(config).test_client()
    push = StockGenerator(seed=9).first_push(4)
    # The platform sent the right data with a media type the receiver refused: the body is kept.
    refused = client.post("/stock-push", data=push.to_bytes(), headers={**STOCK_HEADERS, "Content-Type": "text/plain"})
    assert refused.status_code == 415
    delivery = client.get("/api/deliveries", headers={"Authorization": f"Bearer {API_TOKEN}"}).get_json()["items"][0]
    assert delivery["body_kept"]

    result = cli(config_path, "reapply", str(delivery["id"]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["outcome"] == "accepted"
    held = client.get("/api/stock?limit=100", headers={"Authorization": f"Bearer {API_TOKEN}"}).get_json()["items"]
    assert sorted(e["connectorStockId"] for e in held) == sorted(push.ids())
    log = client.get("/api/deliveries", headers={"Authorization": f"Bearer {API_TOKEN}"}).get_json()["items"][0]
    assert log["reason"] == f"re-applied from delivery {delivery['id']}"

    again = cli(config_path, "reapply", "999999")
    assert again.returncode == 2 and "no delivery 999999" in again.stderr

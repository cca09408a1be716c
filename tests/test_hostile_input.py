"""What the fuzzer found, and the rules behind the fixes, checked one by one on both backends: what the
store cannot hold is a validation problem named by path (SQLite and PostgreSQL accept and refuse the
same bodies); the store's own refusals are permanent (422), only its outages are 500 (and logged); the
read API never answers 500 for what a client can type; JWT times are numbers; URLs never show secrets."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from devtools.serving import write_toml
from inventory_push_kit import fixtures
from inventory_push_kit.receiver.storage import masked_url
from tests.conftest import API_TOKEN, STOCK_HEADERS

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
JSON = {"Content-Type": "application/json"}
STOCK = fixtures.load("stock", "add-then-update-same-push")


def stock_push(**columns: list[Any]) -> bytes:
    return json.dumps({"data": {**STOCK["data"], **columns}}).encode()


def problems(answer: Any) -> list[tuple[list[Any], str]]:
    return [(p["path"], p["message"]) for p in answer.get_json()["error"]["problems"]]


def held(client: FlaskClient) -> list[dict[str, Any]]:
    return client.get("/api/stock?limit=1000", headers=AUTH).get_json()["items"]


@pytest.mark.parametrize(("column", "value", "message"), [
    ("pn", "PN\x001", "U+0000"),
    ("description", "a\x00b", "U+0000"),
    ("pn", "x" * 256, "Longer than 255 characters"),
])
def test_text_the_store_cannot_hold_is_a_problem_at_its_row(make_client: Callable[..., FlaskClient], column: str,
                                                            value: str, message: str) -> None:
    client = make_client()
    sent = list(STOCK["data"][column])
    sent[1] = value
    answer = client.post("/stock-push", data=stock_push(**{column: sent}), headers={**STOCK_HEADERS, **JSON})
    assert answer.status_code == 422
    [(path, text)] = problems(answer)
    assert path == ["data", column, 1] and message in text
    assert held(client) == []


def test_a_long_description_is_fine_it_is_not_indexed(make_client: Callable[..., FlaskClient]) -> None:
    client = make_client()
    answer = client.post("/stock-push", data=stock_push(description=["d" * 5000] * 3),
                         headers={**STOCK_HEADERS, **JSON})
    assert answer.status_code == 200, answer.get_json()


def test_s360_and_servicemobility_name_the_field_the_store_cannot_hold(make_client: Callable[..., FlaskClient]) -> None:
    client = make_client()
    s360 = client.post("/s360/inventory", data=json.dumps([{"id": 1, "code": "A"}, {"id": 2, "code": "B",
                                                           "state": "s" * 3000}]), headers=JSON)
    assert s360.status_code == 422 and problems(s360)[0][0] == [1, "state"]
    event = fixtures.load("servicemobility", "type-InventoryUsage")
    event["data"]["rows"][0]["InventoryUsage"]["StorageLocations"][0]["Items"][0]["ProdNum"] = "P\x00"
    usage = client.post("/servicemobility/InventoryUsage/", data=json.dumps(event), headers=JSON)
    assert usage.status_code == 422
    assert problems(usage)[0][0] == ["data", "rows", 0, "InventoryUsage", "StorageLocations", 0, "Items", 0, "ProdNum"]


def _refuse_part_number(store_url: str, part_number: str) -> None:
    """A rule of the customer's own database: a trigger that refuses one part number."""
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                f"CREATE TRIGGER refuse BEFORE INSERT ON stock WHEN NEW.pn = '{part_number}' "
                "BEGIN SELECT RAISE(ABORT, 'part number refused by policy'); END")
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.pn = '" + part_number + "' THEN "
                "RAISE EXCEPTION 'part number refused by policy' USING ERRCODE = 'check_violation'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql")
            conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON stock FOR EACH ROW EXECUTE FUNCTION refuse()")
    engine.dispose()


def test_a_refusal_of_the_store_itself_is_a_permanent_422_not_an_outage(
        make_client: Callable[..., FlaskClient], store_url: str) -> None:
    client = make_client()
    _refuse_part_number(store_url, STOCK["data"]["pn"][1])
    answer = client.post("/stock-push", data=stock_push(), headers={**STOCK_HEADERS, **JSON})
    assert answer.status_code == 422, answer.get_json()
    assert "refused by policy" in answer.get_json()["error"]["message"]
    assert held(client) == []
    logged = client.get("/api/deliveries?limit=1", headers=AUTH).get_json()["items"][0]
    assert (logged["status"], logged["outcome"]) == (422, "rejected")
    assert logged["reason"].startswith("refused by the store") and logged["body_kept"]


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # SQLite locks the whole file, log included
def test_an_outage_of_one_table_is_500_and_the_delivery_log_says_so(
        make_client: Callable[..., FlaskClient], store_url: str) -> None:
    """The stock table is locked by someone else, beyond the lock timeout: 500 (the sender retries), and
    the answer is in the delivery log all the same, with its reason."""
    client = make_client(storage={"url": f"{store_url}%20-clock_timeout%3D300"})
    engine = sa.create_engine(store_url)
    with engine.connect() as locker:
        locker.exec_driver_sql("BEGIN")
        locker.exec_driver_sql("LOCK TABLE stock IN ACCESS EXCLUSIVE MODE")
        answer = client.post("/stock-push", data=stock_push(), headers={**STOCK_HEADERS, **JSON})
        locker.exec_driver_sql("ROLLBACK")
    engine.dispose()
    assert answer.status_code == 500 and answer.get_json()["error"]["message"].startswith("storage unavailable")
    logged = client.get("/api/deliveries?limit=1", headers=AUTH).get_json()["items"][0]
    assert (logged["status"], logged["outcome"]) == (500, "rejected") and "lock" in logged["reason"]
    assert client.post("/stock-push", data=stock_push(), headers={**STOCK_HEADERS, **JSON}).status_code == 200


@pytest.mark.parametrize("path", ["/api/stock?pn=a%00b", "/api/deliveries?channel=%00", "/api/stock/%00",
                                  "/api/servicemobility/events?source=%00", "/api/erp/customers/x%00"])
def test_a_nul_in_a_read_parameter_is_400(make_client: Callable[..., FlaskClient], path: str) -> None:
    answer = make_client().get(path, headers=AUTH)
    assert answer.status_code == 400 and "U+0000" in answer.get_json()["error"]["message"]


@pytest.mark.parametrize("path", [f"/api/deliveries/{2**63}", f"/api/deliveries/{2**64 + 5}/body",
                                  f"/api/s360/deliveries/{2**70}/changes"])
def test_an_id_beyond_64_bits_is_404(make_client: Callable[..., FlaskClient], path: str) -> None:
    answer = make_client().get(path, headers=AUTH)
    assert answer.status_code == 404 and answer.get_json()["error"]["status"] == 404


SECRET = "s" * 40


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_a_token_time_that_is_a_numeric_string_is_refused(make_client: Callable[..., FlaskClient], claim: str) -> None:
    client = make_client(servicemobility={"jwt": "hs256", "secret": SECRET})
    now = int(time.time())
    claims: dict[str, Any] = {"exp": now + 600, "iat": now - 10, "nbf": now - 10}
    claims[claim] = str(claims[claim])
    token = pyjwt.encode(claims, SECRET, "HS256")
    body = fixtures.raw("servicemobility", "type-InventoryUsage")
    answer = client.post("/servicemobility/InventoryUsage/", data=body, headers={**JSON, "x-access-token": token})
    assert answer.status_code == 401
    assert "JSON number" in answer.get_json()["error"]["problems"][0]["message"]
    claims[claim] = int(claims[claim])  # the same token with a number is fine
    fine = pyjwt.encode(claims, SECRET, "HS256")
    assert client.post("/servicemobility/InventoryUsage/", data=body,
                       headers={**JSON, "x-access-token": fine}).status_code == 200


@pytest.mark.parametrize(("url", "hidden"), [
    ("postgresql://app:pw1@db/inv?sslpassword=pw2&sslmode=require", ["pw1", "pw2"]),
    ("postgresql://app@db/inv?password=pw3", ["pw3"]),
    ("amqps://erp:pw4@broker:5671/%2F?heartbeat=30", ["pw4"]),
    ("https://reader:pw5@keys.example/jwks.json?api_key=pw6&x=1", ["pw5", "pw6"]),
])
def test_urls_never_show_their_secrets(url: str, hidden: list[str]) -> None:
    shown = masked_url(url)
    assert not [secret for secret in hidden if secret in shown], shown
    assert shown.split("://")[0] == url.split("://")[0] and "***" in shown


@pytest.mark.parametrize("url", ["sqlite:////var/lib/inventory/receiver.db", "sqlite:///receiver.db",
                                 "postgresql://app@db/inventory?sslmode=require"])
def test_a_url_without_secrets_is_shown_as_it_is(url: str) -> None:
    assert masked_url(url) == url


def test_check_config_and_the_start_up_log_hide_a_password_given_as_a_query_parameter(tmp_path: Path) -> None:
    config = write_toml(tmp_path / "receiver.toml", {
        "server": {"insecure_http": True},  # the one line saying the database cannot be reached shows the URL
        "storage": {"url": "postgresql://app@127.0.0.1:1/inventory?password=QueryPassword1&sslpassword=Key2"}})
    result = subprocess.run([sys.executable, "-m", "inventory_push_kit.receiver", "--config", str(config),
                             "check-config"],
                            capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert "QueryPassword1" not in output and "Key2" not in output
    assert "password=***" in output

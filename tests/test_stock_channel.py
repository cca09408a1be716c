"""The stock push channel of the receiver, through its HTTP endpoint, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient

from inventory_push_kit import fixtures
from tests.conftest import API_TOKEN, STOCK_HEADERS, recorded_headers

JSON = {"Content-Type": "application/json"}
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
EXAMPLE_ID = "6f95cd10-c8bb-4381-8b68-a255571aa2f0"


def row(stock_id: str, action: str = "ADD", at: str = "2026-01-01 10:00:00", **fields: Any) -> dict[str, Any]:
    base = {"connectorStockId": stock_id, "pn": "2117-6130-101", "materialId": "21176130101",
            "description": "Fuel pump", "condition": "OH", "priceUsd": 1000, "quantity": 1, "unit": "EA",
            "location": "FRA", "tagDate": "2025-06-01", "leadTime": 3, "incidentRelated": False,
            "timeStampEntry": at, "dbAction": action}
    return base | fields


def body(*rows: dict[str, Any]) -> bytes:
    """Rows → the columnar document the platform sends."""
    names = list(dict.fromkeys(name for r in rows for name in r))
    return json.dumps({"data": {name: [r.get(name) for r in rows] for name in names}}).encode()


def send(client: FlaskClient, data: bytes, headers: dict[str, str] | None = None) -> Any:
    return client.post("/stock-push", data=data, headers={**STOCK_HEADERS, **JSON, **(headers or {})})


def stock(client: FlaskClient, stock_id: str) -> Any:
    return client.get(f"/api/stock/{stock_id}", headers=AUTH)


def all_stock(client: FlaskClient) -> list[dict[str, Any]]:
    return client.get("/api/stock?limit=1000", headers=AUTH).get_json()["items"]


def deliveries(client: FlaskClient) -> list[dict[str, Any]]:
    return client.get("/api/deliveries", headers=AUTH).get_json()["items"]


def test_the_documents_example_is_accepted_exactly_as_printed(make_client: Any) -> None:
    client = make_client()
    raw = fixtures.raw("stock", "document-example")
    assert "\u2011".encode() in raw  # the example's non-breaking hyphens are really there
    answer = send(client, raw)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["outcome"] == "accepted"
    entry = stock(client, EXAMPLE_ID).get_json()
    assert entry["pn"] == "PN-1234"  # U+2011 read as "-"
    assert entry["tagDate"] == "2018-01-01"
    assert entry["timeStampEntry"] == "2018-01-01 14:56:23"
    assert entry["unit"] == "each" and entry["location"] == "Germany"  # kept as sent
    assert entry["mroApprovalNo"] is None and entry["incidentRelated"] is False
    warnings = answer.get_json()["warnings"]
    assert [(w["column"], w["value"]) for w in warnings] == [("location", "Germany")]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Stock-User": "acme-mro"},
        {"X-Stock-User": "acme-mro", "X-Stock-Key": "guessed-key-123"},
        {"X-Stock-User": "someone-else", "X-Stock-Key": "s3cret-stock-key"},
    ],
    ids=["none", "one-missing", "wrong-key", "wrong-user"],
)
def test_missing_or_wrong_credentials_are_401_and_store_nothing(
    make_client: Any, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    caplog.set_level(logging.DEBUG)
    answer = client.post("/stock-push", data=body(row(str(uuid.uuid4()))), headers={**JSON, **headers})
    assert answer.status_code == 401
    assert answer.get_json()["error"]["status"] == 401
    assert all_stock(client) == []
    logged = deliveries(client)[0]
    assert logged["outcome"] == "rejected" and logged["status"] == 401 and not logged["body_kept"]
    for secret in ("s3cret-stock-key", "guessed-key-123"):  # neither the real nor the sent value is logged
        assert secret not in caplog.text and secret not in logged["reason"]


def test_header_names_are_case_insensitive(make_client: Any) -> None:
    client = make_client()
    lowered = {name.lower(): value for name, value in STOCK_HEADERS.items()}
    answer = client.post("/stock-push", data=body(row(str(uuid.uuid4()))), headers={**JSON, **lowered})
    assert answer.status_code == 200


def test_not_json_is_400_with_where_it_breaks(make_client: Any) -> None:
    client = make_client()
    answer = send(client, b'{"data": {"pn": [1,}}')
    assert answer.status_code == 400
    assert "line 1, column" in answer.get_json()["error"]["message"]


@pytest.mark.parametrize("raw", [b'{"data": {"leadTime": [NaN]}}', b'{"data": {"leadTime": [Infinity]}}',
                                 b'{"data": {"leadTime": [' + b"9" * 5000 + b"]}}"],
                         ids=["nan", "infinity", "5000-digit-integer"])
def test_what_python_parses_but_json_forbids_is_400(make_client: Any, raw: bytes) -> None:
    answer = send(make_client(), raw)
    assert answer.status_code == 400
    assert "not valid JSON" in answer.get_json()["error"]["message"]


@pytest.mark.parametrize("raw", [b"[" * 100_000, b'{"data": {"pn": ["\\ud800"]}}', b'{"data": {"priceUsd": [1e999]}}'],
                         ids=["nested-too-deeply", "lone-surrogate", "number-out-of-range"])
def test_what_would_break_a_store_or_a_parser_is_400_not_500(make_client: Any, raw: bytes) -> None:
    answer = send(make_client(), raw)
    assert answer.status_code == 400, answer.get_json()


def test_a_column_named_like_a_stored_one_is_kept_aside_not_stored_unchecked(make_client: Any) -> None:
    client = make_client()
    stock_id = str(uuid.uuid4())
    answer = send(client, body(row(stock_id, lead_time="not a number", time_stamp_entry="garbage",
                                   connector_stock_id="not-a-uuid")))
    assert answer.status_code == 200
    entry = stock(client, stock_id).get_json()
    assert entry["leadTime"] == 3 and entry["timeStampEntry"] == "2026-01-01 10:00:00"
    assert entry["lead_time"] == "not a number"  # kept, under its own name, as an unknown column
    assert stock(client, "not-a-uuid").status_code == 404


@pytest.mark.parametrize(
    ("field", "value"),
    [("leadTime", 2**31), ("cyclesRemaining", -(2**31) - 1), ("priceUsd", 1e15), ("quantity", -1e14),
     ("timeStampEntry", "2024-06-01T10:00+05"), ("timeStampEntry", "2024-06-01 10:00:00.5"),
     ("tagDate", "2024-W01-1"), ("tagDate", "20240101")],
)
def test_values_the_store_cannot_hold_exactly_are_422(make_client: Any, field: str, value: Any) -> None:
    answer = send(make_client(), body(row(str(uuid.uuid4()), **{field: value})))
    assert answer.status_code == 422, answer.get_json()
    assert [p["path"] for p in answer.get_json()["error"]["problems"]] == [["data", field, 0]]


def test_many_distinct_unknown_codes_are_summarised(make_client: Any) -> None:
    rows = [row(str(uuid.uuid4()), location=f"WH-{n}") for n in range(250)]
    answer = send(make_client(), body(*rows))
    assert answer.status_code == 200
    warned = [w for w in answer.get_json()["warnings"] if w["column"] == "location"]
    assert len(warned) == 101 and warned[-1]["rows"] == 150 and "150 more values" in warned[-1]["message"]


def test_a_non_json_content_type_is_415(make_client: Any) -> None:
    client = make_client()
    answer = send(client, body(row(str(uuid.uuid4()))), {"Content-Type": "text/plain"})
    assert answer.status_code == 415
    assert all_stock(client) == []


def test_a_body_over_the_limit_is_413_from_its_content_length(make_client: Any) -> None:
    client = make_client(stock={"max_body_bytes": 2048})
    rows = [row(str(uuid.uuid4())) for _ in range(20)]
    data = body(*rows)
    assert len(data) > 2048
    answer = send(client, data)
    assert answer.status_code == 413
    assert "2048" in answer.get_json()["error"]["message"]
    logged = deliveries(client)[0]
    assert logged["status"] == 413 and not logged["body_kept"]  # refused, never read
    assert all_stock(client) == []


def test_schema_errors_are_422_naming_every_problem_by_column_and_row(make_client: Any) -> None:
    client = make_client()
    good, bad_date, bad_lead = (str(uuid.uuid4()) for _ in range(3))
    data = body(row(good), row(bad_date, tagDate="2018-13-45"), row(bad_lead, leadTime="three", dbAction="NEW"))
    answer = send(client, data)
    assert answer.status_code == 422
    problems = {tuple(p["path"]): p["message"] for p in answer.get_json()["error"]["problems"]}
    assert set(problems) == {("data", "tagDate", 1), ("data", "leadTime", 2), ("data", "dbAction", 2)}
    assert "2018-13-45" in problems[("data", "tagDate", 1)]
    # A rejected push applies nothing: not even its good row.
    assert stock(client, good).status_code == 404


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ([1, 2], []),
        ({}, ["data"]),
        ({"data": [1]}, ["data"]),
        ({"data": {"connectorStockId": "x"}}, ["data", "connectorStockId"]),
    ],
    ids=["not-an-object", "data-missing", "data-not-an-object", "column-not-an-array"],
)
def test_structural_errors_are_422(make_client: Any, document: Any, path: list[Any]) -> None:
    answer = send(make_client(), json.dumps(document).encode())
    assert answer.status_code == 422
    assert path in [p["path"] for p in answer.get_json()["error"]["problems"]]


def test_arrays_of_unequal_length_are_422_naming_the_column(make_client: Any) -> None:
    data = json.loads(body(row(str(uuid.uuid4())), row(str(uuid.uuid4()))))
    data["data"]["pn"].append("EXTRA")
    answer = send(make_client(), json.dumps(data).encode())
    assert answer.status_code == 422
    problems = answer.get_json()["error"]["problems"]
    assert problems == [{"path": ["data", "pn"], "message": problems[0]["message"]}]
    assert "3 values" in problems[0]["message"] and "2" in problems[0]["message"]


def test_internal_stock_id_is_accepted_as_the_key(make_client: Any) -> None:
    client = make_client()
    stock_id = str(uuid.uuid4())
    r = row(stock_id)
    r["internalStockId"] = r.pop("connectorStockId")
    assert send(client, body(r)).status_code == 200
    assert stock(client, stock_id).status_code == 200


def test_unknown_codes_are_kept_and_reported_as_warnings(make_client: Any) -> None:
    client = make_client()
    ids = [str(uuid.uuid4()) for _ in range(3)]
    data = body(row(ids[0], condition="zz", unit="BAG", location="Hamburg"),
                row(ids[1], condition="ne", unit="ft", location="ham"),
                row(ids[2], condition="ZZ"))
    answer = send(client, data)
    assert answer.status_code == 200
    warned = {(w["column"], w["value"]): w["rows"] for w in answer.get_json()["warnings"] if "value" in w}
    assert warned == {("condition", "ZZ"): 2, ("unit", "BAG"): 1, ("location", "Hamburg"): 1,
                      ("location", "ham"): 1}
    assert stock(client, ids[0]).get_json()["condition"] == "ZZ"  # codes are case-insensitive: stored upper
    assert stock(client, ids[1]).get_json()["condition"] == "NE"


def test_unknown_columns_are_kept(make_client: Any) -> None:
    client = make_client()
    stock_id = str(uuid.uuid4())
    answer = send(client, body(row(stock_id, ataChapter="28-21")))
    assert answer.status_code == 200
    assert stock(client, stock_id).get_json()["ataChapter"] == "28-21"
    assert any(w["column"] == "ataChapter" for w in answer.get_json()["warnings"])


def test_add_update_delete(make_client: Any) -> None:
    client = make_client()
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    assert send(client, body(row(a), row(b))).status_code == 200
    answer = send(client, body(row(a, "UPD", "2026-01-01 11:00:00", priceUsd=750.5),
                               row(b, "DEL", "2026-01-01 11:00:00")))
    assert answer.get_json()["rows"] == {"received": 2, "add": 0, "upd": 1, "del": 1, "applied": 2, "stale": 0}
    assert stock(client, a).get_json()["priceUsd"] == 750.5
    assert stock(client, b).status_code == 404
    assert [e["connectorStockId"] for e in all_stock(client)] == [a]


def test_an_older_change_never_overwrites_a_newer_one(make_client: Any) -> None:
    client = make_client()
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    send(client, body(row(a, at="2026-01-02 09:00:00", priceUsd=900), row(b, at="2026-01-02 09:00:00")))
    send(client, body(row(b, "DEL", "2026-01-03 09:00:00")))
    late = send(client, body(row(a, "UPD", "2026-01-01 09:00:00", priceUsd=1), row(b, "ADD", "2026-01-01 09:00:00")))
    assert late.status_code == 200
    assert late.get_json()["rows"]["stale"] == 2
    assert stock(client, a).get_json()["priceUsd"] == 900
    assert stock(client, b).status_code == 404  # a late ADD does not bring a deleted entry back


def test_rows_of_one_push_apply_in_order(make_client: Any) -> None:
    client = make_client()
    a = str(uuid.uuid4())
    at = "2026-01-01 10:00:00"
    send(client, body(row(a, "ADD", at, quantity=1), row(a, "UPD", at, quantity=2), row(a, "DEL", at),
                      row(a, "ADD", at, quantity=4)))
    assert stock(client, a).get_json()["quantity"] == 4


def test_a_replayed_push_answers_200_and_changes_nothing(make_client: Any) -> None:
    client = make_client()
    a = str(uuid.uuid4())
    first = body(row(a, at="2026-01-01 10:00:00", priceUsd=100))
    assert send(client, first).status_code == 200
    assert send(client, body(row(a, "UPD", "2026-01-01 10:00:00", priceUsd=200))).status_code == 200
    replay = send(client, first)
    assert replay.status_code == 200
    assert replay.get_json()["outcome"] == "duplicate"
    assert replay.get_json()["rows"]["applied"] == 0
    assert stock(client, a).get_json()["priceUsd"] == 200  # the equal-time replay did not win
    outcomes = [d["outcome"] for d in deliveries(client)]
    assert outcomes == ["duplicate", "accepted", "accepted"]


def test_every_delivery_is_logged_and_rejected_bodies_are_kept(make_client: Any) -> None:
    client = make_client()
    bad = body(row(str(uuid.uuid4()), tagDate="yesterday"))
    send(client, bad)
    logged = deliveries(client)[0]
    assert logged["outcome"] == "rejected" and logged["status"] == 422 and logged["body_kept"]
    assert "invalid payload" in logged["reason"]
    kept = client.get(f"/api/deliveries/{logged['id']}/body", headers=AUTH)
    assert kept.data == bad


def test_an_accepted_push_and_its_replay_keep_their_headers_credentials_masked(make_client: Any,
                                                                               store_url: str) -> None:
    client = make_client()
    data = body(row(str(uuid.uuid4())))
    first, replay = (send(client, data, {"X-Request-Id": "req-7"}).get_json() for _ in range(2))
    assert (first["outcome"], replay["outcome"]) == ("accepted", "duplicate")
    for answer in (first, replay):
        shown = recorded_headers(store_url, answer["delivery"])
        assert shown["Content-Type"] == "application/json" and shown["X-Request-Id"] == "req-7"
        assert shown["X-Stock-Key"] == f"*** (masked, {len(STOCK_HEADERS['X-Stock-Key'])} characters)"


def test_the_read_api_pages_and_filters_by_part_number(make_client: Any) -> None:
    client = make_client()
    ids = sorted(str(uuid.uuid4()) for _ in range(5))
    send(client, body(*(row(i, pn="PN\u20111234" if n % 2 else "OTHER") for n, i in enumerate(ids))))
    page = client.get("/api/stock?limit=2", headers=AUTH).get_json()
    assert [e["connectorStockId"] for e in page["items"]] == ids[:2]
    rest = client.get(f"/api/stock?limit=10&after={page['next_after']}", headers=AUTH).get_json()
    assert [e["connectorStockId"] for e in rest["items"]] == ids[2:] and rest["next_after"] is None
    by_pn = client.get("/api/stock?pn=PN-1234", headers=AUTH).get_json()["items"]
    assert [e["connectorStockId"] for e in by_pn] == [ids[1], ids[3]]


def test_the_read_api_needs_its_token(make_client: Any) -> None:
    client = make_client()
    assert client.get("/api/stock").status_code == 401
    assert client.get("/api/stock", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_without_a_token_the_read_api_is_off(make_client: Any) -> None:
    client = make_client(api={"token": ""})
    assert client.get("/api/stock", headers=AUTH).status_code == 404

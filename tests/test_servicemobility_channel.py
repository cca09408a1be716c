"""The ServiceMobility webhooks channel of the receiver, through its HTTP endpoints, on SQLite and
PostgreSQL. Token evaluation is in test_servicemobility_jwt.py; here tokens are off (the default)."""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from inventory_push_kit import fixtures
from inventory_push_kit.receiver import create_app, storage
from inventory_push_kit.receiver.channels import servicemobility
from inventory_push_kit.receiver.errors import InvalidPayload
from inventory_push_kit.receiver.storage import Store
from inventory_push_kit.simulator import servicemobility as sm
from inventory_push_kit.simulator.core import Request
from tests.conftest import API_TOKEN, receiver_config, recorded_headers

JSON = {"Content-Type": "application/json"}
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
BASE = "/servicemobility"
SOURCE = "5ad09380-8258-4d84-a440-e2d35043ae92"
CASES = fixtures.cases(sm.CHANNEL)


def item(prod_num: str, **fields: Any) -> dict[str, Any]:
    return {"BatchNum": None, "ProdNum": prod_num, "SerialNum": None, "InQty": 0.0, "OutQty": 0.0,
            "InventoryQty": 0.0, "ReportedDamagedQty": 0.0, "DispositionReasons": []} | fields


def location(location_id: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"StorageLocationID": location_id, "Items": list(items)}


def usage(rowver: str, ref_module: str, ref_obj_id: str, modified: str, *locations: dict[str, Any],
          user: str = "tnguyen") -> dict[str, Any]:
    return {"rowver": rowver, "InventoryUsage": {"UserID": user, "ModifiedUTC": modified, "RefModule": ref_module,
                                                 "RefObjID": ref_obj_id, "StorageLocations": list(locations)}}


def event(*rows: dict[str, Any], event_type: str = "InventoryUsage", data: Any = None, **fields: Any) -> dict[str, Any]:
    """An envelope in the document's shape; ``rows`` make an Inventory Usage Export Notification."""
    if data is None:
        data = {"rowver": rows[-1]["rowver"] if rows else "", "rows": list(rows)}
    return {"id": str(uuid.uuid4()), "type": event_type, "specversion": "1.0", "source": SOURCE,
            "subject": None, "time": "2022-07-27T23:10:12.000Z", "datacontenttype": "application/json",
            "action": "", "data": data} | fields


ONE_ROW = usage("0x01", "1002", "WO-1", "2022-07-27T23:01:11.235Z",
                location("VAN-014", item("FLT-20X25X1-M8", OutQty=1.0)))


def post(client: FlaskClient, body: Any, path: str = "InventoryUsage/", headers: dict[str, str] | None = None) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(f"{BASE}/{path}", data=data, headers={**JSON, **(headers or {})})


def probe(client: FlaskClient, source: str, event_id: str) -> Any:
    return client.get(f"/api/servicemobility/events/{source}/{event_id}", headers=AUTH)


def api(client: FlaskClient, path: str) -> Any:
    answer = client.get(f"/api/servicemobility/{path}", headers=AUTH)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["items"]


def deliveries(client: FlaskClient) -> list[dict[str, Any]]:
    return client.get("/api/deliveries?channel=servicemobility", headers=AUTH).get_json()["items"]


def problem_paths(answer: Any) -> set[tuple[Any, ...]]:
    return {tuple(p["path"]) for p in answer.get_json()["error"]["problems"]}


# --- the simulator's cases and the fixture files --------------------------------------------------


@pytest.fixture(scope="module")
def simulator_cases() -> dict[str, tuple[Request, ...]]:
    return sm.fixture_requests()  # a couple of seconds: built once


def test_every_case_of_the_simulator_gets_the_status_its_case_says(
    make_client: Any, simulator_cases: dict[str, tuple[Request, ...]]
) -> None:
    """Tokens are not evaluated here, so the token attacks are conforming events: 200."""
    client = make_client()
    wrong = []
    for name, requests_ in simulator_cases.items():
        expected = 200 if name in sm.TOKEN_CASES else CASES[name]["status"]
        for request in requests_:
            answer = client.post(f"{BASE}/{request.path}", data=request.body, headers=dict(request.headers))
            if answer.status_code != expected:
                wrong.append((name, answer.status_code, expected, answer.get_json()))
    assert wrong == []
    duplicate = json.loads(simulator_cases["duplicate-id"][0].body)
    assert probe(client, duplicate["source"], duplicate["id"]).get_json()["deliveryCount"] == 2


@pytest.mark.parametrize("name", fixtures.names(sm.CHANNEL))
def test_each_fixture_file_gets_the_status_cases_json_gives(make_client: Any, name: str) -> None:
    client = make_client()
    case = CASES[name]
    expected = 200 if case.get("requires_token_evaluation") else case["status"]
    answer = post(client, fixtures.raw(sm.CHANNEL, name), case["path"])
    assert answer.status_code == expected, answer.get_json()
    assert answer.is_json
    try:
        sent = fixtures.load(sm.CHANNEL, name)
    except ValueError:
        return  # not JSON: there is no id to look for
    if isinstance(sent, dict) and isinstance(sent.get("id"), str) and isinstance(sent.get("source"), str):
        assert probe(client, sent["source"], sent["id"]).status_code == (200 if expected == 200 else 404)


# --- paths -------------------------------------------------------------------------------------------


def test_the_trailing_slash_is_optional_and_never_answered_with_a_redirect(make_client: Any) -> None:
    client = make_client()
    for path in ("InventoryUsage/", "InventoryUsage", "Activities", "Activities/"):
        event_type = "InventoryUsage" if path.startswith("Inventory") else "Activity"
        answer = post(client, event(ONE_ROW, event_type=event_type), path)
        assert answer.status_code == 200, (path, answer.headers.get("Location"))


def test_an_event_whose_type_is_not_its_paths_is_422_and_not_stored(make_client: Any) -> None:
    client = make_client()
    activity = event(data={"rows": []}, event_type="Activity")
    answer = post(client, activity, "InventoryUsage/")
    assert answer.status_code == 422
    assert problem_paths(answer) == {("type",)}
    assert "InventoryUsage" in answer.get_json()["error"]["problems"][0]["message"]
    usage_event = event(ONE_ROW)
    assert post(client, usage_event, "WorkOrder/").status_code == 422
    assert probe(client, SOURCE, activity["id"]).status_code == 404
    assert probe(client, SOURCE, usage_event["id"]).status_code == 404
    assert post(client, activity, "Activities/").status_code == 200


def test_each_of_the_nine_types_has_its_path_and_its_data_is_kept_as_received(make_client: Any) -> None:
    client = make_client()
    for event_type, path in servicemobility.TYPES.items():
        if event_type == "InventoryUsage":
            continue
        sent = event(event_type=event_type, data={"rowver": "0x2", "rows": [{"anything": [1, "two", None]}]},
                     subject="not used")
        assert post(client, sent, f"{path}/").status_code == 200, event_type
        stored = probe(client, SOURCE, sent["id"]).get_json()
        assert {k: stored[k] for k in sent} == sent
    assert api(client, "usage") == []  # only InventoryUsage is flattened


def test_base_and_paths_are_configurable(make_client: Any) -> None:
    client = make_client(servicemobility={"base": "/hooks/sm/", "paths": {"Activity": "/activity-events/"}})
    activity = event(data={}, event_type="Activity")
    assert client.post("/hooks/sm/activity-events", data=json.dumps(activity), headers=JSON).status_code == 200
    assert client.post("/hooks/sm/Activities/", data=json.dumps(activity), headers=JSON).status_code == 404
    assert client.post("/hooks/sm/InventoryUsage/", data=json.dumps(event(ONE_ROW)), headers=JSON).status_code == 200
    assert client.post(f"{BASE}/InventoryUsage/", data=json.dumps(event(ONE_ROW)), headers=JSON).status_code == 404


# --- the body ----------------------------------------------------------------------------------------


def test_every_problem_of_an_envelope_is_listed_with_its_path(make_client: Any) -> None:
    client = make_client()
    row = usage("0x01", "1002", "WO-1", "yesterday", location("VAN-014", item("FLT", InQty="lots"), item("")))
    del row["InventoryUsage"]["RefObjID"]
    sent = event(row, specversion="0.3", time="2022-07-27 23:10", datacontenttype="text/xml", action=5)
    del sent["id"]
    answer = post(client, sent)
    assert answer.status_code == 422
    usage_path = ("data", "rows", 0, "InventoryUsage")
    assert problem_paths(answer) == {
        ("id",), ("specversion",), ("time",), ("datacontenttype",), ("action",),
        (*usage_path, "ModifiedUTC"), (*usage_path, "RefObjID"),
        (*usage_path, "StorageLocations", 0, "Items", 0, "InQty"),
        (*usage_path, "StorageLocations", 0, "Items", 1, "ProdNum"),
    }
    assert "9 problem(s)" in answer.get_json()["error"]["message"]
    logged = deliveries(client)[0]
    assert logged["outcome"] == "rejected" and logged["status"] == 422 and logged["body_kept"]


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("2022-07-27T23:10:12.000Z", "2022-07-27T23:10:12.000Z"),
        ("2022-07-27T23:10:12Z", "2022-07-27T23:10:12.000Z"),
        ("2022-07-28T01:10:12.1234567+02:00", "2022-07-27T23:10:12.123Z"),
        ("2022-07-27t23:10:12.5z", "2022-07-27T23:10:12.500Z"),
    ],
)
def test_time_is_rfc_3339_and_stored_as_utc(sent: str, stored: str) -> None:
    assert servicemobility.validate(event(ONE_ROW, time=sent), "InventoryUsage").loaded["time"] == stored


@pytest.mark.parametrize("sent", ["2022-07-27T23:10:12", "2022-07-27", "27/07/2022 23:10", "2022-13-01T00:00:00Z",
                                  "2022-07-27T25:00:00Z", 1658963412, ""])
def test_a_time_that_is_not_rfc_3339_is_a_problem(sent: Any) -> None:
    with pytest.raises(InvalidPayload) as caught:
        servicemobility.validate(event(ONE_ROW, time=sent), "InventoryUsage")
    assert [p["path"] for p in caught.value.problems] == [["time"]]


def test_modified_utc_without_an_offset_is_utc_and_codes_may_be_numbers() -> None:
    row = usage("0x01", "1002", "WO-1", "2022-07-27T23:08:14.849", location("VAN-014", item("FLT")))
    row["InventoryUsage"]["RefModule"] = 1002
    loaded = servicemobility.validate(event(row), "InventoryUsage").loaded["data"]["rows"][0]["InventoryUsage"]
    assert loaded["ModifiedUTC"] == "2022-07-27T23:08:14.849Z"
    assert loaded["RefModule"] == "1002"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda e: e.update(type="Inventory"), ["type"]),
        (lambda e: e.update(data=None), ["data"]),
        (lambda e: e.update(data="{}"), ["data"]),
        (lambda e: e["data"].pop("rowver"), ["data", "rowver"]),
        (lambda e: e["data"]["rows"][0].update(InventoryUsage=[]), ["data", "rows", 0, "InventoryUsage"]),
        (lambda e: e["data"]["rows"][0]["InventoryUsage"].update(StorageLocations={}),
         ["data", "rows", 0, "InventoryUsage", "StorageLocations"]),
        (lambda e: e["data"]["rows"][0]["InventoryUsage"]["StorageLocations"][0]["Items"][0].update(
            DispositionReasons=[{"Qty": True}]),
         ["data", "rows", 0, "InventoryUsage", "StorageLocations", 0, "Items", 0, "DispositionReasons", 0, "Qty"]),
        (lambda e: e.update(id="x" * 256), ["id"]),
        (lambda e: e.update(source=""), ["source"]),
    ],
    ids=["unknown-type", "data-null", "data-a-string", "rowver-missing", "usage-not-an-object",
         "locations-not-a-list", "reason-qty-a-boolean", "id-too-long", "source-empty"],
)
def test_structural_problems_are_named_by_path(change: Callable[[dict[str, Any]], Any], path: list[Any]) -> None:
    sent = event(copy.deepcopy(ONE_ROW))
    change(sent)
    with pytest.raises(InvalidPayload) as caught:
        servicemobility.validate(sent, None)
    assert [p["path"] for p in caught.value.problems] == [path]


def test_not_json_is_400_and_a_non_json_media_type_415(make_client: Any) -> None:
    client = make_client()
    broken = post(client, b'{"id": "1", "type": ')
    assert broken.status_code == 400 and "line 1, column" in broken.get_json()["error"]["message"]
    assert post(client, b"[]").status_code == 422
    sent = event(ONE_ROW)
    assert post(client, sent, headers={"Content-Type": "text/plain"}).status_code == 415
    assert probe(client, SOURCE, sent["id"]).status_code == 404


def test_a_body_over_the_limit_is_413_and_never_read(make_client: Any) -> None:
    client = make_client(servicemobility={"max_body_bytes": 2048})
    big = event(*[copy.deepcopy(ONE_ROW) for _ in range(20)])
    assert len(json.dumps(big)) > 2048
    answer = post(client, big)
    assert answer.status_code == 413 and "2048" in answer.get_json()["error"]["message"]
    logged = deliveries(client)[0]
    assert logged["status"] == 413 and not logged["body_kept"]
    assert probe(client, SOURCE, big["id"]).status_code == 404


# --- storing -----------------------------------------------------------------------------------------


def test_success_is_exactly_200_with_a_small_receipt(make_client: Any) -> None:
    client = make_client()
    answer = post(client, event(ONE_ROW, ONE_ROW | {"rowver": "0x02"}))
    assert answer.status_code == 200
    receipt = answer.get_json()
    assert receipt == {"outcome": "accepted", "delivery": receipt["delivery"], "rows": {"received": 2, "usage": 2},
                       "warnings": []}


def test_a_duplicate_is_200_and_changes_nothing(make_client: Any) -> None:
    client = make_client()
    sent = event(ONE_ROW)
    first = post(client, sent)
    assert first.status_code == 200
    again = post(client, sent)
    assert again.status_code == 200
    assert again.get_json()["outcome"] == "duplicate"
    assert again.get_json()["original_delivery"] == first.get_json()["delivery"]
    changed = copy.deepcopy(sent)
    changed["data"]["rows"][0]["InventoryUsage"]["RefObjID"] = "WO-2"
    assert post(client, changed).get_json()["outcome"] == "duplicate"
    stored = probe(client, SOURCE, sent["id"]).get_json()
    assert stored["data"] == sent["data"]  # the first one stays
    assert stored["deliveryCount"] == 3 and stored["deliveryId"] == first.get_json()["delivery"]
    assert [row["RefObjID"] for row in api(client, "usage")] == ["WO-1"]  # not doubled
    logged = deliveries(client)
    assert [d["outcome"] for d in logged] == ["duplicate", "duplicate", "accepted"]
    assert "differs" in logged[0]["reason"] and "differs" not in logged[1]["reason"]


@pytest.mark.parametrize("items", [1, 62, 63, 64, 200])  # one statement on PostgreSQL below 64 rows with the event
def test_an_event_of_any_size_is_stored_whole_and_a_longer_duplicate_adds_no_row(make_client: Any, store_url: str,
                                                                                  items: int) -> None:
    client = make_client()
    products = [item(f"P-{i:03}", OutQty=float(i)) for i in range(items)]
    sent = event(usage("0x01", "1002", "WO-1", "2022-07-27T23:01:11.235Z", location("VAN-014", *products)))
    first = post(client, sent, headers={"X-Request-Id": "r-1"})
    assert first.get_json()["rows"] == {"received": 1, "usage": items}
    longer = copy.deepcopy(sent)
    longer["data"]["rows"].append(copy.deepcopy(sent["data"]["rows"][0]))
    assert post(client, longer).get_json()["outcome"] == "duplicate"
    rows = api(client, f"usage?limit={items + 10}")
    assert [(r["itemIndex"], r["ProdNum"], r["OutQty"]) for r in rows] == [
        (i, f"P-{i:03}", float(i)) for i in range(items)]
    assert {r["deliveryId"] for r in rows} == {first.get_json()["delivery"]}
    assert probe(client, SOURCE, sent["id"]).get_json()["deliveryCount"] == 2
    assert recorded_headers(store_url, first.get_json()["delivery"])["X-Request-Id"] == "r-1"


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # SQLite has only the separate writes
def test_one_statement_stores_an_event_as_the_separate_writes_do(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    odd = item("P-\"q\"\\ü", SerialNum="S 1", BatchNum="", InQty=0.0001, OutQty=-12345678901.5,
               InventoryQty=3.0, ReportedDamagedQty=1e-4, DispositionReasons=[{"Reason": "Dämaged", "Qty": 1.25}])
    documents = [json.loads(fixtures.raw("servicemobility", "document-envelope")),
                 event(usage("0x01", "1002", "WO-1", "2022-07-27T23:01:11.235Z", location("VAN-014", odd, item("P-2")),
                             user="tnguyen"), usage("0x02", "1009", "WO-2", "2024-02-29T00:00:00.000Z",
                                                   location("SHELF 2", item("P-3")), user=None), time=None)]
    headers = [["Content-Type", "application/json"], ["X-Request-Id", "r-ü"]]
    stored: dict[str, Any] = {}
    for path, bulk_min_rows in (("one", 10**9), ("two", 1)):  # one statement; separate writes
        monkeypatch.setattr(storage, "BULK_MIN_ROWS", bulk_min_rows)
        for n, document in enumerate(documents):
            document = copy.deepcopy(document) | {"source": f"{path} {n}"}
            body = json.dumps(document).encode()
            receipt = servicemobility.apply(store, servicemobility.validate(document), body,
                                            content_type="application/json", remote_addr="192.0.2.1",
                                            headers=headers if n == 0 else None)
            assert receipt.outcome == "accepted"
            with store.read() as conn:
                delivery = conn.execute(sa.select(storage.deliveries).where(
                    storage.deliveries.c.id == receipt.delivery)).one()._asdict()
                events = [r._asdict() for r in conn.execute(sa.select(servicemobility.event_table).where(
                    servicemobility.event_table.c.delivery_id == receipt.delivery))]
                usage_rows = [r._asdict() for r in conn.execute(sa.select(servicemobility.usage_table).where(
                    servicemobility.usage_table.c.delivery_id == receipt.delivery).order_by(
                    *servicemobility.usage_table.primary_key.columns))]
                details = storage.get_details(conn, receipt.delivery)
            assert len(events) == 1 and len(usage_rows) == receipt.counts["usage"] > 0
            for row in (delivery, *events, *usage_rows):
                for column in ("id", "delivery_id", "source", "received_at", "body_sha256"):
                    row.pop(column, None)
            for row in events:
                row["envelope"].pop("source")
            stored.setdefault(n, []).append((delivery, events, usage_rows, details and details.headers))
    for n, (one_statement, separate) in stored.items():
        assert one_statement == separate, n
    assert stored[0][0][3] == headers and stored[1][0][3] is None


def test_a_nul_escape_where_the_document_sets_no_rule_is_kept_as_sent_on_both_backends(make_client: Any) -> None:
    # PostgreSQL's json column holds "\u0000" (its text columns cannot): the envelope keeps it, as SQLite does.
    client = make_client()
    sent = event(ONE_ROW, extension="a\u0000b")
    sent["data"]["note"] = ["\u0000"]
    answer = post(client, sent)
    assert answer.status_code == 200 and answer.get_json()["outcome"] == "accepted", answer.get_json()
    stored = probe(client, SOURCE, sent["id"]).get_json()
    assert stored["extension"] == "a\u0000b" and stored["data"]["note"] == ["\u0000"]


def test_the_same_id_from_another_source_is_another_event(make_client: Any) -> None:
    client = make_client()
    sent = event(ONE_ROW)
    other = sent | {"source": "webhooks/42"}
    assert post(client, sent).get_json()["outcome"] == "accepted"
    assert post(client, other).get_json()["outcome"] == "accepted"
    assert probe(client, "webhooks/42", sent["id"]).get_json()["source"] == "webhooks/42"  # slashes in source
    assert len(api(client, "usage")) == 2


def test_concurrent_copies_of_one_event_are_stored_once(make_client: Any) -> None:
    client = make_client()
    app = client.application
    sent = json.dumps(event(ONE_ROW)).encode()
    outcomes: list[str] = []

    def deliver() -> None:
        answer = post(app.test_client(), sent)
        outcomes.append(answer.get_json()["outcome"])

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["accepted"] + ["duplicate"] * 7
    assert len(api(client, "usage")) == 1
    assert api(client, "events")[0]["deliveryCount"] == 8


def test_inventory_usage_is_flattened_one_row_per_item_per_location_per_usage_row(make_client: Any) -> None:
    client = make_client()
    reasons = [{"Desc": "Damaged in transit", "InQty": 0.0, "InventoryQty": 3.0, "OutQty": 1.0, "Qty": 1.0,
                "ReasonCode": "DMG"}]
    sent = event(
        usage("0x0A", "1001", "LD-7", "2022-07-28T01:05:44.170+02:00",
              location("WH-MAIN", item("CMP-1", SerialNum="22D1", OutQty=1.0),
                       item("R410A-25LB", BatchNum="LOT-2207-0001", OutQty=2.5, InventoryQty=10.25)),
              location("VAN-014", item("CMP-1", SerialNum="22D1", InQty=1.0, InventoryQty=1.0)), user="bokafor"),
        usage("0x0B", "1006", "DSP-9", "2022-07-27T23:06:00Z",
              location("VAN-014", item("BLT-A38", OutQty=1.0, ReportedDamagedQty=1.0, InventoryQty=3.0,
                                       DispositionReasons=reasons))),
    )
    assert post(client, sent).get_json()["rows"] == {"received": 2, "usage": 4}
    rows = api(client, "usage")
    assert [(r["rowIndex"], r["locationIndex"], r["itemIndex"]) for r in rows] == [(0, 0, 0), (0, 0, 1), (0, 1, 0),
                                                                                  (1, 0, 0)]
    assert rows[1] == {
        "source": SOURCE, "eventId": sent["id"], "rowIndex": 0, "locationIndex": 0, "itemIndex": 1, "rowver": "0x0A",
        "UserID": "bokafor", "ModifiedUTC": "2022-07-27T23:05:44.170Z", "RefModule": "1001", "RefObjID": "LD-7",
        "StorageLocationID": "WH-MAIN", "ProdNum": "R410A-25LB", "SerialNum": None, "BatchNum": "LOT-2207-0001",
        "InQty": 0.0, "OutQty": 2.5, "InventoryQty": 10.25, "ReportedDamagedQty": 0.0, "DispositionReasons": [],
        "deliveryId": rows[1]["deliveryId"], "current": True,
    }
    assert rows[0]["SerialNum"] == "22D1" and rows[2]["StorageLocationID"] == "VAN-014"
    assert rows[3]["DispositionReasons"] == reasons and rows[3]["ModifiedUTC"] == "2022-07-27T23:06:00.000Z"
    assert [r["ProdNum"] for r in api(client, "usage?prod_num=CMP-1")] == ["CMP-1", "CMP-1"]
    assert [r["RefObjID"] for r in api(client, "usage?ref_module=1006")] == ["DSP-9"]


def test_unknown_fields_are_kept_and_unknown_ref_modules_warned(make_client: Any) -> None:
    client = make_client()
    row = usage("0x01", "2001", "X-1", "2022-07-27T23:01:11Z", location("VAN-014", item("FLT", Notes="bent")))
    row["InventoryUsage"]["Priority"] = 2
    sent = event(row, traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    answer = post(client, sent)
    assert answer.status_code == 200
    assert answer.get_json()["warnings"] == [{"field": "RefModule", "value": "2001", "rows": [0],
                                              "message": answer.get_json()["warnings"][0]["message"]}]
    stored = probe(client, SOURCE, sent["id"]).get_json()
    assert stored["traceparent"] == sent["traceparent"]
    assert stored["data"] == sent["data"]
    assert api(client, "usage")[0]["RefModule"] == "2001"


def test_usage_summary_counts_the_latest_version_of_each_usage_object(make_client: Any) -> None:
    """Two rows for one (RefModule, RefObjID) are two versions of one usage: the later one counts."""
    client = make_client()
    van, wh = "VAN-014", "WH-MAIN"
    post(client, event(
        usage("0x01", "1002", "WO-1", "2022-07-27T23:00:00Z", location(van, item("FLT", OutQty=2.0, InventoryQty=5.0))),
        usage("0x02", "1002", "WO-1", "2022-07-27T23:05:00Z", location(van, item("FLT", OutQty=3.0, InventoryQty=4.0))),
        usage("0x03", "1001", "LD-1", "2022-07-27T23:01:00Z",
              location(wh, item("FLT", OutQty=6.0, InventoryQty=20.0)),
              location(van, item("FLT", InQty=6.0, InventoryQty=7.0))),
    ))
    # A later event updates WO-1 again and reports the van's stock after it.
    post(client, event(usage("0x04", "1002", "WO-1", "2022-07-27T23:20:00Z",
                             location(van, item("FLT", OutQty=4.0, InventoryQty=3.0), item("BLT", OutQty=1.0)))))
    summary = api(client, "usage/summary")
    assert summary == [
        {"ProdNum": "BLT", "InQty": 0.0, "OutQty": 1.0, "ReportedDamagedQty": 0.0, "InventoryQty": 0.0,
         "usageRows": 1},
        {"ProdNum": "FLT", "InQty": 6.0, "OutQty": 10.0, "ReportedDamagedQty": 0.0, "InventoryQty": 23.0,
         "usageRows": 3},
    ]
    assert api(client, "usage/summary?prod_num=BLT") == summary[:1]
    current = {(r["rowver"], r["StorageLocationID"]): r["current"] for r in api(client, "usage?prod_num=FLT")}
    assert current == {("0x04", van): True, ("0x01", van): False, ("0x02", van): False, ("0x03", wh): True,
                       ("0x03", van): True}


def test_events_are_listed_newest_first_by_type_and_source_and_paged(make_client: Any) -> None:
    client = make_client()
    sent = [event(ONE_ROW), event(data={}, event_type="Activity"), event(ONE_ROW, source="other"), event(ONE_ROW)]
    for one in sent:
        post(client, one, "Activities/" if one["type"] == "Activity" else "InventoryUsage/")
    assert [e["id"] for e in api(client, "events")] == [e["id"] for e in reversed(sent)]
    assert [e["id"] for e in api(client, "events?type=Activity")] == [sent[1]["id"]]
    assert [e["id"] for e in api(client, "events?source=other")] == [sent[2]["id"]]
    page = client.get("/api/servicemobility/events?limit=3", headers=AUTH).get_json()
    rest = api(client, f"events?before={page['next_before']}")
    assert [e["id"] for e in page["items"] + rest] == [e["id"] for e in reversed(sent)]
    assert client.get("/api/servicemobility/events?limit=0", headers=AUTH).status_code == 400
    first = probe(client, SOURCE, sent[0]["id"]).get_json()
    assert first["deliveryCount"] == 1 and first["receivedAt"].endswith("Z")
    assert client.get("/api/servicemobility/events", headers={}).status_code == 401


def test_a_rejected_body_can_be_reapplied_after_a_fix(make_client: Any) -> None:
    """An Activity posted to the InventoryUsage/ path (a wrong path in the platform's settings) is
    rejected; re-applied, the envelope's own type decides."""
    client = make_client()
    sent = event(data={"rows": []}, event_type="Activity")
    assert post(client, sent, "InventoryUsage/").status_code == 422
    rejected = deliveries(client)[0]
    body = client.get(f"/api/deliveries/{rejected['id']}/body", headers=AUTH).data
    store, config = client.application.extensions["receiver.store"], client.application.extensions["receiver.config"]
    result = servicemobility.receive(store, config.servicemobility, body, content_type="application/json",
                                     reason=f"re-applied from delivery {rejected['id']}").to_json()
    assert result["outcome"] == "accepted"
    assert probe(client, SOURCE, sent["id"]).status_code == 200
    assert deliveries(client)[0]["reason"] == f"re-applied from delivery {rejected['id']}"


# --- when the store fails --------------------------------------------------------------------------


def _lock_taker(store_url: str) -> tuple[str, Callable[[], Callable[[], None]]]:
    """A store URL that gives up on a lock quickly, and a function that takes the write lock from
    another connection and returns how to release it."""
    if store_url.startswith("sqlite"):
        def take_sqlite() -> Callable[[], None]:
            conn = sqlite3.connect(store_url.removeprefix("sqlite:///"), isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            return conn.close

        return store_url, take_sqlite

    def take_postgres() -> Callable[[], None]:
        engine = sa.create_engine(store_url)
        conn = engine.connect()
        conn.exec_driver_sql("LOCK TABLE deliveries IN ACCESS EXCLUSIVE MODE")

        def release() -> None:
            conn.close()
            engine.dispose()

        return release

    return f"{store_url}%20-clock_timeout%3D300", take_postgres


def test_when_the_store_cannot_write_the_answer_is_500_saying_so_and_nothing_is_stored(store_url: str) -> None:
    url, take_lock = _lock_taker(store_url)
    store = Store(url, busy_timeout_ms=300)
    store.create_schema()
    try:
        client = create_app(receiver_config(url), store=store).test_client()
        sent = event(ONE_ROW)
        release = take_lock()
        try:
            answer = post(client, sent)
        finally:
            release()
        assert answer.status_code == 500
        assert answer.get_json()["error"]["message"].startswith("storage unavailable")
        assert probe(client, SOURCE, sent["id"]).status_code == 404
        assert post(client, sent).get_json()["outcome"] == "accepted"  # the platform's retry is stored
    finally:
        store.dispose()


def test_a_read_only_sqlite_file_is_500_not_200(tmp_path: Path) -> None:
    path = tmp_path / "receiver.db"
    Store(f"sqlite:///{path}").create_schema()
    url = f"sqlite:///file:{path}?mode=ro&uri=true"
    store = Store(url)
    try:
        client = create_app(receiver_config(url), store=store).test_client()
        answer = post(client, event(ONE_ROW))
        assert answer.status_code == 500
        assert "readonly" in answer.get_json()["error"]["message"]
        assert api(client, "events") == []
    finally:
        store.dispose()


@given(seed=st.integers(0, 2**32), rows=st.integers(1, 8))
def test_every_event_the_simulator_generates_is_valid_and_flattened_item_by_item(seed: int, rows: int) -> None:
    sent = sm.EventFactory(seed).inventory_usage(rows=rows)
    flat = servicemobility.validate(json.loads(sm.serialize(sent)), "InventoryUsage").usage_rows()
    items = [(r, s, i, item["ProdNum"])
             for r, row in enumerate(sent["data"]["rows"])
             for s, place in enumerate(row["InventoryUsage"]["StorageLocations"])
             for i, item in enumerate(place["Items"])]
    assert [(row[2], row[3], row[4], row[11]) for row in flat] == items


def test_the_benchmarks_trivial_endpoint_is_the_benchmarks_own(tmp_path: Path) -> None:
    from bench.trivial_server import with_trivial_endpoint

    url = f"sqlite:///{tmp_path / 'receiver.db'}"
    store = Store(url)
    store.create_schema()
    try:
        assert create_app(receiver_config(url), store=store).test_client().post(
            "/bench/trivial", data=b'{"a": 1}', headers=JSON).status_code == 404
        bench = with_trivial_endpoint(receiver_config(url)).test_client()
        assert bench.post("/bench/trivial", data=b'{"a": 1}', headers=JSON).status_code == 200
        assert bench.post("/bench/trivial", data=b"{", headers=JSON).status_code == 400
    finally:
        store.dispose()


@pytest.mark.parametrize("attribute", ["time", "datacontenttype", "action", "subject"])
@pytest.mark.parametrize("absent", ["missing", "null"])
def test_an_optional_envelope_attribute_may_be_absent(make_client: Callable[..., FlaskClient], attribute: str,
                                                       absent: str) -> None:
    """Decision sm-4: only id, source, specversion, type and data are required (CloudEvents)."""
    client = make_client()
    sent = event(ONE_ROW)
    if absent == "missing":
        del sent[attribute]
    else:
        sent[attribute] = None
    answer = post(client, sent)
    assert answer.status_code == 200, answer.get_json()
    assert probe(client, SOURCE, sent["id"]).status_code == 200


def test_an_accepted_event_keeps_its_headers_an_unknown_one_masked(make_client: Any, store_url: str) -> None:
    client = make_client()
    answer = post(client, event(ONE_ROW), headers={"X-Tenant-Secret": "abc123"})
    assert answer.status_code == 200 and answer.get_json()["outcome"] == "accepted", answer.get_json()
    shown = recorded_headers(store_url, answer.get_json()["delivery"])
    assert shown["X-Tenant-Secret"] == "*** (masked, 6 characters)" and shown["Content-Type"] == "application/json"

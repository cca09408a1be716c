"""The ERP channel logic and its read API, without a broker, on SQLite and PostgreSQL: what is stored
for each message, what is a duplicate, what can never be stored, and what the state probe shows."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from inventory_push_kit import fixtures
from inventory_push_kit.receiver import create_app, storage
from inventory_push_kit.receiver.channels import erp
from inventory_push_kit.receiver.errors import StorageFailure
from inventory_push_kit.simulator.erp import (
    CUSTOMER_QUEUE,
    MALFORMATIONS,
    ErpGenerator,
    ScenarioOptions,
    case_messages,
    conforming_messages,
    expected_state,
    outcome,
)
from tests.conftest import API_TOKEN, receiver_config

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
QUEUE_KINDS = {CUSTOMER_QUEUE: erp.CUSTOMER, "secom-subscriptions-queue": erp.SUBSCRIPTION}


@pytest.fixture
def client(store_url: str, store: storage.Store) -> FlaskClient:
    return create_app(receiver_config(store_url), store=store).test_client()


def note(kind: erp.ObjectKind, body: bytes | dict[str, Any], **fields: Any) -> erp.Notification:
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return erp.Notification(kind, fields.pop("queue", kind.queue), raw, "application/json", **fields)


def customer(object_id: Any = "134719", **fields: Any) -> dict[str, Any]:
    return {"id": object_id, "status": "Active", "name": "AYŞE ÇELİK", **fields}


def subscription(object_id: str = "123462", *, owner: str = "134719", **fields: Any) -> dict[str, Any]:
    bag = [{"name": "MONTAGE_DATE", "valueType": "Date", "value": "2021-08-16"},
           {"name": "STAGE", "valueType": "String", "value": "6 - Sinyal Alımı Gerçekleşti"}]
    return {"id": object_id, "agreementType": "Kiralama", "documentNumber": "108999", "status": "Active",
            "characteristic": bag, "engagedParty": [{"id": owner}], **fields}


def get(client: FlaskClient, path: str) -> Any:
    return client.get(f"/api/erp/{path}", headers=AUTH)


def deliveries(client: FlaskClient) -> list[dict[str, Any]]:
    items = client.get("/api/deliveries?channel=erp&limit=500", headers=AUTH).get_json()["items"]
    return items[::-1]  # oldest first


def parsed(answer: Any) -> dict[str, Any]:
    return {c["name"]: c["parsed"] for c in answer.get_json()["characteristics"]}


# --- the document's examples ------------------------------------------------------------------------


def test_document_examples_are_stored_as_received_with_their_bag_parsed(store: storage.Store,
                                                                         client: FlaskClient) -> None:
    receipts = erp.receive_batch(store, [
        note(erp.SUBSCRIPTION, fixtures.raw("erp", "document-subscription-example")),  # before its customer
        note(erp.CUSTOMER, fixtures.raw("erp", "document-customer-example")),
    ])
    assert [r.outcome for r in receipts] == ["accepted", "accepted"]

    found = get(client, "customers/134719")
    assert found.status_code == 200
    assert found.get_json()["document"] == fixtures.load("erp", "document-customer-example")
    found = get(client, "subscriptions/123462")
    body = found.get_json()
    assert body["document"] == fixtures.load("erp", "document-subscription-example")
    assert body["engagedParty"] == ["134719"]
    assert [c["name"] for c in body["characteristics"]][:3] == ["CAMPAIGN", "MONTAGEADRESS", "MONTAGECOUNTY"]
    assert parsed(found)["MONTAGE_DATE"] == "2021-08-16"
    assert parsed(found)["TOTAL_PAST_DUE_INSTALMENT"] == 0.0
    assert parsed(found)["STAGE"] == "6 - Sinyal Alımı Gerçekleşti"
    assert {c["type"] for c in body["characteristics"]} == {"string", "date", "float"}
    assert [s["id"] for s in get(client, "customers/134719/subscriptions").get_json()["items"]] == ["123462"]


# --- the property bag ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value_type", "value", "expected_type", "expected"), [
    ("String", "24 AY TAAHHÜTLÜ", "string", "24 AY TAAHHÜTLÜ"),
    ("STRING", 1065885, "string", "1065885"),
    ("Date", "2021-08-16", "date", "2021-08-16"),
    ("DATE", "2021-08-16T00:00:00", "date", "2021-08-16"),
    ("date", " 2021-08-16 ", "date", "2021-08-16"),
    ("DateTime", "2021-08-16T10:30:00+03:00", "datetime", "2021-08-16T10:30:00+03:00"),
    ("Float", "0.0", "float", 0.0),
    ("FLOAT", "-1234.5e1", "float", -12345.0),
    ("float", 7, "float", 7.0),
    ("Integer", "24", "integer", 24),
    ("INTEGER", 36.0, "integer", 36),
    ("Boolean", "TRUE", "boolean", True),
    ("boolean", "false", "boolean", False),
    ("Bool", False, "boolean", False),
    ("Currency", "12,50 TL", None, "12,50 TL"),  # a valueType the receiver does not know: kept as sent
    (None, "x", None, "x"),
    ("Date", None, "date", None),
])
def test_value_type_is_read_case_insensitively(value_type: str | None, value: Any, expected_type: str | None,
                                               expected: Any) -> None:
    read = erp.read_characteristic("X", value_type, value)
    assert (read.type, read.parsed, read.problem) == (expected_type, expected, None)
    assert read.value_type == value_type


@pytest.mark.parametrize(("value_type", "value"), [
    ("Date", "not a date"), ("DATE", "16.08.2021"), ("Float", "1,5"), ("Float", "nan"), ("Float", "1_000"),
    ("Float", True), ("Integer", "24.5"), ("integer", "yirmi"), ("Boolean", "maybe"), ("DateTime", ""),
])
def test_a_value_that_does_not_parse_keeps_its_raw_string(value_type: str, value: Any) -> None:
    read = erp.read_characteristic("X", value_type, value)
    assert read.parsed is None
    assert read.value == (value if isinstance(value, str) else json.dumps(value))
    assert read.problem is not None and value_type in read.problem and "raw value is kept" in read.problem


def test_bag_under_properties_or_as_one_object_is_read(store: storage.Store, client: FlaskClient) -> None:
    triplet = {"name": "PANELNO", "valueType": "String", "value": "1065885"}
    erp.receive_batch(store, [
        note(erp.SUBSCRIPTION, fixtures.raw("erp", "properties-instead-of-characteristic")),
        note(erp.SUBSCRIPTION, {"id": "S-one", "characteristic": triplet}),
        note(erp.SUBSCRIPTION, {"id": "S-map", "properties": {"PANELNO": "1065885", "E_INVOICE": True}}),
        note(erp.SUBSCRIPTION, {"id": "S-both", "characteristic": [triplet],
                                "properties": [{"name": "EXTRA", "valueType": "Integer", "value": "3"}]}),
    ])
    alias = fixtures.load("erp", "properties-instead-of-characteristic")
    found = get(client, f"subscriptions/{alias['id']}").get_json()
    assert [c["name"] for c in found["characteristics"]] == [t["name"] for t in alias["properties"]]
    assert parsed(get(client, "subscriptions/S-one")) == {"PANELNO": "1065885"}
    assert parsed(get(client, "subscriptions/S-map")) == {"PANELNO": "1065885", "E_INVOICE": True}
    assert parsed(get(client, "subscriptions/S-both")) == {"PANELNO": "1065885", "EXTRA": 3}


def test_broken_triplets_are_skipped_with_a_warning_and_kept_in_the_document(store: storage.Store,
                                                                              client: FlaskClient) -> None:
    bag = [{"name": "OK", "valueType": "Date", "value": "not a date"}, "not an object", {"value": "no name"}]
    erp.receive_message(store, note(erp.SUBSCRIPTION, {"id": "S1", "characteristic": bag, "engagedParty": "134719"}))
    found = get(client, "subscriptions/S1").get_json()
    assert found["document"]["characteristic"] == bag
    assert [(c["name"], c["value"], c["parsed"]) for c in found["characteristics"]] == [("OK", "not a date", None)]
    assert found["engagedParty"] == []
    warnings = deliveries(client)[-1]["warnings"]
    assert [w["path"] for w in warnings] == [["characteristic", 0], ["characteristic", 1], ["characteristic", 2],
                                            ["engagedParty"]]


# --- keys, full state, duplicates ------------------------------------------------------------------


def test_numeric_id_is_stored_under_its_string_form(store: storage.Store, client: FlaskClient) -> None:
    first = erp.receive_message(store, note(erp.CUSTOMER, customer(134719)))
    assert (first.outcome, first.counts["id"]) == ("accepted", "134719")
    assert get(client, "customers/134719").get_json()["document"]["id"] == 134719
    # The same customer with the id as a string is the same object; the content differs, so it applies.
    again = erp.receive_message(store, note(erp.CUSTOMER, customer("134719")))
    assert again.outcome == "accepted"
    assert get(client, "customers/134719").get_json()["document"]["id"] == "134719"
    assert erp.receive_message(store, note(erp.CUSTOMER, customer(134720.0))).counts["id"] == "134720"
    assert erp.receive_message(store, note(erp.CUSTOMER, customer(2.5))).counts["id"] == "2.5"
    with_bom = b"\xef\xbb\xbf" + json.dumps(customer("BOM")).encode()  # RFC 8259 §8.1: MAY be ignored
    assert erp.receive_message(store, note(erp.CUSTOMER, with_bom)).outcome == "accepted"


def test_each_message_replaces_the_whole_state(store: storage.Store, client: FlaskClient) -> None:
    erp.receive_message(store, note(erp.SUBSCRIPTION, subscription(owner="C1", segment="KOBİ")))
    later = subscription(owner="C2", characteristic=[{"name": "STAGE", "valueType": "String", "value": "7"}])
    erp.receive_message(store, note(erp.SUBSCRIPTION, later))
    found = get(client, "subscriptions/123462").get_json()
    assert found["document"] == later  # the property the later state no longer has is gone
    assert parsed(get(client, "subscriptions/123462")) == {"STAGE": "7"}
    assert found["engagedParty"] == ["C2"]
    assert get(client, "customers/C1/subscriptions").status_code == 404
    assert [s["id"] for s in get(client, "customers/C2/subscriptions").get_json()["items"]] == ["123462"]


def test_customers_and_subscriptions_with_one_id_are_two_objects(store: storage.Store, client: FlaskClient) -> None:
    erp.receive_batch(store, [note(erp.CUSTOMER, customer("42")), note(erp.SUBSCRIPTION, subscription("42"))])
    assert get(client, "customers/42").get_json()["document"] == customer("42")
    assert get(client, "subscriptions/42").get_json()["document"] == subscription("42")


def test_the_same_state_again_is_a_duplicate_and_changes_nothing(store: storage.Store, client: FlaskClient) -> None:
    first = erp.receive_message(store, note(erp.CUSTOMER,
                                            customer(contactMedium=[{"characteristic": {"city": "İZMİR"}}])))
    # Same content, other bytes (key order, spacing) and redelivered: still the same state.
    same = json.dumps(customer(contactMedium=[{"characteristic": {"city": "İZMİR"}}]), sort_keys=True, indent=4)
    again = erp.receive_message(store, note(erp.CUSTOMER, same.encode(), redelivered=True))
    assert again.outcome == "duplicate"
    assert again.reason == f"same content as delivery {first.delivery}: nothing changed"
    assert get(client, "customers/134719").get_json()["deliveryId"] == first.delivery
    logged = deliveries(client)[-1]
    assert (logged["outcome"], logged["counts"]["redelivered"], logged["counts"]["id"]) == ("duplicate", True,
                                                                                           "134719")


def test_a_batch_applies_in_order_and_logs_every_message(store: storage.Store, client: FlaskClient) -> None:
    a1, a2, b = customer("A", status="Active"), customer("A", status="Passive"), customer("B")
    receipts = erp.receive_batch(store, [note(erp.CUSTOMER, a1), note(erp.CUSTOMER, b), note(erp.CUSTOMER, a2),
                                         note(erp.CUSTOMER, b"{not json"), note(erp.CUSTOMER, a2),
                                         note(erp.CUSTOMER, a1)])
    assert [r.outcome for r in receipts] == ["accepted", "accepted", "accepted", "rejected", "duplicate", "accepted"]
    assert receipts[4].reason == f"same content as delivery {receipts[2].delivery}: nothing changed"
    found = get(client, "customers/A").get_json()
    assert (found["document"], found["deliveryId"]) == (a1, receipts[5].delivery)
    assert [d["id"] for d in deliveries(client)] == [r.delivery for r in receipts]


def test_a_batch_is_one_transaction(store: storage.Store, client: FlaskClient) -> None:
    def crash() -> None:
        raise RuntimeError("the process dies before the commit")

    with pytest.raises(RuntimeError):
        erp.receive_batch(store, [note(erp.CUSTOMER, customer("A")), note(erp.CUSTOMER, b"[]")], before_commit=crash)
    assert get(client, "customers/A").status_code == 404
    assert deliveries(client) == []


def test_text_with_nul_characters_is_stored(store: storage.Store, client: FlaskClient) -> None:
    # PostgreSQL text cannot hold NUL: the column drops it, the document keeps it.
    sent = customer("N1", name="AYŞE\u0000 ÇELİK", characteristic=[{"name": "A\u0000", "value": "\u0000"}])
    assert erp.receive_message(store, note(erp.CUSTOMER, sent)).outcome == "accepted"
    assert get(client, "customers/N1").get_json()["document"] == sent
    with store.read() as conn:
        assert conn.execute(sa.select(erp.customer_table.c.name)).scalar_one() == "AYŞE ÇELİK"


# --- what can never be stored ------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "reason"), [
    (b"", "malformed body: the body is empty; a JSON document was expected"),
    (b"  \n", "malformed body: the body is empty; a JSON document was expected"),
    (b'{"id": "1", "name": "\xde\xfc"}', "malformed body: the body is not UTF-8 text: "),
    (b'{"id": "1",', "malformed body: the body is not valid JSON: Expecting property name enclosed in "
                     "double quotes (line 1, column 12)"),
    (b'{"id": "1", "x": NaN}', "malformed body: the body is not valid JSON: NaN is not a JSON value"),
    (b'{"id": "1", "x": -1e400}', "malformed body: the body is not valid JSON: the number -1e400 is out "
                                 "of range"),
    (b"\xef\xbb\xbf", "malformed body: the body is not valid JSON: Expecting value (line 1, column 1)"),
    (b'{"id": "\\ud800"}', "malformed body: the body holds a lone UTF-16 surrogate escape"),
    (b"[" * 100_000, "malformed body: the body is not valid JSON: "),
    (b'[{"id": "1"}]', "invalid payload: the message must be one JSON object (a customer), not an array"),
    (b'"134719"', "invalid payload: the message must be one JSON object (a customer), not a string"),
    (b"null", "invalid payload: the message must be one JSON object (a customer), not null"),
    (b'{"name": "x"}', "invalid payload: the object has no id (the customerId or subscriptionId it is stored under)"),
    (b'{"id": ""}', "invalid payload: the object's id is empty"),
    (b'{"id": "  "}', "invalid payload: the object's id is empty"),
    (b'{"id": "1\\u00002"}', "invalid payload: the object's id cannot be stored: Contains U+0000 (NUL)"),
    (b'{"id": null}', "invalid payload: the object's id must be a string or a number, not null"),
    (b'{"id": true}', "invalid payload: the object's id must be a string or a number, not a boolean"),
    (b'{"id": {"value": "1"}}', "invalid payload: the object's id must be a string or a number, not an object"),
    (b'{"id": ["1"]}', "invalid payload: the object's id must be a string or a number, not an array"),
])
def test_a_message_that_can_never_be_stored_is_rejected_with_its_reason_and_body(
    store: storage.Store, client: FlaskClient, body: bytes, reason: str
) -> None:
    receipt = erp.receive_message(store, note(erp.CUSTOMER, body, queue="my-customers"))
    assert receipt.outcome == "rejected"
    assert receipt.reason is not None and receipt.reason.startswith(reason)
    logged = deliveries(client)[-1]
    assert (logged["outcome"], logged["reason"], logged["body_kept"]) == ("rejected", receipt.reason, True)
    assert logged["counts"] == {"queue": "my-customers", "kind": "customer", "redelivered": False}
    assert client.get(f"/api/deliveries/{receipt.delivery}/body", headers=AUTH).data == body
    assert get(client, "customers").get_json()["items"] == []


@pytest.mark.parametrize("name", MALFORMATIONS.names())
def test_the_simulators_cases_get_the_outcome_it_expects(store: storage.Store, name: str) -> None:
    case = MALFORMATIONS[name]
    for sent in case_messages(case, ErpGenerator(3)):
        receipt = erp.receive_message(store, note(QUEUE_KINDS[sent.queue], sent.body))
        assert receipt.outcome == ("rejected" if outcome(case) == "dead-letter" else "accepted"), (sent.queue, receipt)


def test_the_fixture_cases_get_their_outcome(store: storage.Store) -> None:
    for name, case in fixtures.cases("erp").items():
        receipt = erp.receive_message(store, note(QUEUE_KINDS[case["queue"]], fixtures.raw("erp", name)))
        expected = {"rejected"} if case["outcome"] == "dead-letter" else {"accepted", "duplicate"}
        assert receipt.outcome in expected, name


# --- what the simulator publishes, end to end without a broker -------------------------------------------


def test_stored_state_is_the_last_published_state_per_id(store: storage.Store, client: FlaskClient) -> None:
    messages = conforming_messages(ScenarioOptions(seed=5, customers=12, subscriptions=15, duplicates=True))
    for start in range(0, len(messages), 7):  # batches that split an object's states and duplicates
        erp.receive_batch(store, [note(QUEUE_KINDS[m.queue], m.body) for m in messages[start:start + 7]])
    expected = expected_state(messages)
    held = {}
    for path, queue in (("customers", CUSTOMER_QUEUE), ("subscriptions", "secom-subscriptions-queue")):
        for item in get(client, f"{path}?limit=1000").get_json()["items"]:
            held[(queue, item["id"])] = item["document"]
    assert held == expected
    outcomes = [d["outcome"] for d in deliveries(client)]
    assert outcomes.count("accepted") == len({m.body for m in messages}) and "rejected" not in outcomes


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=25)
@given(document=st.dictionaries(st.text(max_size=8), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8)), object_id=st.text(min_size=1).filter(lambda t: t.strip() and "\x00" not in t))
@example(document={"name": "\x00"}, object_id="0")  # NUL in a text column (PostgreSQL refuses it)
@example(document={"n": 2**70}, object_id="x/y")  # beyond 64 bits; a slash in the id
def test_any_object_with_an_id_is_stored_exactly_as_sent(store: storage.Store, client: FlaskClient,
                                                         document: dict[str, Any], object_id: str) -> None:
    sent = {**document, "id": object_id}
    receipt = erp.receive_message(store, note(erp.SUBSCRIPTION, sent))
    assert receipt.outcome in {"accepted", "duplicate"}
    with store.read() as conn:
        stored = conn.execute(sa.select(erp.subscription_table.c.document)
                              .where(erp.subscription_table.c.id == object_id)).scalar_one()
    assert stored == sent


# --- read API --------------------------------------------------------------------------------------------


def test_lists_are_paged_by_id(store: storage.Store, client: FlaskClient) -> None:
    erp.receive_batch(store, [note(erp.CUSTOMER, customer(f"C{i}")) for i in range(5)]
                      + [note(erp.SUBSCRIPTION, subscription(f"S{i}", owner="C1")) for i in range(3)])
    pages, after = [], ""
    while after is not None:
        page = get(client, f"customers?limit=2&after={after}").get_json()
        pages.append([item["id"] for item in page["items"]])
        after = page["next_after"]
    assert pages == [["C0", "C1"], ["C2", "C3"], ["C4"]]
    page = get(client, "customers/C1/subscriptions?limit=2").get_json()
    assert ([s["id"] for s in page["items"]], page["next_after"]) == (["S0", "S1"], "S1")
    assert page["items"][0]["characteristics"][0]["name"] == "MONTAGE_DATE"
    assert [s["id"] for s in get(client, "subscriptions?after=S0").get_json()["items"]] == ["S1", "S2"]
    assert get(client, "customers/C2/subscriptions").get_json() == {"items": [], "next_after": None}
    assert get(client, "customers?limit=x").status_code == 400


def test_unknown_ids_answer_404_and_the_api_needs_its_token(client: FlaskClient) -> None:
    for path in ("customers/134719", "subscriptions/123462", "customers/134719/subscriptions"):
        answer = get(client, path)
        assert answer.status_code == 404 and answer.get_json()["error"]["status"] == 404
    assert client.get("/api/erp/customers").status_code == 401


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_store_is_a_storage_failure() -> None:
    store = storage.Store(f"postgresql://postgres@127.0.0.1:{_unused_port()}/test")
    try:
        with pytest.raises(StorageFailure, match="storage unavailable"):
            erp.receive_message(store, note(erp.CUSTOMER, customer()))
    finally:
        store.dispose()


def test_the_read_api_answers_500_when_the_store_is_gone(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    store = storage.Store(f"sqlite:///{folder / 'receiver.db'}")
    store.create_schema()
    client = create_app(receiver_config(str(store.url)), store=store).test_client()
    erp.receive_message(store, note(erp.CUSTOMER, customer()))
    assert get(client, "customers/134719").status_code == 200
    store.engine.dispose()  # close the pooled connections, then take the database away
    folder.rename(tmp_path / "moved")
    answer = get(client, "customers/134719")
    assert answer.status_code == 500
    assert "storage unavailable" in answer.get_json()["error"]["message"]
    store.dispose()


def test_each_written_state_records_its_diff_against_the_state_stored_before_its_batch(store: storage.Store) -> None:
    first = erp.receive_batch(store, [note(erp.CUSTOMER, customer("C1")), note(erp.SUBSCRIPTION, subscription("S1"))])
    second = erp.receive_batch(store, [
        note(erp.CUSTOMER, customer("C1", status="Passive")),  # changed: diffed against batch one's state
        note(erp.CUSTOMER, customer("C1", status="Suspended")),  # changed again: the last state is written
        note(erp.CUSTOMER, customer("C2")),  # new
    ])
    with store.read() as conn:
        changes = {r.delivery: storage.get_details(conn, r.delivery) for r in second}
        first_changes = storage.get_details(conn, first[0].delivery)
    assert first_changes is not None and first_changes.changes["new"] is True
    last = changes[second[1].delivery].changes
    assert (last["kind"], last["id"], last["new"], last["previous_delivery"]) == ("customer", "C1", False,
                                                                                 first[0].delivery)
    assert [(d["path"], d["before"], d["after"]) for d in last["diff"]] == [(["status"], "Active", "Suspended")]
    assert changes[second[2].delivery].changes["new"] is True and changes[second[2].delivery].changes["diff"] == []
    assert changes[second[0].delivery] is None or changes[second[0].delivery].changes is None  # superseded

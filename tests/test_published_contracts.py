"""The published contracts (receiver/contracts.py) are true: each document is valid against its
meta-schema, the files shipped and written are the ones the code builds, a running receiver serves its
enabled channels, and every case of the simulator is judged by the payload schemas as the receiver
judges it — the conforming ones valid, the malformed ones invalid, except the few the schema cannot
express, listed here with the reason."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

import inventory_push_kit.simulator.erp as erp_sim
import inventory_push_kit.simulator.s360 as s360_sim
import inventory_push_kit.simulator.servicemobility as sm_sim
import inventory_push_kit.simulator.stock as stock_sim
from inventory_push_kit.receiver import contracts, create_app
from inventory_push_kit.receiver.channels import servicemobility
from inventory_push_kit.receiver.config import from_mapping
from inventory_push_kit.simulator.core import Request, cases_for
from inventory_push_kit.simulator.servicemobility import SMCaseContext, TokenSigner
from inventory_push_kit.simulator.stock import StockCaseContext, StockGenerator
from tests.conftest import STOCK_HEADERS

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = Path(__file__).resolve().parent / "resources"
DOCUMENTS = contracts.documents()
SCHEMAS = {name.removesuffix(".schema.json"): document for name, document in DOCUMENTS.items()
           if name.endswith(".schema.json")}
DECISIONS = (ROOT / "contract_tests" / "decisions.md").read_text(encoding="utf-8")


def validator(key: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(SCHEMAS[key], format_checker=jsonschema.FormatChecker())


def errors(key: str, document: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message[:120]}" for e in validator(key).iter_errors(document)]


# --- the documents ------------------------------------------------------------------------------------


def test_the_openapi_document_is_valid_openapi_3_1() -> None:
    document = DOCUMENTS[contracts.OPENAPI_FILE]
    assert document["openapi"] == "3.1.0" and document["info"]["version"] == contracts.VERSION
    validate_openapi(document)


def test_the_asyncapi_document_is_valid_asyncapi_3_0() -> None:
    meta = json.loads((RESOURCES / "asyncapi-3.0.0.schema.json").read_text(encoding="utf-8"))
    registry: Registry[Any] = Registry().with_resource(meta["$id"], Resource(meta, DRAFT7))
    checker = jsonschema.Draft7Validator(meta, registry=registry)
    found = [f"{e.json_path}: {e.message[:200]}" for e in checker.iter_errors(DOCUMENTS[contracts.ASYNCAPI_FILE])]
    assert found == []


@pytest.mark.parametrize("key", sorted(SCHEMAS))
def test_each_payload_schema_is_json_schema_2020_12_and_its_examples_conform(key: str) -> None:
    schema = SCHEMAS[key]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema.get("examples"), "every payload has an example"
    assert [errors(key, example) for example in schema["examples"]] == [[] for _ in schema["examples"]]


def test_every_operation_has_a_stable_id_a_description_and_an_example_of_every_body() -> None:
    document = DOCUMENTS[contracts.OPENAPI_FILE]
    ids = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            ids.append(operation["operationId"])
            assert operation["summary"] and operation["description"], (method, path)
            answer = operation["responses"]["200"]
            assert all("example" in media for media in answer["content"].values()), (method, path)
            if "requestBody" in operation:
                assert operation["requestBody"]["content"]["application/json"]["examples"], (method, path)
    assert len(ids) == len(set(ids))
    assert {"stock_push", "s360_inventory_webhook", "servicemobility_InventoryUsage", "get_stock_entry"} <= set(ids)


def test_the_examples_are_the_documents_own_verbatim() -> None:
    from inventory_push_kit import fixtures

    assert SCHEMAS["stock-push"]["examples"] == [json.loads(fixtures.raw("stock", "document-example"))]
    assert SCHEMAS["s360-batch"]["examples"] == [fixtures.load("s360", "document-example")]
    assert SCHEMAS["erp-customer"]["examples"] == [fixtures.load("erp", "document-customer-example")]
    assert SCHEMAS["erp-subscription"]["examples"] == [fixtures.load("erp", "document-subscription-example")]
    # the U+2011 hyphens of the stock push's example are kept as printed
    assert SCHEMAS["stock-push"]["examples"][0]["data"]["tagDate"] == ["2018\u201101\u201101"]


def test_every_decision_a_document_cites_exists() -> None:
    text = json.dumps(DOCUMENTS)
    cited = set(re.findall(r"\[((?:stock|s360|sm|erp)-\d+)\]", text))
    assert cited and {decision for decision in cited if f"**{decision}**" not in DECISIONS} == set()


def test_the_stock_schema_comes_from_the_columns_of_the_validation() -> None:
    from inventory_push_kit.receiver.channels import stock

    columns = SCHEMAS["stock-push"]["properties"]["data"]["properties"]
    assert set(columns) == {*stock.COLUMNS, stock.ALIAS}
    for name, (kind, required) in stock.COLUMNS.items():
        item = columns[name]["items"]
        assert item["type"] == (kind.schema["type"] if required else [kind.schema["type"], "null"]), name
        assert columns[name]["description"] == stock.DESCRIPTIONS[name]


@pytest.mark.parametrize("where", ["docs/contracts", "receiver/published"])
def test_the_committed_documents_are_the_ones_the_code_builds(where: str) -> None:
    """Drift is impossible: change a schema, and this fails until the documents are written again."""
    folder = ROOT / where
    on_disk = {path.name for path in folder.glob("*.json")}
    assert on_disk == set(DOCUMENTS), f"run: inventory-receiver write-contracts {where}"
    for name, document in DOCUMENTS.items():
        assert (folder / name).read_text(encoding="utf-8") == contracts.render(document), (
            f"{where}/{name} is stale: run inventory-receiver write-contracts {where}")


def test_the_installed_package_ships_the_documents() -> None:
    assert json.loads(contracts.shipped(contracts.OPENAPI_FILE)) == DOCUMENTS[contracts.OPENAPI_FILE]


def test_write_contracts_writes_the_whole_set(tmp_path: Path) -> None:
    process = subprocess.run([sys.executable, "-m", "inventory_push_kit.receiver", "write-contracts",
                              str(tmp_path / "out")],
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, process.stderr
    assert {path.name for path in (tmp_path / "out").iterdir()} == set(DOCUMENTS)


# --- what a running receiver serves -----------------------------------------------------------------


def served(sections: dict[str, Any]) -> dict[str, Any]:
    app = create_app(from_mapping({"storage": {"url": "sqlite://"}, **sections}))
    answer = app.test_client().get("/openapi.json")
    assert answer.status_code == 200
    document: dict[str, Any] = answer.get_json()
    validate_openapi(document)
    return document


def test_a_receiver_serves_the_document_of_its_enabled_channels_and_configuration() -> None:
    document = served({
        "stock": {"enabled": True, "path": "/push", "credential_headers": {"X-User": "u", "X-Key": "secret-value"}},
        "s360": {"enabled": True, "auth": "API_KEY", "login": "-x-s360-key", "password": "key-value"},
    })
    assert set(document["paths"]) == {"/push", "/s360/inventory", "/healthz", "/readyz", "/openapi.json"}  # no token
    schemes = document["components"]["securitySchemes"]
    assert {scheme["name"] for name, scheme in schemes.items() if name.startswith("stock-")} == {"X-User", "X-Key"}
    assert document["paths"]["/push"]["post"]["security"] == [{"stock-X-User": [], "stock-X-Key": []}]
    assert schemes["s360-api-key"]["name"] == "x-s360-key" and "s360-basic" not in schemes
    assert "secret-value" not in json.dumps(document) and "key-value" not in json.dumps(document)


def test_the_read_api_is_in_the_document_when_it_is_on() -> None:
    document = served({"api": {"token": "t", "prefix": "/read"}, "erp": {"enabled": True},
                       "servicemobility": {"enabled": True, "base": "/sm", "paths": {"Activity": "Act"}}})
    paths = set(document["paths"])
    assert {"/read/erp/customers/{id}", "/read/deliveries", "/sm/Act/", "/sm/InventoryUsage/"} <= paths
    probe = [op["operationId"] for item in document["paths"].values() for op in item.values()
             if "state probe" in op["tags"]]
    assert set(probe) == {"get_erp_customer", "get_erp_subscription", "get_servicemobility_event"}
    assert document["paths"]["/sm/Act/"]["post"]["security"] == [{}]  # jwt = "off": the token is not evaluated


def test_a_receiver_with_only_its_read_api_serves_a_valid_document() -> None:
    document = served({"api": {"token": "t"}})
    assert {"/api/deliveries", "/api/deliveries/{id}", "/healthz"} <= set(document["paths"])


def test_docs_renders_the_document_from_the_packaged_bundle() -> None:
    client = create_app(from_mapping({"storage": {"url": "sqlite://"}})).test_client()
    page = client.get("/docs/")
    assert page.status_code == 200 and b'"url": "/openapi.json"' in page.data
    with client.get("/docs/swagger-ui-bundle.js") as bundle:
        assert bundle.status_code == 200 and bundle.content_type.startswith("text/javascript")


# --- the payload schemas judge every case as the receiver does ------------------------------------------

# A case whose break is in the headers or the size: its body conforms, so its schema cannot see it.
NOT_IN_THE_BODY = {401, 413, 415}

# The malformations a JSON Schema cannot express, and why (each is a rule of the schema's description).
BEYOND_THE_SCHEMA = {
    "stock": {"length-mismatch": "equal column lengths: no JSON Schema keyword relates two arrays' lengths"},
    "s360": {"duplicate-id-in-batch": "uniqueItems compares whole items, not one property of them",
             "id-is-a-float": "JSON Schema's integer is mathematical: 10228321399304.0 is an integer to it"},
    "servicemobility": {},
    "erp": {},
}


def judged(key: str, body: bytes) -> str:
    """What the payload schema ``key`` says of a body: valid, invalid, or not JSON at all."""
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except ValueError:
        return "not JSON"
    found = errors(key, document)
    return "invalid" if found else "valid"


def expect_judgement(channel: str, case: str, statuses: tuple[int, ...], verdict: str) -> None:
    """The schema's verdict means what the receiver answers: valid for what it accepts (and for what it
    refuses for a reason outside the body, or beyond the schema), invalid for the rest."""
    if verdict == "not JSON":
        assert statuses == (400,) or channel == "erp", case
    elif 200 in statuses or set(statuses) <= NOT_IN_THE_BODY or case in BEYOND_THE_SCHEMA[channel]:
        assert verdict == "valid", f"{channel} {case}: the schema refuses what the receiver accepts (or cannot see)"
    else:
        assert verdict == "invalid", f"{channel} {case}: the schema accepts what the receiver refuses"


def stock_requests() -> Iterator[tuple[str, tuple[int, ...], Request]]:
    generator = StockGenerator(3)
    for push in (generator.first_push(5), generator.delta(5)):
        context = StockCaseContext(push, credentials={"X-Stock-Key": "k"}, max_body_bytes=4096)
        for registry in (stock_sim.GOOD_CASES, stock_sim.MALFORMATIONS):
            for case, request in cases_for(registry, context):
                yield case.name, case.expect.statuses, request


def s360_requests() -> Iterator[tuple[str, tuple[int, ...], Request]]:
    generator = s360_sim.ProductGenerator(5, size=4)
    context = s360_sim.S360CaseContext(generator.inventory(), s360_sim.Auth.parse("basic:l:p"), max_body_bytes=4096)
    for registry in (s360_sim.GOOD_CASES, s360_sim.MALFORMATIONS):
        for case, request in cases_for(registry, context):
            if case.name != "full-batch":  # 1000 example-sized products: the same shape as document-example
                yield case.name, case.expect.statuses, request


def sm_requests() -> Iterator[tuple[str, tuple[int, ...], Request]]:
    context = SMCaseContext.for_signer(TokenSigner("s" * 32), seed=7)
    for registry in (sm_sim.GOOD_CASES, sm_sim.MALFORMATIONS):
        for case, request in cases_for(registry, context):
            yield case.name, case.expect.statuses, request


PATH_TYPES = {path: event_type for event_type, path in servicemobility.TYPES.items()}


def test_stock_cases_and_generated_pushes_against_the_stock_schema() -> None:
    seen = set()
    for case, statuses, request in stock_requests():
        expect_judgement("stock", case, statuses, judged("stock-push", request.body))
        seen.add(case)
    assert seen == {*stock_sim.GOOD_CASES.names(), *stock_sim.MALFORMATIONS.names()}
    generator = StockGenerator(11)
    for push in (generator.first_push(200), *(generator.delta(100) for _ in range(5))):
        assert errors("stock-push", push.body()) == []


def test_s360_cases_against_the_batch_schema() -> None:
    for case, statuses, request in s360_requests():
        expect_judgement("s360", case, statuses, judged("s360-batch", request.body))


def test_servicemobility_cases_against_the_schema_of_their_path() -> None:
    for case, statuses, request in sm_requests():
        key = f"servicemobility-{PATH_TYPES[(request.path or 'InventoryUsage').strip('/')]}-event"
        expect_judgement("servicemobility", case, statuses, judged(key, request.body))
        if 200 in statuses:  # its data, where the type has a schema of its own
            document = json.loads(request.body)
            if document["type"] == "InventoryUsage":
                assert errors("servicemobility-inventory-usage-data", document["data"]) == [], case


def test_erp_cases_and_generated_messages_against_the_message_schemas() -> None:
    generator = erp_sim.ErpGenerator(9)
    keys = {erp_sim.CUSTOMER_QUEUE: "erp-customer", erp_sim.SUBSCRIPTION_QUEUE: "erp-subscription"}
    for case in erp_sim.MALFORMATIONS:
        for message in erp_sim.case_messages(case, generator):
            verdict = judged(keys[message.queue], message.body)
            if verdict == "not JSON":
                assert message.outcome == "dead-letter", case.name
            else:
                assert verdict == ("valid" if message.outcome == "stored" else "invalid"), case.name
    for _ in range(20):
        customer = generator.customer()
        assert errors("erp-customer", customer) == []
        assert errors("erp-subscription", generator.subscription(customer["id"])) == []


def test_the_beyond_the_schema_lists_are_in_the_schemas_descriptions() -> None:
    assert "unequal length" in SCHEMAS["stock-push"]["description"]
    assert "each product appears once" in SCHEMAS["s360-batch"]["description"]
    assert "reads 1.0 as the integer 1" in SCHEMAS["s360-batch"]["description"]


# --- what Schemathesis found (tests/test_schemathesis.py), fixed and pinned ------------------------------

READ = {"Authorization": "Bearer read-api-token"}  # tests/conftest.py: API_TOKEN
OPENAPI = DOCUMENTS[contracts.OPENAPI_FILE]


def openapi_schema(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**schema, "$defs": OPENAPI["components"]["schemas"]})


def parameters() -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in OPENAPI["paths"].items():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                yield path, parameter


def test_pinned_every_text_parameter_says_no_nul_as_the_read_api_refuses_it(make_client: Any) -> None:
    """Schemathesis sent ?after=%00 — 400, though the document allowed any text."""
    texts = [(path, p["name"]) for path, p in parameters() if p["schema"].get("type") == "string"]
    assert texts and all(p["schema"].get("pattern") == r"^[^\u0000]*$" for _, p in parameters()
                         if p["schema"].get("type") == "string")
    assert make_client().get("/api/stock?after=%00", headers=READ).status_code == 400


def test_pinned_every_integer_parameter_is_bounded_as_the_receiver_bounds_it(make_client: Any) -> None:
    """Schemathesis sent ?before=9223372036854775808 — 400, though the document set no maximum."""
    client = make_client()
    for path, parameter in parameters():
        schema = parameter["schema"]
        if schema.get("type") != "integer" or parameter["in"] != "query" or "{id}" in path:
            continue  # (a route with an id answers 404 for an unknown one before it reads its paging)
        assert "maximum" in schema, (path, parameter["name"])
        beyond = schema["maximum"] + 1
        assert not openapi_schema(schema).is_valid(beyond)
        route = path.replace("{delivery}", "1")
        assert client.get(f"{route}?{parameter['name']}={beyond}", headers=READ).status_code == 400, (route, parameter)


def test_pinned_an_empty_before_is_a_400_not_ignored(make_client: Any) -> None:
    """Schemathesis sent ?before= (not an integer) to the events list: 200, every event, as if absent."""
    answer = make_client().get("/api/servicemobility/events?before=", headers=READ)
    assert answer.status_code == 400 and "before must be an integer" in answer.get_json()["error"]["message"]


def sm_event(time: str = "2022-07-27T23:10:12.000Z", **item: Any) -> dict[str, Any]:
    row = {"rowver": "0x01", "InventoryUsage": {
        "UserID": "u", "ModifiedUTC": "2022-07-27T22:58:24.794Z", "RefModule": "1005", "RefObjID": "PI-1",
        "StorageLocations": [{"StorageLocationID": "WH", "Items": [{"ProdNum": "P-1", **item}]}]}}
    return {"id": str(uuid.uuid4()), "type": "InventoryUsage", "specversion": "1.0", "source": "s",
            "time": time, "data": {"rowver": "0x01", "rows": [row]}}


@pytest.mark.parametrize(("change", "accepted"), [
    # Schemathesis sent days no calendar has (Sept 31, April 31) and the year 0000: valid to the document's
    # pattern, refused by the receiver. The pattern is now the calendar's, leap years included.
    ({"time": "2022-09-31T10:00:00Z"}, False),
    ({"time": "0884-04-31 00:10:30+22:30"}, False),
    ({"time": "0000-01-01T00:00:00Z"}, False),
    ({"time": "2023-02-29T10:00:00Z"}, False),
    ({"time": "2024-02-29T10:00:00Z"}, True),
    ({"time": "2000-02-29t10:00:00.123456789z"}, True),
    # a moment whose offset would take it out of the years UTC holds: refused, by both
    ({"time": "0001-01-01T00:30:00+01:00"}, False),
    ({"time": "9999-12-31T23:30:00-01:00"}, False),
    # found while reading what marshmallow's Float takes: a quantity written as a string
    ({"InQty": "1.5"}, False),
    # Schemathesis sent Qty = -1e14, which the document allowed (apispec writes Range(min_inclusive=False)
    # as an inclusive minimum): the quantity field now says its exclusive bounds itself.
    ({"InQty": -1e14}, False),
    ({"InQty": 99999999999999.9}, True),
    # JSON Schema's integer includes 1002.0; a code written so is read as 1002
    ({"BatchNum": 1002.0}, True),
])
def test_pinned_servicemobility_receiver_and_schema_agree(make_client: Any, change: dict[str, Any],
                                                          accepted: bool) -> None:
    item = {name: value for name, value in change.items() if name != "time"}
    body = sm_event(change.get("time", "2022-07-27T23:10:12.000Z"), **item)
    answer = make_client().post("/servicemobility/InventoryUsage/", json=body)
    assert (answer.status_code == 200) is accepted, answer.get_json()
    assert (errors("servicemobility-InventoryUsage-event", body) == []) is accepted


def test_pinned_a_kept_body_is_served_as_bytes_not_as_what_it_claimed(make_client: Any) -> None:
    """Schemathesis read a kept body declared application/json that was not JSON (it had been refused for
    that): the body is served as application/octet-stream, its declared type is the delivery's."""
    client = make_client()
    refused = client.post("/stock-push", data=b"{not json",
                          headers={**STOCK_HEADERS, "Content-Type": "application/json"})
    assert refused.status_code == 400
    delivery = client.get("/api/deliveries?channel=stock", headers=READ).get_json()["items"][0]
    assert delivery["content_type"] == "application/json"
    kept = client.get(f"/api/deliveries/{delivery['id']}/body", headers=READ)
    assert kept.data == b"{not json" and kept.mimetype == "application/octet-stream"

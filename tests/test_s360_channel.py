"""The S-360 inventory webhook channel of the receiver, through its HTTP endpoint, on SQLite and PostgreSQL.

The simulator's cases (its own reading of the document) are sent as they are, and small hand-built
inputs pin the exact behaviour."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask.testing import FlaskClient

from devtools.serving import make_tls, running_receiver
from inventory_push_kit import fixtures
from inventory_push_kit.receiver import create_app
from inventory_push_kit.receiver.channels import s360
from inventory_push_kit.receiver.config import ConfigError, from_mapping, load_config, masked
from inventory_push_kit.receiver.storage import Store
from inventory_push_kit.simulator.core import Request
from inventory_push_kit.simulator.s360 import (
    GOOD_CASES,
    MALFORMATIONS,
    MAX_ID,
    Auth,
    AuthMode,
    FakeClock,
    ProductGenerator,
    S360CaseContext,
    S360Platform,
    cases_for,
    encode_json,
)
from tests.conftest import API_TOKEN, receiver_config, recorded_headers

PATH = "/s360/inventory"
JSON = {"Content-Type": "application/json"}
READ = {"Authorization": f"Bearer {API_TOKEN}"}
AUTHS = {
    "NONE": Auth(),
    "BASIC_AUTH": Auth(AuthMode.BASIC_AUTH, "s360-webhook", "s3cret-basic-pw"),
    # The document's own example of a header name, stray hyphen included.
    "API_KEY": Auth(AuthMode.API_KEY, "-x-api-key", "s3cret-api-key"),
}
EXAMPLE_ID = 10228321399304
LIMIT = 256 * 1024  # a small body limit, so that the oversize case stays small


def section(auth: Auth, **values: Any) -> dict[str, Any]:
    """The [s360] section for an interface set up with ``auth`` in the back office."""
    return {"enabled": True, "auth": auth.mode.value, "login": auth.login, "password": auth.password, **values}


def send(client: FlaskClient, data: bytes | Any, headers: dict[str, str] | None = None,
         auth: Auth = AUTHS["NONE"]) -> Any:
    body = data if isinstance(data, bytes) else encode_json(data)
    return client.post(PATH, data=body, headers={**JSON, **auth.headers(), **(headers or {})})


def send_request(client: FlaskClient, request: Request) -> Any:
    return client.post(request.path or PATH, data=request.body, headers=dict(request.headers))


def product(client: FlaskClient, product_id: int) -> Any:
    return client.get(f"/api/s360/products/{product_id}", headers=READ)


def product_ids(client: FlaskClient) -> list[int]:
    return [item["id"] for item in client.get("/api/s360/products?limit=1000", headers=READ).get_json()["items"]]


def changes(client: FlaskClient, delivery: int, query: str = "") -> dict[str, Any]:
    answer = client.get(f"/api/s360/deliveries/{delivery}/changes{query}", headers=READ)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()  # type: ignore[no-any-return]


def deliveries(client: FlaskClient) -> list[dict[str, Any]]:
    return client.get("/api/deliveries?channel=s360&limit=500", headers=READ).get_json()["items"]


def products(count: int, seed: int = 1, first_id: int | None = None) -> list[dict[str, Any]]:
    """A fresh copy of a generated inventory (each one generated once per session)."""
    return json.loads(_inventory(count, seed, first_id))


@functools.cache
def _inventory(count: int, seed: int, first_id: int | None) -> bytes:
    return encode_json(ProductGenerator(seed, count, first_id=first_id).inventory())


def sha256_of_canonical(document: Any) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- the document's example -------------------------------------------------------------------------------


def test_the_documents_example_is_accepted_with_exactly_200_as_printed(make_client: Any) -> None:
    client = make_client()
    raw = fixtures.raw("s360", "document-example")
    assert "Cinéma".encode() in raw and b'\n    {\n        "id"' in raw  # pretty-printed, with its é
    answer = send(client, raw)
    assert answer.status_code == 200
    receipt = answer.get_json()
    assert receipt["outcome"] == "accepted"
    assert receipt["products"] == {"received": 1, "new": 1, "changed": 0, "unchanged": 0}

    held = product(client, EXAMPLE_ID).get_json()
    example = fixtures.load("s360", "document-example")[0]
    assert held["document"] == example  # every field, as received
    assert held["document"]["event"]["activityExternalName"]["translations"][0]["value"] == "Cinéma et vidéo"
    assert (held["id"], held["code"], held["state"]) == (EXAMPLE_ID, "2010CIMM", "RUNNING")
    assert held["contentSha256"] == sha256_of_canonical(example)
    assert held["firstSeenDelivery"] == held["lastChangedDelivery"] == held["lastSeenDelivery"] == receipt["delivery"]
    assert held["lastChangedAt"].endswith("Z")  # UTC, like every time of the read API
    logged = deliveries(client)[0]
    assert (logged["outcome"], logged["status"], logged["counts"]) == ("accepted", 200, receipt["products"])
    assert not logged["body_kept"]


def test_key_order_and_whitespace_are_not_a_change(make_client: Any) -> None:
    client = make_client()
    send(client, fixtures.raw("s360", "document-example"))
    reordered = [dict(reversed(list(fixtures.load("s360", "document-example")[0].items())))]
    answer = send(client, json.dumps(reordered).encode())  # ASCII-escaped, other order, other spacing
    assert answer.status_code == 200
    assert answer.get_json()["products"] == {"received": 1, "new": 0, "changed": 0, "unchanged": 1}


def test_a_changed_value_is_a_change_and_the_first_seen_delivery_stays(make_client: Any) -> None:
    client = make_client()
    first = send(client, fixtures.raw("s360", "document-example")).get_json()["delivery"]
    example = fixtures.load("s360", "document-example")
    example[0]["event"]["performances"][0]["prices"][0]["amount"] += 500
    second = send(client, example).get_json()
    assert second["products"]["changed"] == 1
    held = product(client, EXAMPLE_ID).get_json()
    assert held["firstSeenDelivery"] == first
    assert held["lastChangedDelivery"] == held["lastSeenDelivery"] == second["delivery"]
    assert held["document"]["event"]["performances"][0]["prices"][0]["amount"] == 35500


# --- authentication, as the back office has it -----------------------------------------------------------


@pytest.mark.parametrize("mode", ["BASIC_AUTH", "API_KEY"])
def test_the_simulators_wrong_credentials_are_401_and_store_nothing(
    make_client: Any, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    auth = AUTHS[mode]
    client = make_client(s360=section(auth))
    caplog.set_level(logging.DEBUG)
    context = S360CaseContext(products(3), auth)
    auth_cases = [(case, request) for case, request in cases_for(MALFORMATIONS, context)
                  if case.expect.statuses == (401,)]
    assert len(auth_cases) == 3
    for case, request in auth_cases:
        answer = send_request(client, request)
        assert answer.status_code == 401, case.name
        assert answer.get_json()["error"]["status"] == 401, case.name
        if mode == "BASIC_AUTH":
            assert answer.headers["WWW-Authenticate"].startswith('Basic realm="'), case.name
    assert product_ids(client) == []
    logged = deliveries(client)
    assert [(d["outcome"], d["status"], d["body_kept"]) for d in logged] == [("rejected", 401, False)] * 3
    assert auth.password not in caplog.text and "wrong-" + auth.password not in caplog.text
    # The same batch with the interface's credentials is accepted.
    assert send(client, context.products, auth=auth).status_code == 200


def basic(text: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(text.encode()).decode()}


# Hand-built requests to an interface set up with BASIC_AUTH s360-webhook / s3cret-basic-pw.
BASIC_CASES = {
    "no-authorization": ({}, 401),
    "wrong-password": (basic("s360-webhook:wrong"), 401),
    "wrong-login": (basic("someone:s3cret-basic-pw"), 401),
    "no-colon": (basic("s360-webhook"), 401),
    "not-base64": ({"Authorization": "Basic !!not-base64!!"}, 401),
    "bearer-scheme": ({"Authorization": "Bearer s3cret-basic-pw"}, 401),
    "password-in-another-header": ({"x-api-key": "s3cret-basic-pw"}, 401),
    "right": (basic("s360-webhook:s3cret-basic-pw"), 200),
    "lower-case-header-name": ({"authorization": basic("s360-webhook:s3cret-basic-pw")["Authorization"]}, 200),
}


def test_basic_auth(make_client: Any) -> None:
    client = make_client(s360=section(AUTHS["BASIC_AUTH"]))
    for name, (headers, status) in BASIC_CASES.items():
        answer = client.post(PATH, data=encode_json(products(2)), headers={**JSON, **headers})
        assert answer.status_code == status, name
        if status == 401:
            assert answer.headers["WWW-Authenticate"] == 'Basic realm="S-360 inventory webhook"', name
            assert answer.get_json()["error"]["problems"][0]["path"] == ["headers", "Authorization"], name
            assert len(product_ids(client)) == 0, name


# Hand-built requests to an interface set up with API_KEY: (header name configured, headers sent, status).
API_KEY_CASES = {
    "no-header": ("-x-api-key", {}, 401),
    "wrong-key": ("-x-api-key", {"-x-api-key": "wrong"}, 401),
    "other-name": ("-x-api-key", {"x-api-key-2": "s3cret-api-key"}, 401),
    "key-in-authorization": ("-x-api-key", {"Authorization": "s3cret-api-key"}, 401),
    "as-configured": ("-x-api-key", {"-x-api-key": "s3cret-api-key"}, 200),
    "upper-case-name": ("-x-api-key", {"-X-API-KEY": "s3cret-api-key"}, 200),
    "without-the-stray-hyphen": ("-x-api-key", {"x-api-key": "s3cret-api-key"}, 200),
    "with-a-hyphen-not-configured": ("x-api-key", {"-x-api-key": "s3cret-api-key"}, 200),
    "any-name": ("X-Ticketing-Key", {"x-ticketing-key": "s3cret-api-key"}, 200),
}


@pytest.mark.parametrize("configured", sorted({configured for configured, _, _ in API_KEY_CASES.values()}))
def test_api_key(make_client: Any, configured: str) -> None:
    client = make_client(s360=section(Auth(AuthMode.API_KEY, configured, "s3cret-api-key")))
    for name, (header, headers, status) in API_KEY_CASES.items():
        if header != configured:
            continue
        answer = client.post(PATH, data=encode_json(products(2)), headers={**JSON, **headers})
        assert answer.status_code == status, name
        if status == 401:
            error = answer.get_json()["error"]
            assert error["problems"][0]["path"] == ["headers", configured], name
            assert "s3cret-api-key" not in json.dumps(error), name
            assert product_ids(client) == [], name


def test_auth_none_accepts_anyone_and_says_so_at_start_up(make_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="inventory_push_kit.receiver.channels.s360"):
        client = make_client()
    assert any("auth = NONE" in record.getMessage() for record in caplog.records)
    assert send(client, products(2), {"Authorization": "Basic bm9ib2R5Og=="}).status_code == 200


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"auth": "BASIC"}, "auth must be one of ['NONE', 'BASIC_AUTH', 'API_KEY']"),
        ({"auth": "BASIC_AUTH", "login": "a"}, "needs login and password"),
        ({"auth": "API_KEY", "password": "k"}, "needs login and password"),
        ({"auth": "BASIC_AUTH", "login": "a:b", "password": "p"}, "cannot contain ':'"),
        ({"auth": "API_KEY", "login": "x_api_key", "password": "k"}, "cannot be"),
        ({"auth": "API_KEY", "login": "x api key", "password": "k"}, "cannot be"),
        ({"path": "s360"}, "[s360] path must start with '/'"),
        ({"max_body_bytes": 10}, "[s360] max_body_bytes"),
    ],
)
def test_bad_s360_configuration_is_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_mapping({"s360": {"enabled": True, **values}})
    assert message in str(caught.value)


def test_the_password_comes_from_the_environment_and_ismasked(tmp_path: Path) -> None:
    path = tmp_path / "receiver.toml"
    path.write_text('[s360]\nenabled = true\nauth = "API_KEY"\nlogin = "x-api-key"\n')
    config = load_config(path, {"RECEIVER_S360_PASSWORD": "from-env-key"})
    assert config.s360.password == "from-env-key"
    shown = masked(config)["s360"]
    assert shown["password"] == "***" and shown["login"] == "x-api-key"


def test_the_example_configuration_documents_the_defaults() -> None:
    example = load_config(Path(s360.__file__).parents[1] / "example.toml").s360
    assert example == type(example)()
    pretty = json.dumps(products(100, seed=4), indent=4, ensure_ascii=False).encode()  # as the document prints
    assert example.max_body_bytes >= 10 * len(pretty)  # P = 1000 products


# --- what the simulator sends ---------------------------------------------------------------------------

# Where the 422 answer must point when a case breaks the product at ``index`` (the cases that break no
# product in particular have the path []).
PROBLEM_PATHS: dict[str, Callable[[int], list[Any]]] = {
    "not-an-array": lambda index: [], "item-not-an-object": lambda index: [index],
    **{name: lambda index, key=key: [index, key] for name, key in (
        ("id-missing", "id"), ("id-not-an-integer", "id"), ("id-is-a-float", "id"), ("id-is-boolean", "id"),
        ("id-out-of-64-bit-range", "id"), ("code-missing", "code"), ("code-not-a-string", "code"))},
    # the first carries the second's id, a later one the first's: the second of the two is the duplicate
    "duplicate-id-in-batch": lambda index: [max(index, 1), "id"],
}


@pytest.mark.parametrize("mode", sorted(AUTHS))
def test_every_malformation_gets_its_status_and_nothing_is_applied(make_client: Any, mode: str) -> None:
    auth = AUTHS[mode]
    client = make_client(s360=section(auth, max_body_bytes=LIMIT))
    context = S360CaseContext(products(5), auth, max_body_bytes=LIMIT)
    sent = []
    for case in MALFORMATIONS.applicable(context):
        requests = case.build(context)
        at = context.positions() if len(requests) == 3 else (0,) * len(requests)
        for index, request in zip(at, requests, strict=True):
            answer = send_request(client, request)
            assert case.expect.accepts(answer.status_code), (case.name, index, answer.status_code, answer.get_json())
            error = answer.get_json()["error"]
            assert error["status"] == answer.status_code, case.name
            if case.name in PROBLEM_PATHS:
                paths = [p["path"] for p in error["problems"]]
                assert PROBLEM_PATHS[case.name](index) in paths, (case.name, index, error)
            sent.append(case.name)
    assert {"not-json", "wrong-content-type", "oversize-batch", "duplicate-id-in-batch"} <= set(sent)
    assert product_ids(client) == []
    assert {d["outcome"] for d in deliveries(client)} == {"rejected"}
    assert len(deliveries(client)) == len(sent)


@pytest.mark.parametrize("mode", sorted(AUTHS))
def test_every_good_case_is_200(make_client: Any, mode: str) -> None:
    auth = AUTHS[mode]
    client = make_client(s360=section(auth))
    context = S360CaseContext(products(3), auth, batch_size=40)
    for case, request in cases_for(GOOD_CASES, context):
        answer = send_request(client, request)
        assert answer.status_code == 200, (case.name, answer.get_json())
    assert EXAMPLE_ID in product_ids(client) and MAX_ID in product_ids(client)


def test_the_fixture_files_get_the_status_cases_json_gives(make_client: Any) -> None:
    client = make_client()
    for name, case in fixtures.cases("s360").items():
        answer = send(client, fixtures.raw("s360", name))
        assert answer.status_code == case["status"], (name, answer.get_json())
    # minimal-products, then unknown-fields-kept with the same ids: the extra fields are a change, kept.
    held = product(client, 10228321400117).get_json()
    assert held["document"] == fixtures.load("s360", "unknown-fields-kept")[0]
    assert held["document"]["seoMetadata"]["keywords"] == ["cinéma"]
    assert held["lastChangedDelivery"] > held["firstSeenDelivery"]


def test_unknown_fields_are_kept(make_client: Any) -> None:
    client = make_client()
    document = {"id": 42, "code": "2026ZZAA", "salesChannelIds": [101, 102], "nested": {"deep": [None, 1.5]}}
    assert send(client, [document]).status_code == 200
    assert product(client, 42).get_json()["document"] == document


# --- validation, exactly ------------------------------------------------------------------------------


def test_every_problem_is_listed_by_index_and_field_and_nothing_is_applied(make_client: Any) -> None:
    client = make_client()
    batch = [
        {"id": 1, "code": "2026AAAA", "state": "RUNNING"},
        {"id": "2", "code": "2026BBBB"},
        {"code": "2026CCCC"},
        {"id": 4, "code": 4},
        "2026EEEE",
        {"id": 6, "code": "", "state": 6},
        {"id": 1, "code": "2026GGGG"},
        {"id": 2**63, "code": "2026HHHH"},
        {"id": -(2**63) - 1, "code": None},
    ]
    answer = send(client, batch)
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    problems = [(p["path"], p["message"].split(":")[0]) for p in error["problems"]]
    assert problems == [
        ([1, "id"], "Not an integer"),
        ([2, "id"], "Missing"),
        ([3, "code"], "Not a string"),
        ([4], "Not an object"),
        ([5, "code"], "Empty"),
        ([5, "state"], "Not a string (or null)."),
        ([6, "id"], "Duplicate"),
        ([7, "id"], "Out of range"),
        ([8, "id"], "Out of range"),
        ([8, "code"], "Null"),
    ]
    assert "10 problem(s); nothing was applied" in error["message"]
    assert product_ids(client) == []  # not even the good first product


def test_a_duplicate_id_names_both_items(make_client: Any) -> None:
    batch = products(3)
    batch[2]["id"] = batch[0]["id"]
    answer = send(make_client(), batch)
    assert answer.status_code == 422
    (problem,) = answer.get_json()["error"]["problems"]
    assert problem["path"] == [2, "id"] and "also item 0" in problem["message"]


@pytest.mark.parametrize(
    ("document", "message"),
    [({"id": 1, "code": "A"}, "Not an array"), ([], None), ([[]], "Not an object"), ("[]", "Not an array")],
    ids=["object", "empty-array", "nested-array", "string"],
)
def test_the_body_is_an_array_of_objects(make_client: Any, document: Any, message: str | None) -> None:
    answer = send(make_client(), document)
    if message is None:
        assert answer.status_code == 200
        assert answer.get_json()["products"] == {"received": 0, "new": 0, "changed": 0, "unchanged": 0}
    else:
        assert answer.status_code == 422
        assert answer.get_json()["error"]["problems"][0]["message"].startswith(message)


def test_the_largest_and_smallest_64_bit_ids_are_stored_exactly(make_client: Any) -> None:
    client = make_client()
    smallest = -(2**63)
    batch = [dict(products(1)[0], id=MAX_ID), {"id": smallest, "code": "2026MINI"}]
    assert send(client, batch).status_code == 200
    held = product(client, MAX_ID)
    assert held.status_code == 200
    assert b'"id":9223372036854775807' in held.data.replace(b" ", b"")  # an exact JSON integer, no float
    assert held.get_json()["id"] == MAX_ID and held.get_json()["document"]["id"] == MAX_ID
    assert product(client, smallest).get_json()["document"] == {"id": smallest, "code": "2026MINI"}
    assert product_ids(client) == [smallest, MAX_ID]
    again = send(client, batch).get_json()
    assert changes(client, again["delivery"])["unchanged"] == [smallest, MAX_ID]


def test_not_json_is_400_saying_where_it_breaks(make_client: Any) -> None:
    client = make_client()
    answer = send(client, b'[{"id": 1, "code": "A"},')
    assert answer.status_code == 400
    assert "line 1, column" in answer.get_json()["error"]["message"]
    nan = send(client, b'[{"id": 1, "code": "A", "price": NaN}]')
    assert nan.status_code == 400 and "NaN" in nan.get_json()["error"]["message"]
    assert product_ids(client) == []


def test_a_non_json_content_type_is_415_and_no_content_type_is_json(make_client: Any) -> None:
    client = make_client()
    assert send(client, products(1), {"Content-Type": "text/plain"}).status_code == 415
    assert product_ids(client) == []
    assert client.post(PATH, data=encode_json(products(1))).status_code == 200


def test_a_body_over_the_limit_is_413_from_its_content_length(make_client: Any) -> None:
    client = make_client(s360={"max_body_bytes": 20_000})
    data = encode_json(products(3))
    assert len(data) > 20_000
    answer = send(client, data)
    assert answer.status_code == 413 and "20000" in answer.get_json()["error"]["message"]
    assert not deliveries(client)[0]["body_kept"]  # refused, never read
    assert product_ids(client) == []


# --- new, changed, unchanged --------------------------------------------------------------------------


def test_a_reposted_batch_answers_200_and_changes_nothing(make_client: Any) -> None:
    client = make_client()
    body = encode_json(products(5))
    first = send(client, body).get_json()
    before = {i: product(client, i).get_json() for i in product_ids(client)}
    again = send(client, body)
    assert again.status_code == 200
    receipt = again.get_json()
    assert receipt["products"] == {"received": 5, "new": 0, "changed": 0, "unchanged": 5}
    summary = changes(client, receipt["delivery"])
    assert (summary["new"], summary["changed"], summary["unchanged"]) == ([], [], sorted(before))
    for product_id, old in before.items():
        now = product(client, product_id).get_json()
        assert now["lastChangedDelivery"] == old["lastChangedDelivery"] == first["delivery"]
        assert now["contentSha256"] == old["contentSha256"] and now["document"] == old["document"]
        assert now["lastSeenDelivery"] == receipt["delivery"]


def test_the_changes_reported_are_exactly_those_the_platform_made_between_runs(make_client: Any) -> None:
    client = make_client()
    generator = ProductGenerator(seed=7, size=30)
    first = send(client, generator.inventory()).get_json()
    assert first["products"] == {"received": 30, "new": 30, "changed": 0, "unchanged": 0}
    everyone = sorted(p["id"] for p in generator.inventory())
    assert changes(client, first["delivery"])["new"] == everyone
    extra = products(1, seed=99, first_id=MAX_ID - 10**9)[0]  # a product published from the third run on
    for run in range(2, 6):
        changed = sorted(generator.next_run(0.2))
        batch = generator.inventory() + ([extra] if run >= 3 else [])
        receipt = send(client, batch).get_json()
        summary = changes(client, receipt["delivery"])
        assert summary["changed"] == changed, run
        assert summary["new"] == ([extra["id"]] if run == 3 else []), run
        assert summary["unchanged"] == sorted(set(everyone) - set(changed)) + ([extra["id"]] if run > 3 else [])
        assert summary["counts"] == receipt["products"]
        for product_id in changed:
            held = product(client, product_id).get_json()
            assert held["lastChangedDelivery"] == receipt["delivery"], run
            assert held["document"] == next(p for p in generator.inventory() if p["id"] == product_id)


def test_the_platforms_batches_and_changes_through_the_https_server(store_url: str, tmp_path: Path) -> None:
    auth = AUTHS["API_KEY"]
    config = {"storage": {"url": store_url}, "api": {"token": API_TOKEN}, "stock": {"enabled": False},
              "s360": section(auth)}
    generator = ProductGenerator(seed=3, size=23)
    with running_receiver(config, tmp_path, tls=make_tls(tmp_path / "tls")) as receiver, S360Platform(
        f"{receiver.url}{PATH}", auth=auth, batch_size=7, clock=FakeClock(), ca_bundle=str(receiver.ca),
    ) as platform:
        first = platform.run(generator.inventory())
        changed = generator.next_run(0.25)
        second = platform.run(generator.inventory())

        def get(path: str) -> Any:
            return requests.get(f"{receiver.url}/api{path}", headers=READ, verify=str(receiver.ca), timeout=30).json()

        logged = get("/deliveries?channel=s360&limit=100")["items"][::-1]
        reported = [i for d in logged[4:] for i in get(f"/s360/deliveries/{d['id']}/changes")["changed"]]
    assert [len(batch.attempts) for batch in first.batches + second.batches] == [1] * 8  # 200 at once
    assert [d["counts"]["received"] for d in logged] == [7, 7, 7, 2] * 2
    assert sum(d["counts"]["new"] for d in logged[:4]) == 23
    assert sum(d["counts"]["changed"] for d in logged[4:]) == len(changed)
    assert sorted(reported) == sorted(changed)
    assert "Traceback" not in receiver.log_text() and auth.password not in receiver.log_text()


@pytest.mark.parametrize(("mode", "store_url"), [("NONE", "sqlite"), ("API_KEY", "postgresql")],
                         indirect=["store_url"])
def test_the_s360_contract_passes_in_the_other_authentication_modes(mode: str, store_url: str,
                                                                    tmp_path: Path) -> None:
    """Basic auth is what the whole-contract and the contract-power tests run; here NONE, and API_KEY under
    the document's own header name ``-x-api-key`` (the contract's case also sends ``x-api-key``)."""
    auth = AUTHS[mode]
    config = {"storage": {"url": store_url}, "api": {"token": API_TOKEN}, "stock": {"enabled": False},
              "s360": section(auth)}
    cli_auth = "none" if mode == "NONE" else f"api-key:{auth.login}:{auth.password}"
    with running_receiver(config, tmp_path, tls=make_tls(tmp_path / "tls")) as receiver:
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "--pyargs", "inventory_push_kit.contract_tests", "-p", "no:cacheprovider",
             "-q",
             "--receiver-url", receiver.url, "--ca-bundle", str(receiver.ca), "--channels", "s360",
             "--s360-path", PATH, "--s360-auth", cli_auth, "--state-probe", f"{receiver.url}/api",
             "--state-probe-header", f"Authorization: Bearer {API_TOKEN}"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
    assert "Traceback" not in receiver.log_text() and (not auth.password or auth.password not in receiver.log_text())


def test_concurrent_deliveries_of_the_same_new_products_call_each_new_once(store_url: str) -> None:
    config = receiver_config(store_url)
    store = Store(config.storage_url)
    store.create_schema()
    app = create_app(config, store=store)
    body = encode_json(products(20, seed=5))
    try:
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: send(app.test_client(), body), range(12)))
        assert [a.status_code for a in answers] == [200] * 12
        counts = [a.get_json()["products"] for a in answers]
        assert sum(c["new"] for c in counts) == 20
        assert sum(c["unchanged"] for c in counts) == 20 * 11
        assert sorted(c["new"] for c in counts) == [0] * 11 + [20]  # one delivery saw them first
    finally:
        store.dispose()


# --- the read API --------------------------------------------------------------------------------------


def test_products_page_and_filter_by_state(make_client: Any) -> None:
    client = make_client()
    batch = [{"id": i, "code": f"2026{i:04d}", "state": "RUNNING" if i % 2 else "CLOSED"} for i in range(1, 8)]
    send(client, batch)
    page = client.get("/api/s360/products?limit=3", headers=READ).get_json()
    assert [p["id"] for p in page["items"]] == [1, 2, 3] and page["next_after"] == 3
    assert "document" not in page["items"][0]
    rest = client.get("/api/s360/products?limit=10&after=3", headers=READ).get_json()
    assert [p["id"] for p in rest["items"]] == [4, 5, 6, 7] and rest["next_after"] is None
    running = client.get("/api/s360/products?state=RUNNING", headers=READ).get_json()["items"]
    assert [p["id"] for p in running] == [1, 3, 5, 7]
    for query in ("limit=0", "limit=x", "after=1.5", f"after={2**63}"):
        assert client.get(f"/api/s360/products?{query}", headers=READ).status_code == 400, query


def test_a_deliverys_changes_page(make_client: Any) -> None:
    client = make_client()
    batch = [{"id": i, "code": f"2026{i:04d}"} for i in range(1, 6)]
    send(client, batch)
    batch[1]["code"] = "2026XXXX"
    delivery = send(client, batch).get_json()["delivery"]
    page = changes(client, delivery, "?limit=2")
    assert (page["changed"], page["unchanged"], page["next_after"]) == ([2], [1], 2)
    rest = changes(client, delivery, "?limit=10&after=2")
    assert (rest["new"], rest["changed"], rest["unchanged"], rest["next_after"]) == ([], [], [3, 4, 5], None)
    assert rest["counts"] == {"received": 5, "new": 0, "changed": 1, "unchanged": 4}


def test_unknown_products_and_deliveries_are_404(make_client: Any) -> None:
    client = make_client()
    send(client, [{"id": 1, "code": "2026AAAA"}])
    assert product(client, 2).status_code == 404
    assert product(client, 2**64).status_code == 404
    assert product(client, -1).get_json()["error"]["status"] == 404
    assert client.get("/api/s360/deliveries/999/changes", headers=READ).status_code == 404
    client.post("/stock-push", data=b"{}", headers=JSON)  # a stock delivery is not an S-360 one
    stock_delivery = client.get("/api/deliveries?channel=stock", headers=READ).get_json()["items"][0]["id"]
    assert client.get(f"/api/s360/deliveries/{stock_delivery}/changes", headers=READ).status_code == 404
    assert client.get("/api/s360/products/1").status_code == 401  # the read API needs its token


# --- storage failure and re-applying ----------------------------------------------------------------------


def _storage_that_disappears(store_url: str, tmp_path: Path) -> tuple[str, Callable[[], None]]:
    """A storage URL of its own, and how to make it vanish under a running app."""
    if store_url.startswith("sqlite"):
        folder = tmp_path / "vanishing"
        return f"sqlite:///{folder / 'receiver.db'}", lambda: shutil.rmtree(folder)
    base = sa.make_url(store_url.split("?")[0])
    name = f"s360_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def test_a_storage_failure_is_500_with_json_and_never_200(store_url: str, tmp_path: Path) -> None:
    url, vanish = _storage_that_disappears(store_url, tmp_path)
    config = receiver_config(url)
    store = Store(url)
    store.create_schema()
    client = create_app(config, store=store).test_client()
    assert send(client, products(1)).status_code == 200
    store.dispose()
    vanish()
    answer = send(client, products(2, seed=8))
    assert answer.status_code == 500
    error = answer.get_json()["error"]
    assert error["status"] == 500 and error["message"].startswith("storage unavailable")
    store.dispose()


def test_a_rejected_body_can_be_reapplied_after_a_fix(make_client: Any, store_url: str) -> None:
    client = make_client()
    body = encode_json(products(4, seed=6))
    assert send(client, body, {"Content-Type": "text/plain"}).status_code == 415
    rejected = deliveries(client)[0]
    assert rejected["body_kept"]
    kept = client.get(f"/api/deliveries/{rejected['id']}/body", headers=READ).data
    config = receiver_config(store_url)
    store = Store(config.storage_url)
    try:
        result = s360.receive(store, config.s360, kept, content_type="text/plain",
                              reason=f"re-applied from delivery {rejected['id']}").to_json()
        assert result["outcome"] == "accepted" and result["products"]["new"] == 4
        again = s360.receive(store, config.s360, kept, content_type="text/plain", reason="again").to_json()
        assert again["products"]["unchanged"] == 4
    finally:
        store.dispose()
    assert len(product_ids(client)) == 4
    assert deliveries(client)[1]["reason"] == f"re-applied from delivery {rejected['id']}"


def test_an_accepted_batch_keeps_its_headers_the_password_masked(make_client: Any, store_url: str) -> None:
    auth = AUTHS["BASIC_AUTH"]
    client = make_client(s360=section(auth))
    answer = send(client, fixtures.raw("s360", "document-example"), auth=auth)
    assert answer.status_code == 200, answer.get_json()
    shown = recorded_headers(store_url, answer.get_json()["delivery"])
    assert shown["Authorization"] == "Basic *** (masked)" and shown["Content-Type"] == "application/json"

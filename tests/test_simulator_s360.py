"""The S-360 simulator: credentials, the product catalogue, batching and re-posts, the named cases, the
fixtures and the CLI. Receivers are mocked with ``responses``; the platform's clock is a FakeClock."""

from __future__ import annotations

import argparse
import base64
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from inventory_push_kit import fixtures
from inventory_push_kit.simulator import s360
from inventory_push_kit.simulator.s360 import (
    GOOD_CASES,
    MALFORMATIONS,
    Auth,
    AuthMode,
    CompressedClock,
    FakeClock,
    ProductGenerator,
    S360CaseContext,
    S360Platform,
    cases_for,
    run_scenario,
)

URL = "https://receiver.test/s360/inventory"
SPECS = Path(__file__).resolve().parents[1] / "docs" / "platforms"
BASIC = Auth(AuthMode.BASIC_AUTH, "s360", "pa:ss")
API_KEY = Auth(AuthMode.API_KEY, "-x-api-key", "k3y")  # the document's own header name, stray hyphen included


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    """The receiver: queue its answers in order; the last one repeats."""
    with responses.RequestsMock() as receiver:
        yield receiver


def platform(**options: Any) -> S360Platform:
    options.setdefault("auth", Auth())
    options.setdefault("clock", FakeClock())
    return S360Platform(URL, **options)


def products(count: int) -> list[dict[str, Any]]:
    return [{"id": 10228321399304 + n, "code": f"T{n:07d}"} for n in range(count)]


def sent_batches(mock: responses.RequestsMock) -> list[list[dict[str, Any]]]:
    return [json.loads(call.request.body) for call in mock.calls]


def shape(value: Any) -> Any:
    """The keys and nesting of a JSON document, without its values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        shapes = [shape(item) for item in value]
        return [s for i, s in enumerate(shapes) if s not in shapes[:i]]
    return None


# -------------------------------------------------------------------------------------------- auth


def test_basic_auth_header_is_base64_of_login_colon_password() -> None:
    header = BASIC.headers()["Authorization"]
    assert header.startswith("Basic ")
    assert base64.b64decode(header.removeprefix("Basic ")) == b"s360:pa:ss"


def test_api_key_is_sent_under_the_header_named_by_the_login_field() -> None:
    assert API_KEY.headers() == {"-x-api-key": "k3y"}


def test_none_sends_no_credentials() -> None:
    assert Auth().headers() == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("none", Auth()),
        ("NONE", Auth()),
        ("basic:s360:pa:ss", BASIC),  # the password may contain ':'
        ("BASIC_AUTH:s360:pa:ss", BASIC),
        ("api-key:-x-api-key:k3y", API_KEY),
        ("api_key:-x-api-key:k3y", API_KEY),
        ("basic-auth:s360:pa:ss", BASIC),  # as the contract suite's failures print the command
    ],
)
def test_auth_parses_cli_forms(text: str, expected: Auth) -> None:
    parsed = Auth.parse(text)
    assert (parsed, parsed.password) == (expected, expected.password)


@pytest.mark.parametrize("text", ["token:a:b", "basic:only-login", "none:x", "api-key:x-api-key:", "basic::pw"])
def test_auth_rejects_malformed_cli_forms(text: str) -> None:
    with pytest.raises(ValueError):
        Auth.parse(text)


def test_auth_never_shows_the_secret() -> None:
    assert "pa:ss" not in repr(BASIC)
    assert "pa:ss" not in BASIC.describe()


# ------------------------------------------------------------------------------------------ catalogue


def test_same_seed_gives_identical_inventories_and_changes() -> None:
    first, second = ProductGenerator(7, 40), ProductGenerator(7, 40)
    assert first.inventory() == second.inventory()
    assert first.next_run(0.2) == second.next_run(0.2)
    assert first.inventory() == second.inventory()
    assert ProductGenerator(8, 40).inventory() != first.inventory()


def test_products_have_the_document_examples_keys_and_nesting() -> None:
    example = s360.document_example()[0]
    for product in ProductGenerator(3, 30).inventory():
        assert shape(product) == shape(example)


def test_products_are_realistic_and_identified() -> None:
    inventory = ProductGenerator(1, 200).inventory()
    ids = [product["id"] for product in inventory]
    codes = [product["code"] for product in inventory]
    assert len(set(ids)) == len(ids) and len(set(codes)) == len(codes)
    assert all(type(i) is int and 10**12 < i < 2**63 for i in ids)
    assert all(isinstance(code, str) and len(code) == 8 for code in codes)
    assert {len(product["externalName"]["translations"]) for product in inventory} == {10}
    assert len({product["state"] for product in inventory}) > 1  # "whatever the state of the product"
    prices = [price["amount"] for product in inventory for performance in product["event"]["performances"]
              for price in performance["prices"]]
    assert prices and all(type(amount) is int and amount > 0 for amount in prices)
    assert max(len(product["event"]["performances"]) for product in inventory) > 1


def test_next_run_changes_exactly_the_products_it_names() -> None:
    generator = ProductGenerator(2, 50)
    before = {product["id"]: product for product in generator.inventory()}
    changed = generator.next_run(0.1)
    after = {product["id"]: product for product in generator.inventory()}
    assert len(changed) == 5
    assert after.keys() == before.keys()
    assert {i for i in before if before[i] != after[i]} == set(changed)


def test_inventory_is_a_copy() -> None:
    generator = ProductGenerator(0, 3)
    generator.inventory()[0]["state"] = "TAMPERED"
    assert generator.inventory()[0]["state"] != "TAMPERED"


# ---------------------------------------------------------------------------------------- delivery


def test_a_200_delivers_the_batch_in_one_post_as_a_json_array(mock: responses.RequestsMock) -> None:
    mock.post(URL, status=200)
    clock = FakeClock()
    report = platform(clock=clock).run(products(3))
    assert len(mock.calls) == 1
    assert mock.calls[0].request.headers["Content-Type"] == "application/json"
    assert sent_batches(mock) == [products(3)]
    assert clock.sleeps == []
    assert report.batches[0].delivered and report.requests == 1


def test_failures_are_reposted_every_m_minutes_until_200(mock: responses.RequestsMock) -> None:
    clock = FakeClock(start=1000.0)
    mock.post(URL, status=500)
    mock.post(URL, status=503)
    mock.post(URL, status=200)
    report = platform(clock=clock, interval_minutes=15).run(products(2))
    assert len(mock.calls) == 3
    assert clock.sleeps == [900.0, 900.0]
    batch = report.batches[0]
    assert [attempt.status for attempt in batch.attempts] == [500, 503, 200]
    assert [attempt.at for attempt in batch.attempts] == [1000.0, 1900.0, 2800.0]
    assert batch.delivered


@pytest.mark.parametrize("status", [201, 202, 204])
def test_any_2xx_but_200_is_a_failure(status: int, mock: responses.RequestsMock) -> None:
    clock = FakeClock()
    mock.post(URL, status=status)
    mock.post(URL, status=200)
    report = platform(clock=clock, interval_minutes=1).run(products(1))
    assert len(mock.calls) == 2
    assert clock.sleeps == [60.0]
    assert [attempt.status for attempt in report.batches[0].attempts] == [status, 200]


def test_a_batch_is_abandoned_after_one_post_and_n_reposts_and_the_next_batch_still_goes_out(
    mock: responses.RequestsMock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    for _ in range(4):
        mock.post(URL, status=500)
    mock.post(URL, status=200)
    with caplog.at_level(logging.WARNING, logger="inventory_push_kit.simulator.s360"):
        report = platform(clock=clock, batch_size=2, max_reposts=3).run(products(3))
    assert len(mock.calls) == 5  # 1 + N for the first batch, then the second batch
    assert clock.sleeps == [900.0] * 3  # no wait after giving up
    first, second = report.batches
    assert first.abandoned and len(first.attempts) == 4
    assert second.delivered and second.products == 1
    assert [batch["id"] for batch in sent_batches(mock)[-1]] == [products(3)[2]["id"]]
    assert report.abandoned == [first]
    assert any("abandoned after 4 attempts" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)


def test_every_repost_sends_byte_identical_bodies(mock: responses.RequestsMock) -> None:
    inventory = ProductGenerator(0, 4).inventory()
    mock.post(URL, status=502)
    platform(max_reposts=5).run(inventory)
    bodies = {call.request.body for call in mock.calls}
    assert len(mock.calls) == 6 and len(bodies) == 1
    assert json.loads(bodies.pop()) == inventory


def test_a_connection_error_counts_as_a_failure(mock: responses.RequestsMock) -> None:
    mock.post(URL, body=requests.ConnectionError("refused"))
    mock.post(URL, status=200)
    report = platform().run(products(1))
    first, second = report.batches[0].attempts
    assert first.status is None and "refused" in (first.error or "")
    assert second.delivered


def test_batches_never_exceed_p_and_keep_every_product_in_order(mock: responses.RequestsMock) -> None:
    inventory = products(25)
    mock.post(URL, status=200)
    report = platform(batch_size=10).run(inventory)
    batches = sent_batches(mock)
    assert [len(batch) for batch in batches] == [10, 10, 5]
    assert [product for batch in batches for product in batch] == inventory
    assert [batch.index for batch in report.batches] == [0, 1, 2]


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        (BASIC, "Authorization", "Basic " + base64.b64encode(b"s360:pa:ss").decode()),
        (API_KEY, "-x-api-key", "k3y"),
        (Auth(AuthMode.API_KEY, "x-api-key", "k3y"), "x-api-key", "k3y"),
    ],
)
def test_every_post_carries_the_interfaces_credentials(
    mock: responses.RequestsMock, auth: Auth, header: str, value: str
) -> None:
    mock.post(URL, status=500)
    mock.post(URL, status=200)
    platform(auth=auth).run(products(1))
    assert [call.request.headers[header] for call in mock.calls] == [value, value]


def test_no_auth_sends_no_credentials(mock: responses.RequestsMock) -> None:
    mock.post(URL, status=200)
    platform().run(products(1))
    assert "Authorization" not in mock.calls[0].request.headers


def test_scheduled_mode_waits_m_minutes_between_runs_and_sends_the_changes(mock: responses.RequestsMock) -> None:
    clock = FakeClock()
    generator = ProductGenerator(5, 20)
    mock.post(URL, status=200)
    reports = platform(clock=clock, interval_minutes=30).run_every(generator, runs=3)
    assert clock.sleeps == [1800.0, 1800.0]
    assert len(mock.calls) == 3 and [len(batch) for batch in sent_batches(mock)] == [20, 20, 20]
    first, second, _ = sent_batches(mock)
    assert first != second
    assert [report.batches[0].run for report in reports] == [1, 2, 3]


@pytest.mark.parametrize("options", [{"interval_minutes": 0.5}, {"interval_minutes": 1441}, {"batch_size": 0},
                                     {"max_reposts": -1}])
def test_settings_the_back_office_refuses_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        platform(**options)


def test_compressed_clock_makes_minutes_pass_faster() -> None:
    clock = CompressedClock(speed=10_000)
    started, real = clock.now(), time.monotonic()
    clock.sleep(500)  # 50 ms of real time
    assert time.monotonic() - real < 1
    assert 500 <= clock.now() - started < 20_000


# ------------------------------------------------------------------------------------------- cases

CASE_PRODUCTS = fixtures.load("s360", "minimal-products")


NO_AUTH = Auth()


def context(auth: Auth = NO_AUTH, **options: Any) -> S360CaseContext:
    return S360CaseContext(CASE_PRODUCTS, auth, **options)


def built_all(name: str, ctx: S360CaseContext | None = None) -> tuple[Any, ...]:
    registry = GOOD_CASES if name in GOOD_CASES.names() else MALFORMATIONS
    ctx = ctx or context()
    assert registry[name].applies(ctx)
    return registry[name].build(ctx)


def built(name: str, ctx: S360CaseContext | None = None) -> Any:
    """The first request of a case (the only one, but for the cases that break a product at each position)."""
    return built_all(name, ctx)[0]


PRODUCT_CASES = {"item-not-an-object", "id-missing", "id-not-an-integer", "id-is-a-float", "id-is-boolean",
                 "id-out-of-64-bit-range", "code-missing", "code-not-a-string", "duplicate-id-in-batch"}


def test_the_registries_hold_the_documented_cases() -> None:
    assert set(MALFORMATIONS.names()) == {
        "not-json", "wrong-content-type", "not-an-array", "item-not-an-object", "id-missing",
        "id-not-an-integer", "id-is-a-float", "id-is-boolean", "id-out-of-64-bit-range", "code-missing",
        "code-not-a-string", "duplicate-id-in-batch", "oversize-batch", "basic-missing", "basic-wrong-password",
        "basic-wrong-login", "api-key-missing", "api-key-wrong-key", "api-key-other-header-name",
    }
    assert set(GOOD_CASES.names()) == {
        "document-example", "repost-of-same-batch", "full-batch", "products-in-every-state", "minimal-products",
        "id-and-code-only", "unknown-fields-kept", "empty-batch", "json-with-charset", "id-largest-64-bit",
        "id-smallest-64-bit", "api-key-stray-hyphen",
    }
    assert all(case.expect.statuses == (200,) for case in GOOD_CASES)
    assert all(case.expect.level == "SHOULD" and 200 not in case.expect.statuses for case in MALFORMATIONS)


@pytest.mark.parametrize(
    ("auth", "auth_cases"),
    [
        (Auth(), set()),
        (BASIC, {"basic-missing", "basic-wrong-password", "basic-wrong-login"}),
        (API_KEY, {"api-key-missing", "api-key-wrong-key", "api-key-other-header-name"}),
    ],
)
def test_auth_cases_apply_only_to_their_mode(auth: Auth, auth_cases: set[str]) -> None:
    names = {case.name for case, _ in cases_for(MALFORMATIONS, context(auth, max_body_bytes=20_000))}
    all_auth = {name for name in MALFORMATIONS.names() if name.startswith(("basic-", "api-key-"))}
    assert names & all_auth == auth_cases


def test_auth_cases_break_only_the_credentials() -> None:
    def basic(request: Any) -> str:
        return base64.b64decode(request.headers["Authorization"].removeprefix("Basic ")).decode()

    assert "Authorization" not in built("basic-missing", context(BASIC)).headers
    assert basic(built("basic-wrong-password", context(BASIC))) == "s360:pa:ss-wrong"
    assert basic(built("basic-wrong-login", context(BASIC))) == "s360-wrong:pa:ss"
    assert "-x-api-key" not in built("api-key-missing", context(API_KEY)).headers
    assert built("api-key-wrong-key", context(API_KEY)).headers["-x-api-key"] != "k3y"
    other = built("api-key-other-header-name", context(API_KEY)).headers
    assert "-x-api-key" not in other and "k3y" in other.values()
    for name in ("basic-missing", "basic-wrong-password", "basic-wrong-login"):
        assert json.loads(built(name, context(BASIC)).body) == CASE_PRODUCTS


def test_every_case_but_the_auth_ones_carries_the_right_credentials() -> None:
    ctx = context(API_KEY, max_body_bytes=20_000, batch_size=5)
    types = {"wrong-content-type": "text/plain; charset=utf-8", "json-with-charset": "application/json; charset=UTF-8"}
    for case, request in [*cases_for(GOOD_CASES, ctx), *cases_for(MALFORMATIONS, ctx)]:
        if not case.name.startswith("api-key-"):
            assert request.headers["-x-api-key"] == "k3y", case.name
        assert request.headers["Content-Type"] == types.get(case.name, "application/json"), case.name


def test_the_key_header_with_its_stray_hyphen_toggled() -> None:
    assert built("api-key-stray-hyphen", context(API_KEY)).headers == {"Content-Type": "application/json",
                                                                       "x-api-key": "k3y"}
    plain = Auth(AuthMode.API_KEY, "x-api-key", "k3y")
    assert built("api-key-stray-hyphen", context(plain)).headers["-x-api-key"] == "k3y"
    assert not GOOD_CASES["api-key-stray-hyphen"].applies(context(BASIC))


def test_id_malformations_break_exactly_the_id() -> None:
    assert b'"id":10228321400117.0' in built("id-is-a-float").body
    assert [json.loads(r.body)[i]["id"] for i, r in enumerate(built_all("id-out-of-64-bit-range"))] == [
        2**63, -(2**63) - 1, 2**63]
    assert json.loads(built("id-is-boolean").body)[0]["id"] is True
    assert "id" not in json.loads(built("id-missing").body)[0]
    rest = json.loads(built("id-missing").body)[1:]
    assert rest == CASE_PRODUCTS[1:]


@pytest.mark.parametrize("size", [3, 5, 8])
@pytest.mark.parametrize("name", sorted(PRODUCT_CASES))
def test_a_product_case_breaks_the_first_a_middle_and_the_last_product_and_nothing_else(name: str, size: int) -> None:
    products = ProductGenerator(4, size).inventory()
    ctx = S360CaseContext(products)
    requests = built_all(name, ctx)
    assert len(requests) == len(s360.POSITIONS) == 3 and ctx.positions() == (0, size // 2, size - 1)
    for index, request in zip(ctx.positions(), requests, strict=True):
        sent = json.loads(request.body)
        assert len(sent) == size
        differ = [i for i, item in enumerate(sent) if json.dumps(item) != json.dumps(products[i])]  # 1.0 is not 1
        assert differ == [index], name


def test_the_64_bit_bounds_sit_on_the_first_and_last_products() -> None:
    for name, ends in (("id-largest-64-bit", [2**63 - 1, 2**63 - 2]), ("id-smallest-64-bit", [-(2**63), -(2**63) + 1])):
        sent = json.loads(built(name).body)
        assert [sent[0]["id"], sent[-1]["id"]] == ends
        assert sent[1] == CASE_PRODUCTS[1]


def test_products_in_every_state_put_no_running_product_first_in_the_middle_or_last() -> None:
    sent = json.loads(built("products-in-every-state", S360CaseContext(ProductGenerator(0, 5).inventory())).body)
    assert [product["state"] for product in sent] == list(s360.STATES)
    assert "RUNNING" not in {sent[0]["state"], sent[2]["state"], sent[4]["state"]}


def test_unknown_fields_are_added_at_the_top_and_inside_known_objects() -> None:
    for product in json.loads(built("unknown-fields-kept", S360CaseContext(ProductGenerator(0, 3).inventory())).body):
        assert product["salesChannelIds"] == [101, 102] and product["seoMetadata"]["slug"] == "a-shape"
        assert product["externalName"]["machineTranslated"] is False and product["event"]["ageRating"] == "12+"
        assert product["externalName"]["translations"]


def test_id_and_code_only_is_nothing_else() -> None:
    assert json.loads(built("id-and-code-only").body) == [{"id": p["id"], "code": p["code"]} for p in CASE_PRODUCTS]


@pytest.mark.parametrize("limit", [1024, 20_000, 20_001, 1_000_000])
def test_oversize_batch_is_conforming_products_one_byte_past_the_limit(limit: int) -> None:
    body = built("oversize-batch", context(max_body_bytes=limit)).body
    batch = json.loads(body)
    assert len(body) == limit + 1
    assert len({product["id"] for product in batch}) == len(batch)
    assert all(type(product["id"]) is int and len(product["code"]) == 8 for product in batch)
    if limit > 20_000:  # room for them: the context's products come first
        assert batch[:3] == CASE_PRODUCTS


def test_full_batch_is_exactly_p_distinct_copies_of_the_example_product() -> None:
    batch = json.loads(built("full-batch", context(batch_size=1000)).body)
    example = s360.document_example()[0]
    assert len(batch) == 1000
    assert len({product["id"] for product in batch}) == 1000
    assert len({product["code"] for product in batch}) == 1000
    assert all({**product, "id": example["id"], "code": example["code"]} == example for product in batch)
    assert not {product["id"] for product in batch} & {product["id"] for product in CASE_PRODUCTS}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_full_batch_has_the_same_size_whatever_the_contexts_products(seed: int) -> None:
    """P products the size of the example, 7,191 bytes each (with ids of 14 digits, like the example's):
    never the products of the context, whose performances vary in number."""
    products = ProductGenerator(seed, 3, first_id=10228321399304).inventory()
    full = built("full-batch", S360CaseContext(products))
    assert len(full.body) == 1000 * 7191 + 1001 < s360.DEFAULT_MAX_BODY_BYTES


def test_document_example_and_its_repost_are_the_fixtures_bytes() -> None:
    example = fixtures.raw("s360", "document-example")
    assert built("document-example").body == example
    assert built("repost-of-same-batch").body == example


# ---------------------------------------------------------------------------------------- fixtures


def test_document_example_fixture_is_the_documents_text_verbatim() -> None:
    text = (SPECS / s360.DOCUMENT).read_text(encoding="utf-8")
    example = text[text.index("Example here:") + len("Example here:"):].strip("\n")
    assert fixtures.raw("s360", "document-example").decode("utf-8") == example


def test_document_example_is_a_json_array_of_one_product() -> None:
    example = fixtures.load("s360", "document-example")
    assert isinstance(example, list) and len(example) == 1
    assert (example[0]["id"], example[0]["code"]) == (10228321399304, "2010CIMM")
    assert len(s360.encode_json(example[0])) == 7191  # bytes on the wire, compact UTF-8


def test_cases_json_describes_every_fixture_and_agrees_with_the_registries() -> None:
    described = fixtures.cases("s360")
    assert set(described) == set(fixtures.names("s360"))
    for name, entry in described.items():
        assert set(entry) >= {"description", "status", "spec"}, name
        case = (GOOD_CASES if name in GOOD_CASES.names() else MALFORMATIONS)[name]
        assert case.expect.statuses == (entry["status"],), name
        assert (case.expect.spec, case.expect.level) == (entry["spec"], entry["level"]), name


def canonical(body: bytes) -> str:
    return json.dumps(json.loads(body), sort_keys=True)  # keeps 1.0 apart from 1


@pytest.mark.parametrize("name", [n for n in fixtures.names("s360") if n != "document-example"])
def test_fixture_files_are_what_the_case_builders_send(name: str) -> None:
    sent = built(name).body
    stored = fixtures.raw("s360", name)
    if fixtures.path("s360", name).suffix == ".txt":
        assert sent == stored
        with pytest.raises(ValueError):
            json.loads(stored)
    else:
        assert canonical(sent) == canonical(stored)


# ------------------------------------------------------------------------------------ scenario, CLI


def test_conforming_scenario_against_a_receiver_that_answers_200(mock: responses.RequestsMock) -> None:
    mock.post(URL, status=200)
    results = run_scenario(URL, scenario="conforming", products=5, batch_size=2, clock=FakeClock())
    names = [result.name for result in results]
    cases = [name for name in GOOD_CASES.names() if name != "api-key-stray-hyphen"]  # no API key here
    assert names[: len(cases)] == cases
    assert names[len(cases):] == [f"run 1 batch {i}/3 attempt 1" for i in (1, 2, 3)]
    assert all(result.ok for result in results)
    assert [result.items for result in results[len(cases):]] == [2, 2, 1]
    assert len(mock.calls) == len(results)


def test_malformed_scenario_flags_a_receiver_that_accepts_everything(mock: responses.RequestsMock) -> None:
    mock.post(URL, status=200)
    results = run_scenario(URL, auth=BASIC, scenario="malformed", max_body_bytes=30_000, clock=FakeClock())
    assert [result.name for result in results] == [
        name for case in MALFORMATIONS.names() if not case.startswith("api-key")
        for name in ([f"{case} [{n}/3]" for n in (1, 2, 3)] if case in PRODUCT_CASES else [case])]
    assert not any(result.ok for result in results)


def test_schedule_scenario_reposts_on_the_clock(mock: responses.RequestsMock) -> None:
    clock = FakeClock()
    mock.post(URL, status=204)
    mock.post(URL, status=200)
    results = run_scenario(URL, scenario="schedule", products=3, runs=2, interval_minutes=10, clock=clock)
    assert [(r.name, r.status, r.ok) for r in results] == [
        ("run 1 batch 1/1 attempt 1", 204, False),
        ("run 1 batch 1/1 attempt 2", 200, True),
        ("run 2 batch 1/1 attempt 1", 200, True),
    ]
    assert clock.sleeps == [600.0, 600.0]


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    s360.add_cli(parser.add_subparsers(dest="channel"))
    args = parser.parse_args(["s360", "--url", URL, *argv])
    return int(args.run(args))


def test_cli_prints_one_line_per_request_and_exits_0_when_all_is_as_expected(
    mock: responses.RequestsMock, capsys: pytest.CaptureFixture[str],
) -> None:
    mock.post(URL, status=200)
    code = cli(["--auth", "api-key:x-api-key:k3y", "--scenario", "conforming", "--products", "3",
                "--batch-size", "2"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    request_lines = [line for line in lines if line.endswith(("OK", "UNEXPECTED"))]
    assert len(request_lines) == len(mock.calls) == len(GOOD_CASES) + 2
    assert all(line.endswith("OK") for line in request_lines)
    assert mock.calls[0].request.headers["x-api-key"] == "k3y"


def test_cli_exits_1_when_an_answer_differs(mock: responses.RequestsMock, capsys: pytest.CaptureFixture[str]) -> None:
    mock.post(URL, status=202)
    code = cli(["--scenario", "schedule", "--runs", "1", "--max-reposts", "0", "--products", "2",
                "--speed", "100000"])
    assert code == 1
    assert "UNEXPECTED" in capsys.readouterr().out
    assert len(mock.calls) == 1


@pytest.mark.parametrize("argv", [["--auth", "token:x:y"], ["--insecure", "--ca-bundle", "ca.pem"]])
def test_cli_refuses_bad_arguments(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        cli(argv)

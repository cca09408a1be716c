"""The stock push simulator: realistic columnar pushes, deltas a receiver can replay, cases that each
break one thing, the verbatim document example, and the ``stock`` sub-command."""

from __future__ import annotations

import argparse
import functools
import json
import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import responses

from inventory_push_kit import fixtures
from inventory_push_kit.contract_tests.rules import decisions
from inventory_push_kit.simulator.core import Case, Registry, Request
from inventory_push_kit.simulator.stock import (
    COLUMNS,
    DB_ACTIONS,
    GOOD_CASES,
    IATA_LOCATIONS,
    LINE,
    MALFORMATIONS,
    NOT_IN_BODY,
    OTHER_DASHES,
    ROW_CASES,
    SUCCESS,
    StockCaseContext,
    StockGenerator,
    StockPlatform,
    StockPush,
    add_cli,
    example_request,
    fixture_files,
    run_scenario,
)

SPEC = Path(__file__).resolve().parents[1] / "docs" / "platforms" / "stock-push.rst"
URL = "https://receiver.test/stock"
CREDENTIALS = {"X-Api-Key": "s3cret-key", "X-Customer": "4711"}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def context(rows: int = 3, credentials: dict[str, str] | None = None, **kwargs: Any) -> StockCaseContext:
    push = StockGenerator(seed=7).sample_push(rows)
    return StockCaseContext(push, CREDENTIALS if credentials is None else credentials, **kwargs)


def sent_by(case: Case[StockCaseContext, Request], ctx: StockCaseContext) -> Request:
    """The one request a stock case sends."""
    (request,) = case.build(ctx)
    return request


def columns_of(request: Request) -> dict[str, Any]:
    return json.loads(request.body)["data"]


def apply(receiver: dict[str, dict[str, Any]], push: StockPush) -> None:
    """The receiver's duty in its simplest form: ADD/UPD upsert, DEL removes, rows in order."""
    for row in push.rows:
        if row["dbAction"] == "DEL":
            receiver.pop(row["connectorStockId"], None)
        else:
            receiver[row["connectorStockId"]] = row


# -- fixtures ----------------------------------------------------------------------------------------


def test_every_fixture_file_has_a_case_entry_and_every_entry_a_file() -> None:
    assert set(fixtures.names("stock")) == set(fixtures.cases("stock"))


def test_case_entries_say_what_why_and_which_status() -> None:
    for name, entry in fixtures.cases("stock").items():
        assert set(entry) == {"description", "status", "spec"}, name
        assert entry["description"] and isinstance(entry["status"], int), name
        assert entry["spec"].startswith(("stock-push.rst", "decision stock-", "the data definition", "RFC")), name


def test_fixture_files_are_what_the_registered_cases_build() -> None:
    # If this fails after changing a case: python -c "from inventory_push_kit.simulator.stock import write_fixtures;
    # write_fixtures()"
    for name, content in fixture_files().items():
        assert fixtures.path("stock", name).read_bytes() == content, name


def test_json_fixtures_parse_and_text_fixtures_do_not() -> None:
    for name in fixtures.names("stock"):
        raw = fixtures.raw("stock", name)
        if fixtures.path("stock", name).suffix == ".json":
            json.loads(raw)
        else:
            with pytest.raises(ValueError):
                json.loads(raw)


def test_fixtures_cover_every_case_of_the_body_not_of_its_headers_or_size() -> None:
    expected = (set(GOOD_CASES.names()) | set(MALFORMATIONS.names())) - NOT_IN_BODY
    assert set(fixtures.names("stock")) == expected
    assert NOT_IN_BODY & set(GOOD_CASES.names()) == {"large-push"}


def test_adding_a_case_changes_no_other_fixture() -> None:
    files = fixture_files()
    with_one_more = Registry[StockCaseContext, Request]("stock")
    for case in GOOD_CASES:
        with_one_more.register(case.name, case.description, case.expect)(case.build)
    with_one_more.register("one-more", "an extra case", GOOD_CASES["lowercase-codes"].expect)(
        GOOD_CASES["lowercase-codes"].build)
    with mock.patch("inventory_push_kit.simulator.stock.cases.GOOD_CASES", with_one_more):
        more = fixture_files()
    assert {name: more[name] for name in files if name != "cases.json"} == {
        name: content for name, content in files.items() if name != "cases.json"}
    assert "one-more.json" in more


def document_code_block() -> str:
    lines = SPEC.read_text(encoding="utf-8").split(".. code-block:: JSON\n", 1)[1].split("\n")[1:]
    block = []
    for line in lines:
        if not line:
            break
        block.append(line.removeprefix("  "))
    return "\n".join(block) + "\n"


def test_document_example_is_the_documents_code_block_character_for_character() -> None:
    stored = fixtures.raw("stock", "document-example").decode("utf-8")
    assert stored == document_code_block()
    assert "\u2011" in stored and "\t" in stored  # the example's own quirks survive
    assert json.loads(stored)["data"]["pn"] == ["PN\u20111234"]


def test_example_request_sends_the_fixture_bytes_verbatim() -> None:
    request = example_request(CREDENTIALS)
    assert request.body == fixtures.raw("stock", "document-example")
    assert request.headers == {"Content-Type": "application/json", **CREDENTIALS}


# -- the push ------------------------------------------------------------------------------------------


def test_push_is_columnar_in_the_documents_column_order() -> None:
    push = StockGenerator(seed=1).first_push(5)
    columns = push.columns()
    assert tuple(columns) == COLUMNS and len(COLUMNS) == 25
    for i, row in enumerate(push.rows):
        assert {column: values[i] for column, values in columns.items()} == row
    assert push.body() == {"data": columns}
    assert push.ids() == columns["connectorStockId"]


def test_push_bytes_are_compact_utf8_json_keeping_non_ascii() -> None:
    push = StockPush([{**StockGenerator(seed=1).first_push(1).rows[0], "pn": "PN\u20111234"}])
    body = push.to_bytes()
    assert json.loads(body) == push.body()
    assert "PN\u20111234".encode() in body and b"\\u2011" not in body
    assert body == json.dumps(push.body(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def test_push_request_carries_json_and_the_credential_headers() -> None:
    request = StockGenerator(seed=1).first_push(2).to_request(CREDENTIALS)
    assert request.headers == {"Content-Type": "application/json", **CREDENTIALS}
    assert request.path is None


# -- the generator --------------------------------------------------------------------------------------


def run_feed(seed: int) -> list[bytes]:
    generator = StockGenerator(seed)
    first = generator.first_push(200)
    delta = generator.delta(50)
    return [first.to_bytes(), delta.to_bytes(), generator.stale_copy(delta).to_bytes(),
            generator.delta(80, updates=0.3, deletes=0.5).to_bytes()]


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    assert run_feed(3) == run_feed(3)
    assert run_feed(3)[0] != run_feed(4)[0]


def test_rows_look_like_aviation_stock() -> None:
    rows = StockGenerator(seed=2).first_push(3000).rows
    for row in rows:
        assert set(row) == set(COLUMNS)
        assert uuid.UUID(row["connectorStockId"]).version == 4
        assert str(uuid.UUID(row["connectorStockId"])) == row["connectorStockId"]
        assert row["materialId"] == re.sub(r"[^0-9A-Za-z]", "", row["pn"])
        assert row["location"] in IATA_LOCATIONS
        assert TIMESTAMP.match(row["timeStampEntry"]) and row["dbAction"] == "ADD"
        for column in ("tagDate", "dateOfManufacture", "shelfLife"):
            assert row[column] is None or DATE.match(row[column]), column
        if row["tagDate"]:
            assert row["dateOfManufacture"] <= row["tagDate"]
        assert isinstance(row["incidentRelated"], bool) and isinstance(row["leadTime"], int)
        assert row["priceUsd"] > 0
        if row["unit"] == "EA":
            assert isinstance(row["quantity"], int) and row["quantity"] >= 1
        else:
            assert row["unit"] in {"FT", "M"} and isinstance(row["quantity"], float)
    assert sum("-" in row["pn"] for row in rows) > len(rows) / 2
    assert sum(row["unit"] == "EA" for row in rows) > 0.8 * len(rows)
    assert sum(row["condition"] in {"NE", "NS", "FN", "OH", "SV", "AR", "RP", "IN"} for row in rows) > 0.95 * len(rows)
    assert any(row["mroName"] is None for row in rows) and any(row["mroName"] for row in rows)
    assert any(row["shelfLife"] is None for row in rows) and any(row["shelfLife"] for row in rows)
    assert len({row["connectorStockId"] for row in rows}) == len(rows)


def test_each_push_is_strictly_newer_than_the_one_before() -> None:
    generator = StockGenerator(seed=5)
    pushes = [generator.first_push(100)] + [generator.delta(40) for _ in range(4)]
    for push in pushes:
        stamps = [row["timeStampEntry"] for row in push.rows]
        assert stamps == sorted(stamps)
    for earlier, later in zip(pushes, pushes[1:], strict=False):
        assert max(r["timeStampEntry"] for r in earlier.rows) < min(r["timeStampEntry"] for r in later.rows)


def test_deltas_replayed_by_a_receiver_give_the_generators_state() -> None:
    generator = StockGenerator(seed=9)
    receiver: dict[str, dict[str, Any]] = {}
    sent: set[str] = set()
    apply(receiver, first := generator.first_push(300))
    sent.update(first.ids())
    for _ in range(5):
        present = set(generator.state())
        delta = generator.delta(100, updates=0.5, deletes=0.3)
        actions = {a: [r["connectorStockId"] for r in delta.rows if r["dbAction"] == a] for a in DB_ACTIONS}
        assert len(delta.ids()) == len(set(delta.ids())) == 100  # each id at most once per push
        assert (len(actions["UPD"]), len(actions["DEL"]), len(actions["ADD"])) == (50, 30, 20)
        assert set(actions["UPD"]) | set(actions["DEL"]) <= present
        assert not set(actions["ADD"]) & sent
        for row in delta.rows:
            if row["dbAction"] == "UPD":
                before = receiver[row["connectorStockId"]]
                changed = {c for c in COLUMNS if row[c] != before[c]} - {"timeStampEntry", "dbAction"}
                assert len(changed) >= 1 and changed <= {"priceUsd", "quantity", "location", "leadTime",
                                                          "condition", "mroName", "mroApprovalNo"}
        apply(receiver, delta)
        sent.update(delta.ids())
        assert receiver == generator.state()


def test_delta_never_updates_more_than_is_present() -> None:
    generator = StockGenerator(seed=9)
    generator.first_push(3)
    delta = generator.delta(10)
    assert [r["dbAction"] for r in delta.rows].count("ADD") == 7
    assert len(generator.state()) == 10 - [r["dbAction"] for r in delta.rows].count("DEL")


def test_stale_copy_is_older_different_and_changes_no_state() -> None:
    generator = StockGenerator(seed=11)
    generator.first_push(50)
    delta = generator.delta(30)
    state = generator.state()
    stale = generator.stale_copy(delta)
    assert stale.ids() == delta.ids()
    for new, old in zip(delta.rows, stale.rows, strict=True):
        assert old["timeStampEntry"] < new["timeStampEntry"]
        assert old["dbAction"] == "UPD"
        assert {c: old[c] for c in COLUMNS if c not in ("timeStampEntry", "dbAction")} != {
            c: new[c] for c in COLUMNS if c not in ("timeStampEntry", "dbAction")}
    assert generator.state() == state


def test_sample_push_is_not_recorded_in_state() -> None:
    generator = StockGenerator(seed=12)
    generator.first_push(5)
    state = generator.state()
    assert len(generator.sample_push(4)) == 4
    assert generator.state() == state


@pytest.mark.parametrize(("updates", "deletes"), [(0.8, 0.3), (-0.1, 0.2), (0.5, -1)])
def test_delta_shares_must_fit_in_the_push(updates: float, deletes: float) -> None:
    generator = StockGenerator()
    generator.first_push(10)
    with pytest.raises(ValueError, match="shares"):
        generator.delta(10, updates=updates, deletes=deletes)


@pytest.mark.parametrize("rows", [0, 100_001])
def test_row_count_out_of_range_is_refused(rows: int) -> None:
    with pytest.raises(ValueError, match="1 to 100,000"):
        StockGenerator().first_push(rows)


def test_a_100k_row_push_is_whole_and_distinct() -> None:
    # How fast it builds is the benchmarks' business (bench/stock.py), not a timed assertion here.
    body = StockGenerator(seed=1).first_push(100_000).to_bytes()
    columns = json.loads(body)["data"]
    assert {len(values) for values in columns.values()} == {100_000}
    assert len(set(columns["connectorStockId"])) == 100_000


# -- malformations --------------------------------------------------------------------------------------

EXPECTED_STATUSES = {
    "not-json": 400, "empty-body": 400, "wrong-content-type": 415, "body-not-object": 422,
    "data-missing": 422, "data-not-object": 422, "column-not-array": 422, "length-mismatch": 422,
    "no-connectorStockId": 422, "bad-uuid": 422, "bad-date": 422, "bad-timestamp": 422,
    "unknown-dbAction": 422, "null-connectorStockId": 422, "wrong-type-leadTime": 422,
    "wrong-type-quantity": 422, "wrong-type-priceUsd": 422, "wrong-type-incidentRelated": 422,
    "wrong-type-timeRemaining": 422, "wrong-type-cyclesRemaining": 422, "wrong-type-sn": 422,
    "wrong-type-tagDate": 422, "bad-dateOfManufacture": 422, "bad-shelfLife": 422, "oversize-body": 413,
    "missing-credentials": 401,
    "wrong-credentials": 401, "one-credential-missing": 401,
}


def test_malformations_expect_the_agreed_statuses_and_cite_a_source() -> None:
    assert {case.name: case.expect.statuses for case in MALFORMATIONS} == {
        name: (status,) for name, status in EXPECTED_STATUSES.items()}
    for case in [*MALFORMATIONS, *GOOD_CASES]:
        assert case.expect.level == "SHOULD"
        assert case.expect.spec.startswith(("stock-push.rst", "decision stock-", "the data definition", "RFC 9110")), \
            case.name
    assert all(case.expect.statuses == SUCCESS for case in GOOD_CASES)  # any 2xx (decision stock-8)


@pytest.mark.parametrize("name", sorted(set(MALFORMATIONS.names()) - NOT_IN_BODY))
def test_body_breaks_keep_the_conforming_headers(name: str) -> None:
    request = sent_by(MALFORMATIONS[name], context())
    assert request.headers == {"Content-Type": "application/json", **CREDENTIALS}
    assert request.body != context().push.to_bytes()


def only_difference(ctx: StockCaseContext, name: str) -> tuple[str, Any, Any]:
    """The single cell that a one-cell case changed, in the context's row: (column, conforming value, sent
    value)."""
    sent = columns_of(sent_by(MALFORMATIONS[name] if name in MALFORMATIONS else GOOD_CASES[name], ctx))
    conforming = ctx.push.columns()
    assert list(sent) == list(conforming)
    diffs = [(column, i, conforming[column][i], sent[column][i])
             for column in conforming for i in range(len(conforming[column]))
             if json.dumps(conforming[column][i]) != json.dumps(sent[column][i])]
    assert len(diffs) == 1, diffs
    column, index, before, after = diffs[0]
    assert index == ctx.index
    return column, before, after


def test_one_cell_breaks_change_exactly_that_cell() -> None:
    ctx = context()
    column, before, after = only_difference(ctx, "bad-uuid")
    assert column == "connectorStockId" and len(after) != 36
    with pytest.raises(ValueError):
        uuid.UUID(after)
    assert only_difference(ctx, "null-connectorStockId")[::2] == ("connectorStockId", None)
    assert only_difference(ctx, "bad-date")[::2] == ("tagDate", "2018-13-45")
    column, _, after = only_difference(ctx, "bad-timestamp")
    assert column == "timeStampEntry" and TIMESTAMP.match(after)
    with pytest.raises(ValueError):
        datetime.strptime(after, "%Y-%m-%d %H:%M:%S")
    column, _, after = only_difference(ctx, "unknown-dbAction")
    assert column == "dbAction" and after.upper() not in DB_ACTIONS


@pytest.mark.parametrize(
    ("column", "wrong"),
    [("leadTime", str), ("quantity", str), ("priceUsd", str), ("incidentRelated", str),
     ("timeRemaining", str), ("cyclesRemaining", str), ("sn", int), ("tagDate", int)],
)
def test_wrong_type_cases_mistype_one_cell_of_their_column(column: str, wrong: type) -> None:
    changed, _, after = only_difference(context(), f"wrong-type-{column}")
    assert changed == column and type(after) is wrong


ONE_CELL_CASES = sorted(ROW_CASES - {"add-then-update-same-push", "fractional-length-quantity",
                                     "nulls-in-optional-columns", "lowercase-upd-and-del", "update-to-null",
                                     "non-ascii-text"})


@pytest.mark.parametrize("row", [0, 1, 2, -1, -3])
@pytest.mark.parametrize("name", ONE_CELL_CASES)
def test_a_one_row_case_changes_the_row_the_context_names(name: str, row: int) -> None:
    ctx = context(rows=3, row=row)
    only_difference(ctx, name)  # one cell, in that row


@pytest.mark.parametrize("row", [0, 1, 2])
@pytest.mark.parametrize("name", ["fractional-length-quantity", "nulls-in-optional-columns", "non-ascii-text"])
def test_a_one_row_variant_changes_that_row_only(name: str, row: int) -> None:
    ctx = context(rows=3, row=row)
    sent, conforming = columns_of(sent_by(GOOD_CASES[name], ctx)), ctx.push.columns()
    changed_rows = {i for column in conforming for i in range(3) if sent[column][i] != conforming[column][i]}
    assert changed_rows == {row}


def test_a_row_beyond_the_push_is_refused() -> None:
    with pytest.raises(ValueError, match="not a row"):
        sent_by(MALFORMATIONS["bad-date"], context(rows=3, row=3))


def test_row_cases_are_registered_cases() -> None:
    assert not ROW_CASES - set(GOOD_CASES.names()) - set(MALFORMATIONS.names())


def test_structural_breaks_break_the_structure() -> None:
    ctx = context()
    build = {case.name: functools.partial(sent_by, case) for case in MALFORMATIONS}
    with pytest.raises(ValueError):
        json.loads(build["not-json"](ctx).body)
    assert build["not-json"](ctx).body == ctx.push.to_bytes()[:-1]
    assert build["empty-body"](ctx).body == b""
    assert json.loads(build["body-not-object"](ctx).body) == [ctx.push.body()]
    missing = json.loads(build["data-missing"](ctx).body)
    assert "data" not in missing and list(missing.values()) == [ctx.push.columns()]
    assert json.loads(build["data-not-object"](ctx).body) == {"data": ctx.push.rows}
    sent = columns_of(build["column-not-array"](ctx))
    assert [c for c in sent if not isinstance(sent[c], list)] == ["description"]
    lengths = {column: len(values) for column, values in columns_of(build["length-mismatch"](ctx)).items()}
    assert sorted(set(lengths.values())) == [2, 3] and list(lengths.values()).count(2) == 1
    sent = columns_of(build["no-connectorStockId"](ctx))
    assert "connectorStockId" not in sent and len(sent) == 24


def test_wrong_content_type_sends_a_conforming_body_as_text() -> None:
    ctx = context()
    request = sent_by(MALFORMATIONS["wrong-content-type"], ctx)
    assert request.body == ctx.push.to_bytes()
    assert request.headers == {"Content-Type": "text/plain", **CREDENTIALS}


@pytest.mark.parametrize("limit", [50_000, 4 * 1024 * 1024])
def test_oversize_body_is_what_the_rows_encode_to(limit: int) -> None:
    ctx = context(max_body_bytes=limit)
    body = sent_by(MALFORMATIONS["oversize-body"], ctx).body
    columns = json.loads(body)["data"]
    rows = [{column: columns[column][i] for column in COLUMNS} for i in range(len(columns["connectorStockId"]))]
    assert StockPush(rows).to_bytes() == body  # byte for byte what the platform's encoder writes
    assert rows[:3] == ctx.push.rows and limit < len(body) < limit + 2_000


def test_a_large_push_is_half_the_limit_at_most_2_mib() -> None:
    for limit, size in [(64 * 1024 * 1024, 2 * 1024 * 1024), (1_000_000, 500_000), (2_000, 1_000)]:
        request = sent_by(GOOD_CASES["large-push"], context(max_body_bytes=limit))
        assert size < len(request.body) < size + 2_000 and len(request.body) <= limit
        columns = columns_of(request)
        assert len(set(columns["connectorStockId"])) == len(columns["connectorStockId"])


def test_oversize_body_exceeds_the_limit_with_conforming_rows() -> None:
    ctx = context(max_body_bytes=50_000)
    request = sent_by(MALFORMATIONS["oversize-body"], ctx)
    assert len(request.body) > 50_000
    assert len(request.body) < 50_000 + 2_000  # padded just past the limit, not far beyond it
    columns = columns_of(request)
    assert list(columns) == list(COLUMNS)
    assert len({len(values) for values in columns.values()}) == 1
    assert len(set(columns["connectorStockId"])) == len(columns["connectorStockId"]) > 3
    assert request.headers == {"Content-Type": "application/json", **CREDENTIALS}


def test_credential_cases_lack_or_alter_the_credential_headers() -> None:
    ctx = context()
    conforming = ctx.push.to_bytes()
    missing = sent_by(MALFORMATIONS["missing-credentials"], ctx)
    assert missing.headers == {"Content-Type": "application/json"} and missing.body == conforming
    wrong = sent_by(MALFORMATIONS["wrong-credentials"], ctx)
    assert wrong.body == conforming and set(wrong.headers) == {"Content-Type", *CREDENTIALS}
    for name, value in CREDENTIALS.items():
        assert wrong.headers[name] != value and len(wrong.headers[name]) == len(value)
        assert all(a != b for a, b in zip(wrong.headers[name], value, strict=True))
    one = sent_by(MALFORMATIONS["one-credential-missing"], ctx)
    assert one.body == conforming
    assert len(set(CREDENTIALS) - set(one.headers)) == 1
    assert all(one.headers[name] == CREDENTIALS[name] for name in set(CREDENTIALS) & set(one.headers))
    single = sent_by(MALFORMATIONS["one-credential-missing"], context(credentials={"X-Api-Key": "k"}))
    assert single.headers == {"Content-Type": "application/json"}


def test_credential_cases_need_credentials() -> None:
    assert not MALFORMATIONS["missing-credentials"].applies(context(credentials={}))
    with pytest.raises(ValueError, match="credential"):
        sent_by(MALFORMATIONS["missing-credentials"], context(credentials={}))


# -- good cases ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GOOD_CASES.names())
def test_good_cases_are_well_formed_json_with_equal_columns(name: str) -> None:
    for request in GOOD_CASES[name].build(context()):
        assert request.headers == {"Content-Type": "application/json", **CREDENTIALS}
        columns = columns_of(request)
        assert len(columns) == 25
        assert len({len(values) for values in columns.values()}) == 1


def test_every_good_case_is_checked_by_the_contract_suite() -> None:
    source = (Path(__file__).resolve().parents[1] / "contract_tests" / "test_stock.py").read_text(encoding="utf-8")
    assert [name for name in GOOD_CASES.names() if f'"{name}"' not in source] == []


def test_good_cases_vary_what_they_say() -> None:
    ctx = context()
    build = {case.name: functools.partial(sent_by, case) for case in GOOD_CASES}
    assert build["document-example"](ctx).body == fixtures.raw("stock", "document-example")
    sent = columns_of(build["add-then-update-same-push"](ctx))
    assert sent["connectorStockId"][-1] == sent["connectorStockId"][0]
    assert (sent["dbAction"][0], sent["dbAction"][-1]) == ("ADD", "UPD")
    assert sent["timeStampEntry"][-1] > max(sent["timeStampEntry"][:-1])
    sent = columns_of(build["internalStockId-alias"](ctx))
    assert "connectorStockId" not in sent and sent["internalStockId"] == ctx.push.ids()
    assert list(sent)[0] == "internalStockId"
    assert columns_of(build["unknown-condition-code"](ctx))["condition"][0] == "ZZ"
    assert columns_of(build["unknown-unit-code"](ctx))["unit"][0] == "BAG"
    sent = columns_of(build["non-ascii-text"](ctx))
    assert sent["mroName"][0] == "Bosporus Aero Teknik A.Ş." and not sent["description"][0].isascii()
    assert columns_of(build["non-iata-location"](ctx))["location"][0] == "Germany"
    sent = columns_of(build["fractional-length-quantity"](ctx))
    assert (sent["unit"][0], sent["quantity"][0]) == ("FT", 12.5)
    sent = columns_of(build["lowercase-codes"](ctx))
    for column in ("condition", "unit", "location", "dbAction"):
        assert all(value == value.lower() for value in sent[column])
    sent = columns_of(build["nulls-in-optional-columns"](ctx))
    assert sent["mroApprovalNo"][0] is None and sent["tagDate"][0] is None
    assert sent["connectorStockId"][0] and sent["timeStampEntry"][0] and sent["dbAction"][0]
    sent = columns_of(build["u2011-hyphens"](ctx))
    for column in ("tagDate", "dateOfManufacture", "timeStampEntry"):
        assert all("-" not in v and "\u2011" in v for v in sent[column] if v)
    assert all("-" in v for v in sent["connectorStockId"])


def test_other_dashes_carry_the_whole_family_in_a_push_of_three_rows() -> None:
    for seed in range(20):
        ctx = StockCaseContext(StockGenerator(seed).sample_push(3), CREDENTIALS)
        sent = columns_of(sent_by(GOOD_CASES["other-unicode-dashes"], ctx))
        dates = [v for column in ("tagDate", "dateOfManufacture", "shelfLife", "timeStampEntry")
                 for v in sent[column] if v is not None]
        assert all("-" not in v for v in dates)
        assert {ch for v in dates for ch in v if not ch.isascii()} == set(OTHER_DASHES)
        hyphens = dict.fromkeys(map(ord, OTHER_DASHES), "-")
        assert [v.translate(hyphens) for v in sent["pn"]] == ctx.push.columns()["pn"]


@pytest.mark.parametrize("row", [0, 1, 2])
def test_update_to_null_clears_the_descriptive_columns_of_one_entry(row: int) -> None:
    ctx = context(rows=3, row=row)
    first, then = GOOD_CASES["update-to-null"].build(ctx)
    assert first.body == ctx.push.to_bytes()
    sent = columns_of(then)
    assert sent["connectorStockId"] == ctx.push.ids() and set(sent["dbAction"]) == {"UPD"}
    assert all(a < b for a, b in zip(ctx.push.columns()["timeStampEntry"], sent["timeStampEntry"], strict=True))
    cleared = [column for column in COLUMNS if sent[column][row] is None]
    assert {"leadTime", "dateOfManufacture", "incidentRelated"} <= set(cleared)  # never null in a generated row
    assert not [column for column in ("connectorStockId", "pn", "priceUsd", "timeStampEntry") if column in cleared]


@pytest.mark.parametrize("row", [0, 1, 2])
def test_lowercase_upd_and_del_adds_then_updates_and_deletes_the_same_entries(row: int) -> None:
    ctx = context(rows=3, row=row)
    first, then = GOOD_CASES["lowercase-upd-and-del"].build(ctx)
    assert first.body == ctx.push.to_bytes()
    sent = columns_of(then)
    assert sent["connectorStockId"] == ctx.push.ids()
    assert sent["dbAction"] == ["del" if i == row else "upd" for i in range(3)]
    assert all(v == v.lower() for column in ("condition", "unit") for v in sent[column])
    assert min(sent["timeStampEntry"]) > max(ctx.push.columns()["timeStampEntry"])
    for i, original in enumerate(ctx.push.rows):
        updated = {c: sent[c][i] for c in ("priceUsd", "quantity", "location", "leadTime", "condition")}
        if i != row:
            assert updated != {**{c: original[c] for c in updated}, "condition": original["condition"].lower()}


# -- sending and the command line ----------------------------------------------------------------------


@responses.activate
def test_platform_posts_the_push_with_its_credentials() -> None:
    responses.post(URL, status=200)
    platform = StockPlatform(URL, credentials=CREDENTIALS)
    push = StockGenerator(seed=1).first_push(4)
    delivery = platform.push(push)
    platform.close()
    assert delivery.status == 200
    sent = responses.calls[0].request
    assert sent.body == push.to_bytes()
    assert sent.headers["X-Api-Key"] == "s3cret-key" and sent.headers["Content-Type"] == "application/json"


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers(dest="channel", required=True))
    args = parser.parse_args(["stock", "--url", URL, *argv])
    return args.run(args)


# One line per push: a case of two pushes has two lines.
CONFORMING_NAMES = ["first-push", "delta-1", "delta-2", "stale-copy",
                    *(case.name for case in GOOD_CASES for _ in case.build(context()))]


@responses.activate
def test_cli_exits_0_when_every_answer_matches(capsys: pytest.CaptureFixture[str]) -> None:
    responses.post(URL, status=200)
    code = run_cli(["--header", "X-Api-Key: s3cret-key", "--scenario", "conforming", "--rows", "40",
                    "--deltas", "2", "--delta-rows", "10"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert [line.split()[0] for line in lines[:-1]] == CONFORMING_NAMES
    assert all(line.endswith("OK") for line in lines[:-1])
    assert lines[0].split()[1:3] == ["40", "rows"] and "status 200" in lines[0]
    size_kb = float(lines[0].split()[3])
    assert size_kb == pytest.approx(len(responses.calls[0].request.body) / 1000, abs=0.1)
    assert lines[-1].startswith(f"{len(CONFORMING_NAMES)} pushes, 0 unexpected; status 200 x{len(CONFORMING_NAMES)}; "
                                "latency p50 ")
    assert all(call.request.headers["X-Api-Key"] == "s3cret-key" for call in responses.calls)
    first = json.loads(responses.calls[0].request.body)["data"]
    assert len(first["connectorStockId"]) == 40


@responses.activate
def test_cli_exits_1_and_says_which_answer_was_unexpected(capsys: pytest.CaptureFixture[str]) -> None:
    answers = iter([200, 200, 500])
    responses.add_callback(responses.POST, URL, callback=lambda request: (next(answers, 200), {}, "boom"))
    code = run_cli(["--scenario", "conforming", "--rows", "20", "--deltas", "2"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert lines[2].startswith("delta-2") and "status 500" in lines[2] and "UNEXPECTED" in lines[2]
    assert "boom" in lines[2]
    assert sum("UNEXPECTED" in line for line in lines) == 1
    assert lines[-1].startswith("21 pushes, 1 unexpected; status 200 x20, 500 x1;")


@responses.activate
def test_malformed_scenario_against_an_accept_everything_receiver_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    responses.post(URL, status=200)
    code = run_cli(["--header", "X-Api-Key: k", "--header", "X-Customer: c", "--scenario", "malformed",
                    "--max-body-bytes", "30000"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert [line.split()[0] for line in lines[:-1]] == MALFORMATIONS.names()
    assert all("UNEXPECTED" in line for line in lines[:-1])
    oversize = MALFORMATIONS.names().index("oversize-body")
    assert len(responses.calls[oversize].request.body) > 30_000


@responses.activate
def test_run_scenario_skips_credential_cases_without_credentials() -> None:
    responses.post(URL, status=422)
    platform = StockPlatform(URL, credentials={})
    results = run_scenario(platform, "malformed", max_body_bytes=20_000)
    platform.close()
    names = [result.name for result in results]
    assert "missing-credentials" not in names and "bad-uuid" in names
    assert next(r for r in results if r.name == "bad-uuid").ok
    assert not next(r for r in results if r.name == "not-json").ok
    assert "UNEXPECTED" in LINE(next(r for r in results if r.name == "not-json"))


def test_every_decision_a_case_quotes_is_quoted_word_for_word() -> None:
    """A case's spec quotes decisions.md, the text customers have: each quote is in the decision it names."""
    found = decisions()
    for case in [*GOOD_CASES, *MALFORMATIONS]:
        for decision, quote in re.findall(r'decision (stock-\d+)(?: \(decisions\.md\))?: "((?:[^"\\]|\\.)*)"',
                                          case.expect.spec):
            assert " ".join(quote.split()) in found[decision], (case.name, decision, quote)

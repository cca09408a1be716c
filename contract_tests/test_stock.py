"""Contract of the stock push (stock-push.rst; decisions stock-1 … stock-7), checked from the outside.

What a push was answered is checked always; what it left stored, through the state probe
(docs/state-probe.md), wherever a probe is given. A case that breaks or varies one row is sent with that
row first, in the middle and last (``POSITIONS``), so a receiver that looks at, or stops at, the first row
only is caught; every variant the platform may send is checked in what was stored, not only answered."""

from __future__ import annotations

import json
import random
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import pytest

from inventory_push_kit.contract_tests.report import check, check_refused, check_status, check_success
from inventory_push_kit.contract_tests.rules import rule
from inventory_push_kit.contract_tests.targets import Probe, StockTarget
from inventory_push_kit.simulator.core import Case, Request
from inventory_push_kit.simulator.http import Delivery
from inventory_push_kit.simulator.stock import (
    CASE_ROWS,
    COLUMNS,
    GOOD_CASES,
    MALFORMATIONS,
    NEEDS_CREDENTIALS,
    ROW_CASES,
    TIMESTAMP_FORMAT,
    StockCaseContext,
    StockGenerator,
    StockPush,
    example_request,
)

KEY, ALIAS = "connectorStockId", "internalStockId"
# Where a one-row case puts its row in the push of CASE_ROWS rows it is built from.
POSITIONS = {"first": 0, "middle": CASE_ROWS // 2, "last": CASE_ROWS - 1}


@pytest.fixture(scope="module")
def generator() -> StockGenerator:
    # A fresh seed per run: a receiver that keeps its data between runs sees new stock ids each time.
    return StockGenerator(seed=random.SystemRandom().randrange(2**32))


def fresh_generator() -> StockGenerator:
    """A generator of its own, for a check that follows the state of the entries it sends."""
    return StockGenerator(seed=random.SystemRandom().randrange(2**32))


def at_positions(names: Iterable[str]) -> list[Any]:
    """(case, row) parameters: a one-row case at each position, any other case once."""
    return [pytest.param(name, row, id=f"{name}-{where}-row" if name in ROW_CASES else name)
            for name in names for where, row in (POSITIONS.items() if name in ROW_CASES else [("first", 0)])]


def case_named(name: str) -> Case[StockCaseContext, Request]:
    return GOOD_CASES[name] if name in GOOD_CASES else MALFORMATIONS[name]


@dataclass(frozen=True)
class Sent:
    """A named case as it was sent: its context, its requests in order and what each one got."""

    name: str
    ctx: StockCaseContext
    requests: tuple[Request, ...]
    deliveries: tuple[Delivery, ...]

    @property
    def again(self) -> str:
        """The ``--case`` of the command that sends it again (the same row, another push)."""
        return self.name if self.ctx.row == 0 else f"{self.name} --case-row {self.ctx.row}"

    @property
    def what(self) -> str:
        where = next((f" (at the {w} of {CASE_ROWS} rows)" for w, r in POSITIONS.items() if r == self.ctx.row), "")
        return f"{self.name}: {case_named(self.name).description}" + (where if self.name in ROW_CASES else "")

    @property
    def delivery(self) -> Delivery:
        """What the last request got (a refused case has one request)."""
        return self.deliveries[-1]

    def accepted(self) -> None:
        for n, delivery in enumerate(self.deliveries, start=1):
            push = f" (push {n} of {len(self.deliveries)})" if len(self.deliveries) > 1 else ""
            check_success(self.what + push, delivery, case=self.again)


def send(stock: StockTarget, generator: StockGenerator, name: str, row: int = 0) -> Sent:
    """Build the named case from a fresh push of CASE_ROWS rows and send each of its requests."""
    ctx = StockCaseContext(push=generator.sample_push(CASE_ROWS), credentials=stock.credentials,
                           max_body_bytes=stock.max_body_bytes, row=row)
    requests = case_named(name).build(ctx)
    return Sent(name, ctx, requests, tuple(stock.platform.send(request) for request in requests))


# --- what a correct receiver holds, and what the probe says it holds ----------------------------------

DATES = frozenset({"tagDate", "dateOfManufacture", "shelfLife", "timeStampEntry"})
TEXT = frozenset({"description", "mroName", "lastOperator", "company"})  # free text, held exactly as sent


def rows_of(request: Request) -> list[dict[str, Any]]:
    """The rows a push carries, by the document's column names (``internalStockId`` read as the key:
    decision stock-1); a column not sent is null."""
    columns = json.loads(request.body)["data"]
    if ALIAS in columns and KEY not in columns:
        columns = {KEY if name == ALIAS else name: values for name, values in columns.items()}
    return [{name: columns[name][i] if name in columns else None for name in COLUMNS}
            for i in range(len(columns[KEY]))]


def after(requests: Iterable[Request]) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """What a correct receiver holds after these pushes, each newer than the one before, applied row by
    row in order (``dbAction`` read case-insensitively: decision stock-2), and the ids they removed."""
    held: dict[str, dict[str, Any]] = {}
    removed: set[str] = set()
    for request in requests:
        for row in rows_of(request):
            if str(row["dbAction"]).upper() == "DEL":
                held.pop(row[KEY], None)
                removed.add(row[KEY])
            else:
                held[row[KEY]] = row
                removed.discard(row[KEY])
    return held, removed


def ascii_dashes(text: str) -> str:
    """Every dash of the family (decision stock-2: Unicode's dash punctuation, and the minus sign) as '-'."""
    return "".join("-" if ch == "\u2212" or unicodedata.category(ch) == "Pd" else ch for ch in text)


def same(column: str, sent: Any, stored: Any) -> bool:
    """Whether a stored value is the one sent, as the probe protocol allows: numbers numerically, dates
    as YYYY-MM-DD (and YYYY-MM-DD HH:MM:SS) with '-', free text exactly, codes case- and dash-insensitively."""
    if sent is None or isinstance(sent, bool):
        return bool(stored == sent)
    if isinstance(sent, int | float):
        return isinstance(stored, int | float) and not isinstance(stored, bool) and abs(stored - sent) < 1e-6
    if column in DATES:
        return bool(stored == ascii_dashes(sent))
    if column in TEXT:
        return bool(stored == sent)
    return isinstance(stored, str) and ascii_dashes(sent).strip().casefold() == ascii_dashes(stored).strip().casefold()


def assert_held(probe: Probe, row: dict[str, Any], what: str, case: str | None = None) -> None:
    status, stored = probe.get(f"stock/{row[KEY]}")
    check(status == 200 and isinstance(stored, dict), what, expected=f"stock entry {row[KEY]} held", case=case,
          found=f"the probe answered {status}: {stored!r}"[:300])
    wrong = {name: (row[name], stored.get(name)) for name in COLUMNS
             if name != "dbAction" and not same(name, row[name], stored.get(name))}
    check(not wrong, what, expected=f"stock entry {row[KEY]} as last sent", case=case,
          found=f"it differs (column: (sent, stored)): {wrong}"[:600])


def assert_absent(probe: Probe, stock_id: str, what: str, case: str | None = None) -> None:
    status, stored = probe.get(f"stock/{stock_id}")
    check(status == 404, what, expected=f"stock entry {stock_id} not held", case=case,
          found=f"the probe answered {status}: {stored!r}"[:300])


def assert_stored(probe: Probe, sent: Sent) -> None:
    """Every entry the case's pushes leave is held as sent, every one they removed is not."""
    held, removed = after(sent.requests)
    for row in held.values():
        assert_held(probe, row, f"{sent.what}: every entry as last sent", sent.again)
    for stock_id in removed:
        assert_absent(probe, stock_id, f"{sent.what}: an entry its push deleted", sent.again)


def assert_state(probe: Probe, generator: StockGenerator, sent: set[str], what: str) -> None:
    """The receiver holds what the generator says, and none of the ids sent that it deleted."""
    state = generator.state()
    for row in state.values():
        assert_held(probe, row, f"{what}: every entry as last changed")
    for stock_id in sent - set(state):
        assert_absent(probe, stock_id, f"{what}: an entry a DEL removed")


def accepted_and_stored(stock: StockTarget, probe: Probe, generator: StockGenerator, name: str, row: int) -> None:
    sent = send(stock, generator, name, row)
    sent.accepted()
    assert_stored(probe, sent)


def push_ok(stock: StockTarget, push: StockPush, what: str) -> None:
    check_success(what, stock.platform.push(push))


def later(push: StockPush, seconds: int, action: str) -> StockPush:
    """The same entries as ``action``, each ``seconds`` after its own change."""
    return StockPush([{**row, "dbAction": action, "timeStampEntry": (
        datetime.strptime(row["timeStampEntry"], TIMESTAMP_FORMAT) + timedelta(seconds=seconds)).strftime(
        TIMESTAMP_FORMAT)} for row in push.rows])


# --- the connection, the method, the document's format -----------------------------------------------


@rule("stock.ssl")
def test_the_connection_is_ssl_encrypted(stock: StockTarget, generator: StockGenerator) -> None:
    url = stock.platform.sender.base_url
    check(urlparse(url).scheme == "https", f"{url} is not an https:// URL", expected="an HTTPS endpoint")
    delivery = stock.platform.push(generator.sample_push(1))  # the TLS handshake is verified by the sender
    check_success("a conforming push over TLS", delivery)


@rule("stock.post")
def test_a_conforming_push_is_accepted(stock: StockTarget, generator: StockGenerator) -> None:
    push = generator.sample_push(50)
    check_success(f"a conforming push of {len(push)} rows", stock.platform.push(push))


@rule("stock.post")
def test_a_large_conforming_push_is_accepted(stock: StockTarget, generator: StockGenerator) -> None:
    sent = send(stock, generator, "large-push")
    size = len(sent.requests[0].body)
    check_success(f"{sent.what}: {size} bytes, within the body limit given (--stock-max-body-bytes "
                   f"{stock.max_body_bytes})", sent.delivery, case=sent.again)


@rule("stock.format")
def test_the_documents_own_example_is_accepted(stock: StockTarget) -> None:
    delivery = stock.platform.send(example_request(stock.credentials))
    check_success("the document's example, verbatim (U+2011 hyphens included)", delivery, case="document-example")


@rule("stock.format")
@pytest.mark.probe
def test_the_documents_own_example_is_stored_as_printed(stock: StockTarget, probe: Probe) -> None:
    request = example_request(stock.credentials)
    check_success("the document's example, verbatim", stock.platform.send(request), case="document-example")
    (row,) = rows_of(request)
    assert_held(probe, row, "the document's example: its entry as printed (U+2011 read as '-')", "document-example")


FORMAT_CASES = ["nulls-in-optional-columns", "non-ascii-text"]


@rule("stock.format")
@pytest.mark.parametrize(("name", "row"), at_positions(FORMAT_CASES))
def test_nulls_and_non_ascii_text_are_accepted(stock: StockTarget, generator: StockGenerator, name: str,
                                               row: int) -> None:
    send(stock, generator, name, row).accepted()


@rule("stock.format")
@pytest.mark.probe
@pytest.mark.parametrize(("name", "row"), at_positions(FORMAT_CASES))
def test_nulls_and_non_ascii_text_are_stored_as_sent(stock: StockTarget, probe: Probe, generator: StockGenerator,
                                                     name: str, row: int) -> None:
    accepted_and_stored(stock, probe, generator, name, row)


@rule("stock.replay-accepted")
def test_a_push_received_again_is_accepted(stock: StockTarget, generator: StockGenerator) -> None:
    request = generator.sample_push(5).to_request(stock.credentials)
    first, again = stock.platform.send(request), stock.platform.send(request)
    check_success("a conforming push", first)
    check_success("the same push again", again)


# --- credentials ------------------------------------------------------------------------------------


@rule("stock.credentials")
@pytest.mark.parametrize("name", sorted(NEEDS_CREDENTIALS))
def test_missing_or_wrong_credentials_are_refused(stock: StockTarget, generator: StockGenerator, name: str) -> None:
    sent = send(stock, generator, name)
    check_refused(sent.what, sent.delivery, case=sent.again)


@rule("stock.credentials-401")
@pytest.mark.parametrize("name", sorted(NEEDS_CREDENTIALS))
def test_missing_or_wrong_credentials_are_401(stock: StockTarget, generator: StockGenerator, name: str) -> None:
    sent = send(stock, generator, name)
    check_status(sent.what, sent.delivery, MALFORMATIONS[name].expect, case=sent.again)


@rule("stock.credentials-store-nothing")
@pytest.mark.probe
@pytest.mark.parametrize("name", sorted(NEEDS_CREDENTIALS))
def test_nothing_of_a_push_with_wrong_credentials_is_stored(stock: StockTarget, probe: Probe,
                                                            generator: StockGenerator, name: str) -> None:
    sent = send(stock, generator, name)
    check_refused(sent.what, sent.delivery, case=sent.again)
    for stock_id in sent.ctx.push.ids():
        assert_absent(probe, stock_id, f"{sent.what}: an entry of the refused push", sent.again)


# --- ADD, UPD, DEL ------------------------------------------------------------------------------------


@rule("stock.db-action")
@pytest.mark.probe
def test_stock_follows_add_update_delete(stock: StockTarget, probe: Probe) -> None:
    generator = fresh_generator()
    first = generator.first_push(30)
    push_ok(stock, first, "the first push (ADD)")
    sent = set(first.ids())
    for n in range(3):
        delta = generator.delta(12)
        push_ok(stock, delta, f"delta {n + 1} (UPD/DEL/ADD)")
        sent |= set(delta.ids())
    assert_state(probe, generator, sent, "after a first push and three deltas")


UPDATE_CASES = ["add-then-update-same-push", "update-to-null"]


@rule("stock.db-action")
@pytest.mark.parametrize(("name", "row"), at_positions(UPDATE_CASES))
def test_an_update_in_the_same_or_a_later_push_is_accepted(stock: StockTarget, generator: StockGenerator,
                                                           name: str, row: int) -> None:
    send(stock, generator, name, row).accepted()


@rule("stock.db-action")
@pytest.mark.probe
@pytest.mark.parametrize(("name", "row"), at_positions(UPDATE_CASES))
def test_an_update_holds_every_column_as_it_says(stock: StockTarget, probe: Probe, generator: StockGenerator,
                                                 name: str, row: int) -> None:
    accepted_and_stored(stock, probe, generator, name, row)


# --- malformed pushes ------------------------------------------------------------------------------

BODY_CASES = [case.name for case in MALFORMATIONS if case.name not in NEEDS_CREDENTIALS]


@rule("stock.structural")
@pytest.mark.parametrize(("name", "row"), at_positions(BODY_CASES))
def test_a_malformed_push_is_refused(stock: StockTarget, generator: StockGenerator, name: str, row: int) -> None:
    sent = send(stock, generator, name, row)
    check_refused(sent.what, sent.delivery, case=sent.again)


@rule("stock.status-codes")
@pytest.mark.parametrize(("name", "row"), at_positions(BODY_CASES))
def test_a_malformed_push_gets_its_status(stock: StockTarget, generator: StockGenerator, name: str,
                                          row: int) -> None:
    sent = send(stock, generator, name, row)
    check_status(sent.what, sent.delivery, MALFORMATIONS[name].expect, case=sent.again)


@rule("stock.structural")
@pytest.mark.probe
@pytest.mark.parametrize(("name", "row"), at_positions(BODY_CASES))
def test_nothing_of_a_refused_push_is_applied(stock: StockTarget, probe: Probe, generator: StockGenerator,
                                              name: str, row: int) -> None:
    sent = send(stock, generator, name, row)
    check_refused(sent.what, sent.delivery, case=sent.again)
    for stock_id in sent.ctx.push.ids():  # the rows of the push that were fine are not applied either
        assert_absent(probe, stock_id, f"{sent.what}: a row of the refused push", sent.again)


# --- what the platform may send that a strict reading would refuse ------------------------------------


@rule("stock.alias")
@pytest.mark.parametrize(("name", "row"), at_positions(["internalStockId-alias"]))
def test_a_push_keyed_by_internal_stock_id_is_accepted(stock: StockTarget, generator: StockGenerator, name: str,
                                                       row: int) -> None:
    send(stock, generator, name, row).accepted()


@rule("stock.alias")
@pytest.mark.probe
@pytest.mark.parametrize(("name", "row"), at_positions(["internalStockId-alias"]))
def test_a_push_keyed_by_internal_stock_id_is_stored_under_those_ids(stock: StockTarget, probe: Probe,
                                                                     generator: StockGenerator, name: str,
                                                                     row: int) -> None:
    accepted_and_stored(stock, probe, generator, name, row)


DASH_CASES = ["u2011-hyphens", "other-unicode-dashes"]


@rule("stock.dashes")
@pytest.mark.parametrize(("name", "row"), at_positions(DASH_CASES))
def test_dates_and_codes_with_unicode_dashes_are_accepted(stock: StockTarget, generator: StockGenerator, name: str,
                                                          row: int) -> None:
    send(stock, generator, name, row).accepted()


@rule("stock.dashes")
@pytest.mark.probe
@pytest.mark.parametrize(("name", "row"), at_positions(DASH_CASES))
def test_dates_and_codes_with_unicode_dashes_are_stored_with_hyphens(stock: StockTarget, probe: Probe,
                                                                     generator: StockGenerator, name: str,
                                                                     row: int) -> None:
    accepted_and_stored(stock, probe, generator, name, row)


CASE_CASES = ["lowercase-codes", "lowercase-upd-and-del"]


@rule("stock.case")
@pytest.mark.parametrize(("name", "row"), at_positions(CASE_CASES))
def test_lower_case_codes_are_accepted(stock: StockTarget, generator: StockGenerator, name: str, row: int) -> None:
    send(stock, generator, name, row).accepted()


@rule("stock.case")
@pytest.mark.probe
@pytest.mark.parametrize(("name", "row"), at_positions(CASE_CASES))
def test_lower_case_codes_mean_what_upper_case_ones_do(stock: StockTarget, probe: Probe, generator: StockGenerator,
                                                       name: str, row: int) -> None:
    accepted_and_stored(stock, probe, generator, name, row)


CODE_CASES = ["unknown-condition-code", "unknown-unit-code", "non-iata-location"]


@rule("stock.codes-kept")
@pytest.mark.parametrize(("name", "row"), at_positions(CODE_CASES))
def test_unknown_codes_are_accepted(stock: StockTarget, generator: StockGenerator, name: str, row: int) -> None:
    send(stock, generator, name, row).accepted()


@rule("stock.codes-kept")
@pytest.mark.probe
@pytest.mark.parametrize(("name", "row"), at_positions(CODE_CASES))
def test_unknown_codes_are_stored_as_sent(stock: StockTarget, probe: Probe, generator: StockGenerator, name: str,
                                          row: int) -> None:
    accepted_and_stored(stock, probe, generator, name, row)


@rule("stock.length-quantity")
@pytest.mark.parametrize(("name", "row"), at_positions(["fractional-length-quantity"]))
def test_a_fractional_length_is_accepted(stock: StockTarget, generator: StockGenerator, name: str, row: int) -> None:
    send(stock, generator, name, row).accepted()


@rule("stock.length-quantity")
@pytest.mark.probe
@pytest.mark.parametrize(("name", "row"), at_positions(["fractional-length-quantity"]))
def test_a_fractional_length_is_stored_exactly(stock: StockTarget, probe: Probe, generator: StockGenerator,
                                               name: str, row: int) -> None:
    accepted_and_stored(stock, probe, generator, name, row)


# --- late and repeated pushes (state probe) ----------------------------------------------------------


@rule("stock.older-never-wins")
@pytest.mark.probe
def test_a_late_older_change_does_not_win(stock: StockTarget, probe: Probe) -> None:
    generator = fresh_generator()
    first = generator.first_push(10)
    push_ok(stock, first, "the first push")
    delta = generator.delta(8, updates=0.5, deletes=0.5)
    push_ok(stock, delta, "a delta")
    push_ok(stock, generator.stale_copy(delta), "the same ids as UPD, with older timeStampEntry and other values")
    assert_state(probe, generator, set(first.ids()) | set(delta.ids()),
                 "after older UPDs of the same entries came late")


@rule("stock.older-never-wins")
@pytest.mark.probe
def test_a_late_older_delete_does_not_remove_a_newer_entry(stock: StockTarget, probe: Probe) -> None:
    generator = fresh_generator()
    first = generator.first_push(10)
    push_ok(stock, first, "the first push")
    delta = generator.delta(8, updates=0.5, deletes=0.25)
    push_ok(stock, delta, "a delta (UPD, DEL, ADD)")
    push_ok(stock, generator.stale_copy(delta, "DEL"), "the same ids as DEL, with older timeStampEntry")
    assert_state(probe, generator, set(first.ids()) | set(delta.ids()),
                 "after older DELs of entries added or updated since came late")


@rule("stock.older-never-wins")
@pytest.mark.probe
def test_an_add_that_arrives_after_its_delete_stays_deleted(stock: StockTarget, probe: Probe,
                                                            generator: StockGenerator) -> None:
    added = generator.sample_push(CASE_ROWS)
    push_ok(stock, later(added, 60, "DEL"), "DELs of entries the receiver has not seen added yet")
    push_ok(stock, added, "their ADDs, one minute older than the DELs, arriving late")
    for stock_id in added.ids():
        assert_absent(probe, stock_id, "an entry whose DEL came before its older ADD")


@rule("stock.replay-changes-nothing")
@pytest.mark.probe
def test_the_latest_push_received_again_changes_nothing(stock: StockTarget, probe: Probe) -> None:
    generator = fresh_generator()
    first = generator.first_push(10)
    push_ok(stock, first, "the first push")
    delta = generator.delta(10, updates=0.4, deletes=0.2)
    push_ok(stock, delta, "a delta adding, updating and deleting")
    push_ok(stock, delta, "the same delta again")
    assert_state(probe, generator, set(first.ids()) | set(delta.ids()), "after the latest push came again")


@rule("stock.replay-changes-nothing")
@pytest.mark.probe
def test_an_older_push_received_again_changes_nothing(stock: StockTarget, probe: Probe) -> None:
    generator = fresh_generator()
    first = generator.first_push(10)
    push_ok(stock, first, "the first push")
    delta = generator.delta(10, updates=0.8, deletes=0.2)
    push_ok(stock, delta, "a delta updating and deleting")
    push_ok(stock, first, "the first push again (replayed)")
    assert_state(probe, generator, set(first.ids()) | set(delta.ids()), "after the first push came again")

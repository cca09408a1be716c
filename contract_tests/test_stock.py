"""Contract of the stock push (stock-push.rst; decisions stock-1 … stock-6), checked from the outside."""

from __future__ import annotations

import random
import unicodedata
from typing import Any
from urllib.parse import urlparse

import pytest

from contract_tests.report import check, check_accepted, check_refused, check_status
from contract_tests.rules import rule
from contract_tests.targets import Probe, StockTarget
from simulator.core import Case, Request
from simulator.http import Delivery
from simulator.stock import (
    COLUMNS,
    GOOD_CASES,
    MALFORMATIONS,
    NEEDS_CREDENTIALS,
    StockCaseContext,
    StockGenerator,
    StockPush,
    example_request,
)


@pytest.fixture(scope="module")
def generator() -> StockGenerator:
    # A fresh seed per run: a receiver that keeps its data between runs sees new stock ids each time.
    return StockGenerator(seed=random.SystemRandom().randrange(2**32))


def context(stock: StockTarget, generator: StockGenerator) -> StockCaseContext:
    return StockCaseContext(push=generator.sample_push(3), credentials=stock.credentials,
                            max_body_bytes=stock.max_body_bytes)


def send_case(stock: StockTarget, case: Case[StockCaseContext, Request], ctx: StockCaseContext) -> Delivery:
    """What the receiver answers to the one request of a stock case."""
    (request,) = case.build(ctx)
    return stock.platform.send(request)


# --- what the document says ---------------------------------------------------------------------


@rule("stock.ssl")
def test_the_connection_is_ssl_encrypted(stock: StockTarget, generator: StockGenerator) -> None:
    url = stock.platform.sender.base_url
    check(urlparse(url).scheme == "https", f"{url} is not an https:// URL", expected="an HTTPS endpoint")
    delivery = stock.platform.push(generator.sample_push(1))  # the TLS handshake is verified by the sender
    check_accepted("a conforming push over TLS", delivery)


@rule("stock.format")
def test_the_documents_own_example_is_accepted(stock: StockTarget) -> None:
    delivery = stock.platform.send(example_request(stock.credentials))
    check_accepted("the document's example, verbatim (U+2011 hyphens included)", delivery, case="document-example")


@rule("stock.post")
def test_a_conforming_push_is_accepted_with_200(stock: StockTarget, generator: StockGenerator) -> None:
    push = generator.sample_push(50)
    check_accepted(f"a conforming push of {len(push)} rows", stock.platform.push(push))


@rule("stock.credentials")
@pytest.mark.parametrize("name", sorted(NEEDS_CREDENTIALS))
def test_missing_or_wrong_credentials_are_refused(stock: StockTarget, generator: StockGenerator, name: str) -> None:
    case = MALFORMATIONS[name]
    delivery = send_case(stock, case, context(stock, generator))
    check_refused(f"{name}: {case.description}", delivery, case=name)


@rule("stock.credentials-401")
@pytest.mark.parametrize("name", sorted(NEEDS_CREDENTIALS))
def test_missing_or_wrong_credentials_are_401(stock: StockTarget, generator: StockGenerator, name: str) -> None:
    case = MALFORMATIONS[name]
    check_status(f"{name}: {case.description}", send_case(stock, case, context(stock, generator)),
                 case.expect, case=name)


@rule("stock.format")
def test_a_replayed_push_is_accepted_with_200(stock: StockTarget, generator: StockGenerator) -> None:
    request = generator.sample_push(5).to_request(stock.credentials)
    first, again = stock.platform.send(request), stock.platform.send(request)
    check_accepted("a conforming push", first)
    check_accepted("the same push again", again)


# --- malformed pushes ------------------------------------------------------------------------------

BODY_CASES = [case.name for case in MALFORMATIONS if case.name not in NEEDS_CREDENTIALS]


@rule("stock.structural")
@pytest.mark.parametrize("name", BODY_CASES)
def test_a_malformed_push_is_refused(stock: StockTarget, generator: StockGenerator, name: str) -> None:
    case = MALFORMATIONS[name]
    delivery = send_case(stock, case, context(stock, generator))
    check_refused(f"{name}: {case.description}", delivery, case=name)


@rule("stock.status-codes")
@pytest.mark.parametrize("name", BODY_CASES)
def test_a_malformed_push_gets_its_status(stock: StockTarget, generator: StockGenerator, name: str) -> None:
    case = MALFORMATIONS[name]
    check_status(f"{name}: {case.description}", send_case(stock, case, context(stock, generator)),
                 case.expect, case=name)


@rule("stock.codes-kept")
@pytest.mark.parametrize("name", GOOD_CASES.names())
def test_a_variant_the_platform_may_send_is_accepted(stock: StockTarget, generator: StockGenerator,
                                                     name: str) -> None:
    case = GOOD_CASES[name]
    check_status(f"{name}: {case.description}", send_case(stock, case, context(stock, generator)),
                 case.expect, case=name)


# --- what was stored (state probe) --------------------------------------------------------------------


def _normal(value: Any) -> Any:
    if isinstance(value, str):
        text = "".join("-" if unicodedata.category(ch) == "Pd" else ch for ch in value)
        return text.strip().casefold()
    return value


def same(sent: Any, stored: Any) -> bool:
    """Equal as the probe protocol allows: numbers numerically, codes case- and dash-insensitively."""
    if isinstance(sent, bool) or sent is None:
        return stored == sent
    if isinstance(sent, int | float):
        return isinstance(stored, int | float) and not isinstance(stored, bool) and abs(stored - sent) < 1e-6
    return _normal(sent) == _normal(stored)


def assert_held(probe: Probe, row: dict[str, Any], what: str) -> None:
    status, stored = probe.get(f"stock/{row['connectorStockId']}")
    check(status == 200, what, expected=f"stock entry {row['connectorStockId']} held",
          found=f"the probe answered {status}: {stored!r}"[:300])
    wrong = {name: (row[name], stored.get(name)) for name in COLUMNS
             if name != "dbAction" and not same(row[name], stored.get(name))}
    check(not wrong, what, expected=f"stock entry {row['connectorStockId']} as last sent",
          found=f"it differs (column: (sent, stored)): {wrong}"[:600])


def assert_absent(probe: Probe, stock_id: str, what: str) -> None:
    status, stored = probe.get(f"stock/{stock_id}")
    check(status == 404, what, expected=f"stock entry {stock_id} not held",
          found=f"the probe answered {status}: {stored!r}"[:300])


def push_ok(stock: StockTarget, push: StockPush, what: str) -> None:
    check_accepted(what, stock.platform.push(push))


@rule("stock.db-action")
@pytest.mark.probe
def test_stock_follows_add_update_delete(stock: StockTarget, probe: Probe) -> None:
    generator = StockGenerator(seed=random.SystemRandom().randrange(2**32))
    first = generator.first_push(30)
    push_ok(stock, first, "the first push (ADD)")
    sent = set(first.ids())
    for n in range(3):
        delta = generator.delta(12)
        push_ok(stock, delta, f"delta {n + 1} (UPD/DEL/ADD)")
        sent |= set(delta.ids())
    state = generator.state()
    for row in state.values():
        assert_held(probe, row, "after a first push and three deltas, every entry as last sent")
    for stock_id in sent - set(state):
        assert_absent(probe, stock_id, "an entry deleted by a DEL")


@rule("stock.structural")
@pytest.mark.probe
@pytest.mark.parametrize("name", ["length-mismatch", "bad-date", "unknown-dbAction", "wrong-type-leadTime"])
def test_nothing_of_a_rejected_push_is_applied(stock: StockTarget, probe: Probe, generator: StockGenerator,
                                              name: str) -> None:
    ctx = context(stock, generator)
    delivery = send_case(stock, MALFORMATIONS[name], ctx)
    check_refused(name, delivery, case=name)
    for stock_id in ctx.push.ids():  # the rows of the push that were fine are not applied either
        assert_absent(probe, stock_id, f"{name}: a row of the refused push")


@rule("stock.replay-changes-nothing")
@pytest.mark.probe
def test_a_replayed_push_changes_nothing(stock: StockTarget, probe: Probe) -> None:
    generator = StockGenerator(seed=random.SystemRandom().randrange(2**32))
    first = generator.first_push(10)
    push_ok(stock, first, "the first push")
    push_ok(stock, generator.delta(10, updates=0.8, deletes=0.2), "a delta updating and deleting")
    push_ok(stock, first, "the first push again (replayed)")
    for row in generator.state().values():
        assert_held(probe, row, "after the first push came again, every entry as the delta left it")
    for stock_id in set(first.ids()) - set(generator.state()):
        assert_absent(probe, stock_id, "an entry the delta deleted, after the first push came again")


@rule("stock.older-never-wins")
@pytest.mark.probe
def test_a_late_older_change_does_not_win(stock: StockTarget, probe: Probe) -> None:
    generator = StockGenerator(seed=random.SystemRandom().randrange(2**32))
    push_ok(stock, generator.first_push(10), "the first push")
    delta = generator.delta(8, updates=0.5, deletes=0.5)
    push_ok(stock, delta, "a delta")
    push_ok(stock, generator.stale_copy(delta), "the same ids with older timeStampEntry and other values")
    for row in generator.state().values():
        assert_held(probe, row, "after older changes of the same entries came late")
    for stock_id in set(delta.ids()) - set(generator.state()):
        assert_absent(probe, stock_id, "a deleted entry, after an older ADD/UPD of it came late")


"""Contract of the stock push (stock-push.rst, NOTES.md §1), checked from the outside."""

from __future__ import annotations

import random
import unicodedata
from typing import Any
from urllib.parse import urlparse

import pytest

from contract_tests.report import check_refused, check_status, explain, must, should, spec
from contract_tests.targets import Probe, StockTarget, Target
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

SSL = 'stock-push.rst: "The connection should be SSL encrypted."'
POST = 'stock-push.rst: "The endpoint should accept HTTP POST requests."'
CREDENTIALS = ('stock-push.rst: "The endpoint should be secured with credentials. These credentials are '
               'provided as header fields."')
FORMAT = ('stock-push.rst: "The endpoint should accept data in format and scope as defined in the '
          'following."')
DB_ACTION = ('stock-push.rst: "The field dbAction contains the specification what has been changed": ADD added, '
             'UPD updated, DEL removed')
STRUCTURAL = ('NOTES.md §1: "A structural error (not an object, data missing, arrays of unequal length, a wrong '
              'type, a missing key column, an unknown dbAction) rejects the whole push: nothing of it is applied."')
OLDER = ('NOTES.md §1: "an older change (by timeStampEntry) never overwrites a newer one, so a replayed or late '
         'push cannot roll stock back."')


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


@must
@spec(SSL)
def test_the_connection_is_ssl_encrypted(target: Target, stock: StockTarget, generator: StockGenerator) -> None:
    assert urlparse(target.receiver_url).scheme == "https", f"{target.receiver_url} is not an https:// URL ({SSL})"
    delivery = stock.platform.push(generator.sample_push(1))  # the TLS handshake is verified by the sender
    assert delivery.status == 200, explain("a conforming push over TLS", delivery, "200", SSL)


@must
@spec(FORMAT)
def test_the_documents_own_example_is_accepted(stock: StockTarget) -> None:
    delivery = stock.platform.send(example_request(stock.credentials))
    assert delivery.status == 200, explain("the document's example, verbatim (U+2011 hyphens included)",
                                           delivery, "200", FORMAT)


@must
@spec(POST)
def test_a_conforming_push_is_accepted_with_200(stock: StockTarget, generator: StockGenerator) -> None:
    push = generator.sample_push(50)
    delivery = stock.platform.push(push)
    assert delivery.status == 200, explain(f"a conforming push of {len(push)} rows", delivery, "200", POST)


@must
@spec(CREDENTIALS)
@pytest.mark.parametrize("name", sorted(NEEDS_CREDENTIALS))
def test_missing_or_wrong_credentials_are_refused(stock: StockTarget, generator: StockGenerator, name: str) -> None:
    case = MALFORMATIONS[name]
    delivery = send_case(stock, case, context(stock, generator))
    check_refused(f"{name}: {case.description}", delivery, CREDENTIALS)


@should
@spec(CREDENTIALS + " — refused as 401 Unauthorized")
@pytest.mark.parametrize("name", sorted(NEEDS_CREDENTIALS))
def test_missing_or_wrong_credentials_are_401(stock: StockTarget, generator: StockGenerator, name: str) -> None:
    case = MALFORMATIONS[name]
    check_status(f"{name}: {case.description}", send_case(stock, case, context(stock, generator)),
                 case.expect)


@must
@spec(FORMAT)
def test_a_replayed_push_is_accepted_with_200(stock: StockTarget, generator: StockGenerator) -> None:
    request = generator.sample_push(5).to_request(stock.credentials)
    first, again = stock.platform.send(request), stock.platform.send(request)
    assert first.status == 200, explain("a conforming push", first, "200", FORMAT)
    assert again.status == 200, explain("the same push again", again, "200", FORMAT)


# --- malformed pushes ------------------------------------------------------------------------------

BODY_CASES = [case.name for case in MALFORMATIONS if case.name not in NEEDS_CREDENTIALS]


@should
@spec(STRUCTURAL)
@pytest.mark.parametrize("name", BODY_CASES)
def test_a_malformed_push_is_refused(stock: StockTarget, generator: StockGenerator, name: str) -> None:
    case = MALFORMATIONS[name]
    delivery = send_case(stock, case, context(stock, generator))
    check_refused(f"{name}: {case.description}", delivery, case.expect.spec)


@should
@spec("NOTES.md §1 and our decisions: 400 not JSON, 415 not a JSON media type, 413 over the body limit, "
      "422 a schema error")
@pytest.mark.parametrize("name", BODY_CASES)
def test_a_malformed_push_gets_its_status(stock: StockTarget, generator: StockGenerator, name: str) -> None:
    case = MALFORMATIONS[name]
    check_status(f"{name}: {case.description}", send_case(stock, case, context(stock, generator)),
                 case.expect)


@should
@spec("NOTES.md §1 decisions (alias, unknown codes kept as warnings, U+2011 read as '-')")
@pytest.mark.parametrize("name", GOOD_CASES.names())
def test_a_variant_the_platform_may_send_is_accepted(stock: StockTarget, generator: StockGenerator,
                                                     name: str) -> None:
    case = GOOD_CASES[name]
    check_status(f"{name}: {case.description}", send_case(stock, case, context(stock, generator)),
                 case.expect)


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


def assert_held(probe: Probe, row: dict[str, Any], requirement: str) -> None:
    status, stored = probe.get(f"stock/{row['connectorStockId']}")
    assert status == 200, f"stock entry {row['connectorStockId']} should be held, the probe answered {status}: " \
                          f"{stored!r}\n  requirement: {requirement}"
    wrong = {name: (row[name], stored.get(name)) for name in COLUMNS
             if name != "dbAction" and not same(row[name], stored.get(name))}
    assert not wrong, f"stock entry {row['connectorStockId']} differs (column: (sent, stored)): {wrong}\n" \
                      f"  requirement: {requirement}"


def assert_absent(probe: Probe, stock_id: str, requirement: str) -> None:
    status, stored = probe.get(f"stock/{stock_id}")
    assert status == 404, f"stock entry {stock_id} should not be held, the probe answered {status}: " \
                          f"{stored!r}\n  requirement: {requirement}"


def push_ok(stock: StockTarget, push: StockPush, what: str) -> None:
    delivery = stock.platform.push(push)
    assert delivery.status == 200, explain(what, delivery, "200", FORMAT)


@must
@spec(DB_ACTION)
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
        assert_held(probe, row, DB_ACTION)
    for stock_id in sent - set(state):
        assert_absent(probe, stock_id, DB_ACTION + " (DEL)")


@should
@spec(STRUCTURAL)
@pytest.mark.probe
@pytest.mark.parametrize("name", ["length-mismatch", "bad-date", "unknown-dbAction", "wrong-type-leadTime"])
def test_nothing_of_a_rejected_push_is_applied(stock: StockTarget, probe: Probe, generator: StockGenerator,
                                              name: str) -> None:
    ctx = context(stock, generator)
    delivery = send_case(stock, MALFORMATIONS[name], ctx)
    check_refused(name, delivery, STRUCTURAL)
    for stock_id in ctx.push.ids():  # the rows of the push that were fine are not applied either
        assert_absent(probe, stock_id, STRUCTURAL)


@should
@spec(OLDER)
@pytest.mark.probe
def test_a_replayed_push_changes_nothing(stock: StockTarget, probe: Probe) -> None:
    generator = StockGenerator(seed=random.SystemRandom().randrange(2**32))
    first = generator.first_push(10)
    push_ok(stock, first, "the first push")
    push_ok(stock, generator.delta(10, updates=0.8, deletes=0.2), "a delta updating and deleting")
    push_ok(stock, first, "the first push again (replayed)")
    for row in generator.state().values():
        assert_held(probe, row, OLDER)
    for stock_id in set(first.ids()) - set(generator.state()):
        assert_absent(probe, stock_id, OLDER)


@should
@spec(OLDER)
@pytest.mark.probe
def test_a_late_older_change_does_not_win(stock: StockTarget, probe: Probe) -> None:
    generator = StockGenerator(seed=random.SystemRandom().randrange(2**32))
    push_ok(stock, generator.first_push(10), "the first push")
    delta = generator.delta(8, updates=0.5, deletes=0.5)
    push_ok(stock, delta, "a delta")
    push_ok(stock, generator.stale_copy(delta), "the same ids with older timeStampEntry and other values")
    for row in generator.state().values():
        assert_held(probe, row, OLDER)
    for stock_id in set(delta.ids()) - set(generator.state()):
        assert_absent(probe, stock_id, OLDER + " (a deleted entry stays deleted)")


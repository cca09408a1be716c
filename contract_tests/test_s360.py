"""Contract of the S-360 inventory webhook (s360-inventory-webhook.txt; decisions s360-1 … s360-6), from the
outside."""

from __future__ import annotations

import random
from typing import Any

import pytest

from contract_tests.report import check, check_accepted, check_refused, check_status
from contract_tests.rules import rule
from contract_tests.targets import Probe, S360Target
from simulator.core import Request
from simulator.s360 import (
    GOOD_CASES,
    MALFORMATIONS,
    ProductGenerator,
    S360CaseContext,
    encode_json,
    webhook_headers,
)


def fresh_products(count: int = 4) -> list[dict[str, Any]]:
    """Products with ids no earlier run used (a receiver may keep its data between runs)."""
    first = random.SystemRandom().randrange(10**13, 9 * 10**15)
    return ProductGenerator(seed=first % 2**32, size=count, first_id=first).inventory()


def context(s360: S360Target) -> S360CaseContext:
    return S360CaseContext(products=fresh_products(), auth=s360.auth, max_body_bytes=s360.max_body_bytes)


@rule("s360.exactly-200")
def test_the_documents_example_is_accepted_with_exactly_200(s360: S360Target) -> None:
    (request,) = GOOD_CASES["document-example"].build(context(s360))
    delivery = s360.send(request)
    check_accepted("the document's example, verbatim", delivery, case="document-example")


@rule("s360.exactly-200")
def test_a_whole_inventory_in_batches_is_accepted_at_the_first_attempt(s360: S360Target) -> None:
    report = s360.platform.run(fresh_products(25))
    failed = [b.attempts[-1].describe() for b in report.batches if not b.delivered]
    check(len(report.batches) == 3 and not failed, "a whole inventory of 25 products in batches of 10",
          expected="each of the 3 batches answered exactly 200 at its first attempt", found=f"not delivered: {failed}")


@rule("s360.exactly-200")
def test_a_reposted_batch_is_accepted_with_200(s360: S360Target) -> None:
    request = Request(encode_json(fresh_products(3)), webhook_headers(s360.auth))
    for attempt in ("first post", "re-post of the same bytes"):
        delivery = s360.send(request)
        check_accepted(attempt, delivery)


@rule("s360.repost-changes-nothing")
@pytest.mark.probe
def test_a_reposted_batch_changes_nothing(s360: S360Target, probe: Probe) -> None:
    products = fresh_products(3)
    request = Request(encode_json(products), webhook_headers(s360.auth))
    check_accepted("the first post", s360.send(request))
    before = {p["id"]: stored(probe, p["id"]) for p in products}
    check_accepted("the re-post of the same bytes", s360.send(request))
    for product in products:
        after, first = stored(probe, product["id"]), before[product["id"]]
        check(first is not None and after is not None, "a posted batch", expected=f"product {product['id']} stored",
              found="the probe does not have it")
        assert first is not None and after is not None
        check((after["document"], after["lastChangedDelivery"]) == (first["document"], first["lastChangedDelivery"]),
              "the same batch re-posted", expected=f"product {product['id']} unchanged",
              found=f"lastChangedDelivery {first['lastChangedDelivery']} → {after['lastChangedDelivery']}")


AUTH_CASES = [c.name for c in MALFORMATIONS if c.name.startswith(("basic-", "api-key-"))]
BODY_CASES = [c.name for c in MALFORMATIONS if c.name not in AUTH_CASES]


def _applicable(s360: S360Target, name: str) -> tuple[Any, Request, S360CaseContext]:
    ctx = context(s360)
    case = MALFORMATIONS[name]
    if not case.applies(ctx):
        pytest.skip(f"{name} does not apply to authentication mode {s360.auth.mode}")
    (request,) = case.build(ctx)
    return case, request, ctx


@rule("s360.auth")
@pytest.mark.parametrize("name", AUTH_CASES)
def test_wrong_credentials_are_refused(s360: S360Target, name: str) -> None:
    case, request, _ = _applicable(s360, name)
    check_refused(f"{name}: {case.description}", s360.send(request), case=name)


@rule("s360.auth-401")
@pytest.mark.parametrize("name", AUTH_CASES)
def test_wrong_credentials_are_401(s360: S360Target, name: str) -> None:
    case, request, _ = _applicable(s360, name)
    check_status(f"{name}: {case.description}", s360.send(request), case.expect, case=name)


@rule("s360.invalid-batch")
@pytest.mark.parametrize("name", BODY_CASES)
def test_a_malformed_batch_is_refused(s360: S360Target, name: str) -> None:
    case, request, _ = _applicable(s360, name)
    check_refused(f"{name}: {case.description}", s360.send(request), case=name)


@rule("s360.status-codes")
@pytest.mark.parametrize("name", BODY_CASES)
def test_a_malformed_batch_gets_its_status(s360: S360Target, name: str) -> None:
    case, request, _ = _applicable(s360, name)
    check_status(f"{name}: {case.description}", s360.send(request), case.expect, case=name)


@rule("s360.batches-accepted")
@pytest.mark.parametrize("name", GOOD_CASES.names())
def test_a_batch_the_platform_may_send_is_accepted(s360: S360Target, name: str) -> None:
    case, ctx = GOOD_CASES[name], context(s360)
    if not case.applies(ctx):
        pytest.skip(f"{name} does not apply here")
    (request,) = case.build(ctx)
    check_status(f"{name}: {case.description}", s360.send(request), case.expect, case=name)


# --- what was stored (state probe) --------------------------------------------------------------------


def stored(probe: Probe, product_id: int) -> dict[str, Any] | None:
    status, body = probe.get(f"s360/products/{product_id}")
    return body if status == 200 else None


@rule("s360.invalid-batch")
@pytest.mark.probe
@pytest.mark.parametrize("name", AUTH_CASES + BODY_CASES)
def test_nothing_of_a_rejected_batch_is_applied(s360: S360Target, probe: Probe, name: str) -> None:
    case, request, ctx = _applicable(s360, name)
    check_refused(name, s360.send(request), case=name)
    held = [p["id"] for p in ctx.products if stored(probe, p["id"]) is not None]
    check(not held, f"{name}: a refused batch", expected="none of its products stored", found=f"stored: {held}",
          case=name)


@rule("s360.stored-by-id")
@pytest.mark.probe
def test_each_product_is_stored_by_id_with_its_full_document(s360: S360Target, probe: Probe) -> None:
    products = fresh_products(12)
    check(not s360.platform.run(products).abandoned, "12 products in batches", expected="every batch accepted")
    for product in products:
        held = stored(probe, product["id"])
        check(held is not None, "a delivered product", expected=f"product {product['id']} stored",
              found="the probe does not have it")
        assert held is not None
        check(held["document"] == product, "a delivered product", expected=f"product {product['id']}'s document "
              "as sent", found=f"stored: {str(held['document'])[:300]}")


@rule("s360.stored-by-id")
@pytest.mark.probe
def test_unchanged_products_are_reported_unchanged(s360: S360Target, probe: Probe) -> None:
    seed = random.SystemRandom().randrange(2**32)
    generator = ProductGenerator(seed=seed, size=15, first_id=10**14 + seed * 1000)
    assert not s360.platform.run(generator.inventory()).abandoned
    first = {p["id"]: stored(probe, p["id"]) for p in generator.inventory()}
    assert not s360.platform.run(generator.inventory()).abandoned  # the same inventory again
    changed = set(generator.next_run(0.3))
    assert not s360.platform.run(generator.inventory()).abandoned
    for product_id, before in first.items():
        after = stored(probe, product_id)
        check(before is not None and after is not None, "three runs of an inventory",
              expected=f"product {product_id} stored", found="the probe does not have it")
        assert before is not None and after is not None
        moved = after["lastChangedDelivery"] != before["lastChangedDelivery"]
        check(moved == (product_id in changed), "three runs of an inventory, 30% of it changed before the third",
              expected=f"product {product_id} {'changed' if product_id in changed else 'unchanged'}",
              found=f"lastChangedDelivery went {before['lastChangedDelivery']} → {after['lastChangedDelivery']}")


"""Contract of the S-360 inventory webhook (s360-inventory-webhook.txt, NOTES.md §2), from the outside."""

from __future__ import annotations

import random
from typing import Any

import pytest

from contract_tests.report import check_refused, check_status, explain, must, probe_mark, should, spec
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

ONLY_200 = ('s360-inventory-webhook.txt: "If the remove system answers a value different than 200, the data will '
            'be reposted N times (By default, N=12) before giving up."')
AUTH = 's360-inventory-webhook.txt: "Choose the authentication mode : NONE, BASIC_AUTH, API_KEY"'
WHOLE = ('s360-inventory-webhook.txt: "This webhook publishes the whole inventory, whatever the state of the '
         'product." — NOTES.md §2: record whether this delivery changed it (content hash)')
STORE = "NOTES.md §2 Decision: Store each product by `id`, keep its full document."
REJECT = "NOTES.md §2 Decision: only what identifies a product is required; a batch with invalid items applies nothing"


def fresh_products(count: int = 4) -> list[dict[str, Any]]:
    """Products with ids no earlier run used (a receiver may keep its data between runs)."""
    first = random.SystemRandom().randrange(10**13, 9 * 10**15)
    return ProductGenerator(seed=first % 2**32, size=count, first_id=first).inventory()


def context(s360: S360Target) -> S360CaseContext:
    return S360CaseContext(products=fresh_products(), auth=s360.auth, max_body_bytes=s360.max_body_bytes)


@must
@spec(ONLY_200)
def test_the_documents_example_is_accepted_with_exactly_200(s360: S360Target) -> None:
    (request,) = GOOD_CASES["document-example"].build(context(s360))
    delivery = s360.send(request)
    assert delivery.status == 200, explain("the document's example, verbatim", delivery, "exactly 200", ONLY_200)


@must
@spec(ONLY_200)
def test_a_whole_inventory_in_batches_is_accepted_at_the_first_attempt(s360: S360Target) -> None:
    report = s360.platform.run(fresh_products(25))
    assert len(report.batches) == 3
    failed = [b.attempts[-1].describe() for b in report.batches if not b.delivered]
    assert not failed, f"batches not answered exactly 200: {failed}\n  requirement: {ONLY_200}"


@must
@spec(ONLY_200)
def test_a_reposted_batch_is_accepted_with_200(s360: S360Target) -> None:
    request = Request(encode_json(fresh_products(3)), webhook_headers(s360.auth))
    for attempt in ("first post", "re-post of the same bytes"):
        delivery = s360.send(request)
        assert delivery.status == 200, explain(attempt, delivery, "exactly 200", ONLY_200)


@should
@spec(WHOLE)
@probe_mark
def test_a_reposted_batch_changes_nothing(s360: S360Target, probe: Probe) -> None:
    products = fresh_products(3)
    request = Request(encode_json(products), webhook_headers(s360.auth))
    assert s360.send(request).status == 200
    before = {p["id"]: stored(probe, p["id"]) for p in products}
    assert s360.send(request).status == 200  # the platform re-posts the same bytes
    for product in products:
        after, first = stored(probe, product["id"]), before[product["id"]]
        assert first is not None and after is not None, f"product {product['id']} not stored"
        assert (after["document"], after["lastChangedDelivery"]) == (first["document"], first["lastChangedDelivery"]), (
            f"product {product['id']} changed on a re-post of the same batch\n  requirement: {WHOLE}")


AUTH_CASES = [c.name for c in MALFORMATIONS if c.name.startswith(("basic-", "api-key-"))]
BODY_CASES = [c.name for c in MALFORMATIONS if c.name not in AUTH_CASES]


def _applicable(s360: S360Target, name: str) -> tuple[Any, Request, S360CaseContext]:
    ctx = context(s360)
    case = MALFORMATIONS[name]
    if not case.applies(ctx):
        pytest.skip(f"{name} does not apply to authentication mode {s360.auth.mode}")
    (request,) = case.build(ctx)
    return case, request, ctx


@must
@spec(AUTH)
@pytest.mark.parametrize("name", AUTH_CASES)
def test_wrong_credentials_are_refused(s360: S360Target, name: str) -> None:
    case, request, _ = _applicable(s360, name)
    check_refused(f"{name}: {case.description}", s360.send(request), AUTH)


@should
@spec(AUTH + " — refused as 401 Unauthorized")
@pytest.mark.parametrize("name", AUTH_CASES)
def test_wrong_credentials_are_401(s360: S360Target, name: str) -> None:
    case, request, _ = _applicable(s360, name)
    check_status(f"{name}: {case.description}", s360.send(request), case.expect)


@should
@spec(REJECT)
@pytest.mark.parametrize("name", BODY_CASES)
def test_a_malformed_batch_is_refused(s360: S360Target, name: str) -> None:
    case, request, _ = _applicable(s360, name)
    check_refused(f"{name}: {case.description}", s360.send(request), case.expect.spec)


@should
@spec("our decisions: 400 not JSON, 415 not a JSON media type, 413 over the body limit, 422 invalid items")
@pytest.mark.parametrize("name", BODY_CASES)
def test_a_malformed_batch_gets_its_status(s360: S360Target, name: str) -> None:
    case, request, _ = _applicable(s360, name)
    check_status(f"{name}: {case.description}", s360.send(request), case.expect)


@should
@spec("NOTES.md §2 decisions (unknown fields kept, empty and full batches)")
@pytest.mark.parametrize("name", GOOD_CASES.names())
def test_a_batch_the_platform_may_send_is_accepted(s360: S360Target, name: str) -> None:
    case, ctx = GOOD_CASES[name], context(s360)
    if not case.applies(ctx):
        pytest.skip(f"{name} does not apply here")
    (request,) = case.build(ctx)
    check_status(f"{name}: {case.description}", s360.send(request), case.expect)


# --- what was stored (state probe) --------------------------------------------------------------------


def stored(probe: Probe, product_id: int) -> dict[str, Any] | None:
    status, body = probe.get(f"s360/products/{product_id}")
    return body if status == 200 else None


@should
@spec(REJECT)
@probe_mark
@pytest.mark.parametrize("name", AUTH_CASES + BODY_CASES)
def test_nothing_of_a_rejected_batch_is_applied(s360: S360Target, probe: Probe, name: str) -> None:
    case, request, ctx = _applicable(s360, name)
    check_refused(name, s360.send(request), REJECT)
    held = [p["id"] for p in ctx.products if stored(probe, p["id"]) is not None]
    assert not held, f"{name}: products of a refused batch were stored: {held}\n  requirement: {REJECT}"


@should
@spec(STORE)
@probe_mark
def test_each_product_is_stored_by_id_with_its_full_document(s360: S360Target, probe: Probe) -> None:
    products = fresh_products(12)
    assert not s360.platform.run(products).abandoned
    for product in products:
        held = stored(probe, product["id"])
        assert held is not None, f"product {product['id']} not stored\n  requirement: {STORE}"
        assert held["document"] == product, f"product {product['id']} stored differently\n  requirement: {STORE}"


@should
@spec(WHOLE)
@probe_mark
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
        assert before is not None and after is not None
        moved = after["lastChangedDelivery"] != before["lastChangedDelivery"]
        assert moved == (product_id in changed), (
            f"product {product_id}: {'changed' if product_id in changed else 'unchanged'} between runs, but "
            f"lastChangedDelivery went {before['lastChangedDelivery']} → {after['lastChangedDelivery']}\n"
            f"  requirement: {WHOLE}")


"""Contract of the S-360 inventory webhook (s360-inventory-webhook.txt; decisions s360-1 … s360-6), from the
outside.

Each rule is checked in what was stored when a state probe is given, for every product a check sent: a
product mishandled first, in the middle or last in its batch is caught alike, and the cases that break one
product break it at each of those positions. The checks of what was stored take any 2xx as "accepted" and
then look at the store; that the answer is exactly 200 is the checks of ``s360.exactly-200``, so each rule
fails on its own."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from inventory_push_kit import fixtures
from inventory_push_kit.contract_tests.report import check, check_accepted, check_refused, check_status, fail
from inventory_push_kit.contract_tests.rules import rule
from inventory_push_kit.contract_tests.targets import Probe, S360Target
from inventory_push_kit.simulator.core import Case, Request
from inventory_push_kit.simulator.http import Delivery
from inventory_push_kit.simulator.s360 import (
    GOOD_CASES,
    MALFORMATIONS,
    POSITIONS,
    STATES,
    ProductGenerator,
    S360CaseContext,
    encode_json,
    webhook_headers,
)

PRODUCTS = 5  # a context's batch: its first (0), middle (2) and last (4) products are three


def fresh_products(count: int = PRODUCTS) -> list[dict[str, Any]]:
    """Products with ids no earlier run used (a receiver may keep its data between runs); the ids all have
    16 digits, so every case built from them has the same size in every run."""
    first = random.SystemRandom().randrange(10**15, 8 * 10**15)
    return ProductGenerator(seed=first % 2**32, size=count, first_id=first).inventory()


def context(s360: S360Target, products: list[dict[str, Any]] | None = None) -> S360CaseContext:
    return S360CaseContext(products=products or fresh_products(), auth=s360.auth, max_body_bytes=s360.max_body_bytes)


def request_of(s360: S360Target, products: list[dict[str, Any]]) -> Request:
    return Request(encode_json(products), webhook_headers(s360.auth))


def check_taken(what: str, delivery: Delivery, *, case: str | None = None) -> None:
    """Fail unless the receiver accepted the batch (a 2xx: that it is exactly 200 is s360.exactly-200's check)."""
    check(200 <= delivery.status < 300, what, expected="the batch accepted (200; any 2xx passes here, exactly 200 "
          "is rule s360.exactly-200's check)", delivery=delivery, case=case)


def post(s360: S360Target, products: list[dict[str, Any]], what: str) -> Delivery:
    """One batch, which the receiver must accept."""
    delivery = s360.send(request_of(s360, products))
    check_taken(what, delivery)
    return delivery


def post_in_batches(s360: S360Target, products: list[dict[str, Any]], what: str) -> None:
    """An inventory cut into the platform's batches, each of which the receiver must accept."""
    for batch in s360.platform.batches(products):
        post(s360, list(batch), what)


def changed(product: dict[str, Any], kind: int) -> dict[str, Any]:
    """A copy of ``product`` changed the way the platform's products change between runs: 0 a price deep in
    a performance, 1 the state, 2 the name."""
    copy: dict[str, Any] = json.loads(json.dumps(product))
    if kind % 3 == 0:
        copy["event"]["performances"][-1]["prices"][-1]["amount"] += 500
    elif kind % 3 == 1:
        copy["state"] = next(state for state in STATES if state != copy.get("state"))
    else:
        translation = copy["externalName"]["translations"][0]
        translation["value"] = f"{translation['value']} – Reprise"
    return copy


def reordered(value: Any) -> Any:
    """The same JSON value with every object's keys in reverse order (arrays keep theirs: order is meaning)."""
    if isinstance(value, dict):
        return {key: reordered(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(item) for item in value]
    return value


def positions(count: int) -> dict[int, str]:
    """index → "first" / "middle" / "last" in a batch of ``count``."""
    if not count:
        return {}
    return dict(zip((0, count // 2, count - 1), POSITIONS, strict=True))


def where(index: int, count: int) -> str:
    label = positions(count).get(index)
    return f"item {index} of {count}" + (f", the {label}" if label else "")


# --- what was stored (state probe) --------------------------------------------------------------------


def stored(probe: Probe, product_id: int) -> dict[str, Any] | None:
    status, body = probe.get(f"s360/products/{product_id}")
    return body if status == 200 else None


def held(probe: Probe, product_id: int, what: str, *, at: str = "", case: str | None = None) -> dict[str, Any]:
    """The stored product, or fail: the receiver does not hold it."""
    found = stored(probe, product_id)
    if found is None:
        fail(what, expected=f"product {product_id}{f' ({at})' if at else ''} held",
             found="the probe answers 404 for it", case=case)
    return found


def difference(sent: Any, found: Any, path: str = "document") -> str | None:
    """Where two JSON values first differ, for a person (None: they are equal). Numbers compare by value:
    the probe may give 1000.0 for 1000, never a different number."""
    if isinstance(sent, dict) and isinstance(found, dict):
        for key in sent:
            if key not in found:
                return f"{path}.{key} is missing (sent {json.dumps(sent[key], ensure_ascii=False)[:80]})"
            if (inner := difference(sent[key], found[key], f"{path}.{key}")) is not None:
                return inner
        extra = [key for key in found if key not in sent]
        return f"{path} has fields that were not sent: {extra[:5]}" if extra else None
    if isinstance(sent, list) and isinstance(found, list):
        if len(sent) != len(found):
            return f"{path} has {len(found)} items, {len(sent)} were sent"
        for index, (one, other) in enumerate(zip(sent, found, strict=True)):
            if (inner := difference(one, other, f"{path}[{index}]")) is not None:
                return inner
        return None
    if sent == found and (type(sent) is bool) == (type(found) is bool):  # true is not 1
        return None
    return (f"{path}: sent {json.dumps(sent, ensure_ascii=False)[:80]}, stored "
            f"{json.dumps(found, ensure_ascii=False)[:80]}")


def check_stored_as_sent(probe: Probe, products: Sequence[dict[str, Any]], what: str, *,
                         case: str | None = None, sample: bool = False) -> None:
    """Every product (``sample``: the first, middle and last) held under its exact id with the document
    as sent."""
    count = len(products)
    indexes = list(positions(count)) if sample else range(count)
    for index in indexes:
        product = products[index]
        found = held(probe, product["id"], what, at=where(index, count), case=case)
        check(found.get("id") == product["id"], what, expected=f"product {product['id']} ({where(index, count)}) "
              "under its exact id", found=f"the probe gives its id as {found.get('id')!r}", case=case)
        problem = difference(product, found.get("document"))
        check(problem is None, what, expected=f"product {product['id']} ({where(index, count)}) stored with the "
              "document as sent", found=problem, case=case)


def snapshot(probe: Probe, products: Sequence[dict[str, Any]], what: str) -> dict[int, dict[str, Any]]:
    """id → the stored product, for every product (each must be held)."""
    return {p["id"]: held(probe, p["id"], what, at=where(i, len(products))) for i, p in enumerate(products)}


def moved(before: dict[str, Any], after: dict[str, Any]) -> bool:
    return bool(before["lastChangedDelivery"] != after["lastChangedDelivery"])


def check_changes(probe: Probe, products: Sequence[dict[str, Any]], before: dict[int, dict[str, Any]],
                  changed_ids: set[int], what: str) -> dict[int, dict[str, Any]]:
    """Exactly the products of ``changed_ids`` have a new lastChangedDelivery since ``before``; the new
    snapshot."""
    after = snapshot(probe, products, what)
    for index, product in enumerate(products):
        product_id = product["id"]
        expected = product_id in changed_ids
        old, new = before[product_id]["lastChangedDelivery"], after[product_id]["lastChangedDelivery"]
        check(moved(before[product_id], after[product_id]) == expected, what,
              expected=f"product {product_id} ({where(index, len(products))}) recorded "
                       f"{'changed' if expected else 'unchanged'}",
              found=f"lastChangedDelivery went {old} → {new}")
    return after


# --- the cases --------------------------------------------------------------------------------------

AUTH_CASES = [c.name for c in MALFORMATIONS if c.name.startswith(("basic-", "api-key-"))]
BODY_CASES = [c.name for c in MALFORMATIONS if c.name not in AUTH_CASES]
_SAMPLE = S360CaseContext(fixtures.load("s360", "minimal-products"), max_body_bytes=2048)
# The cases that break one product, at each position: one batch per position.
PRODUCT_CASES = [name for name in BODY_CASES if len(MALFORMATIONS[name].build(_SAMPLE)) == len(POSITIONS)]


def applicable(s360: S360Target, case: Case[S360CaseContext, Request],
               products: list[dict[str, Any]] | None = None) -> tuple[tuple[Request, ...], S360CaseContext]:
    ctx = context(s360, products)
    if not case.applies(ctx):
        pytest.skip(f"{case.name} does not apply to authentication mode {s360.auth.mode}")
    return case.build(ctx), ctx


def labelled(name: str, requests: tuple[Request, ...]) -> list[tuple[str, Request]]:
    """Each request of a case with what tells it apart (the position of the product it breaks)."""
    if len(requests) == len(POSITIONS) > 1:
        return [(f"{name}, the {position} product broken", request) for position, request in zip(
            POSITIONS, requests, strict=True)]
    return [(name, request) for request in requests]


# --- s360.exactly-200 -------------------------------------------------------------------------------


@rule("s360.exactly-200")
def test_the_documents_example_is_accepted_with_exactly_200(s360: S360Target) -> None:
    (request,), _ = applicable(s360, GOOD_CASES["document-example"])
    delivery = s360.send(request)
    check_accepted("the document's example, verbatim", delivery, case="document-example")


@rule("s360.exactly-200")
def test_a_whole_inventory_in_batches_is_accepted_at_the_first_attempt(s360: S360Target) -> None:
    report = s360.platform.run(fresh_products(25))
    failed = [f"batch {b.index + 1}: {b.attempts[-1].describe()}" for b in report.batches if not b.delivered]
    check(len(report.batches) == 3 and not failed, "a whole inventory of 25 products in batches of 10",
          expected="each of the 3 batches answered exactly 200 at its first attempt", found=f"not delivered: {failed}")


@rule("s360.exactly-200")
def test_a_reposted_batch_is_accepted_with_200(s360: S360Target) -> None:
    request = request_of(s360, fresh_products(3))
    for attempt in ("first post", "re-post of the same bytes (nothing in it changed)"):
        check_accepted(attempt, s360.send(request))


@rule("s360.exactly-200")
@pytest.mark.parametrize("name", GOOD_CASES.names())
def test_every_batch_it_accepts_is_answered_exactly_200(s360: S360Target, name: str) -> None:
    case = GOOD_CASES[name]
    (request,), _ = applicable(s360, case)
    delivery = s360.send(request)
    # A refusal is for the case's own rule to judge; an answer that is neither 200 nor a refusal is a failure.
    check(delivery.status == 200 or delivery.status >= 400, f"{name}: {case.description}",
          expected="exactly 200 when the batch is accepted: the platform re-posts on any other answer",
          delivery=delivery, case=name)


# --- s360.full-batch ---------------------------------------------------------------------------------


def full_batch(s360: S360Target) -> Request:
    (request,), _ = applicable(s360, GOOD_CASES["full-batch"])
    check(len(request.body) <= s360.max_body_bytes, "a full batch (P products the size of the document's example)",
          expected=f"the receiver's declared limit (--s360-max-body-bytes) to admit its {len(request.body)} bytes",
          found=f"the limit is {s360.max_body_bytes} bytes: the platform's full batches would be refused",
          case="full-batch")
    return request


@rule("s360.full-batch")
def test_a_full_batch_is_accepted(s360: S360Target) -> None:
    request = full_batch(s360)
    check_taken(f"a full batch of {len(json.loads(request.body))} products, {len(request.body)} bytes",
                s360.send(request), case="full-batch")


@rule("s360.full-batch")
@pytest.mark.probe
def test_every_product_of_a_full_batch_is_stored(s360: S360Target, probe: Probe) -> None:
    request = full_batch(s360)
    products = json.loads(request.body)
    check_taken(f"a full batch of {len(products)} products", s360.send(request), case="full-batch")
    check_stored_as_sent(probe, products, "a full batch", case="full-batch", sample=True)


# --- accepted batches, and what they stored, each under its rule -----------------------------------

# The good cases whose acceptance and storage are checked here, each under the rule that requires it.
CASE_RULES = {
    "products-in-every-state": "s360.any-state",
    "minimal-products": "s360.minimal-products",
    "id-and-code-only": "s360.minimal-products",
    "unknown-fields-kept": "s360.unknown-fields-kept",
    "empty-batch": "s360.batches-accepted",
    "json-with-charset": "s360.batches-accepted",
    "id-largest-64-bit": "s360.id-64-bit",
    "id-smallest-64-bit": "s360.id-64-bit",
    "api-key-stray-hyphen": "s360.api-key-hyphen",
}


def _accepted_under(rule_id: str) -> Callable[..., None]:
    @rule(rule_id)
    @pytest.mark.parametrize("name", [name for name, of in CASE_RULES.items() if of == rule_id])
    def accepted(s360: S360Target, name: str) -> None:
        case = GOOD_CASES[name]
        (request,), _ = applicable(s360, case)
        check_taken(f"{name}: {case.description}", s360.send(request), case=name)

    return accepted


def _stored_under(rule_id: str, names: list[str] | None = None) -> Callable[..., None]:
    @rule(rule_id)
    @pytest.mark.probe
    @pytest.mark.parametrize("name", names or [name for name, of in CASE_RULES.items() if of == rule_id])
    def stored_as_sent(s360: S360Target, probe: Probe, name: str) -> None:
        case = GOOD_CASES[name]
        (request,), _ = applicable(s360, case)
        check_taken(f"{name}: {case.description}", s360.send(request), case=name)
        check_stored_as_sent(probe, json.loads(request.body), f"{name}: {case.description}", case=name)

    return stored_as_sent


test_products_are_accepted_whatever_their_state = _accepted_under("s360.any-state")
test_products_are_stored_whatever_their_state = _stored_under("s360.any-state")
test_products_with_fewer_fields_than_the_example_are_accepted = _accepted_under("s360.minimal-products")
test_products_with_fewer_fields_than_the_example_are_stored_as_sent = _stored_under("s360.minimal-products")
test_products_with_unknown_fields_are_accepted = _accepted_under("s360.unknown-fields-kept")
test_unknown_fields_are_in_the_stored_document = _stored_under("s360.unknown-fields-kept")
test_an_empty_batch_and_json_with_a_charset_are_accepted = _accepted_under("s360.batches-accepted")
test_a_batch_sent_as_json_with_a_charset_is_stored = _stored_under("s360.batches-accepted", ["json-with-charset"])
test_ids_at_both_ends_of_64_bits_are_accepted = _accepted_under("s360.id-64-bit")
test_ids_at_both_ends_of_64_bits_are_stored_exactly_and_apart = _stored_under("s360.id-64-bit")
test_the_api_key_header_is_the_same_with_or_without_its_leading_hyphen = _accepted_under("s360.api-key-hyphen")
test_the_documents_example_is_stored_as_printed = _stored_under("s360.stored-by-id",
                                                                ["document-example", "repost-of-same-batch"])


# --- s360.auth, s360.auth-401, s360.refused-then-accepted -------------------------------------------


@rule("s360.auth")
@pytest.mark.parametrize("name", AUTH_CASES)
def test_wrong_credentials_are_refused(s360: S360Target, name: str) -> None:
    case = MALFORMATIONS[name]
    (request,), _ = applicable(s360, case)
    check_refused(f"{name}: {case.description}", s360.send(request), case=name)


@rule("s360.auth")
@pytest.mark.probe
@pytest.mark.parametrize("name", AUTH_CASES)
def test_nothing_of_a_batch_with_wrong_credentials_is_stored(s360: S360Target, probe: Probe, name: str) -> None:
    case = MALFORMATIONS[name]
    (request,), ctx = applicable(s360, case)
    check_refused(f"{name}: {case.description}", s360.send(request), case=name)
    kept = [p["id"] for p in ctx.products if stored(probe, p["id"]) is not None]
    check(not kept, f"{name}: a batch refused for its credentials", expected="none of its products stored",
          found=f"stored: {kept}", case=name)


@rule("s360.auth-401")
@pytest.mark.parametrize("name", AUTH_CASES)
def test_wrong_credentials_are_401(s360: S360Target, name: str) -> None:
    case = MALFORMATIONS[name]
    (request,), _ = applicable(s360, case)
    check_status(f"{name}: {case.description}", s360.send(request), case.expect, case=name)


@rule("s360.refused-then-accepted")
@pytest.mark.probe
@pytest.mark.parametrize("name", AUTH_CASES)
def test_a_batch_refused_for_its_credentials_is_applied_when_posted_again(s360: S360Target, probe: Probe,
                                                                         name: str) -> None:
    (refused,), ctx = applicable(s360, MALFORMATIONS[name])
    s360.send(refused)  # whether it was refused is s360.auth's check
    what = f"{name}, then the same bytes with the right credentials"
    check_taken(what, s360.send(Request(refused.body, ctx.headers())), case=name)
    check_stored_as_sent(probe, ctx.products, what, case=name)


# --- s360.invalid-batch, s360.status-codes ----------------------------------------------------------


@rule("s360.invalid-batch")
@pytest.mark.parametrize("name", BODY_CASES)
def test_a_malformed_batch_is_refused(s360: S360Target, name: str) -> None:
    requests, _ = applicable(s360, MALFORMATIONS[name])
    for what, request in labelled(name, requests):
        check_refused(f"{what}: {MALFORMATIONS[name].description}", s360.send(request), case=name)


@rule("s360.status-codes")
@pytest.mark.parametrize("name", BODY_CASES)
def test_a_malformed_batch_gets_its_status(s360: S360Target, name: str) -> None:
    case = MALFORMATIONS[name]
    requests, _ = applicable(s360, case)
    for what, request in labelled(name, requests):
        check_status(f"{what}: {case.description}", s360.send(request), case.expect, case=name)


@rule("s360.invalid-batch")
@pytest.mark.probe
@pytest.mark.parametrize("name", BODY_CASES)
def test_nothing_of_a_rejected_batch_is_applied(s360: S360Target, probe: Probe, name: str) -> None:
    requests, ctx = applicable(s360, MALFORMATIONS[name])
    for what, request in labelled(name, requests):
        check_refused(what, s360.send(request), case=name)
    kept = [f"{p['id']} ({where(i, len(ctx.products))})" for i, p in enumerate(ctx.products)
            if stored(probe, p["id"]) is not None]
    check(not kept, f"{name}: refused batches (a product broken first, in the middle, last)",
          expected="none of their products stored", found=f"stored: {', '.join(kept)}", case=name)


@rule("s360.invalid-batch")
@pytest.mark.probe
@pytest.mark.parametrize("name", PRODUCT_CASES)
def test_a_rejected_batch_leaves_the_stored_products_as_they_were(s360: S360Target, probe: Probe, name: str) -> None:
    products = fresh_products()
    post(s360, products, "the products, first")
    before = snapshot(probe, products, "the products, first")
    requests, _ = applicable(s360, MALFORMATIONS[name], [changed(p, i) for i, p in enumerate(products)])
    for what, request in labelled(f"{name}, every product changed", requests):
        check_refused(what, s360.send(request), case=name)
    for index, product in enumerate(products):
        after = held(probe, product["id"], f"{name}: refused changes", at=where(index, len(products)))
        problem = difference(product, after["document"])
        check(problem is None and not moved(before[product["id"]], after), f"{name}: refused batches changing "
              "every product (one product broken first, in the middle, last)",
              expected=f"product {product['id']} ({where(index, len(products))}) as it was before them",
              found=problem or f"lastChangedDelivery went {before[product['id']]['lastChangedDelivery']} → "
                               f"{after['lastChangedDelivery']}", case=name)


# --- s360.any-state, s360.nothing-removed, s360.stored-by-id -----------------------------------------


@rule("s360.nothing-removed")
@pytest.mark.probe
def test_a_product_stays_held_when_a_later_batch_does_not_carry_it(s360: S360Target, probe: Probe) -> None:
    products = fresh_products(25)
    post_in_batches(s360, products, "an inventory of 25 products in batches of 10")
    check_stored_as_sent(probe, products, "an inventory of 25 products in 3 batches of at most 10")
    later = [changed(products[12], 0), changed(products[13], 1)]
    post(s360, later, "a later batch carrying only 2 changed products")
    check_stored_as_sent(probe, products[:12] + later + products[14:],
                         "an inventory of 25 in 3 batches, then a batch of 2 of its products changed")


@rule("s360.stored-by-id")
@pytest.mark.probe
def test_each_product_is_stored_by_id_with_its_full_document(s360: S360Target, probe: Probe) -> None:
    products = fresh_products(12)
    post_in_batches(s360, products, "12 products in batches of 10")
    check_stored_as_sent(probe, products, "12 products in 2 batches of at most 10")


@rule("s360.stored-by-id")
@pytest.mark.probe
def test_a_product_of_another_season_with_the_same_code_is_another_product(s360: S360Target, probe: Probe) -> None:
    season = fresh_products()
    post(s360, season, "a season's products")
    ids = iter(fresh_products())
    following = [dict(next(ids), code=p["code"], prevSeasonProductId=p["id"]) for p in season]
    post(s360, following, "the next season's products: new ids, last season's codes")
    check_stored_as_sent(probe, season + following,
                         "two seasons' products, the same codes (a code is unique only within a season)")


# --- s360.latest-document, s360.change-tracked, s360.repost-changes-nothing -------------------------


@rule("s360.latest-document")
@pytest.mark.probe
def test_the_stored_document_follows_the_latest_post(s360: S360Target, probe: Probe) -> None:
    products = fresh_products()
    post(s360, products, "the products")
    for round_ in (1, 2):
        kinds = {index: kind + round_ for kind, index in enumerate(positions(len(products)))}
        products = [changed(p, kinds[i]) if i in kinds else p for i, p in enumerate(products)]
        what = f"change {round_}: the first, a middle and the last product changed, the others sent as they were"
        post(s360, products, what)
        check_stored_as_sent(probe, products, what)


@rule("s360.change-tracked")
@pytest.mark.probe
def test_exactly_the_changed_products_are_recorded_changed(s360: S360Target, probe: Probe) -> None:
    products = fresh_products(15)
    what = "an inventory of 15 in batches of 10"
    post_in_batches(s360, products, what)
    first = snapshot(probe, products, what)
    post_in_batches(s360, products, "the same inventory again")
    second = check_changes(probe, products, first, set(), "the same inventory again")
    changes = {}
    for start, batch in ((0, 10), (10, 5)):  # the first, a middle and the last product of each batch
        for kind, offset in enumerate(positions(batch)):
            changes[start + offset] = kind
    products = [changed(p, changes[i]) if i in changes else p for i, p in enumerate(products)]
    post_in_batches(s360, products, "the inventory a third time")
    check_changes(probe, products, second, {products[i]["id"] for i in changes},
                  "the inventory a third time, 6 products changed: the first, a middle and the last of each batch "
                  "(a price deep in a performance, the state, the name)")


@rule("s360.change-tracked")
@pytest.mark.probe
def test_key_order_and_whitespace_are_no_change(s360: S360Target, probe: Probe) -> None:
    products = fresh_products()
    post(s360, products, "the products")
    before = snapshot(probe, products, "the products")
    body = json.dumps(reordered(products), indent=4, ensure_ascii=False).encode("utf-8")
    check_taken("the same products again, keys in reverse order and pretty-printed",
                s360.send(Request(body, webhook_headers(s360.auth))))
    check_changes(probe, products, before, set(), "the same products again, keys in reverse order, pretty-printed "
                  "(as JSON, the same documents)")


@rule("s360.change-tracked")
@pytest.mark.probe
def test_a_product_changed_back_is_a_change_again(s360: S360Target, probe: Probe) -> None:
    original = fresh_products()
    post(s360, original, "the products")
    state = snapshot(probe, original, "the products")
    picked = positions(len(original))
    changed_ids = {original[i]["id"] for i in picked}
    other = [changed(p, i) if i in picked else p for i, p in enumerate(original)]
    for products, what in ((other, "the first, a middle and the last product changed"),
                           (original, "the same three products changed back as they first were")):
        post(s360, products, what)
        state = check_changes(probe, products, state, changed_ids, what)


@rule("s360.repost-changes-nothing")
@pytest.mark.probe
def test_a_reposted_batch_changes_nothing(s360: S360Target, probe: Probe) -> None:
    products = fresh_products()
    request = request_of(s360, products)
    check_taken("the first post", s360.send(request))
    before = snapshot(probe, products, "the first post")
    check_taken("the re-post of the same bytes", s360.send(request))
    for index, product in enumerate(products):
        after, first = held(probe, product["id"], "the re-post"), before[product["id"]]
        fields = ("document", "lastChangedDelivery", "contentSha256")
        differ = [f"{name}: {str(first.get(name))[:60]} → {str(after.get(name))[:60]}" for name in fields
                  if first.get(name) != after.get(name)]
        check(not differ, "the same batch re-posted", expected=f"product {product['id']} "
              f"({where(index, len(products))}) unchanged", found="; ".join(differ))

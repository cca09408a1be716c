"""S-360's named cases: batches a receiver must refuse (``MALFORMATIONS``) and batches it must answer
200 (``GOOD_CASES``). Each builder takes an :class:`S360CaseContext` and returns the requests to send.

A case that breaks one product sends three batches: the first, a middle and the last product broken
(:data:`POSITIONS`). A receiver that applies a batch product by product refuses a bad first product
correctly and still keeps the products before a later one. The credential cases apply only to the
authentication mode they break. The sizes of the full and the oversize batch come from P and the
receiver's declared limit alone, never from the random products a context carries."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from inventory_push_kit import fixtures

from ..core import Expectation, Registry, Request, encode_json
from .auth import Auth, AuthMode
from .payload import (
    CHANNEL,
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_BODY_BYTES,
    MAX_ID,
    MIN_ID,
    SUCCESS_STATUS,
    document_example,
    webhook_headers,
)

# The sentences the expectations rest on (the document's typo "remove system" kept as printed), and the
# decisions as contract_tests/decisions.md states them.
SPEC_200 = (
    "If the remove system answers a value different than 200, the data will be reposted N times "
    "(By default, N=12) before giving up."
)
SPEC_JSON = "S-360 does POST all the data describing the product in the form of a JSON object."
SPEC_BATCH = "Enter P into the Batch size field. (default value: 1000)"
SPEC_STATE = "This webhook publishes the whole inventory, whatever the state of the product."
SPEC_ARRAY = (
    "decision s360-1: The body is a JSON array of product objects (the text says \"object\"; the example is "
    "an array)."
)
SPEC_EMPTY = "decision s360-1: An empty array is a batch like any other."
SPEC_ID = "decision s360-3: Each product is stored by `id`, a signed 64-bit integer kept exact from -2^63 to 2^63-1."
SPEC_CODE = "decision s360-3: `code` is text that is unique only within a season."
SPEC_STORE = "decision s360-3: Each product is stored by `id` with its full document as the latest post sent it."
SPEC_IDENTITY = "decision s360-4: Only what identifies a product (`id`, `code`) is required."
SPEC_UNKNOWN = "decision s360-4: Unknown fields, at any depth, are kept in the stored document."
SPEC_MEDIA = (
    "decision s360-1: Its media type is JSON: `application/json`, with or without a parameter such as "
    "`charset=UTF-8`."
)
SPEC_NOT_MEDIA = "decision s360-5: 415 not a JSON media type."
SPEC_OVERSIZE = (
    "Enter P into the Batch size field. (default value: 1000) — a body beyond the receiver's configured "
    "limit is refused with 413 Content Too Large (RFC 9110 §15.5.14)."
)
SPEC_BASIC = "BASIC_AUTH : put the login in the login field, the password in the password field"
SPEC_API_KEY = (
    "API_KEY : put the name of the header (e.g. -x-api-key) in the login field. The key in the password field"
)
SPEC_HYPHEN = "decision s360-6: The document's stray leading hyphen in `-x-api-key` names the same header."

# Where a case that breaks one product breaks it, in the order its batches are sent.
POSITIONS = ("first", "middle", "last")
# States a product may be published in, whatever it is ("whatever the state of the product"): RUNNING is
# the example's, the others stand in for those the document does not list. None of the positions is RUNNING.
STATES = ("CLOSED", "RUNNING", "CANCELLED", "DRAFT", "SUSPENDED")


@dataclass(frozen=True)
class S360CaseContext:
    """What a case builder needs: a small conforming batch to break (at least 3 products, so that its
    first, a middle and its last product are three), the interface's credentials, the receiver's body
    limit and the batch size P."""

    products: list[dict[str, Any]]
    auth: Auth = field(default_factory=Auth)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    batch_size: int = DEFAULT_BATCH_SIZE

    def __post_init__(self) -> None:
        if len(self.products) < 3:
            raise ValueError("the cases need a conforming batch of at least 3 products")

    def positions(self) -> tuple[int, int, int]:
        """The indexes of the first, a middle and the last product (:data:`POSITIONS`)."""
        return 0, len(self.products) // 2, len(self.products) - 1

    def headers(self) -> dict[str, str]:
        return webhook_headers(self.auth)

    def request(self, payload: Any, headers: dict[str, str] | None = None) -> tuple[Request]:
        """``payload`` as the one request of a case: compact JSON, the interface's headers by default."""
        return (Request(encode_json(payload), self.headers() if headers is None else headers),)


CaseBuilder = Callable[[S360CaseContext], tuple[Request, ...]]
MALFORMATIONS: Registry[S360CaseContext, Request] = Registry(CHANNEL)
GOOD_CASES: Registry[S360CaseContext, Request] = Registry(CHANNEL)


def only_for(mode: AuthMode) -> Callable[[S360CaseContext], bool]:
    """A case that applies only when the interface uses ``mode``."""
    return lambda context: context.auth.mode is mode


def _should(status: int, spec: str) -> Expectation:
    return Expectation((status,), spec, "SHOULD")


def fresh_ids(context: S360CaseContext) -> Iterator[int]:
    """Ids none of the context's products has: above them, or below them when there is no room above."""
    ids = [product["id"] for product in context.products if type(product.get("id")) is int]
    top, bottom = max(ids, default=0), min(ids, default=0)
    return itertools.count(top + 1) if top < MAX_ID - 10**9 else itertools.count(bottom - 1, -1)


def example_sized(ids: Iterator[int], prefix: str = "F") -> Iterator[dict[str, Any]]:
    """Endless copies of the document's example product, each with its own id and 8-character code: the
    size of the example whatever the context (as many bytes as the example, give or take an id's digits)."""
    template = document_example()[0]
    for n, product_id in enumerate(ids, start=1):
        yield dict(template, id=product_id, code=f"{prefix}{n:07d}")


def _each_position(context: S360CaseContext,
                   breaks: Callable[[list[dict[str, Any]], int], list[Any]]) -> tuple[Request, ...]:
    """One batch per position: a copy of the context's products with ``breaks(products, index)`` applied."""
    return tuple(context.request(breaks([dict(p) for p in context.products], index))[0]
                 for index in context.positions())


def _changed(drop: str = "", **changes: Any) -> Callable[[list[dict[str, Any]], int], list[Any]]:
    """Break the product at the index: ``drop`` removes a key, ``changes`` set values."""
    def breaks(products: list[dict[str, Any]], index: int) -> list[Any]:
        products[index] = {key: value for key, value in {**products[index], **changes}.items() if key != drop}
        return products
    return breaks


def _id_as(make: Callable[[int], Any]) -> Callable[[list[dict[str, Any]], int], list[Any]]:
    """Break the product at the index: its id becomes ``make(id)``."""
    def breaks(products: list[dict[str, Any]], index: int) -> list[Any]:
        products[index]["id"] = make(products[index]["id"])
        return products
    return breaks


@MALFORMATIONS.register("not-json", "the batch cut in the middle: not JSON", _should(400, SPEC_JSON))
def _not_json(context: S360CaseContext) -> tuple[Request, ...]:
    body = encode_json(context.products)
    return (Request(body[: len(body) // 2], context.headers()),)


@MALFORMATIONS.register(
    "wrong-content-type", "a conforming batch sent as text/plain", _should(415, SPEC_NOT_MEDIA)
)
def _wrong_content_type(context: S360CaseContext) -> tuple[Request, ...]:
    headers = {**context.headers(), "Content-Type": "text/plain; charset=utf-8"}
    return context.request(context.products, headers)


@MALFORMATIONS.register(
    "not-an-array",
    "a single product object instead of an array",
    _should(422, SPEC_ARRAY),
)
def _not_an_array(context: S360CaseContext) -> tuple[Request, ...]:
    return context.request(context.products[0])


@MALFORMATIONS.register(
    "item-not-an-object", "a product replaced by its bare id (first, middle, last)", _should(422, SPEC_ARRAY)
)
def _item_not_an_object(context: S360CaseContext) -> tuple[Request, ...]:
    def breaks(products: list[dict[str, Any]], index: int) -> list[Any]:
        return [*products[:index], products[index]["id"], *products[index + 1:]]
    return _each_position(context, breaks)


@MALFORMATIONS.register("id-missing", "a product without id (first, middle, last)", _should(422, SPEC_IDENTITY))
def _id_missing(context: S360CaseContext) -> tuple[Request, ...]:
    return _each_position(context, _changed(drop="id"))


@MALFORMATIONS.register(
    "id-not-an-integer",
    "a product's id as a string of digits (first, middle, last)",
    _should(422, SPEC_ID),
)
def _id_not_an_integer(context: S360CaseContext) -> tuple[Request, ...]:
    return _each_position(context, _id_as(str))


@MALFORMATIONS.register(
    "id-is-a-float",
    "a product's id written with a decimal point, 10228321399304.0 (first, middle, last)",
    _should(422, SPEC_ID),
)
def _id_is_a_float(context: S360CaseContext) -> tuple[Request, ...]:
    return _each_position(context, _id_as(float))


@MALFORMATIONS.register("id-is-boolean", "a product's id is true (first, middle, last)", _should(422, SPEC_ID))
def _id_is_boolean(context: S360CaseContext) -> tuple[Request, ...]:
    return _each_position(context, _id_as(lambda _: True))


@MALFORMATIONS.register(
    "id-out-of-64-bit-range",
    "a product's id just outside signed 64 bits: 2**63 (first, last), -2**63 - 1 (middle)",
    _should(422, SPEC_ID),
)
def _id_out_of_range(context: S360CaseContext) -> tuple[Request, ...]:
    _, middle, last = context.positions()

    def breaks(products: list[dict[str, Any]], index: int) -> list[Any]:
        products[index]["id"] = MIN_ID - 1 if index == middle and middle != last else MAX_ID + 1
        return products
    return _each_position(context, breaks)


@MALFORMATIONS.register("code-missing", "a product without code (first, middle, last)", _should(422, SPEC_IDENTITY))
def _code_missing(context: S360CaseContext) -> tuple[Request, ...]:
    return _each_position(context, _changed(drop="code"))


@MALFORMATIONS.register(
    "code-not-a-string",
    "a product's code is the number 20100000 (first, middle, last)",
    _should(422, SPEC_CODE),
)
def _code_not_a_string(context: S360CaseContext) -> tuple[Request, ...]:
    return _each_position(context, _changed(code=20100000))


@MALFORMATIONS.register(
    "duplicate-id-in-batch",
    "a product carries another one's id: the first the second's, a middle and the last the first's",
    _should(422, SPEC_STORE),
)
def _duplicate_id(context: S360CaseContext) -> tuple[Request, ...]:
    def breaks(products: list[dict[str, Any]], index: int) -> list[Any]:
        products[index]["id"] = products[1 if index == 0 else 0]["id"]
        return products
    return _each_position(context, breaks)


@MALFORMATIONS.register(
    "oversize-batch",
    "conforming products in a body one byte over the receiver's limit",
    _should(413, SPEC_OVERSIZE),
)
def _oversize(context: S360CaseContext) -> tuple[Request, ...]:
    return (Request(batch_of_exactly(context, context.max_body_bytes + 1), context.headers()),)


def batch_of_exactly(context: S360CaseContext, size: int) -> bytes:
    """A conforming batch of exactly ``size`` bytes: the context's products and copies of the document's
    example while they fit, then one product whose ``padding`` field fills it to the last byte."""
    ids = fresh_ids(context)
    last_id = next(ids)

    def last(pad: int) -> bytes:
        return encode_json({"id": last_id, "code": "PADDING0", "padding": "x" * pad})

    reserve = len(last(0)) + 1
    if size < reserve + 2:
        raise ValueError(f"a batch cannot be as small as {size} bytes")
    pieces: list[bytes] = []
    used = 2  # the brackets; each piece then adds itself and a comma
    for piece in itertools.chain(map(encode_json, context.products), map(encode_json, example_sized(ids))):
        if used + len(piece) + 1 + reserve > size:
            break
        pieces.append(piece)
        used += len(piece) + 1
    pieces.append(last(size - used - len(last(0))))
    return b"[" + b",".join(pieces) + b"]"


@MALFORMATIONS.register("basic-missing", "no Authorization header", _should(401, SPEC_BASIC),
                        applies=only_for(AuthMode.BASIC_AUTH))
def _basic_missing(context: S360CaseContext) -> tuple[Request, ...]:
    return context.request(context.products, webhook_headers(Auth()))


@MALFORMATIONS.register(
    "basic-wrong-password",
    "the right login with a wrong password",
    _should(401, SPEC_BASIC),
    applies=only_for(AuthMode.BASIC_AUTH),
)
def _basic_wrong_password(context: S360CaseContext) -> tuple[Request, ...]:
    auth = Auth(AuthMode.BASIC_AUTH, context.auth.login, context.auth.password + "-wrong")
    return context.request(context.products, webhook_headers(auth))


@MALFORMATIONS.register(
    "basic-wrong-login",
    "a wrong login with the right password",
    _should(401, SPEC_BASIC),
    applies=only_for(AuthMode.BASIC_AUTH),
)
def _basic_wrong_login(context: S360CaseContext) -> tuple[Request, ...]:
    auth = Auth(AuthMode.BASIC_AUTH, context.auth.login + "-wrong", context.auth.password)
    return context.request(context.products, webhook_headers(auth))


@MALFORMATIONS.register("api-key-missing", "no key header at all", _should(401, SPEC_API_KEY),
                        applies=only_for(AuthMode.API_KEY))
def _api_key_missing(context: S360CaseContext) -> tuple[Request, ...]:
    return context.request(context.products, webhook_headers(Auth()))


@MALFORMATIONS.register("api-key-wrong-key", "the right header with a wrong key", _should(401, SPEC_API_KEY),
                        applies=only_for(AuthMode.API_KEY))
def _api_key_wrong_key(context: S360CaseContext) -> tuple[Request, ...]:
    auth = Auth(AuthMode.API_KEY, context.auth.login, "wrong-" + context.auth.password)
    return context.request(context.products, webhook_headers(auth))


@MALFORMATIONS.register(
    "api-key-other-header-name", "the right key under another header name", _should(401, SPEC_API_KEY),
    applies=only_for(AuthMode.API_KEY),
)
def _api_key_other_header(context: S360CaseContext) -> tuple[Request, ...]:
    configured = context.auth.login.lower().strip("-")
    other = next(name for name in ("x-auth-token", "api-token") if name != configured)
    auth = Auth(AuthMode.API_KEY, other, context.auth.password)
    return context.request(context.products, webhook_headers(auth))


def _example_request(context: S360CaseContext) -> tuple[Request, ...]:
    return (Request(fixtures.raw(CHANNEL, "document-example"), context.headers()),)


@GOOD_CASES.register(
    "document-example", "the document's example, byte for byte", Expectation((SUCCESS_STATUS,), SPEC_200)
)
def _document_example(context: S360CaseContext) -> tuple[Request, ...]:
    return _example_request(context)


@GOOD_CASES.register(
    "repost-of-same-batch",
    "the document's example again, the same bytes: what the platform re-posts after a failure",
    Expectation((SUCCESS_STATUS,), SPEC_200),
)
def _repost(context: S360CaseContext) -> tuple[Request, ...]:
    return _example_request(context)


@GOOD_CASES.register(
    "full-batch", "exactly P copies of the document's example product, each with its own id",
    Expectation((SUCCESS_STATUS,), SPEC_BATCH),
)
def _full_batch(context: S360CaseContext) -> tuple[Request, ...]:
    return context.request(list(itertools.islice(example_sized(fresh_ids(context)), context.batch_size)))


@GOOD_CASES.register(
    "products-in-every-state", "products in states other than the example's RUNNING, at every position",
    Expectation((SUCCESS_STATUS,), SPEC_STATE),
)
def _every_state(context: S360CaseContext) -> tuple[Request, ...]:
    states = itertools.cycle(STATES)
    return context.request([dict(product, state=next(states)) for product in context.products])


@GOOD_CASES.register(
    "minimal-products",
    "products with only id, code, state and one name",
    _should(SUCCESS_STATUS, SPEC_IDENTITY),
)
def _minimal_products(context: S360CaseContext) -> tuple[Request, ...]:
    return (Request(fixtures.raw(CHANNEL, "minimal-products"), context.headers()),)


@GOOD_CASES.register(
    "id-and-code-only", "products with nothing but their id and code", _should(SUCCESS_STATUS, SPEC_IDENTITY)
)
def _id_and_code_only(context: S360CaseContext) -> tuple[Request, ...]:
    return context.request([{"id": product["id"], "code": product["code"]} for product in context.products])


# Fields the document does not show: at the top of a product and inside the objects it does show.
UNKNOWN_FIELDS: dict[str, Any] = {"salesChannelIds": [101, 102],
                                  "seoMetadata": {"slug": "a-shape", "keywords": ["cinéma"]}}
UNKNOWN_NESTED: dict[str, dict[str, Any]] = {"externalName": {"machineTranslated": False},
                                             "event": {"ageRating": "12+"}}


@GOOD_CASES.register(
    "unknown-fields-kept",
    "products carrying fields the document does not show, at the top and inside known objects",
    _should(SUCCESS_STATUS, SPEC_UNKNOWN),
)
def _unknown_fields(context: S360CaseContext) -> tuple[Request, ...]:
    def with_unknown(product: dict[str, Any]) -> dict[str, Any]:
        nested = {key: {**product[key], **extra} for key, extra in UNKNOWN_NESTED.items()
                  if isinstance(product.get(key), dict)}
        return {**product, **nested, **UNKNOWN_FIELDS}
    return context.request([with_unknown(product) for product in context.products])


@GOOD_CASES.register(
    "empty-batch",
    "an empty array: nothing to publish",
    _should(SUCCESS_STATUS, SPEC_EMPTY),
)
def _empty_batch(context: S360CaseContext) -> tuple[Request, ...]:
    return context.request([])


@GOOD_CASES.register(
    "json-with-charset", "a conforming batch sent as application/json; charset=UTF-8",
    _should(SUCCESS_STATUS, SPEC_MEDIA),
)
def _json_with_charset(context: S360CaseContext) -> tuple[Request, ...]:
    return context.request(context.products, {**context.headers(), "Content-Type": "application/json; charset=UTF-8"})


@GOOD_CASES.register(
    "id-largest-64-bit", "the first and last products' ids are 2**63 - 1 and 2**63 - 2 (one double apart: none)",
    _should(SUCCESS_STATUS, SPEC_ID),
)
def _id_largest(context: S360CaseContext) -> tuple[Request, ...]:
    return _at_the_ends(context, MAX_ID, MAX_ID - 1)


@GOOD_CASES.register(
    "id-smallest-64-bit", "the first and last products' ids are -2**63 and -2**63 + 1",
    _should(SUCCESS_STATUS, SPEC_ID),
)
def _id_smallest(context: S360CaseContext) -> tuple[Request, ...]:
    return _at_the_ends(context, MIN_ID, MIN_ID + 1)


def _at_the_ends(context: S360CaseContext, first: int, last: int) -> tuple[Request, ...]:
    products = [dict(product) for product in context.products]
    products[0]["id"], products[-1]["id"] = first, last
    return context.request(products)


@GOOD_CASES.register(
    "api-key-stray-hyphen", "the key under the interface's header name with its leading hyphen added or "
    "removed (-x-api-key ↔ x-api-key)", _should(SUCCESS_STATUS, SPEC_HYPHEN), applies=only_for(AuthMode.API_KEY),
)
def _api_key_stray_hyphen(context: S360CaseContext) -> tuple[Request, ...]:
    login = context.auth.login
    other = login.lstrip("-") if login.startswith("-") else f"-{login}"
    return context.request(context.products, webhook_headers(Auth(AuthMode.API_KEY, other, context.auth.password)))

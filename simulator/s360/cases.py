"""S-360's named cases: batches a receiver must refuse (``MALFORMATIONS``) and batches it must answer
200 (``GOOD_CASES``). Each builder takes an :class:`S360CaseContext` and returns the requests to send;
the credential cases apply only to the authentication mode they break."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import fixtures

from ..core import Expectation, Registry, Request, encode_json
from .auth import Auth, AuthMode
from .payload import CHANNEL, DEFAULT_BATCH_SIZE, DEFAULT_MAX_BODY_BYTES, MAX_ID, SUCCESS_STATUS, webhook_headers

# The sentences the expectations rest on (the document's typo "remove system" kept as printed).
SPEC_200 = (
    "If the remove system answers a value different than 200, the data will be reposted N times "
    "(By default, N=12) before giving up."
)
SPEC_JSON = "S-360 does POST all the data describing the product in the form of a JSON object."
SPEC_ARRAY = (
    "decision s360-1: The body is a JSON array of product objects (the text says \"object\"; the example is "
    "an array)."
)
SPEC_ID = "decision s360-3: `id` is a 64-bit integer; `code` is 8 characters, unique per season."
SPEC_STORE = "decision s360-3: Store each product by `id`, keep its full document."
SPEC_UNKNOWN = "decision s360-4: Unknown fields are kept; only what identifies a product is required."
SPEC_BATCH = "Enter P into the Batch size field. (default value: 1000)"
SPEC_CHANGED = (
    "This webhook publishes JSON data describing the products of the catalog which changed since last "
    "synchronization."
)
SPEC_OVERSIZE = (
    "Enter P into the Batch size field. (default value: 1000) — a body beyond the receiver's configured "
    "limit is refused with 413 Content Too Large (RFC 9110 §15.5.14)."
)
SPEC_BASIC = "BASIC_AUTH : put the login in the login field, the password in the password field"
SPEC_API_KEY = (
    "API_KEY : put the name of the header (e.g. -x-api-key) in the login field. The key in the password field"
)



@dataclass(frozen=True)
class S360CaseContext:
    """What a case builder needs: a small conforming batch to break, the interface's credentials, the
    receiver's body limit and the batch size P."""

    products: list[dict[str, Any]]
    auth: Auth = field(default_factory=Auth)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    batch_size: int = DEFAULT_BATCH_SIZE

    def __post_init__(self) -> None:
        if len(self.products) < 2:
            raise ValueError("the cases need a conforming batch of at least 2 products")

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


def more_products(products: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """``products``, then endless conforming copies of them with fresh ids and 8-character codes."""
    yield from products
    top = max(product["id"] for product in products)
    for n in itertools.count(1):
        yield dict(products[n % len(products)], id=top + n, code=f"X{n:07d}")


def _first_changed(context: S360CaseContext, *, drop: str = "", **changes: Any) -> tuple[Request]:
    """The batch with its first product changed: ``drop`` removes a key, ``changes`` set values."""
    first = {key: value for key, value in {**context.products[0], **changes}.items() if key != drop}
    return context.request([first, *context.products[1:]])


@MALFORMATIONS.register("not-json", "the batch cut in the middle: not JSON", _should(400, SPEC_JSON))
def _not_json(context: S360CaseContext) -> tuple[Request, ...]:
    body = encode_json(context.products)
    return (Request(body[: len(body) // 2], context.headers()),)


@MALFORMATIONS.register(
    "wrong-content-type", "a conforming batch sent as text/plain", _should(415, SPEC_JSON)
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
    "item-not-an-object", "the array holds a bare id besides the products", _should(422, SPEC_ARRAY)
)
def _item_not_an_object(context: S360CaseContext) -> tuple[Request, ...]:
    return context.request([*context.products, context.products[0]["id"] + 1])


@MALFORMATIONS.register("id-missing", "the first product has no id", _should(422, SPEC_ID))
def _id_missing(context: S360CaseContext) -> tuple[Request, ...]:
    return _first_changed(context, drop="id")


@MALFORMATIONS.register(
    "id-not-an-integer",
    "the first product's id is a string of digits",
    _should(422, SPEC_ID),
)
def _id_not_an_integer(context: S360CaseContext) -> tuple[Request, ...]:
    return _first_changed(context, id=str(context.products[0]["id"]))


@MALFORMATIONS.register(
    "id-is-a-float",
    "the first product's id is written 10228321399304.0",
    _should(422, SPEC_ID),
)
def _id_is_a_float(context: S360CaseContext) -> tuple[Request, ...]:
    return _first_changed(context, id=float(context.products[0]["id"]))


@MALFORMATIONS.register("id-is-boolean", "the first product's id is true", _should(422, SPEC_ID))
def _id_is_boolean(context: S360CaseContext) -> tuple[Request, ...]:
    return _first_changed(context, id=True)


@MALFORMATIONS.register(
    "id-out-of-64-bit-range", "the first product's id is 2**63, one past the largest signed 64-bit integer",
    _should(422, SPEC_ID),
)
def _id_out_of_range(context: S360CaseContext) -> tuple[Request, ...]:
    return _first_changed(context, id=MAX_ID + 1)


@MALFORMATIONS.register("code-missing", "the first product has no code", _should(422, SPEC_ID))
def _code_missing(context: S360CaseContext) -> tuple[Request, ...]:
    return _first_changed(context, drop="code")


@MALFORMATIONS.register(
    "code-not-a-string",
    "the first product's code is the number 20100000",
    _should(422, SPEC_ID),
)
def _code_not_a_string(context: S360CaseContext) -> tuple[Request, ...]:
    return _first_changed(context, code=20100000)


@MALFORMATIONS.register(
    "duplicate-id-in-batch", "the second product carries the first product's id", _should(422, SPEC_STORE)
)
def _duplicate_id(context: S360CaseContext) -> tuple[Request, ...]:
    products = list(context.products)
    products[1] = dict(products[1], id=products[0]["id"])
    return context.request(products)


@MALFORMATIONS.register(
    "oversize-batch",
    "conforming products until the body exceeds the receiver's limit",
    _should(413, SPEC_OVERSIZE),
)
def _oversize(context: S360CaseContext) -> tuple[Request, ...]:
    pieces: list[bytes] = []
    size = 1  # the opening bracket
    for product in more_products(context.products):
        piece = encode_json(product)
        pieces.append(piece)
        size += len(piece) + 1  # a comma or the closing bracket
        if size > context.max_body_bytes:
            break
    return (Request(b"[" + b",".join(pieces) + b"]", context.headers()),)


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
    "minimal-products",
    "products with only id, code, state and one name",
    _should(SUCCESS_STATUS, SPEC_UNKNOWN),
)
def _minimal_products(context: S360CaseContext) -> tuple[Request, ...]:
    return (Request(fixtures.raw(CHANNEL, "minimal-products"), context.headers()),)


@GOOD_CASES.register(
    "unknown-fields-kept",
    "products carrying fields the document does not show",
    _should(SUCCESS_STATUS, SPEC_UNKNOWN),
)
def _unknown_fields(context: S360CaseContext) -> tuple[Request, ...]:
    extra = {"salesChannelIds": [101, 102], "seoMetadata": {"slug": "a-shape", "keywords": ["cinéma"]}}
    return context.request([dict(product, **extra) for product in context.products])


@GOOD_CASES.register(
    "empty-batch",
    "an empty array: nothing to publish",
    _should(SUCCESS_STATUS, SPEC_CHANGED),
)
def _empty_batch(context: S360CaseContext) -> tuple[Request, ...]:
    return context.request([])


@GOOD_CASES.register(
    "full-batch", "exactly P products in one array", Expectation((SUCCESS_STATUS,), SPEC_BATCH)
)
def _full_batch(context: S360CaseContext) -> tuple[Request, ...]:
    return context.request(list(itertools.islice(more_products(context.products), context.batch_size)))


@GOOD_CASES.register(
    "id-largest-64-bit", "the first product's id is 2**63 - 1 (beyond a double's exact integers)",
    _should(SUCCESS_STATUS, SPEC_ID),
)
def _id_largest(context: S360CaseContext) -> tuple[Request, ...]:
    return _first_changed(context, id=MAX_ID)


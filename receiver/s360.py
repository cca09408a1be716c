"""The S-360 inventory webhook channel (s360-inventory-webhook.txt, NOTES.md §2).

The ticketing platform POSTs its WHOLE product inventory, whether or not a product changed, as JSON
arrays of at most P product documents, manually or every M minutes. Any answer but exactly 200 makes it
re-post the same batch, up to N times. This module is the whole channel: authentication exactly as the
platform's back office is set up (NONE, BASIC_AUTH, API_KEY), the validation of what identifies a
product, the apply (each product kept by id with its document and a content hash, so every delivery
records which products were new, changed or unchanged), the HTTP endpoint and the read API.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, abort, jsonify, request
from flask_httpauth import HTTPBasicAuth
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate
from sqlalchemy.engine import Connection

from receiver import storage
from receiver.api import int_arg, utc_iso
from receiver.config import S360Config
from receiver.errors import InvalidPayload, Unauthenticated, flatten
from receiver.web import logs_rejections, parse_json, read_body, require_json_media_type, secrets_equal

log = logging.getLogger(__name__)

CHANNEL = "s360"
MIN_ID, MAX_ID = -(2**63), 2**63 - 1  # product ids are signed 64-bit integers (Java longs)
NEW, CHANGED, UNCHANGED = "new", "changed", "unchanged"

F = TypeVar("F", bound=Callable[..., Any])

# --- authentication, as the back office has it ----------------------------------------------------------


def _no_auth(config: S360Config) -> Callable[[F], F]:
    """NONE: "nothing else to do" (a warning is logged at start-up, see register)."""
    return lambda view: view


def _basic_auth(config: S360Config) -> Callable[[F], F]:
    """HTTP Basic, via flask-httpauth: "BASIC_AUTH : put the login in the login field, the password in the
    password field"."""
    basic = HTTPBasicAuth(realm="S-360 inventory webhook")

    @basic.verify_password
    def _verify(login: str, password: str) -> str | None:
        login_ok = secrets_equal(login, config.login)  # both compared, whichever is wrong
        password_ok = secrets_equal(password, config.password)
        return config.login if login_ok and password_ok else None

    @basic.error_handler
    def _refuse(_status: int) -> Any:
        raise Unauthenticated(
            "credentials missing or wrong: this endpoint needs HTTP Basic authentication with the login and "
            "password set in the S-360 back office (interface authentication mode BASIC_AUTH)",
            problems=[{"path": ["headers", "Authorization"], "message": "missing or wrong Basic credentials"}],
            headers={"WWW-Authenticate": basic.authenticate_header()},
        )

    return basic.login_required


def _api_key(config: S360Config) -> Callable[[F], F]:
    """A key in a header: "API_KEY : put the name of the header (e.g. -x-api-key) in the login field. The
    key in the password field"."""

    def guard(view: F) -> F:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            require_api_key(config.login, config.password)
            return view(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return guard


def require_api_key(header: str, key: str) -> None:
    """The key must come in the header named by the back office's login field.

    Header names are case-insensitive, and leading hyphens are ignored on both sides: the document's own
    example of a header name is ``-x-api-key``, so whoever copied it into the back office or into this
    receiver's configuration (but not both) still matches. The name is not a secret; the key is, and it
    is compared in constant time.
    """
    wanted = header.lstrip("-").lower()
    sent = [value for name, value in request.headers.items() if name.lstrip("-").lower() == wanted]
    if any(secrets_equal(value, key) for value in sent):
        return
    problem = "wrong key" if sent else "missing"
    raise Unauthenticated(
        f"credentials missing or wrong ({problem} in header {header!r}): this endpoint needs the key set in "
        "the S-360 back office (interface authentication mode API_KEY) in that header",
        problems=[{"path": ["headers", header], "message": problem}],
    )


# The back office's authentication modes, the same three as config.S360_AUTH_MODES.
AUTH_MODES: dict[str, Callable[[S360Config], Callable[[F], F]]] = {
    "NONE": _no_auth,
    "BASIC_AUTH": _basic_auth,
    "API_KEY": _api_key,
}


# --- the body: an array of product documents ----------------------------------------------------------


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


class ProductId(fields.Field):
    """A product id: a JSON integer within signed 64 bits. Python's json parses integers exactly, so
    2**63-1 arrives whole; ``true`` (a bool is an int in Python), ``1.0`` and ``"1"`` are not ids."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if type(value) is not int:
            raise ValidationError(f"Not an integer: {_show(value)}; a product id is a 64-bit integer "
                                  "written without quotes, decimals or exponent.")
        if not MIN_ID <= value <= MAX_ID:
            raise ValidationError(f"Out of range: {value} does not fit a signed 64-bit integer.")
        return value


class ProductSchema(Schema):
    """What identifies a product is required (``id``, ``code``); ``state`` is typed because the read API
    filters on it; every other field is kept exactly as sent (NOTES.md §2)."""

    class Meta:
        unknown = INCLUDE

    error_messages = {"type": "Not an object: each item of the array is one product document."}

    id = ProductId(required=True, error_messages={
        "required": "Missing: every product needs its id.", "null": "Null: every product needs its id."})
    # "8 characters, unique per season" (NOTES.md §2) is what the example shows, not a rule the document
    # states: any non-empty string is taken, rather than refusing (and re-posting 12 times) a whole batch.
    code = fields.String(required=True, validate=validate.Length(min=1, error="Empty: a product code is text."),
                         error_messages={"required": "Missing: every product needs its code.",
                                         "null": "Null: every product needs its code.",
                                         "invalid": "Not a string: a product code is text."})
    state = fields.String(allow_none=True, error_messages={"invalid": "Not a string (or null)."})


class Batch(fields.List):
    """The body: a JSON array of product documents (the text says "object"; the example is an array),
    each product at most once."""

    def __init__(self) -> None:
        super().__init__(fields.Nested(ProductSchema), error_messages={
            "invalid": "Not an array: the body is a JSON array of product objects, even for one product."})

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        try:
            products, errors = super()._deserialize(value, attr, data, **kwargs), {}
        except ValidationError as exc:
            if not isinstance(exc.messages, dict):
                raise  # not an array: nothing more to say
            products, errors = [], exc.messages
        # Two documents for one id would leave "the" current document to the order of the array, and a
        # bulk upsert cannot touch one row twice: the batch is refused.
        first: dict[int, int] = {}
        for index, item in enumerate(value):
            product_id = item.get("id") if isinstance(item, dict) else None
            if type(product_id) is not int:
                continue
            if product_id in first:
                errors.setdefault(index, {}).setdefault("id", []).append(
                    f"Duplicate: product {product_id} is also item {first[product_id]}; "
                    "a batch holds each product once.")
            else:
                first[product_id] = index
        if errors:
            raise ValidationError(errors)
        return products


BATCH = Batch()


def validate_batch(document: Any) -> list[dict[str, Any]]:
    """Check a parsed body; every problem is reported by array index and field (``[5, "id"]``)."""
    try:
        BATCH.deserialize(document)
    except ValidationError as exc:
        # by item (the duplicate-id checks come last from the schema); within an item, as found
        problems = sorted(flatten(exc.messages), key=lambda problem: problem["path"][:1])
        raise InvalidPayload(
            f"the batch was rejected: {len(problems)} problem(s); nothing was applied", problems=problems
        ) from None
    return document  # the documents themselves, as received (they passed the schema)


@dataclass(frozen=True)
class Product:
    """One product of a batch, ready to store: its document in canonical form and that form's hash."""

    id: int
    code: str
    state: str | None
    document: str  # canonical JSON: sorted keys, compact, UTF-8
    content_sha256: str


def products_of(documents: list[dict[str, Any]]) -> list[Product]:
    """Validated documents → products with their canonical JSON and its SHA-256."""
    products = []
    for document in documents:
        text = storage.canonical_json(document)  # parse_json has refused NaN and Infinity already
        products.append(Product(document["id"], document["code"], document.get("state"), text,
                                storage.sha256(text.encode("utf-8"))))
    return products


# --- applying a batch -----------------------------------------------------------------------------------

# Column order of the row tuples written by upsert_rows.
STORED = ("id", "code", "state", "document", "content_sha256",
          "first_seen_delivery", "last_changed_delivery", "last_seen_delivery")
CHANGE_COLUMNS = ("delivery_id", "product_id", "change")
IN_CHUNK = 5000  # ids per IN (...) list, under SQLite's and PostgreSQL's limits on bound parameters


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), IN_CHUNK):
        yield ids[start:start + IN_CHUNK]


@dataclass(frozen=True)
class Receipt:
    """What the receiver answers (the platform ignores the body; people reading logs do not)."""

    delivery: int
    counts: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"outcome": "accepted", "delivery": self.delivery, "products": self.counts}


def apply(store: storage.Store, products: list[Product], body: bytes, *, content_type: str | None = None,
          remote_addr: str | None = None, reason: str | None = None) -> Receipt:
    """Apply one batch in one transaction: new and changed products are written with their document,
    unchanged ones only marked seen, and every product's change is recorded against the delivery.

    The changes are computed inside the write transaction from the stored hashes, with the channel's
    deliveries serialised (SQLite's write lock; a PostgreSQL advisory lock), so two concurrent deliveries
    of one product cannot both call it new. A re-posted batch thus changes nothing and says so.
    """
    ids = [product.id for product in products]
    with store.write() as conn:
        storage.lock_channel(conn, CHANNEL)
        delivery = storage.record_delivery(conn, channel=CHANNEL, outcome="accepted", status=200, reason=reason,
                                           body=body, content_type=content_type, remote_addr=remote_addr)
        stored = _stored(conn, ids)
        rows, changes, unchanged = [], [], []
        for product in products:
            before = stored.get(product.id)
            if before is not None and before[0] == product.content_sha256:
                unchanged.append(product.id)
                changes.append((delivery, product.id, UNCHANGED))
                continue
            first_seen = delivery if before is None else before[1]
            rows.append((product.id, product.code, product.state, product.document, product.content_sha256,
                         first_seen, delivery, delivery))
            changes.append((delivery, product.id, NEW if before is None else CHANGED))
        storage.upsert_rows(conn, storage.s360_products, STORED, rows)
        for chunk in _chunks(unchanged):
            conn.execute(storage.s360_products.update().where(storage.s360_products.c.id.in_(chunk))
                         .values(last_seen_delivery=delivery))
        storage.insert_ignore(conn, storage.s360_product_changes, CHANGE_COLUMNS, changes)
        counts = {"received": len(products), NEW: 0, CHANGED: 0, UNCHANGED: 0}
        for _, _, change in changes:
            counts[change] += 1
        storage.update_delivery(conn, delivery, counts=counts)
    return Receipt(delivery, counts)


def _stored(conn: Connection, ids: Sequence[int]) -> dict[int, tuple[str, int]]:
    """id → (content hash, first seen delivery) of the stored products among ``ids``."""
    table = storage.s360_products
    found: dict[int, tuple[str, int]] = {}
    for chunk in _chunks(ids):
        query = sa.select(table.c.id, table.c.content_sha256, table.c.first_seen_delivery).where(
            table.c.id.in_(chunk))
        found.update((row.id, (row.content_sha256, row.first_seen_delivery)) for row in conn.execute(query))
    return found


def receive(store: storage.Store, body: bytes, *, content_type: str | None = None,
            remote_addr: str | None = None, reason: str | None = None) -> Receipt:
    """Parse, validate and apply one body: the transport-free core of the channel."""
    products = products_of(validate_batch(parse_json(body)))
    return apply(store, products, body, content_type=content_type, remote_addr=remote_addr, reason=reason)


def reapply(store: storage.Store, config: S360Config, body: bytes, *, content_type: str | None,
            reason: str) -> dict[str, Any]:
    """Re-run a stored body (a rejected delivery, after a fix) through the channel."""
    return receive(store, body, content_type=content_type, reason=reason).to_json()


# --- HTTP -----------------------------------------------------------------------------------------------


def register(app: Flask, api: Blueprint, config: S360Config, store: storage.Store) -> None:
    """Add the webhook endpoint (authenticated as configured) and the S-360 read API."""
    if not config.enabled:
        return
    if config.auth == "NONE":
        log.warning("[s360] auth = NONE: anyone who can reach %s can replace the product inventory; "
                    "choose BASIC_AUTH or API_KEY in the S-360 back office and here", config.path)
    authenticated = AUTH_MODES[config.auth](config)

    @logs_rejections(store, CHANNEL)
    @authenticated
    def s360_inventory_webhook() -> tuple[Response, int]:
        body = read_body(config.max_body_bytes)
        require_json_media_type()
        started = time.perf_counter()
        receipt = receive(store, body, content_type=request.content_type, remote_addr=request.remote_addr)
        log.info("s360 delivery %s: %s in %.0f ms", receipt.delivery, receipt.counts,
                 (time.perf_counter() - started) * 1000)
        return jsonify(receipt.to_json()), 200  # exactly 200: anything else makes the platform re-post

    app.add_url_rule(config.path, "s360_inventory_webhook", s360_inventory_webhook, methods=["POST"])

    @api.get("/s360/products")
    def list_products() -> Response:
        limit, after = _page(default_limit=100, max_limit=1000)
        table = storage.s360_products
        query = _product_query(document=False).order_by(table.c.id).limit(limit + 1)
        if state := request.args.get("state"):
            query = query.where(table.c.state == state)
        if after is not None:
            query = query.where(table.c.id > after)
        with store.read() as conn:
            rows = list(conn.execute(query))
        items = [product_json(row) for row in rows[:limit]]
        return jsonify({"items": items, "next_after": items[-1]["id"] if len(rows) > limit else None})

    @api.get("/s360/products/<int(signed=True):product_id>")
    def get_product(product_id: int) -> Response:
        row = None
        if MIN_ID <= product_id <= MAX_ID:
            with store.read() as conn:
                query = _product_query(document=True).where(storage.s360_products.c.id == product_id)
                row = conn.execute(query).first()
        if row is None:
            abort(404, description=f"no product {product_id}")
        return jsonify(product_json(row))

    @api.get("/s360/deliveries/<int:delivery_id>/changes")
    def delivery_changes(delivery_id: int) -> Response:
        limit, after = _page(default_limit=1000, max_limit=10_000)
        log_table, changes = storage.deliveries, storage.s360_product_changes
        query = (sa.select(changes.c.product_id, changes.c.change).where(changes.c.delivery_id == delivery_id)
                 .order_by(changes.c.product_id).limit(limit + 1))
        if after is not None:
            query = query.where(changes.c.product_id > after)
        with store.read() as conn:
            delivery = conn.execute(sa.select(log_table.c.outcome, log_table.c.counts).where(
                log_table.c.id == delivery_id, log_table.c.channel == CHANNEL)).first()
            rows = list(conn.execute(query)) if delivery is not None else []
        if delivery is None:
            abort(404, description=f"no S-360 delivery {delivery_id}")
        lists: dict[str, list[int]] = {NEW: [], CHANGED: [], UNCHANGED: []}
        for row in rows[:limit]:
            lists[row.change].append(row.product_id)
        next_after = rows[limit - 1].product_id if len(rows) > limit else None
        return jsonify({"delivery": delivery_id, "outcome": delivery.outcome, "counts": delivery.counts,
                        **lists, "next_after": next_after})


def _page(*, default_limit: int, max_limit: int) -> tuple[int, int | None]:
    """``limit`` and ``after`` (the last id of the previous page) of a paged read."""
    return int_arg("limit", default_limit, 1, max_limit), int_arg("after", None, MIN_ID, MAX_ID)


_FIRST, _CHANGED, _SEEN = (storage.deliveries.alias(name) for name in ("first_seen", "last_changed", "last_seen"))


def _product_query(*, document: bool) -> sa.Select[Any]:
    """Products with the times of their first-seen, last-changed and last-seen deliveries."""
    table = storage.s360_products
    columns = [table.c.id, table.c.code, table.c.state, table.c.content_sha256,
               table.c.first_seen_delivery, _FIRST.c.received_at.label("first_seen_at"),
               table.c.last_changed_delivery, _CHANGED.c.received_at.label("last_changed_at"),
               table.c.last_seen_delivery, _SEEN.c.received_at.label("last_seen_at")]
    if document:
        columns.append(table.c.document)
    joined = (table.outerjoin(_FIRST, _FIRST.c.id == table.c.first_seen_delivery)
              .outerjoin(_CHANGED, _CHANGED.c.id == table.c.last_changed_delivery)
              .outerjoin(_SEEN, _SEEN.c.id == table.c.last_seen_delivery))
    return sa.select(*columns).select_from(joined)


def product_json(row: sa.Row[Any]) -> dict[str, Any]:
    """A stored product as the read API shows it; ``document`` (when selected) is the product as
    received, in canonical form (sorted keys), whose SHA-256 is ``contentSha256``."""
    mapping = row._mapping
    product: dict[str, Any] = {
        "id": mapping["id"], "code": mapping["code"], "state": mapping["state"],
        "contentSha256": mapping["content_sha256"],
        "firstSeenDelivery": mapping["first_seen_delivery"], "firstSeenAt": _at(mapping["first_seen_at"]),
        "lastChangedDelivery": mapping["last_changed_delivery"], "lastChangedAt": _at(mapping["last_changed_at"]),
        "lastSeenDelivery": mapping["last_seen_delivery"], "lastSeenAt": _at(mapping["last_seen_at"]),
    }
    if "document" in mapping:
        product["document"] = mapping["document"]
    return product


def _at(moment: Any) -> str | None:
    return None if moment is None else utc_iso(moment)


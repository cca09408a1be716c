"""The S-360 inventory webhook channel (s360-inventory-webhook.txt, decisions.md s360-*).

The ticketing platform POSTs its WHOLE product inventory, whether or not a product changed, as JSON
arrays of at most P product documents, manually or every M minutes. Any answer but exactly 200 makes it
re-post the same batch, up to N times. This module is the whole channel: its ``[s360]`` section,
authentication exactly as the platform's back office is set up (NONE, BASIC_AUTH, API_KEY), the
validation of what identifies a product, its tables and the apply (each product kept by id with its
document and a content hash, so every delivery records which products were new, changed or unchanged),
the HTTP endpoint and the read routes. It needs only ``errors``, ``storage`` and ``web``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, abort, jsonify, request
from flask_httpauth import HTTPBasicAuth
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate
from sqlalchemy.engine import Connection

from .. import storage
from ..errors import ConfigError, InvalidPayload, Unauthenticated, shown
from ..web import (
    HEADER_NAME_CHARS,
    ID_64,
    Contract,
    Operation,
    Payload,
    Receipt,
    add_push_endpoint,
    int_arg,
    limit_parameter,
    parse_json,
    path_parameter,
    query_parameter,
    receipt_schema,
    secrets_equal,
    utc_iso,
)

log = logging.getLogger(__name__)

NAME = "s360"
MiB = 1024 * 1024
MIN_ID, MAX_ID = -(2**63), 2**63 - 1  # product ids are signed 64-bit integers (Java longs)
NEW, CHANGED, UNCHANGED = "new", "changed", "unchanged"


@dataclass(frozen=True)
class Config:
    """``[s360]``: S-360's inventory webhook, authenticated exactly as set on the interface in its back office."""

    SECRETS: ClassVar[tuple[str, ...]] = ("password",)  # the password, or the API key

    enabled: bool = False
    path: str = "/s360/inventory"  # the Url pasted in the back office
    auth: str = "NONE"  # NONE | BASIC_AUTH | API_KEY
    login: str = ""  # BASIC_AUTH: the login; API_KEY: the NAME of the header carrying the key
    password: str = ""  # BASIC_AUTH: the password; API_KEY: the key. Prefer RECEIVER_S360_PASSWORD
    # 1000 products (the default batch size P) shaped like the example are ~9 MiB of compact JSON and
    # ~28 MiB pretty-printed with 4 spaces as the document prints it.
    max_body_bytes: int = 32 * MiB

    def validate(self) -> None:
        if not self.enabled:
            return
        if not self.path.startswith("/"):
            raise ConfigError("[s360] path must start with '/'")
        if self.auth not in AUTH_MODES:
            raise ConfigError(f"[s360] auth must be one of {list(AUTH_MODES)} (as in the S-360 back "
                              f"office), not {self.auth!r}")
        if self.auth != "NONE" and not (self.login and self.password):
            raise ConfigError(f"[s360] auth = {self.auth!r} needs login and password (the password can come from "
                              "RECEIVER_S360_PASSWORD)")
        if self.auth == "BASIC_AUTH" and ":" in self.login:
            raise ConfigError("[s360] a BASIC_AUTH login cannot contain ':' (RFC 7617)")
        if self.auth == "API_KEY" and not set(self.login) <= HEADER_NAME_CHARS:
            raise ConfigError(f"[s360] with API_KEY, login is the header name, which {self.login!r} cannot be: "
                              "letters, digits and -!#$%&'*+.^`|~ only (names with '_' are dropped by the server)")
        if self.max_body_bytes < 1024:
            raise ConfigError("[s360] max_body_bytes must be at least 1024")


# --- authentication, as the back office has it ----------------------------------------------------------


Authenticate = Callable[[], object]  # raises Unauthenticated


def _no_auth(config: Config) -> Authenticate:
    """NONE: "nothing else to do" (a warning is logged at start-up, see register)."""
    return lambda: None


def _basic_auth(config: Config) -> Authenticate:
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

    return basic.login_required(lambda: None)


def _api_key(config: Config) -> Authenticate:
    """A key in a header: "API_KEY : put the name of the header (e.g. -x-api-key) in the login field. The
    key in the password field"."""
    return lambda: require_api_key(config.login, config.password)


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


# The back office's authentication modes: "Choose the authentication mode : NONE, BASIC_AUTH, API_KEY".
AUTH_MODES: dict[str, Callable[[Config], Authenticate]] = {
    "NONE": _no_auth,
    "BASIC_AUTH": _basic_auth,
    "API_KEY": _api_key,
}


# --- the body: an array of product documents ----------------------------------------------------------


def _storable(max_length: int | None = None) -> Callable[[str], None]:
    """Text the store can hold (storage.text_problem), on both backends alike."""
    def check(value: str) -> None:
        if problem := storage.text_problem(value, max_length):
            raise ValidationError(problem)
    return check


NO_NUL = r"^[^\u0000]*$"  # JSON Schema for storage.text_problem's first rule


class ProductId(fields.Field):
    """A product id: a JSON integer within signed 64 bits. Python's json parses integers exactly, so
    2**63-1 arrives whole; ``true`` (a bool is an int in Python), ``1.0`` and ``"1"`` are not ids."""

    def json_schema(self) -> dict[str, Any]:
        """What the published documents say of it (receiver/contracts.py)."""
        return {"type": "integer", "minimum": MIN_ID, "maximum": MAX_ID, "format": "int64"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if type(value) is not int:
            raise ValidationError(f"Not an integer: {shown(value, 40)}; a product id is a 64-bit integer "
                                  "written without quotes, decimals or exponent.")
        if not MIN_ID <= value <= MAX_ID:
            raise ValidationError(f"Out of range: {shown(value, 40)} does not fit a signed 64-bit integer.")
        return value


class ProductSchema(Schema):
    """What identifies a product is required (``id``, ``code``); ``state`` is typed because the read API
    filters on it; every other field is kept exactly as sent (decisions.md s360-*)."""

    class Meta:
        unknown = INCLUDE

    error_messages = {"type": "Not an object: each item of the array is one product document."}

    id = ProductId(required=True, metadata={"description": "The product's id, a signed 64-bit integer (decision "
                                                    "s360-3).", "examples": [10228321399304]}, error_messages={
        "required": "Missing: every product needs its id.", "null": "Null: every product needs its id."})
    # "8 characters, unique per season" (decisions.md s360-*) is what the example shows, not a rule the document
    # states: any non-empty string is taken, rather than refusing (and re-posting 12 times) a whole batch.
    code = fields.String(required=True, validate=[validate.Length(min=1, error="Empty: a product code is text."),
                                                  _storable()],
                         metadata={"description": "The product's code (8 characters, unique per season, in the "
                                   "example).", "pattern": NO_NUL, "examples": ["2010CIMM"]},
                         error_messages={"required": "Missing: every product needs its code.",
                                         "null": "Null: every product needs its code.",
                                         "invalid": "Not a string: a product code is text."})
    state = fields.String(allow_none=True, validate=_storable(storage.KEY_TEXT_MAX),  # indexed
                          metadata={"description": "The product's state, e.g. RUNNING.", "pattern": NO_NUL,
                                    "maxLength": storage.KEY_TEXT_MAX},
                          error_messages={"invalid": "Not a string (or null)."})


class Batch(fields.List):
    """The body: a JSON array of product documents (the text says "object"; the example is an array),
    each product at most once."""

    def __init__(self) -> None:
        super().__init__(fields.Nested(ProductSchema), error_messages={
            "invalid": "Not an array: the body is a JSON array of product objects, even for one product."})

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[Any]:
        # The schema is handed only the fields it checks: the others are kept as sent, unseen (INCLUDE),
        # and copying every field of every product would cost more than checking the three (what this
        # returns holds only those: validate_batch returns the documents themselves).
        checked = [{name: item[name] for name in CHECKED if name in item} if type(item) is dict else item
                   for item in value] if type(value) is list else value
        try:
            products, errors = super()._deserialize(checked, attr, data, **kwargs), {}
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


CHECKED = tuple(ProductSchema().fields)  # id, code, state
BATCH = Batch()


def validate_batch(document: Any) -> list[dict[str, Any]]:
    """Check a parsed body; every problem is reported by array index and field (``[5, "id"]``)."""
    try:
        BATCH.deserialize(document)
    except ValidationError as exc:
        # by item (the duplicate-id checks come last from the schema); within an item, as found
        raise InvalidPayload.from_messages(exc.messages, "the batch", order=lambda problem: problem["path"][:1]) \
            from None
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

# One row per product id (a signed 64-bit integer): its document in canonical JSON (sorted keys, compact:
# the exact text whose SHA-256 is content_sha256, so re-ordered keys are not a change), the fields the
# read API filters on, and the deliveries that first saw, last changed and last saw it (their times are
# those of the delivery log).
product_table = sa.Table(
    "s360_products",
    storage.metadata,
    sa.Column("id", storage.Id, primary_key=True, autoincrement=False),
    sa.Column("code", sa.Text, nullable=False),
    sa.Column("state", sa.Text),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("first_seen_delivery", storage.Id, nullable=False),
    sa.Column("last_changed_delivery", storage.Id, nullable=False),
    sa.Column("last_seen_delivery", storage.Id, nullable=False),
    sa.Index("ix_s360_products_state_id", "state", "id"),
)

# Every product of every accepted delivery: new, changed or unchanged (the platform sends the whole
# inventory each time, so this is what tells a real change from a re-send).
change_table = sa.Table(
    "s360_product_changes",
    storage.metadata,
    sa.Column("delivery_id", storage.Id, primary_key=True, autoincrement=False),
    sa.Column("product_id", storage.Id, primary_key=True, autoincrement=False),
    sa.Column("change", sa.String(9), nullable=False),  # new | changed | unchanged
    sa.Index("ix_s360_product_changes_product", "product_id", "delivery_id"),  # one product's history
)

# Column order of the row tuples written by upsert_rows: the tables' own.
STORED = [column.name for column in product_table.columns]
CHANGE_COLUMNS = [column.name for column in change_table.columns]
IN_CHUNK = 5000  # ids per IN (...) list, under SQLite's and PostgreSQL's limits on bound parameters


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), IN_CHUNK):
        yield ids[start:start + IN_CHUNK]


def apply(store: storage.Store, products: list[Product], body: bytes, *, content_type: str | None = None,
          remote_addr: str | None = None, reason: str | None = None,
          headers: list[list[str]] | None = None) -> Receipt:
    """Apply one batch in one transaction: new and changed products are written with their document,
    unchanged ones only marked seen, and every product's change is recorded against the delivery.

    The changes are computed inside the write transaction from the stored hashes, with the channel's
    deliveries serialised (SQLite's write lock; a PostgreSQL advisory lock), so two concurrent deliveries
    of one product cannot both call it new. A re-posted batch thus changes nothing and says so.
    """
    ids = [product.id for product in products]
    with store.write() as conn:
        storage.lock_channel(conn, NAME)
        delivery = storage.record_delivery(conn, channel=NAME, outcome="accepted", status=200, reason=reason,
                                           body=body, content_type=content_type, remote_addr=remote_addr,
                                           headers=headers)
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
        diffs = _diffs(conn, [product for product in products if product.id in stored
                              and stored[product.id][0] != product.content_sha256][:storage.MAX_DETAILED])
        storage.upsert_rows(conn, product_table, STORED, rows)
        for chunk in _chunks(unchanged):
            conn.execute(product_table.update().where(product_table.c.id.in_(chunk))
                         .values(last_seen_delivery=delivery))
        storage.insert_ignore(conn, change_table, CHANGE_COLUMNS, changes)
        counts = {"received": len(products), NEW: 0, CHANGED: 0, UNCHANGED: 0}
        for _, _, change in changes:
            counts[change] += 1
        storage.update_delivery(conn, delivery, counts=counts)
        storage.record_details(conn, delivery, changes={"diffs": diffs})
    return Receipt("accepted", delivery, counts, counts_name="products")


def _diffs(conn: Connection, changed: Sequence[Product]) -> dict[str, list[dict[str, Any]]]:
    """Product id → its field-level diff against the stored document, read before it is overwritten."""
    if not changed:
        return {}
    query = sa.select(product_table.c.id, product_table.c.document).where(
        product_table.c.id.in_([product.id for product in changed]))
    before = {row.id: row.document for row in conn.execute(query)}
    return {str(product.id): storage.field_diff(before.get(product.id), json.loads(product.document))
            for product in changed}


def _stored(conn: Connection, ids: Sequence[int]) -> dict[int, tuple[str, int]]:
    """id → (content hash, first seen delivery) of the stored products among ``ids``."""
    table = product_table
    found: dict[int, tuple[str, int]] = {}
    for chunk in _chunks(ids):
        query = sa.select(table.c.id, table.c.content_sha256, table.c.first_seen_delivery).where(
            table.c.id.in_(chunk))
        found.update((row.id, (row.content_sha256, row.first_seen_delivery)) for row in conn.execute(query))
    return found


def receive(store: storage.Store, config: Config, body: bytes, *, content_type: str | None = None,
            remote_addr: str | None = None, reason: str | None = None,
            headers: list[list[str]] | None = None) -> Receipt:
    """Parse, validate and apply one body: the transport-free core of the channel (the endpoint's, and
    ``inventory-receiver reapply``'s)."""
    products = products_of(validate_batch(parse_json(body)))
    return apply(store, products, body, content_type=content_type, remote_addr=remote_addr, reason=reason,
                 headers=headers)


# --- HTTP -----------------------------------------------------------------------------------------------


def register(app: Flask, api: Blueprint, config: Config, store: storage.Store) -> None:
    """Add the webhook endpoint (authenticated as configured) and the S-360 read routes. It answers
    exactly 200 on success: anything else makes the platform re-post."""
    if not config.enabled:
        return
    if config.auth == "NONE":
        log.warning("[s360] auth = NONE: anyone who can reach %s can replace the product inventory; "
                    "choose BASIC_AUTH or API_KEY in the S-360 back office and here", config.path)
    add_push_endpoint(
        app, [config.path], "s360_inventory_webhook", channel=NAME, store=store,
        max_body_bytes=config.max_body_bytes, authenticate=AUTH_MODES[config.auth](config),
        receive=lambda body, **request: receive(store, config, body, **request))

    @api.get("/s360/products")
    def list_products() -> Response:
        limit, after = _page(default_limit=100, max_limit=1000)
        table = product_table
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
                query = _product_query(document=True).where(product_table.c.id == product_id)
                row = conn.execute(query).first()
        if row is None:
            abort(404, description=f"no product {product_id}")
        return jsonify(product_json(row))

    @api.get("/s360/deliveries/<int:delivery_id>/changes")
    def delivery_changes(delivery_id: int) -> Response:
        limit, after = _page(default_limit=1000, max_limit=10_000)
        log_table, changes = storage.deliveries, change_table
        query = (sa.select(changes.c.product_id, changes.c.change).where(changes.c.delivery_id == delivery_id)
                 .order_by(changes.c.product_id).limit(limit + 1))
        if after is not None:
            query = query.where(changes.c.product_id > after)
        with store.read() as conn:
            delivery = conn.execute(sa.select(log_table.c.outcome, log_table.c.counts).where(
                log_table.c.id == delivery_id, log_table.c.channel == NAME)).first()
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
    table = product_table
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



# --- what the channel publishes (receiver/contracts.py builds the documents) ----------------------------

BATCH_PAYLOAD = Payload(
    {"type": "array", "items": {"$ref": "#/components/schemas/S360Product"}}, "S-360 inventory batch",
    "S-360 does POST all the data describing the product in the form of a JSON object — in fact a JSON array "
    "of product documents (the payload of getProductDetails), at most P per batch (decision s360-1). "
    "Unknown fields are kept (s360-4).",
    examples=("document-example",),
    beyond=(
        "each product appears once in a batch: two items with one id refuse the batch (s360-5)",
        "an id is written as an integer: JSON Schema reads 1.0 as the integer 1, the receiver refuses it (s360-3)",
        "an unchanged product is recognised as unchanged, a re-posted batch changes nothing (s360-2, s360-3)",
    ),
)

PRODUCTS = {"type": "object", "required": ["received", NEW, CHANGED, UNCHANGED],
            "properties": {name: {"type": "integer"} for name in ("received", NEW, CHANGED, UNCHANGED)}}
_MOMENT = {"type": ["string", "null"], "format": "date-time"}
PRODUCT = {
    "type": "object",
    "required": ["id", "code", "state", "contentSha256", "firstSeenDelivery", "firstSeenAt", "lastChangedDelivery",
                 "lastChangedAt", "lastSeenDelivery", "lastSeenAt"],
    "properties": {
        "id": {"type": "integer", "format": "int64"}, "code": {"type": "string"}, "state": {"type": ["string", "null"]},
        "contentSha256": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                          "description": "SHA-256 of the document's canonical JSON (sorted keys, compact)"},
        "firstSeenDelivery": {"type": "integer"}, "firstSeenAt": _MOMENT,
        "lastChangedDelivery": {"type": "integer", "description": "the last delivery that brought a different "
                                "document"},
        "lastChangedAt": _MOMENT,
        "lastSeenDelivery": {"type": "integer", "description": "the last delivery that carried it at all"},
        "lastSeenAt": _MOMENT,
        "document": {"type": "object", "description": "the product as received (sorted keys)"},
    },
}
_PRODUCT_EXAMPLE = {"id": 10228321399304, "code": "2010CIMM", "state": "RUNNING", "contentSha256": "0" * 64,
                    "firstSeenDelivery": 7, "firstSeenAt": "2026-01-05T10:00:00.123Z", "lastChangedDelivery": 7,
                    "lastChangedAt": "2026-01-05T10:00:00.123Z", "lastSeenDelivery": 9,
                    "lastSeenAt": "2026-01-05T10:30:00.654Z"}
_ID = {"type": "integer", "format": "int64", "minimum": MIN_ID, "maximum": MAX_ID}


def contract(config: Config | None) -> Contract:
    """The webhook and the S-360 read routes. ``config`` None: the published document, every
    authentication mode of the back office; else the configured one."""
    modes = list(AUTH_MODES) if config is None else [config.auth]
    header = config.login if config is not None and config.auth == "API_KEY" else "x-api-key"
    schemes = {}
    security: list[dict[str, list[str]]] = []
    if "NONE" in modes:
        security.append({})
    if "BASIC_AUTH" in modes:
        schemes["s360-basic"] = {"type": "http", "scheme": "basic", "description": "BASIC_AUTH: \"put the login in "
                                 "the login field, the password in the password field\" (decision s360-6)."}
        security.append({"s360-basic": []})
    if "API_KEY" in modes:
        schemes["s360-api-key"] = {"type": "apiKey", "in": "header", "name": header.lstrip("-"),
                                   "description": "API_KEY: \"put the name of the header (e.g. -x-api-key) in the "
                                   "login field. The key in the password field\"; a leading hyphen of the name is "
                                   "ignored (decision s360-6)."}
        security.append({"s360-api-key": []})
    webhook = Operation(
        "post", config.path if config else Config.path, "s360_inventory_webhook", "Receive an S-360 inventory batch",
        "S-360 posts its whole inventory in batches. Success is exactly 200: on any other answer the same batch is "
        "re-posted every M minutes, up to N times (decision s360-2). A batch with an invalid product is refused "
        "whole (s360-5).",
        receipt_schema("products", PRODUCTS, warnings=False, duplicates=False),
        {"outcome": "accepted", "delivery": 9, "products": {"received": 3, NEW: 0, CHANGED: 1, UNCHANGED: 2}},
        (400, 401, 408, 413, 415, 422, 500), body="s360-batch", security=security,
        links={"GetProduct": {"operationId": "get_s360_product", "parameters": {"id": "$request.body#/0/id"},
                              "description": "the batch's first product, as now held"},
               "GetDeliveryChanges": {"operationId": "get_s360_delivery_changes",
                                      "parameters": {"delivery": "$response.body#/delivery"},
                                      "description": "what this delivery changed"}},
    )
    after = query_parameter("after", _ID, "the next_after of the previous page")
    listing = Operation(
        "get", "/s360/products", "list_s360_products", "List the products held",
        "Products by id, paged, without their documents.",
        {"type": "object", "required": ["items", "next_after"],
         "properties": {"items": {"type": "array", "items": PRODUCT}, "next_after": {"type": ["integer", "null"]}}},
        {"items": [_PRODUCT_EXAMPLE], "next_after": None}, (400, 401), read=True,
        links={"GetProduct": {"operationId": "get_s360_product", "parameters": {"id": "$response.body#/items/0/id"}}},
        parameters=(limit_parameter(100, 1000), after, query_parameter("state", {"type": "string"}, "only this state")),
    )
    product = Operation(
        "get", "/s360/products/{id}", "get_s360_product", "One product (state probe)",
        "The product currently held, with its document as received; 404 for a product never received "
        "(docs/state-probe.md).",
        {**PRODUCT, "required": [*PRODUCT["required"], "document"]},
        {**_PRODUCT_EXAMPLE, "document": {"id": 10228321399304, "code": "2010CIMM", "state": "RUNNING"}},
        (401, 404), read=True, probe=True,
        parameters=(path_parameter("id", {"type": "integer", "format": "int64"}, "the product's id"),),
    )
    changes = Operation(
        "get", "/s360/deliveries/{delivery}/changes", "get_s360_delivery_changes", "What one delivery changed",
        "The products a delivery brought, by change, ids ascending and paged; 404 for a delivery that is not an "
        "S-360 one.",
        {"type": "object", "required": ["delivery", "outcome", "counts", NEW, CHANGED, UNCHANGED, "next_after"],
         "properties": {"delivery": {"type": "integer"}, "outcome": {"type": "string"},
                        "counts": {"type": ["object", "null"]},
                        **{name: {"type": "array", "items": {"type": "integer"}} for name in (NEW, CHANGED, UNCHANGED)},
                        "next_after": {"type": ["integer", "null"]}}},
        {"delivery": 9, "outcome": "accepted", "counts": {"received": 3, NEW: 0, CHANGED: 1, UNCHANGED: 2}, NEW: [],
         CHANGED: [10228321402530], UNCHANGED: [10228321399304, 10228321405948], "next_after": None},
        (400, 401, 404), read=True,
        parameters=(path_parameter("delivery", ID_64, "the delivery of the 200 answer"),
                    limit_parameter(1000, 10_000), after),
    )
    return Contract("S-360 inventory webhook", "S-360's inventory webhook (s360-inventory-webhook.txt).",
                    [webhook, listing, product, changes], schemes,
                    {"s360-batch": BATCH_PAYLOAD, "s360-product": Payload(ProductSchema, "S-360 product",
                                                                           "One product document of a batch.",
                                                                           examples=("document-example#/0",))})

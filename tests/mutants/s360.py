"""S-360 webhook receivers that each break one rule: the reference channel (``receiver/channels/s360.py``)
with one plausible mistake of a customer's own receiver. They run in all three authentication modes —
Basic (the harness's default), API_KEY under the document's own header name ``-x-api-key``, and NONE —
and the harness gives the suite the matching ``--s360-auth``. Names start with ``s360-``: the mutants of
every channel are served side by side. Every S-360 rule has a mutant: the channel adds nothing to
``NOT_COVERED``."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, jsonify, request
from sqlalchemy.engine import Connection

from inventory_push_kit import fixtures
from inventory_push_kit.receiver import web
from inventory_push_kit.receiver.channels import s360
from inventory_push_kit.receiver.channels.s360 import product_table
from inventory_push_kit.receiver.config import Config
from inventory_push_kit.receiver.errors import InvalidPayload, MalformedBody, ReceiverError, Unauthenticated
from inventory_push_kit.receiver.storage import Store, sha256
from inventory_push_kit.receiver.web import Receipt
from tests.mutants import mutant

ENDPOINT = "s360_inventory_webhook"
API_KEY = {"s360": {"auth": "API_KEY", "login": "-x-api-key", "password": "power-s360-key"}}
NO_AUTH = {"s360": {"auth": "NONE", "login": "", "password": ""}}
View = Callable[[], Any]


def replace_webhook(app: Flask, store: Store, config: Config, *, receive: web.Receive | None = None,
                    authenticate: Callable[[], object] | None = None) -> None:
    """The webhook with another ``receive`` and/or ``authenticate``; the reference's for what is not given."""
    section = config.s360
    app.view_functions[ENDPOINT] = web.push_view(
        ENDPOINT, channel=s360.NAME, store=store, max_body_bytes=section.max_body_bytes,
        receive=receive or (lambda body, **sent: s360.receive(store, section, body, **sent)),
        authenticate=authenticate or s360.AUTH_MODES[section.auth](section))


def wrap_webhook(app: Flask, wrapper: Callable[[View], View]) -> None:
    app.view_functions[ENDPOINT] = wrapper(app.view_functions[ENDPOINT])


def body_digest() -> str:
    """The SHA-256 of the request's body, read ahead of the view (which then reads it again)."""
    body = request.get_data(cache=True)
    request.environ["wsgi.input"] = io.BytesIO(body)  # web.read_body reads the stream itself
    return sha256(body)


def batch_ids(body: bytes) -> list[int]:
    """The integer ids of the products in a body (none when it is not an array)."""
    try:
        document = json.loads(body)
    except ValueError:
        return []
    items = document if isinstance(document, list) else []
    return [item["id"] for item in items if isinstance(item, dict) and type(item.get("id")) is int]


def then_write(store: Store, config: Config, write: Callable[[Connection, bytes, Receipt], object]) -> web.Receive:
    """The reference's receive, then ``write(conn, body, receipt)`` on the products it just stored: the
    mistake, made after the reference's own write."""
    def receive(body: bytes, **sent: Any) -> Receipt:
        receipt = s360.receive(store, config.s360, body, **sent)
        with store.write() as conn:
            write(conn, body, receipt)
        return receipt
    return receive


def refusing(store: Store, config: Config, problems: Callable[[list[Any]], list[dict[str, Any]]]) -> web.Receive:
    """``problems(items)`` of the body's array refuse it (422) before the reference's receive sees it."""
    def receive(body: bytes, **sent: Any) -> Receipt:
        document = web.parse_json(body)
        if found := problems(document if isinstance(document, list) else []):
            raise InvalidPayload(f"the batch was rejected: {len(found)} problem(s)", problems=found)
        return s360.receive(store, config.s360, body, **sent)
    return receive


# --- s360.exactly-200 -------------------------------------------------------------------------------


def _answering(status: int, when: Callable[[dict[str, Any]], bool] = lambda counts: True) -> Callable[[View], View]:
    def wrapper(view: View) -> View:
        def answer() -> Any:
            response, code = view()
            if code == 200 and when(response.get_json()["products"]):
                return (Response(status=204) if status == 204 else response), status
            return response, code
        return answer
    return wrapper


@mutant("s360-answers-201", "s360.exactly-200", "answers 201 Created instead of 200 (the platform re-posts on it)")
def _answers_201(app: Flask, store: Store, config: Config) -> None:
    wrap_webhook(app, _answering(201))


@mutant("s360-answers-202", "s360.exactly-200", "answers 202 Accepted, as a receiver that queues the work would "
        "(interface without authentication)", config=NO_AUTH)
def _answers_202(app: Flask, store: Store, config: Config) -> None:
    wrap_webhook(app, _answering(202))


@mutant("s360-204-when-unchanged", "s360.exactly-200", "answers 204 No Content to a batch that changed nothing "
        "(a re-post, an unchanged inventory, an empty batch); 200 otherwise", config=API_KEY)
def _answers_204_when_unchanged(app: Flask, store: Store, config: Config) -> None:
    wrap_webhook(app, _answering(204, lambda counts: not (counts["new"] or counts["changed"])))


# --- s360.full-batch, s360.any-state, s360.nothing-removed -------------------------------------------


@mutant("s360-limit-4-mib", "s360.full-batch", "keeps a 4 MiB body limit, a common proxy and framework default, "
        "below a full batch", config={"s360": {"max_body_bytes": 4 * 1024 * 1024}})
def _limit_4_mib(app: Flask, store: Store, config: Config) -> None:
    """The configuration is the mistake; the app is the reference's."""


@mutant("s360-stores-only-running", "s360.any-state", "stores only the products on sale (state RUNNING) and "
        "answers 200 for the batch")
def _stores_only_running(app: Flask, store: Store, config: Config) -> None:
    def receive(body: bytes, **sent: Any) -> Receipt:
        products = s360.products_of(s360.validate_batch(web.parse_json(body)))
        return s360.apply(store, [p for p in products if p.state == "RUNNING"], body, **sent)

    replace_webhook(app, store, config, receive=receive)


@mutant("s360-batch-replaces-inventory", "s360.nothing-removed", "takes each batch for the whole inventory: "
        "the products it does not carry are deleted")
def _batch_replaces_inventory(app: Flask, store: Store, config: Config) -> None:
    def delete_the_others(conn: Connection, body: bytes, receipt: Receipt) -> None:
        conn.execute(product_table.delete().where(product_table.c.id.not_in(batch_ids(body))))

    replace_webhook(app, store, config, receive=then_write(store, config, delete_the_others))


# --- s360.auth, s360.auth-401, s360.api-key-hyphen, s360.refused-then-accepted -------------------------


@mutant("s360-basic-ignores-login", "s360.auth", "with BASIC_AUTH, checks the password and not the login")
def _basic_ignores_login(app: Flask, store: Store, config: Config) -> None:
    def authenticate() -> None:
        given = request.authorization
        if given is None or not web.secrets_equal(given.password, config.s360.password):
            raise Unauthenticated("credentials missing or wrong")

    replace_webhook(app, store, config, authenticate=authenticate)


@mutant("s360-api-key-only-when-present", "s360.auth", "with API_KEY (header -x-api-key), refuses a wrong key but "
        "lets a request without the header through", config=API_KEY)
def _api_key_only_when_present(app: Flask, store: Store, config: Config) -> None:
    def authenticate() -> None:
        if config.s360.login in request.headers:
            s360.require_api_key(config.s360.login, config.s360.password)

    replace_webhook(app, store, config, authenticate=authenticate)


class Refused(ReceiverError):
    status = 403
    reason = "forbidden"


@mutant("s360-wrong-credentials-403", "s360.auth-401", "answers 403 Forbidden to wrong credentials (API_KEY)",
        config=API_KEY)
def _wrong_credentials_403(app: Flask, store: Store, config: Config) -> None:
    reference = s360.AUTH_MODES[config.s360.auth](config.s360)

    def authenticate() -> None:
        try:
            reference()
        except Unauthenticated as exc:
            raise Refused(exc.message) from None

    replace_webhook(app, store, config, authenticate=authenticate)


@mutant("s360-api-key-exact-header-name", "s360.api-key-hyphen", "with API_KEY, looks the key up under the "
        "configured header name exactly: x-api-key is not -x-api-key to it", config=API_KEY)
def _api_key_exact_header_name(app: Flask, store: Store, config: Config) -> None:
    def authenticate() -> None:
        if not web.secrets_equal(request.headers.get(config.s360.login), config.s360.password):
            raise Unauthenticated(f"missing or wrong {config.s360.login}")

    replace_webhook(app, store, config, authenticate=authenticate)


def known_bodies_do_nothing(app: Flask, *, remember_refused: bool) -> None:
    """A body the webhook was sent before is answered 200 and not applied: every body is remembered as it
    arrives (``remember_refused``), or only those the reference accepted."""
    seen: set[str] = set()

    def wrapper(view: View) -> View:
        def deduplicating() -> Any:
            digest = body_digest()
            if digest in seen:
                return jsonify({"outcome": "duplicate"}), 200
            if remember_refused:
                seen.add(digest)
            response, code = view()
            if code == 200:
                seen.add(digest)
            return response, code
        return deduplicating

    wrap_webhook(app, wrapper)


@mutant("s360-remembers-refused-bodies", "s360.refused-then-accepted", "answers a body it was sent before with 200 "
        "and does nothing, remembering bodies before checking credentials (so a refused one is never applied)")
def _remembers_refused_bodies(app: Flask, store: Store, config: Config) -> None:
    known_bodies_do_nothing(app, remember_refused=True)


# --- s360.invalid-batch, s360.status-codes, s360.batches-accepted -------------------------------------


@mutant("s360-applies-until-invalid", "s360.invalid-batch", "applies a batch product by product, each in its own "
        "transaction, and stops with 422 at the first invalid one (the products before it stay applied)")
def _applies_until_invalid(app: Flask, store: Store, config: Config) -> None:
    def receive(body: bytes, **sent: Any) -> Receipt:
        document = web.parse_json(body)
        if not isinstance(document, list):
            raise InvalidPayload("the body is not an array")
        receipt = s360.apply(store, [], body, **sent)
        for item in document:
            receipt = s360.apply(store, s360.products_of(s360.validate_batch([item])), body, **sent)
        return receipt

    replace_webhook(app, store, config, receive=receive)


@mutant("s360-refuses-with-400", "s360.status-codes", "answers 400 to every refusal, an invalid product too")
def _refuses_with_400(app: Flask, store: Store, config: Config) -> None:
    def receive(body: bytes, **sent: Any) -> Receipt:
        try:
            return s360.receive(store, config.s360, body, **sent)
        except InvalidPayload as exc:
            raise MalformedBody(exc.message, problems=exc.problems) from None

    replace_webhook(app, store, config, receive=receive)


@mutant("s360-refuses-empty-batch", "s360.batches-accepted", "refuses an empty array with 422 (\"no products\")",
        config=NO_AUTH)
def _refuses_empty_batch(app: Flask, store: Store, config: Config) -> None:
    def problems(items: list[Any]) -> list[dict[str, Any]]:
        return [] if items else [{"path": [], "message": "No products."}]

    replace_webhook(app, store, config, receive=refusing(store, config, problems))


# --- what is stored -----------------------------------------------------------------------------------


def _documents_then_apply(store: Store, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> web.Receive:
    """The reference's receive, with each validated document passed through ``change`` (None: left out)."""
    def receive(body: bytes, **sent: Any) -> Receipt:
        documents = [change(d) for d in s360.validate_batch(web.parse_json(body))]
        return s360.apply(store, s360.products_of([d for d in documents if d is not None]), body, **sent)
    return receive


@mutant("s360-requires-example-fields", "s360.minimal-products", "requires every field each product of the "
        "document's example has (productFamilyType, state, externalName): a product without one is 422")
def _requires_example_fields(app: Flask, store: Store, config: Config) -> None:
    required = ("productFamilyType", "state", "externalName")

    def problems(items: list[Any]) -> list[dict[str, Any]]:
        return [{"path": [index, name], "message": "Missing data for required field."}
                for index, item in enumerate(items) for name in required if isinstance(item, dict) and name not in item]

    replace_webhook(app, store, config, receive=refusing(store, config, problems))


@mutant("s360-keeps-only-known-fields", "s360.unknown-fields-kept", "stores only the top-level fields the "
        "document's example shows (a schema set to exclude unknown fields)", config=API_KEY)
def _keeps_only_known_fields(app: Flask, store: Store, config: Config) -> None:
    known = set(fixtures.load("s360", "document-example")[0])
    replace_webhook(app, store, config, receive=_documents_then_apply(
        store, lambda document: {key: value for key, value in document.items() if key in known}))


@mutant("s360-safe-integer-ids", "s360.id-64-bit", "refuses ids beyond ±(2^53 - 1), JavaScript's safe integers "
        "(as a receiver validating with Number.isSafeInteger does)")
def _safe_integer_ids(app: Flask, store: Store, config: Config) -> None:
    def problems(items: list[Any]) -> list[dict[str, Any]]:
        return [{"path": [index, "id"], "message": "Not a safe integer."} for index, item in enumerate(items)
                if isinstance(item, dict) and isinstance(item.get("id"), int) and abs(item["id"]) > 2**53 - 1]

    replace_webhook(app, store, config, receive=refusing(store, config, problems))


@mutant("s360-keyed-by-code", "s360.stored-by-id", "keeps one product per code: a new season's product with last "
        "season's code replaces it")
def _keyed_by_code(app: Flask, store: Store, config: Config) -> None:
    def one_per_code(conn: Connection, body: bytes, receipt: Receipt) -> None:
        for item in json.loads(body):
            conn.execute(product_table.delete().where(product_table.c.code == item["code"],
                                                      product_table.c.id != item["id"]))

    replace_webhook(app, store, config, receive=then_write(store, config, one_per_code))


@mutant("s360-drops-null-fields", "s360.stored-by-id", "stores each document without its null fields (a model "
        "dumped with exclude_none), as if a null were no value", config=NO_AUTH)
def _drops_null_fields(app: Flask, store: Store, config: Config) -> None:
    def without_nulls(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: without_nulls(item) for key, item in value.items() if item is not None}
        return [without_nulls(item) for item in value] if isinstance(value, list) else value

    replace_webhook(app, store, config, receive=_documents_then_apply(store, without_nulls))


@mutant("s360-document-written-once", "s360.latest-document", "writes a product's document when it is new only: "
        "a later change moves its hash and deliveries, the document stays the first one")
def _document_written_once(app: Flask, store: Store, config: Config) -> None:
    def receive(body: bytes, **sent: Any) -> Receipt:
        ids = batch_ids(body)
        with store.read() as conn:
            first = dict(conn.execute(sa.select(product_table.c.id, product_table.c.document)
                                      .where(product_table.c.id.in_(ids))).tuples().all()) if ids else {}
        receipt = s360.receive(store, config.s360, body, **sent)
        with store.write() as conn:
            for product_id, document in first.items():
                conn.execute(product_table.update().where(product_table.c.id == product_id)
                             .values(document=document))
        return receipt

    replace_webhook(app, store, config, receive=receive)


@mutant("s360-hash-in-key-order", "s360.change-tracked", "tells a change by the SHA-256 of each product's JSON in "
        "the key order it arrived in, so the same product with its keys reordered is 'changed'")
def _hash_in_key_order(app: Flask, store: Store, config: Config) -> None:
    def product(document: dict[str, Any]) -> s360.Product:
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)  # no sort_keys
        return s360.Product(document["id"], document["code"], document.get("state"), text, sha256(text.encode()))

    def receive(body: bytes, **sent: Any) -> Receipt:
        products = [product(d) for d in s360.validate_batch(web.parse_json(body))]
        return s360.apply(store, products, body, **sent)

    replace_webhook(app, store, config, receive=receive)


@mutant("s360-body-digest-dedup", "s360.change-tracked", "takes a body it accepted before for a re-post and does "
        "nothing with it (the stock push's replay rule), so a product changed and changed back stays changed",
        config=API_KEY)
def _body_digest_dedup(app: Flask, store: Store, config: Config) -> None:
    known_bodies_do_nothing(app, remember_refused=False)


@mutant("s360-every-delivery-changes", "s360.repost-changes-nothing", "records every product of every delivery as "
        "changed by it (an updated_at column written on each upsert)", config=NO_AUTH)
def _every_delivery_changes(app: Flask, store: Store, config: Config) -> None:
    def all_changed(conn: Connection, body: bytes, receipt: Receipt) -> None:
        conn.execute(product_table.update().where(product_table.c.id.in_(batch_ids(body)))
                     .values(last_changed_delivery=receipt.delivery))

    replace_webhook(app, store, config, receive=then_write(store, config, all_changed))


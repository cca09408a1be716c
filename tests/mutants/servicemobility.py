"""ServiceMobility webhook receivers that each break one rule: each a mistake a receiver written from the
document could make. The endpoints are ``servicemobility_<Type>``; a mutant replaces the views of some
types (``replace_view``), changes the answers (an ``after_request`` hook), or writes to the store after
the reference receiver did."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
import sqlalchemy as sa
from flask import Flask, Response, abort, jsonify, redirect, request

from inventory_push_kit.receiver import web
from inventory_push_kit.receiver.channels import servicemobility
from inventory_push_kit.receiver.channels.servicemobility import TOKEN_HEADER, InvalidLogon, event_table
from inventory_push_kit.receiver.config import Config
from inventory_push_kit.receiver.errors import InvalidPayload
from inventory_push_kit.receiver.storage import Store
from inventory_push_kit.receiver.web import Receipt
from tests.mutants import mutant

EVERY_TYPE = list(servicemobility.TYPES)
OTHER_TYPES = [event_type for event_type in EVERY_TYPE if event_type != "InventoryUsage"]


def endpoint(event_type: str) -> str:
    return f"servicemobility_{event_type}"


def is_push() -> bool:
    return (request.endpoint or "").startswith("servicemobility_")


def reference_receive(store: Store, config: Config, event_type: str) -> web.Receive:
    def receive(body: bytes, **sent: Any) -> Receipt:
        return servicemobility.receive(store, config.servicemobility, body, path_type=event_type, **sent)

    return receive


def reference_token_check(config: Config) -> Callable[[], object]:
    check = servicemobility.token_check(config.servicemobility)
    return lambda: check.verify(request.headers.get(TOKEN_HEADER))


def replace_view(app: Flask, store: Store, config: Config, event_type: str, receive: web.Receive, *,
                 authenticate: Callable[[], object] | None = None) -> None:
    """The endpoint of one type with another ``receive`` (and, optionally, another token check)."""
    app.view_functions[endpoint(event_type)] = web.push_view(
        endpoint(event_type), channel="servicemobility", store=store,
        max_body_bytes=config.servicemobility.max_body_bytes, receive=receive,
        authenticate=authenticate or reference_token_check(config))


Peek = Callable[[Any, str], Receipt | None]  # (the parsed body, the type of the path) → an answer, or None


def in_front_of_the_reference(app: Flask, store: Store, config: Config, types: list[str], peek: Peek) -> None:
    """The endpoints of ``types`` look at the parsed body first: what ``peek`` returns (or raises) is the
    answer; None lets the reference receiver take the body."""
    for event_type in types:
        def receive(body: bytes, event_type: str = event_type, **sent: Any) -> Receipt:
            answer = peek(web.parse_json(body), event_type)
            if answer is not None:
                return answer
            return reference_receive(store, config, event_type)(body, **sent)

        replace_view(app, store, config, event_type, receive)


def with_token_check(app: Flask, store: Store, config: Config, types: list[str],
                     authenticate: Callable[[], object]) -> None:
    """The endpoints of ``types`` with another token check in front of the reference receiver."""
    for event_type in types:
        replace_view(app, store, config, event_type, reference_receive(store, config, event_type),
                     authenticate=authenticate)


def rewrite_status(app: Flask, change: Callable[[Response], int | None]) -> None:
    """Every answer of the push endpoints gets the status ``change`` gives (None: as it was)."""
    @app.after_request
    def rewrite(response: Response) -> Response:
        if is_push() and (status := change(response)) is not None:
            response.status_code = status
        return response


def verify_with(config: Config, **options: Any) -> Callable[[], object]:
    """A token check of the receiver's key and algorithms, calling PyJWT with other ``options``."""
    check = servicemobility.token_check(config.servicemobility)

    def verify() -> object:
        token = request.headers.get(TOKEN_HEADER)
        if not token or check.key_for is None:
            raise InvalidLogon("no token")
        try:
            return jwt.decode(token, check.key_for(token), algorithms=check.algorithms, audience=check.audience,
                              issuer=check.issuer, leeway=check.leeway, options=options)
        except jwt.PyJWTError as exc:
            raise InvalidLogon(f"{type(exc).__name__}: {exc}") from None

    return verify


# --- what is answered and stored ------------------------------------------------------------------------


@mutant("answers-202-accepted", "servicemobility.success",
        "answers 202 Accepted to the events it takes, as if they were queued for later")
def _answers_202_accepted(app: Flask, store: Store, config: Config) -> None:
    rewrite_status(app, lambda response: 202 if response.status_code == 200 else None)


@mutant("serves-activity-under-its-type-name", "servicemobility.success",
        "posts of Activity are expected on Activity/, the type name like the eight others: Activities/ is not found")
def _serves_activity_under_its_type_name(app: Flask, store: Store, config: Config) -> None:
    documented = servicemobility.paths(config.servicemobility)["Activity"]
    by_name = f"{config.servicemobility.base.rstrip('/')}/Activity"
    for rule in (by_name, f"{by_name}/"):
        app.add_url_rule(rule, "servicemobility_Activity_by_name", app.view_functions[endpoint("Activity")],
                         methods=["POST"])

    @app.before_request
    def not_found() -> Any:
        if request.path in (documented, f"{documented}/"):
            abort(404)
        return None


@mutant("refuses-tokens-older-than-10-minutes", "servicemobility.success",
        "refuses a token issued more than 10 minutes ago (against replays), though the platform sends the token of "
        "the API call that triggered the webhook, up to 15 minutes earlier")
def _refuses_old_tokens(app: Flask, store: Store, config: Config) -> None:
    verify = reference_token_check(config)

    def young_enough() -> object:
        claims = verify()
        if isinstance(claims, dict) and time.time() - float(claims.get("iat", 0)) > 600:
            raise InvalidLogon("the token was issued more than 10 minutes ago")
        return claims

    with_token_check(app, store, config, EVERY_TYPE, young_enough)


@mutant("stores-inventory-usage-only", "servicemobility.stored",
        "validates the eight other types and answers them 200, but stores only InventoryUsage events")
def _stores_inventory_usage_only(app: Flask, store: Store, config: Config) -> None:
    for event_type in OTHER_TYPES:
        def acknowledge(body: bytes, event_type: str = event_type, **sent: Any) -> Receipt:
            event = servicemobility.validate(web.parse_json(body), event_type)
            return Receipt("accepted", 0, {"received": event.rows, "usage": 0})

        replace_view(app, store, config, event_type, acknowledge)


@mutant("keeps-first-version-of-each-usage-object", "servicemobility.stored",
        "keeps one row per usage object (RefModule, RefObjID), the first: later updates in the same event are "
        "dropped, as an insert-or-ignore on that key would")
def _keeps_first_version(app: Flask, store: Store, config: Config) -> None:
    def receive(body: bytes, **sent: Any) -> Receipt:
        document = web.parse_json(body)
        servicemobility.validate(document, "InventoryUsage")
        seen: set[tuple[str, str]] = set()
        rows = []
        for row in document["data"]["rows"]:
            key = (str(row["InventoryUsage"]["RefModule"]), str(row["InventoryUsage"]["RefObjID"]))
            if key not in seen:
                seen.add(key)
                rows.append(row)
        kept = {**document, "data": {**document["data"], "rows": rows}}
        # What it kept is all it holds: the envelope it stores is that document's text, not the body's.
        return servicemobility.apply(store, servicemobility.validate(kept, "InventoryUsage"),
                                     json.dumps(kept).encode(), **sent)

    replace_view(app, store, config, "InventoryUsage", receive)


@mutant("redirects-without-trailing-slash", "servicemobility.trailing-slash",
        "serves only the document's paths with their trailing slash: without it, a 308 redirect (Flask's "
        "strict_slashes)")
def _redirects_without_trailing_slash(app: Flask, store: Store, config: Config) -> None:
    without = set(servicemobility.paths(config.servicemobility).values())

    @app.before_request
    def add_the_slash() -> Any:
        if request.method == "POST" and request.path in without:
            return redirect(f"{request.script_root}{request.path}/", 308)
        return None


@mutant("requires-time", "servicemobility.optional-attributes",
        "refuses an event without time, as if the optional attribute were required")
def _requires_time(app: Flask, store: Store, config: Config) -> None:
    def time_required(document: Any, event_type: str) -> Receipt | None:
        if isinstance(document, dict) and document.get("time") is None:
            raise InvalidPayload("the event was rejected: time is required",
                                 problems=[{"path": ["time"], "message": "Missing data for required field."}])
        return None

    in_front_of_the_reference(app, store, config, EVERY_TYPE, time_required)


# --- tokens -------------------------------------------------------------------------------------------


@mutant("token-checked-on-inventory-usage-only", "servicemobility.invalid-logon",
        "evaluates x-access-token on InventoryUsage/ only, the path the document describes: the eight other "
        "types are taken with any token or none")
def _token_checked_on_inventory_usage_only(app: Flask, store: Store, config: Config) -> None:
    with_token_check(app, store, config, OTHER_TYPES, lambda: None)


@mutant("refuses-a-bad-token-with-403", "servicemobility.invalid-logon",
        "answers 403 Forbidden to a token it refuses, instead of the document's 401")
def _refuses_with_403(app: Flask, store: Store, config: Config) -> None:
    rewrite_status(app, lambda response: 403 if response.status_code == 401 else None)


@mutant("trusts-a-jwk-in-the-token", "servicemobility.invalid-logon",
        "verifies a token that carries its own key (a jwk in its header, for key rotation) with that key and the "
        "algorithm the header names; other tokens as the reference does")
def _trusts_a_jwk_in_the_token(app: Flask, store: Store, config: Config) -> None:
    verify = reference_token_check(config)

    def with_the_tokens_key() -> object:
        token = request.headers.get(TOKEN_HEADER) or ""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return verify()
        if "jwk" not in header:
            return verify()
        try:
            return jwt.decode(token, jwt.PyJWK(header["jwk"]).key, algorithms=[header["alg"]])
        except jwt.PyJWTError as exc:
            raise InvalidLogon(f"{type(exc).__name__}: {exc}") from None

    with_token_check(app, store, config, EVERY_TYPE, with_the_tokens_key)


@mutant("ignores-iat-and-nbf", "servicemobility.token-times",
        "checks the signature and exp but turns off PyJWT's iat and nbf checks (to be safe from clock skew)")
def _ignores_iat_and_nbf(app: Flask, store: Store, config: Config) -> None:
    with_token_check(app, store, config, EVERY_TYPE,
                     verify_with(config, require=["exp"], verify_iat=False, verify_nbf=False))


@mutant("exp-not-required", "servicemobility.exp-required",
        "verifies the token with PyJWT's defaults, which check exp when it is there but do not require it")
def _exp_not_required(app: Flask, store: Store, config: Config) -> None:
    with_token_check(app, store, config, EVERY_TYPE, verify_with(config))


# --- malformed ----------------------------------------------------------------------------------------


@mutant("acknowledges-malformed-events", "servicemobility.malformed",
        "answers 200 to an event it cannot read or validate, so that the platform stops sending it, and stores "
        "nothing of it")
def _acknowledges_malformed_events(app: Flask, store: Store, config: Config) -> None:
    rewrite_status(app, lambda response: 200 if response.status_code in (400, 422) else None)


@mutant("validates-the-first-usage-row-only", "servicemobility.malformed",
        "validates (and flattens) the first row of an InventoryUsage event only, and stores the event whatever "
        "its other rows hold")
def _validates_the_first_row_only(app: Flask, store: Store, config: Config) -> None:
    def receive(body: bytes, **sent: Any) -> Receipt:
        document = web.parse_json(body)
        data = document.get("data") if isinstance(document, dict) else None
        rows = data.get("rows") if isinstance(data, dict) else None
        if isinstance(rows, list) and rows:
            event = servicemobility.validate({**document, "data": {**data, "rows": rows[:1]}}, "InventoryUsage")
            event.document = document  # the envelope as received, every row
        else:
            event = servicemobility.validate(document, "InventoryUsage")
        return servicemobility.apply(store, event, body, **sent)

    replace_view(app, store, config, "InventoryUsage", receive)


@mutant("validates-inventory-usage-only", "servicemobility.malformed",
        "validates the envelope of InventoryUsage events only: an event of the eight other types is stored as it "
        "comes, once it has a source and an id")
def _validates_inventory_usage_only(app: Flask, store: Store, config: Config) -> None:
    for event_type in OTHER_TYPES:
        def receive(body: bytes, event_type: str = event_type, **sent: Any) -> Receipt:
            document = web.parse_json(body)
            if not (isinstance(document, dict) and isinstance(document.get("source"), str)
                    and isinstance(document.get("id"), str)):
                raise InvalidPayload("the event was rejected: it needs a source and an id",
                                     problems=[{"path": ["id"], "message": "Missing data for required field."}])
            data = document.get("data")
            loaded = {"source": document["source"], "id": document["id"], "type": event_type, "time": None,
                      "data": data if isinstance(data, dict) else {}}
            return servicemobility.apply(store, servicemobility.Event(document, loaded), body, **sent)

        replace_view(app, store, config, event_type, receive)


@mutant("refuses-every-body-with-400", "servicemobility.status-codes",
        "answers 400 Bad Request to every body it refuses, never 422")
def _refuses_with_400(app: Flask, store: Store, config: Config) -> None:
    rewrite_status(app, lambda response: 400 if response.status_code == 422 else None)


# --- duplicates ---------------------------------------------------------------------------------------


@mutant("answers-a-duplicate-with-409", "servicemobility.duplicate",
        "answers 409 Conflict to an event it already has, instead of disregarding it with 200")
def _answers_a_duplicate_with_409(app: Flask, store: Store, config: Config) -> None:
    def conflict(response: Response) -> int | None:
        answer = response.get_json(silent=True) if response.status_code == 200 else None
        return 409 if isinstance(answer, dict) and answer.get("outcome") == "duplicate" else None

    rewrite_status(app, conflict)


@mutant("a-duplicate-of-another-type-replaces-the-event", "servicemobility.duplicate",
        "de-duplicates InventoryUsage events only: an event of another type received again replaces the stored "
        "one, as an upsert would")
def _a_duplicate_of_another_type_replaces(app: Flask, store: Store, config: Config) -> None:
    for event_type in OTHER_TYPES:
        def receive(body: bytes, event_type: str = event_type, **sent: Any) -> Receipt:
            receipt = reference_receive(store, config, event_type)(body, **sent)
            if receipt.outcome == "duplicate":
                document = json.loads(body)
                with store.write() as conn:
                    conn.execute(event_table.update().where(event_table.c.source == document["source"],
                                                            event_table.c.id == document["id"])
                                 .values(envelope=document))
            return receipt

        replace_view(app, store, config, event_type, receive)


@mutant("duplicates-by-id-alone", "servicemobility.duplicate-key",
        "takes the document's words literally: an event whose id it has, from whichever source, is a duplicate")
def _duplicates_by_id_alone(app: Flask, store: Store, config: Config) -> None:
    def known_id(document: Any, event_type: str) -> Receipt | None:
        if not (isinstance(document, dict) and isinstance(document.get("id"), str)):
            return None
        with store.read() as conn:
            known = conn.execute(sa.select(event_table.c.delivery_id)
                                 .where(event_table.c.id == document["id"])).first()
        if known is None:
            return None
        event = servicemobility.validate(document, event_type)
        return Receipt("duplicate", known.delivery_id, {"received": event.rows, "usage": 0})

    in_front_of_the_reference(app, store, config, EVERY_TYPE, known_id)


@mutant("remembers-refused-events", "servicemobility.refused-not-duplicate",
        "records each (source, id) as seen when the request arrives, before the token and the body are checked: "
        "an event refused once is a duplicate when it is sent again")
def _remembers_refused_events(app: Flask, store: Store, config: Config) -> None:
    seen: set[tuple[str, str]] = set()
    lock = threading.Lock()

    @app.before_request
    def seen_before() -> Any:
        if not is_push():
            return None
        body = request.get_data()
        request.environ["wsgi.input"] = io.BytesIO(body)  # the view reads the body again
        try:
            event = json.loads(body)
        except ValueError:
            return None
        if not (isinstance(event, dict) and isinstance(event.get("source"), str) and isinstance(event.get("id"), str)):
            return None
        with lock:
            if (event["source"], event["id"]) in seen:
                return jsonify({"outcome": "duplicate"}), 200
            seen.add((event["source"], event["id"]))
        return None

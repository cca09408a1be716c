"""ServiceMobility's named cases: conforming events a receiver must answer 200 (``GOOD_CASES``), broken
envelopes and token attacks it must refuse (``MALFORMATIONS``), refused events sent again correctly
(``RESENT``), what a correct refusal looks like, and the fixture files built from them. Each builder takes
an :class:`SMCaseContext` and returns the requests to send — what applies to every path is sent on each of
the nine; a token attack applies only to a receiver that evaluates tokens and has what the attack needs."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from inventory_push_kit import fixtures

from .. import fixtures_writer
from ..core import Case, Expectation, Registry, Request, encode_json
from ..http import Delivery
from .generator import EventFactory, derived_id, derived_seed
from .payload import CHANNEL, TYPES, default_path, event_request, path_for, rfc3339
from .tokens import (
    TokenSigner,
    as_bytes,
    embedded_jwk_token,
    hs256_token,
    throwaway_private_key_pem,
    unsigned_token,
)


@dataclass(frozen=True)
class SMCaseContext:
    """What a case is built from: a conforming InventoryUsage ``event`` to break, the ``signer`` the
    receiver trusts, its public key (for the key-confusion attack), the paths, a seed, and whether the
    receiver evaluates tokens (the token attacks apply only then)."""

    event: Mapping[str, Any]
    signer: TokenSigner
    public_key_pem: str | None = None
    paths: Mapping[str, str] | None = None
    seed: int = 0
    evaluates_tokens: bool = True

    @classmethod
    def for_signer(cls, signer: TokenSigner, *, seed: int = 0, paths: Mapping[str, str] | None = None,
                   event: Mapping[str, Any] | None = None, evaluates_tokens: bool = True) -> SMCaseContext:
        """A context with a fresh event and the signer's own public key (None for HS256)."""
        base = event or EventFactory(seed, now=signer.now).inventory_usage()
        return cls(base, signer, signer.public_key_pem(), paths, seed, evaluates_tokens)
    def factory(self, label: str) -> EventFactory:
        """A factory of this context's webhook, seeded per case so each case builds the same events."""
        return EventFactory(derived_seed(self.seed, label), self.event["source"], now=self.signer.now)

    def usage_path(self) -> str:
        return path_for("InventoryUsage", self.paths)

    def copy_event(self, label: str) -> dict[str, Any]:
        """A deep copy of the event with an id of its own."""
        event = copy.deepcopy(dict(self.event))
        event["id"] = derived_id(str(self.event.get("id")), label)
        return event


OK_200: Final = Expectation(
    (200,), "On success, an HTTP response code of 200 must be returned.", "MUST")
DUPLICATE_200: Final = Expectation(
    (200,), "id: Subsequent requests with duplicate IDs should be disregarded. — decision sm-1: "
    "Duplicate key: (source, id). A duplicate is answered 200 and changes nothing.", "MUST")
INVALID_LOGON: Final = Expectation(
    (401,), "401 Invalid Logon. — decision sm-2: JWT evaluation is configurable; exp required with a "
    "configurable leeway; algorithms pinned by configuration, never taken from the token.", "MUST")
# What the document leaves to the receiver's judgement: refusing these is the kit's decision, not its words.
TOKEN_TIMES: Final = Expectation(
    (401,), "decision sm-5: a token whose iat or nbf lies beyond now + leeway is refused (best practice, "
    "PyJWT's default; not the document's words).", "SHOULD")
EXP_REQUIRED: Final = Expectation((401,), "decision sm-2: exp is required, with a configurable leeway.", "SHOULD")
OPTIONAL_ATTRIBUTE: Final = Expectation(
    (200,), "decision sm-4: only id, source, specversion, type and data are required; time, datacontenttype, "
    "action and subject may be absent (validated when present). — On success, 200 must be returned.", "SHOULD")
_MALFORMED: Final = ("decision sm-3: Malformed bodies get a 4xx with a JSON description of every "
                     "problem (the document lists only 200/401/500).")
NOT_JSON_400: Final = Expectation((400,), f"The HTTP request body will contain a valid Webhook Request "
                                          f"Object. — {_MALFORMED}", "SHOULD")


def unprocessable(sentence: str) -> Expectation:
    """422 for a well-formed JSON body that breaks ``sentence``; SHOULD because the code is ours."""
    return Expectation((422,), f"{sentence} — {_MALFORMED}", "SHOULD")




CaseBuilder = Callable[[SMCaseContext], tuple[Request, ...]]
# The events a case starts from, each with the type whose path it is posted to (an event a case breaks
# may have lost its own ``type``).
Events = list[tuple[str, dict[str, Any]]]

# Good cases: every request answered exactly 200. A build returns the requests in order.
GOOD_CASES: Final[Registry[SMCaseContext, Request]] = Registry(CHANNEL)
MALFORMATIONS: Final[Registry[SMCaseContext, Request]] = Registry(CHANNEL)
# Conforming events sent after a refusal of the same source and id (``CORRECTS`` names the refusal):
# each must be accepted and stored, not taken for a duplicate of what was refused.
RESENT: Final[Registry[SMCaseContext, Request]] = Registry(CHANNEL)
CORRECTS: Final[dict[str, str]] = {}
REGISTRIES: Final = (GOOD_CASES, MALFORMATIONS, RESENT)

OTHER_TYPES: Final = tuple(event_type for event_type in TYPES if event_type != "InventoryUsage")
EVERY_TYPE: Final = ("InventoryUsage", *OTHER_TYPES)  # the document's own path first
EVERY_PATH: Final = " Sent on each of the nine paths."


def case_named(name: str) -> Case[SMCaseContext, Request]:
    """The case of that name, whichever registry holds it."""
    for registry in REGISTRIES:
        if name in registry:
            return registry[name]
    return GOOD_CASES[name]  # raises, naming the good cases


def _inventory_usage_only(ctx: SMCaseContext, name: str) -> Events:
    """A copy of the context's InventoryUsage event with an id of its own."""
    return [("InventoryUsage", ctx.copy_event(name))]


def _on_every_path(ctx: SMCaseContext, name: str) -> Events:
    """The case's InventoryUsage event (a copy of the context's), then one event of each of the eight
    other types, all of the context's webhook, each with an id of its own."""
    return [*_inventory_usage_only(ctx, name),
            *((event_type, ctx.factory(f"{name}/{event_type}").event(event_type, rows=2))
              for event_type in OTHER_TYPES)]


def _requests(ctx: SMCaseContext, events: Events, *, token: Callable[[SMCaseContext], str | None] | None = None,
              slash: bool = True) -> tuple[Request, ...]:
    """Each event to its type's path, with a valid token (or what ``token`` makes)."""
    def path(event_type: str) -> str:
        return path_for(event_type, ctx.paths) if slash else path_for(event_type, ctx.paths).rstrip("/")

    return tuple(event_request(event, (token or _valid_token)(ctx), path=path(event_type))
                 for event_type, event in events)


def _valid_token(ctx: SMCaseContext) -> str:
    return ctx.signer.token()


# What each refusal starts from, so that the case sending it again corrected sends the same events.
_STARTS_FROM: Final[dict[str, Callable[[SMCaseContext, str], Events]]] = {}


@GOOD_CASES.register(
    "document-envelope",
    "The document's envelope example made valid: comments removed, type InventoryUsage, real data.",
    OK_200)
def _document_envelope(ctx: SMCaseContext) -> tuple[Request, ...]:
    event = fixtures.load(CHANNEL, "document-envelope")
    return (event_request(event, ctx.signer.token(), paths=ctx.paths),)


def _register_type_case(event_type: str) -> None:
    @GOOD_CASES.register(
        f"type-{event_type}",
        f"A {event_type} event posted to its own path ({default_path(event_type)} by default).",
        Expectation((200,), f"type: {event_type} is a valid value. — On success, an HTTP response code "
                            "of 200 must be returned.", "MUST"))
    def build(ctx: SMCaseContext) -> tuple[Request, ...]:
        event = ctx.factory(f"type-{event_type}").event(event_type, rows=2)
        return (event_request(event, ctx.signer.token(), paths=ctx.paths),)


for _type in TYPES:
    _register_type_case(_type)


@GOOD_CASES.register(
    "several-updates-to-one-object",
    "An InventoryUsage event whose rows update one usage object twice after its first row, with another "
    "object's row between: every row kept, in the order sent.",
    Expectation((200,), "rows may hold several updates to one object, in order (decision sm-6: every row "
                        "of data is stored in the order sent). — On success, 200 must be returned.", "MUST"))
def _several_updates(ctx: SMCaseContext) -> tuple[Request, ...]:
    event = ctx.factory("several-updates-to-one-object").inventory_usage_updates()
    return (event_request(event, ctx.signer.token(), paths=ctx.paths),)


@GOOD_CASES.register(
    "trailing-slash-omitted",
    "An event posted to its path without the trailing slash (<base>/InventoryUsage, <base>/Activities, …)."
    + EVERY_PATH,
    Expectation((200,), "POST <REST Endpoint URI>/InventoryUsage/ — decision sm-6: the trailing slash may be "
                        "omitted; on success, an HTTP response code of 200 must be returned.", "SHOULD"))
def _trailing_slash_omitted(ctx: SMCaseContext) -> tuple[Request, ...]:
    events = [("InventoryUsage", ctx.factory("trailing-slash-omitted").inventory_usage()),
              *((event_type, ctx.factory(f"trailing-slash-omitted/{event_type}").event(event_type, rows=2))
                for event_type in OTHER_TYPES)]
    return _requests(ctx, events, slash=False)


@GOOD_CASES.register(
    "token-13-minutes-old",
    "A token issued 13 minutes before the delivery (webhooks run every 15 minutes).",
    Expectation((200,), "Webhooks run on a schedule (every 15 minutes), so a token can be that much older than "
                        "the delivery (decision sm-2: a leeway). — On success, 200 must be returned.", "MUST"))
def _token_13_minutes_old(ctx: SMCaseContext) -> tuple[Request, ...]:
    event = ctx.factory("token-13-minutes-old").inventory_usage()
    return (event_request(event, ctx.signer.token(age=timedelta(minutes=13)), paths=ctx.paths),)


@GOOD_CASES.register(
    "duplicate-id",
    "The same event (same source and id) sent twice: 200 both times, nothing changed the second time.",
    DUPLICATE_200)
def _duplicate_id(ctx: SMCaseContext) -> tuple[Request, ...]:
    event = ctx.factory("duplicate-id").inventory_usage()
    first = event_request(event, ctx.signer.token(), paths=ctx.paths)
    return (first, first)


def _changed_row(ctx: SMCaseContext, event: Mapping[str, Any], index: int) -> dict[str, Any]:
    """The same source and id with other data, as a later export would send it: its own ``time``, and row
    ``index`` modified now, with a rowver above every other."""
    again = copy.deepcopy(dict(event))
    now = ctx.signer.now()
    again["time"] = rfc3339(now)
    data = again["data"]
    row = data["rows"][index]
    row["rowver"] = data["rowver"] = f"0x{int(data['rowver'], 16) + 1:016X}"
    row[again["type"]]["ModifiedUTC"] = rfc3339(now)
    return again


@GOOD_CASES.register(
    "duplicate-id-other-data",
    "An event, then two with the same source and id but other data (its first row, then its last row, "
    "modified again): 200 each time, the first one's data held." + EVERY_PATH,
    DUPLICATE_200)
def _duplicate_id_other_data(ctx: SMCaseContext) -> tuple[Request, ...]:
    events: Events = []
    for event_type in EVERY_TYPE:
        first = ctx.factory(f"duplicate-id-other-data/{event_type}").event(event_type, rows=3)
        events += [(event_type, first), (event_type, _changed_row(ctx, first, 0)),
                   (event_type, _changed_row(ctx, first, -1))]
    return _requests(ctx, events)


ANOTHER_WEBHOOK: Final = "another-webhook"


@GOOD_CASES.register(
    "same-id-other-source",
    "An event, then an event with the same id from another webhook (source) and other data: another "
    "event, stored beside the first." + EVERY_PATH,
    Expectation((200,), "source: The ID of the webhook that generated this message. — decision sm-1: the "
                        "duplicate key is (source, id); the same id from another source is another event.",
                "SHOULD"))
def _same_id_other_source(ctx: SMCaseContext) -> tuple[Request, ...]:
    other_source = derived_id(str(ctx.event["source"]), ANOTHER_WEBHOOK)
    events: Events = []
    for event_type in EVERY_TYPE:
        label = f"same-id-other-source/{event_type}"
        first = ctx.factory(label).event(event_type, rows=2)
        other = EventFactory(derived_seed(ctx.seed, f"{label}/{ANOTHER_WEBHOOK}"), other_source,
                             now=ctx.signer.now).event(event_type, rows=2)
        other["id"] = first["id"]
        events += [(event_type, first), (event_type, other)]
    return _requests(ctx, events)


def _register_envelope_case(name: str, description: str, sentence: str, change: Callable[[dict[str, Any]], None],
                            starts_from: Callable[[SMCaseContext, str], Events] = _on_every_path) -> None:
    _STARTS_FROM[name] = starts_from
    every_path = starts_from is _on_every_path

    @MALFORMATIONS.register(name, description + (EVERY_PATH if every_path else ""), unprocessable(sentence))
    def build(ctx: SMCaseContext) -> tuple[Request, ...]:
        events = starts_from(ctx, name)
        for _, event in events:
            change(event)
        return _requests(ctx, events)


_ENVELOPE_SENTENCES: Final = {
    "id": "id: ID representing this unique payload. (CloudEvents 1.0: id is REQUIRED.)",
    "type": "type: The object type represented by the data field. (CloudEvents 1.0: type is REQUIRED.)",
    "specversion": "specversion: The CloudEvents spec version that this payload complies with. "
                   "(CloudEvents 1.0: REQUIRED.)",
    "source": "source: The ID of the webhook that generated this message. (CloudEvents 1.0: REQUIRED.)",
    "time": "time: Time that this webhook execution was generated.",
    "datacontenttype": "datacontenttype: The format of the data object. Valid values are: application/json",
    "action": "action: Additional information and context for this webhook call.",
    "data": "data: The data payload, matching the format of the object type specified in type property.",
}

def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        del event[key]
    return change


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        event[key] = value
    return change


def _set_data(key: str, value: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        event["data"][key] = value(event["data"])
    return change


OPTIONAL: Final = ("time", "datacontenttype", "action", "subject")  # decision sm-4

for _field, _sentence in _ENVELOPE_SENTENCES.items():
    if _field not in OPTIONAL:
        _register_envelope_case(f"missing-{_field}", f"The envelope without its {_field!r} property.", _sentence,
                                _drop(_field))


def _register_optional_case(name: str) -> None:
    @GOOD_CASES.register(f"missing-{name}", f"The envelope without its optional {name!r} property: accepted and "
                         "stored all the same." + EVERY_PATH, OPTIONAL_ATTRIBUTE)
    def build(ctx: SMCaseContext) -> tuple[Request, ...]:
        events = _on_every_path(ctx, f"missing-{name}")
        for _, event in events:
            event.pop(name, None)
        return _requests(ctx, events)


for _field in OPTIONAL:
    _register_optional_case(_field)

_register_envelope_case(
    "wrong-specversion", 'specversion "0.3" instead of "1.0".',
    'specversion: "1.0" (the document\'s format).',
    _set("specversion", "0.3"))
_register_envelope_case(
    "bad-time", 'time "27/07/2022 23:10": not RFC 3339.',
    'time: "2022-07-27T23:10:12.000Z" (CloudEvents 1.0: time MUST adhere to RFC 3339).',
    _set("time", "27/07/2022 23:10"))
_register_envelope_case(
    "data-not-an-object", "data is the array of rows instead of the Export Notification Object.",
    "data: object — Within the data property of the Webhook Request Object will be a valid Inventory Usage "
    "Export API Object.", lambda event: event.update(data=event["data"]["rows"]))
_register_envelope_case(
    "rows-not-a-list", "data.rows is the first row object instead of an array of rows.",
    'Inventory Usage Export Notification Object: "rows" : [ { "rowver", "InventoryUsage" } ]',
    _set_data("rows", lambda data: data["rows"][0]), starts_from=_inventory_usage_only)

# Where in ``rows`` a row-level problem is put: a receiver that looks only at the first row lets the others by.
POSITIONS: Final = ("first", "middle", "last")


def _at_every_position(ctx: SMCaseContext, name: str) -> Events:
    """Three copies of the context's InventoryUsage event, one for each of POSITIONS."""
    return [("InventoryUsage", ctx.copy_event(name if position == "first" else f"{name}/{position}"))
            for position in POSITIONS]


def _row_index(rows: list[Any], position: str) -> int:
    return {"first": 0, "middle": len(rows) // 2, "last": len(rows) - 1}[position]


_STARTS_FROM["usage-row-missing-InventoryUsage"] = _at_every_position


@MALFORMATIONS.register(
    "usage-row-missing-InventoryUsage",
    "A row with its rowver but no InventoryUsage object: the first row of one event, a middle row of another, "
    "the last row of a third.",
    unprocessable('Inventory Usage Export Notification Object: each row is { "rowver", "InventoryUsage" }.'))
def _usage_row_missing_inventory_usage(ctx: SMCaseContext) -> tuple[Request, ...]:
    events = _at_every_position(ctx, "usage-row-missing-InventoryUsage")
    for position, (_, event) in zip(POSITIONS, events, strict=True):
        rows = event["data"]["rows"]
        del rows[_row_index(rows, position)]["InventoryUsage"]
    return _requests(ctx, events)


@MALFORMATIONS.register(
    "type-does-not-match-path", "type Activity posted to the InventoryUsage/ path.",
    unprocessable("POST <REST Endpoint URI>/InventoryUsage/ receives the Inventory Usage Export "
                  "Notification; type: The object type represented by the data field."))
def _type_does_not_match_path(ctx: SMCaseContext) -> tuple[Request, ...]:
    event = ctx.copy_event("type-does-not-match-path")
    event["type"] = "Activity"
    return (event_request(event, ctx.signer.token(), path=ctx.usage_path()),)


@MALFORMATIONS.register("not-json", "The body is cut in the middle: not JSON.", NOT_JSON_400)
def _not_json(ctx: SMCaseContext) -> tuple[Request, ...]:
    whole = encode_json(ctx.copy_event("not-json"))
    request = event_request({"type": "InventoryUsage"}, ctx.signer.token(), path=ctx.usage_path())
    return (Request(whole[: len(whole) // 2], request.headers, request.path),)


# Token attacks only a receiver that evaluates tokens can detect (decision sm-2: evaluation is optional;
# the platform has already authenticated the token). Value: what else the receiver must be configured
# with for the case to apply ("" = nothing more).
TOKEN_CASES: Final[dict[str, str]] = {}
_REQUIREMENT_MET: Final[Mapping[str, Callable[[SMCaseContext], bool]]] = {
    "": lambda ctx: True,
    "public-key": lambda ctx: ctx.public_key_pem is not None,
    "issuer": lambda ctx: ctx.signer.issuer is not None,
}


def applies(name: str, ctx: SMCaseContext, *, evaluates_tokens: bool) -> bool:
    """Whether case ``name`` applies to ``ctx`` with a receiver that does (or does not) evaluate tokens."""
    return case_named(name).applies(replace(ctx, evaluates_tokens=evaluates_tokens))


def _register_token_case(name: str, description: str, token: Callable[[SMCaseContext], str | None],
                         requires: str = "", expect: Expectation = INVALID_LOGON) -> None:
    TOKEN_CASES[name] = requires
    _STARTS_FROM[name] = _on_every_path

    def detectable(ctx: SMCaseContext) -> bool:
        return ctx.evaluates_tokens and _REQUIREMENT_MET[requires](ctx)

    @MALFORMATIONS.register(name, description + EVERY_PATH, expect, applies=detectable)
    def build(ctx: SMCaseContext) -> tuple[Request, ...]:
        return _requests(ctx, _on_every_path(ctx, name), token=token)


_TWO_HOURS: Final = timedelta(hours=2)  # well beyond any sensible leeway


def _wrong_key_token(ctx: SMCaseContext) -> str:
    signer = ctx.signer
    if signer.algorithm == "HS256":
        other: str | bytes = hashlib.sha256(b"not the shared secret/" + as_bytes(signer.key)).hexdigest()
    else:
        other = throwaway_private_key_pem(signer.algorithm, "jwt-wrong-key")
    return signer.sign(signer.claims(), key=other)


def _with_claims(ctx: SMCaseContext, **claims: Any) -> str:
    return ctx.signer.sign({**ctx.signer.claims(), **claims})


def _key_confusion_token(ctx: SMCaseContext) -> str:
    if ctx.public_key_pem is None:
        raise ValueError("jwt-hs256-signed-with-rsa-public-key needs the receiver's public key (PEM)")
    return hs256_token(ctx.signer.claims(), ctx.public_key_pem)


_register_token_case("jwt-alg-none", 'A token with alg "none" and no signature.',
                     lambda ctx: unsigned_token(ctx.signer.claims()))
_register_token_case(
    "jwt-hs256-signed-with-rsa-public-key",
    "Key confusion: HS256 with the PEM of the receiver's public key as the HMAC secret.",
    _key_confusion_token, requires="public-key")
_register_token_case("jwt-embedded-jwk", "A token signed (RS256) by a key of its own, carried in its header as jwk.",
                     lambda ctx: embedded_jwk_token(ctx.signer.claims()))
_register_token_case("jwt-expired", "A token whose exp passed 2 hours ago.",
                     lambda ctx: ctx.signer.token(age=ctx.signer.lifetime + _TWO_HOURS))
_register_token_case("jwt-future-iat", "A token issued (iat) 2 hours in the future.",
                     lambda ctx: ctx.signer.sign(ctx.signer.claims(issued_at=ctx.signer.now() + _TWO_HOURS)),
                     expect=TOKEN_TIMES)
_register_token_case("jwt-future-nbf", "A token not valid before (nbf) 2 hours from now.",
                     lambda ctx: _with_claims(ctx, nbf=int((ctx.signer.now() + _TWO_HOURS).timestamp())),
                     expect=TOKEN_TIMES)
_register_token_case("jwt-without-exp", "A validly signed token with no exp claim.",
                     lambda ctx: ctx.signer.sign({k: v for k, v in ctx.signer.claims().items() if k != "exp"}),
                     expect=EXP_REQUIRED)
_register_token_case("jwt-wrong-key", "A token with the right algorithm signed by another key.",
                     _wrong_key_token)
_register_token_case("jwt-wrong-audience", "A token for another audience (RFC 7519 §4.1.3).",
                     lambda ctx: _with_claims(ctx, aud="urn:example:another-receiver"))
_register_token_case("jwt-wrong-issuer", "A token from another issuer.",
                     lambda ctx: _with_claims(ctx, iss="urn:example:another-issuer"), requires="issuer")
_register_token_case("jwt-missing", "No x-access-token header at all.", lambda ctx: None)
_register_token_case("jwt-garbage", "x-access-token is not a JWT.", lambda ctx: "not-a-jwt")


# -- refused, then sent again correctly ------------------------------------------------------------------

CORRECTED_200: Final = Expectation(
    (200,), "decision sm-1: An event that was refused (401, 422) is not a duplicate: sent again correctly, it is "
    "accepted and stored. — On success, an HTTP response code of 200 must be returned.", "SHOULD")


def _register_correction(refusal: str) -> None:
    refused = MALFORMATIONS[refusal]
    name = f"corrected-after-{refusal}"
    CORRECTS[name] = refusal

    @RESENT.register(name, f"The events of case {refusal} (refused: {refused.expect.describe()}) sent again "
                     "with the same source and id, conforming this time.", CORRECTED_200, applies=refused.applies)
    def build(ctx: SMCaseContext) -> tuple[Request, ...]:
        return _requests(ctx, _STARTS_FROM[refusal](ctx, refusal))


for _refusal in ("bad-time", "usage-row-missing-InventoryUsage", "jwt-wrong-key"):
    _register_correction(_refusal)


def answer_problems(expect: Expectation, delivery: Delivery) -> list[str]:
    """What is wrong with an answer's body once its status is right: a 401 says "Invalid Logon" in
    JSON, a 4xx describes the problems in JSON (decision sm-3)."""
    if not expect.accepts(delivery.status) or delivery.status < 400:
        return []
    body = delivery.json()
    if body is None:
        return [f"{delivery.status} body is not JSON"]
    if delivery.status == 401 and "invalid logon" not in json.dumps(body).lower():
        return ['401 body does not say "Invalid Logon"']
    return []



# -- fixtures: the body of every case, and cases.json describing them ---------------------------------

FIXTURE_TIME: Final = datetime(2022, 7, 27, 23, 10, 12, tzinfo=UTC)  # the document's example time


def fixture_context() -> SMCaseContext:
    """The fixed context the fixture files were built with: the document's envelope, time and ids."""
    signer = TokenSigner.from_private_key_pem(throwaway_private_key_pem("RS256", "fixtures"),
                                              now=lambda: FIXTURE_TIME)
    return SMCaseContext.for_signer(signer, seed=0, event=fixtures.load(CHANNEL, "document-envelope"))


def fixture_requests() -> dict[str, tuple[Request, ...]]:
    """Case name → the requests it sends, built in :func:`fixture_context` (the fixture files hold the
    body of the first one; tokens are not stored, they expire). Every case, applicable or not."""
    ctx = fixture_context()
    return {case.name: case.build(ctx) for registry in REGISTRIES for case in registry}


def fixture_files() -> dict[str, bytes]:
    """File name → content of ``fixtures/servicemobility/`` built from the registries; the document's
    examples (``document-*``) and what ``cases.json`` says about them are kept as they are."""
    kept = {name: entry for name, entry in fixtures.cases(CHANNEL).items() if name.startswith("document-")}
    files: dict[str, bytes] = {}
    entries: dict[str, Any] = {}
    for name, requests_ in fixture_requests().items():
        case = case_named(name)
        if name != "document-envelope":
            file_name, content = fixtures_writer.body_file(name, requests_[0].body, indent=4, inline_arrays=False)
            files[file_name] = content
        entry = {**fixtures_writer.case_entry(case), "level": case.expect.level, "path": requests_[0].path or ""}
        entry.update((key, value) for key, value in kept.get(name, {}).items() if key not in entry)
        if name in TOKEN_CASES:
            entry["requires_token_evaluation"] = True
            if TOKEN_CASES[name]:
                entry["requires"] = TOKEN_CASES[name]
        if name in CORRECTS:
            entry["after"] = CORRECTS[name]
        if len(requests_) > 1:
            entry["sent"] = len(requests_)
        entries[name] = entry
    for name, entry in kept.items():
        entries.setdefault(name, entry)
    ordered = dict(sorted(entries.items(), key=lambda item: (not item[0].startswith("document-"), item[0])))
    files["cases.json"] = fixtures_writer.pretty(ordered, inline_arrays=False)
    return files


def write_fixtures(folder: Path | None = None) -> list[Path]:
    """Rewrite the case files and cases.json from the registries (the document's examples are kept)."""
    return fixtures_writer.write(folder or fixtures.ROOT / CHANNEL, fixture_files())

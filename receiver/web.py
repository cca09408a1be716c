"""What every HTTP channel shares: credentials, the body (size, media type, JSON), the one push-view
skeleton (authenticate → body → receive → log → answer, every refusal recorded), the one ``Receipt``,
and the paging and time helpers of the read routes."""

from __future__ import annotations

import codecs
import functools
import gc
import hmac
import io
import json
import locale
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import ijson
from flask import Flask, Response, abort, current_app, g, jsonify, request

from . import storage
from .errors import (
    InternalError,
    MalformedBody,
    PayloadTooLarge,
    ReceiverError,
    RequestTimeout,
    Unauthenticated,
    UnsupportedMediaType,
)

log = logging.getLogger(__name__)

# What an HTTP field name may hold (RFC 9110 token) minus "_", which gunicorn drops from names.
HEADER_NAME_CHARS = frozenset("!#$%&'*+-.^`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class Receipt:
    """What became of one delivery: the outcome (accepted, a disregarded duplicate, or — on AMQP —
    rejected), its id in the delivery log, counts, warnings, and the delivery that first applied a
    duplicate. HTTP channels answer it with 200; ``counts_name`` is the key the counts go under."""

    outcome: str
    delivery: int
    counts: dict[str, Any]
    warnings: list[dict[str, Any]] | None = None  # None: the channel reports none
    original_delivery: int | None = None
    reason: str | None = None
    counts_name: str = "rows"

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"outcome": self.outcome, "delivery": self.delivery, self.counts_name: self.counts}
        if self.warnings is not None:
            body["warnings"] = self.warnings
        if self.original_delivery is not None:
            body["original_delivery"] = self.original_delivery
        return body


def receipt_schema(counts_name: str, counts: dict[str, Any], *, warnings: bool = True,
                   duplicates: bool = True) -> dict[str, Any]:
    """The JSON Schema of :meth:`Receipt.to_json` for a channel: its counts under ``counts_name``, the
    warnings when the channel reports any, and ``original_delivery`` when it recognises duplicates."""
    outcomes = ["accepted", "duplicate"] if duplicates else ["accepted"]
    properties: dict[str, Any] = {
        "outcome": {"enum": outcomes, "description": "accepted: applied; duplicate: received before, nothing "
                    "changed"},
        "delivery": {"type": "integer", "description": "this delivery's id in the receiver's delivery log"},
        counts_name: counts,
    }
    required = ["outcome", "delivery", counts_name]
    if warnings:
        properties["warnings"] = {"type": "array", "items": {"type": "object"},
                                  "description": "what was kept as sent but is worth a look"}
        required.append("warnings")
    if duplicates:
        properties["original_delivery"] = {"type": "integer", "description": "on a duplicate: the delivery that "
                                           "applied it first"}
    return {"type": "object", "required": required, "properties": properties}


# --- what a channel publishes -------------------------------------------------------------------


@dataclass(frozen=True)
class Payload:
    """A body a platform sends, as the published JSON Schema shows it: the schema (a marshmallow schema, or
    JSON Schema itself), the document's description, the fixtures that are its examples (the documents'
    own, verbatim), and the rules a JSON Schema cannot say, each with the decision it comes from."""

    schema: Any
    title: str
    description: str
    examples: tuple[str, ...] = ()  # fixture names of the channel: fixtures/<channel>/<name>.json
    beyond: tuple[str, ...] = ()  # "what (decision id)" sentences


@dataclass(frozen=True)
class Operation:
    """One HTTP operation as the published OpenAPI document shows it (``receiver/contracts.py`` builds
    the document with apispec). ``body`` names a :class:`Payload` of the channel; ``answer`` is the JSON
    Schema of the 200 body; ``refusals`` are the statuses answered with the error envelope."""

    method: str
    path: str  # an OpenAPI path template
    operation_id: str
    summary: str
    description: str
    answer: dict[str, Any]
    answer_example: Any
    refusals: tuple[int, ...]
    body: str | None = None
    examples: tuple[str, ...] = ()  # fixture names, the request body's examples; default: the payload's
    security: list[dict[str, list[str]]] | None = None  # None: the document's default (none)
    parameters: tuple[dict[str, Any], ...] = ()
    links: dict[str, dict[str, Any]] = field(default_factory=dict)  # OpenAPI links of the 200 answer
    read: bool = False  # a read route: under [api] prefix, with the read API's bearer token
    probe: bool = False  # part of the state probe protocol (docs/state-probe.md)
    answer_type: str = "application/json"
    # Answers other than 200 and the error envelope: status → OpenAPI response object (/readyz's 503).
    other_answers: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Contract:
    """What a channel publishes for its configuration: its operations, the security schemes they use,
    and the payloads its platform sends (by name)."""

    tag: str
    description: str
    operations: list[Operation] = field(default_factory=list)
    security_schemes: dict[str, dict[str, Any]] = field(default_factory=dict)
    payloads: dict[str, Payload] = field(default_factory=dict)


NO_NUL = r"^[^\u0000]*$"  # what no text column holds (storage.text_problem), as a JSON Schema pattern
ID_64 = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}  # a delivery id, the read API's paging


def _parameter_schema(schema: dict[str, Any]) -> dict[str, Any]:
    # The read API refuses a NUL in any parameter (api.py): say so wherever a parameter is text.
    return {**schema, "pattern": NO_NUL} if schema.get("type") == "string" else schema


def path_parameter(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": _parameter_schema(schema),
            "description": description}


def query_parameter(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": _parameter_schema(schema),
            "description": description}


YEARS = "([0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)"  # 0001-9999, what Python's date holds
# 0002-9998: a moment with an offset in those years is a moment in UTC too (datetime.astimezone)
UTC_YEARS = "(000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"


def date_pattern(dash: str = "-", years: str = YEARS) -> str:
    """A calendar date YYYY-MM-DD as a regular expression JSON Schema can use (ECMA-262): months of 30 and
    31 days, 28 days in February and the 29th in leap years only. ``dash`` is the separator (a character
    class if need be), ``years`` the years allowed (leap years are all within both)."""
    leap = "([0-9]{2}(0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26])00)"
    day31, day30, day28 = "(0[1-9]|[12][0-9]|3[01])", "(0[1-9]|[12][0-9]|30)", "(0[1-9]|1[0-9]|2[0-8])"
    return (f"({years}{dash}((0[13578]|1[02]){dash}{day31}|(0[469]|11){dash}{day30}|02{dash}{day28})"
            f"|{leap}{dash}02{dash}29)")


def limit_parameter(default: int, high: int) -> dict[str, Any]:
    """The ``limit`` of a paged read route (:func:`int_arg`)."""
    return query_parameter("limit", {"type": "integer", "minimum": 1, "maximum": high, "default": default},
                           "items per page")


# --- credentials ------------------------------------------------------------------------------------


def secrets_equal(given: str | None, expected: str) -> bool:
    """Constant-time comparison; a missing value never matches."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def require_headers(expected: Mapping[str, str]) -> None:
    """Every configured credential header must be present with its exact value (names are
    case-insensitive, values compared in constant time). Values are never logged."""
    missing = [name for name in expected if name not in request.headers]
    wrong = [
        name for name, value in expected.items()
        if name in request.headers and not secrets_equal(request.headers.get(name), value)
    ]
    if missing or wrong:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing))
        if wrong:
            parts.append("wrong value for " + ", ".join(wrong))
        raise Unauthenticated(
            f"credentials missing or wrong ({'; '.join(parts)}): this endpoint needs the header(s) "
            + ", ".join(expected) + " with the values agreed when it was registered",
            problems=[{"path": ["headers", name], "message": "missing"} for name in missing]
            + [{"path": ["headers", name], "message": "wrong value"} for name in wrong],
        )


# --- the body ---------------------------------------------------------------------------------------


READ_CHUNK = 256 * 1024
DEFAULT_BODY_TIMEOUT = 60.0  # seconds a sender has to deliver the whole body ([server] body_timeout)


def read_body(max_bytes: int) -> bytes:
    """The raw body, processed only when it arrived whole: more than ``max_bytes`` is 413 whatever the
    framing (refused from its Content-Length before any of it is read); a body that stops short of its
    Content-Length, or whose chunked framing is broken, is 400; one that takes longer than the body
    timeout to arrive is 408. Nothing of a refused body is applied."""
    length = request.content_length
    if length is not None and length > max_bytes:
        g.discard_body = True  # see init_app: the 413 goes out first, then the body is discarded
        raise PayloadTooLarge(f"the body is {length} bytes; this endpoint accepts at most {max_bytes} bytes")
    environ = request.environ
    stream, sock = environ["wsgi.input"], environ.get("gunicorn.socket")
    timeout = current_app.config.get("RECEIVER_BODY_TIMEOUT", DEFAULT_BODY_TIMEOUT)
    deadline = time.monotonic() + timeout
    # Written into one buffer that grows in place (and is handed over without a copy): a list of chunks
    # and their join would hold the body twice at the end.
    buffer = io.BytesIO()
    size = 0
    while length is None or size < length:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RequestTimeout(f"the body did not arrive within {timeout:g} s ({size} bytes came): nothing was "
                                 "applied")
        if sock is not None:
            sock.settimeout(remaining)  # a sender that stalls cannot hold this thread past the deadline
        try:
            chunk = stream.read(READ_CHUNK if length is None else min(READ_CHUNK, length - size))
        except TimeoutError:
            raise RequestTimeout(f"the body did not arrive within {timeout:g} s ({size} bytes came): nothing was "
                                 "applied") from None
        except Exception as exc:  # the server's own framing errors (bad chunk sizes, a cut connection)
            raise MalformedBody(f"the body could not be read ({type(exc).__name__}: {exc}; {size} bytes came): "
                                "its framing is broken or the connection was cut; nothing was applied") from None
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            g.discard_body = True
            raise PayloadTooLarge(f"the body exceeds {max_bytes} bytes, the most this endpoint accepts")
        buffer.write(chunk)
    if sock is not None:
        sock.settimeout(None)
    if length is not None and size < length:
        raise MalformedBody(f"the body ended after {size} of the {length} bytes its Content-Length announced: "
                            "nothing was applied")
    g.raw_body = buffer.getvalue()
    return g.raw_body


# A sender that is still uploading an oversize body would see the connection reset instead of the
# 413 if the server closed on it. So once the 413 is sent, the rest of the body is read and thrown
# away (never stored), within these bounds, and only then is the connection closed.
DISCARD_MAX_BYTES = 1024 * 1024 * 1024
DISCARD_MAX_SECONDS = 60.0


def init_app(app: Flask, *, body_timeout: float = DEFAULT_BODY_TIMEOUT) -> None:
    """What the push endpoints need of the app: the body deadline, and discarding a refused body."""
    app.config["RECEIVER_BODY_TIMEOUT"] = body_timeout

    @app.after_request
    def _discard_refused_body(response: Response) -> Response:
        if g.get("discard_body"):
            response.call_on_close(functools.partial(_discard, request.environ))
        return response


def _discard(environ: dict[str, Any]) -> None:
    stream = environ.get("wsgi.input")
    sock = environ.get("gunicorn.socket")
    if sock is not None:
        sock.settimeout(5.0)
    deadline = time.monotonic() + DISCARD_MAX_SECONDS
    remaining = DISCARD_MAX_BYTES  # a chunked body announces no length: read to its end, within bounds
    try:
        while stream is not None and remaining > 0 and time.monotonic() < deadline:
            chunk = stream.read(min(remaining, READ_CHUNK))
            if not chunk:
                break
            remaining -= len(chunk)
    except Exception:  # noqa: S110 (the sender gave up, or its framing broke: nothing to do)
        pass


def require_json_media_type() -> None:
    """JSON or no media type at all; anything else is 415."""
    mimetype = request.mimetype
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType(
            f"the body must be JSON (Content-Type: application/json), not {request.content_type!r}"
        )


def parse_json(body: bytes) -> Any:
    """JSON text (UTF-8; a byte order mark is ignored, RFC 8259 §8.1) → Python value, or MalformedBody
    saying why. It also refuses what Python's json module lets through but JSON does not allow and no
    column can hold: NaN, Infinity, numbers out of range, lone UTF-16 surrogate escapes."""
    if not body.strip():
        raise MalformedBody("the body is empty; a JSON document was expected")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedBody(f"the body is not UTF-8 text: {exc}") from None
    try:
        with collector_paused() if len(body) >= PAUSE_COLLECTOR_FROM else nullcontext():
            document = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise MalformedBody(
            f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4,300 digits; deep nesting
        raise MalformedBody(f"the body is not valid JSON: {exc or 'nested too deeply'}") from None
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and _deeper_than(body, MAX_DEPTH):
        raise MalformedBody(f"the body is nested more than {MAX_DEPTH} levels deep, the most this receiver "
                            "takes (the platforms' documents need about 10)")
    if _SURROGATE_ESCAPE.search(text):  # rare: only then look for a lone one
        try:
            json.dumps(document, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedBody("the body holds a lone UTF-16 surrogate escape (\\ud800-\\udfff): "
                                "not Unicode text") from None
    return document


def parse_json_sharing(body: bytes) -> Any:
    """:func:`parse_json`'s answer, in less memory for a body of a few objects holding long arrays of
    repeated values (a stock push: 25 columns of up to 100,000 values, most of a few dozen distinct ones).

    The document is built straight from the bytes (ijson's C parser: the body is never decoded into one
    text), and as each member of an object begins, the equal values of the array before it become one
    object: a 25.5 MiB push holds 53 MiB of Python objects instead of 178 MiB with its text. A body of
    another shape than an object of arrays (and at most one object: ``{"data": {column: [...]}}``), or
    one this parser would refuse or could read differently — not JSON, a lone surrogate escape (ijson
    reads it as "?"), a form feed or vertical tab (white space to ijson, not to JSON), an integer beyond
    64 bits — is parsed by :func:`parse_json` itself, so the document or the refusal is always its own."""
    if _yajl is None or not _shallow(body) or _SURROGATE_ESCAPE_BYTES.search(body) \
            or b"\f" in body or b"\v" in body \
            or locale.localeconv()["decimal_point"] != ".":  # yajl reads 1.5 with the C library's strtod
        return parse_json(body)
    stream = io.BytesIO(body)  # shares the bytes, no copy
    if body.startswith(codecs.BOM_UTF8):
        stream.seek(len(codecs.BOM_UTF8))
    objects: list[_SharingObject] = []

    def new_object() -> _SharingObject:
        objects.append(_SharingObject())
        return objects[-1]

    try:
        with collector_paused() if len(body) >= PAUSE_COLLECTOR_FROM else nullcontext():
            (document,) = _yajl.items(stream, "", use_float=True, map_type=new_object)
    except (ijson.JSONError, ValueError):  # ValueError: also a UnicodeDecodeError
        document = None
    # Only an object: ijson reads a body that is one scalar up to that scalar and takes what follows it
    # ('"a" b'), and after an object it takes an unterminated string ('{} "a'), which leaves the body's
    # quotes unpaired; an object in an array would stay a _SharingObject.
    if type(document) is not _SharingObject or not _quotes_paired(body) or (
            len(objects) == 2 and not any(value is objects[1] for value in document.values())):
        objects.clear()  # what ijson built goes before parse_json builds its own
        document = None
        return parse_json(body)
    for obj in objects:
        obj.share_last()
    return _plain(document)


class _SharingObject(dict[str, Any]):
    """A JSON object as ijson builds it (an array member is set while still empty, then filled): setting
    a member shares the equal values of the previous member's array, which is complete by then."""

    __slots__ = ("_last",)

    def __setitem__(self, key: str, value: Any) -> None:
        self.share_last()
        self._last = value if type(value) is list else None
        super().__setitem__(key, value)

    def share_last(self) -> None:
        values = getattr(self, "_last", None)
        self._last = None
        if values and set(map(type, values)) <= _SHAREABLE:
            one_of: dict[Any, Any] = {}
            values[:] = map(one_of.setdefault, values, values)


# Values that are equal only when they are the same value: not floats (0.0 == -0.0), nor ints with
# booleans (1 == True), nor containers.
_SHAREABLE = frozenset({str, int, type(None)})


def _plain(value: Any) -> Any:
    if type(value) is _SharingObject:
        return {key: _plain(member) for key, member in value.items()}
    return value


def _shallow(body: bytes) -> bool:
    """Whether a body can only be, if JSON, an object of arrays and at most one object (two "{" at most,
    and no array inside an array: each "[" comes right after a ":"), with at most MAX_SHARING_ARRAYS
    arrays. A bracket inside a string counts too: such a body goes to parse_json, which is only slower.
    ijson builds a prefix string (the path from the root) for every container it enters and every key,
    so nesting under a long key would cost that key's length at every level, and each member of the inner
    object a copy of the key it is under: here there are three levels at most, and the inner object must
    begin within the body's first 64 bytes (``{"data": {``), so that key is short."""
    if body.count(b"{") > 2 or body.find(b"{", body.find(b"{") + 1) > MAX_INNER_OBJECT_AT:
        return False
    at = body.find(b"[")
    for _ in range(MAX_SHARING_ARRAYS):
        if at == -1:
            return True
        if not body[max(0, at - 64):at].rstrip(b" \t\n\r").endswith(b":"):
            return False
        at = body.find(b"[", at + 1)
    return at == -1


MAX_SHARING_ARRAYS = 1024  # a stock push has 25 columns, and perhaps a few the document does not define
MAX_INNER_OBJECT_AT = 64
try:
    _yajl: Any = ijson.get_backend("yajl2_c")
except ImportError:  # no C parser here: parse_json reads every body
    _yajl = None


def _quotes_paired(body: bytes) -> bool:
    """Whether the quotes of a body that is JSON up to some point, but for escaped ones, pair up."""
    return _without_escapes(body).count(b'"') % 2 == 0


def _without_escapes(body: bytes) -> bytes:
    """The body without its escaped backslashes, then without its escaped quotes: every quote left opens
    or closes a string (a body without a backslash is returned as it is, uncopied)."""
    return body.replace(b"\\\\", b"").replace(b'\\"', b"") if b"\\" in body else body


# Below this size a body parses faster than the pause costs (an ERP message, a ServiceMobility event).
PAUSE_COLLECTOR_FROM = 64 * 1024
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(_SURROGATE_ESCAPE.pattern.encode())
# Arrays and objects nested deeper than this are refused (400), as .NET's System.Text.Json does by
# default: every later step (validation messages, hashing, storing, reading back) then works in bounded
# depth. Only a body with more brackets than this can be that deep, so most never need the scan.
MAX_DEPTH = 64


def _deeper_than(body: bytes, limit: int) -> bool:
    """Whether the arrays and objects of ``body`` (valid JSON) nest deeper than ``limit``, read from the
    bytes: faster than walking the parsed document, and it allocates no container. Escaped backslashes
    and quotes go, then everything but brackets and quotes; what is between two quotes is a string's
    (two adjacent quotes go together: they close one string and open the next, or enclose a string that
    holds no bracket); then each pass removes every innermost pair, so the passes number the depth."""
    skeleton = _without_escapes(body).translate(_BRACKETS, _NOT_STRUCTURE)
    skeleton = skeleton.replace(b'""', b"")
    if b'"' in skeleton:  # a string holds a bracket: keep what is outside strings
        skeleton = b"".join(skeleton.split(b'"')[::2])
    for _ in range(limit):
        if not skeleton:
            return False
        skeleton = skeleton.replace(b"[]", b"")
    return bool(skeleton)


_BRACKETS = bytes.maketrans(b"{}", b"[]")  # the document is valid JSON: every pair matches anyway
_NOT_STRUCTURE = bytes(set(range(256)) - set(b'[]{}"'))


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block, in whichever threads are in such a block at
    once, and back on when the last leaves. For ``json.loads`` of a large body: the containers it builds
    cannot form a cycle, yet each collection it would trigger walks the whole document built so far (a
    9 MiB S-360 batch parses in a third of the time without them). Cycles made meanwhile by other threads
    are collected as usual once the pause ends."""
    global _pauses, _resume
    with _pause_lock:
        _pauses += 1
        if _pauses == 1:
            _resume = gc.isenabled()
            gc.disable()
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()


_pause_lock = threading.Lock()
_pauses = 0  # blocks inside collector_paused() now
_resume = False  # whether the collector was on when the first of them began


def _no_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON (RFC 8259) does not, and no database column wants them.
    raise ValueError(f"{name} is not a JSON value")


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"the number {literal} is out of range")
    return value


# Built once, as json.loads builds its default decoder once: building one per body costs more than
# parsing a small body.
_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)


# --- the push endpoint --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushResult:
    """What became of the push this request carried, left in ``g.push_result`` for whoever observes
    requests (receiver/metrics.py counts them)."""

    channel: str
    outcome: str
    status: int
    counts: dict[str, Any] | None
    refusal: ReceiverError | None
    seconds: float


class Receive(Protocol):
    """A channel's transport-free core: parse, validate and store one body."""

    def __call__(self, body: bytes, *, content_type: str | None, remote_addr: str | None,
                 headers: list[list[str]] | None) -> Receipt: ...


def add_push_endpoint(app: Flask, rules: list[str], endpoint: str, *, channel: str, store: storage.Store,
                      max_body_bytes: int, receive: Receive,
                      authenticate: Callable[[], object] = lambda: None) -> None:
    """One POST endpoint of a channel at ``rules``, the view of :func:`push_view`."""
    view = push_view(endpoint, channel=channel, store=store, max_body_bytes=max_body_bytes, receive=receive,
                     authenticate=authenticate)
    for rule in rules:
        app.add_url_rule(rule, endpoint, view, methods=["POST"])


def push_view(endpoint: str, *, channel: str, store: storage.Store, max_body_bytes: int, receive: Receive,
              authenticate: Callable[[], object] = lambda: None) -> Callable[[], tuple[Response, int]]:
    """The push view, the same skeleton for every channel: ``authenticate`` (raises Unauthenticated), the
    body within ``max_body_bytes``, JSON media type, ``receive``, a log line, 200 with the receipt. Every
    refusal is recorded in the delivery log and answered with the envelope."""

    def push() -> tuple[Response, int]:
        authenticate()
        body = read_body(max_body_bytes)
        require_json_media_type()
        receipt = receive(body, content_type=request.content_type, remote_addr=request.remote_addr,
                          headers=shown_headers())
        duration_ms = _elapsed_ms()
        g.push_result = PushResult(channel, receipt.outcome, 200, receipt.counts, None, _elapsed_s())
        log.info("%s delivery %s %s (200): %s in %d ms", channel, receipt.delivery, receipt.outcome, receipt.counts,
                 duration_ms, extra={"channel": channel, "delivery": receipt.delivery, "status": 200,
                                     "outcome": receipt.outcome, "duration_ms": duration_ms})
        return jsonify(receipt.to_json()), 200

    push.__name__ = endpoint
    return _logs_rejections(store, channel, push)


def _logs_rejections(store: storage.Store, channel: str,
                     view: Callable[[], tuple[Response, int]]) -> Callable[[], tuple[Response, int]]:
    """Every refusal is recorded in the delivery log — 4xx and 5xx alike, with its reason (and the raw
    body once credentials passed, so it can be re-applied after a fix) — and answered with the envelope.
    A failure of the receiver itself becomes a 500 the log explains; its traceback goes to the process
    log only."""

    @functools.wraps(view)
    def wrapper() -> tuple[Response, int]:
        g.started = time.perf_counter()
        try:
            return view()
        except ReceiverError as exc:
            refusal = exc
        except RecursionError:  # a safety net: parse_json bounds nesting, so this is not expected
            refusal = MalformedBody("the body is nested too deeply to be processed; nothing was applied")
        except Exception as exc:
            log.exception("%s: the receiver failed on a delivery", channel)
            refusal = InternalError(f"the receiver failed ({type(exc).__name__}); nothing was applied — the "
                                    "receiver's log has the details")
        # The body is kept (as [deliveries] keep_bodies says) only when it was read, within the limit,
        # from an authenticated sender: strangers cannot fill the store.
        body = None if isinstance(refusal, Unauthenticated) else g.get("raw_body")
        delivery: int | None = None
        not_recorded = ""
        try:
            with store.write() as conn:
                delivery = storage.record_delivery(
                    conn, channel=channel, outcome="rejected", status=refusal.status,
                    reason=f"{refusal.reason}: {refusal.message}", counts=None,
                    warnings=None, body=body,
                    content_type=request.content_type, remote_addr=request.remote_addr, headers=shown_headers(),
                )
                if refusal.problems:
                    storage.record_details(conn, delivery, problems=refusal.problems[:storage.MAX_DETAILED])
        except ReceiverError as failure:  # the store is down (or refuses even the log line): say so
            not_recorded = f"; it could not be recorded in the delivery log: {failure.message}"
        duration_ms = _elapsed_ms()
        g.push_result = PushResult(channel, "rejected", refusal.status, None, refusal, _elapsed_s())
        log.log(logging.ERROR if not_recorded else logging.WARNING, "%s delivery %s rejected (%s): %s%s",
                channel, delivery if delivery is not None else "(not recorded)", refusal.status,
                rejection_summary(refusal), not_recorded,
                extra={"channel": channel, "delivery": delivery, "status": refusal.status, "outcome": "rejected",
                       "duration_ms": duration_ms})
        raise refusal

    return wrapper


def _elapsed_s() -> float:
    """Seconds since the push view started on this request."""
    return time.perf_counter() - g.get("started", time.perf_counter())


def _elapsed_ms() -> int:
    """Milliseconds since the push view started on this request."""
    return round(_elapsed_s() * 1000)


SHOWN_PROBLEMS = 3  # how many problems a rejection's log line names; the delivery log has them all


def rejection_summary(refusal: ReceiverError) -> str:
    """A refusal in one line: its first problems as ``path: message`` (``rows[3].quantity: Not a valid
    number.; … (+2 more)``), or its message when it names none."""
    if not refusal.problems:
        return refusal.message
    shown = "; ".join(f"{problem_path(p.get('path', []))}: {str(p.get('message', '')).removesuffix('.')}"
                      for p in refusal.problems[:SHOWN_PROBLEMS])
    more = len(refusal.problems) - SHOWN_PROBLEMS
    return shown + (f"; … (+{more} more)" if more > 0 else "")


def problem_path(path: list[Any]) -> str:
    """A problem's path as a reader writes it: ``["data", "leadTime", 3]`` → ``data.leadTime[3]``."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text or "(body)"


# Headers shown as received; any other value is masked: a credential header's name is the customer's choice.
PLAIN_HEADERS = frozenset({"accept", "accept-encoding", "connection", "content-encoding", "content-length",
                           "content-type", "date", "expect", "host", "transfer-encoding", "user-agent",
                           "x-forwarded-for", "x-forwarded-proto", "x-request-id"})


def shown_headers() -> list[list[str]]:
    """The request's headers as the inspector shows them: credentials masked (Authorization keeps only
    its scheme), every header not known to be harmless masked too."""
    shown = []
    for name, value in request.headers.items():
        if name.lower() in PLAIN_HEADERS:
            shown.append([name, value[:500]])
        elif name.lower() == "authorization":
            shown.append([name, f"{value.split(' ', 1)[0][:20]} *** (masked)"])
        else:
            shown.append([name, f"*** (masked, {len(value)} characters)"])
    return shown


# --- read routes ----------------------------------------------------------------------------------


def int_arg(name: str, default: int | None, low: int, high: int) -> Any:
    """An integer query parameter of a read route (``default`` when absent), or 400 saying what is
    allowed. Every read route pages with it."""
    text = request.args.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        abort(400, description=f"{name} must be an integer")
    if not low <= value <= high:
        abort(400, description=f"{name} must be between {low} and {high}")
    return value


def utc_iso(moment: datetime | str) -> str:
    """A stored time as the read API shows every time: UTC, milliseconds, "Z" (2022-07-27T23:10:12.000Z).
    SQLite hands back naive datetimes (or the stored text), PostgreSQL aware ones."""
    if isinstance(moment, str):
        return moment
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

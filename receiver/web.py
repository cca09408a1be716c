"""What every HTTP channel does before its own logic: check credentials, refuse oversize bodies from
their Content-Length, check the media type, read the body, and log every rejection."""

from __future__ import annotations

import functools
import hmac
import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from receiver import storage
from receiver.errors import (
    MalformedBody,
    PayloadTooLarge,
    ReceiverError,
    StorageFailure,
    Unauthenticated,
    UnsupportedMediaType,
)

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Receipt:
    """What an HTTP channel answers with 200: the outcome (accepted, or a disregarded duplicate), the
    delivery id in the log, counts, warnings, and the delivery that first applied a duplicate."""

    outcome: str
    delivery: int
    counts: dict[str, int]
    warnings: list[dict[str, Any]]
    original_delivery: int | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"outcome": self.outcome, "delivery": self.delivery, "rows": self.counts,
                                "warnings": self.warnings}
        if self.original_delivery is not None:
            body["original_delivery"] = self.original_delivery
        return body


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


def read_body(max_bytes: int) -> bytes:
    """The raw body, refused with 413 from its Content-Length before any of it is read."""
    length = request.content_length
    if length is not None and length > max_bytes:
        g.discard_body = True  # see init_app: the 413 goes out first, then the body is discarded
        raise PayloadTooLarge(f"the body is {length} bytes; this endpoint accepts at most {max_bytes} bytes")
    request.max_content_length = max_bytes  # also bounds chunked bodies that announce no length
    try:
        g.raw_body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise PayloadTooLarge(f"the body exceeds {max_bytes} bytes, the most this endpoint accepts") from None
    return g.raw_body


# A sender that is still uploading an oversize body would see the connection reset instead of the
# 413 if the server closed on it. So once the 413 is sent, the rest of the body is read and thrown
# away (never stored), within these bounds, and only then is the connection closed.
DISCARD_MAX_BYTES = 1024 * 1024 * 1024
DISCARD_MAX_SECONDS = 60.0


def init_app(app: Flask) -> None:
    @app.after_request
    def _discard_refused_body(response: Response) -> Response:
        if g.get("discard_body"):
            response.call_on_close(functools.partial(_discard, request.environ))
        return response


def _discard(environ: dict[str, Any]) -> None:
    stream, remaining = environ.get("wsgi.input"), int(environ.get("CONTENT_LENGTH") or 0)
    sock = environ.get("gunicorn.socket")
    if sock is not None:
        sock.settimeout(5.0)
    deadline = time.monotonic() + DISCARD_MAX_SECONDS
    remaining = min(remaining, DISCARD_MAX_BYTES)
    try:
        while stream is not None and remaining > 0 and time.monotonic() < deadline:
            chunk = stream.read(min(remaining, 256 * 1024))
            if not chunk:
                break
            remaining -= len(chunk)
    except OSError:
        pass  # the sender gave up: nothing to do


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
        document = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise MalformedBody(
            f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4,300 digits; deep nesting
        raise MalformedBody(f"the body is not valid JSON: {exc or 'nested too deeply'}") from None
    if _SURROGATE_ESCAPE.search(text):  # rare: only then look for a lone one
        try:
            json.dumps(document, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedBody("the body holds a lone UTF-16 surrogate escape (\\ud800-\\udfff): "
                                "not Unicode text") from None
    return document


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _no_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON (RFC 8259) does not, and no database column wants them.
    raise ValueError(f"{name} is not a JSON value")


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"the number {literal} is out of range")
    return value


def logs_rejections(store: storage.Store, channel: str) -> Callable[[F], F]:
    """Wrap a channel's view: a rejected request is recorded in the delivery log (with its raw body
    once credentials passed, so it can be re-applied after a fix) and answered with the error."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return view(*args, **kwargs)
            except ReceiverError as exc:
                # The body is kept only when it was read (within the limit) from an authenticated
                # sender: strangers cannot fill the store.
                authenticated = not isinstance(exc, Unauthenticated)
                body = g.get("raw_body") if authenticated else None
                log.warning("%s delivery rejected (%s): %s", channel, exc.status, exc.message)
                if isinstance(exc, StorageFailure):
                    raise
                try:
                    with store.write() as conn:
                        storage.record_delivery(
                            conn, channel=channel, outcome="rejected", status=exc.status,
                            reason=f"{exc.reason}: {exc.message}", counts=None,
                            warnings=None, body=body, keep_body=body is not None,
                            content_type=request.content_type, remote_addr=request.remote_addr,
                        )
                except StorageFailure:
                    log.exception("%s: could not record a rejected delivery", channel)
                raise

        return wrapper  # type: ignore[return-value]

    return decorator

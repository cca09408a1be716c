"""The receiver's exceptions and its one error envelope.

Every error answer, whatever the channel, has the same JSON shape::

    {"error": {"status": 422, "title": "Unprocessable Entity",
               "message": "the push was rejected: 2 problems; nothing was applied",
               "problems": [{"path": ["data", "leadTime", 3], "message": "Not a valid integer."}]}}

``problems`` names every problem found, each with the path to it (keys and array indexes).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

Problem = dict[str, Any]


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the key and says what to change."""


class ReceiverError(Exception):
    """An answer other than success; ``reason`` is recorded in the delivery log."""

    status = 500
    reason = "error"

    def __init__(self, message: str, *, problems: list[Problem] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []
        self.headers = dict(headers or {})


class Unauthenticated(ReceiverError):
    status = 401
    reason = "unauthenticated"


class MalformedBody(ReceiverError):
    status = 400
    reason = "malformed body"


class RequestTimeout(ReceiverError):
    status = 408
    reason = "body too slow"


class PayloadTooLarge(ReceiverError):
    status = 413
    reason = "body too large"


class UnsupportedMediaType(ReceiverError):
    status = 415
    reason = "unsupported media type"


class InvalidPayload(ReceiverError):
    status = 422
    reason = "invalid payload"

    @classmethod
    def from_messages(cls, messages: Any, what: str, *, nothing: str = "applied",
                      order: Callable[[Problem], Any] | None = None) -> InvalidPayload:
        """A marshmallow ``ValidationError.messages`` → every problem with its path, in one answer:
        "the push was rejected: 2 problem(s); nothing was applied"."""
        problems = flatten(messages)
        if order is not None:
            problems.sort(key=order)
        return cls(f"{what} was rejected: {len(problems)} problem(s); nothing was {nothing}", problems=problems)


class StorageFailure(ReceiverError):
    """The store could not be reached or is unavailable: nothing was stored, the sender should retry."""

    status = 500
    reason = "storage failure"


class StoreRefused(ReceiverError):
    """The store refused the data itself (a value it cannot hold, a constraint of its own): permanent,
    so a 4xx — the sender must not retry the same body forever — and an AMQP message is dead-lettered."""

    status = 422
    reason = "refused by the store"


class InternalError(ReceiverError):
    """A failure of the receiver itself (a bug): 500, recorded, the details in the process log only."""

    status = 500
    reason = "internal error"


def shown(value: Any, limit: int = 60) -> str:
    """A value as a problem message quotes it: JSON text, nesting below two levels elided, cut to about
    ``limit`` characters — bounded in time and size whatever was sent (a value nested 1,000 deep, a
    megabyte of text)."""
    text = _render(value, 2, limit)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _render(value: Any, depth: int, limit: int) -> str:
    if isinstance(value, dict):
        if depth == 0 or not value:
            return "{…}" if value else "{}"
        items = [f"{_render(k, 0, limit)}: {_render(v, depth - 1, limit)}" for k, v in list(value.items())[:4]]
        return "{" + ", ".join(items) + (", …}" if len(value) > 4 else "}")
    if isinstance(value, list):
        if depth == 0 or not value:
            return "[…]" if value else "[]"
        items = [_render(v, depth - 1, limit) for v in value[:4]]
        return "[" + ", ".join(items) + (", …]" if len(value) > 4 else "]")
    if isinstance(value, str):
        return json.dumps(value[: limit + 1], ensure_ascii=False)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**limit:
        return f"an integer of {len(str(abs(value)))} digits"
    return json.dumps(value)


def flatten(messages: Any, path: tuple[Any, ...] = ()) -> list[Problem]:
    """marshmallow's nested messages → a flat list of {path, message}; integer-like keys become ints."""
    if isinstance(messages, Mapping):
        problems: list[Problem] = []
        for key, value in messages.items():
            step: Any = int(key) if isinstance(key, str) and key.isdigit() else key
            next_path = path if key == "_schema" else (*path, step)
            problems.extend(flatten(value, next_path))
        return problems
    if isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            return [{"path": list(path), "message": m} for m in messages]
        problems = []
        for item in messages:
            problems.extend(flatten(item, path))
        return problems
    return [{"path": list(path), "message": str(messages)}]


def error_body(status: int, message: str, problems: list[Problem] | None = None) -> dict[str, Any]:
    return {
        "error": {
            "status": status,
            "title": HTTPStatus(status).phrase,
            "message": message,
            "problems": problems or [],
        }
    }


# The envelope as JSON Schema (2020-12), for the published documents (receiver/contracts.py): every
# answer but a success has this shape, whatever the channel and the status.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Error",
    "description": "Every answer other than a success, on every endpoint: the status again, its reason phrase, "
                   "a message saying what to change, and every problem found, each with the path to it (object "
                   "keys and array indexes, e.g. [\"data\", \"leadTime\", 3]; [\"headers\", name] for a "
                   "credential).",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "title", "message", "problems"],
            "properties": {
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "title": {"type": "string", "description": "The status's reason phrase (RFC 9110)."},
                "message": {"type": "string"},
                "problems": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["path", "message"],
                        "properties": {
                            "path": {"type": "array", "items": {"type": ["string", "integer"]}},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
}


def register_error_handlers(app: Flask) -> None:
    """One error envelope for the whole app, registered once."""

    @app.errorhandler(ReceiverError)
    def _receiver_error(exc: ReceiverError) -> tuple[Response, int, dict[str, str]]:
        return jsonify(error_body(exc.status, exc.message, exc.problems)), exc.status, exc.headers

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int, dict[str, str]]:
        status = exc.code or 500
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return jsonify(error_body(status, exc.description or HTTPStatus(status).phrase)), status, headers

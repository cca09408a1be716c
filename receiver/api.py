"""The read API (JSON): what the receiver holds and every delivery it logged.

It doubles as the contract tests' optional *state probe*; ``docs/state-probe.md`` is its protocol, so a
customer can implement the same few GETs on their own receiver. It answers only with the bearer token
of ``[api] token``; without a configured token it is not mounted at all.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, request
from flask_httpauth import HTTPTokenAuth

from . import storage
from .config import ApiConfig
from .errors import Unauthenticated
from .web import ID_64, Operation, int_arg, limit_parameter, path_parameter, query_parameter, secrets_equal, utc_iso


def blueprint(config: ApiConfig, store: storage.Store) -> Blueprint:
    """The API blueprint; channels add their own read routes to it before it is registered."""
    api = Blueprint("api", __name__, url_prefix=config.prefix)
    auth = HTTPTokenAuth(scheme="Bearer")

    @auth.verify_token
    def _verify(token: str) -> bool:
        return secrets_equal(token, config.token)

    @auth.error_handler
    def _unauthorized(_status: int) -> Any:
        raise Unauthenticated("the read API needs 'Authorization: Bearer <token>' with the configured token",
                              headers={"WWW-Authenticate": 'Bearer realm="receiver read API"'})

    @api.before_request
    @auth.login_required
    def _require_token() -> None:
        return None

    @api.before_request
    def _arguments_a_store_can_compare() -> None:
        """What no stored value can match is answered before any query: a NUL in a parameter (400; no
        text column holds one) and an integer beyond 64 bits in a path (404; no id is that large)."""
        for name, value in [*request.args.items(multi=True), *(request.view_args or {}).items()]:
            if isinstance(value, str) and "\x00" in value:
                abort(400, description=f"{name} contains U+0000 (NUL), which no stored value holds")
            if isinstance(value, int) and not -(2**63) <= value < 2**63:
                abort(404, description=f"no {name} {value}: ids are 64-bit integers")

    @api.get("/deliveries")
    def list_deliveries() -> Response:
        limit = int_arg("limit", 50, 1, 500)
        before = int_arg("before", 0, 0, 2**63 - 1) or None
        with store.read() as conn:
            rows = storage.list_deliveries(conn, channel=request.args.get("channel"),
                                           outcome=request.args.get("outcome"), before=before, limit=limit)
        items = [delivery_json(row) for row in rows]
        next_before = items[-1]["id"] if len(items) == limit else None
        return jsonify({"items": items, "next_before": next_before})

    @api.get("/deliveries/<int:delivery_id>")
    def get_delivery(delivery_id: int) -> Response:
        with store.read() as conn:
            row = storage.get_delivery(conn, delivery_id)
        if row is None:
            abort(404, description=f"no delivery {delivery_id}")
        return jsonify(delivery_json(row))

    @api.get("/deliveries/<int:delivery_id>/body")
    def get_delivery_body(delivery_id: int) -> Response:
        with store.read() as conn:
            row = storage.get_delivery(conn, delivery_id)
        if row is None or row.raw_body is None:
            abort(404, description=f"no stored body for delivery {delivery_id} (only rejected ones keep it)")
        # Bytes as received, whatever they are: a body refused for not being JSON is not served as JSON. The
        # Content-Type it came with is the delivery's content_type.
        return Response(row.raw_body, mimetype="application/octet-stream")

    return api


def delivery_json(row: Any) -> dict[str, Any]:
    mapping = row._mapping
    return {
        "id": mapping["id"],
        "channel": mapping["channel"],
        "received_at": utc_iso(mapping["received_at"]),
        "outcome": mapping["outcome"],
        "status": mapping["status"],
        "reason": mapping["reason"],
        "counts": mapping["counts"],
        "warnings": mapping["warnings"] or [],
        "body_sha256": mapping["body_sha256"],
        "body_bytes": mapping["body_bytes"],
        "content_type": mapping["content_type"],
        "remote_addr": mapping["remote_addr"],
        "body_kept": bool(mapping["body_kept"]),
    }


DELIVERY = {
    "type": "object",
    "required": ["id", "channel", "received_at", "outcome", "status", "reason", "counts", "warnings", "body_sha256",
                 "body_bytes", "content_type", "remote_addr", "body_kept"],
    "properties": {
        "id": {"type": "integer"}, "channel": {"type": "string"}, "received_at": {"type": "string"},
        "outcome": {"enum": ["accepted", "duplicate", "rejected"]},
        "status": {"type": ["integer", "null"], "description": "the HTTP status answered (null on AMQP)"},
        "reason": {"type": ["string", "null"]}, "counts": {"type": ["object", "null"]},
        "warnings": {"type": "array"}, "body_sha256": {"type": ["string", "null"]},
        "body_bytes": {"type": ["integer", "null"]}, "content_type": {"type": ["string", "null"]},
        "remote_addr": {"type": ["string", "null"]},
        "body_kept": {"type": "boolean", "description": "the raw body is kept (rejected deliveries): GET …/body"},
    },
}
_DELIVERY_EXAMPLE = {"id": 17, "channel": "stock", "received_at": "2026-01-05T10:00:00.123Z", "outcome": "rejected",
                     "status": 422, "reason": "invalid payload: the push was rejected: 1 problem(s); nothing was "
                     "applied", "counts": None, "warnings": [], "body_sha256": "0" * 64, "body_bytes": 2048,
                     "content_type": "application/json", "remote_addr": "192.0.2.10", "body_kept": True}


def operations() -> list[Operation]:
    """The delivery log routes, as the published OpenAPI document shows them."""
    delivery = path_parameter("id", ID_64, "the delivery's id")
    return [
        Operation("get", "/deliveries", "list_deliveries", "List the delivery log",
                  "Every delivery on every channel, newest first: accepted, duplicate or rejected (with its reason). "
                  "The next page is ?before={next_before}.",
                  {"type": "object", "required": ["items", "next_before"],
                   "properties": {"items": {"type": "array", "items": DELIVERY},
                                  "next_before": {"type": ["integer", "null"]}}},
                  {"items": [_DELIVERY_EXAMPLE], "next_before": None}, (400, 401), read=True,
                  parameters=(limit_parameter(50, 500),
                              query_parameter("channel", {"type": "string"}, "only this channel"),
                              query_parameter("outcome", {"type": "string"}, "accepted, duplicate or rejected"),
                              query_parameter("before", ID_64,
                                              "the next_before of the previous page"))),
        Operation("get", "/deliveries/{id}", "get_delivery", "One delivery", "404 for a delivery never logged.",
                  DELIVERY, _DELIVERY_EXAMPLE, (401, 404), read=True, parameters=(delivery,)),
        Operation("get", "/deliveries/{id}/body", "get_delivery_body", "The raw body of a rejected delivery",
                  "The bytes exactly as received (application/octet-stream; the Content-Type they came with is "
                  "the delivery's content_type); 404 when none is kept (only rejected deliveries from "
                  "authenticated senders keep theirs).",
                  {"type": "string", "format": "binary"}, '{"data": {"connectorStockId": ["…"]', (401, 404),
                  read=True, parameters=(delivery,), answer_type="application/octet-stream"),
    ]

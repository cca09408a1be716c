"""Resend: a stored delivery sent again, byte for byte, to another receiver (e.g. staging), with the
platform's headers made afresh for the target — its credential headers, S-360's auth mode, a new
ServiceMobility token — and every attempt recorded in ``resends``.

This is the one receiver module that sends: it builds the headers with the simulator's senders (one
reading of how each platform sends, not a second one here), so nothing that receives imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import requests

from inventory_push_kit.simulator.core import Request
from inventory_push_kit.simulator.http import Sender
from inventory_push_kit.simulator.s360 import Auth, webhook_headers
from inventory_push_kit.simulator.servicemobility.tokens import TokenSigner

from . import storage


class ResendError(Exception):
    """Why nothing was sent, or nothing came back: one line for a person. ``nothing_to_send``: the
    delivery is unknown or its body was not kept (the command exits 2 for these, 1 for the rest)."""

    def __init__(self, message: str, *, nothing_to_send: bool = False) -> None:
        super().__init__(message)
        self.nothing_to_send = nothing_to_send


@dataclass(frozen=True)
class Target:
    """Where a delivery goes and the target's own credentials: ``headers`` for the stock push,
    ``s360_auth`` (``none``, ``basic:LOGIN:PASSWORD``, ``api-key:HEADER:KEY``) for S-360, a JWT secret
    (HS256) or private key PEM (RS256/ES256) for ServiceMobility's ``x-access-token``."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    s360_auth: str = "none"
    jwt_secret: str = field(default="", repr=False)
    jwt_private_key: str = field(default="", repr=False)
    ca_bundle: str | bool = True
    timeout: float = 60.0


@dataclass(frozen=True)
class ResendResult:
    """What the target answered (``status``), and the id of the ``resends`` row that records it."""

    delivery: int
    target: str  # masked
    status: int
    body: bytes
    resend: int


def headers_for(channel: str, content_type: str | None, target: Target) -> dict[str, str]:
    """The headers the platform of ``channel`` would send to ``target`` now."""
    json_type = {"Content-Type": content_type or "application/json"}
    if channel == "stock":
        return {**json_type, **target.headers}
    if channel == "s360":
        try:
            return {**webhook_headers(Auth.parse(target.s360_auth)), **json_type}
        except ValueError as exc:
            raise ResendError(f"--s360-auth: {exc}") from None
    if channel == "servicemobility":
        if target.jwt_private_key:
            signer = TokenSigner.from_private_key_pem(target.jwt_private_key)
        elif target.jwt_secret:
            signer = TokenSigner(target.jwt_secret)
        else:
            return json_type
        return {**json_type, "x-access-token": signer.token()}
    raise ResendError(f"{channel} deliveries arrive over AMQP: resend sends HTTP pushes only")


def resend(store: storage.Store, delivery_id: int, target: Target) -> ResendResult:
    """Send delivery ``delivery_id``'s stored body to ``target`` and record the attempt. Raises
    :class:`ResendError` (unknown delivery, body not kept, no answer, TLS failure); an answer of any
    status is a result, recorded with its status."""
    with store.read() as conn:
        row = storage.get_delivery(conn, delivery_id)
    if row is None:
        raise ResendError(f"no delivery {delivery_id}", nothing_to_send=True)
    if row.raw_body is None:
        raise ResendError(f"delivery {delivery_id} ({row.channel}, {row.outcome}) has no stored body: "
                          "[deliveries] keep_bodies did not keep it, or retention pruned it", nothing_to_send=True)
    shown = storage.masked_url(target.url)
    request = Request(bytes(row.raw_body), headers_for(row.channel, row.content_type, target))
    sender = Sender(target.url, ca_bundle=target.ca_bundle, timeout=target.timeout)
    try:
        answer = sender.send(request)
    except requests.exceptions.SSLError as exc:
        _record(store, delivery_id, shown, None, f"TLS failure: {_reason(exc)}")
        raise ResendError(f"TLS failure talking to {shown}: {_reason(exc)}") from None
    except (requests.ConnectionError, requests.Timeout) as exc:
        _record(store, delivery_id, shown, None, f"no answer: {_reason(exc)}")
        raise ResendError(f"cannot reach {shown}: {_reason(exc)}") from None
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema) as exc:
        raise ResendError(f"--to {shown!r} is not an http(s) URL: {exc}") from None
    finally:
        sender.close()
    recorded = _record(store, delivery_id, shown, answer.status, None)
    return ResendResult(delivery_id, shown, answer.status, answer.body, recorded)


def _record(store: storage.Store, delivery_id: int, target: str, status: int | None, error: str | None) -> int:
    with store.write() as conn:
        return int(conn.execute(storage.resends.insert().values(
            delivery_id=delivery_id, sent_at=storage.utcnow(), target=target, status=status, error=error,
        ).returning(storage.resends.c.id)).scalar_one())


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]

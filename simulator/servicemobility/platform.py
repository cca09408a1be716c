"""How ServiceMobility sends: one keep-alive session to the customer's REST Endpoint URI, each type to
its own path, a token from the platform's signer on every call (none when it has no signer)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import requests

from ..core import Request
from ..http import Delivery, Sender
from .payload import event_request
from .tokens import TokenSigner


class _SignedNow:
    def __repr__(self) -> str:
        return "<signed now>"


SIGNED_NOW: Final = _SignedNow()


class ServiceMobilityPlatform:
    """Sends webhooks like ServiceMobility: one :class:`Sender`, a token from ``signer`` on every call
    (no ``x-access-token`` when ``signer`` is None), each type to its own path."""

    def __init__(
        self,
        base_url: str,
        *,
        signer: TokenSigner | None,
        paths: Mapping[str, str] | None = None,
        ca_bundle: str | bool = True,
        timeout: float = 120.0,
        session: requests.Session | None = None,
    ) -> None:
        self.signer = signer
        self.paths = dict(paths or {})
        self.sender = Sender(base_url, ca_bundle=ca_bundle, timeout=timeout, session=session)

    def request_for(
        self, event: Mapping[str, Any], *, token: str | None | _SignedNow = SIGNED_NOW
    ) -> Request:
        if isinstance(token, _SignedNow):
            token = self.signer.token() if self.signer is not None else None
        return event_request(event, token, paths=self.paths)

    def send_event(
        self, event: Mapping[str, Any], *, token: str | None | _SignedNow = SIGNED_NOW
    ) -> Delivery:
        """POST ``event`` to ``<base>/<path of its type>``; ``token=None`` sends no ``x-access-token``."""
        return self.sender.send(self.request_for(event, token=token))

    def send(self, request: Request) -> Delivery:
        """Send a prepared (possibly malformed) request as is."""
        return self.sender.send(request)

    def close(self) -> None:
        self.sender.close()

    def __enter__(self) -> ServiceMobilityPlatform:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""How the marketplace sends: to one customer endpoint, with the credential headers the customer chose
when registering it (the document names none)."""

from __future__ import annotations

from collections.abc import Mapping

from ..core import Request
from ..http import Delivery, Sender
from .payload import StockPush


class StockPlatform:
    """The marketplace's sending side for one customer endpoint: its URL, its credential headers."""

    def __init__(
        self,
        base_url: str,
        *,
        credentials: Mapping[str, str],
        ca_bundle: str | bool = True,
        timeout: float = 120.0,
    ) -> None:
        self.credentials = dict(credentials)
        self.sender = Sender(base_url, ca_bundle=ca_bundle, timeout=timeout)

    def push(self, push: StockPush) -> Delivery:
        return self.sender.send(push.to_request(self.credentials))

    def send(self, request: Request) -> Delivery:
        return self.sender.send(request)

    def close(self) -> None:
        self.sender.close()

"""The channels, one module each, and their registry.

A channel module is the whole of one platform's integration: its configuration section, its tables (on
``storage.metadata``), its validation, its apply, its endpoint and read routes. It imports only the
shared modules below it (``errors``, ``storage``, ``web``), never another channel, so a customer can copy
``channels/<channel>.py`` with those three and nothing else. Adding a channel is adding one module that
fits :class:`Channel` and one entry in :data:`CHANNELS`.
"""

from __future__ import annotations

from typing import Any, Protocol

from flask import Blueprint, Flask

from ..storage import Store
from ..web import Contract, Receipt
from . import erp, s360, servicemobility, stock


class Channel(Protocol):
    """What a channel module provides (a module satisfies it structurally)."""

    NAME: str  # its name in the delivery log, and its configuration section

    @property
    def Config(self) -> type[Any]: ...  # noqa: N802 (the section's dataclass, a class attribute of the module)

    def register(self, app: Flask, api: Blueprint, config: Any, store: Store) -> None:
        """Add its endpoints to ``app`` and its read routes to ``api`` (nothing when not enabled)."""

    def receive(self, store: Store, config: Any, body: bytes, *, content_type: str | None = None,
                remote_addr: str | None = None, reason: str | None = None,
                headers: list[list[str]] | None = None) -> Receipt:
        """Parse, validate and store one body (``inventory-receiver reapply`` re-runs a stored one); the
        request's ``headers`` (as the inspector shows them) are recorded with the delivery."""

    def contract(self, config: Any) -> Contract:
        """What it publishes for ``config`` (None: the published documents): operations, security schemes,
        the payloads its platform sends (``receiver/contracts.py`` builds the documents from them)."""


# name → module. The order is the order of the configuration's sections and of the app's routes.
CHANNELS: dict[str, Channel] = {stock.NAME: stock, erp.NAME: erp, servicemobility.NAME: servicemobility,
                                s360.NAME: s360}

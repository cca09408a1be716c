"""What S-360 puts on the wire (``s360-inventory-webhook.txt``, decisions.md s360-*): a JSON array of at most P
products, JSON headers plus the interface's credentials; and the limits of the back office's settings."""

from __future__ import annotations

from typing import Any

from inventory_push_kit import fixtures

from .auth import Auth

CHANNEL = "s360"
DOCUMENT = "s360-inventory-webhook.txt"
SUCCESS_STATUS = 200  # "a value different than 200" is a failure: 201, 202 and 204 included
DEFAULT_BATCH_SIZE = 1000
DEFAULT_INTERVAL_MINUTES = 15.0
DEFAULT_MAX_REPOSTS = 12
# A full batch of 1000 products the size of the document's example is 7.2 MB of compact JSON (generated
# products, with more performances, average 9 MB); the receiver's limit must admit it.
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
MIN_ID, MAX_ID = -(2**63), 2**63 - 1  # ids are Java longs: signed 64-bit


def webhook_headers(auth: Auth) -> dict[str, str]:
    """The headers of every POST of an interface: JSON, and its credentials."""
    return {"Content-Type": "application/json", **auth.headers()}


def document_example() -> list[dict[str, Any]]:
    """The document's example array, parsed from the verbatim fixture."""
    return fixtures.load(CHANNEL, "document-example")


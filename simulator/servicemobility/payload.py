"""What ServiceMobility puts on the wire (``servicemobility-inventory-usage.txt``, decisions.md sm-*): a
CloudEvents-shaped envelope as plain JSON, posted to ``<base>/<path of its type>`` with the platform's JWT
in ``x-access-token``; the nine types and their paths; the document's time format."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from ..core import Request, encode_json

CHANNEL: Final = "servicemobility"

# The document's list of valid ``type`` values, in its order.
TYPES: Final = (
    "Activity",
    "PhysicalInventoryRequest",
    "LoadInventory",
    "InventoryTransfer",
    "InventoryUsage",
    "StockLevelRecommendation",
    "TimeEntry",
    "UserAudit",
    "WorkOrder",
)

# Documented paths; every other type posts to its own name (decisions.md sm-*).
_DOCUMENTED_PATHS: Final = {"InventoryUsage": "InventoryUsage/", "Activity": "Activities/"}


def default_path(event_type: str) -> str:
    """The path, relative to the customer's REST Endpoint URI, the platform posts ``event_type`` to."""
    if event_type not in TYPES:
        raise ValueError(f"unknown ServiceMobility type {event_type!r} (valid: {', '.join(TYPES)})")
    return _DOCUMENTED_PATHS.get(event_type, f"{event_type}/")


def path_for(event_type: str, paths: Mapping[str, str] | None = None) -> str:
    """The configured path of a type: the override from ``paths`` when given, else the default."""
    if paths and event_type in paths:
        return paths[event_type]
    return default_path(event_type)



def rfc3339(moment: datetime) -> str:
    """``2022-07-27T23:10:12.000Z``: the document's time format (UTC, milliseconds, ``Z``)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"



def event_request(event: Mapping[str, Any], token: str | None, *, paths: Mapping[str, str] | None = None,
                  path: str | None = None) -> Request:
    """The request the platform sends for ``event``: to its type's path, with ``x-access-token``."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["x-access-token"] = token
    return Request(encode_json(event), headers, path if path is not None else path_for(event["type"], paths))


"""The stock push itself (``stock-push.rst``): one columnar JSON object ``{"data": {column: [values...]}}``,
row i being the i-th element of every array, with the customer's credentials in header fields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inventory_push_kit import fixtures

from ..core import Request, encode_json

CHANNEL = "stock"

# The "Data definition" table of stock-push.rst, in the document's order.
COLUMNS: tuple[str, ...] = (
    "connectorStockId",
    "materialId",
    "pn",
    "description",
    "condition",
    "priceUsd",
    "sn",
    "mfr",
    "mroApprovalNo",
    "mroName",
    "leadTime",
    "tagDate",
    "lastOperator",
    "lastMsn",
    "incidentRelated",
    "quantity",
    "unit",
    "dateOfManufacture",
    "timeRemaining",
    "cyclesRemaining",
    "shelfLife",
    "location",
    "company",
    "timeStampEntry",
    "dbAction",
)
DB_ACTIONS = ("ADD", "UPD", "DEL")
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
# The document names no success status (decision stock-8): any 2xx is a push received.
SUCCESS = (200, 201, 202, 204)
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass
class StockPush:
    """One transmission: rows keyed by the document's field names, sent as columns."""

    rows: list[dict[str, Any]]

    def columns(self) -> dict[str, list[Any]]:
        """Columnar form: row i is the i-th element of every array."""
        rows = self.rows
        return {column: [row[column] for row in rows] for column in COLUMNS}

    def body(self) -> dict[str, Any]:
        return {"data": self.columns()}

    def to_bytes(self) -> bytes:
        """The body as the platform sends it: compact JSON, UTF-8, non-ASCII kept as is."""
        return encode_json(self.body())

    def to_request(self, credentials: Mapping[str, str]) -> Request:
        """The POST the platform makes: JSON body plus the customer's credential header fields."""
        return Request(self.to_bytes(), {**JSON_HEADERS, **credentials})

    def ids(self) -> list[str]:
        return [row["connectorStockId"] for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)


def example_request(credentials: Mapping[str, str]) -> Request:
    """The document's "Example for result body" sent verbatim (tabs and U+2011 hyphens included)."""
    return Request(fixtures.raw(CHANNEL, "document-example"), {**JSON_HEADERS, **credentials})


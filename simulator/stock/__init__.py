"""The stock push (``stock-push.rst``): an aviation parts marketplace POSTs, to an endpoint the customer
runs, the stock entries that changed since the last transmission, as one columnar JSON object
``{"data": {column: [values...]}}`` with the customer's credentials in header fields.

``payload`` is the push, ``generator`` realistic pushes (a first push, then deltas of ADD/UPD/DEL),
``cases`` the pushes broken on purpose (``MALFORMATIONS``) and the variants a receiver must still accept
(``GOOD_CASES``), ``platform`` how the marketplace sends, ``scenarios`` whole runs, ``cli`` the
``inventory-simulator stock`` sub-command.
"""

from .cases import (
    ACCEPTED,
    GOOD_CASES,
    MALFORMATIONS,
    NEEDS_CREDENTIALS,
    NOT_IN_BODY,
    OTHER_DASHES,
    ROW_CASES,
    StockCase,
    StockCaseContext,
    fixture_files,
    write_fixtures,
)
from .cli import add_cli, run_cli
from .generator import IATA_LOCATIONS, StockGenerator, material_id
from .payload import (
    CHANNEL,
    COLUMNS,
    DB_ACTIONS,
    DEFAULT_MAX_BODY_BYTES,
    JSON_HEADERS,
    SUCCESS,
    TIMESTAMP_FORMAT,
    StockPush,
    example_request,
)
from .platform import StockPlatform
from .scenarios import CASE_ROWS, LINE, SCENARIOS, run_scenario

__all__ = [
    "ACCEPTED", "SUCCESS", "CASE_ROWS", "CHANNEL", "COLUMNS", "DB_ACTIONS", "DEFAULT_MAX_BODY_BYTES", "GOOD_CASES",
    "IATA_LOCATIONS", "JSON_HEADERS", "LINE", "MALFORMATIONS", "NEEDS_CREDENTIALS", "NOT_IN_BODY", "OTHER_DASHES",
    "ROW_CASES", "SCENARIOS", "TIMESTAMP_FORMAT", "StockCase", "StockCaseContext", "StockGenerator", "StockPlatform",
    "StockPush", "add_cli", "example_request", "fixture_files", "material_id", "run_cli", "run_scenario",
    "write_fixtures",
]

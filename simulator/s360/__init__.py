"""S-360 inventory webhook: what the ticketing platform sends and how it sends it
(``s360-inventory-webhook.txt``, decisions.md s360-*).

The platform POSTs its whole catalogue as JSON arrays of at most P products. Any answer but 200 makes it
re-post the same batch every M minutes, up to N times; then it abandons that batch, logs it and goes on
with the next one.

``auth`` holds the back office's credentials, ``payload`` what goes on the wire, ``generator`` the
catalogue, ``cases`` the named good and malformed batches, ``platform`` the batching, re-posts and
clocks, ``scenarios`` whole runs, ``cli`` the ``inventory-simulator s360`` sub-command.
"""

from ..core import cases_for, encode_json
from .auth import AUTH_CLI_NAMES, Auth, AuthMode
from .cases import (
    GOOD_CASES,
    MALFORMATIONS,
    POSITIONS,
    STATES,
    CaseBuilder,
    S360CaseContext,
    batch_of_exactly,
    example_sized,
    fresh_ids,
    only_for,
)
from .cli import add_cli, run_cli
from .generator import ProductGenerator
from .payload import (
    CHANNEL,
    DEFAULT_BATCH_SIZE,
    DEFAULT_INTERVAL_MINUTES,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_REPOSTS,
    DOCUMENT,
    MAX_ID,
    MIN_ID,
    SUCCESS_STATUS,
    document_example,
    webhook_headers,
)
from .platform import Attempt, BatchReport, Clock, CompressedClock, FakeClock, RunReport, S360Platform
from .scenarios import BATCH_EXPECTATION, LINE, SCENARIOS, run_scenario

__all__ = [
    "AUTH_CLI_NAMES", "BATCH_EXPECTATION", "CHANNEL", "DEFAULT_BATCH_SIZE", "DEFAULT_INTERVAL_MINUTES",
    "DEFAULT_MAX_BODY_BYTES", "DEFAULT_MAX_REPOSTS", "DOCUMENT", "GOOD_CASES", "LINE", "MALFORMATIONS", "MAX_ID",
    "MIN_ID", "POSITIONS", "SCENARIOS", "STATES", "SUCCESS_STATUS", "Attempt", "Auth", "AuthMode", "BatchReport",
    "CaseBuilder", "Clock", "CompressedClock", "FakeClock", "ProductGenerator", "RunReport", "S360CaseContext",
    "S360Platform", "add_cli", "batch_of_exactly", "cases_for", "document_example", "encode_json", "example_sized",
    "fresh_ids", "only_for", "run_cli", "run_scenario", "webhook_headers",
]

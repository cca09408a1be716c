"""ServiceMobility webhooks: CloudEvents-shaped envelopes posted to ``<base>/<Type path>/`` with the
platform's JWT in ``x-access-token`` (``servicemobility-inventory-usage.txt``, decisions.md sm-*).

``payload`` is the envelope, the types and their paths; ``tokens`` signs the way the platform does;
``generator`` builds realistic Inventory Usage notifications (and the eight sibling types); ``cases``
breaks envelopes and tokens on purpose; ``platform`` sends; ``scenarios`` runs them; ``cli`` is the
``inventory-simulator servicemobility`` sub-command.
"""

from ..core import Request, encode_json
from ..core import encode_json as serialize  # the name the receiver's tests know the wire encoding by
from .cases import (
    CORRECTS,
    DUPLICATE_200,
    EVERY_TYPE,
    FIXTURE_TIME,
    GOOD_CASES,
    INVALID_LOGON,
    MALFORMATIONS,
    NOT_JSON_400,
    OK_200,
    OPTIONAL,
    OTHER_TYPES,
    POSITIONS,
    REGISTRIES,
    RESENT,
    TOKEN_CASES,
    CaseBuilder,
    SMCaseContext,
    answer_problems,
    applies,
    case_named,
    fixture_context,
    fixture_files,
    fixture_requests,
    unprocessable,
    write_fixtures,
)
from .cli import add_cli, run_cli
from .generator import DATA_BUILDERS, PRODUCTS, REF_MODULES, EventFactory, RefModule, derived_id, derived_seed
from .payload import CHANNEL, TYPES, default_path, event_request, path_for, rfc3339
from .platform import SIGNED_NOW, ServiceMobilityPlatform
from .scenarios import LINE, SCENARIOS, event_shape, run_scenario
from .tokens import TokenSigner, hs256_token, throwaway_private_key_pem, unsigned_token

__all__ = [
    "CHANNEL", "CORRECTS", "DATA_BUILDERS", "DUPLICATE_200", "EVERY_TYPE", "FIXTURE_TIME", "GOOD_CASES",
    "INVALID_LOGON", "LINE", "MALFORMATIONS", "NOT_JSON_400", "OK_200", "OPTIONAL", "OTHER_TYPES", "POSITIONS",
    "PRODUCTS", "REF_MODULES", "REGISTRIES", "RESENT", "SCENARIOS", "SIGNED_NOW", "TOKEN_CASES", "TYPES",
    "CaseBuilder", "EventFactory", "RefModule", "Request", "SMCaseContext", "ServiceMobilityPlatform",
    "TokenSigner", "add_cli", "answer_problems", "applies", "case_named", "default_path", "derived_id",
    "derived_seed", "encode_json", "event_request", "event_shape", "fixture_context", "fixture_files",
    "fixture_requests", "hs256_token", "path_for", "rfc3339", "run_cli", "run_scenario", "serialize",
    "throwaway_private_key_pem", "unprocessable", "unsigned_token", "write_fixtures",
]

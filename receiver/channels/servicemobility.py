"""The ServiceMobility webhooks channel (servicemobility-inventory-usage.txt, decisions.md sm-*).

The field-service platform POSTs one CloudEvents-shaped envelope per call, as plain
``application/json``, to ``<base>/InventoryUsage/`` — and each of eight sibling types to its own path —
with the JWT of the API call that triggered it in ``x-access-token``. This module is the whole channel:
its ``[servicemobility]`` section, the paths, the token check, the envelope and Inventory Usage
validation, its tables (events by (``source``, ``id``), usage flattened to one row per item), the
de-duplicated store, the endpoints and the read routes. It needs only ``errors``, ``storage`` and ``web``.

PyJWT and cryptography are imported only where a token is evaluated: a receiver that does not
evaluate tokens (or does not run this channel) never loads them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, abort, jsonify, request
from marshmallow import INCLUDE, Schema, ValidationError, fields, validates
from marshmallow.validate import Equal, Length, OneOf

from .. import storage
from ..errors import ConfigError, InvalidPayload, ReceiverError, Unauthenticated, shown
from ..web import (
    UTC_YEARS,
    Contract,
    Operation,
    Payload,
    Receipt,
    Receive,
    add_push_endpoint,
    date_pattern,
    int_arg,
    limit_parameter,
    parse_json,
    path_parameter,
    query_parameter,
    receipt_schema,
    utc_iso,
)

log = logging.getLogger(__name__)

NAME = "servicemobility"
MiB = 1024 * 1024
TOKEN_HEADER = "x-access-token"  # noqa: S105 (a header name)

# The document's valid ``type`` values, in its order, and the path each posts to under <base>.
# InventoryUsage/ is the document's; Activities/ is known from the platform; the others post to
# their type name (decisions.md sm-*). ``[servicemobility] paths`` overrides any of them.
TYPES: dict[str, str] = {
    "Activity": "Activities",
    "PhysicalInventoryRequest": "PhysicalInventoryRequest",
    "LoadInventory": "LoadInventory",
    "InventoryTransfer": "InventoryTransfer",
    "InventoryUsage": "InventoryUsage",
    "StockLevelRecommendation": "StockLevelRecommendation",
    "TimeEntry": "TimeEntry",
    "UserAudit": "UserAudit",
    "WorkOrder": "WorkOrder",
}

# What each RefModule code means (decisions.md sm-*). Other codes are kept and reported as warnings.
REF_MODULES = {
    "1001": "load", "1002": "work order", "1003": "transfer", "1004": "full count", "1005": "partial count",
    "1006": "disposition", "1007": "automatic adjustment", "1008": "manual adjustment",
}


# Token mode → the algorithms it may pin. Never "none", never an HMAC algorithm with a public key
# (the key-confusion attack), never what the token's own header says.
JWT_ALGORITHMS: dict[str, tuple[str, ...]] = {
    "off": (),
    "hs256": ("HS256", "HS384", "HS512"),
    "public-key": ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"),
    "jwks": ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"),
}


@dataclass(frozen=True)
class Config:
    """``[servicemobility]``: the field-service platform's webhooks, InventoryUsage/ and its eight sibling types."""

    SECRETS: ClassVar[tuple[str, ...]] = ("secret", "jwks_url")  # the URL may carry credentials

    enabled: bool = False
    base: str = "/servicemobility"  # the "REST Endpoint URI" path registered with the platform
    # Event type → its path under base; the others post to their type name, Activity to Activities.
    paths: dict[str, str] = field(default_factory=dict)
    # x-access-token: "off" (trust the platform, which authenticated it already), "hs256" (secret),
    # "public-key" (RS*/ES* with public_key) or "jwks" (keys from jwks_url).
    jwt: str = "off"
    secret: str = ""  # hs256; prefer RECEIVER_SERVICEMOBILITY_SECRET
    public_key: str = ""  # public-key: the PEM itself, or the path of a PEM file
    jwks_url: str = ""
    jwks_cache_seconds: int = 300
    algorithms: list[str] = field(default_factory=list)  # empty: HS256, the key's own, RS256 for jwks
    audience: str = ""  # required aud when set; a token with an aud is refused when empty
    issuer: str = ""  # required iss when set
    # Tolerance on exp, iat and nbf: tokens are accepted until exp + leeway. The platform sends the
    # token of the API call that triggered the webhook, on a 15-minute schedule: 15 min + 5 for clocks.
    leeway_seconds: int = 1200
    # A usage row is ~700 bytes of compact JSON (~2.1 KB pretty-printed): 16 MiB holds ~24,000 (~7,800).
    max_body_bytes: int = 16 * MiB

    def validate(self) -> None:
        if not self.enabled:
            return
        if self.base and not self.base.startswith("/"):
            raise ConfigError("[servicemobility] base must start with '/' (or be empty)")
        unknown = set(self.paths) - set(TYPES)
        if unknown:
            raise ConfigError(f"[servicemobility] paths has unknown type(s) {sorted(unknown)}; types: {list(TYPES)}")
        effective = [self.paths.get(name, default).strip("/") for name, default in TYPES.items()]
        if "" in effective or len(set(effective)) != len(effective):
            raise ConfigError("[servicemobility] paths must give each type a non-empty path of its own")
        if self.jwt not in JWT_ALGORITHMS:
            raise ConfigError(f"[servicemobility] jwt must be one of {list(JWT_ALGORITHMS)}, not {self.jwt!r}")
        needs = {"hs256": ("secret", self.secret), "public-key": ("public_key", self.public_key),
                 "jwks": ("jwks_url", self.jwks_url)}.get(self.jwt)
        if needs and not needs[1]:
            raise ConfigError(f"[servicemobility] jwt = {self.jwt!r} needs {needs[0]}")
        if self.jwt == "jwks" and not self.jwks_url.startswith(("https://", "http://")):
            raise ConfigError("[servicemobility] jwks_url must be an http(s) URL")
        wrong = [name for name in self.algorithms if name not in JWT_ALGORITHMS[self.jwt]]
        if wrong:
            raise ConfigError(f"[servicemobility] algorithms {wrong} cannot be used with jwt = {self.jwt!r}; "
                              f"allowed: {list(JWT_ALGORITHMS[self.jwt])}")
        if self.leeway_seconds < 0 or self.jwks_cache_seconds < 1:
            raise ConfigError("[servicemobility] leeway_seconds must be at least 0 and jwks_cache_seconds at least 1")
        if self.max_body_bytes < 1024:
            raise ConfigError("[servicemobility] max_body_bytes must be at least 1024")


def paths(config: Config) -> dict[str, str]:
    """Event type → the URL path it is posted to (without the trailing slash; both forms are served)."""
    base = config.base.rstrip("/")
    return {event_type: f"{base}/{config.paths.get(event_type, default).strip('/')}"
            for event_type, default in TYPES.items()}


# --- the token ------------------------------------------------------------------------------------


class InvalidLogon(Unauthenticated):
    """401 in the document's words. Why the token was refused goes to the problems and the delivery
    log; the token itself goes nowhere."""

    def __init__(self, why: str, token_refusal: str) -> None:
        super().__init__("Invalid Logon", problems=[{"path": ["headers", TOKEN_HEADER], "message": why}])
        self.reason = f"invalid token ({why})"
        self.token_refusal = token_refusal  # one word for the kind of refusal (counted by receiver/metrics.py)


# PyJWT's exceptions (the first of an exception's classes found here) → InvalidLogon.token_refusal.
TOKEN_REFUSALS = {"ExpiredSignatureError": "expired", "ImmatureSignatureError": "not_yet_valid",
                  "InvalidSignatureError": "signature", "InvalidAudienceError": "audience",
                  "InvalidIssuerError": "issuer", "MissingRequiredClaimError": "missing_claim",
                  "InvalidAlgorithmError": "algorithm", "InvalidKeyError": "key", "PyJWKClientError": "key",
                  "DecodeError": "malformed"}


def token_refusal(exc: Exception) -> str:
    """The kind of a PyJWT refusal, from :data:`TOKEN_REFUSALS`; "invalid" for any other."""
    return next((TOKEN_REFUSALS[c.__name__] for c in type(exc).__mro__ if c.__name__ in TOKEN_REFUSALS), "invalid")


class TokenKeysUnavailable(ReceiverError):
    """The JWKS could not be fetched: the token cannot be judged, so the platform should retry (500)."""

    reason = "token keys unavailable"


KeyFor = Callable[[str], Any]  # token → the key that verifies it
TIME_CLAIMS = ("exp", "nbf", "iat")


@dataclass(frozen=True)
class TokenCheck:
    """How ``x-access-token`` is evaluated: where the key comes from, and everything else pinned by
    the configuration. ``key_for`` is None when tokens are not evaluated (``jwt = "off"``)."""

    key_for: KeyFor | None
    algorithms: list[str]
    audience: str | None
    issuer: str | None
    # Seconds of tolerance on every time claim: a token is accepted until exp + leeway, and an iat or
    # nbf up to leeway in the future. The platform sends the token of the API call that triggered the
    # webhook, and webhooks run every 15 minutes, so a token can have expired that long ago.
    leeway: int

    def verify(self, token: str | None) -> dict[str, Any] | None:
        """The token's claims, or InvalidLogon; None when tokens are not evaluated."""
        if self.key_for is None:
            return None
        if not token:
            raise InvalidLogon(f"no {TOKEN_HEADER} header", "missing")
        import jwt

        try:
            claims: dict[str, Any] = jwt.decode(
                token, self.key_for(token), algorithms=self.algorithms, audience=self.audience,
                issuer=self.issuer, leeway=self.leeway,
                options={"require": ["exp"], "enforce_minimum_key_length": True},
            )
        except jwt.PyJWKClientConnectionError as exc:
            # The sender sees only that the keys are unavailable; the log names the host, never the
            # URL (it may carry credentials).
            log.warning("JWKS unavailable: %s", exc)
            raise TokenKeysUnavailable("the signing keys (JWKS) could not be fetched to check the token") from None
        except jwt.PyJWTError as exc:
            raise InvalidLogon(f"{type(exc).__name__}: {exc}", token_refusal(exc)) from None
        # RFC 7519 §2: a NumericDate is a JSON number; PyJWT also takes a numeric string ("1700000000").
        wrong = [name for name in TIME_CLAIMS if name in claims and type(claims[name]) not in (int, float)]
        if wrong:
            raise InvalidLogon(f"the {', '.join(wrong)} claim must be a JSON number (RFC 7519 NumericDate)",
                               "claim_type")
        return claims


def _config_error(message: str) -> ConfigError:
    return ConfigError(f"[servicemobility] {message}")


def _pinned(config: Config, *, fits: Any = None, default: list[str]) -> list[str]:
    """The configured algorithms (or the default), each checked against the key when there is one."""
    import jwt

    algorithms = list(config.algorithms) or default
    for name in algorithms if fits is not None else ():
        algorithm = jwt.get_algorithm_by_name(name)
        try:
            prepared = algorithm.prepare_key(fits)
        except (TypeError, jwt.InvalidKeyError):
            raise _config_error(f"algorithm {name} does not fit the configured key") from None
        if too_short := algorithm.check_key_length(prepared):
            raise _config_error(f"the key is too weak for {name}: {too_short} Give a longer one.")
    return algorithms


def _off(config: Config) -> tuple[KeyFor | None, list[str]]:
    return None, []


def _shared_secret(config: Config) -> tuple[KeyFor | None, list[str]]:
    secret = config.secret.encode("utf-8")
    return (lambda _token: secret), _pinned(config, fits=secret, default=["HS256"])


def _public_key(config: Config) -> tuple[KeyFor | None, list[str]]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    text = config.public_key
    try:
        pem = text if text.lstrip().startswith("-----BEGIN") else Path(text).read_text(encoding="ascii")
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (OSError, ValueError) as exc:
        raise _config_error(f"public_key is neither a PEM public key nor a readable PEM file: {exc}") from None
    if isinstance(key, rsa.RSAPublicKey):
        default = ["RS256"]
    elif isinstance(key, ec.EllipticCurvePublicKey):
        default = [{256: "ES256", 384: "ES384", 521: "ES512"}.get(key.curve.key_size, "ES256")]
    else:
        raise _config_error("public_key must be an RSA or EC public key")
    return (lambda _token: key), _pinned(config, fits=key, default=default)


def _jwks(config: Config) -> tuple[KeyFor | None, list[str]]:
    import jwt
    import requests

    class JWKSClient(jwt.PyJWKClient):
        """PyJWT's JWKS client (it caches the key set for ``lifespan`` seconds), fetching through
        ``requests`` like the rest of the project: its CA bundle and proxy settings apply."""

        def fetch_data(self) -> Any:
            try:
                response = requests.get(self.uri, headers=self.headers, timeout=self.timeout, allow_redirects=False)
                response.raise_for_status()
                return response.json()
            except (requests.RequestException, ValueError) as exc:
                host = urlsplit(self.uri).hostname
                raise jwt.PyJWKClientConnectionError(f"JWKS host {host}: {type(exc).__name__}") from exc

    client = JWKSClient(config.jwks_url, lifespan=config.jwks_cache_seconds, timeout=10)
    return client.get_signing_key_from_jwt, _pinned(config, default=["RS256"])


KEY_SOURCES: dict[str, Callable[[Config], tuple[KeyFor | None, list[str]]]] = {
    "off": _off,
    "hs256": _shared_secret,
    "public-key": _public_key,
    "jwks": _jwks,
}


def token_check(config: Config) -> TokenCheck:
    """The token check the configuration asks for; ConfigError when its key cannot be used."""
    key_for, algorithms = KEY_SOURCES[config.jwt](config)
    return TokenCheck(key_for, algorithms, config.audience or None, config.issuer or None, config.leeway_seconds)


# --- the envelope ---------------------------------------------------------------------------------

# DATE_TIME_RE as JSON Schema can say it, with the calendar and the years a moment in UTC can have
DATE_TIME_PATTERN = date_pattern(years=UTC_YEARS) + r"[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
UTC_YEAR_RANGE = range(2, 9999)
DATE_TIME_RE = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2}(?:\.\d+)?)([Zz]|[+-]\d{2}:\d{2})?")


class DateTime(fields.Field):
    """A date and time, kept as UTC text ``YYYY-MM-DDTHH:MM:SS.fffZ`` (milliseconds, the platform's
    precision; the fixed width sorts as time). ``offset_required``: RFC 3339's rule; without it a time
    with no offset is read as UTC (``ModifiedUTC`` says so in its name)."""

    def __init__(self, *, offset_required: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.offset_required = offset_required
        self.expected = ("an RFC 3339 date-time with its offset, e.g. 2022-07-27T23:10:12.000Z" if offset_required
                         else "an ISO 8601 date-time, e.g. 2022-07-27T23:08:14.849Z")

    def json_schema(self) -> dict[str, Any]:
        """What the published documents say of it (receiver/contracts.py); a real calendar day is beyond it."""
        offset = "([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
        return {"type": "string", "pattern": f"^{DATE_TIME_PATTERN}{offset if self.offset_required else offset + '?'}$"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        match = DATE_TIME_RE.fullmatch(value) if isinstance(value, str) else None
        if match is None or (self.offset_required and match[3] is None):
            raise ValidationError(f"Not {self.expected}: {shown(value)}.")
        if int(match[1][:4]) not in UTC_YEAR_RANGE:  # so that every offset stays within what UTC can hold
            raise ValidationError(f"Out of range: {shown(value)}; the year must be from 0002 to 9998.")
        try:
            moment = datetime.fromisoformat(f"{match[1]}T{match[2]}{(match[3] or 'Z').upper()}")
        except ValueError:
            raise ValidationError(f"Not a valid date and time: {shown(value)}.") from None
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:30:00+01:00 is before year 1 in UTC
            raise ValidationError(f"Not a valid date and time: {shown(value)}.") from None
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Text(fields.String):
    """Text the store can hold on both backends (no NUL; ``max_length`` for a key or indexed column)."""

    def __init__(self, *, max_length: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length

    def json_schema(self) -> dict[str, Any]:
        """What the published documents say of it (receiver/contracts.py)."""
        length = {} if self.max_length is None else {"maxLength": self.max_length}
        return {"type": "string", "pattern": "^[^\\u0000]*$", **length}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if problem := storage.text_problem(text, self.max_length):
            raise ValidationError(problem)
        return text


class Code(Text):
    """An identifier or code as text; a JSON integer is read as its digits (RefModule 1002 = "1002", and so is
    1002.0)."""

    def json_schema(self) -> dict[str, Any]:
        return {**super().json_schema(), "type": ["string", "integer"]}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if type(value) is float and value.is_integer():  # 1002.0 is the JSON number 1002 (and a JSON Schema integer)
            value = int(value)
        if type(value) is int:
            value = str(value)
        return super()._deserialize(value, attr, data, **kwargs)


KEY = storage.KEY_TEXT_MAX  # the fields stored in a key or an index


MAX_QUANTITY = 1e14  # what the stored NUMERIC(18, 4) columns hold


class Quantity(fields.Float):
    """A decimal, written as a JSON number (marshmallow's Float would also read the string "1.5", which the
    document's "decimals" and the published schema do not allow), within what the stored column holds, so
    that a huge value is a 422, not a failed write."""

    def json_schema(self) -> dict[str, Any]:
        return {"type": "number", "exclusiveMinimum": -MAX_QUANTITY, "exclusiveMaximum": MAX_QUANTITY}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if type(value) not in (int, float):
            raise ValidationError(f"Not a number: {shown(value)}.")
        if not -MAX_QUANTITY < value < MAX_QUANTITY:
            raise ValidationError(f"Out of range: {shown(value)}; a quantity is above -10^14 and below 10^14.")
        return super()._deserialize(value, attr, data, **kwargs)


def _quantity() -> fields.Float:
    # Decimals; not required, since a quantity the platform leaves out is no reason to lose the usage.
    return Quantity(allow_none=True, load_default=None)


class _KeepsUnknown(Schema):
    class Meta:
        unknown = INCLUDE  # fields the document does not name are kept, as sent


class DispositionReasonSchema(_KeepsUnknown):
    Desc = Text(allow_none=True, load_default=None)
    InQty = _quantity()
    InventoryQty = _quantity()
    OutQty = _quantity()
    Qty = _quantity()
    ReasonCode = Code(allow_none=True, load_default=None)


class ItemSchema(_KeepsUnknown):
    BatchNum = Code(allow_none=True, load_default=None)
    ProdNum = Code(required=True, validate=Length(min=1), max_length=KEY)
    SerialNum = Code(allow_none=True, load_default=None)
    InQty = _quantity()
    OutQty = _quantity()
    InventoryQty = _quantity()
    ReportedDamagedQty = _quantity()
    DispositionReasons = fields.List(fields.Nested(DispositionReasonSchema), allow_none=True, load_default=list)


class StorageLocationSchema(_KeepsUnknown):
    StorageLocationID = Code(required=True, validate=Length(min=1), max_length=KEY)
    Items = fields.List(fields.Nested(ItemSchema), required=True)


class InventoryUsageSchema(_KeepsUnknown):
    """The Inventory Usage object (decisions.md sm-*). What identifies the usage — which record it belongs
    to, when, and what moved where — is required; everything else is typed when present."""

    UserID = Code(allow_none=True, load_default=None)
    ModifiedUTC = DateTime(offset_required=False, required=True)
    RefModule = Code(required=True, validate=Length(min=1), max_length=KEY)
    RefObjID = Code(required=True, validate=Length(min=1), max_length=KEY)
    StorageLocations = fields.List(fields.Nested(StorageLocationSchema), required=True)


class UsageRowSchema(_KeepsUnknown):
    rowver = Text(required=True)
    InventoryUsage = fields.Nested(InventoryUsageSchema, required=True)


class UsageNotificationSchema(_KeepsUnknown):
    """The Inventory Usage Export Notification Object: ``{rowver, rows: [{rowver, InventoryUsage}]}``."""

    rowver = Text(required=True)
    rows = fields.List(fields.Nested(UsageRowSchema), required=True)


# The ``data`` a type must carry; the types not listed here are stored as received.
DATA_SCHEMAS: dict[str, Schema] = {"InventoryUsage": UsageNotificationSchema()}


class EventData(fields.Dict):
    """``data``: an object, validated as its ``type`` requires (see DATA_SCHEMAS)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        value = super()._deserialize(value, attr, data, **kwargs)
        event_type = data.get("type")  # any JSON value: the type field itself says what is wrong with it
        schema = DATA_SCHEMAS.get(event_type) if isinstance(event_type, str) else None
        return value if schema is None else schema.load(value)


class EnvelopeSchema(_KeepsUnknown):
    """The Webhook Request Object. ``path_type``: the type the request's path receives (None when
    re-applying a stored body: any of the nine)."""

    id = Text(required=True, validate=Length(min=1), max_length=255, metadata={
        "description": "ID representing this unique payload. Subsequent requests with duplicate IDs should be "
                       "disregarded. (The duplicate key is source + id, decision sm-1.)"})
    type = fields.String(required=True, validate=OneOf(TYPES), metadata={
        "description": "The object type represented by the data field."})
    specversion = fields.String(required=True, validate=Equal("1.0"), metadata={
        "description": "The CloudEvents spec version that this payload complies with."})
    source = Text(required=True, validate=Length(min=1), max_length=255, metadata={
        "description": "The ID of the webhook that generated this message."})
    subject = Text(allow_none=True, metadata={"description": "Not used."})
    # Optional (decision sm-4): CloudEvents requires only id, source, specversion and type. Validated when
    # present; a real event is never dropped for a missing optional attribute.
    time = DateTime(offset_required=True, load_default=None, allow_none=True, metadata={
        "description": "Time that this webhook execution was generated (RFC 3339; optional, decision sm-4)."})
    datacontenttype = fields.String(load_default=None, allow_none=True, validate=OneOf(["application/json"]),
                                    metadata={"description": "The format of the data object."})
    action = Text(load_default=None, allow_none=True, metadata={  # "" in the document's example
        "description": "Additional information and context for this webhook call."})
    data = EventData(required=True, error_messages={"invalid": "Not an object: data is the event's object."},
                     metadata={"description": "The data payload, matching the format of the object type specified "
                                              "in type property."})

    def __init__(self, path_type: str | None = None) -> None:
        super().__init__()
        self.path_type = path_type

    @validates("type")
    def type_of_this_path(self, value: str, **_: Any) -> None:
        if self.path_type is not None and value != self.path_type:
            raise ValidationError(f"This path receives {self.path_type} events, not {value}: each type is "
                                  f"posted to its own path.")


ENVELOPES: dict[str | None, EnvelopeSchema] = {path_type: EnvelopeSchema(path_type) for path_type in (*TYPES, None)}


@dataclass
class Event:
    """A validated envelope: the document as received, and its validated values."""

    document: dict[str, Any]
    loaded: dict[str, Any]
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        rows = self.loaded["data"].get("rows")
        return len(rows) if isinstance(rows, list) else 0

    def usage_rows(self) -> list[tuple[Any, ...]]:
        """InventoryUsage flattened, in ``USAGE_COLUMNS`` order: one row per item per
        storage location per usage row, in the event's own order."""
        if self.loaded["type"] != "InventoryUsage":
            return []
        source, event_id = self.loaded["source"], self.loaded["id"]
        flat = []
        for r, row in enumerate(self.loaded["data"]["rows"]):
            usage = row["InventoryUsage"]
            for s, location in enumerate(usage["StorageLocations"]):
                for i, item in enumerate(location["Items"]):
                    flat.append((
                        source, event_id, r, s, i, row["rowver"], usage["UserID"], usage["ModifiedUTC"],
                        usage["RefModule"], usage["RefObjID"], location["StorageLocationID"], item["ProdNum"],
                        item["SerialNum"], item["BatchNum"], item["InQty"], item["OutQty"], item["InventoryQty"],
                        item["ReportedDamagedQty"], json.dumps(item["DispositionReasons"] or [], ensure_ascii=False),
                    ))
        return flat


# --- the tables -------------------------------------------------------------------------------------

# UTC date-times: the validated text ``YYYY-MM-DDTHH:MM:SS.fffZ`` on SQLite (sorts as time), a real
# timestamp on PostgreSQL. Quantities: decimals.
UtcTime = sa.String(24).with_variant(sa.DateTime(timezone=True), "postgresql")

# Every event received, once per (source, id) — the duplicate key — with its envelope as received.
event_table = sa.Table(
    "servicemobility_events",
    storage.metadata,
    sa.Column("source", sa.String(255), primary_key=True),
    sa.Column("id", sa.String(255), primary_key=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("time", UtcTime),  # optional in the envelope (decision sm-4)
    sa.Column("envelope", sa.JSON, nullable=False),
    sa.Column("body_sha256", sa.String(64), nullable=False),  # tells a re-sent id with another body
    sa.Column("delivery_id", storage.Id, nullable=False),  # the delivery that stored it
    sa.Column("delivery_count", sa.Integer, nullable=False),  # 1 + the duplicates disregarded since
    sa.Index("ix_servicemobility_events_delivery", "delivery_id"),
    sa.Index("ix_servicemobility_events_type", "type", "delivery_id"),
)

# InventoryUsage flattened: one row per item per storage location per usage row of an event.
usage_table = sa.Table(
    "servicemobility_usage",
    storage.metadata,
    sa.Column("source", sa.String(255), primary_key=True),
    sa.Column("event_id", sa.String(255), primary_key=True),
    sa.Column("row_index", sa.Integer, primary_key=True),
    sa.Column("location_index", sa.Integer, primary_key=True),
    sa.Column("item_index", sa.Integer, primary_key=True),
    sa.Column("delivery_id", storage.Id, nullable=False),
    sa.Column("rowver", sa.Text, nullable=False),
    sa.Column("user_id", sa.Text),
    sa.Column("modified_utc", UtcTime, nullable=False),
    sa.Column("ref_module", sa.Text, nullable=False),
    sa.Column("ref_obj_id", sa.Text, nullable=False),
    sa.Column("storage_location_id", sa.Text, nullable=False),
    sa.Column("prod_num", sa.Text, nullable=False),
    sa.Column("serial_num", sa.Text),
    sa.Column("batch_num", sa.Text),
    sa.Column("in_qty", storage.Decimal),
    sa.Column("out_qty", storage.Decimal),
    sa.Column("inventory_qty", storage.Decimal),
    sa.Column("reported_damaged_qty", storage.Decimal),
    sa.Column("disposition_reasons", sa.JSON),
    sa.Index("ix_servicemobility_usage_product", "prod_num", "storage_location_id"),
    sa.Index("ix_servicemobility_usage_object", "ref_module", "ref_obj_id", "modified_utc"),
)

# The order of the tuples written: the tables' own (usage rows get their delivery id last).
# The columns of the rows apply() writes, the delivery's id aside.
EVENT_COLUMNS = tuple(column.name for column in event_table.columns if column.name != "delivery_id")
USAGE_COLUMNS = tuple(column.name for column in usage_table.columns if column.name != "delivery_id")


def validate(document: Any, path_type: str | None = None) -> Event:
    """Check a parsed body against the document; every problem is reported with its path."""
    try:
        loaded = ENVELOPES[path_type].load(document)
    except ValidationError as exc:
        raise InvalidPayload.from_messages(exc.messages, "the event", nothing="stored") from None
    return Event(document, loaded, _warnings(loaded))


def _warnings(loaded: dict[str, Any]) -> list[dict[str, Any]]:
    """RefModule codes outside the document's list, by value (kept as sent)."""
    if loaded["type"] != "InventoryUsage":
        return []
    rows_by_code: dict[str, list[int]] = {}
    for r, row in enumerate(loaded["data"]["rows"]):
        code = row["InventoryUsage"]["RefModule"]
        if code not in REF_MODULES:
            rows_by_code.setdefault(code, []).append(r)
    return [{"field": "RefModule", "value": code, "rows": rows,
             "message": "not one of the RefModule codes 1001-1008 (kept as sent)"}
            for code, rows in rows_by_code.items()]


# --- storing an event -----------------------------------------------------------------------------


def apply(store: storage.Store, event: Event, body: bytes, *, content_type: str | None = None,
          remote_addr: str | None = None, reason: str | None = None, headers: list[list[str]] | None = None) -> Receipt:
    """Store one event in one transaction. An event whose (source, id) is already stored is a
    duplicate: disregarded (the document's word), counted, answered 200. The unique key decides, so
    concurrent copies of one event on any number of receivers store it once. ``body`` is what ``event``
    was validated from: its text is the envelope stored."""
    body_sha256 = storage.sha256(body)
    # The envelope as received: the body's own text (valid JSON, checked by parse_json), not a copy of it.
    envelope = body.decode("utf-8-sig")
    usage_rows = event.usage_rows()
    counts = {"received": event.rows, "usage": len(usage_rows)}
    loaded = event.loaded
    stored_event = storage.Rows(event_table, EVENT_COLUMNS, [(
        loaded["source"], loaded["id"], loaded["type"], loaded["time"], envelope, body_sha256, 1)])
    with store.write() as conn:
        delivery, new = storage.record_delivery_inserting(conn, {
            "channel": NAME, "outcome": "accepted", "status": 200, "reason": reason, "counts": counts, "body": body,
            "body_sha256": body_sha256, "content_type": content_type, "remote_addr": remote_addr,
            "warnings": event.warnings, "headers": headers,
        }, stored_event, storage.Rows(usage_table, USAGE_COLUMNS, usage_rows))
        if not new:
            return _duplicate(conn, event, delivery, body_sha256)
    return Receipt("accepted", delivery, counts, event.warnings)


def _duplicate(conn: sa.Connection, event: Event, delivery: int, body_sha256: str) -> Receipt:
    events = event_table
    first = conn.execute(
        events.update()
        .where(events.c.source == event.loaded["source"], events.c.id == event.loaded["id"])
        .values(delivery_count=events.c.delivery_count + 1)
        .returning(events.c.delivery_id, events.c.body_sha256)
    ).one()
    differs = "" if first.body_sha256 == body_sha256 else " (its body differs from the stored event's)"
    counts = {"received": event.rows, "usage": 0}
    storage.update_delivery(conn, delivery, outcome="duplicate", counts=counts,
                            reason=f"same source and id as delivery {first.delivery_id}{differs}: disregarded")
    return Receipt("duplicate", delivery, counts, event.warnings, original_delivery=first.delivery_id)


def receive(store: storage.Store, config: Config, body: bytes, *, path_type: str | None = None,
            content_type: str | None = None, remote_addr: str | None = None, reason: str | None = None,
            headers: list[list[str]] | None = None) -> Receipt:
    """Parse, validate and store one body: the transport-free core of the channel (the endpoints', and
    ``inventory-receiver reapply``'s).

    ``path_type`` is the type the request's path receives. A re-applied body has none (the envelope's
    own ``type`` decides), and its token is not checked again: it was never stored (a credential has no
    place in the log), it would have expired by now, and only bodies whose token passed are kept at all."""
    event = validate(parse_json(body), path_type)
    return apply(store, event, body, content_type=content_type, remote_addr=remote_addr, reason=reason,
                 headers=headers)


# --- HTTP -------------------------------------------------------------------------------------------


def register(app: Flask, api: Blueprint, config: Config, store: storage.Store) -> None:
    """Add one endpoint per event type (with and without the trailing slash) and the read routes."""
    if not config.enabled:
        return
    check = token_check(config)
    if check.key_for is None:
        log.warning("servicemobility: %s is NOT evaluated ([servicemobility] jwt = \"off\"): the platform "
                    "authenticated it already, but anyone who can reach these paths can post events; set jwt "
                    "to hs256, public-key or jwks, or restrict who reaches the receiver", TOKEN_HEADER)
    else:
        log.info("servicemobility: %s evaluated (%s, algorithms %s, leeway %s s)", TOKEN_HEADER, config.jwt,
                 ", ".join(check.algorithms), check.leeway)

    def receiver_of(event_type: str) -> Receive:
        return lambda body, **request: receive(store, config, body, path_type=event_type, **request)

    for event_type, path in paths(config).items():
        add_push_endpoint(  # the document's path ends with "/": both forms answered, never redirected
            app, [path, f"{path}/"], f"servicemobility_{event_type}", channel=NAME, store=store,
            max_body_bytes=config.max_body_bytes,
            authenticate=lambda: check.verify(request.headers.get(TOKEN_HEADER)), receive=receiver_of(event_type))

    _read_api(api, store)


# --- the read API ---------------------------------------------------------------------------------


def _read_api(api: Blueprint, store: storage.Store) -> None:
    events, usage, deliveries = event_table, usage_table, storage.deliveries
    stored_events = (sa.select(events, deliveries.c.received_at)
                     .join(deliveries, deliveries.c.id == events.c.delivery_id))

    @api.get("/servicemobility/events")
    def list_events() -> Response:
        limit = int_arg("limit", 100, 1, 1000)
        query = stored_events.order_by(events.c.delivery_id.desc()).limit(limit)
        for name in ("type", "source"):
            if value := request.args.get(name):
                query = query.where(events.c[name] == value)
        before = int_arg("before", None, 1, 2**63 - 1)  # an empty value is not a number either: 400
        if before is not None:
            query = query.where(events.c.delivery_id < before)
        with store.read() as conn:
            items = [event_json(row) for row in conn.execute(query)]
        next_before = items[-1]["deliveryId"] if len(items) == limit else None
        return jsonify({"items": items, "next_before": next_before})

    # The state probe: an event by its duplicate key. ``id`` is the last segment; ``source`` the rest (it
    # may hold slashes, though not a leading one: the platform's is the webhook's id, a UUID).
    @api.get("/servicemobility/events/<path:source>/<event_id>")
    def get_event(source: str, event_id: str) -> tuple[Response, int]:
        with store.read() as conn:
            row = conn.execute(stored_events.where(events.c.source == source, events.c.id == event_id)).first()
        if row is None:
            abort(404, description=f"no event {event_id!r} from source {source!r} received")
        return jsonify(event_json(row)), 200

    @api.get("/servicemobility/usage")
    def list_usage() -> Response:
        query = (sa.select(usage, current(usage).label("current"))
                 .order_by(usage.c.delivery_id.desc(), usage.c.row_index, usage.c.location_index, usage.c.item_index)
                 .limit(int_arg("limit", 100, 1, 1000)))
        for name in ("prod_num", "ref_module", "ref_obj_id", "storage_location_id"):
            if value := request.args.get(name):
                query = query.where(usage.c[name] == value)
        with store.read() as conn:
            items = [usage_json(row) for row in conn.execute(query)]
        return jsonify({"items": items})

    @api.get("/servicemobility/usage/summary")
    def usage_summary() -> Response:
        prod_num = request.args.get("prod_num")
        with store.read() as conn:
            return jsonify({"items": summarize(conn, prod_num)})


def _newer(a: sa.FromClause, b: sa.FromClause) -> sa.ColumnElement[bool]:
    """Row a was reported after row b: by ModifiedUTC, then rowver, then arrival and row order."""
    def order(t: sa.FromClause) -> Any:
        return sa.tuple_(t.c.modified_utc, t.c.rowver, t.c.delivery_id, t.c.row_index)
    return order(a) > order(b)


def current(usage: sa.Table) -> sa.ColumnElement[bool]:
    """Whether a usage row belongs to the latest version of its Inventory Usage object.

    The document gives the object no id of its own; this receiver takes (RefModule, RefObjID) — the
    record it belongs to — as its identity, so a later row for the same pair is an update of it
    (decisions.md sm-*: "rows may hold several updates to one object, in order") and replaces it in sums."""
    later = usage.alias("later")
    return ~sa.exists().where(later.c.ref_module == usage.c.ref_module, later.c.ref_obj_id == usage.c.ref_obj_id,
                              _newer(later, usage))


def summarize(conn: sa.Connection, prod_num: str | None = None) -> list[dict[str, Any]]:
    """Per product: In/Out/ReportedDamaged summed over the latest version of each usage object, and
    InventoryQty on hand — the latest one reported per storage location (and serial and batch), summed."""
    usage = usage_table
    sums = (sa.select(usage.c.prod_num, sa.func.sum(usage.c.in_qty), sa.func.sum(usage.c.out_qty),
                      sa.func.sum(usage.c.reported_damaged_qty), sa.func.count())
            .where(current(usage)).group_by(usage.c.prod_num).order_by(usage.c.prod_num))
    later = usage.alias("later")
    latest_on_hand = ~sa.exists().where(
        later.c.prod_num == usage.c.prod_num, later.c.storage_location_id == usage.c.storage_location_id,
        later.c.serial_num.is_not_distinct_from(usage.c.serial_num),
        later.c.batch_num.is_not_distinct_from(usage.c.batch_num), _newer(later, usage))
    on_hand = (sa.select(usage.c.prod_num, sa.func.sum(usage.c.inventory_qty))
               .where(latest_on_hand).group_by(usage.c.prod_num))
    if prod_num:
        sums, on_hand = sums.where(usage.c.prod_num == prod_num), on_hand.where(usage.c.prod_num == prod_num)
    inventory = {prod: quantity for prod, quantity in conn.execute(on_hand)}
    return [{"ProdNum": prod, "InQty": _sum(in_qty), "OutQty": _sum(out_qty), "ReportedDamagedQty": _sum(damaged),
             "InventoryQty": _sum(inventory.get(prod)), "usageRows": count}
            for prod, in_qty, out_qty, damaged, count in conn.execute(sums)]


def _sum(total: float | None) -> float | None:
    # Quantities are stored to 4 decimals; SQLite's float sums are rounded to the same.
    return None if total is None else round(total, 4)


def event_json(row: sa.Row[Any]) -> dict[str, Any]:
    """A stored event: the envelope as received, plus when it first arrived and how often."""
    mapping = row._mapping
    return {**mapping["envelope"], "deliveryId": mapping["delivery_id"],
            "deliveryCount": mapping["delivery_count"], "receivedAt": utc_iso(mapping["received_at"])}


def usage_json(row: sa.Row[Any]) -> dict[str, Any]:
    """A flattened usage row in the document's field names."""
    m = row._mapping
    return {"source": m["source"], "eventId": m["event_id"], "rowIndex": m["row_index"],
            "locationIndex": m["location_index"], "itemIndex": m["item_index"], "rowver": m["rowver"],
            "UserID": m["user_id"], "ModifiedUTC": utc_iso(m["modified_utc"]), "RefModule": m["ref_module"],
            "RefObjID": m["ref_obj_id"], "StorageLocationID": m["storage_location_id"], "ProdNum": m["prod_num"],
            "SerialNum": m["serial_num"], "BatchNum": m["batch_num"], "InQty": m["in_qty"],
            "OutQty": m["out_qty"], "InventoryQty": m["inventory_qty"],
            "ReportedDamagedQty": m["reported_damaged_qty"], "DispositionReasons": m["disposition_reasons"],
            "deliveryId": m["delivery_id"], "current": bool(m["current"])}


# --- what the channel publishes (receiver/contracts.py builds the documents) ----------------------------

_ENVELOPE_BEYOND = (
    "an event whose source and id were received before is a duplicate: answered 200, nothing changed (sm-1)",
    "the type matches the path the event is posted to (sm-6)",
)


def _event_payload(event_type: str) -> Payload:
    data = {"$ref": "#/components/schemas/ServicemobilityInventoryUsageData"} if event_type in DATA_SCHEMAS else {
        "type": "object", "description": "The object of this type, stored as received."}
    return Payload(
        {"allOf": [{"$ref": "#/components/schemas/ServicemobilityEnvelope"}],
         "properties": {"type": {"const": event_type}, "data": data}},
        f"ServiceMobility {event_type} event",
        f"The Webhook Request Object ServiceMobility posts for {event_type} (a CloudEvents 1.0 envelope in "
        "structured form, sent as plain application/json). Only id, source, specversion, type and data are "
        "required (decision sm-4).",
        examples=("document-envelope",) if event_type == "InventoryUsage" else (f"type-{event_type}",),
        beyond=_ENVELOPE_BEYOND)


PAYLOADS: dict[str, Payload] = {
    "servicemobility-envelope": Payload(
        EnvelopeSchema, "ServiceMobility webhook request",
        "The Webhook Request Object, whatever its type: the envelope of every ServiceMobility webhook "
        "(servicemobility-inventory-usage.txt).", examples=("document-envelope",), beyond=_ENVELOPE_BEYOND),
    "servicemobility-inventory-usage-data": Payload(
        UsageNotificationSchema, "Inventory Usage Export Notification Object",
        "The data of an InventoryUsage event: rows of Inventory Usage objects, each with its rowver; rows may hold "
        "several updates to one object, in order.", examples=("document-envelope#/data",),
        beyond=("RefModule codes outside 1001-1008 are kept and reported as warnings, not refused",)),
    **{f"servicemobility-{event_type}-event": _event_payload(event_type) for event_type in TYPES},
}

ROWS = {"type": "object", "required": ["received", "usage"],
        "properties": {"received": {"type": "integer", "description": "rows of data"},
                       "usage": {"type": "integer", "description": "usage rows stored (item × location × row)"}}}
EVENT = {
    "type": "object",
    "description": "The envelope exactly as first received, then deliveryId (the delivery that stored it), "
                   "deliveryCount (1 + the duplicates disregarded since) and receivedAt.",
    "required": ["id", "type", "source", "deliveryId", "deliveryCount", "receivedAt"],
    "properties": {"id": {"type": "string"}, "type": {"enum": list(TYPES)}, "source": {"type": "string"},
                   "deliveryId": {"type": "integer"}, "deliveryCount": {"type": "integer", "minimum": 1},
                   "receivedAt": {"type": "string", "format": "date-time"}},
}
_EVENT_EXAMPLE = {"id": "f0facfbb-e945-4b90-977d-1671bc0c60ab", "type": "InventoryUsage", "specversion": "1.0",
                  "source": "5ad09380-8258-4d84-a440-e2d35043ae92", "subject": None,
                  "time": "2022-07-27T23:10:12.000Z", "datacontenttype": "application/json", "action": "",
                  "data": {"rowver": "0x00000000074CF639", "rows": []}, "deliveryId": 12, "deliveryCount": 2,
                  "receivedAt": "2026-01-01T10:00:00.123Z"}
_NUMBER = {"type": ["number", "null"]}
_TEXT = {"type": ["string", "null"]}
USAGE_ROW = {
    "type": "object",
    "required": ["source", "eventId", "rowIndex", "locationIndex", "itemIndex", "rowver", "UserID", "ModifiedUTC",
                 "RefModule", "RefObjID", "StorageLocationID", "ProdNum", "SerialNum", "BatchNum", "InQty", "OutQty",
                 "InventoryQty", "ReportedDamagedQty", "DispositionReasons", "deliveryId", "current"],
    "properties": {
        "source": {"type": "string"}, "eventId": {"type": "string"}, "rowIndex": {"type": "integer"},
        "locationIndex": {"type": "integer"}, "itemIndex": {"type": "integer"}, "rowver": {"type": "string"},
        "UserID": _TEXT, "ModifiedUTC": {"type": "string"}, "RefModule": {"type": "string"},
        "RefObjID": {"type": "string"}, "StorageLocationID": {"type": "string"}, "ProdNum": {"type": "string"},
        "SerialNum": _TEXT, "BatchNum": _TEXT, "InQty": _NUMBER, "OutQty": _NUMBER, "InventoryQty": _NUMBER,
        "ReportedDamagedQty": _NUMBER, "DispositionReasons": {"type": ["array", "null"]},
        "deliveryId": {"type": "integer"},
        "current": {"type": "boolean", "description": "false once a later row for the same RefModule + RefObjID "
                    "updated that usage object"}},
}
SUMMARY = {
    "type": "object", "required": ["ProdNum", "InQty", "OutQty", "ReportedDamagedQty", "InventoryQty", "usageRows"],
    "properties": {"ProdNum": {"type": "string"}, "InQty": _NUMBER, "OutQty": _NUMBER, "ReportedDamagedQty": _NUMBER,
                   "InventoryQty": _NUMBER, "usageRows": {"type": "integer"}},
}


def contract(config: Config | None) -> Contract:
    """The nine webhooks and the ServiceMobility read routes. ``config`` None: the published document
    (default paths; the token documented as evaluated, which the receiver does when configured to)."""
    evaluated = config is None or config.jwt != "off"
    schemes = {"servicemobility-token": {
        "type": "apiKey", "in": "header", "name": TOKEN_HEADER,
        "description": "The JWT that was used in the call to the API that triggered ServiceMobility. "
                       "\"Implementations of this interface may evaluate the JWT supplied\": the receiver does when "
                       "configured to — HS256 secret, RS256/ES256 public key or JWKS, exp required, algorithms "
                       "pinned (decisions sm-2, sm-5); a refused token is 401 Invalid Logon."}}
    operations = []
    for event_type, path in paths(config or Config()).items():
        operations.append(Operation(
            "post", f"{path}/", f"servicemobility_{event_type}", f"Receive a ServiceMobility {event_type} event",
            f"POST <REST Endpoint URI>/{path.rsplit('/', 1)[-1]}/ (the path without its trailing slash is answered "
            "too, never redirected). On success, 200 must be returned; a duplicate (same source and id) is "
            "answered 200 and changes nothing (decision sm-1); a malformed body gets a 4xx naming every problem "
            "(sm-3).",
            receipt_schema("rows", ROWS),
            {"outcome": "accepted", "delivery": 12, "rows": {"received": 4, "usage": 10}, "warnings": []},
            (400, 401, 408, 413, 415, 422, 500), body=f"servicemobility-{event_type}-event",
            security=[{"servicemobility-token": []}] if evaluated else [{}],
            links={"GetEvent": {"operationId": "get_servicemobility_event",
                                "parameters": {"source": "$request.body#/source", "id": "$request.body#/id"},
                                "description": "the event, as stored under its duplicate key"}}))
    page = limit_parameter(100, 1000)
    operations += [
        Operation("get", "/servicemobility/events", "list_servicemobility_events", "List the events held",
                  "Newest first; the next page is ?before={next_before}.",
                  {"type": "object", "required": ["items", "next_before"],
                   "properties": {"items": {"type": "array", "items": EVENT},
                                  "next_before": {"type": ["integer", "null"]}}},
                  {"items": [_EVENT_EXAMPLE], "next_before": None}, (400, 401), read=True,
                  links={"GetEvent": {"operationId": "get_servicemobility_event",
                                      "parameters": {"source": "$response.body#/items/0/source",
                                                     "id": "$response.body#/items/0/id"}}},
                  parameters=(page, query_parameter("type", {"type": "string"}, "only this type"),
                              query_parameter("source", {"type": "string"}, "only this source"),
                              query_parameter("before", {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
                                              "the next_before of the previous page"))),
        Operation("get", "/servicemobility/events/{source}/{id}", "get_servicemobility_event",
                  "One event by its duplicate key (state probe)",
                  "The event stored under source + id (CloudEvents' duplicate rule); 404 when no event with that "
                  "pair was received (docs/state-probe.md). Percent-encode both segments.",
                  EVENT, _EVENT_EXAMPLE, (401, 404), read=True, probe=True,
                  parameters=(path_parameter("source", {"type": "string"}, "the event's source (it may hold "
                                             "slashes, not a leading one)"),
                              path_parameter("id", {"type": "string"}, "the event's id"))),
        Operation("get", "/servicemobility/usage", "list_servicemobility_usage", "InventoryUsage rows, flattened",
                  "One row per item per storage location per usage row, newest delivery first.",
                  {"type": "object", "required": ["items"],
                   "properties": {"items": {"type": "array", "items": USAGE_ROW}}},
                  {"items": []}, (400, 401), read=True,
                  parameters=(page, *(query_parameter(name, {"type": "string"}, f"only this {name}") for name in
                                      ("prod_num", "ref_module", "ref_obj_id", "storage_location_id")))),
        Operation("get", "/servicemobility/usage/summary", "get_servicemobility_usage_summary",
                  "Quantities per product",
                  "Per ProdNum: InQty, OutQty, ReportedDamagedQty summed over the current version of each usage "
                  "object, and InventoryQty on hand.",
                  {"type": "object", "required": ["items"], "properties": {"items": {"type": "array",
                                                                                     "items": SUMMARY}}},
                  {"items": [{"ProdNum": "CAP-45-5-440", "InQty": 2.0, "OutQty": 2.0, "ReportedDamagedQty": 0.0,
                              "InventoryQty": 21.0, "usageRows": 2}]}, (400, 401), read=True,
                  parameters=(query_parameter("prod_num", {"type": "string"}, "only this product"),)),
    ]
    return Contract("ServiceMobility webhooks", "ServiceMobility's webhooks: InventoryUsage and its eight sibling "
                    "types (servicemobility-inventory-usage.txt).", operations, schemes, PAYLOADS)

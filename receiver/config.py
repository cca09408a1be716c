"""Configuration: one TOML file plus environment overrides for secrets, read once at start-up.

Every key lives in a section (``[server]``, ``[storage]``, ``[api]``, one per channel). Any key can be
overridden from the environment as ``RECEIVER_<SECTION>_<KEY>`` (upper case), e.g.
``RECEIVER_STORAGE_URL`` or ``RECEIVER_API_TOKEN``. Tables (``credential_headers``) are given there as a
JSON object. Nothing else in the receiver reads the environment.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

MiB = 1024 * 1024
ENV_PREFIX = "RECEIVER_"


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the key and says what to change."""


@dataclass(frozen=True)
class ServerConfig:
    bind: str = "127.0.0.1:8443"
    certfile: str = ""
    keyfile: str = ""
    # The stock-push document requires SSL: plain HTTP only when asked for, with a warning.
    insecure_http: bool = False
    workers: int = 2
    threads: int = 4
    timeout: int = 120
    # POST /bench/trivial (parse the JSON body, answer 200): the benchmarks' baseline in the same
    # server stack. Off in every real deployment.
    bench_endpoint: bool = False


@dataclass(frozen=True)
class StorageConfig:
    # SQLAlchemy URL; empty means the embedded SQLite file <data_dir>/receiver.db.
    url: str = ""
    data_dir: str = "data"
    busy_timeout_ms: int = 30_000


@dataclass(frozen=True)
class ApiConfig:
    """The read API (JSON): what was received. Off unless a bearer token is configured."""

    prefix: str = "/api"
    token: str = ""


@dataclass(frozen=True)
class StockConfig:
    """The aviation marketplace's stock push (stock-push.rst)."""

    # Every channel is off until enabled: a receiver exposes only the endpoints its owner asked for.
    enabled: bool = False
    path: str = "/stock-push"
    # Header name → expected value. All are required; the customer chose them when registering.
    credential_headers: dict[str, str] = field(default_factory=dict)
    # 100,000 generated rows are about 26 MiB of compact JSON (bench.stock measures it).
    max_body_bytes: int = 64 * MiB


# --- erp (erp-amqp-push.md; receiver/erp.py, receiver/amqp.py) ---------------------------------------
ERP_FAULTS = ("", "kill-before-commit", "kill-after-commit")


@dataclass(frozen=True)
class ErpConfig:
    """The ERP's push notifications over AMQP (erp-amqp-push.md), consumed by ``inventory-receiver consume``."""

    enabled: bool = False  # the read API routes; the consumer runs only as its own command
    amqp_url: str = ""  # holds the broker credentials: prefer RECEIVER_ERP_AMQP_URL
    customer_queue: str = "secom-customer-queue"
    subscription_queue: str = "secom-subscriptions-queue"
    # Declare the queues (durable, dead-lettering to <queue><dead_letter_suffix> through
    # dead_letter_exchange) and the dead-letter exchange and queues; false = only check they exist.
    declare_topology: bool = True
    # Several consumer processes on the same queues: by default they compete (each message goes to one
    # of them; two states of one id may then be applied out of order). true declares the queues with
    # x-single-active-consumer: one consumes, the others take over if it goes — order kept.
    single_active_consumer: bool = False
    dead_letter_exchange: str = "secom.dead-letter"
    dead_letter_suffix: str = ".dead-letter"
    prefetch: int = 500  # unacknowledged messages the broker may hand the consumer at once
    batch_size: int = 200  # messages committed in one transaction, then acknowledged together
    batch_wait_ms: int = 20  # how long a partial batch waits for more messages before it is committed
    heartbeat_seconds: int = 30
    # Capped exponential back-off, for reconnecting to the broker and for retrying the store.
    backoff_min_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    # TEST ONLY: "kill-before-commit" / "kill-after-commit" SIGKILLs the consumer at that point of its
    # first batch (the fault tests); empty in every real deployment.
    fault: str = ""


def _validate_erp(erp: ErpConfig) -> None:
    if not erp.customer_queue or not erp.subscription_queue or erp.customer_queue == erp.subscription_queue:
        raise ConfigError("[erp] customer_queue and subscription_queue must be two different, non-empty names")
    if not erp.dead_letter_exchange or not erp.dead_letter_suffix:
        raise ConfigError("[erp] dead_letter_exchange and dead_letter_suffix must not be empty")
    if not 1 <= erp.prefetch <= 65535:
        raise ConfigError("[erp] prefetch must be between 1 and 65535")
    if not 1 <= erp.batch_size <= min(erp.prefetch, 1000):
        raise ConfigError(f"[erp] batch_size must be between 1 and prefetch ({erp.prefetch}), at most 1000: "
                          "a batch larger than prefetch would never fill")
    if erp.batch_wait_ms < 0 or erp.heartbeat_seconds < 1:
        raise ConfigError("[erp] batch_wait_ms must be at least 0 and heartbeat_seconds at least 1")
    if not 0 < erp.backoff_min_seconds <= erp.backoff_max_seconds:
        raise ConfigError("[erp] backoff_min_seconds must be above 0 and at most backoff_max_seconds")
    if erp.fault not in ERP_FAULTS:
        raise ConfigError(f"[erp] fault (test only) must be one of {ERP_FAULTS}, not {erp.fault!r}")


# --- end erp ---------------------------------------------------------------------------------------


# --- servicemobility (servicemobility-inventory-usage.txt; receiver/servicemobility.py) --------------


@dataclass(frozen=True)
class ServiceMobilityConfig:
    """The field-service platform's webhooks: InventoryUsage/ and its eight sibling types."""

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


def _validate_servicemobility(sm: ServiceMobilityConfig) -> None:
    from receiver.servicemobility import JWT_ALGORITHMS, TYPES  # the channel owns them (import cycle)

    if not sm.enabled:
        return
    if sm.base and not sm.base.startswith("/"):
        raise ConfigError("[servicemobility] base must start with '/' (or be empty)")
    unknown = set(sm.paths) - set(TYPES)
    if unknown:
        raise ConfigError(f"[servicemobility] paths has unknown type(s) {sorted(unknown)}; types: {list(TYPES)}")
    effective = [sm.paths.get(name, default).strip("/") for name, default in TYPES.items()]
    if "" in effective or len(set(effective)) != len(effective):
        raise ConfigError("[servicemobility] paths must give each type a non-empty path of its own")
    if sm.jwt not in JWT_ALGORITHMS:
        raise ConfigError(f"[servicemobility] jwt must be one of {list(JWT_ALGORITHMS)}, not {sm.jwt!r}")
    needs = {"hs256": ("secret", sm.secret), "public-key": ("public_key", sm.public_key),
             "jwks": ("jwks_url", sm.jwks_url)}.get(sm.jwt)
    if needs and not needs[1]:
        raise ConfigError(f"[servicemobility] jwt = {sm.jwt!r} needs {needs[0]}")
    if sm.jwt == "jwks" and not sm.jwks_url.startswith(("https://", "http://")):
        raise ConfigError("[servicemobility] jwks_url must be an http(s) URL")
    wrong = [name for name in sm.algorithms if name not in JWT_ALGORITHMS[sm.jwt]]
    if wrong:
        raise ConfigError(f"[servicemobility] algorithms {wrong} cannot be used with jwt = {sm.jwt!r}; "
                          f"allowed: {list(JWT_ALGORITHMS[sm.jwt])}")
    if sm.leeway_seconds < 0 or sm.jwks_cache_seconds < 1:
        raise ConfigError("[servicemobility] leeway_seconds must be at least 0 and jwks_cache_seconds at least 1")
    if sm.max_body_bytes < 1024:
        raise ConfigError("[servicemobility] max_body_bytes must be at least 1024")


# --- end servicemobility ---------------------------------------------------------------------------


# --- s360 (s360-inventory-webhook.txt; receiver/s360.py) ------------------------------------------------
S360_AUTH_MODES = ("NONE", "BASIC_AUTH", "API_KEY")  # "Choose the authentication mode"
# What an HTTP field name may hold (RFC 9110 token) minus "_", which gunicorn drops from names.
HEADER_NAME_CHARS = frozenset("!#$%&'*+-.^`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class S360Config:
    """S-360's inventory webhook: authentication exactly as set on the interface in its back office."""

    enabled: bool = False
    path: str = "/s360/inventory"  # the Url pasted in the back office
    auth: str = "NONE"  # NONE | BASIC_AUTH | API_KEY
    login: str = ""  # BASIC_AUTH: the login; API_KEY: the NAME of the header carrying the key
    password: str = ""  # BASIC_AUTH: the password; API_KEY: the key. Prefer RECEIVER_S360_PASSWORD
    # 1000 products (the default batch size P) shaped like the example are ~9 MiB of compact JSON and
    # ~28 MiB pretty-printed with 4 spaces as the document prints it.
    max_body_bytes: int = 32 * MiB


def _validate_s360(s360: S360Config) -> None:
    if not s360.enabled:
        return
    if not s360.path.startswith("/"):
        raise ConfigError("[s360] path must start with '/'")
    if s360.auth not in S360_AUTH_MODES:
        raise ConfigError(f"[s360] auth must be one of {list(S360_AUTH_MODES)} (as in the S-360 back "
                          f"office), not {s360.auth!r}")
    if s360.auth != "NONE" and not (s360.login and s360.password):
        raise ConfigError(f"[s360] auth = {s360.auth!r} needs login and password (the password can come from "
                          "RECEIVER_S360_PASSWORD)")
    if s360.auth == "BASIC_AUTH" and ":" in s360.login:
        raise ConfigError("[s360] a BASIC_AUTH login cannot contain ':' (RFC 7617)")
    if s360.auth == "API_KEY" and not set(s360.login) <= HEADER_NAME_CHARS:
        raise ConfigError(f"[s360] with API_KEY, login is the header name, which {s360.login!r} cannot be: "
                          "letters, digits and -!#$%&'*+.^`|~ only (names with '_' are dropped by the server)")
    if s360.max_body_bytes < 1024:
        raise ConfigError("[s360] max_body_bytes must be at least 1024")


# --- end s360 --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    stock: StockConfig = field(default_factory=StockConfig)
    erp: ErpConfig = field(default_factory=ErpConfig)
    servicemobility: ServiceMobilityConfig = field(default_factory=ServiceMobilityConfig)
    s360: S360Config = field(default_factory=S360Config)

    @property
    def storage_url(self) -> str:
        if self.storage.url:
            return self.storage.url
        return f"sqlite:///{Path(self.storage.data_dir).resolve() / 'receiver.db'}"

    def replace(self, **sections: Mapping[str, Any]) -> Config:
        """A copy with some keys of some sections changed: ``config.replace(stock={"path": "/x"})``."""
        changes = {
            name: dataclasses.replace(getattr(self, name), **values) for name, values in sections.items()
        }
        return dataclasses.replace(self, **changes)


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the TOML file (``path``, else ``RECEIVER_CONFIG`` when set), apply ``RECEIVER_*`` overrides,
    validate, return the config."""
    document: dict[str, Any] = {}
    path = path if path is not None else (environ or {}).get(ENV_PREFIX + "CONFIG")
    if path is not None:
        try:
            with open(path, "rb") as handle:
                document = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigError(f"configuration file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None
    return from_mapping(document, environ or {})


def from_mapping(document: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Config:
    environ = environ or {}
    sections = get_type_hints(Config)
    unknown = set(document) - set(sections)
    if unknown:
        raise ConfigError(f"unknown section(s) {sorted(unknown)}; known: {sorted(sections)}")
    built = {}
    for name, section_type in sections.items():
        values = document.get(name, {})
        if not isinstance(values, Mapping):
            raise ConfigError(f"[{name}] must be a table")
        built[name] = _build_section(name, section_type, values, environ)
    config = Config(**built)
    _validate(config)
    return config


def _build_section(name: str, cls: type, values: Mapping[str, Any], environ: Mapping[str, str]) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"[{name}] has unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
    kwargs: dict[str, Any] = {}
    for key in known:
        env_name = f"{ENV_PREFIX}{name}_{key}".upper()
        if env_name in environ:
            kwargs[key] = _from_env(env_name, environ[env_name], hints[key])
        elif key in values:
            kwargs[key] = _check_type(f"[{name}] {key}", values[key], hints[key])
    return cls(**kwargs)


def _from_env(env_name: str, text: str, hint: Any) -> Any:
    if hint is str:
        return text
    if hint is bool:
        lowered = text.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{env_name} must be true or false, not {text!r}")
    try:
        value = json.loads(text)
    except ValueError:
        raise ConfigError(f"{env_name} must be JSON for this key (e.g. {_example(hint)})") from None
    return _check_type(env_name, value, hint)


def _check_type(where: str, value: Any, hint: Any) -> Any:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        for option in get_args(hint):
            try:
                return _check_type(where, value, option)
            except ConfigError:
                continue
        raise ConfigError(f"{where} has the wrong type: {value!r}")
    if origin is dict:
        key_type, value_type = get_args(hint)
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a table, e.g. {_example(hint)}")
        return {
            _check_type(where, k, key_type): _check_type(f"{where}.{k}", v, value_type) for k, v in value.items()
        }
    if origin is list:
        (item_type,) = get_args(hint)
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be an array")
        return [_check_type(where, v, item_type) for v in value]
    if hint is type(None):
        if value is None:
            return None
        raise ConfigError(f"{where} must be empty")
    if hint is int and isinstance(value, bool):
        raise ConfigError(f"{where} must be an integer, not {value!r}")
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint):
        raise ConfigError(f"{where} must be of type {hint.__name__}, not {type(value).__name__} ({value!r})")
    return value


def _example(hint: Any) -> str:
    return '{"X-Api-Key": "secret"}' if get_origin(hint) is dict else "42"


def _validate(config: Config) -> None:
    server = config.server
    if not server.insecure_http and bool(server.certfile) != bool(server.keyfile):
        raise ConfigError("[server] certfile and keyfile go together: give both, or neither with insecure_http")
    if server.workers < 1 or server.threads < 1:
        raise ConfigError("[server] workers and threads must be at least 1")
    if not config.api.prefix.startswith("/"):
        raise ConfigError("[api] prefix must start with '/'")
    stock = config.stock
    if stock.enabled:
        if not stock.path.startswith("/"):
            raise ConfigError("[stock] path must start with '/'")
        if not stock.credential_headers:
            raise ConfigError(
                "[stock] credential_headers is empty: the stock-push document requires the endpoint to be "
                "secured with credentials in header fields; set them in the file or in "
                "RECEIVER_STOCK_CREDENTIAL_HEADERS as a JSON object"
            )
        for name, value in stock.credential_headers.items():
            if not name.strip() or not value:
                raise ConfigError(f"[stock] credential header {name!r} needs a non-empty name and value")
            if not set(name) <= HEADER_NAME_CHARS:
                raise ConfigError(f"[stock] credential header name {name!r} cannot be sent: use letters, digits "
                                  "and '-' (a '_' makes gunicorn drop the header, so every push would be 401)")
        if stock.max_body_bytes < 1024:
            raise ConfigError("[stock] max_body_bytes must be at least 1024")
    _validate_erp(config.erp)
    _validate_servicemobility(config.servicemobility)
    _validate_s360(config.s360)

"""Configuration: one TOML file plus environment overrides for secrets, read once at start-up.

Every key lives in a section: ``[server]`` and ``[api]`` (here), ``[storage]`` (``storage.py``), and one
per channel, each owned by its channel module (``channels/<channel>.py``: a frozen dataclass, its
``validate()``, its ``SECRETS``). Any key can be overridden from the environment as
``RECEIVER_<SECTION>_<KEY>`` (upper case), e.g. ``RECEIVER_STORAGE_URL`` or ``RECEIVER_API_TOKEN``.
Tables (``credential_headers``) are given there as a JSON object. Nothing else in the receiver reads the
environment.

Relative paths (certificates, the SQLite folder or file, a public key file) are read from the configuration
file's folder, wherever the command is started; those given in the environment from the working directory.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Union, get_args, get_origin, get_type_hints

from .channels import CHANNELS
from .errors import ConfigError
from .retention import RetentionConfig
from .storage import DeliveriesConfig, StorageConfig, masked_url

__all__ = ["ApiConfig", "Config", "ConfigError", "InspectorConfig", "MetricsConfig", "ServerConfig", "from_mapping",
           "load_config", "masked"]

ENV_PREFIX = "RECEIVER_"
# Keys that name a file or a folder: relative values resolve against the configuration file's folder.
PATH_KEYS: dict[str, tuple[str, ...]] = {"server": ("certfile", "keyfile"), "storage": ("data_dir", "url"),
                                         "servicemobility": ("public_key",)}


@dataclass(frozen=True)
class ServerConfig:
    """``[server]``: how ``inventory-receiver serve`` listens."""

    SECRETS: ClassVar[tuple[str, ...]] = ()

    bind: str = "127.0.0.1:8443"
    certfile: str = ""
    keyfile: str = ""
    # The stock-push document requires SSL: plain HTTP only when asked for, with a warning.
    insecure_http: bool = False
    workers: int = 2
    # Connections one worker serves at once (each a greenlet: an idle one costs memory, not a thread).
    worker_connections: int = 1000
    # Ignored: kept so that configuration files written for the threaded server still load.
    threads: int = 4
    timeout: int = 120
    # Deadlines of each phase of a connection, in seconds: the TLS handshake (then closed), the request
    # line and headers (then 408), the wait for the next request on a kept-alive connection (then
    # closed), the whole body (then 408, nothing applied).
    handshake_timeout: float = 10.0
    header_timeout: float = 10.0
    keepalive_timeout: float = 5.0
    body_timeout: float = 60.0
    # What `serve` and `consume` print (gunicorn's error and access logs included), one format for all:
    # "text" lines or "json" objects (receiver/logs.py), from log_level up.
    log_format: str = "text"
    log_level: str = "info"

    def validate(self) -> None:
        if self.log_format not in ("text", "json"):
            raise ConfigError(f'[server] log_format must be "text" or "json", not {self.log_format!r}')
        if self.log_level not in ("debug", "info", "warning", "error", "critical"):
            raise ConfigError('[server] log_level must be one of "debug", "info", "warning", "error", "critical", '
                              f"not {self.log_level!r}")
        if not self.insecure_http and bool(self.certfile) != bool(self.keyfile):
            raise ConfigError("[server] certfile and keyfile go together: give both, or neither with insecure_http")
        if self.workers < 1 or self.threads < 1 or self.worker_connections < 1:
            raise ConfigError("[server] workers, worker_connections and threads must be at least 1")
        for key in ("handshake_timeout", "header_timeout", "keepalive_timeout", "body_timeout"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"[server] {key} must be above 0 seconds")


@dataclass(frozen=True)
class ApiConfig:
    """``[api]``: the read API (JSON), what was received. Off unless a bearer token is configured."""

    SECRETS: ClassVar[tuple[str, ...]] = ("token",)

    prefix: str = "/api"
    token: str = ""

    def validate(self) -> None:
        if not self.prefix.startswith("/"):
            raise ConfigError("[api] prefix must start with '/'")


@dataclass(frozen=True)
class InspectorConfig:
    """``[inspector]``: the operator's pages (receiver/inspector.py), behind the read API's token: mounted
    only when ``[api] token`` is set."""

    SECRETS: ClassVar[tuple[str, ...]] = ("session_secret", "resend_targets")
    # The keys of one ``[inspector.resend_targets.NAME]`` table (see receiver/resend.py's Target).
    TARGET_KEYS: ClassVar[tuple[str, ...]] = ("url", "headers", "s360_auth", "jwt_secret", "jwt_private_key",
                                              "ca_bundle", "insecure")

    enabled: bool = True
    prefix: str = "/inspect"
    # Signs the session cookie; empty: derived from [api] token (changing the token ends every session).
    session_secret: str = ""
    session_hours: float = 8.0
    # Where the "Resend to" form may send a delivery: name → the target and its credentials. Only these:
    # the form offers their names, never a URL typed in the page (no requests to wherever the page says).
    resend_targets: dict[str, dict[str, str | bool | dict[str, str]]] = field(default_factory=dict)

    def validate(self) -> None:
        if not self.prefix.startswith("/") or self.prefix == "/":
            raise ConfigError("[inspector] prefix must start with '/' and name a path, e.g. /inspect")
        if self.session_hours <= 0:
            raise ConfigError("[inspector] session_hours must be above 0")
        for name, target in self.resend_targets.items():
            where = f"[inspector.resend_targets.{name}]"
            unknown = set(target) - set(self.TARGET_KEYS)
            if unknown:
                raise ConfigError(f"{where} has unknown key(s) {sorted(unknown)}; known: {list(self.TARGET_KEYS)}")
            url = target.get("url")
            if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                raise ConfigError(f"{where} url must be the target endpoint's full http(s) URL")
            kinds = {"headers": dict, "insecure": bool}
            for key in self.TARGET_KEYS[1:]:
                if key in target and not isinstance(target[key], kinds.get(key, str)):
                    raise ConfigError(f"{where} {key} must be a {kinds.get(key, str).__name__}")


@dataclass(frozen=True)
class MetricsConfig:
    """``[metrics]``: Prometheus metrics at ``path`` (receiver/metrics.py), behind a bearer token: ``token``,
    or the read API's ``[api] token`` when empty; with neither, nothing is served there."""

    SECRETS: ClassVar[tuple[str, ...]] = ("token",)

    enabled: bool = True
    path: str = "/metrics"
    # A token of its own lets a Prometheus server scrape without being able to read the API.
    token: str = ""

    def validate(self) -> None:
        if not self.path.startswith("/") or self.path == "/":
            raise ConfigError("[metrics] path must start with '/' and name a path, e.g. /metrics")


# section name → its dataclass: the shared sections, then one per channel from the registry.
SECTIONS: dict[str, type[Any]] = {"server": ServerConfig, "storage": StorageConfig, "api": ApiConfig,
                                  "inspector": InspectorConfig, "metrics": MetricsConfig,
                                  "deliveries": DeliveriesConfig, "retention": RetentionConfig,
                                  **{name: channel.Config for name, channel in CHANNELS.items()}}


def _defaults() -> dict[str, Any]:
    return {name: channel.Config() for name, channel in CHANNELS.items()}


@dataclass(frozen=True)
class Config:
    """The whole configuration. A channel's section is an attribute by its name: ``config.stock``."""

    server: ServerConfig = field(default_factory=ServerConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    inspector: InspectorConfig = field(default_factory=InspectorConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    deliveries: DeliveriesConfig = field(default_factory=DeliveriesConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    channels: Mapping[str, Any] = field(default_factory=_defaults)  # channel name → its section

    def __getattr__(self, name: str) -> Any:
        channels = self.__dict__.get("channels", {})
        if name in channels:
            return channels[name]
        raise AttributeError(f"{type(self).__name__} has no section {name!r}")

    def section(self, name: str) -> Any:
        return getattr(self, name)

    @property
    def storage_url(self) -> str:
        return self.storage.effective_url

    def replace(self, **sections: Mapping[str, Any]) -> Config:
        """A copy with some keys of some sections changed: ``config.replace(stock={"path": "/x"})``."""
        changed = {name: dataclasses.replace(self.section(name), **values) for name, values in sections.items()}
        shared = {name: value for name, value in changed.items() if name not in self.channels}
        channels = {**self.channels, **{name: value for name, value in changed.items() if name in self.channels}}
        return dataclasses.replace(self, **shared, channels=channels)


def masked(config: Config) -> dict[str, Any]:
    """The configuration as ``check-config`` shows it: every section, each secret masked (a URL keeps
    all but its password and credential-bearing query values; anything else becomes ``***``)."""
    shown: dict[str, Any] = {}
    for name, section_type in SECTIONS.items():
        section = config.section(name)
        values = dataclasses.asdict(section)
        for key in section_type.SECRETS:
            values[key] = _mask(values[key])
        shown[name] = values
    return shown


def _mask(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict.fromkeys(value, "***")
    if isinstance(value, str) and "://" in value:
        return masked_url(value)
    return "***" if value else ""


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
        except IsADirectoryError:
            raise ConfigError(f"configuration file {path} is a folder: give the .toml file in it") from None
        except OSError as exc:
            raise ConfigError(f"configuration file {path} cannot be read ({exc.strerror})") from None
    base = Path(path).resolve().parent if path is not None else None
    return from_mapping(document, environ or {}, base=base)


def from_mapping(document: Mapping[str, Any], environ: Mapping[str, str] | None = None, *,
                 base: Path | None = None) -> Config:
    """Build and validate the configuration; with ``base`` (the file's folder), relative paths not given
    in the environment are resolved against it."""
    environ = environ or {}
    unknown = set(document) - set(SECTIONS)
    if unknown:
        raise ConfigError(f"unknown section(s) {sorted(unknown)}; known: {sorted(SECTIONS)}")
    built = {}
    for name, section_type in SECTIONS.items():
        values = document.get(name, {})
        if not isinstance(values, Mapping):
            raise ConfigError(f"[{name}] must be a table")
        built[name] = _build_section(name, section_type, values, environ)
        if base is not None:
            built[name] = _resolve_paths(name, built[name], base, environ)
        built[name].validate()
    channels = {name: built.pop(name) for name in CHANNELS}
    return Config(**built, channels=channels)


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


def _resolve_paths(name: str, section: Any, base: Path, environ: Mapping[str, str]) -> Any:
    changed: dict[str, str] = {}
    for key in PATH_KEYS.get(name, ()):
        value = getattr(section, key)
        if not value or f"{ENV_PREFIX}{name}_{key}".upper() in environ:
            continue
        if key == "url":
            changed[key] = _resolve_sqlite_url(value, base)
        elif not (key == "public_key" and value.lstrip().startswith("-----BEGIN")):
            changed[key] = str(base / Path(value).expanduser())  # an absolute path stays as it is
    return dataclasses.replace(section, **changed) if changed else section


def _resolve_sqlite_url(url: str, base: Path) -> str:
    """A ``sqlite:///relative/file.db`` URL with its file under ``base``; any other URL unchanged."""
    import sqlalchemy as sa

    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return url  # the store says what is wrong with it
    database = parsed.database or ""
    if (parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or parsed.query.get("uri")
            or Path(database).is_absolute()):
        return url
    return parsed.set(database=str(base / database)).render_as_string(hide_password=False)


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

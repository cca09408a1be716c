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

    enabled: bool = True
    path: str = "/stock-push"
    # Header name → expected value. All are required; the customer chose them when registering.
    credential_headers: dict[str, str] = field(default_factory=dict)
    # 100,000 rows of the document's example shape are about 37 MiB of compact JSON.
    max_body_bytes: int = 64 * MiB


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    stock: StockConfig = field(default_factory=StockConfig)

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
    """Read the TOML file (when given), apply ``RECEIVER_*`` overrides, validate, return the config."""
    document: dict[str, Any] = {}
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
        if stock.max_body_bytes < 1024:
            raise ConfigError("[stock] max_body_bytes must be at least 1024")

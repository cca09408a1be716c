"""The receiver's logs: one handler and one format for everything ``serve`` and ``consume`` print.

Python logging, gunicorn's error log and its access log (``worker.AccessLog`` sends both to the root
logger) all go through the handler :func:`configure` installs on standard error, in the format
``[server] log_format`` names:

- ``text``: ``2026-12-02T12:58:17.123Z INFO receiver.web: stock delivery 42 accepted (200) …``
- ``json``: one object per line, ``{"time", "level", "logger", "message", "pid", …}`` plus the fields a line
  carries (a delivery line: ``channel``, ``delivery``, ``status``, ``outcome``, ``duration_ms``; an
  access line: ``method``, ``path``, ``status``, ``bytes``, ``duration_ms``, …) and ``exception``.

Secrets never reach a log line by design (credentials are never logged, URLs are masked, query strings
are masked in the access log); as a last guard every configured secret that still shows up in a formatted
line (pika's debug frames, an exception's text) is replaced by ``***``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from .config import SECTIONS, Config
from .storage import SECRET_QUERY_KEYS

MASK = "***"
# Shorter values are not searched for in log lines: they would mask ordinary words.
MIN_SECRET_LENGTH = 4

# What every LogRecord has; any other attribute came from ``extra=`` and is a field of the JSON line.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def _utc_time(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class _Redacting(logging.Formatter):
    """A formatter whose output never holds one of ``secrets``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first: a secret that contains another is masked whole.
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


class TextFormatter(_Redacting):
    """``TIME LEVEL LOGGER: MESSAGE``, the time in UTC with milliseconds; a traceback follows on its lines."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_utc_time(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return self.redact(line)


class JsonFormatter(_Redacting):
    """One JSON object per line: time, level, logger, message, the record's own fields, the exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": _utc_time(record), "level": record.levelname, "logger": record.name,
                                "message": record.getMessage(), "pid": record.process}
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["exception"] = self.formatStack(record.stack_info)
        return self.redact(json.dumps(line, ensure_ascii=False, default=str))


def formatter(log_format: str, secrets: Iterable[str] = ()) -> logging.Formatter:
    return JsonFormatter(secrets) if log_format == "json" else TextFormatter(secrets)


def configure(log_level: str = "info", log_format: str = "text", *, secrets: Iterable[str] = (),
              stream: IO[str] | None = None) -> None:
    """Send every log record of the process to one handler on ``stream`` (standard error), in
    ``log_format``, from ``log_level`` up. pika, which logs every failed connection attempt as several
    ERROR lines and a traceback (the consumer logs one WARNING line of its own instead), is shown only
    at ``debug``. Called again (the configuration is read after the command line), it replaces its
    handler."""
    level = logging.getLevelName(log_level.upper())
    root = logging.getLogger()
    for previous in list(root.handlers):
        if getattr(previous, "_receiver", False):
            root.removeHandler(previous)
            previous.close()
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _StandardError()
    handler.setFormatter(formatter(log_format, secrets))
    handler._receiver = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("pika").setLevel(logging.DEBUG if level <= logging.DEBUG else logging.CRITICAL)
    # Alembic says INFO for each plugin it loads and each revision it checks: shown only when debugging.
    logging.getLogger("alembic").setLevel(logging.DEBUG if level <= logging.DEBUG else logging.WARNING)
    logging.captureWarnings(True)


class _StandardError(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is written (as logging's last resort does)."""

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def secret_values(config: Config) -> list[str]:
    """Every secret of a :class:`receiver.config.Config` (each section's ``SECRETS``), as it may show up in
    a line: the value itself, and for a URL its password and credential-bearing query values, raw and
    percent-decoded."""
    found: list[str] = []
    for name, section_type in SECTIONS.items():
        section = config.section(name)
        for key in section_type.SECRETS:
            found += _secret_strings(getattr(section, key))
    return sorted(set(found))


def _secret_strings(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        return [text for item in value.values() for text in _secret_strings(item)]
    if not isinstance(value, str) or not value:
        return []
    if "://" not in value:
        return [value, quote(value, safe="")]
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return [value]
    found = []
    # A password equal to the user name (guest:guest) is not searched for: the masked URL shows the user
    # name anyway, and masking it everywhere would make "amqp://***:***@host" of every line.
    if password and unquote(password) != unquote(parts.username or ""):
        found += [password, unquote(password)]
    for key, item in parse_qsl(parts.query, keep_blank_values=True):
        if item and any(s in key.lower() for s in SECRET_QUERY_KEYS):
            found += [item, quote(item, safe="")]
    return found


def configure_from(config: Config) -> None:
    """:func:`configure` as ``[server] log_level`` and ``log_format`` say, every secret of ``config`` masked."""
    configure(config.server.log_level, config.server.log_format, secrets=secret_values(config))

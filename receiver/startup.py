"""What the commands check before they start, and how they say that they cannot.

A command that cannot start prints ONE line on stderr (what is wrong, the key or file, what to do) and
exits with the code of its kind (:class:`ExitCode`, listed in ``--help`` and README.md). ``serve`` runs
these checks in gunicorn's master, before any worker starts, so a bad configuration never turns into
workers failing to boot one after another; ``check-config`` runs them all and lists what would be served.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from .channels import erp
from .config import Config, ServerConfig
from .errors import ConfigError, StorageFailure
from .storage import StorageConfig, Store, masked_url

log = logging.getLogger(__name__)


class ExitCode(IntEnum):
    """The exit codes of ``inventory-receiver``: one per kind of failure, so that a script or a service
    manager can tell them apart."""

    OK = 0
    FAILED = 1  # the command ran and its work failed (reapply: the body was refused again)
    USAGE = 2  # wrong arguments, no such delivery, init would overwrite a file
    CONFIG = 3  # configuration: file, key, certificate or key file, secret
    STORAGE = 4  # the database cannot be reached or used
    BROKER_AUTH = 5  # the AMQP broker refused the credentials or the virtual host
    BROKER_UNREACHABLE = 6  # check-config: no AMQP broker answers (consume waits and retries instead)
    ADDRESS_IN_USE = 7  # serve: cannot listen on [server] bind
    QUEUES = 8  # the broker's queues cannot be used as configured
    MIGRATIONS = 9  # the database's schema is behind this release's and [storage] migrate_on_start = false


EXIT_CODES_HELP = """exit codes:
  0  success
  1  the command ran but its work failed (reapply: the body was refused again)
  2  usage: wrong arguments, no such delivery, init would overwrite a file (--force)
  3  configuration error: the file, a key, a certificate or key file, a secret
  4  storage unreachable or unusable (database down, wrong credentials, no permission)
  5  the AMQP broker refused the credentials or the virtual host
  6  check-config: no AMQP broker answers at [erp] amqp_url (consume retries instead)
  7  serve: cannot listen on [server] bind (address in use, or not this machine's)
  8  the broker's queues cannot be used as configured
  9  the database's schema is behind this release's and [storage] migrate_on_start = false:
     run `inventory-receiver migrate`
A failure to start is one line on stderr naming the key or file and what to do."""


class StartupError(Exception):
    """A command cannot start; the message is the one line shown, ``code`` its exit code."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.code = code


# --- TLS ------------------------------------------------------------------------------------------


def check_tls(server: ServerConfig) -> str:
    """The certificate and key of ``[server]``: both given, readable, PEM, matching, not expired, and
    loadable the way the server loads them. What they are, or ConfigError naming the file."""
    if server.insecure_http:
        return "TLS: off (insecure_http = true): plain HTTP"
    if not (server.certfile and server.keyfile):
        raise ConfigError(
            "[server] certfile and keyfile are required for HTTPS (the stock-push document requires SSL); "
            "set them (`inventory-receiver init` makes a local CA and certificate), or set insecure_http = true "
            "(or pass --insecure-http) to serve plain HTTP")
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    cert_pem, key_pem = _read("certfile", server.certfile), _read("keyfile", server.keyfile)
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise ConfigError(f"[server] certfile {server.certfile} holds no PEM certificate: point it at the "
                          "server's certificate chain (-----BEGIN CERTIFICATE-----)") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise ConfigError(f"[server] keyfile {server.keyfile} is encrypted: the server cannot ask for its "
                          "passphrase; give it an unencrypted key (readable by the receiver only)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(f"[server] keyfile {server.keyfile} holds no PEM private key: point it at the key of "
                          "the certificate (-----BEGIN PRIVATE KEY-----)") from None
    leaf = chain[0]
    public = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if leaf.public_key().public_bytes(*public) != key.public_key().public_bytes(*public):
        raise ConfigError(f"[server] keyfile {server.keyfile} is not the key of the certificate in certfile "
                          f"{server.certfile}: give the key the certificate was issued for")
    if leaf.not_valid_after_utc <= datetime.now(UTC):
        raise ConfigError(f"[server] certfile {server.certfile} expired on {leaf.not_valid_after_utc:%Y-%m-%d}: "
                          "renew the certificate")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(server.certfile, server.keyfile)
    except ssl.SSLError as exc:
        raise ConfigError(f"[server] certfile {server.certfile} and keyfile {server.keyfile} cannot be used "
                          f"for TLS ({exc.reason or exc}): give a PEM chain and its key") from None
    names = _names(leaf)
    return (f"TLS: certificate {server.certfile} ({', '.join(names) or 'no names'}; until "
            f"{leaf.not_valid_after_utc:%Y-%m-%d}) and its key {server.keyfile}")


def _read(key: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"[server] {key} {path} does not exist: run `inventory-receiver init` for a local CA "
                          "and certificate, or point it at your PEM file") from None
    except OSError as exc:
        raise ConfigError(f"[server] {key} {path} cannot be read ({exc.strerror}): let the receiver's user "
                          "read it") from None


def _names(cert: Any) -> list[str]:
    from cryptography import x509

    try:
        alternative = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(name.value) for name in alternative]


def check_bind(bind: str, *, listening_is_fatal: bool = True) -> str:
    """Whether ``serve`` can listen on ``[server] bind`` (host:port). With ``listening_is_fatal`` false,
    an address in use is only reported (check-config, while the receiver may be running)."""
    if bind.startswith(("unix:", "fd://")):
        return f"listen: {bind}"
    host, _, port_text = bind.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    try:
        port = int(port_text)
        if not 0 <= port <= 65535:
            raise ValueError(port)
    except ValueError:
        raise ConfigError(f"[server] bind {bind!r} is not address:port, e.g. 127.0.0.1:8443") from None
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror:
        raise ConfigError(f"[server] bind {bind!r}: {host} is not an address of this machine") from None
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
        try:
            sock.bind((host, port))
        except OSError as exc:
            message = (f"[server] bind {bind}: cannot listen there ({exc.strerror}): stop what listens there, "
                       "or choose another address:port ([server] bind, or serve --bind)")
            if listening_is_fatal:
                raise StartupError(message, ExitCode.ADDRESS_IN_USE) from None
            return f"listen: {bind} — note: {message}"
    return f"listen: {bind}"


# --- the app: every channel's own checks, and what it serves ---------------------------------------


@dataclass
class Built:
    """The app as a worker builds it: what it serves, and the warnings it logged while being built."""

    endpoints: list[str]
    warnings: list[str] = field(default_factory=list)


def build(config: Config, app_factory: Callable[..., Flask] | None = None) -> Built:
    """Build the app once, exactly as each worker will (every channel's ``register``, the JWT key
    checks among them), on a throw-away in-memory store: ConfigError when a worker could not boot."""
    from .app import create_app

    store = Store("sqlite://")
    with _captured_warnings() as warnings:
        try:
            app = app_factory(config) if app_factory else create_app(config, store=store)
        finally:
            store.dispose()
    own_store = getattr(app, "extensions", {}).get("receiver.store")
    if isinstance(own_store, Store) and own_store is not store:
        own_store.dispose()
    if not hasattr(app, "url_map"):  # a WSGI app of the caller's own (e.g. several apps dispatched by path)
        return Built(["*     (the routes of a WSGI app that is not the receiver's own)"], warnings)
    return Built(endpoints(app), warnings)


def build_in_child(config: Config, app_factory: Callable[..., Flask] | None = None) -> Built:
    """:func:`build` in a forked child process, as a worker does it, so that what building imports
    (PyJWT and its ssl use, among others) is never imported into gunicorn's master before the workers
    patch ssl for gevent. ConfigError (or StartupError) when the app cannot be built."""
    import json

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: build, report, exit without running the parent's clean-up
        os.close(read_end)
        try:
            built = build(config, app_factory)
            report: dict[str, Any] = {"endpoints": built.endpoints, "warnings": built.warnings}
        except ConfigError as exc:
            report = {"config_error": str(exc)}
        except BaseException as exc:  # noqa: BLE001 (reported to the parent as one line)
            report = {"error": f"{type(exc).__name__}: {_first_line(exc)}"}
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(json.dumps(report).encode("utf-8"))
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    try:
        report = json.loads(data)
    except ValueError:
        raise StartupError("the app could not be built (its check ended without a word): run check-config",
                           ExitCode.CONFIG) from None
    if "config_error" in report:
        raise ConfigError(report["config_error"])
    if "error" in report:
        raise StartupError(f"the app cannot be built: {report['error']}", ExitCode.CONFIG)
    return Built(report["endpoints"], report["warnings"])


def endpoints(app: Flask) -> list[str]:
    """``METHOD path`` of every route, in the order registered (a path served with and without its
    trailing slash shown once, as ``path[/]``); the Swagger UI's files left out."""
    rules = [rule for rule in app.url_map.iter_rules() if not rule.endpoint.endswith("static")]
    paths = {rule.rule for rule in rules}
    lines = []
    for rule in rules:
        if rule.rule.endswith("/") and rule.rule[:-1] in paths:
            continue
        methods = ",".join(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
        shown = f"{rule.rule}[/]" if f"{rule.rule}/" in paths else rule.rule
        part = f"  ({rule.endpoint.split('.')[0]})" if "." in rule.endpoint else ""  # a blueprint's route
        lines.append(f"{methods:<5} {shown}{part}")
    return lines


def push_endpoints(lines: list[str]) -> list[str]:
    """The channels' push endpoints among ``lines`` (a blueprint's forms, e.g. the inspector's, are not)."""
    return [line for line in lines
            if line.startswith("*") or (line.startswith("POST") and not line.endswith(")"))]


@contextlib.contextmanager
def _captured_warnings() -> Iterator[list[str]]:
    """What is logged at WARNING and above meanwhile, kept instead of printed."""
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    root.handlers, root.level = [Keep(logging.WARNING)], logging.WARNING
    try:
        yield records
    finally:
        root.handlers, root.level = saved, level


# --- storage ----------------------------------------------------------------------------------------


def check_storage(config: StorageConfig, *, create_schema: bool, upgrade: bool | None = None) -> str:
    """A real connection to the configured store: a line saying what it is, ConfigError for a URL that
    cannot be used, StartupError when it cannot be reached (within ``[storage] connect_timeout``).

    With ``create_schema`` the schema is made ready for use: created or upgraded when ``upgrade`` (by
    default ``[storage] migrate_on_start``) says so, else StartupError (``ExitCode.MIGRATIONS``) when it is
    not this release's. Without it nothing is changed, and the same refusal is reported; a SQLite file
    that does not exist yet is not created, only its folder checked."""
    upgrade = config.migrate_on_start if upgrade is None else upgrade
    url = config.effective_url
    sqlite_file = _sqlite_file(url)
    if not create_schema and sqlite_file is not None and not sqlite_file.exists():
        folder = next(p for p in (sqlite_file.parent, *sqlite_file.parents) if p.exists())
        if not (folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)):
            raise StartupError(f"storage: SQLite file {sqlite_file} cannot be created: {folder} is not a folder "
                               "the receiver may write to; fix [storage] data_dir (or url)", ExitCode.STORAGE)
        if not upgrade:
            raise _behind(None, _head())
        return f"storage: sqlite {sqlite_file} (created at the first start)"
    try:
        store = Store.from_config(config)
    except (sa.exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"[storage] url {masked_url(url)!r} needs a driver that is not installed ({exc}): use "
                          "sqlite:///FILE or postgresql://user:password@host:5432/dbname") from None
    except OSError as exc:
        raise StartupError(f"storage: cannot create the folder of {masked_url(url)} ({exc.strerror}): fix "
                           "[storage] data_dir (or url)", ExitCode.STORAGE) from None
    try:
        if create_schema and upgrade:
            before, after = store.create_schema()
            state = "tables ready" if before == after else f"schema upgraded from {before or 'none'} to {after}"
        else:
            state = _schema_state(store, refuse=not upgrade)
    except StorageFailure as exc:
        raise StartupError(f"storage: {store.describe()} cannot be used: {_first_line(exc)}; start the database "
                           "or fix [storage] url (RECEIVER_STORAGE_URL)", ExitCode.STORAGE) from None
    finally:
        store.dispose()
    return f"storage: {store.describe()} ({state})"


def _head() -> str:
    from . import migrations

    return migrations.head()


def _schema_state(store: Store, *, refuse: bool) -> str:
    """What the schema is, without changing it; StartupError when it is not this release's and ``refuse``."""
    from . import migrations

    with store.read() as conn:
        present = sa.inspect(conn).has_table("deliveries")
        revision = migrations.current(conn)
    head = _head()
    if revision == head:
        return f"tables present, schema at revision {head}"
    if refuse:
        raise _behind(revision if present or revision else None, head, unversioned=present and revision is None)
    if not present:
        return "reachable; tables created at the first start"
    return (f"tables present, schema at revision {revision or 'none (unversioned)'}: serve and consume upgrade it "
            f"to {head}")


def _behind(revision: str | None, head: str, *, unversioned: bool = False) -> StartupError:
    """The one line of a schema that start-up may not upgrade."""
    at = "unversioned (the release before versioning)" if unversioned else \
        f"at revision {revision}" if revision else "empty (no tables)"
    return StartupError(f"storage: the database's schema is {at}, this release needs revision {head}, and [storage] "
                        "migrate_on_start = false: run `inventory-receiver migrate` (or set migrate_on_start = true)",
                        ExitCode.MIGRATIONS)


def _sqlite_file(url: str) -> Path | None:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:") or parsed.query.get("uri"):
        return None
    return Path(parsed.database or "")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --- the broker -------------------------------------------------------------------------------------


def check_broker(config: erp.Config, timeout: float = 5.0) -> list[str]:
    """Connect to ``[erp] amqp_url`` as ``consume`` would and look at both queues: lines saying what is
    there, or StartupError (refused credentials, nothing answering, a queue missing that is not declared)."""
    import pika
    import pika.exceptions

    if not config.amqp_url:
        raise ConfigError("[erp] enabled = true, but amqp_url is empty: `consume` needs it; set it (or "
                          "RECEIVER_ERP_AMQP_URL), or set enabled = false")
    shown = masked_url(config.amqp_url)
    try:
        parameters = pika.URLParameters(config.amqp_url)
    except Exception as exc:  # pika raises ValueError, TypeError, AttributeError on malformed URLs
        raise ConfigError(f"[erp] amqp_url {shown} is not an AMQP URL ({exc}): use "
                          "amqp://user:password@host:5672/%2F") from None
    parameters.socket_timeout = parameters.stack_timeout = timeout
    parameters.blocked_connection_timeout = timeout
    parameters.connection_attempts = 1
    pika_log = logging.getLogger("pika")
    saved = pika_log.level
    pika_log.setLevel(logging.CRITICAL)  # pika logs each failed step as an ERROR of its own
    try:
        try:
            connection = pika.BlockingConnection(parameters)
        except (pika.exceptions.ProbableAuthenticationError, pika.exceptions.AuthenticationError,
                pika.exceptions.ProbableAccessDeniedError) as exc:
            raise StartupError(f"broker: {shown} refused the credentials or the virtual host ({type(exc).__name__})"
                               ": fix the user, password or vhost of [erp] amqp_url (RECEIVER_ERP_AMQP_URL)",
                               ExitCode.BROKER_AUTH) from None
        except pika.exceptions.AMQPError as exc:
            raise StartupError(f"broker: nothing answers at {shown} ({_first_line(exc) or type(exc).__name__}): "
                               "start the broker or fix [erp] amqp_url; `consume` would wait and retry "
                               "(set [erp] enabled = false if you do not use the ERP channel)",
                               ExitCode.BROKER_UNREACHABLE) from None
        try:
            return [f"broker: {shown} (connected)", *(_queue(connection, config, q)
                                                      for q in (config.customer_queue, config.subscription_queue))]
        finally:
            with contextlib.suppress(pika.exceptions.AMQPError):
                connection.close()
    finally:
        pika_log.setLevel(saved)


def _queue(connection: Any, config: erp.Config, name: str) -> str:
    import pika.exceptions

    channel = connection.channel()
    try:
        declared = channel.queue_declare(name, passive=True)
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code != 404:
            raise StartupError(f"broker: queue {name} cannot be used ({exc.reply_code} {exc.reply_text})",
                               ExitCode.QUEUES) from None
        if not config.declare_topology:
            raise StartupError(f"broker: queue {name} does not exist and [erp] declare_topology = false: create "
                               "it, or set declare_topology = true", ExitCode.QUEUES) from None
        return f"queue {name}: absent (consume declares it, with {name}{config.dead_letter_suffix})"
    with contextlib.suppress(pika.exceptions.AMQPError):
        channel.close()
    return f"queue {name}: {declared.method.message_count} message(s) ready"


def queues(config: erp.Config) -> list[str]:
    """The queues ``consume`` consumes, with where their rejected messages go."""
    return [f"{name} (rejected messages: {name}{config.dead_letter_suffix} through {config.dead_letter_exchange})"
            for name in (config.customer_queue, config.subscription_queue)]

"""``inventory-receiver init [DIR]``: what a first run needs, in one folder.

- ``certs/ca.pem``, ``certs/server.pem``, ``certs/server.key``: a local CA (trustme) and a server
  certificate it issued for localhost and 127.0.0.1; senders trust ``ca.pem``.
- ``receiver.toml``: every HTTP channel enabled with random credentials, the ERP channel pointed at a
  local broker, SQLite in ``data/``; its relative paths are read from its own folder.
- ``sender.env``: the same credentials for the senders, as shell variables (``. DIR/sender.env``): the
  ones README.md's simulator commands use, and the ``CONTRACT_*`` variables the contract suite reads.

Nothing is overwritten without ``force``. The demo (``devtools/demo.py``) builds its receiver from the
same pieces: :func:`write_tls`, :class:`Credentials`, :func:`sections`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .channels import s360, servicemobility, stock
from .errors import ConfigError

DEFAULT_BIND = "127.0.0.1:8443"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"  # a local broker's default user
S360_KEY_HEADER = "x-api-key"


@dataclass(frozen=True)
class TLSFiles:
    ca: Path  # what clients trust
    cert: Path  # the server's chain
    key: Path


def tls_files(directory: Path) -> TLSFiles:
    return TLSFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")


def write_tls(directory: Path) -> TLSFiles:
    """A new local CA and a server certificate it issued for localhost and 127.0.0.1, in ``directory``
    (the key readable by its owner only)."""
    import trustme  # needed only here

    directory.mkdir(parents=True, exist_ok=True)
    files = tls_files(directory)
    ca = trustme.CA(organization_name="inventory-receiver local CA")
    cert = ca.issue_cert("localhost", "127.0.0.1", "::1")
    ca.cert_pem.write_to_path(str(files.ca))
    _write_private(files.key, cert.private_key_pem.bytes())
    files.cert.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    return files


def _token() -> str:
    """A random secret: 32 bytes as 64 hex digits (no character a shell or an option parser reads)."""
    return secrets.token_hex(32)


@dataclass(frozen=True)
class Credentials:
    """What the platforms present, chosen when the endpoints are registered with them."""

    stock_headers: dict[str, str]  # every header required, compared in constant time
    s360_key: str  # API_KEY mode: the key in S360_KEY_HEADER
    servicemobility_secret: str  # HS256 (at least 32 bytes, RFC 7518 §3.2)
    api_token: str  # the read API's bearer token

    @classmethod
    def generate(cls) -> Credentials:
        return cls(stock_headers={"X-Stock-User": f"mro-{secrets.token_hex(4)}", "X-Stock-Key": _token()},
                   s360_key=_token(), servicemobility_secret=_token(), api_token=_token())

    @property
    def s360_auth(self) -> str:
        """The simulator's and the contract suite's ``--auth`` / ``--s360-auth`` value."""
        return f"api-key:{S360_KEY_HEADER}:{self.s360_key}"


def sections(credentials: Credentials, *, bind: str = DEFAULT_BIND, amqp_url: str = DEFAULT_AMQP_URL,
             certs: str = "certs", data_dir: str = "data") -> dict[str, dict[str, Any]]:
    """The receiver's configuration of a first run, as TOML sections: every HTTP channel on, the ERP
    channel on with ``amqp_url`` (empty: off), the read API on, SQLite in ``data_dir``."""
    return {
        "server": {"bind": bind, "certfile": f"{certs}/server.pem", "keyfile": f"{certs}/server.key"},
        "storage": {"data_dir": data_dir},
        "api": {"token": credentials.api_token},
        "stock": {"enabled": True, "credential_headers": dict(credentials.stock_headers)},
        "s360": {"enabled": True, "auth": "API_KEY", "login": S360_KEY_HEADER, "password": credentials.s360_key},
        "servicemobility": {"enabled": True, "jwt": "hs256", "secret": credentials.servicemobility_secret},
        "erp": {"enabled": bool(amqp_url), "amqp_url": amqp_url},
    }


COMMENTS: dict[str, str] = {
    "server": "HTTPS with the certificate the local CA certs/ca.pem issued for localhost and 127.0.0.1",
    "storage": "SQLite file data/receiver.db; PostgreSQL: url = \"postgresql://user:password@host:5432/db\"",
    "api": "the read API and state probe (GET /api/..., Authorization: Bearer <token>)",
    "stock": "the stock push: POST /stock-push with both credential headers",
    "s360": "the S-360 inventory webhook: POST /s360/inventory with the key in the x-api-key header",
    "servicemobility": "the ServiceMobility webhooks: POST /servicemobility/<Type>/, x-access-token signed HS256",
    "erp": "the ERP channel: `inventory-receiver consume` needs an AMQP broker at amqp_url (check-config\n"
           "# checks it). Without one, set enabled = false (and drop the CONTRACT_AMQP_URL line of sender.env)",
}


# Keys left at their default, shown commented after a section's own keys (uncommenting one keeps it there).
COMMENTED: dict[str, tuple[str, ...]] = {
    "storage": ("# migrate_on_start = true  # false: serve and consume refuse a database behind this release's "
                "schema\n#                          (exit code 9): run `inventory-receiver migrate` first",
                "# connect_timeout = 5      # PostgreSQL: seconds a new connection may take"),
    "api": ("# GET /metrics (Prometheus) takes this token too; give it one of its own with [metrics] token",),
    "erp": ("# health_port = 9101  # consume: /healthz, /readyz and /metrics on 127.0.0.1:9101 (default 0: off)",),
}


def receiver_toml(config: Mapping[str, Mapping[str, Any]]) -> str:
    """The configuration file init writes: the sections with what each is for."""
    lines = ["# inventory-receiver configuration for a first run, written by `inventory-receiver init`.",
             "# Relative paths are read from this file's folder. Every key, with its default: example.toml",
             "# in the receiver package. The secrets were generated at random; sender.env has the senders'",
             "# copy. In production keep them out of this file: RECEIVER_<SECTION>_<KEY> overrides any key.", ""]
    for name, values in config.items():
        if name in COMMENTS:
            lines.append(f"# {COMMENTS[name]}")
        lines.append(f"[{name}]")
        tables = {k: v for k, v in values.items() if isinstance(v, Mapping)}
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items() if key not in tables]
        for key, table in tables.items():
            lines.append(f"[{name}.{key}]")
            lines += [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in table.items()]
        lines += COMMENTED.get(name, ())
        lines.append("")
    return "\n".join(lines)


def base_url(bind: str) -> str:
    """The URL senders use for ``[server] bind`` (a wildcard address is reached at 127.0.0.1)."""
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    host = "127.0.0.1" if host in ("", "0.0.0.0") else "[::1]" if host == "::" else host  # noqa: S104
    return f"https://{f'[{host}]' if ':' in host and not host.startswith('[') else host}:{port}"


def sender_env(credentials: Credentials, *, url: str, ca: Path, amqp_url: str) -> str:
    """``sender.env``: shell variables for the simulator commands, and the contract suite's own."""
    values = {
        "BASE_URL": url, "CA_BUNDLE": str(ca),
        "STOCK_USER": credentials.stock_headers["X-Stock-User"], "STOCK_KEY": credentials.stock_headers["X-Stock-Key"],
        "S360_AUTH": credentials.s360_auth, "SM_SECRET": credentials.servicemobility_secret,
        "API_TOKEN": credentials.api_token, "AMQP_URL": amqp_url,
    }
    contract = {
        "CONTRACT_RECEIVER_URL": "$BASE_URL", "CONTRACT_CA_BUNDLE": "$CA_BUNDLE",
        "CONTRACT_STATE_PROBE": "$BASE_URL/api", "CONTRACT_STATE_PROBE_HEADER": "Authorization: Bearer $API_TOKEN",
        "CONTRACT_STOCK_PATH": stock.Config().path,
        "CONTRACT_STOCK_HEADER": "X-Stock-User: $STOCK_USER\nX-Stock-Key: $STOCK_KEY",
        "CONTRACT_S360_PATH": s360.Config().path, "CONTRACT_S360_AUTH": "$S360_AUTH",
        "CONTRACT_SERVICEMOBILITY_BASE": servicemobility.Config().base, "CONTRACT_SERVICEMOBILITY_SECRET": "$SM_SECRET",
        "CONTRACT_SERVICEMOBILITY_EVALUATES_JWT": "1",
    }
    lines = ["# What the senders need to reach the receiver of receiver.toml, written by `inventory-receiver init`.",
             "# `. ./sender.env` sets them in a shell: the simulator commands of README.md use the first ones,",
             "# the contract suite reads the exported CONTRACT_* ones. It holds the receiver's secrets: keep it",
             "# as private as receiver.toml.", ""]
    lines += [f"{key}={shlex.quote(value)}" for key, value in values.items()]
    lines.append("")
    lines += [f'export {key}="{value}"' for key, value in contract.items()]
    if amqp_url:
        lines.append("# the ERP checks need `inventory-receiver consume` running on the broker")
        lines.append('export CONTRACT_AMQP_URL="$AMQP_URL"')
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Written:
    directory: Path
    tls: TLSFiles
    config: Path
    sender_env: Path
    credentials: Credentials
    url: str


def planned(directory: Path) -> list[Path]:
    """Every file init writes into ``directory``."""
    tls = tls_files(directory / "certs")
    return [tls.ca, tls.cert, tls.key, directory / "receiver.toml", directory / "sender.env"]


def init(directory: Path, *, force: bool = False, bind: str = DEFAULT_BIND,
         amqp_url: str = DEFAULT_AMQP_URL) -> Written:
    """Write the first run's files into ``directory``; ConfigError (nothing written) when one exists
    and ``force`` is false."""
    directory = directory.resolve()
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} is not a folder: give the folder to write the first run's files into")
    existing = [path for path in planned(directory) if path.exists()]
    if existing and not force:
        raise FileExistsError(f"{existing[0]} exists already ({len(existing)} of the files init writes do): nothing "
                              "was written; pass --force to overwrite them, or give another folder")
    credentials = Credentials.generate()
    tls = write_tls(directory / "certs")
    config = directory / "receiver.toml"
    _write_private(config, receiver_toml(sections(credentials, bind=bind, amqp_url=amqp_url)).encode("utf-8"))
    url = base_url(bind)
    env = directory / "sender.env"
    _write_private(env, sender_env(credentials, url=url, ca=tls.ca, amqp_url=amqp_url).encode("utf-8"))
    return Written(directory, tls, config, env, credentials, url)


def _write_private(path: Path, content: bytes) -> None:
    """Write a file only its owner can read (also when it existed with wider permissions)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(content)


def summary(written: Written) -> str:
    """What init printed: the files, the secrets (shown this once), what to run next."""
    creds, here = written.credentials, written.directory
    config = written.config
    with contextlib.suppress(ValueError):  # shown relative to where init was run, when it is below
        config = config.relative_to(Path.cwd())
    return "\n".join([
        f"wrote {written.tls.ca} (the local CA: what senders trust), {written.tls.cert}, {written.tls.key}",
        f"wrote {written.config} (every HTTP channel and the ERP channel enabled, SQLite in {here / 'data'})",
        f"wrote {written.sender_env} (what the simulator and the contract suite need: `. {written.sender_env}`)",
        "generated secrets (shown only now; they are in both files):",
        *(f"  stock push        {name}: {value}" for name, value in creds.stock_headers.items()),
        f"  S-360 webhook     {S360_KEY_HEADER}: {creds.s360_key}",
        f"  ServiceMobility   HS256 secret: {creds.servicemobility_secret}",
        f"  read API          Authorization: Bearer {creds.api_token}",
        "next:",
        f"  inventory-receiver --config {config} check-config",
        f"  inventory-receiver --config {config} serve      # HTTPS on {written.url}",
        f"  inventory-receiver --config {config} consume    # the ERP consumer (needs the broker)",
    ])

"""``inventory-receiver``: serve the receiver, check its configuration, re-apply a rejected delivery."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from . import logs, storage
from .channels import CHANNELS
from .config import Config, load_config, masked
from .errors import ConfigError, ReceiverError

log = logging.getLogger("receiver")


def _config(args: argparse.Namespace) -> Config:
    config = load_config(args.config, os.environ)
    logs.configure_from(config)  # [server] log_format and log_level, secrets masked
    server: dict[str, Any] = {}
    if getattr(args, "bind", None):
        server["bind"] = args.bind
    if getattr(args, "insecure_http", False):
        server["insecure_http"] = True
    return config.replace(server=server) if server else config


def cmd_serve(args: argparse.Namespace) -> int:
    from receiver.server import serve  # gunicorn is only needed here

    serve(_config(args))
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _config(args)
    print(json.dumps(masked(config), indent=2))
    print(f"storage: {storage.masked_url(config.storage_url)}", file=sys.stderr)
    return 0


def _store(config: Config) -> storage.Store:
    """The configured store with its schema in place (created when missing)."""
    store = storage.Store.from_config(config.storage)
    store.create_schema()
    return store


def cmd_init_db(args: argparse.Namespace) -> int:
    store = _store(_config(args))
    print(f"schema ready in {store.describe()}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Upgrade the configured database's schema in place to this release's revision."""
    config = _config(args)
    store = storage.Store.from_config(config.storage)
    before, after = store.create_schema()
    if before == after:
        print(f"schema already at revision {after} in {store.describe()}")
    else:
        print(f"schema upgraded from revision {before or 'none (empty database)'} to {after} in {store.describe()}")
    return 0


def cmd_reapply(args: argparse.Namespace) -> int:
    """Run a rejected delivery's stored body through its channel again (after a fix)."""
    config = _config(args)
    store = _store(config)
    with store.read() as conn:
        row = storage.get_delivery(conn, args.delivery_id)
    if row is None:
        print(f"no delivery {args.delivery_id}", file=sys.stderr)
        return 2
    if row.raw_body is None:
        print(f"delivery {args.delivery_id} ({row.outcome}) has no stored body to re-apply", file=sys.stderr)
        return 2
    channel = CHANNELS[row.channel]
    try:
        receipt = channel.receive(store, config.section(row.channel), row.raw_body, content_type=row.content_type,
                                  reason=f"re-applied from delivery {args.delivery_id}")
    except ReceiverError as exc:
        print(json.dumps({"status": exc.status, "message": exc.message, "problems": exc.problems}, indent=2))
        return 1
    print(json.dumps(receipt.to_json(), indent=2))
    return 0


def cmd_consume(args: argparse.Namespace) -> int:
    """Run the ERP AMQP consumer (receiver/amqp.py) until SIGTERM/SIGINT."""
    from . import amqp  # pika is only needed here

    config = _config(args)
    if not config.erp.amqp_url:
        print("configuration error: [erp] amqp_url is empty: set it, or RECEIVER_ERP_AMQP_URL", file=sys.stderr)
        return 2
    return amqp.consume(config.erp, _store(config))


def cmd_write_contracts(args: argparse.Namespace) -> int:
    """Write the published documents (JSON Schema, OpenAPI, AsyncAPI) into a directory."""
    from pathlib import Path

    from . import contracts  # apispec is needed only here

    for path in contracts.write(Path(args.directory)):
        print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inventory-receiver", description=__doc__)
    parser.add_argument("--config", "-c", help="TOML configuration file (default: $RECEIVER_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the receiver (gunicorn, HTTPS)")
    serve.add_argument("--bind", help="address:port, overrides [server] bind")
    serve.add_argument("--insecure-http", action="store_true",
                       help="serve plain HTTP (the stock-push document requires SSL)")
    serve.set_defaults(run=cmd_serve)
    sub.add_parser("check-config", help="print the effective configuration, secrets masked").set_defaults(
        run=cmd_check_config)
    sub.add_parser("init-db", help="create the tables, or upgrade them to this release's schema"
                   ).set_defaults(run=cmd_init_db)
    sub.add_parser("migrate", help="upgrade the database's schema in place to this release's revision"
                   ).set_defaults(run=cmd_migrate)
    reapply = sub.add_parser("reapply", help="re-apply a rejected delivery's stored body")
    reapply.add_argument("delivery_id", type=int)
    reapply.set_defaults(run=cmd_reapply)
    sub.add_parser("consume", help="consume the ERP's AMQP queues into the store (until SIGTERM/SIGINT)"
                   ).set_defaults(run=cmd_consume)
    write = sub.add_parser("write-contracts", help="write the published JSON Schemas, OpenAPI and AsyncAPI "
                           "documents into DIRECTORY (default docs/contracts)")
    write.add_argument("directory", nargs="?", default="docs/contracts")
    write.set_defaults(run=cmd_write_contracts)
    return parser


def main(argv: list[str] | None = None) -> int:
    logs.configure()  # until the configuration says otherwise
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

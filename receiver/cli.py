"""``inventory-receiver``: serve the receiver, check its configuration, re-apply a rejected delivery."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from receiver import amqp, storage
from receiver.app import CHANNELS
from receiver.config import Config, ConfigError, load_config
from receiver.errors import ReceiverError

log = logging.getLogger("receiver")


def _config(args: argparse.Namespace) -> Config:
    config = load_config(args.config, os.environ)
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
    print(json.dumps(_masked(config), indent=2))
    print(f"storage: {_described(config.storage_url)}", file=sys.stderr)
    return 0


def cmd_init_db(args: argparse.Namespace) -> int:
    config = _config(args)
    store = storage.Store(config.storage_url, busy_timeout_ms=config.storage.busy_timeout_ms)
    store.create_schema()
    print(f"schema ready in {store.describe()}")
    return 0


def cmd_reapply(args: argparse.Namespace) -> int:
    """Run a rejected delivery's stored body through its channel again (after a fix)."""
    config = _config(args)
    store = storage.Store(config.storage_url, busy_timeout_ms=config.storage.busy_timeout_ms)
    store.create_schema()
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
        result = channel.reapply(store, getattr(config, row.channel), row.raw_body,
                                 content_type=row.content_type,
                                 reason=f"re-applied from delivery {args.delivery_id}")
    except ReceiverError as exc:
        print(json.dumps({"status": exc.status, "message": exc.message, "problems": exc.problems}, indent=2))
        return 1
    print(json.dumps(result, indent=2))
    return 0


# --- erp ---------------------------------------------------------------------------------------------
def cmd_consume(args: argparse.Namespace) -> int:
    """Run the ERP AMQP consumer (receiver/amqp.py) until SIGTERM/SIGINT."""
    config = _config(args)
    if not config.erp.amqp_url:
        print("configuration error: [erp] amqp_url is empty: set it, or RECEIVER_ERP_AMQP_URL", file=sys.stderr)
        return 2
    store = storage.Store(config.storage_url, busy_timeout_ms=config.storage.busy_timeout_ms)
    store.create_schema()
    return amqp.consume(config.erp, store)


# --- end erp -----------------------------------------------------------------------------------------


def _masked(config: Config) -> dict[str, Any]:
    import dataclasses

    document = dataclasses.asdict(config)
    document["api"]["token"] = "***" if config.api.token else ""
    document["stock"]["credential_headers"] = dict.fromkeys(config.stock.credential_headers, "***")
    document["erp"]["amqp_url"] = amqp.masked_url(config.erp.amqp_url)  # erp: broker credentials
    document["servicemobility"]["secret"] = "***" if config.servicemobility.secret else ""
    document["s360"]["password"] = "***" if config.s360.password else ""  # s360: password or API key
    if config.servicemobility.jwks_url:  # may carry credentials in its user part or query
        parts = urlsplit(config.servicemobility.jwks_url)
        document["servicemobility"]["jwks_url"] = f"{parts.scheme}://{parts.hostname}{parts.path}" + (
            "?***" if parts.query else "")
    if config.storage.url:
        document["storage"]["url"] = _described(config.storage.url)
    return document


def _described(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(not a database URL)"


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
    sub.add_parser("init-db", help="create the tables").set_defaults(run=cmd_init_db)
    reapply = sub.add_parser("reapply", help="re-apply a rejected delivery's stored body")
    reapply.add_argument("delivery_id", type=int)
    reapply.set_defaults(run=cmd_reapply)
    sub.add_parser("consume", help="consume the ERP's AMQP queues into the store (until SIGTERM/SIGINT)"
                   ).set_defaults(run=cmd_consume)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

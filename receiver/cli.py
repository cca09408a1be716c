"""``inventory-receiver``: serve the receiver, check its configuration, re-apply a rejected delivery."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from . import logs, retention, storage
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
    store = storage.Store.from_config(config.storage, config.deliveries)
    store.create_schema()
    return store


def cmd_init_db(args: argparse.Namespace) -> int:
    store = _store(_config(args))
    print(f"schema ready in {store.describe()}")
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
        print(f"delivery {args.delivery_id} ({row.outcome}) has no stored body to re-apply: [deliveries] "
              "keep_bodies did not keep it, or retention pruned it", file=sys.stderr)
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


def cmd_prune(args: argparse.Namespace) -> int:
    """Remove what [retention] no longer keeps, now, and say how much of each kind went."""
    config = _config(args)
    store = _store(config)
    try:
        report = retention.prune(store, config.retention, wait=True)
    finally:
        store.dispose()
    for kind in retention.RetentionConfig.KINDS:
        days = config.retention.days(kind)
        kept = f"older than {days:g} days" if days else "kept for ever"
        print(f"{kind}: {report.removed.get(kind, 0)} removed ({kept})")
    return 0


def cmd_resend(args: argparse.Namespace) -> int:
    """Send a stored delivery again, byte for byte, to another receiver with its own credentials."""
    from pathlib import Path

    from . import resend  # the sending side: only this command needs it

    config = _config(args)
    try:
        headers = dict(line.split(":", 1) for line in args.header)
        private_key = Path(args.jwt_private_key).read_text() if args.jwt_private_key else ""
    except ValueError:
        print("--header must be 'Name: value'", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"--jwt-private-key: {exc.strerror}: {args.jwt_private_key}", file=sys.stderr)
        return 2
    target = resend.Target(
        args.to, headers={k.strip(): v.strip() for k, v in headers.items()}, s360_auth=args.s360_auth,
        jwt_secret=args.jwt_secret or "", jwt_private_key=private_key,
        ca_bundle=False if args.insecure else (args.ca_bundle or True))
    store = _store(config)
    try:
        result = resend.resend(store, args.delivery_id, target)
    except resend.ResendError as exc:
        print(f"resend failed: {exc}", file=sys.stderr)
        return 2 if exc.nothing_to_send else 1
    finally:
        store.dispose()
    print(f"delivery {result.delivery} sent to {result.target}: {result.status} (recorded as resend "
          f"{result.resend})")
    print(result.body.decode("utf-8", "replace")[:2000])
    return 0 if 200 <= result.status < 300 else 1


def cmd_consume(args: argparse.Namespace) -> int:
    """Run the ERP AMQP consumer (receiver/amqp.py) until SIGTERM/SIGINT."""
    from . import amqp  # pika is only needed here

    config = _config(args)
    if not config.erp.amqp_url:
        print("configuration error: [erp] amqp_url is empty: set it, or RECEIVER_ERP_AMQP_URL", file=sys.stderr)
        return 2
    store = _store(config)
    retention.start_background(store, config.retention)  # pruning, as every served worker does
    return amqp.consume(config.erp, store)


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
    sub.add_parser("init-db", help="create the tables").set_defaults(run=cmd_init_db)
    reapply = sub.add_parser("reapply", help="re-apply a rejected delivery's stored body")
    reapply.add_argument("delivery_id", type=int)
    reapply.set_defaults(run=cmd_reapply)
    resend_cmd = sub.add_parser("resend", help="send a stored delivery again, byte for byte, to another receiver "
                                "(e.g. staging), with the target's credentials and a fresh token")
    resend_cmd.add_argument("delivery_id", type=int)
    resend_cmd.add_argument("--to", required=True, metavar="URL", help="the target endpoint's full URL")
    resend_cmd.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                            help="stock push: a credential header of the target (repeat for each)")
    resend_cmd.add_argument("--s360-auth", default="none",
                            help="S-360: none, basic:LOGIN:PASSWORD or api-key:HEADER:KEY")
    resend_cmd.add_argument("--jwt-secret", help="ServiceMobility: sign a fresh HS256 x-access-token with it")
    resend_cmd.add_argument("--jwt-private-key", metavar="PEM_FILE",
                            help="ServiceMobility: sign a fresh RS256/ES256 x-access-token with it")
    resend_cmd.add_argument("--ca-bundle", metavar="FILE", help="CA file to trust for the target's certificate")
    resend_cmd.add_argument("--insecure", action="store_true", help="do not verify the target's certificate")
    resend_cmd.set_defaults(run=cmd_resend)
    sub.add_parser("prune", help="remove what [retention] no longer keeps, now, and print what went per kind"
                   ).set_defaults(run=cmd_prune)
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

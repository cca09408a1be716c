"""inventory-receiver: the reference receiver of the inventory push kit. Write a first run's files
(init), check a configuration (check-config), serve the HTTP channels (serve), consume the ERP queues
(consume), create the tables (init-db), re-apply a rejected delivery (reapply), write the published
contracts (write-contracts)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from . import logs, retention, startup, storage
from .channels import CHANNELS
from .config import Config, load_config, masked
from .errors import ConfigError, ReceiverError, StorageFailure
from .startup import ExitCode, StartupError
from .web import Receipt

log = logging.getLogger("inventory_push_kit.receiver")


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
    from inventory_push_kit.receiver.server import serve  # gunicorn is only needed here

    serve(_config(args))
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    """Everything serve and consume would fail on, then what would be served."""
    config = _config(args)
    server = config.server
    checks = [startup.check_tls(server), startup.check_bind(server.bind, listening_is_fatal=False)]
    built = startup.build(config)
    if args.offline:
        checks.append(f"storage: {storage.masked_url(config.storage_url)} (not connected: --offline)")
    else:
        checks.append(startup.check_storage(config.storage, create_schema=False))
    erp = config.section("erp")
    if erp.enabled and not args.offline:
        checks += startup.check_broker(erp)
    elif erp.enabled:
        checks.append(f"broker: {storage.masked_url(erp.amqp_url)} (not connected: --offline)")
    queues = startup.queues(erp) if erp.enabled else []
    if args.json:
        print(json.dumps({"config": masked(config), "checks": checks, "warnings": built.warnings,
                          "endpoints": built.endpoints, "queues": queues}, indent=2))
        return ExitCode.OK
    source = args.config or os.environ.get("RECEIVER_CONFIG") or "(no file: defaults and RECEIVER_* variables)"
    print(f"configuration: {source}")
    print("effective settings (secrets masked):")
    print(json.dumps(masked(config), indent=2))
    print("checked:")
    print("\n".join(f"  ok  {line}" for line in checks))
    for warning in built.warnings:
        print(f"  warning: {warning}")
    pushes = startup.push_endpoints(built.endpoints)
    if not pushes:
        print("  warning: NO CHANNEL IS ENABLED: serve would accept no pushes; set enabled = true in [stock], "
              "[s360] or [servicemobility]")
    print(f"serve: {len(built.endpoints)} endpoint(s) on {server.bind}")
    print("\n".join(f"  {line}" for line in built.endpoints))
    if queues:
        print("consume: 2 queue(s)")
        print("\n".join(f"  {line}" for line in queues))
    else:
        print("consume: the ERP channel is off ([erp] enabled = false)")
    print("configuration OK")
    return ExitCode.OK


def _store(config: Config) -> storage.Store:
    """The configured store with its schema in place (created when missing); StartupError when it
    cannot be reached."""
    startup.check_storage(config.storage, create_schema=True)
    return storage.Store.from_config(config.storage, config.deliveries)


def cmd_init_db(args: argparse.Namespace) -> int:
    print(startup.check_storage(_config(args).storage, create_schema=True, upgrade=True))
    return 0


class NotReapplicable(Exception):
    """The delivery does not exist, or has no stored body to run again."""


def reapply(store: storage.Store, config: Config, delivery_id: int) -> Receipt:
    """Run a delivery's stored body through its channel's ``receive`` again, recorded as a new delivery
    (``reapply`` and the inspector's button both come here). Raises :class:`NotReapplicable`, or the
    channel's :class:`ReceiverError` when the body is refused again."""
    with store.read() as conn:
        row = storage.get_delivery(conn, delivery_id)
    if row is None:
        raise NotReapplicable(f"no delivery {delivery_id}")
    if row.raw_body is None:
        raise NotReapplicable(f"delivery {delivery_id} ({row.outcome}) has no stored body to re-apply: "
                              "[deliveries] keep_bodies did not keep it, or retention pruned it")
    channel = CHANNELS[row.channel]
    return channel.receive(store, config.section(row.channel), row.raw_body, content_type=row.content_type,
                           reason=f"re-applied from delivery {delivery_id}")


def cmd_init(args: argparse.Namespace) -> int:
    """Write a local CA and certificate, a receiver.toml and a sender.env into DIR."""
    from . import init  # trustme is needed only here

    try:
        written = init.init(Path(args.directory), force=args.force, bind=args.bind, amqp_url=args.amqp_url)
    except FileExistsError as exc:
        print(f"inventory-receiver init: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    print(init.summary(written))
    return ExitCode.OK


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
    try:
        receipt = reapply(_store(config), config, args.delivery_id)
    except NotReapplicable as exc:
        print(exc, file=sys.stderr)
        return ExitCode.USAGE
    except ReceiverError as exc:
        print(json.dumps({"status": exc.status, "message": exc.message, "problems": exc.problems}, indent=2))
        return ExitCode.FAILED
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
    from . import amqp, metrics  # pika is only needed here

    config = _config(args)
    if not config.erp.amqp_url:
        raise ConfigError("[erp] amqp_url is empty: set it, or RECEIVER_ERP_AMQP_URL")
    os.environ.pop(metrics.MULTIPROC_ENV, None)  # one process: its metrics are kept in memory, not in serve's files
    store = _store(config)
    consumers: list[amqp.Consumer] = []
    port = _health_port(config, store, consumers) if config.erp.health_port else None
    retention.start_background(store, config.retention)  # pruning, as every served worker does
    try:
        code = amqp.consume(config.erp, store, events=metrics.ConsumerMetrics(), started=consumers.append)
    finally:
        if port is not None:
            port.stop()
    return ExitCode.QUEUES if code == 2 else code  # 2: the queues exist with other arguments


def _health_port(config: Config, store: storage.Store, consumers: list[Any]) -> Any:
    """``[erp] health_port``: /healthz, /readyz (consuming, and the database ready) and /metrics."""
    from . import health, metrics

    erp = config.erp
    shown = storage.masked_url(erp.amqp_url)

    def problems() -> dict[str, str]:
        found = {} if consumers and consumers[0].consuming.is_set() else {
            "broker": f"not consuming from {shown} (connecting, or reconnecting after a lost connection)"}
        return found | health.database_problems(store)

    try:
        port = health.HealthServer(erp.health_host, erp.health_port, problems, metrics.scrape(config))
    except OSError as exc:
        raise StartupError(f"[erp] health_port {erp.health_port} on {erp.health_host}: cannot listen there "
                           f"({exc.strerror}): choose another port, or 0 to turn it off",
                           ExitCode.ADDRESS_IN_USE) from None
    port.start()
    log.info("erp: health port http://%s (/healthz, /readyz, /metrics)", port.address)
    return port


def cmd_write_contracts(args: argparse.Namespace) -> int:
    """Write the published documents (JSON Schema, OpenAPI, AsyncAPI) into a directory."""
    from . import contracts  # apispec is needed only here

    for path in contracts.write(Path(args.directory)):
        print(path)
    return 0


DISTRIBUTION = "inventory-push-kit"


def _version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inventory-receiver", description=__doc__, epilog=startup.EXIT_CODES_HELP, allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()} ({DISTRIBUTION})")
    parser.add_argument("--config", "-c", metavar="FILE",
                        help="the TOML configuration file (default: $RECEIVER_CONFIG; without either, the "
                        "defaults and RECEIVER_<SECTION>_<KEY> variables); its relative paths are read from "
                        "its own folder")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Any, help: str, description: str | None = None) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help, description=description or help, epilog=startup.EXIT_CODES_HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
        parser.set_defaults(run=run)
        return parser

    init = command("init", cmd_init, "write what a first run needs: local CA and certificate, receiver.toml, "
                   "sender.env", description="Write into DIR: certs/ca.pem (a local CA), certs/server.pem and "
                   "certs/server.key (its certificate for localhost and 127.0.0.1), receiver.toml (every channel "
                   "enabled, random credentials, SQLite in DIR/data) and sender.env (the same credentials for "
                   "the simulator and the contract suite, as shell variables). The secrets are printed once. "
                   "Nothing is overwritten without --force.")
    init.add_argument("directory", nargs="?", default=".", metavar="DIR",
                      help="the folder to write into (default: the current folder)")
    init.add_argument("--force", action="store_true", help="overwrite the files init writes when they exist")
    from .init import DEFAULT_AMQP_URL, DEFAULT_BIND

    init.add_argument("--bind", default=DEFAULT_BIND, metavar="ADDRESS:PORT",
                      help=f"where serve will listen, written as [server] bind (default {DEFAULT_BIND})")
    init.add_argument("--amqp-url", default=DEFAULT_AMQP_URL, metavar="URL",
                      help=f"the ERP channel's broker, written as [erp] amqp_url (default {DEFAULT_AMQP_URL}); "
                      "an empty value writes the ERP channel off")

    check = command("check-config", cmd_check_config, "check everything serve and consume need, and list what "
                    "they would serve", description="Check the configuration as serve and consume would: the "
                    "certificate and key (readable, matching, not expired), each channel's keys and secrets "
                    "(the same checks as a worker's start), the storage URL and a real connection to the "
                    "database, and the broker when the ERP channel is enabled. Then print the effective "
                    "settings (secrets masked), the endpoints serve would answer and the queues consume would "
                    "consume. The first problem found is one line on stderr, with its exit code.")
    check.add_argument("--offline", action="store_true",
                       help="do not connect to the database or the broker (check the files and settings only)")
    check.add_argument("--json", action="store_true",
                       help="print one JSON object (config, checks, warnings, endpoints, queues) instead of text")

    serve = command("serve", cmd_serve, "run the receiver: the HTTP channels over HTTPS (gunicorn)",
                    description="Check what check-config checks (but the broker), create the tables, log the "
                    "endpoints served, then serve until SIGTERM or SIGINT.")
    serve.add_argument("--bind", metavar="ADDRESS:PORT", help="where to listen, overrides [server] bind")
    serve.add_argument("--insecure-http", action="store_true",
                       help="serve plain HTTP, overrides [server] insecure_http (the stock-push document requires "
                       "SSL: only behind a TLS-terminating proxy or for local tests)")

    command("consume", cmd_consume, "consume the ERP's AMQP queues into the store (until SIGTERM/SIGINT)",
            description="Consume [erp] customer_queue and subscription_queue from [erp] amqp_url into the store, "
                        "acknowledging each batch after its commit; reconnects with a capped back-off.")
    command("init-db", cmd_init_db, "create the tables in the configured store, or upgrade them to this release's "
            "schema (serve and consume also do)")
    command("migrate", cmd_migrate, "upgrade the database's schema in place to this release's revision")
    reapply = command("reapply", cmd_reapply, "re-apply a rejected delivery's stored body",
                      description="Run the stored body of a rejected delivery through its channel again (after "
                      "a fix of the receiver or its configuration) and print the new answer. The delivery log "
                      "(GET /api/deliveries?outcome=rejected) lists the rejected deliveries and their ids.")
    reapply.add_argument("delivery_id", type=int, metavar="DELIVERY_ID", help="the id of the rejected delivery")
    resend_cmd = command("resend", cmd_resend, "send a stored delivery again, byte for byte, to another receiver "
                         "(e.g. staging), with the target's credentials and a fresh token")
    resend_cmd.add_argument("delivery_id", type=int, metavar="DELIVERY_ID", help="the id of the stored delivery")
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
    command("prune", cmd_prune, "remove what [retention] no longer keeps, now, and print what went per kind")
    write = command("write-contracts", cmd_write_contracts, "write the published JSON Schemas, OpenAPI and "
                    "AsyncAPI documents into a folder")
    write.add_argument("directory", nargs="?", default="docs/contracts", metavar="DIR",
                       help="the folder to write into (default docs/contracts)")
    return parser


def main(argv: list[str] | None = None) -> int:
    logs.configure()  # until the configuration says otherwise
    args = build_parser().parse_args(argv)
    name = f"inventory-receiver {args.command}"
    try:
        return int(args.run(args) or 0)
    except ConfigError as exc:
        print(f"{name}: configuration error: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    except StartupError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return exc.code
    except StorageFailure as exc:
        print(f"{name}: {exc}: start the database or fix [storage] url (RECEIVER_STORAGE_URL)", file=sys.stderr)
        return ExitCode.STORAGE


if __name__ == "__main__":
    sys.exit(main())

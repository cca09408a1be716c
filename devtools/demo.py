"""``make demo``: the whole kit on one machine, in under a minute.

Generates a local CA and server certificate, starts the receiver over HTTPS on embedded SQLite, runs
each platform's simulator scenario (conforming and malformed pushes) against it, runs the contract suite
against it, prints a summary table, stops the receiver. Exits 0 when every answer and every contract
check was as expected.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.junit import outcomes
from devtools.serving import RunningReceiver, broker_reachable, make_tls, running_consumer, running_receiver
from inventory_push_kit.receiver.init import Credentials, sections

ROOT = Path(__file__).resolve().parent.parent
WORKDIR = ROOT / "demo-run"
# Random credentials of this run, as `inventory-receiver init` makes them.
CREDENTIALS = Credentials.generate()
API_TOKEN = CREDENTIALS.api_token
STOCK_CREDENTIALS = CREDENTIALS.stock_headers
STOCK_MAX_BODY = 8 * 1024 * 1024  # small, so the oversize case is quick to send
S360_PATH = "/s360/inventory"
S360_AUTH = CREDENTIALS.s360_auth  # as set on the interface in S-360's back office
SM_BASE = "/servicemobility"
SM_SECRET = CREDENTIALS.servicemobility_secret
AMQP_URL = os.environ.get("DEMO_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
ERP_QUEUES = {"customer_queue": "demo.secom-customer-queue", "subscription_queue": "demo.secom-subscriptions-queue"}


@dataclass
class ChannelRun:
    """One line of the summary."""

    channel: str
    sent: int = 0
    as_expected: int = 0
    unexpected: list[str] = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""


def receiver_config(with_erp: bool) -> dict[str, dict[str, Any]]:
    """The configuration `inventory-receiver init` writes, with the demo's own queues and a small stock
    body limit (running_receiver fills in the address and the certificate)."""
    config = sections(CREDENTIALS, amqp_url=AMQP_URL if with_erp else "", data_dir=str(WORKDIR / "data"))
    config["server"] = {"workers": 2}
    config["stock"]["max_body_bytes"] = STOCK_MAX_BODY
    config["erp"].update(ERP_QUEUES)
    return config


def run_stock(receiver: RunningReceiver) -> ChannelRun:
    from inventory_push_kit.simulator.stock import StockPlatform, run_scenario

    platform = StockPlatform(f"{receiver.url}/stock-push", credentials=STOCK_CREDENTIALS,
                             ca_bundle=str(receiver.ca))
    try:
        results = run_scenario(platform, "all", rows=2000, deltas=3, seed=int(time.time()),
                               max_body_bytes=STOCK_MAX_BODY)
    finally:
        platform.close()
    run = ChannelRun("stock push", sent=len(results))
    run.as_expected = sum(r.ok for r in results)
    run.unexpected = [f"{r.name}: {r.status} (expected {r.expected.describe()})" for r in results if not r.ok]
    run.note = f"{sum(r.items for r in results if r.ok and r.status == 200):,} rows accepted"
    return run


def run_s360(receiver: RunningReceiver) -> ChannelRun:
    from inventory_push_kit.simulator.s360 import Auth, FakeClock, run_scenario

    results = run_scenario(f"{receiver.url}{S360_PATH}", auth=Auth.parse(S360_AUTH), scenario="all", products=150,
                           batch_size=50, clock=FakeClock(), seed=int(time.time()), ca_bundle=str(receiver.ca))
    run = ChannelRun("S-360 webhook", sent=len(results), as_expected=sum(r.ok for r in results))
    run.unexpected = [f"{r.name}: {r.status or r.error} (expected {r.expected.describe()})"
                      for r in results if not r.ok]
    run.note = f"{sum(r.items for r in results if r.ok and r.status == 200):,} products accepted"
    return run


def run_servicemobility(receiver: RunningReceiver) -> ChannelRun:
    from inventory_push_kit.simulator.servicemobility import ServiceMobilityPlatform, TokenSigner, run_scenario

    platform = ServiceMobilityPlatform(f"{receiver.url}{SM_BASE}", signer=TokenSigner(SM_SECRET),
                                       ca_bundle=str(receiver.ca))
    try:
        results = run_scenario(platform, "all", events=3, seed=int(time.time()), evaluates_tokens=True)
    finally:
        platform.close()
    run = ChannelRun("ServiceMobility", sent=len(results), as_expected=sum(r.ok for r in results))
    run.unexpected = [f"{r.name}: {r.status} (expected {r.expected.describe()})" for r in results if not r.ok]
    run.note = "9 event types, JWT HS256 evaluated, token attacks refused"
    return run


def run_erp(_receiver: RunningReceiver) -> ChannelRun:
    from inventory_push_kit.simulator.erp import ErpPublisher, ScenarioOptions, run_scenario

    with ErpPublisher(AMQP_URL, **ERP_QUEUES) as publisher:
        results = run_scenario(publisher, "all", ScenarioOptions(seed=int(time.time()) % 1000, duplicates=True))
        deadline = time.monotonic() + 60
        while any(publisher.declare_passive().values()) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = sum(publisher.declare_passive().values())
    run = ChannelRun("ERP over AMQP", sent=len(results), as_expected=sum(r.ok for r in results))
    run.unexpected = [f"{r.name}: {r.error}" for r in results if not r.ok]
    if left:
        run.unexpected.append(f"{left} message(s) still queued after 60 s")
    dead = sum(1 for r in results if r.expected.outcome == "dead-letter")
    run.note = f"all confirmed and consumed; {dead} poison message(s) dead-lettered by design"
    return run


CHANNELS: dict[str, Callable[[RunningReceiver], ChannelRun]] = {
    "stock": run_stock,
    "s360": run_s360,
    "servicemobility": run_servicemobility,
    "erp": run_erp,
}


def contract_args(receiver: RunningReceiver, with_erp: bool) -> list[str]:
    args = ["--receiver-url", receiver.url, "--ca-bundle", str(receiver.ca),
            "--state-probe", f"{receiver.url}/api", "--state-probe-header", f"Authorization: Bearer {API_TOKEN}",
            "--stock-max-body-bytes", str(STOCK_MAX_BODY),
            "--s360-path", S360_PATH, "--s360-auth", S360_AUTH,
            "--servicemobility-base", SM_BASE, "--servicemobility-secret", SM_SECRET,
            "--servicemobility-evaluates-jwt"]
    for name, value in STOCK_CREDENTIALS.items():
        args += ["--stock-header", f"{name}: {value}"]
    if with_erp:
        args += ["--amqp-url", AMQP_URL, "--erp-customer-queue", ERP_QUEUES["customer_queue"],
                 "--erp-subscription-queue", ERP_QUEUES["subscription_queue"]]
    return args


def run_contract(receiver: RunningReceiver, with_erp: bool) -> tuple[dict[str, dict[str, int]], float, int]:
    """The contract suite, exactly as a customer runs it; returns counts by level and outcome."""
    junit = WORKDIR / "contract-junit.xml"
    started = time.perf_counter()
    process = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "inventory_push_kit.contract_tests", "-q", "-p",
         "no:cacheprovider",
         f"--junitxml={junit}", *contract_args(receiver, with_erp)],
        cwd=WORKDIR, capture_output=True, text=True, timeout=600,
    )
    seconds = time.perf_counter() - started
    counts: dict[str, dict[str, int]] = {}
    for result in outcomes(junit) if junit.exists() else []:
        level = counts.setdefault(result.level, {})
        level[result.outcome] = level.get(result.outcome, 0) + 1
    if process.returncode != 0:
        print(process.stdout[-6000:], process.stderr[-2000:], sep="\n")
    return counts, seconds, process.returncode


def main() -> int:
    started = time.perf_counter()
    shutil.rmtree(WORKDIR / "data", ignore_errors=True)
    WORKDIR.mkdir(exist_ok=True)
    tls = make_tls(WORKDIR / "tls")
    print(f"local CA and server certificate in {WORKDIR / 'tls'}")
    with_erp = broker_reachable(AMQP_URL)
    runs: list[ChannelRun] = []
    with running_receiver(receiver_config(with_erp), WORKDIR, tls=tls) as receiver, contextlib.ExitStack() as stack:
        print(f"receiver up at {receiver.url} (HTTPS, SQLite in {WORKDIR / 'data'}), log: {receiver.log}")
        if with_erp:
            consumer_log = stack.enter_context(running_consumer(receiver.config_path, WORKDIR))
            print(f"ERP consumer up on {AMQP_URL.split('@')[-1]}, log: {consumer_log}")
        for name, run in CHANNELS.items():
            if name == "erp" and not with_erp:
                runs.append(ChannelRun("ERP over AMQP", note=f"SKIPPED: no AMQP broker at {AMQP_URL.split('@')[-1]}; "
                                       "start one (`rabbitmq-server -detached`) or set DEMO_AMQP_URL"))
                continue
            print(f"simulating the {name} platform …", flush=True)
            began = time.perf_counter()
            result = run(receiver)
            result.seconds = time.perf_counter() - began
            runs.append(result)
        print("running the contract suite against it …", flush=True)
        contract, contract_seconds, contract_code = run_contract(receiver, with_erp)

    print("\n" + "=" * 86)
    print(f"{'channel':<22}{'sent':>6}{'as expected':>13}{'unexpected':>12}{'time':>9}  note")
    print("-" * 86)
    for run in runs:
        print(f"{run.channel:<22}{run.sent:>6}{run.as_expected:>13}{len(run.unexpected):>12}"
              f"{run.seconds:>8.1f}s  {run.note}")
        for line in run.unexpected:
            print(f"{'':<22}! {line}")
    print("-" * 86)
    for level in ("MUST", "SHOULD"):
        tally = contract.get(level, {})
        print(f"{'contract ' + level:<22}{sum(tally.values()):>6}{tally.get('passed', 0):>13}"
              f"{tally.get('failed', 0):>12}{'':>9}  {tally.get('skipped', 0)} skipped")
    print(f"{'':<22}contract suite took {contract_seconds:.1f}s; junit report: {WORKDIR / 'contract-junit.xml'}")
    print("=" * 86)
    ok = contract_code == 0 and all(not run.unexpected for run in runs)
    print(f"demo {'passed' if ok else 'FAILED'} in {time.perf_counter() - started:.1f}s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

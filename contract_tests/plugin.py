"""The pytest plugin (entry point ``pytest11``): the contract suite's options, markers, report header,
a summary that separates MUST from SHOULD, and the fixtures every contract test (the suite's, or one a
customer writes) starts from: ``target``, ``probe``, and each channel's platform (``stock``, ``s360``,
``sm``, ``erp``) pointed at the receiver.

Options are prefixed and grouped under "inventory contract tests"; each has an environment fallback
(``CONTRACT_*``) so CI can configure the target without a long command line.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlsplit, urlunsplit

import pytest

from simulator.erp import (
    CUSTOMER_QUEUE,
    SUBSCRIPTION_QUEUE,
    BrokerInspector,
    BrokerUnreachableError,
    ErpPublisher,
    QueueMissingError,
)
from simulator.http import parse_header_lines
from simulator.s360 import DEFAULT_MAX_BODY_BYTES as S360_MAX_BODY_BYTES
from simulator.s360 import Auth, FakeClock, S360Platform
from simulator.servicemobility import ServiceMobilityPlatform, TokenSigner
from simulator.stock import DEFAULT_MAX_BODY_BYTES as STOCK_MAX_BODY_BYTES
from simulator.stock import StockPlatform

from .targets import ErpTarget, Probe, S360Target, SMTarget, StockTarget, Target

# option → (environment fallback, help)
OPTIONS: dict[str, tuple[str, str]] = {
    "--receiver-url": ("CONTRACT_RECEIVER_URL", "base URL of the receiver under test, e.g. https://host:8443"),
    "--ca-bundle": ("CONTRACT_CA_BUNDLE", "CA file to trust for the receiver's certificate (default: system)"),
    "--state-probe": ("CONTRACT_STATE_PROBE",
                      "base URL of the receiver's state probe (docs/state-probe.md); probe tests skip without it"),
    "--state-probe-header": ("CONTRACT_STATE_PROBE_HEADER",
                             "'Name: value' header sent to the state probe, e.g. 'Authorization: Bearer T'"),
    "--stock-path": ("CONTRACT_STOCK_PATH", "path of the stock push endpoint (default /stock-push)"),
    "--stock-headers": ("CONTRACT_STOCK_HEADERS",
                        "credential header of the stock push, 'Name: value'; repeat for several "
                        "(environment: one per line)"),
    "--stock-max-body-bytes": ("CONTRACT_STOCK_MAX_BODY_BYTES",
                               "the receiver's body limit for stock pushes (default 67108864)"),
    "--s360-path": ("CONTRACT_S360_PATH", "path of the S-360 inventory webhook, e.g. /s360/inventory "
                    "(S-360 tests skip without it)"),
    "--s360-auth": ("CONTRACT_S360_AUTH", "the webhook's authentication as set in the back office: none, "
                    "basic:LOGIN:PASSWORD or api-key:HEADER:KEY (default none)"),
    "--s360-max-body-bytes": ("CONTRACT_S360_MAX_BODY_BYTES", "the receiver's body limit for S-360 batches "
                              "(default 33554432)"),
    "--servicemobility-base": ("CONTRACT_SERVICEMOBILITY_BASE", "the REST Endpoint URI path of the ServiceMobility "
                               "webhooks, e.g. /servicemobility (their tests skip without it)"),
    "--servicemobility-secret": ("CONTRACT_SERVICEMOBILITY_SECRET", "HS256 secret to sign x-access-token with "
                                 "(default: a random one)"),
    "--servicemobility-private-key": ("CONTRACT_SERVICEMOBILITY_PRIVATE_KEY", "PEM file of an RSA or P-256 key to "
                                      "sign x-access-token with (RS256/ES256) instead of a secret"),
    "--servicemobility-audience": ("CONTRACT_SERVICEMOBILITY_AUDIENCE", "aud claim the receiver requires"),
    "--servicemobility-issuer": ("CONTRACT_SERVICEMOBILITY_ISSUER", "iss claim the receiver requires"),
    "--servicemobility-evaluates-jwt": ("CONTRACT_SERVICEMOBILITY_EVALUATES_JWT", "declare that the receiver "
                                        "evaluates x-access-token: the token attacks must then get 401"),
    "--amqp-url": ("CONTRACT_AMQP_URL", "broker of the ERP queues, amqp://user:password@host:5672/vhost "
                   "(ERP tests skip without it)"),
    "--erp-customer-queue": ("CONTRACT_ERP_CUSTOMER_QUEUE", "default secom-customer-queue"),
    "--erp-subscription-queue": ("CONTRACT_ERP_SUBSCRIPTION_QUEUE", "default secom-subscriptions-queue"),
    "--erp-dead-letter-suffix": ("CONTRACT_ERP_DEAD_LETTER_SUFFIX", "a queue's dead-letter queue is its name + this "
                                 "(default .dead-letter)"),
}
REPEATABLE = {"--stock-headers", "--state-probe-header"}
FLAGS = {"--servicemobility-evaluates-jwt"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("inventory contract tests", "inventory push receiver contract tests")
    for option, (env, help_text) in OPTIONS.items():
        if option in REPEATABLE:
            group.addoption(option, action="append", default=[], help=f"{help_text} [env {env}]")
        elif option in FLAGS:
            group.addoption(option, action="store_true", default=False, help=f"{help_text} [env {env}=1]")
        else:
            group.addoption(option, default=None, help=f"{help_text} [env {env}]")


def option(config: pytest.Config, name: str) -> Any:
    """An option's value, falling back to its environment variable."""
    value = config.getoption(name)
    env, _ = OPTIONS[name]
    if value in (None, [], False) and os.environ.get(env):
        text = os.environ[env]
        if name in FLAGS:
            return text.strip().lower() in {"1", "true", "yes", "on"}
        return [line for line in text.splitlines() if line.strip()] if name in REPEATABLE else text
    return value


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "must: checks a requirement in the platform's own document")
    config.addinivalue_line("markers", "should: checks one of our decisions (NOTES.md) or best practice")
    config.addinivalue_line("markers", "spec(text): the sentence of the document or decision checked")
    config.addinivalue_line("markers", "probe: needs the state probe (--state-probe)")


def _is_contract(item: pytest.Item) -> bool:
    return item.nodeid.startswith("contract_tests/") or "/contract_tests/" in str(item.path)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    url, broker = option(config, "--receiver-url"), option(config, "--amqp-url")
    if not (url or broker):
        return None
    probe = option(config, "--state-probe") or "none (probe tests skip)"
    lines = [f"contract target: {url}"] if url else []
    if broker:
        lines.append(f"contract broker: {_without_password(broker)}")
    return [*lines, f"state probe: {probe}", f"CA bundle: {option(config, '--ca-bundle') or 'system store'}"]


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    contract_items = [item for item in items if _is_contract(item)]
    if contract_items and not (option(config, "--receiver-url") or option(config, "--amqp-url")):
        raise pytest.UsageError(
            "the contract tests need a target: pass --receiver-url https://host:port (or set "
            "CONTRACT_RECEIVER_URL) for the HTTP channels, --amqp-url for the ERP queues, or both")
    for item in contract_items:
        level = "MUST" if item.get_closest_marker("must") else "SHOULD" if item.get_closest_marker("should") else None
        spec = item.get_closest_marker("spec")
        if level:
            item.user_properties.append(("level", level))
        if spec:
            item.user_properties.append(("spec", spec.args[0]))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    tally: Counter[tuple[str, str]] = Counter()
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            level = dict(getattr(report, "user_properties", [])).get("level")
            if level and (outcome != "passed" or report.when == "call"):
                tally[(level, outcome)] += 1
    if not tally:
        return
    terminalreporter.section("contract summary")
    for level in ("MUST", "SHOULD"):
        counts = ", ".join(f"{tally[(level, o)]} {o}" for o in ("passed", "failed", "error", "skipped")
                           if tally[(level, o)])
        if counts:
            terminalreporter.write_line(f"{level:6} {counts}")


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    """The receiver under test; unreachable → the whole run stops with one clear message."""
    url = option(pytestconfig, "--receiver-url")
    if not url:
        pytest.skip("no --receiver-url given: the HTTP channels are not checked")
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=5):
            pass
    except OSError as exc:
        pytest.exit(f"cannot reach the receiver at {url} ({exc}): is it running, and is the URL right?", 3)
    return Target(url.rstrip("/"), option(pytestconfig, "--ca-bundle") or True)


@pytest.fixture(scope="session")
def probe(pytestconfig: pytest.Config) -> Iterator[Probe]:
    """The receiver's state probe, for the checks that read what was stored."""
    url = option(pytestconfig, "--state-probe")
    if not url:
        pytest.skip("no state probe given (--state-probe URL): this check needs to read what was stored")
    probe = Probe(url, parse_header_lines(option(pytestconfig, "--state-probe-header")),
                  option(pytestconfig, "--ca-bundle") or True)
    yield probe
    probe.sender.close()


@pytest.fixture(scope="session")
def stock(pytestconfig: pytest.Config, target: Target) -> Iterator[StockTarget]:
    """The stock push platform, pointed at the receiver's stock endpoint with its credentials."""
    headers = option(pytestconfig, "--stock-headers")
    if not headers:
        pytest.skip("stock push not configured: give --stock-headers 'Name: value' (the credentials the "
                    "receiver expects)")
    credentials = parse_header_lines(headers)
    path = option(pytestconfig, "--stock-path") or "/stock-push"
    limit = int(option(pytestconfig, "--stock-max-body-bytes") or STOCK_MAX_BODY_BYTES)
    platform = StockPlatform(target.receiver_url + path, credentials=credentials, ca_bundle=target.ca_bundle)
    yield StockTarget(platform, credentials, limit)
    platform.close()


@pytest.fixture(scope="module")
def s360(pytestconfig: pytest.Config, target: Target) -> Iterator[S360Target]:
    """The S-360 platform, pointed at the receiver's webhook with the interface's authentication."""
    path = option(pytestconfig, "--s360-path")
    if not path:
        pytest.skip("S-360 webhook not configured: give --s360-path (and --s360-auth as set in the back office)")
    auth = Auth.parse(option(pytestconfig, "--s360-auth") or "none")
    limit = int(option(pytestconfig, "--s360-max-body-bytes") or S360_MAX_BODY_BYTES)
    # The contract checks answers, not the platform's patience: no re-post waits.
    platform = S360Platform(target.receiver_url + path, auth=auth, batch_size=10, max_reposts=0,
                            clock=FakeClock(), ca_bundle=target.ca_bundle)
    yield S360Target(platform, auth, limit)
    platform.close()


@pytest.fixture(scope="module")
def sm(pytestconfig: pytest.Config, target: Target) -> Iterator[SMTarget]:
    """The ServiceMobility platform, pointed at the receiver's REST Endpoint URI, signing its tokens."""
    base = option(pytestconfig, "--servicemobility-base")
    if base is None:
        pytest.skip("ServiceMobility webhooks not configured: give --servicemobility-base (the REST Endpoint URI "
                    "path, e.g. /servicemobility)")
    audience = option(pytestconfig, "--servicemobility-audience")
    issuer = option(pytestconfig, "--servicemobility-issuer")
    private_key = option(pytestconfig, "--servicemobility-private-key")
    if private_key:
        signer = TokenSigner.from_private_key_pem(Path(private_key).read_bytes(), audience=audience, issuer=issuer)
    else:
        key = option(pytestconfig, "--servicemobility-secret") or secrets.token_hex(32)
        signer = TokenSigner(key, audience=audience, issuer=issuer)
    evaluates = bool(option(pytestconfig, "--servicemobility-evaluates-jwt"))
    platform = ServiceMobilityPlatform(target.receiver_url + base.rstrip("/"), signer=signer,
                                       ca_bundle=target.ca_bundle)
    yield SMTarget(platform, signer, evaluates)
    platform.close()


@pytest.fixture(scope="module")
def erp(pytestconfig: pytest.Config) -> Iterator[ErpTarget]:
    """The ERP's publisher on the receiver's broker (its queues must exist), and a look into the queues."""
    url = option(pytestconfig, "--amqp-url")
    if not url:
        pytest.skip("ERP queues not configured: give --amqp-url amqp://user:password@host:5672/vhost")
    queues = {CUSTOMER_QUEUE: option(pytestconfig, "--erp-customer-queue") or CUSTOMER_QUEUE,
              SUBSCRIPTION_QUEUE: option(pytestconfig, "--erp-subscription-queue") or SUBSCRIPTION_QUEUE}
    try:
        publisher = ErpPublisher(url, customer_queue=queues[CUSTOMER_QUEUE],
                                 subscription_queue=queues[SUBSCRIPTION_QUEUE])
        publisher.declare_passive()
    except (BrokerUnreachableError, QueueMissingError) as exc:
        pytest.exit(f"ERP contract tests cannot start: {exc}", 3)
    suffix = option(pytestconfig, "--erp-dead-letter-suffix") or ".dead-letter"
    yield ErpTarget(publisher, BrokerInspector(url), queues, suffix)
    publisher.close()

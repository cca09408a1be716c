"""The pytest plugin (entry point ``pytest11``): the contract suite's options, markers, report header
and a summary that separates MUST from SHOULD.

Options are prefixed and grouped under "inventory contract tests"; each has an environment fallback
(``CONTRACT_*``) so CI can configure the target without a long command line.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

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

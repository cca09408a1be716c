"""The pytest plugin (entry point ``pytest11``): the contract suite's options, markers, report header, the
guards that keep a run from going green having checked nothing, a MUST/SHOULD summary, the JUnit report's
names, and the fixtures every contract test (the suite's, or one a customer writes) starts from:
``target``, ``probe``, and each channel's platform (``stock``, ``s360``, ``sm``, ``erp``) pointed at the
receiver.

Options are prefixed and grouped under "inventory contract tests"; each has an environment fallback
(``CONTRACT_*``) so CI can configure the target without a long command line.
"""

from __future__ import annotations

import fnmatch
import os
import secrets
import socket
import ssl
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import requests

from inventory_push_kit.simulator.erp import (
    CUSTOMER_QUEUE,
    SUBSCRIPTION_QUEUE,
    BrokerInspector,
    ErpPublisher,
    ErpPublishError,
)
from inventory_push_kit.simulator.erp.publisher import safe_url
from inventory_push_kit.simulator.http import parse_header_lines
from inventory_push_kit.simulator.s360 import DEFAULT_MAX_BODY_BYTES as S360_MAX_BODY_BYTES
from inventory_push_kit.simulator.s360 import Auth, FakeClock, S360Platform
from inventory_push_kit.simulator.servicemobility import ServiceMobilityPlatform, TokenSigner
from inventory_push_kit.simulator.stock import DEFAULT_MAX_BODY_BYTES as STOCK_MAX_BODY_BYTES
from inventory_push_kit.simulator.stock import StockPlatform

from . import report
from .rules import CHANNELS, MUST, RULES, SHOULD, decisions_path
from .targets import ErpTarget, Probe, S360Target, SMTarget, StockTarget, Target

# option → (environment fallback, help)
OPTIONS: dict[str, tuple[str, str]] = {
    "--receiver-url": ("CONTRACT_RECEIVER_URL", "base URL of the receiver under test, e.g. https://host:8443"),
    "--ca-bundle": ("CONTRACT_CA_BUNDLE", "CA file to trust for the receiver's certificate (default: system)"),
    "--channels": ("CONTRACT_CHANNELS", "the channels your receiver runs, comma-separated: stock, s360, "
                   "servicemobility, erp (default: those whose options are given). A named channel whose "
                   "checks all skipped fails the run"),
    "--allow-skip": ("CONTRACT_ALLOW_SKIP", "checks that may skip when they cannot be made, comma-separated: "
                     "probe (no --state-probe), dead-letter (no dead-letter queue). Without it they fail, "
                     "saying what to provide"),
    "--should": ("CONTRACT_SHOULD", "what a failed SHOULD check does: fail (default) or warn (reported, the "
                 "run still passes)"),
    "--rules": ("CONTRACT_RULES", "run only the checks of these rules, comma-separated ids or patterns "
                "(stock.older-never-wins, s360.*); the ids are in each failure and in --list-rules"),
    "--list-rules": ("CONTRACT_LIST_RULES", "print every rule the suite checks, with its level and sentence, "
                     "and exit"),
    "--state-probe": ("CONTRACT_STATE_PROBE",
                      "base URL of the receiver's state probe (docs/state-probe.md): the checks of what was "
                      "stored need it"),
    "--state-probe-header": ("CONTRACT_STATE_PROBE_HEADER",
                             "'Name: value' header sent to the state probe, e.g. 'Authorization: Bearer T'"),
    "--stock-path": ("CONTRACT_STOCK_PATH", "path of the stock push endpoint (default /stock-push)"),
    "--stock-header": ("CONTRACT_STOCK_HEADER",
                       "credential header of the stock push, 'Name: value'; repeat for several "
                       "(environment: one per line)"),
    "--stock-max-body-bytes": ("CONTRACT_STOCK_MAX_BODY_BYTES",
                               "the receiver's body limit for stock pushes (default 67108864)"),
    "--s360-path": ("CONTRACT_S360_PATH", "path of the S-360 inventory webhook, e.g. /s360/inventory"),
    "--s360-auth": ("CONTRACT_S360_AUTH", "the webhook's authentication as set in the back office: none, "
                    "basic:LOGIN:PASSWORD or api-key:HEADER:KEY (default none)"),
    "--s360-max-body-bytes": ("CONTRACT_S360_MAX_BODY_BYTES", "the receiver's body limit for S-360 batches "
                              "(default 33554432)"),
    "--servicemobility-base": ("CONTRACT_SERVICEMOBILITY_BASE", "the REST Endpoint URI path of the ServiceMobility "
                               "webhooks, e.g. /servicemobility"),
    "--servicemobility-secret": ("CONTRACT_SERVICEMOBILITY_SECRET", "HS256 secret to sign x-access-token with "
                                 "(default: a random one)"),
    "--servicemobility-private-key": ("CONTRACT_SERVICEMOBILITY_PRIVATE_KEY", "PEM file of an RSA or P-256 key to "
                                      "sign x-access-token with (RS256/ES256) instead of a secret"),
    "--servicemobility-audience": ("CONTRACT_SERVICEMOBILITY_AUDIENCE", "aud claim the receiver requires"),
    "--servicemobility-issuer": ("CONTRACT_SERVICEMOBILITY_ISSUER", "iss claim the receiver requires"),
    "--servicemobility-evaluates-jwt": ("CONTRACT_SERVICEMOBILITY_EVALUATES_JWT", "declare that the receiver "
                                        "evaluates x-access-token: the token attacks must then get 401"),
    "--amqp-url": ("CONTRACT_AMQP_URL", "broker of the ERP queues, amqp://user:password@host:5672/vhost"),
    "--erp-customer-queue": ("CONTRACT_ERP_CUSTOMER_QUEUE", "default secom-customer-queue"),
    "--erp-subscription-queue": ("CONTRACT_ERP_SUBSCRIPTION_QUEUE", "default secom-subscriptions-queue"),
    "--erp-dead-letter-suffix": ("CONTRACT_ERP_DEAD_LETTER_SUFFIX", "a queue's dead-letter queue is its name + this "
                                 "(default .dead-letter)"),
    "--erp-wait": ("CONTRACT_ERP_WAIT", "seconds a check waits for the consumer to take, store or dead-letter a "
                   "message (default 20)"),
    "--check-openapi": ("CONTRACT_CHECK_OPENAPI", "URL or file of the receiver's OpenAPI document: every answer "
                        "the suite gets must match it (status documented, body valid against its schema), e.g. "
                        "https://host:8443/openapi.json or the kit's docs/contracts/openapi.json"),
}
REPEATABLE = {"--stock-header", "--state-probe-header"}
FLAGS = {"--servicemobility-evaluates-jwt", "--list-rules"}
SKIPPABLE = ("probe", "dead-letter")
# The option that says a channel is run, when --channels is not given.
CHANNEL_OPTIONS = {"stock": "--stock-header", "s360": "--s360-path", "servicemobility": "--servicemobility-base",
                   "erp": "--amqp-url"}
SUITE_NAME = "inventory-contract"


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


def _listed(config: pytest.Config, name: str) -> list[str]:
    return [part.strip() for part in (option(config, name) or "").split(",") if part.strip()]


@dataclass
class Run:
    """What the plugin knows of this run: the channels it is about, what may skip, and what happened."""

    channels: list[str]
    allow_skip: set[str]
    should_warn: bool
    outcomes: dict[str, Counter[str]] = field(default_factory=dict)  # channel → passed/failed/skipped counts
    gates: dict[str, str | None] = field(default_factory=dict)  # channel → why it cannot be checked (None: it can)
    collected: int = 0  # contract checks collected (after --rules, -m, -k)
    verdicts: list[str] = field(default_factory=list)  # why the run fails though no check did
    openapi_note: str = ""  # --check-openapi: how many answers were checked

    def judge(self) -> list[str]:
        """What makes a run that checked too little fail: nothing checked at all, or a channel the user
        runs whose checks all skipped."""
        if not self.collected:
            return []
        verdicts = []
        if self.checked() == 0:
            verdicts.append("no contract check ran (every one skipped or deselected): give --receiver-url and the "
                            "options of your channels (--channels stock,s360,servicemobility,erp says which you "
                            "run), or see why each skipped with -rs")
        return verdicts + [f"{channel}: every check of this channel skipped or was deselected, none ran: give its "
                           "options, or see why with -rs" for channel in self.channels if self.checked(channel) == 0]

    def checked(self, channel: str | None = None) -> int:
        """How many checks ran to a verdict (passed or failed), of a channel or of all."""
        counts = [self.outcomes.get(channel, Counter())] if channel else list(self.outcomes.values())
        return sum(c["passed"] + c["failed"] for c in counts)


RUN = pytest.StashKey[Run]()


def run_of(config: pytest.Config) -> Run:
    return config.stash[RUN]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "must: checks a requirement in the platform's own document")
    config.addinivalue_line("markers", "should: checks one of the kit's decisions (decisions.md) or best practice")
    config.addinivalue_line("markers", "spec(text): the sentence of the document or decision checked")
    config.addinivalue_line("markers", "rule(id): the rule a check checks (contract_tests/rules.py)")
    config.addinivalue_line("markers", "channel(name): the channel a check is about")
    config.addinivalue_line("markers", "probe: needs the state probe (--state-probe)")
    named = _listed(config, "--channels")
    unknown = sorted(set(named) - set(CHANNELS))
    if unknown:
        raise pytest.UsageError(f"--channels: unknown channel(s) {unknown}; known: {', '.join(CHANNELS)}")
    allow = set(_listed(config, "--allow-skip"))
    if allow - set(SKIPPABLE):
        raise pytest.UsageError(f"--allow-skip: only {', '.join(SKIPPABLE)} may be allowed to skip, not "
                                f"{sorted(allow - set(SKIPPABLE))}")
    should = (option(config, "--should") or "fail").lower()
    if should not in {"fail", "warn"}:
        raise pytest.UsageError(f"--should must be fail or warn, not {should!r}")
    channels = named or [c for c, name in CHANNEL_OPTIONS.items() if option(config, name)]
    config.stash[RUN] = Run(channels, allow, should == "warn")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if not option(config, "--list-rules"):
        return None
    for found in RULES.values():
        print(f"{found.id}  [{found.level}]  {found.summary}\n    {found.quote()}\n")
    print(f"{len(RULES)} rules; the decisions are in {decisions_path()}")
    return 0


def _is_contract(item: pytest.Item) -> bool:
    return item.nodeid.startswith("contract_tests/") or "/contract_tests/" in str(item.path)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    url, broker = option(config, "--receiver-url"), option(config, "--amqp-url")
    if not (url or broker):
        return None
    run = run_of(config)
    lines = [f"contract target: {url}"] if url else []
    if broker:
        lines.append(f"contract broker: {safe_url(broker)}")
    probe = option(config, "--state-probe") or ("none (probe checks skip)" if "probe" in run.allow_skip else
                                                "none (probe checks fail: give --state-probe or --allow-skip probe)")
    return [*lines, f"channels: {', '.join(run.channels) or 'none named'}", f"state probe: {probe}",
            f"CA bundle: {option(config, '--ca-bundle') or 'system store'}",
            f"SHOULD failures: {'warn' if run.should_warn else 'fail the run'}; decisions: {decisions_path()}",
            "WARNING: the suite writes test data into the target (stock entries, products, events, customers with "
            "fresh ids): point it at a test instance, not at production"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    contract_items = [item for item in items if _is_contract(item)]
    if contract_items and not (option(config, "--receiver-url") or option(config, "--amqp-url")):
        raise pytest.UsageError(
            "the contract tests need a target: pass --receiver-url https://host:port (or set "
            "CONTRACT_RECEIVER_URL) for the HTTP channels, --amqp-url for the ERP queues, or both")
    wanted = _listed(config, "--rules")
    if wanted:
        unknown = [pattern for pattern in wanted if not fnmatch.filter(RULES, pattern)]
        if unknown:
            raise pytest.UsageError(f"--rules: no rule matches {unknown} (see --list-rules)")
        chosen: list[pytest.Item] = []
        dropped: list[pytest.Item] = []
        for item in items:
            mark = item.get_closest_marker("rule")
            keep = not _is_contract(item) or mark is None or any(fnmatch.fnmatch(mark.args[0], p) for p in wanted)
            (chosen if keep else dropped).append(item)
        config.hook.pytest_deselected(items=dropped)
        items[:] = chosen
    for item in contract_items:
        level = MUST if item.get_closest_marker("must") else SHOULD if item.get_closest_marker("should") else None
        spec = item.get_closest_marker("spec")
        rule = item.get_closest_marker("rule")
        if level:
            item.user_properties.append(("level", level))
        if rule:
            item.user_properties.append(("rule", rule.args[0]))
        if spec:
            item.user_properties.append(("spec", spec.args[0]))
    run_of(config).collected = len(contract_items)


def _channel_of(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("channel")
    return mark.args[0] if mark else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, None]:
    token = report.CURRENT.set(item)
    try:
        yield
    finally:
        report.CURRENT.reset(token)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    made: pytest.TestReport = outcome.get_result()
    run = run_of(item.config)
    if made.failed and item.get_closest_marker("should") and run.should_warn and call.when == "call":
        # --should warn: reported (as an expected failure, with its message), the run still passes.
        made.outcome = "skipped"
        made.wasxfail = "SHOULD, reported as a warning (--should warn): " + str(made.longrepr).strip()[:2000]
    channel = _channel_of(item)
    counted = call.when == "call" or (call.when == "setup" and not made.passed)
    if channel and counted:
        warned = str(getattr(made, "wasxfail", "")).startswith("SHOULD")
        verdict = "failed" if made.failed or warned else "skipped" if made.skipped else "passed"
        run.outcomes.setdefault(channel, Counter())[verdict] += 1


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    tally: Counter[tuple[str, str]] = Counter()
    for outcome in ("passed", "failed", "skipped", "error", "xfailed"):
        for made in terminalreporter.stats.get(outcome, []):
            level = dict(getattr(made, "user_properties", [])).get("level")
            if level and (outcome != "passed" or made.when == "call"):
                tally[(level, "warned" if outcome == "xfailed" else outcome)] += 1
    run = config.stash.get(RUN, None)
    if run is not None and run.verdicts:
        terminalreporter.section("contract verdict", red=True)
        for verdict in run.verdicts:
            terminalreporter.write_line(f"FAILED: {verdict}", red=True)
    if not tally:
        return
    terminalreporter.section("contract summary")
    if run is not None and run.openapi_note:
        terminalreporter.write_line(run.openapi_note)
    for level in (MUST, SHOULD):
        counts = ", ".join(f"{tally[(level, o)]} {o}" for o in ("passed", "failed", "error", "warned", "skipped")
                           if tally[(level, o)])
        if counts:
            terminalreporter.write_line(f"{level:6} {counts}")
    if run is not None and "erp" in run.channels:
        terminalreporter.write_line("Not observable from outside, so not checked: an ERP consumer that acknowledges "
                                    "a message before its commit. Test it yourself: kill -9 the consumer between "
                                    "the two and check the message comes back (the kit's tests/test_erp_faults.py "
                                    "does). Nor one that holds messages without ever acknowledging them (AMQP counts "
                                    "only ready messages): after the run, the broker's management UI must show no "
                                    "unacknowledged messages on the queues.")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run that checked nothing, or nothing of a channel it runs, fails (and says so in JUnit too); JUnit
    names carry the level and the suite its name, since CI reporters show neither property."""
    run = session.config.stash.get(RUN, None)
    if run is None:
        return
    run.verdicts = run.judge()
    if run.verdicts and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    path = getattr(session.config.option, "xmlpath", None)
    if path and Path(path).exists():
        _name_junit(Path(path), run.verdicts)


def _name_junit(path: Path, verdicts: list[str]) -> None:
    tree = ET.parse(path)  # noqa: S314 (pytest's own report, written a moment ago)
    suites = list(tree.getroot().iter("testsuite"))
    for suite in suites:
        if suite.get("name") in (None, "pytest"):
            suite.set("name", SUITE_NAME)
        for case in suite.iter("testcase"):
            level = next((p.get("value") for p in case.iter("property") if p.get("name") == "level"), None)
            if level and not case.get("name", "").startswith("["):
                case.set("name", f"[{level}] {case.get('name')}")
    if suites and verdicts:
        suite = suites[0]
        for verdict in verdicts:
            case = ET.SubElement(suite, "testcase", classname="contract_tests.run", name="[RUN] " + verdict[:80])
            ET.SubElement(case, "error", message=verdict).text = verdict
        suite.set("errors", str(int(suite.get("errors", "0")) + len(verdicts)))
        suite.set("tests", str(int(suite.get("tests", "0")) + len(verdicts)))
    tree.write(path, encoding="utf-8", xml_declaration=True)


# -- the channels' gates: one failure, one message -------------------------------------------------


def _gate(config: pytest.Config, channel: str, needs: list[tuple[str, str]],
          ready: Callable[[], str | None]) -> None:
    """Whether a channel can be checked, decided once per run. A channel whose options are missing skips
    when it is not run, and fails when it is named in --channels; a channel that cannot be checked at all
    (unreachable, an untrusted certificate, no consumer) says why once — its first check fails with one
    line, its other checks skip pointing at it — and the other channels run."""
    run = run_of(config)
    if channel not in run.gates:
        missing = [(name, what) for name, what in needs if not option(config, name)]
        if missing and channel not in run.channels:
            pytest.skip(f"{channel} not run: give {missing[0][0]} ({missing[0][1]}), or name it in --channels")
        if missing:
            run.gates[channel] = (f"the channel is named in --channels but {missing[0][0]} is missing: give "
                                  f"{missing[0][1]}")
        else:
            run.gates[channel] = ready()
        if run.gates[channel]:
            pytest.fail(f"{channel}: {run.gates[channel]}", pytrace=False)
    elif run.gates[channel]:
        pytest.skip(f"{channel} not checked: its first check's failure says why")


def _reachable(url: str, ca_bundle: str | bool) -> str | None:
    """Why the receiver cannot be talked to (one line, what to do), or None."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "", port), timeout=10) as sock:
            if parsed.scheme != "https":
                return None
            context = ssl.create_default_context(cafile=ca_bundle if isinstance(ca_bundle, str) else None)
            with context.wrap_socket(sock, server_hostname=parsed.hostname):
                return None
    except ssl.SSLCertVerificationError as exc:
        return (f"the receiver's certificate is not trusted ({exc.verify_message}): give --ca-bundle with the CA "
                "that signed it")
    except (OSError, ssl.SSLError) as exc:
        return f"cannot reach the receiver at {url} ({exc}): is it running, and is --receiver-url right?"


RECEIVER_URL = ("--receiver-url", "the receiver's base URL, e.g. https://host:8443")


def _http_gate(config: pytest.Config, channel: str, needs: tuple[str, str]) -> Target:
    _gate(config, channel, [RECEIVER_URL, needs],
          lambda: _reachable(option(config, "--receiver-url"), option(config, "--ca-bundle") or True))
    return Target(option(config, "--receiver-url").rstrip("/"), option(config, "--ca-bundle") or True)


@pytest.fixture(scope="session", autouse=True)
def _answers_match_openapi(pytestconfig: pytest.Config) -> Iterator[None]:
    """--check-openapi: every answer of the receiver is checked against its OpenAPI document (openapi.py)."""
    source, url = option(pytestconfig, "--check-openapi"), option(pytestconfig, "--receiver-url")
    if not (source and url):
        yield
        return
    from . import openapi  # jsonschema is needed only here

    ca_bundle = option(pytestconfig, "--ca-bundle") or True
    try:
        document = openapi.load_document(source, ca_bundle)
    except (OSError, ValueError, requests.RequestException) as exc:
        raise pytest.UsageError(f"--check-openapi: cannot read an OpenAPI document from {source}: {exc}") from None
    prefixes = tuple(filter(None, [url.rstrip("/"), option(pytestconfig, "--state-probe")]))
    check = openapi.AnswerCheck(document, urlparse(url).path)
    with openapi.checking(check, prefixes):
        yield
    run_of(pytestconfig).openapi_note = f"answers checked against the OpenAPI document {source}: {check.checked}"


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    """The receiver under test (its base URL and the CA to trust); no --receiver-url → the HTTP checks skip."""
    url = option(pytestconfig, "--receiver-url")
    if not url:
        pytest.skip("no --receiver-url given: the HTTP channels are not checked")
    return Target(url.rstrip("/"), option(pytestconfig, "--ca-bundle") or True)


@pytest.fixture(scope="session")
def _probe(pytestconfig: pytest.Config) -> Iterator[Probe]:
    headers = parse_header_lines(option(pytestconfig, "--state-probe-header"))
    probe = Probe(option(pytestconfig, "--state-probe"), headers, option(pytestconfig, "--ca-bundle") or True)
    yield probe
    probe.sender.close()


@pytest.fixture
def probe(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> Probe:
    """The receiver's state probe, for the checks that read what was stored: without one they fail, saying
    what to give, unless ``--allow-skip probe``."""
    if not option(pytestconfig, "--state-probe"):
        why = ("this check reads what the receiver stored: give --state-probe URL (the protocol is "
               "docs/state-probe.md), or --allow-skip probe to run without such checks")
        if "probe" in run_of(pytestconfig).allow_skip:
            pytest.skip(why)
        pytest.fail(why, pytrace=False)
    found: Probe = request.getfixturevalue("_probe")
    return found


STOCK_NEEDS = ("--stock-header", "the credential headers the receiver expects, 'Name: value' (repeat for several)")
S360_NEEDS = ("--s360-path", "the webhook's path, and --s360-auth as set in the back office")
SM_NEEDS = ("--servicemobility-base", "the REST Endpoint URI path, e.g. /servicemobility")
ERP_NEEDS = ("--amqp-url", "the broker, amqp://user:password@host:5672/vhost")


@pytest.fixture(scope="session")
def _stock_platform(pytestconfig: pytest.Config) -> Iterator[StockTarget]:
    target = _http_gate(pytestconfig, "stock", STOCK_NEEDS)
    credentials = parse_header_lines(option(pytestconfig, "--stock-header"))
    url = target.receiver_url + (option(pytestconfig, "--stock-path") or "/stock-push")
    limit = int(option(pytestconfig, "--stock-max-body-bytes") or STOCK_MAX_BODY_BYTES)
    platform = StockPlatform(url, credentials=credentials, ca_bundle=target.ca_bundle)
    report.RESEND["stock"] = report.resend_command(
        "stock", url, target.ca_bundle, [f"--header '{name}: …'" for name in credentials])
    yield StockTarget(platform, credentials, limit)
    platform.close()


@pytest.fixture
def stock(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> StockTarget:
    """The stock push platform, pointed at the receiver's stock endpoint with its credentials."""
    _http_gate(pytestconfig, "stock", STOCK_NEEDS)
    found: StockTarget = request.getfixturevalue("_stock_platform")
    return found


@pytest.fixture(scope="session")
def _s360_platform(pytestconfig: pytest.Config) -> Iterator[S360Target]:
    target = _http_gate(pytestconfig, "s360", S360_NEEDS)
    path = option(pytestconfig, "--s360-path")
    auth = Auth.parse(option(pytestconfig, "--s360-auth") or "none")
    limit = int(option(pytestconfig, "--s360-max-body-bytes") or S360_MAX_BODY_BYTES)
    # The contract checks answers, not the platform's patience: no re-post waits.
    platform = S360Platform(target.receiver_url + path, auth=auth, batch_size=10, max_reposts=0,
                            clock=FakeClock(), ca_bundle=target.ca_bundle)
    report.RESEND["s360"] = report.resend_command("s360", target.receiver_url + path, target.ca_bundle,
                                                  [f"--auth {auth.mode.name.lower().replace('_', '-')}:…"])
    yield S360Target(platform, auth, limit)
    platform.close()


@pytest.fixture
def s360(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> S360Target:
    """The S-360 platform, pointed at the receiver's webhook with the interface's authentication."""
    _http_gate(pytestconfig, "s360", S360_NEEDS)
    found: S360Target = request.getfixturevalue("_s360_platform")
    return found


@pytest.fixture(scope="session")
def _sm_platform(pytestconfig: pytest.Config) -> Iterator[SMTarget]:
    target = _http_gate(pytestconfig, "servicemobility", SM_NEEDS)
    base = option(pytestconfig, "--servicemobility-base")
    audience = option(pytestconfig, "--servicemobility-audience")
    issuer = option(pytestconfig, "--servicemobility-issuer")
    private_key = option(pytestconfig, "--servicemobility-private-key")
    if private_key:
        signer = TokenSigner.from_private_key_pem(Path(private_key).read_bytes(), audience=audience, issuer=issuer)
        signing = ["--private-key …"]
    else:
        key = option(pytestconfig, "--servicemobility-secret") or secrets.token_hex(32)
        signer = TokenSigner(key, audience=audience, issuer=issuer)
        signing = ["--secret …"]
    evaluates = bool(option(pytestconfig, "--servicemobility-evaluates-jwt"))
    url = target.receiver_url + base.rstrip("/")
    platform = ServiceMobilityPlatform(url, signer=signer, ca_bundle=target.ca_bundle)
    report.RESEND["servicemobility"] = report.resend_command("servicemobility", url, target.ca_bundle, signing)
    yield SMTarget(platform, signer, evaluates)
    platform.close()


@pytest.fixture
def sm(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> SMTarget:
    """The ServiceMobility platform, pointed at the receiver's REST Endpoint URI, signing its tokens."""
    _http_gate(pytestconfig, "servicemobility", SM_NEEDS)
    found: SMTarget = request.getfixturevalue("_sm_platform")
    return found


def _erp_queues(config: pytest.Config) -> dict[str, str]:
    return {CUSTOMER_QUEUE: option(config, "--erp-customer-queue") or CUSTOMER_QUEUE,
            SUBSCRIPTION_QUEUE: option(config, "--erp-subscription-queue") or SUBSCRIPTION_QUEUE}


def _erp_ready(config: pytest.Config) -> str | None:
    """Why the ERP checks cannot run (one line, what to do), or None: the broker, the queues, a consumer."""
    url = option(config, "--amqp-url")
    inspector = BrokerInspector(url)
    try:
        for queue in _erp_queues(config).values():
            state = inspector.queue_state(queue)
            if state is None:
                return (f"the queue {queue!r} does not exist on {safe_url(url)}: start the consumer (it declares "
                        "its queues) or give --erp-customer-queue / --erp-subscription-queue")
            if state[1] == 0:
                return f"no consumer is attached to {queue!r}: start the receiver's consumer before the suite"
    except ErpPublishError as exc:
        return f"{exc}: is the broker running, and is --amqp-url right?"
    return None


@pytest.fixture(scope="session")
def _erp_platform(pytestconfig: pytest.Config) -> Iterator[ErpTarget]:
    _gate(pytestconfig, "erp", [ERP_NEEDS], lambda: _erp_ready(pytestconfig))
    url = option(pytestconfig, "--amqp-url")
    queues = _erp_queues(pytestconfig)
    publisher = ErpPublisher(url, customer_queue=queues[CUSTOMER_QUEUE], subscription_queue=queues[SUBSCRIPTION_QUEUE])
    suffix = option(pytestconfig, "--erp-dead-letter-suffix") or ".dead-letter"
    wait = float(option(pytestconfig, "--erp-wait") or 20)
    report.RESEND["erp"] = report.resend_command("erp", safe_url(url), True, [])
    yield ErpTarget(publisher, BrokerInspector(url), queues, suffix, wait,
                    "dead-letter" in run_of(pytestconfig).allow_skip)
    with suppress(ErpPublishError):
        publisher.close()


@pytest.fixture
def erp(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> ErpTarget:
    """The ERP's publisher on the receiver's broker (its queues must exist, a consumer attached), and a look
    into the queues."""
    _gate(pytestconfig, "erp", [ERP_NEEDS], lambda: _erp_ready(pytestconfig))
    found: ErpTarget = request.getfixturevalue("_erp_platform")
    return found

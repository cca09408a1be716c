"""The contract suite's power, measured: it runs, the way a customer runs it, against receivers that each
break one rule (``tests/mutants``), and must fail each one with a check that names that rule; against the
reference receiver under the same harness it must pass. Every rule the suite states has a mutant."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pika
import pytest

from devtools.serving import ROOT, RunningReceiver, make_tls, running_receiver
from inventory_push_kit.contract_tests.rules import RULES
from tests.mutants import NOT_COVERED, REFERENCE, Mutant, load_all
from tests.mutants.consumers import erp_mutants, queues

MUTANTS = load_all()
TOKEN = "power-probe-token"
STOCK_KEY = "power-stock-key"
S360_PASSWORD = "power-s360-password"
S360_SECTION = {"enabled": True, "auth": "BASIC_AUTH", "login": "s360", "password": S360_PASSWORD}
SM_SECRET = "p" * 40


def s360_auth(mutant: Mutant) -> str:
    """``--s360-auth`` for the [s360] section a mutant runs with (it may change the mode)."""
    section = {**S360_SECTION, **mutant.config.get("s360", {})}
    mode = {"NONE": "none", "BASIC_AUTH": "basic", "API_KEY": "api-key"}[section["auth"]]
    return mode if mode == "none" else f"{mode}:{section['login']}:{section['password']}"


@dataclass(frozen=True)
class Harness:
    server: RunningReceiver
    amqp_url: str
    prefix: str

    def args(self, mutant: Mutant, channels: list[str]) -> list[str]:
        base = f"{self.server.url}/mutant/{mutant.name}"
        args = ["--receiver-url", base, "--ca-bundle", str(self.server.ca), "--state-probe", f"{base}/api",
                "--state-probe-header", f"Authorization: Bearer {TOKEN}", "--channels", ",".join(channels)]
        if "stock" in channels:
            args += ["--stock-header", f"X-Stock-Key: {STOCK_KEY}"]
        if "s360" in channels:
            args += ["--s360-path", "/s360/inventory", "--s360-auth", s360_auth(mutant)]
        if "servicemobility" in channels:
            args += ["--servicemobility-base", "/servicemobility", "--servicemobility-secret", SM_SECRET,
                     "--servicemobility-evaluates-jwt"]
        if "erp" in channels:
            names = queues(self.prefix, mutant)
            args += ["--amqp-url", self.amqp_url, "--erp-customer-queue", names["customer_queue"],
                     "--erp-subscription-queue", names["subscription_queue"], "--erp-wait", "8"]
        return args


@contextmanager
def consumers(config_path: Path, workdir: Path, prefix: str) -> Iterator[None]:
    log = workdir / "consumers.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "tests.mutants.consumers", "--config", str(config_path),
                                    "--prefix", prefix], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    try:
        deadline = time.monotonic() + 60
        while log.read_text(errors="replace").count("erp: consuming") < len(erp_mutants()):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.2)
        yield
    finally:
        process.terminate()
        process.wait(timeout=60)


def delete_queues(amqp_url: str, prefix: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    for mutant in erp_mutants():
        for queue in queues(prefix, mutant).values():
            channel.queue_delete(queue)
            channel.queue_delete(queue + ".dead-letter")
    connection.close()


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory, rabbitmq_url: str) -> Iterator[Harness]:
    workdir = tmp_path_factory.mktemp("power")
    prefix = f"power-{uuid.uuid4().hex[:8]}"
    config = {
        "server": {"workers": 1, "threads": 8},
        "storage": {"data_dir": str(workdir / "data")},
        "api": {"token": TOKEN},
        "stock": {"enabled": True, "credential_headers": {"X-Stock-Key": STOCK_KEY}},
        "s360": S360_SECTION,
        "servicemobility": {"enabled": True, "jwt": "hs256", "secret": SM_SECRET},
        "erp": {"enabled": True, "amqp_url": rabbitmq_url},
    }
    try:
        with running_receiver(config, workdir, tls=make_tls(workdir / "tls"), module="tests.mutants.http_server",
                              startup_timeout=60) as server, consumers(server.config_path, workdir, prefix):
            yield Harness(server, rabbitmq_url, prefix)
    finally:
        delete_queues(rabbitmq_url, prefix)


def run_contract(tmp_path: Path, *args: str) -> tuple[int, str, dict[str, str]]:
    """The suite as a customer runs it; its exit code, its output, and each check's outcome by rule
    (a rule fails when any of its checks failed)."""
    junit = tmp_path / "junit.xml"
    process = subprocess.run([sys.executable, "-m", "pytest", "--pyargs", "inventory_push_kit.contract_tests", "-p",
                              "no:cacheprovider",
                              f"--junitxml={junit}", *args], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    by_rule: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        rule = next((p.get("value") for p in case.iter("property") if p.get("name") == "rule"), None)
        failed = case.find("failure") is not None or case.find("error") is not None
        if rule is not None:
            by_rule[rule] = "failed" if failed or by_rule.get(rule) == "failed" else "passed"
    return process.returncode, process.stdout + process.stderr, by_rule


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_the_contract_suite_fails_a_receiver_that_breaks_one_rule(harness: Harness, tmp_path: Path,
                                                                 name: str) -> None:
    mutant = MUTANTS[name]
    code, output, by_rule = run_contract(tmp_path, *harness.args(mutant, [mutant.channel]), "--rules", mutant.rule)
    assert code == 1 and by_rule.get(mutant.rule) == "failed", (
        f"{name} ({mutant.description}) breaks {mutant.rule}, and the suite did not fail it:\n{output[-3000:]}")
    assert "Traceback" not in output


def test_the_reference_receiver_passes_every_rule_under_the_same_harness(harness: Harness, tmp_path: Path) -> None:
    channels = ["stock", "s360", "servicemobility", "erp"]
    code, output, by_rule = run_contract(tmp_path, *harness.args(REFERENCE, channels))
    assert code == 0, output[-4000:]
    assert by_rule and set(by_rule.values()) == {"passed"}


def test_every_rule_the_suite_states_has_a_receiver_that_breaks_it() -> None:
    covered = {mutant.rule for mutant in MUTANTS.values()}
    assert not covered - set(RULES), f"mutants of rules the suite does not state: {covered - set(RULES)}"
    assert set(RULES) - covered == set(NOT_COVERED), sorted(set(RULES) - covered - set(NOT_COVERED))


def test_the_readme_states_how_many_rules_are_covered() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    covered = len(RULES) - len(NOT_COVERED)
    assert f"**{covered} of the suite's {len(RULES)} rules** have such a receiver ({len(MUTANTS)} mutants)" in readme


def test_the_contract_suite_fails_a_stock_receiver_served_over_plain_http(tmp_path: Path) -> None:
    """stock.ssl has no mutant under the harness, which serves every mutant over HTTPS: the receiver that
    breaks it is the reference served over plain HTTP, on a server of its own."""
    config = {"storage": {"data_dir": str(tmp_path / "data")},
              "stock": {"enabled": True, "credential_headers": {"X-Stock-Key": STOCK_KEY}}}
    with running_receiver(config, tmp_path / "plain-http", tls=None) as server:
        code, output, by_rule = run_contract(tmp_path, "--receiver-url", server.url, "--channels", "stock",
                                             "--stock-header", f"X-Stock-Key: {STOCK_KEY}", "--rules", "stock.ssl")
    assert code == 1 and by_rule.get("stock.ssl") == "failed", output[-3000:]
    assert "is not an https:// URL" in output and "Traceback" not in output

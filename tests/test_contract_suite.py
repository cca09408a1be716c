"""The contract suite, run the way a customer runs it (``pytest --pyargs inventory_push_kit.contract_tests …``), against
our
receiver served for real — it must pass — and against receivers that break the contract — it must fail."""

from __future__ import annotations

import ast
import random
import re
import subprocess
import sys
import textwrap
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from werkzeug.serving import make_server

from devtools.junit import outcomes
from devtools.serving import RunningReceiver, TLSFiles, free_port, make_tls, running_consumer, running_receiver
from tests.conftest import unique_queues

CREDENTIALS = ["X-Stock-User: acme-mro", "X-Stock-Key: contract-key"]
PROBE_TOKEN = "probe-token"
LIMIT = 4 * 1024 * 1024
ISSUER = "https://servicemobility.example/auth"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The platform's signing key (a file for the contract suite) and its public half (for the receiver)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("keys") / "platform-key.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return path, public.decode()


@pytest.fixture(scope="module")
def queues(rabbitmq_url: str) -> Iterator[dict[str, str]]:
    with unique_queues(rabbitmq_url, "test-contract") as names:
        yield names


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory, tls: TLSFiles, rsa_key: tuple[Path, str],
             rabbitmq_url: str, queues: dict[str, str]) -> Iterator[RunningReceiver]:
    """Every channel on: stock, S-360 with Basic auth, ServiceMobility verifying RS256 tokens with an
    issuer, and the ERP consumer on queues of its own."""
    workdir = tmp_path_factory.mktemp("receiver")
    config = {
        "storage": {"data_dir": str(workdir / "data")},
        "api": {"token": PROBE_TOKEN},
        "stock": {"enabled": True, "credential_headers": dict(line.split(": ") for line in CREDENTIALS),
                  "max_body_bytes": LIMIT},
        "s360": {"enabled": True, "path": "/s360/inventory", "auth": "BASIC_AUTH", "login": "s360",
                 "password": "s360-password"},
        "servicemobility": {"enabled": True, "jwt": "public-key", "public_key": rsa_key[1], "issuer": ISSUER},
        "erp": {"enabled": True, "amqp_url": rabbitmq_url, **queues},
    }
    with running_receiver(config, workdir, tls=tls) as running, running_consumer(running.config_path, workdir):
        yield running


def run_suite(tmp_path: Path, *args: str) -> tuple[int, str, Path | None]:
    junit = tmp_path / "junit.xml"
    process = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "inventory_push_kit.contract_tests", "-p", "no:cacheprovider",
         "-rs",
         f"--junitxml={junit}", *args],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    output = process.stdout + process.stderr
    return process.returncode, output, junit if junit.exists() else None


def stock_args(url: str, ca: Path) -> list[str]:
    args = ["--receiver-url", url, "--ca-bundle", str(ca), "--stock-max-body-bytes", str(LIMIT)]
    for line in CREDENTIALS:
        args += ["--stock-header", line]
    return args


def results(junit: Path, module: str = "test_stock") -> dict[str, str]:
    """test name → passed / failed / skipped, for one module of the suite."""
    return {result.name: result.outcome for result in outcomes(junit) if result.module.split(".")[-1] == module}


def every_channel_args(receiver: RunningReceiver, rsa_key: tuple[Path, str], rabbitmq_url: str,
                       queues: dict[str, str]) -> list[str]:
    return [*stock_args(receiver.url, receiver.ca or Path()),
            "--state-probe", f"{receiver.url}/api", "--state-probe-header", f"Authorization: Bearer {PROBE_TOKEN}",
            "--s360-path", "/s360/inventory", "--s360-auth", "basic:s360:s360-password",
            "--servicemobility-base", "/servicemobility", "--servicemobility-private-key", str(rsa_key[0]),
            "--servicemobility-issuer", ISSUER, "--servicemobility-evaluates-jwt",
            "--amqp-url", rabbitmq_url, "--erp-customer-queue", queues["customer_queue"],
            "--erp-subscription-queue", queues["subscription_queue"]]


def test_our_receiver_passes_the_whole_contract(tmp_path: Path, receiver: RunningReceiver, rsa_key: tuple[Path, str],
                                                rabbitmq_url: str, queues: dict[str, str]) -> None:
    # --check-openapi: every answer of the run also matches the OpenAPI document the receiver serves
    code, output, junit = run_suite(tmp_path, *every_channel_args(receiver, rsa_key, rabbitmq_url, queues),
                                    "--check-openapi", f"{receiver.url}/openapi.json")
    assert code == 0, output[-4000:]
    assert junit is not None
    for module in ("test_stock", "test_s360", "test_servicemobility", "test_erp"):
        outcome = results(junit, module)
        assert outcome and set(outcome.values()) <= {"passed", "skipped"}, module
        skipped = [name for name, state in outcome.items() if state == "skipped"]
        # Only the API_KEY cases skip: this receiver's S-360 interface uses Basic auth.
        assert all("api-key" in name for name in skipped), (module, skipped)
    assert len(outcomes(junit)) > 150
    assert f"contract target: {receiver.url}" in output and "contract broker: amqp://guest:***@" in output
    assert "MUST" in output and "SHOULD" in output  # the summary separates the two
    checked = re.search(r"answers checked against the OpenAPI document \S+: (\d+)", output)
    assert checked is not None and int(checked[1]) > 150, output[-2000:]
    assert {result.level for result in outcomes(junit)} == {"MUST", "SHOULD"}  # JUnit carries each test's level
    assert "stock-push.rst" in junit.read_text(encoding="utf-8")  # … and the sentence it checks


def probe_checks(module: str = "test_stock") -> tuple[str, ...]:
    """The names of a module's checks that read the state probe (marked ``pytest.mark.probe``)."""
    tree = ast.parse((Path(__file__).resolve().parents[1] / "contract_tests" / f"{module}.py").read_text())
    return tuple(node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                 and any(ast.unparse(d) == "pytest.mark.probe" for d in node.decorator_list))


PROBE_CHECKS = probe_checks()


def test_without_a_probe_the_probe_checks_fail_saying_what_to_give(tmp_path: Path, receiver: RunningReceiver) -> None:
    code, output, junit = run_suite(tmp_path, *stock_args(receiver.url, receiver.ca or Path()))
    assert code == 1, output[-3000:]
    assert junit is not None
    failed = [name for name, state in results(junit).items() if state == "failed"]
    assert failed and {name.split("[")[0] for name in failed} == set(PROBE_CHECKS)
    assert "give --state-probe URL" in output and "--allow-skip probe" in output


def test_a_probe_check_skips_only_when_allowed(tmp_path: Path, receiver: RunningReceiver) -> None:
    code, output, junit = run_suite(tmp_path, *stock_args(receiver.url, receiver.ca or Path()), "--allow-skip", "probe")
    assert code == 0, output[-3000:]
    assert junit is not None
    skipped = [name for name, state in results(junit).items() if state == "skipped"]
    assert skipped and {name.split("[")[0] for name in skipped} == set(PROBE_CHECKS)


@contextmanager
def accepts_everything(tls: TLSFiles) -> Iterator[str]:
    """A receiver that answers 200 to anything posted to /stock-push; yields its URL."""
    app = Flask("accepts-everything")

    @app.route("/stock-push", methods=["POST"])
    def accept() -> Any:
        return {"ok": True}

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True, ssl_context=(str(tls.cert), str(tls.key)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.shutdown()


def test_a_receiver_that_accepts_everything_fails_the_contract(tmp_path: Path, tls: TLSFiles) -> None:
    with accepts_everything(tls) as url:
        code, output, junit = run_suite(tmp_path, *stock_args(url, tls.ca), "--allow-skip", "probe")
    assert code == 1
    assert junit is not None
    outcome = results(junit)
    assert outcome["test_the_documents_own_example_is_accepted"] == "passed"
    assert outcome["test_missing_or_wrong_credentials_are_refused[missing-credentials]"] == "failed"
    assert outcome["test_a_malformed_push_is_refused[length-mismatch]"] == "failed"
    # The failure says what was sent, what came back, which sentence it breaks and how to send it again.
    assert "These credentials are provided as header fields" in output and "expected: a 4xx refusal" in output
    assert "sent:     POST" in output and "X-Stock-Key: ***" in output and "contract-key" not in output
    assert "--case missing-credentials" in output and "inventory-simulator stock --url" in output
    assert "assert " not in output  # no assertion-rewrite noise


def test_check_openapi_fails_answers_the_document_does_not_describe(tmp_path: Path, tls: TLSFiles) -> None:
    """The receiver's 200 says {"ok": true}; the published document says a receipt: every accepted push
    fails, naming the operation's schema."""
    document = Path(__file__).resolve().parents[1] / "docs" / "contracts" / "openapi.json"
    with accepts_everything(tls) as url:
        code, output, junit = run_suite(tmp_path, *stock_args(url, tls.ca), "--allow-skip", "probe",
                                        "--check-openapi", str(document), "-k", "documents_own_example")
    assert code == 1, output[-3000:]
    assert junit is not None and results(junit)["test_the_documents_own_example_is_accepted"] == "failed"
    assert "does not match the receiver's OpenAPI document (--check-openapi)" in output
    assert "'outcome' is a required property" in output and "sent:     POST" in output


def test_no_target_is_a_usage_error(tmp_path: Path) -> None:
    code, output, _ = run_suite(tmp_path)
    assert code == 4 and "--receiver-url" in output


def one_line_failure(junit: Path, module: str) -> str:
    """The channel's first check failed (with one line), every other one skipped; that line."""
    found = [r for r in outcomes(junit) if r.module.split(".")[-1] == module]
    failed = [r for r in found if r.outcome == "failed"]
    assert len(failed) == 1 and {r.outcome for r in found} == {"failed", "skipped"}, found
    messages = [case.find("error") if case.find("error") is not None else case.find("failure")
                for case in ET.parse(junit).getroot().iter("testcase")]
    [text] = [m.get("message", "") for m in messages if m is not None]
    return text


def test_an_unreachable_receiver_fails_its_channel_with_one_line(tmp_path: Path, tls: TLSFiles) -> None:
    code, output, junit = run_suite(tmp_path, *stock_args(f"https://127.0.0.1:{free_port()}", tls.ca))
    assert code == 1 and junit is not None
    line = one_line_failure(junit, "test_stock")
    assert "stock: cannot reach the receiver" in line and "--receiver-url" in line and "\n" not in line
    assert "Traceback" not in output and output.count("cannot reach the receiver") < 5


def test_an_untrusted_certificate_is_one_line_saying_which_option_fixes_it(
        tmp_path: Path, receiver: RunningReceiver) -> None:
    other = make_tls(tmp_path / "another-ca")  # a CA that did not sign the receiver's certificate
    code, output, junit = run_suite(tmp_path, *stock_args(receiver.url, other.ca))
    assert code == 1 and junit is not None
    line = one_line_failure(junit, "test_stock")
    assert "not trusted" in line and "--ca-bundle" in line
    assert output.count("CERTIFICATE_VERIFY_FAILED") == 0 and "Traceback" not in output


def test_a_customers_own_test_module_uses_the_plugins_fixtures(tmp_path: Path, receiver: RunningReceiver) -> None:
    """The plugin ships ``stock``, ``probe``, …: a module of the customer's own gets them once the kit is
    installed, without the suite's files."""
    seed = random.SystemRandom().randrange(2**32)
    (tmp_path / "test_mine.py").write_text(textwrap.dedent(f"""
        from inventory_push_kit.contract_tests.targets import Probe, StockTarget
        from inventory_push_kit.simulator.stock import StockGenerator


        def test_my_push_is_stored(stock: StockTarget, probe: Probe) -> None:
            push = StockGenerator(seed={seed}).sample_push(2)
            assert stock.platform.push(push).status == 200
            assert probe.get(f"stock/{{push.ids()[0]}}")[0] == 200
        """), encoding="utf-8")
    process = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_mine.py",
         *stock_args(receiver.url, receiver.ca or Path()), "--state-probe", f"{receiver.url}/api",
         "--state-probe-header", f"Authorization: Bearer {PROBE_TOKEN}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-2000:]
    assert "1 passed" in process.stdout


def fixture_names(path: Path) -> set[str]:
    """The names of the fixtures a module defines (functions decorated with ``pytest.fixture``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef) and any("fixture" in ast.unparse(d) for d in node.decorator_list):
            names.add(node.name)
    return names


def test_the_plugins_fixtures_shadow_none_of_the_kits_own_tests() -> None:
    """The plugin is loaded in every session where the kit is installed, this one included."""
    root = Path(__file__).resolve().parent
    plugin = fixture_names(root.parent / "contract_tests" / "plugin.py")
    assert {"target", "probe", "stock", "s360", "sm", "erp"} <= plugin
    ours = {name: path.name for path in root.glob("*.py") for name in fixture_names(path)}
    assert {name: ours[name] for name in plugin & set(ours)} == {}


def test_a_run_that_checks_nothing_fails_and_says_so_in_junit(tmp_path: Path, receiver: RunningReceiver) -> None:
    code, output, junit = run_suite(tmp_path, "--receiver-url", receiver.url, "--ca-bundle", str(receiver.ca))
    assert code == 1 and "no contract check ran" in output, output[-2000:]
    assert junit is not None
    errors = [case for case in ET.parse(junit).getroot().iter("testcase") if case.find("error") is not None]
    assert [case.get("name", "")[:6] for case in errors] == ["[RUN] "]


def test_a_named_channel_with_nothing_checked_fails(tmp_path: Path, receiver: RunningReceiver) -> None:
    code, output, _ = run_suite(tmp_path, *stock_args(receiver.url, receiver.ca or Path()), "--allow-skip", "probe",
                                "--channels", "stock", "-k", "test_s360")  # every stock check deselected
    assert code == 1 and "stock: every check of this channel skipped or was deselected" in output, output[-2000:]


def test_a_named_channel_without_its_options_fails_saying_which(tmp_path: Path, receiver: RunningReceiver) -> None:
    code, output, junit = run_suite(tmp_path, *stock_args(receiver.url, receiver.ca or Path()), "--allow-skip", "probe",
                                    "--channels", "stock,s360")
    assert code == 1 and junit is not None
    line = one_line_failure(junit, "test_s360")
    assert "named in --channels but --s360-path is missing" in line
    assert "failed" not in {r.outcome for r in outcomes(junit) if r.module.endswith("test_stock")}


def test_should_warn_reports_should_failures_without_failing_the_run(tmp_path: Path, tls: TLSFiles) -> None:
    """A receiver that accepts everything passes the rule that a push is accepted (MUST) and fails the
    refusal statuses (SHOULD): with --should warn, the run passes and says what it warned about."""
    with accepts_everything(tls) as url:
        args = (*stock_args(url, tls.ca), "--rules", "stock.post,stock.status-codes")
        failing, _, _ = run_suite(tmp_path, *args)
        warned, output, junit = run_suite(tmp_path, *args, "--should", "warn")
    assert (failing, warned) == (1, 0), output[-3000:]
    assert "SHOULD" in output and "warned" in output
    assert junit is not None and "expected: status 422" in junit.read_text(encoding="utf-8")


def test_rules_select_checks_and_junit_names_carry_the_level(tmp_path: Path, receiver: RunningReceiver) -> None:
    code, output, junit = run_suite(tmp_path, *stock_args(receiver.url, receiver.ca or Path()),
                                    "--rules", "stock.credentials*,stock.ssl", "--allow-skip", "probe")
    assert code == 0 and junit is not None, output[-2000:]
    root = ET.parse(junit).getroot()
    names = [case.get("name", "") for case in root.iter("testcase")]
    assert names and all(name.startswith(("[MUST] ", "[SHOULD] ")) for name in names)
    assert {name.split("] ")[1].split("[")[0] for name in names} == {
        "test_the_connection_is_ssl_encrypted", "test_missing_or_wrong_credentials_are_refused",
        "test_missing_or_wrong_credentials_are_401", "test_nothing_of_a_push_with_wrong_credentials_is_stored"}
    assert [suite.get("name") for suite in root.iter("testsuite")] == ["inventory-contract"]


def test_list_rules_prints_each_rule_with_its_sentence(tmp_path: Path) -> None:
    code, output, _ = run_suite(tmp_path, "--list-rules")
    assert code == 0
    assert "stock.older-never-wins  [SHOULD]" in output and "decision stock-5 (decisions.md)" in output
    assert 'stock-push.rst: "The connection should be SSL encrypted."' in output


def test_a_stock_receiver_answering_201_is_no_failure(tmp_path: Path, tls: TLSFiles) -> None:
    """The stock document names no success status (decision stock-8): a receiver that answers its
    pushes 201 Created, and stores them, passes every stock check the reference passes."""
    from inventory_push_kit.receiver import create_app
    from inventory_push_kit.receiver.config import from_mapping
    from inventory_push_kit.receiver.storage import Store

    url = f"sqlite:///{tmp_path / 'created.db'}"
    store = Store(url)
    store.create_schema()
    config = from_mapping({"storage": {"url": url}, "api": {"token": PROBE_TOKEN},
                           "stock": {"enabled": True, "max_body_bytes": LIMIT,
                                     "credential_headers": dict(line.split(": ") for line in CREDENTIALS)}})
    app = create_app(config, store=store)
    view = app.view_functions["stock_push"]

    def created() -> Any:
        answer, status = view()
        return answer, 201 if status == 200 else status

    app.view_functions["stock_push"] = created
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True, ssl_context=(str(tls.cert), str(tls.key)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"https://127.0.0.1:{port}"
        code, output, _ = run_suite(tmp_path, *stock_args(base, tls.ca), "--state-probe", f"{base}/api",
                                    "--state-probe-header", f"Authorization: Bearer {PROBE_TOKEN}")
    finally:
        server.shutdown()
        store.dispose()
    assert code == 0, output[-4000:]

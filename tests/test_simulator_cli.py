"""What every platform's sub-command shares: ``--list-cases`` lists the named cases with the answer a correct
receiver gives, and ``--case NAME`` sends exactly those cases (the command a contract failure prints)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from devtools.serving import RunningReceiver, make_tls, running_consumer, running_receiver
from inventory_push_kit import fixtures
from inventory_push_kit.simulator.cli import main
from tests.conftest import unique_queues

URL = "https://receiver.test/stock-push"


@pytest.mark.parametrize(("channel", "required", "case"), [
    ("stock", ["--url", URL], "length-mismatch"),
    ("s360", ["--url", URL], "id-missing"),
    ("servicemobility", ["--url", URL], "missing-id"),
    ("erp", ["--amqp-url", "amqp://nowhere"], "not-json"),
])
def test_list_cases_names_each_case_with_its_expected_answer(capsys: pytest.CaptureFixture[str], channel: str,
                                                            required: list[str], case: str) -> None:
    assert main([channel, *required, "--list-cases"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = {line.split()[0]: line for line in lines}
    assert case in listed and ("SHOULD" in listed[case] or "MUST" in listed[case])


@pytest.mark.parametrize("channel", ["stock", "s360", "servicemobility", "erp"])
def test_an_unknown_case_is_refused_before_anything_is_sent(capsys: pytest.CaptureFixture[str], channel: str) -> None:
    required = ["--amqp-url", "amqp://nowhere"] if channel == "erp" else ["--url", URL]
    assert main([channel, *required, "--case", "no-such-case"]) == 2
    assert "no case named no-such-case" in capsys.readouterr().err


@pytest.mark.parametrize("channel", ["stock", "s360", "servicemobility"])
def test_an_abbreviated_option_is_refused_not_guessed(capsys: pytest.CaptureFixture[str], channel: str) -> None:
    # "--ur" is not taken for --url: a later option sharing the prefix would silently change what it means.
    with pytest.raises(SystemExit) as exited:
        main([channel, "--ur", URL, "--list-cases"])
    assert exited.value.code == 2 and "required: --url" in capsys.readouterr().err


@responses.activate
def test_case_sends_exactly_the_named_cases(capsys: pytest.CaptureFixture[str]) -> None:
    responses.add(responses.POST, URL, status=422, json={"error": {"status": 422}})
    code = main(["stock", "--url", URL, "--header", "X-Key: k", "--case", "length-mismatch",
                 "--case", "bad-date"])
    assert code == 0, capsys.readouterr().out
    assert len(responses.calls) == 2
    columns = [json.loads(call.request.body)["data"] for call in responses.calls]
    assert len({len(v) for v in columns[0].values()}) > 1  # length-mismatch: the columns disagree
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("length-mismatch") and "2 pushes, 0 unexpected" in out


# -- the real command against a real receiver ----------------------------------------------------------------

TOKEN = "simulator-cli-probe-token"
STOCK_KEY = "X-Stock-Key: cli-stock-key"
S360_AUTH = "basic:s360:cli-s360-password"
SM_SECRET = "m" * 40
SIMULATOR = str(Path(sys.executable).with_name("inventory-simulator"))


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory,
             rabbitmq_url: str) -> Iterator[tuple[RunningReceiver, dict[str, str]]]:
    """Every channel on, the ERP consumer on queues of this module only."""
    workdir = tmp_path_factory.mktemp("simulator-cli")
    with unique_queues(rabbitmq_url, "simcli") as queues:
        config = {
            "storage": {"data_dir": str(workdir / "data")}, "api": {"token": TOKEN},
            "stock": {"enabled": True, "credential_headers": {"X-Stock-Key": "cli-stock-key"}},
            "s360": {"enabled": True, "auth": "BASIC_AUTH", "login": "s360", "password": "cli-s360-password"},
            "servicemobility": {"enabled": True, "jwt": "hs256", "secret": SM_SECRET},
            "erp": {"enabled": True, "amqp_url": rabbitmq_url, **queues},
        }
        with running_receiver(config, workdir, tls=make_tls(workdir / "tls")) as running, \
                running_consumer(running.config_path, workdir):
            yield running, queues


def simulate(*argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([SIMULATOR, *argv], input=stdin, capture_output=True, timeout=300)


def http_args(running: RunningReceiver, channel: str) -> list[str]:
    tls = ["--ca-bundle", str(running.ca)]
    return {
        "stock": ["stock", "--url", f"{running.url}/stock-push", "--header", STOCK_KEY, *tls],
        "s360": ["s360", "--url", f"{running.url}/s360/inventory", "--auth", S360_AUTH, *tls],
        "servicemobility": ["servicemobility", "--url", f"{running.url}/servicemobility", "--secret", SM_SECRET,
                            *tls],
    }[channel]


def api(running: RunningReceiver, path: str) -> Any:
    answer = requests.get(f"{running.url}/api/{path}", headers={"Authorization": f"Bearer {TOKEN}"},
                          verify=str(running.ca), timeout=30)
    return answer.json() if answer.headers.get("Content-Type", "").startswith("application/json") else answer.content


def json_lines(stdout: bytes) -> list[dict[str, Any]]:
    """Every line of stdout is one JSON object: nothing else may be there."""
    return [json.loads(line) for line in stdout.decode().splitlines()]


@pytest.mark.parametrize(("channel", "case", "status"), [
    ("stock", "length-mismatch", 422), ("s360", "id-missing", 422), ("servicemobility", "missing-id", 422),
])
def test_case_against_the_reference_gets_the_answer_list_cases_shows(
        receiver: tuple[RunningReceiver, dict[str, str]], channel: str, case: str, status: int) -> None:
    running, _ = receiver
    listed = simulate(*http_args(running, channel), "--list-cases").stdout.decode()
    [line] = [line for line in listed.splitlines() if line.split()[0] == case]
    assert str(status) in line.split()[1]
    done = simulate(*http_args(running, channel), "--case", case, "--json")
    assert done.returncode == 0, done.stderr.decode()
    sent = json_lines(done.stdout)  # a case may send several requests (first, middle, last product)
    assert sent and all(s["case"].split()[0] == case and s["status"] == status and s["ok"] is True
                        and status in s["expected"] for s in sent)


@pytest.mark.parametrize(("channel", "fixture", "path"), [
    ("stock", "document-example", "/stock-push"),
    ("s360", "document-example", "/s360/inventory"),
    ("servicemobility", "document-envelope", "/servicemobility/InventoryUsage/"),
])
def test_body_sends_a_fixture_byte_for_byte_with_the_platforms_credentials(
        receiver: tuple[RunningReceiver, dict[str, str]], channel: str, fixture: str, path: str,
        tmp_path: Path) -> None:
    running, _ = receiver
    raw = fixtures.raw(channel, fixture)
    # an answer of 200 is what a correct receiver gives the document's example; stdin works as a file does
    done = simulate(*http_args(running, channel), "--body", "-", "--json", stdin=raw)
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    [sent] = json_lines(done.stdout)
    assert (sent["method"], sent["path"], sent["size"], sent["status"], sent["ok"]) == ("POST", path, len(raw), 200,
                                                                                       True)
    # a file the receiver refuses is sent as is too: the delivery log keeps its bytes
    broken = raw[: len(raw) // 2]
    (tmp_path / "broken.json").write_bytes(broken)
    refused = simulate(*http_args(running, channel), "--body", str(tmp_path / "broken.json"), "--expect", "400")
    assert refused.returncode == 0, refused.stdout.decode()
    assert refused.stdout.decode().startswith("body:broken.json")
    channel_name = {"servicemobility": "servicemobility"}.get(channel, channel)
    [latest] = api(running, f"deliveries?channel={channel_name}&outcome=rejected&limit=1")["items"]
    assert latest["status"] == 400 and api(running, f"deliveries/{latest['id']}/body") == broken


def test_an_unexpected_line_shows_the_answers_body(receiver: tuple[RunningReceiver, dict[str, str]],
                                                   tmp_path: Path) -> None:
    running, _ = receiver
    (tmp_path / "three.json").write_bytes(b'{"data": {"leadTime": ["three"]}}')
    done = simulate(*http_args(running, "stock"), "--body", str(tmp_path / "three.json"))  # expects 200
    assert done.returncode == 1
    [line, summary] = done.stdout.decode().splitlines()
    assert "UNEXPECTED  answer: " in line and '"status": 422' in line.replace('"status":422', '"status": 422')
    assert summary.startswith("1 pushes, 1 unexpected; status 422 x1; latency p50 ")


def test_json_repeat_rate_and_concurrency(receiver: tuple[RunningReceiver, dict[str, str]]) -> None:
    running, _ = receiver
    done = simulate(*http_args(running, "servicemobility"), "--case", "type-TimeEntry", "--repeat", "10",
                    "--rate", "20", "--concurrency", "3", "--json")
    assert done.returncode == 0, done.stderr.decode()
    sent = json_lines(done.stdout)
    assert len(sent) == 10 and all(s["case"] == "type-TimeEntry" and s["status"] == 200 and s["ok"] for s in sent)
    assert all(isinstance(s["latency_ms"], float) and s["answer"] for s in sent)
    starts = sorted(s["started"] for s in sent)
    assert starts[-1] - starts[0] >= 9 / 20 * 0.8  # paced: ten starts at most 20 a second are spread out
    summary = done.stderr.decode().splitlines()[-1]
    assert summary.startswith("10 requests, 0 unexpected; status 200 x10; latency p50 ") and "p99" in summary


def test_seed_is_random_printed_and_repeats_a_run(receiver: tuple[RunningReceiver, dict[str, str]]) -> None:
    running, _ = receiver
    args = [*http_args(running, "stock"), "--scenario", "conforming", "--rows", "3", "--deltas", "0", "--json"]
    first = simulate(*args)
    seed = re.search(r"seed=(\d+)", first.stderr.decode())
    assert first.returncode == 0 and seed, first.stderr.decode()
    again = simulate(*args, "--seed", seed.group(1))
    assert f"seed={seed.group(1)}" in again.stderr.decode()
    # the same seed sends the same first push: the receiver recognises it as a replay
    assert json.loads(json_lines(again.stdout)[0]["answer"])["outcome"] == "duplicate"


def test_help_texts_are_plain_and_explain_every_option() -> None:
    for channel in ("stock", "s360", "servicemobility", "erp"):
        text = simulate(channel, "--help").stdout.decode()
        assert "``" not in text and "`" not in text
        options = re.findall(r"^  (-[-\w]+(?:, --[-\w]+)?)(.*)$", text, re.MULTILINE)
        # an option with its help on the same line or the next: never an option without help
        lines = text.splitlines()
        for number, line in enumerate(lines):
            if re.match(r"^  --?\w", line) and len(line.split("  ")) < 3 and not line.strip().startswith("-h"):
                assert lines[number + 1].startswith(" " * 10), (channel, line)
        assert options and "--seed" in text and "--scenario" in text


def test_s360_prints_the_real_wait(receiver: tuple[RunningReceiver, dict[str, str]]) -> None:
    running, _ = receiver
    done = simulate(*http_args(running, "s360"), "--scenario", "schedule", "--runs", "2", "--products", "2",
                    "--speed", "600")
    assert done.returncode == 0, done.stdout.decode()
    assert "waiting 1.5 s (15 platform minutes at --speed 600) before the next run (2/2)" in done.stderr.decode()


def test_erp_without_a_probe_says_it_cannot_check_and_exits_3(
        receiver: tuple[RunningReceiver, dict[str, str]], rabbitmq_url: str) -> None:
    _, queues = receiver
    args = ["erp", "--amqp-url", rabbitmq_url, "--customer-queue", queues["customer_queue"],
            "--subscription-queue", queues["subscription_queue"], "--customers", "1", "--subscriptions", "0"]
    done = simulate(*args)
    assert done.returncode == 3
    assert "what the consumer made of them is not checked" in done.stderr.decode()
    assert simulate(*args, "--publish-only").returncode == 0


def test_erp_with_the_probe_checks_each_outcome(receiver: tuple[RunningReceiver, dict[str, str]],
                                                rabbitmq_url: str, tmp_path: Path) -> None:
    running, queues = receiver
    probe = ["--state-probe", f"{running.url}/api", "--state-probe-header", f"Authorization: Bearer {TOKEN}",
             "--ca-bundle", str(running.ca), "--erp-wait", "30"]
    args = ["erp", "--amqp-url", rabbitmq_url, "--customer-queue", queues["customer_queue"],
            "--subscription-queue", queues["subscription_queue"], *probe]
    done = simulate(*args, "--case", "not-json", "--case", "no-id", "--json")
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
    lines = json_lines(done.stdout)
    checks = [line for line in lines if line["case"].startswith("check ")]
    assert checks and all(c["ok"] and c["expected"] == "dead-letter" for c in checks)
    # a message that is stored, but said to be dead-lettered: the check fails and says what it saw
    customer = tmp_path / "customer.json"
    customer.write_text(json.dumps({"id": "cli-check-1", "name": "Çağrı"}), encoding="utf-8")
    assert simulate(*args, "--body", str(customer)).returncode == 0
    assert api(running, "erp/customers/cli-check-1")["document"]["name"] == "Çağrı"
    wrong = simulate(*args, "--body", str(customer), "--expect", "dead-letter", "--erp-wait", "2")
    assert wrong.returncode == 1
    assert re.search(r"^check body:customer.json .*FAILED: after 2 s: not in the delivery log as rejected",
                     wrong.stdout.decode(), re.MULTILINE)

"""The first hour of a new user, run as they would run it: ``init`` → ``check-config`` → ``serve`` → a
simulator push with what init wrote; and every start-up failure one line with its documented exit code."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from devtools.serving import free_port, terminate
from inventory_push_kit.receiver.startup import ExitCode

BIN = Path(sys.executable).parent
RECEIVER = str(BIN / "inventory-receiver")
SIMULATOR = str(BIN / "inventory-simulator")


def run(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECEIVER_", "CONTRACT_"))}
    return subprocess.run([RECEIVER, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


def init(tmp_path: Path, rabbitmq_url: str | None = None) -> tuple[Path, Path]:
    """``init`` into tmp_path/first-run on a free port; (its folder, a folder elsewhere to run from)."""
    args = ["init", "first-run", "--bind", f"127.0.0.1:{free_port()}"]
    if rabbitmq_url is not None:
        args += ["--amqp-url", rabbitmq_url]
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return tmp_path / "first-run", elsewhere


def one_line_failure(result: subprocess.CompletedProcess[str], code: ExitCode, *words: str) -> None:
    """What every start-up failure looks like: its exit code, one line on stderr, no traceback."""
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output and "Worker failed to boot" not in output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def set_key(config: Path, section: str, key: str, value: str) -> None:
    """Replace (or add) one key of one section of the TOML file init wrote."""
    text = config.read_text()
    head = f"[{section}]\n"
    start = text.index(head) + len(head)
    end = text.find("\n[", start)
    end = len(text) if end < 0 else end
    body = [line for line in text[start:end].splitlines() if not line.startswith(f"{key} =")]
    config.write_text(text[:start] + "\n".join([f"{key} = {value}", *body]) + text[end:])


@contextmanager
def serving(config: Path, cwd: Path) -> Iterator[subprocess.Popen[str]]:
    """``serve`` running from ``cwd``; its output in cwd/serve.log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECEIVER_")}
    with open(cwd / "serve.log", "w") as log:
        process = subprocess.Popen([RECEIVER, "--config", str(config), "serve"], cwd=cwd, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        yield process
    finally:
        terminate(process)


def sender_env(folder: Path) -> dict[str, str]:
    """The variables of sender.env, as `. sender.env` sets them."""
    shell = subprocess.run(["sh", "-c", f"set -a && . {folder / 'sender.env'} && env"], capture_output=True, text=True,
                           check=True, env={"PATH": "/usr/bin:/bin"})
    return dict(line.split("=", 1) for line in shell.stdout.splitlines() if "=" in line)


def wait_healthy(url: str, ca: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"serve exited with {process.returncode}"
        try:
            if requests.get(f"{url}/healthz", verify=ca, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError("the receiver did not answer its health check")


def test_init_then_check_then_serve_then_a_push_with_what_init_wrote(tmp_path: Path, rabbitmq_url: str) -> None:
    folder, elsewhere = init(tmp_path, rabbitmq_url)
    assert {p.name for p in folder.iterdir()} == {"certs", "receiver.toml", "sender.env"}
    assert {p.name for p in (folder / "certs").iterdir()} == {"ca.pem", "server.pem", "server.key"}
    for private in ("receiver.toml", "sender.env", "certs/server.key"):
        assert (folder / private).stat().st_mode & 0o077 == 0, private

    checked = run("--config", str(folder / "receiver.toml"), "check-config", cwd=elsewhere)
    assert checked.returncode == 0, checked.stderr
    assert "configuration OK" in checked.stdout
    for endpoint in ("POST  /stock-push", "POST  /s360/inventory", "POST  /servicemobility/InventoryUsage[/]",
                     "GET   /api/deliveries"):
        assert endpoint in checked.stdout
    assert "secom-customer-queue" in checked.stdout
    env = sender_env(folder)
    for secret in (env["STOCK_KEY"], env["SM_SECRET"], env["API_TOKEN"]):
        assert secret not in checked.stdout + checked.stderr
    # Relative paths were read from the configuration's folder, not from where the command ran.
    assert f"{folder}/certs/server.pem" in checked.stdout and f"{folder}/data" in checked.stdout

    with serving(folder / "receiver.toml", elsewhere) as process:
        wait_healthy(env["BASE_URL"], env["CA_BUNDLE"], process)
        pushed = subprocess.run(
            [SIMULATOR, "stock", "--url", f"{env['BASE_URL']}/stock-push", "--ca-bundle", env["CA_BUNDLE"],
             "--header", f"X-Stock-User: {env['STOCK_USER']}", "--header", f"X-Stock-Key: {env['STOCK_KEY']}",
             "--scenario", "conforming", "--rows", "20", "--deltas", "1"],
            capture_output=True, text=True, timeout=120)
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        assert "UNEXPECTED" not in pushed.stdout
        stored = requests.get(f"{env['BASE_URL']}/api/stock", headers={"Authorization": f"Bearer {env['API_TOKEN']}"},
                              verify=env["CA_BUNDLE"], timeout=10)
        assert stored.status_code == 200 and stored.json()["items"]
    log = (elsewhere / "serve.log").read_text()
    assert "/stock-push" in log and "Traceback" not in log  # serve logged what it serves
    assert (folder / "data" / "receiver.db").exists() and not (elsewhere / "data").exists()
    assert process.returncode == 0


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    folder, _ = init(tmp_path)
    before = (folder / "receiver.toml").read_text()
    again = run("init", "first-run", cwd=tmp_path)
    one_line_failure(again, ExitCode.USAGE, "exists already", "--force")
    assert (folder / "receiver.toml").read_text() == before
    forced = run("init", "first-run", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert (folder / "receiver.toml").read_text() != before  # new secrets


def _mismatched_key(folder: Path) -> None:
    other = folder.parent / "other"
    run("init", str(other), cwd=folder.parent)
    (folder / "certs" / "server.key").write_bytes((other / "certs" / "server.key").read_bytes())


BAD = {
    "weak secret": (lambda f: set_key(f / "receiver.toml", "servicemobility", "secret", '"short"'),
                    ExitCode.CONFIG, ("[servicemobility]", "too weak")),
    "bad scheme": (lambda f: set_key(f / "receiver.toml", "storage", "url", '"postgresq://u:pw@127.0.0.1/x"'),
                   ExitCode.CONFIG, ("[storage] url", "not supported")),
    "missing certificate": (lambda f: (f / "certs" / "server.pem").unlink(),
                            ExitCode.CONFIG, ("[server] certfile", "server.pem", "does not exist", "init")),
    "mismatched key": (_mismatched_key, ExitCode.CONFIG, ("[server] keyfile", "is not the key of the certificate")),
    "database down": (lambda f: set_key(f / "receiver.toml", "storage", "url",
                                        f'"postgresql://postgres:pw-of-db@127.0.0.1:{free_port()}/test"'),
                      ExitCode.STORAGE, ("storage", "127.0.0.1", "start the database")),
    "no such file": (lambda f: (f / "receiver.toml").rename(f / "moved.toml"),
                     ExitCode.CONFIG, ("receiver.toml", "does not exist")),
}


@pytest.mark.parametrize("command", ["check-config", "serve"])
@pytest.mark.parametrize("case", list(BAD))
def test_each_bad_configuration_is_one_line_and_its_exit_code(tmp_path: Path, case: str, command: str) -> None:
    break_it, code, words = BAD[case]
    folder, elsewhere = init(tmp_path, "")  # the ERP channel off: these are about the rest
    break_it(folder)
    result = run("--config", str(folder / "receiver.toml"), command, cwd=elsewhere)
    one_line_failure(result, code, *words)
    assert "pw-of-db" not in result.stderr
    assert not re.search(r"\b[0-9a-f]{64}\b", result.stdout + result.stderr)  # no generated secret shown


def test_an_unreachable_broker_fails_check_config_only(tmp_path: Path) -> None:
    folder, elsewhere = init(tmp_path, f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F")
    result = run("--config", str(folder / "receiver.toml"), "check-config", cwd=elsewhere)
    one_line_failure(result, ExitCode.BROKER_UNREACHABLE, "broker", "nothing answers", "enabled = false")
    offline = run("--config", str(folder / "receiver.toml"), "check-config", "--offline", cwd=elsewhere)
    assert offline.returncode == 0, offline.stderr


def test_a_refused_broker_login_is_its_own_exit_code(tmp_path: Path, rabbitmq_url: str) -> None:
    wrong = re.sub(r"//[^@]*@", "//guest:not-the-password@", rabbitmq_url)
    folder, elsewhere = init(tmp_path, wrong)
    result = run("--config", str(folder / "receiver.toml"), "check-config", cwd=elsewhere)
    one_line_failure(result, ExitCode.BROKER_AUTH, "refused the credentials")
    assert "not-the-password" not in result.stderr


def test_the_address_in_use_is_one_line(tmp_path: Path) -> None:
    folder, elsewhere = init(tmp_path, "")
    env = sender_env(folder)
    with serving(folder / "receiver.toml", elsewhere) as process:
        wait_healthy(env["BASE_URL"], env["CA_BUNDLE"], process)
        second = run("--config", str(folder / "receiver.toml"), "serve", cwd=elsewhere)
        one_line_failure(second, ExitCode.ADDRESS_IN_USE, "[server] bind", "--bind")


def test_no_channel_enabled_is_said_loudly(tmp_path: Path) -> None:
    folder, elsewhere = init(tmp_path, "")
    for section in ("stock", "s360", "servicemobility"):
        set_key(folder / "receiver.toml", section, "enabled", "false")
    result = run("--config", str(folder / "receiver.toml"), "check-config", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert "NO CHANNEL IS ENABLED" in result.stdout


def test_versions_and_help() -> None:
    for command in (RECEIVER, SIMULATOR):
        shown = subprocess.run([command, "--version"], capture_output=True, text=True, check=True)
        assert re.fullmatch(r"inventory-\w+ \d+\.\d+\S* \(inventory-push-kit\)\n", shown.stdout)
    helped = subprocess.run([RECEIVER, "--help"], capture_output=True, text=True, check=True).stdout
    assert "``" not in helped and "exit codes:" in helped and "reapply" in helped
    usage = subprocess.run([sys.executable, "-m", "inventory_push_kit.contract_tests"], capture_output=True, text=True,
                           check=True)
    assert "--pyargs inventory_push_kit.contract_tests" in usage.stdout and "--list-rules" in usage.stdout

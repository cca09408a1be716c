"""README.md works as written: its command blocks, run in order in a fresh copy of the repository against
the local PostgreSQL and RabbitMQ, all do what the README says (the convention: devtools/readme.py and the
comment at the top of README.md). The Quick start's two commands are checked to be there, not run:
``make test`` runs this test, and CI (``.ci/run``) runs ``make test`` and then ``make demo``."""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools import readme
from devtools.serving import free_port
from inventory_push_kit.receiver.init import DEFAULT_BIND
from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
VENV = Path(sys.prefix)  # the test run's environment, with the kit installed: the README's .venv


def fresh_copy(destination: Path) -> Path:
    """What a clone of the working tree holds (tracked files and new ones not ignored, as they are now),
    with a .venv that is the test run's environment: nothing is installed or downloaded again."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)  # times kept: make sees what it sees in the working tree
    venv = destination / ".venv"
    venv.mkdir()
    for entry in VENV.iterdir():
        if entry.name != ".installed":
            (venv / entry.name).symlink_to(entry)
    (venv / ".installed").touch()  # make venv: up to date, nothing reinstalled (into the shared environment)
    return destination


def readme_env(copy: Path) -> dict[str, str]:
    """A reader's shell: the venv's commands first on PATH, none of the test run's own settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RECEIVER_", "CONTRACT_", "PYTEST_", "BENCH_", "DEMO_")) and k != "PYTHONPATH"}
    env["PATH"] = f"{copy / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["BENCH_QUICK"] = "1"  # a benchmark command runs in its quick form
    return env


@pytest.fixture
def readme_lock() -> Iterator[None]:
    """One README run at a time on this machine: its first run listens on one port and uses the
    documented queue names."""
    with open(Path(tempfile.gettempdir()) / "inventory-push-kit-readme.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def require_port_free(bind: str) -> None:
    host, _, port = bind.rpartition(":")
    with socket.socket() as sock:
        taken = sock.connect_ex((host, int(port))) == 0
    if taken:
        message = f"{bind}, where the README's first run serves, is taken by another process"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)


def test_the_quick_start_is_exactly_make_demo_and_make_test() -> None:
    [block] = [b for b in readme.blocks(README.read_text(encoding="utf-8")) if b.section == "Quick start"]
    assert [str(c).split("#")[0].strip() for c in block.commands] == ["make demo", "make test"]
    assert block.skip, "the Quick start block is marked not to run (make test runs this test)"


@pytest.mark.timeout(900)
def test_every_command_block_of_the_readme_runs_as_written(tmp_path: Path, postgres_url: str, rabbitmq_url: str,
                                                         readme_lock: None) -> None:
    require_service("RabbitMQ", "amqp://guest:guest@127.0.0.1:5672/%2F", 5672)  # the README's own address
    require_port_free(DEFAULT_BIND)
    copy = fresh_copy(tmp_path / "clone")
    started = time.monotonic()
    ran = readme.run((copy / "README.md").read_text(encoding="utf-8"), copy, readme_env(copy), tmp_path / "logs")
    assert len(ran) >= 10, [str(c) for c in ran]
    assert {c.background for c in ran} >= {"serve", "consume"}
    print(f"{len(ran)} README commands in {time.monotonic() - started:.0f} s")


# The runner itself: a README that is wrong fails, naming its line.

def run_text(text: str, tmp_path: Path, timeout: float = 60) -> list[readme.Command]:
    copy = tmp_path / "clone"
    copy.mkdir(exist_ok=True)
    (copy / ".venv").mkdir(exist_ok=True)
    if not (copy / ".venv" / "bin").exists():
        (copy / ".venv" / "bin").symlink_to(VENV / "bin")
    return readme.run(text, copy, readme_env(copy), tmp_path / "logs", timeout=timeout)


@pytest.mark.parametrize(("command", "why"), [
    (".venv/bin/inventory-simulator stock --no-such-option", "exited 2"),
    ("cat no-such-file.json", "exited 1"),
    (".venv/bin/inventory-receiver --config missing.toml check-config", "exited 3"),
    ("true  # exits 3", "exited 0 (the README expects 3)"),
    ("pip install .", "is not run here: it installs into the test run's environment"),
    ("make test", "is not run here: it runs the test suite"),
])
def test_a_wrong_command_fails_naming_its_readme_line(command: str, why: str, tmp_path: Path) -> None:
    text = f"# Title\n\nSome text.\n\n```sh\nX=1\n{command}\necho never\n```\n"
    with pytest.raises(readme.ReadmeFailure) as failure:
        run_text(text, tmp_path)
    assert f"README.md line 7: `{command}` {why}" in str(failure.value)


def test_a_command_that_does_not_end_fails_and_is_stopped(tmp_path: Path) -> None:
    text = "```sh\necho started > started.txt; sleep 127; echo late > late.txt\n```\n"
    with pytest.raises(readme.ReadmeFailure, match=r"README.md line 2: .* did not finish within 2 s"):
        run_text(text, tmp_path, timeout=2)
    time.sleep(0.5)
    assert (tmp_path / "clone" / "started.txt").exists() and not (tmp_path / "clone" / "late.txt").exists()
    assert not subprocess.run(["pgrep", "-f", "sleep 127"], capture_output=True).stdout


def test_blocks_follow_the_convention(tmp_path: Path) -> None:
    text = "\n".join([
        "## One", "```sh", "A=1", "echo \"$A\" \\", "  > a.txt", "false  # exits 1", "```",
        "```text", "not a command", "```",
        "<!-- readme-test: skip installs into the current environment -->", "```sh", "pip install .", "```",
        "```python", "import pathlib", "assert pathlib.Path('a.txt').read_text() == '1\\n'", "```",
        "## Two", "```sh", "for x in a b; do", "  echo $x", "done", "cat a.txt", "```", ""])
    found = readme.blocks(text)
    assert [(b.lang, b.runs, b.section) for b in found] == [
        ("sh", True, "One"), ("text", False, "One"), ("sh", False, "One"), ("python", True, "One"),
        ("sh", True, "Two")]
    assert found[2].skip == "installs into the current environment"
    assert [(c.line, c.expected_exit) for c in found[0].commands] == [(3, 0), (4, 0), (6, 1)]
    assert [c.line for c in found[4].commands] == [21, 24]
    ran = run_text(text, tmp_path)
    assert len(ran) == 6


def test_a_long_running_command_runs_in_the_background_until_the_end(tmp_path: Path) -> None:
    """serve starts, is waited for, answers the next block, and is stopped (exit 0) at the end; one that
    dies at start-up fails naming its line."""
    init = f".venv/bin/inventory-receiver init first-run --amqp-url '' --bind 127.0.0.1:{free_port()}"
    serve = ".venv/bin/inventory-receiver --config first-run/receiver.toml serve"
    text = "\n".join([
        "```sh", init, "```", "```sh", serve, "```", "```sh", ". first-run/sender.env",
        "curl -sf --cacert \"$CA_BUNDLE\" \"$BASE_URL/healthz\"", "```", ""])
    ran = run_text(text, tmp_path)
    assert [c.background for c in ran] == [None, "serve", None, None]
    broken = text.replace(serve, serve.replace("first-run/receiver.toml", "first-run/sender.env"))
    with pytest.raises(readme.ReadmeFailure, match=r"README.md line 5: .* exited 3 before it was ready"):
        run_text(broken.replace(init, init + " --force"), tmp_path)


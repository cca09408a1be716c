"""Run README.md's command blocks as a reader does: in order, in one shell, in a clone of the repository.

The convention (also stated in an HTML comment at the top of README.md):

- ```` ```sh ````, ```` ```console ````, ```` ```bash ```` and ```` ```shell ```` blocks are run, one command
  after the other (a command may continue over lines with a trailing backslash), in one bash session whose
  working directory is the clone's root: variables set and files sourced stay set, as in a reader's
  terminal. ```` ```python ```` blocks are run with the environment's ``python``. Other blocks (``text``,
  ``toml``, ``json``, …) are not run.
- Every command must exit 0, or the code its last line states in a trailing comment ``# exits N``.
- ``<!-- readme-test: skip REASON -->`` on the line before a block: the block is parsed, not run. A
  block that installs something (``pip install``) or runs ``make test`` must be marked so.
- A command that starts a long-running process (``inventory-receiver … serve`` or ``… consume``) is
  started in the background and waited for until it is ready (``serve``: an HTTP answer at the address
  it logs; ``consume``: it logs that it consumes). It runs until a later block starts the same command
  again or the README ends (the later sections talk to the receiver the first run started); then it is
  stopped with SIGTERM and must exit 0.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import time
import warnings
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import requests
from urllib3.exceptions import InsecureRequestWarning

RUN = {"sh", "console", "bash", "shell"}
PYTHON = {"python", "py"}
SKIP_MARKER = re.compile(r"<!--\s*readme-test:\s*skip\b(?P<reason>.*?)-->")
EXPECTED_EXIT = re.compile(r"#\s*exits\s+(?P<code>\d+)\s*$")
# The receiver's long-running commands, whatever runs them (the console script, python -m …).
LONG_RUNNING = re.compile(r"(?:^|\s)(?P<command>serve|consume)(?:\s|$)")
RECEIVER_COMMAND = re.compile(r"inventory-receiver|python\S*\s+-m\s+\S+")
LISTENING = re.compile(r"Listening at: (?P<url>https?://\S+)")
CONSUMING = "erp: consuming"
# Never run: they would change the environment every test shares, or run this test inside itself.
REFUSED = {re.compile(r"\bpip3?\s+install\b|-m\s+pip\s+install\b"): "installs into the test run's environment",
           re.compile(r"\bmake\s+(?:\S+\s+)*test\b"): "runs the test suite, this test included"}
_FENCE = re.compile(r"^(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)")


@dataclass(frozen=True)
class Command:
    line: int  # README line of its first line, 1-based
    text: str
    expected_exit: int = 0
    background: str | None = None  # "serve" / "consume": a long-running process

    def __str__(self) -> str:
        return " ".join(part.strip() for part in self.text.split("\\\n"))


@dataclass(frozen=True)
class Block:
    line: int  # README line of the opening fence
    lang: str
    section: str  # the heading above it
    body: str
    skip: str | None = None  # the marker's reason when it is not run
    commands: list[Command] = field(default_factory=list)

    @property
    def runs(self) -> bool:
        return self.skip is None and (self.lang in RUN or self.lang in PYTHON)


class ReadmeFailure(AssertionError):
    """A README command that did not do what the README says, named by its line."""

    def __init__(self, command: Command, message: str, output: str = "") -> None:
        tail = output[-4000:]
        super().__init__(f"README.md line {command.line}: `{command}` {message}" + (f"\n{tail}" if tail else ""))
        self.command = command


def blocks(text: str) -> list[Block]:
    """Every fenced block of a Markdown text, with the commands of those that run."""
    found: list[Block] = []
    lines = text.splitlines()
    section = ""
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        opening = _FENCE.match(line)
        if not opening:
            index += 1
            continue
        fence, lang = opening["fence"], opening["lang"].lower()
        start = index
        index += 1
        body: list[str] = []
        while index < len(lines) and not lines[index].startswith(fence):
            body.append(lines[index])
            index += 1
        index += 1
        previous = next((lines[i] for i in range(start - 1, -1, -1) if lines[i].strip()), "")
        marker = SKIP_MARKER.search(previous)
        block = Block(start + 1, lang, section, "\n".join(body) + "\n",
                      skip=(marker["reason"].strip(" :—-") or "marked") if marker else None)
        if lang in RUN:
            block.commands.extend(shell_commands(body, first_line=start + 2))
        elif lang in PYTHON:
            block.commands.append(Command(start + 2, f"python - <<'README_PYTHON'\n{block.body}README_PYTHON"))
        found.append(block)
    return found


def shell_commands(lines: list[str], *, first_line: int) -> list[Command]:
    """The commands of a shell block: a line, with the lines it continues onto (a trailing backslash, an
    unfinished construct, a here-document), as bash itself reads them."""
    commands: list[Command] = []
    pending: list[str] = []
    start = first_line
    for number, line in enumerate(lines, first_line):
        if not pending:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            start = number
        pending.append(line)
        text = "\n".join(pending)
        if line.endswith("\\") or not _complete(text):
            continue
        commands.append(_command(start, text))
        pending = []
    if pending:
        commands.append(_command(start, "\n".join(pending)))  # unfinished: bash says why when it runs
    return commands


def _complete(text: str) -> bool:
    heredoc = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", text)
    if heredoc and not re.search(rf"^\s*{heredoc[1]}\s*$", text.split("\n", 1)[-1], re.MULTILINE):
        return False
    return subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True).returncode == 0


def _command(line: int, text: str) -> Command:
    last = text.rstrip().splitlines()[-1]
    expected = EXPECTED_EXIT.search(last)
    code = text.split("#", 1)[0] if "#" in text and not expected else text
    background = LONG_RUNNING.search(code) if RECEIVER_COMMAND.search(code) else None
    return Command(line, text, int(expected["code"]) if expected else 0,
                   background["command"] if background else None)


@dataclass
class Background:
    command: Command
    pid: int
    log: Path


class ReadmeShell:
    """One bash session that runs the commands, each with its output in a file of ``logs``."""

    def __init__(self, cwd: Path, env: Mapping[str, str], logs: Path, *, timeout: float) -> None:
        logs.mkdir(parents=True, exist_ok=True)
        self.logs, self.timeout, self.count = logs, timeout, 0
        self.shell_log = open(logs / "shell.log", "w")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(["bash", "--noprofile", "--norc"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.shell_log, text=True, cwd=cwd,
                                        env=dict(env), start_new_session=True)  # its own process group
        self.running: dict[str, Background] = {}

    def _send(self, script: str, command: Command, timeout: float) -> str:
        """Write a script to the shell and read its one reply line."""
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(script + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError
        reply = self.process.stdout.readline()
        if not reply:
            raise ReadmeFailure(command, "ended the shell (exit?)", (self.logs / "shell.log").read_text())
        return reply.split(" ", 1)[1].strip()

    def _log(self) -> Path:
        self.count += 1
        log = self.logs / f"{self.count:03d}.log"
        log.write_text("")
        return log

    def run(self, command: Command) -> None:
        for pattern, why in REFUSED.items():
            if pattern.search(command.text.split("#", 1)[0]):
                raise ReadmeFailure(command, f"is not run here: it {why}; put a `<!-- readme-test: skip REASON -->` "
                                    "line before its block")
        if command.background:
            self.start(command)
            return
        log = self._log()
        try:
            code = int(self._send(f"{{ {command.text}\n}} >{log} 2>&1 </dev/null\necho \"rc $?\"", command,
                                  self.timeout))
        except TimeoutError:  # run() closes the shell, which ends the command
            raise ReadmeFailure(command, f"did not finish within {self.timeout:.0f} s",
                                log.read_text(errors="replace")) from None
        if code != command.expected_exit:
            raise ReadmeFailure(command, f"exited {code} (the README expects {command.expected_exit})",
                                log.read_text(errors="replace"))

    def start(self, command: Command) -> None:
        assert command.background
        if command.background in self.running:
            self.stop(self.running.pop(command.background))
        log = self._log()
        pid = int(self._send(f"{command.text} >{log} 2>&1 </dev/null &\necho \"pid $!\"", command, 10))
        started = Background(command, pid, log)
        self.running[command.background] = started
        self._wait_ready(started)

    def _wait_ready(self, started: Background, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(started.pid):
                self.running.pop(started.command.background or "")
                code = self._send(f"wait {started.pid}\necho \"rc $?\"", started.command, 10)
                raise ReadmeFailure(started.command, f"exited {code} before it was ready",
                                    started.log.read_text(errors="replace"))
            output = started.log.read_text(errors="replace")
            if started.command.background == "consume" and CONSUMING in output:
                return
            listening = LISTENING.search(output)
            if started.command.background == "serve" and listening and _answers(listening["url"]):
                return
            time.sleep(0.2)
        raise ReadmeFailure(started.command, f"was not ready within {timeout:.0f} s",
                            started.log.read_text(errors="replace"))

    def stop(self, started: Background) -> None:
        """SIGTERM, as Ctrl-C in the reader's other shell; it must exit 0 (killed after 30 s)."""
        with suppress(ProcessLookupError):
            os.kill(started.pid, signal.SIGTERM)
        try:
            code = self._send(f"wait {started.pid}\necho \"rc $?\"", started.command, 30)
        except TimeoutError:
            with suppress(ProcessLookupError):
                os.kill(started.pid, signal.SIGKILL)
            code = self._send("echo \"rc killed\"", started.command, 10)
        if code != "0":
            raise ReadmeFailure(started.command, f"exited {code} when stopped with SIGTERM (the README expects 0)",
                                started.log.read_text(errors="replace"))

    def stop_all(self) -> None:
        while self.running:
            self.stop(self.running.popitem()[1])

    def close(self) -> None:
        """Stop whatever still runs (no check), and the shell with anything left in its process group
        (a command that did not finish in time)."""
        for started in self.running.values():
            with suppress(ProcessLookupError):
                os.kill(started.pid, signal.SIGTERM)
        for started in self.running.values():
            deadline = time.monotonic() + 30
            while _alive(started.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            with suppress(ProcessLookupError):
                os.kill(started.pid, signal.SIGKILL)
        self.running.clear()
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.stdout:
            self.process.stdout.close()
        self.shell_log.close()


def _alive(pid: int) -> bool:
    """Whether the process runs (a child that exited and is not yet reaped is a zombie: not alive)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _answers(url: str) -> bool:
    """Whether a worker answers HTTP there (any status: the server is up)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureRequestWarning)
            requests.get(url.rstrip("/") + "/", verify=False, timeout=2)  # noqa: S501 - only: is it up?
    except requests.RequestException:
        return False
    return True


def run(readme: str, cwd: Path, env: Mapping[str, str], logs: Path, *, timeout: float = 300) -> list[Command]:
    """Run every block of ``readme`` that runs, in order, in ``cwd``; the commands run. Raises
    ReadmeFailure naming the first command that failed."""
    shell = ReadmeShell(cwd, env, logs, timeout=timeout)
    ran: list[Command] = []
    try:
        for block in blocks(readme):
            if block.runs:
                for command in block.commands:
                    shell.run(command)
                    ran.append(command)
        shell.stop_all()
    finally:
        shell.close()
    return ran

"""Run a real receiver (gunicorn, HTTPS) in a subprocess: the demo, the benchmarks and the end-to-end
tests all talk to it over real sockets, exactly as a platform would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests

from inventory_push_kit.receiver.init import TLSFiles, tls_files, write_tls

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["TLSFiles", "make_tls"]  # TLSFiles is the receiver's (inventory-receiver init writes the same)


def make_tls(directory: Path) -> TLSFiles:
    """A local CA and a server certificate for localhost and 127.0.0.1, as ``inventory-receiver init``
    writes them (reused when present)."""
    files = tls_files(directory)
    if not all(p.exists() for p in (files.ca, files.cert, files.key)):
        files = write_tls(directory)
    return files


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_toml(path: Path, config: Mapping[str, Mapping[str, Any]]) -> Path:
    """A TOML file of sections of scalars, arrays and sub-tables (nested as deep as they go)."""
    lines: list[str] = []

    def table(name: str, values: Mapping[str, Any], depth: int) -> None:
        lines.append(f"[{name}]")
        tables = {k: v for k, v in values.items() if isinstance(v, Mapping)}
        # A section's own keys bare (tests edit the text: `log_format = "json"`), a sub-table's quoted.
        lines.extend(f"{key if depth == 0 else json.dumps(key)} = {json.dumps(value)}"
                     for key, value in values.items() if key not in tables)
        lines.append("")
        for key, sub in tables.items():
            table(f"{name}.{key if depth == 0 else json.dumps(key)}", sub, depth + 1)

    for section, values in config.items():
        table(section, values, 0)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@dataclass
class RunningReceiver:
    url: str  # https://127.0.0.1:PORT
    ca: Path | None
    log: Path
    config_path: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def running_receiver(
    config: Mapping[str, Mapping[str, Any]],
    workdir: Path,
    *,
    tls: TLSFiles | None,
    env: Mapping[str, str] | None = None,
    startup_timeout: float = 30.0,
    module: str = "inventory_push_kit.receiver",
) -> Iterator[RunningReceiver]:
    """Start ``inventory-receiver serve`` (``python -m MODULE --config … serve``; the benchmarks' own
    server module takes the same arguments) with this config (bind/cert/key filled in), wait until it
    answers its health check, yield it, and stop it with SIGTERM."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = dict(config.get("server", {}))
    server["bind"] = f"127.0.0.1:{port}"
    if tls is not None:
        server |= {"certfile": str(tls.cert), "keyfile": str(tls.key), "insecure_http": False}
    else:
        server["insecure_http"] = True
    full = {**config, "server": server}
    config_path = write_toml(workdir / "receiver.toml", full)
    log_path = workdir / "receiver.log"
    scheme = "http" if tls is None else "https"
    url = f"{scheme}://127.0.0.1:{port}"
    with _receiver_command(config_path, "serve", workdir, log_path, env, module) as process:
        running = RunningReceiver(url, tls.ca if tls else None, log_path, config_path, process)
        _wait_healthy(running, startup_timeout)
        yield running


@contextmanager
def _receiver_command(config_path: Path, command: str, workdir: Path, log_path: Path,
                      env: Mapping[str, str] | None = None, module: str = "inventory_push_kit.receiver",
                      ) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m MODULE --config … COMMAND`` with its output in ``log_path`` and only the given
    RECEIVER_* variables; stopped with SIGTERM (killed after 30 s) however the block ends. The
    repository is on the child's path, so a module of ``bench/`` or ``tests/`` can be run too."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("RECEIVER_")} | dict(env or {})
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), child_env.get("PYTHONPATH")]))
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", module, "--config", str(config_path), command],
                                   stdout=log, stderr=subprocess.STDOUT, env=child_env, cwd=workdir)
    try:
        yield process
    finally:
        terminate(process)


def terminate(process: subprocess.Popen[Any]) -> None:
    """Stop a command as an operator does: SIGTERM, and a kill when it has not ended after 30 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_healthy(running: RunningReceiver, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    verify: str | bool = str(running.ca) if running.ca else True
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(f"the receiver exited with {running.process.returncode}:\n{running.log_text()}")
        try:
            if requests.get(f"{running.url}/healthz", verify=verify, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the receiver did not answer within {timeout} s:\n{running.log_text()}")


def broker_reachable(amqp_url: str, timeout: float = 2.0) -> bool:
    """Whether something listens at the AMQP URL's host and port."""
    parsed = urlparse(amqp_url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 5672), timeout=timeout):
            return True
    except OSError:
        return False


@contextmanager
def running_consumer(config_path: Path, workdir: Path, *, startup_timeout: float = 30.0) -> Iterator[Path]:
    """Start ``inventory-receiver consume`` with this config, wait until it consumes (its topology is
    then declared), yield its log file, and stop it with SIGTERM (it finishes what is in hand)."""
    log_path = workdir / "consumer.log"
    with _receiver_command(config_path, "consume", workdir, log_path) as process:
        deadline = time.monotonic() + startup_timeout
        while "erp: consuming" not in log_path.read_text(encoding="utf-8", errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the consumer did not start consuming:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield log_path

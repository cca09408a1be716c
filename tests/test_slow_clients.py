"""Slow or idle clients cannot starve the others: against the real ``inventory-receiver serve`` (default
``[server]`` settings, HTTPS), 200 connections of each kind an attacker or a broken sender holds open —
half a TLS ClientHello, idle TCP, request headers a byte a second, an authenticated body a byte a
second — and all four kinds at once, while a normal sender keeps pushing on fresh connections: every one
of its pushes must be answered 200, and 99 % of them within a second.

The slow connections are held for longer than the handshake and header deadlines, and whichever the
receiver cuts off is opened again at once, as a real attacker would.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests

from devtools.serving import RunningReceiver, make_tls, running_receiver
from inventory_push_kit.simulator.stock import StockGenerator
from tests.conftest import STOCK_HEADERS

CONNECTIONS = 200  # per kind
HOLD_SECONDS = 12.0  # longer than the default handshake and header deadlines (10 s)
P99_BOUND = 1.0  # seconds
KINDS = ("partial-client-hello", "idle-tcp", "slow-headers", "slow-body")


@functools.cache
def partial_client_hello() -> bytes:
    """The first half of a real TLS ClientHello (the server waits for the rest)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    hello = outgoing.read()
    return hello[: len(hello) // 2]


@dataclass
class SlowClients:
    """``count`` connections of one kind each, held open until stopped, re-opened when the server
    closes them. Runs its own event loop on a thread."""

    receiver: RunningReceiver
    kinds: tuple[str, ...]
    count: int = CONNECTIONS
    held: int = 0  # connections open and doing their slow thing right now
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> SlowClients:
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 60
        while self.held < self.count * len(self.kinds):
            assert time.monotonic() < deadline, f"only {self.held} slow connections could be opened"
            time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=30)

    async def _main(self) -> None:
        context = ssl.create_default_context(cafile=str(self.receiver.ca))
        await asyncio.gather(*(self._hold(kind, context) for kind in self.kinds for _ in range(self.count)))

    async def _hold(self, kind: str, context: ssl.SSLContext) -> None:
        host, port = self.receiver.url.removeprefix("https://").split(":")
        credentials = "".join(f"{name}: {value}\r\n" for name, value in STOCK_HEADERS.items())
        while not self._stop.is_set():
            writer = None
            try:
                if kind in ("partial-client-hello", "idle-tcp"):
                    reader, writer = await asyncio.open_connection(host, int(port))
                    if kind == "partial-client-hello":
                        writer.write(partial_client_hello())
                else:
                    reader, writer = await asyncio.open_connection(host, int(port), ssl=context,
                                                                   server_hostname="localhost")
                    if kind == "slow-headers":
                        writer.write(b"POST /stock-push HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
                    else:
                        writer.write(f"POST /stock-push HTTP/1.1\r\nHost: localhost\r\n{credentials}"
                                     "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n".encode())
                await writer.drain()
                self.held += 1
                try:
                    while not self._stop.is_set():
                        if kind in ("slow-headers", "slow-body"):
                            writer.write(b"a" if kind == "slow-headers" else b" ")  # a byte a second
                            await writer.drain()
                        try:
                            await asyncio.wait_for(reader.read(65536), 1.0)
                        except TimeoutError:
                            continue
                        break  # closed by the receiver, or answered (a 408) and closed next: open anew
                finally:
                    self.held -= 1
            except (OSError, ssl.SSLError):
                await asyncio.sleep(0.1)  # reset while writing: the receiver cut it off
            finally:
                if writer is not None:
                    writer.close()
                    with contextlib.suppress(Exception):
                        await writer.wait_closed()


@dataclass
class Served:
    latencies: list[float] = field(default_factory=list)  # seconds, one per push
    failures: list[str] = field(default_factory=list)  # every answer that was not 200 accepted
    slow_held: list[int] = field(default_factory=list)  # how many slow connections were open, per push

    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def normal_sender(receiver: RunningReceiver, slow: SlowClients, seconds: float, seed: int) -> Served:
    """Small stock pushes, each on a new connection (so each needs the TLS handshake the slow clients are
    holding up), one after the other for ``seconds``."""
    generator = StockGenerator(seed=seed)
    served = Served()
    latencies, failures = served.latencies, served.failures
    end = time.monotonic() + seconds
    first = True
    while time.monotonic() < end:
        push = generator.first_push(2) if first else generator.delta(1)
        first = False
        started = time.monotonic()
        try:
            with requests.Session() as session:
                answer = session.post(f"{receiver.url}/stock-push", data=push.to_bytes(),
                                      headers={**STOCK_HEADERS, "Content-Type": "application/json"},
                                      verify=str(receiver.ca), timeout=30)
            if answer.status_code != 200 or answer.json().get("outcome") != "accepted":
                failures.append(f"{answer.status_code} {answer.text[:200]}")
        except requests.RequestException as exc:
            failures.append(repr(exc))
        latencies.append(time.monotonic() - started)
        served.slow_held.append(slow.held)
        time.sleep(0.02)
    return served


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningReceiver]:
    workdir = tmp_path_factory.mktemp("slow-clients")
    config = {"storage": {"data_dir": str(workdir / "data")},
              "stock": {"enabled": True, "credential_headers": STOCK_HEADERS}}  # [server]: the defaults
    with running_receiver(config, workdir, tls=make_tls(workdir / "tls")) as running:
        yield running


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kinds", [(kind,) for kind in KINDS] + [KINDS], ids=[*KINDS, "all-four-at-once"])
def test_a_normal_sender_is_served_while_slow_clients_hold_connections(receiver: RunningReceiver,
                                                                         kinds: tuple[str, ...]) -> None:
    with SlowClients(receiver, kinds) as slow:
        served = normal_sender(receiver, slow, HOLD_SECONDS, seed=sum(map(ord, "".join(kinds))))
    pushes = len(served.latencies)
    assert not served.failures, f"{len(served.failures)} of {pushes} pushes failed, e.g. {served.failures[:3]}"
    assert pushes >= 50, f"only {pushes} pushes in {HOLD_SECONDS} s"
    assert served.p99() < P99_BOUND, f"p99 {served.p99():.3f} s over {pushes} pushes"
    # The attack was real: the slow connections were open all along (re-opened whenever cut off).
    assert statistics.median(served.slow_held) >= 0.9 * CONNECTIONS * len(kinds), served.slow_held

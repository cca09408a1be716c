"""A body is processed only when it arrived whole, whatever its framing — checked with raw sockets against
the real server (gunicorn, HTTPS), as a careless sender or an attacker would send it: chunked beyond the
limit, cut short of its Content-Length, broken chunk sizes, too slow. Each is refused with the JSON
envelope, nothing of it is applied, and the delivery log says why."""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devtools.serving import RunningReceiver, make_tls, running_receiver
from inventory_push_kit.simulator.stock import StockGenerator
from tests.conftest import API_TOKEN, STOCK_HEADERS

LIMIT = 64 * 1024
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningReceiver]:
    workdir = tmp_path_factory.mktemp("framing")
    config = {"storage": {"data_dir": str(workdir / "data")}, "api": {"token": API_TOKEN},
              "server": {"body_timeout": 2.0},
              "stock": {"enabled": True, "credential_headers": STOCK_HEADERS, "max_body_bytes": LIMIT}}
    with running_receiver(config, workdir, tls=make_tls(workdir / "tls")) as running:
        yield running


def connect(receiver: RunningReceiver) -> ssl.SSLSocket:
    host, port = receiver.url.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=str(receiver.ca))
    return context.wrap_socket(socket.create_connection((host, int(port)), timeout=30), server_hostname=host)


def head(length: int | None = None) -> bytes:
    framing = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
    credentials = "".join(f"{name}: {value}\r\n" for name, value in STOCK_HEADERS.items())
    return (f"POST /stock-push HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{credentials}"
            f"{framing}\r\nConnection: close\r\n\r\n").encode()


def answer(sock: ssl.SSLSocket) -> tuple[int, dict[str, Any]]:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, ssl.SSLError):
        pass
    status_line, _, rest = data.partition(b"\r\n")
    body = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), json.loads(body)


def chunked(body: bytes, size: int = 4096) -> bytes:
    pieces = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def stored_ids(receiver: RunningReceiver) -> set[str]:
    items = requests.get(f"{receiver.url}/api/stock?limit=1000", headers=AUTH, verify=str(receiver.ca),
                         timeout=10).json()["items"]
    return {item["connectorStockId"] for item in items}


def last_delivery(receiver: RunningReceiver) -> dict[str, Any]:
    deliveries = requests.get(f"{receiver.url}/api/deliveries?limit=1", headers=AUTH, verify=str(receiver.ca),
                              timeout=10).json()["items"]
    return deliveries[0]


def push_of(rows: int, seed: int) -> tuple[bytes, set[str]]:
    push = StockGenerator(seed=seed).first_push(rows)
    return push.to_bytes(), set(push.ids())


def test_a_chunked_body_over_the_limit_is_413_and_nothing_is_applied(receiver: RunningReceiver) -> None:
    body, ids = push_of(400, seed=21)  # ~100 KiB: over the 64 KiB limit, and valid JSON up to any prefix's end
    assert len(body) > LIMIT
    with connect(receiver) as sock:
        sock.sendall(head() + chunked(body))
        status, envelope = answer(sock)
    assert status == 413 and str(LIMIT) in envelope["error"]["message"]
    assert not ids & stored_ids(receiver)
    assert (last_delivery(receiver)["status"], last_delivery(receiver)["outcome"]) == (413, "rejected")


def test_a_chunked_body_within_the_limit_is_applied(receiver: RunningReceiver) -> None:
    body, ids = push_of(20, seed=22)
    with connect(receiver) as sock:
        sock.sendall(head() + chunked(body, 100))
        status, envelope = answer(sock)
    assert (status, envelope["outcome"]) == (200, "accepted")
    assert ids <= stored_ids(receiver)


def test_a_body_cut_short_of_its_content_length_is_never_applied(receiver: RunningReceiver) -> None:
    body, ids = push_of(20, seed=23)
    before = last_delivery(receiver)["id"]
    with connect(receiver) as sock:
        sock.sendall(head(len(body) + 500) + body)  # announces more than it sends, then disconnects
    deadline = time.monotonic() + 20
    while (logged := last_delivery(receiver))["id"] == before:
        assert time.monotonic() < deadline, "the cut-off delivery was never logged"
        time.sleep(0.1)
    assert (logged["status"], logged["outcome"]) == (400, "rejected")
    assert "Content-Length" in logged["reason"] and "nothing was applied" in logged["reason"]
    assert not ids & stored_ids(receiver)


@pytest.mark.parametrize("framing", [b"zz\r\n{}\r\n0\r\n\r\n", b"5\r\n{}{}{}X\r\n0\r\n\r\n", b"-2\r\n{}\r\n0\r\n\r\n"],
                         ids=["not-hex", "no-terminator-after-the-chunk", "negative"])
def test_broken_chunked_framing_is_400_with_the_envelope(receiver: RunningReceiver, framing: bytes) -> None:
    with connect(receiver) as sock:
        sock.sendall(head() + framing)
        status, envelope = answer(sock)
    assert status == 400 and envelope["error"]["status"] == 400


def test_a_body_slower_than_the_body_timeout_is_408_and_nothing_is_applied(receiver: RunningReceiver) -> None:
    body, ids = push_of(20, seed=24)
    with connect(receiver) as sock:
        sock.sendall(head(len(body)) + body[:100])
        started = time.monotonic()
        status, envelope = answer(sock)  # the rest never comes
    assert status == 408 and "2 s" in envelope["error"]["message"]
    assert time.monotonic() - started < 30  # the deadline, not the worker timeout, ended it
    assert not ids & stored_ids(receiver)


def test_the_server_is_still_fine_after_all_that(receiver: RunningReceiver, tmp_path: Path) -> None:
    body, ids = push_of(5, seed=25)
    answered = requests.post(f"{receiver.url}/stock-push", data=body, headers={**STOCK_HEADERS,
                             "Content-Type": "application/json"}, verify=str(receiver.ca), timeout=10)
    assert answered.status_code == 200 and ids <= stored_ids(receiver)
    assert "Traceback" not in receiver.log_text()

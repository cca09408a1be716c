"""The server's edge, with raw sockets against the real ``inventory-receiver serve`` (HTTPS): what the server
itself refuses is answered with the receiver's JSON error envelope and the right status, each phase of a
connection has its deadline, and no query string reaches the log."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devtools.serving import RunningReceiver, make_tls, running_receiver
from inventory_push_kit.receiver.config import ConfigError, from_mapping
from inventory_push_kit.receiver.worker import mask_query
from tests.conftest import STOCK_HEADERS

DEADLINE = 1.0  # handshake_timeout, header_timeout and keepalive_timeout of this module's receiver


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningReceiver]:
    workdir = tmp_path_factory.mktemp("server-edge")
    config = {"storage": {"data_dir": str(workdir / "data")},
              "server": {"handshake_timeout": DEADLINE, "header_timeout": DEADLINE, "keepalive_timeout": DEADLINE},
              "stock": {"enabled": True, "credential_headers": STOCK_HEADERS}}
    with running_receiver(config, workdir, tls=make_tls(workdir / "tls")) as running:
        yield running


def address(receiver: RunningReceiver) -> tuple[str, int]:
    host, port = receiver.url.removeprefix("https://").split(":")
    return host, int(port)


def connect(receiver: RunningReceiver) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(receiver.ca))
    return context.wrap_socket(socket.create_connection(address(receiver), timeout=30), server_hostname="localhost")


def read_all(sock: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, ssl.SSLError):
        pass
    return data


def parse(answer: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (f.partition(":") for f in fields)}
    return int(status_line.split()[1]), headers, json.loads(body)


def assert_envelope(answer: bytes, status: int) -> dict[str, Any]:
    got, headers, body = parse(answer)
    assert got == status, answer[:300]
    assert headers["content-type"] == "application/json"
    assert set(body) == {"error"} and set(body["error"]) == {"status", "title", "message", "problems"}
    assert body["error"]["status"] == status and body["error"]["problems"] == [] and body["error"]["message"]
    return dict(body["error"])


REFUSED = {
    "malformed-request-line": (b"GARBAGE\r\n\r\n", 400),
    "bad-http-version": (b"GET / HTTP/1.1 junk\r\nHost: x\r\n\r\n", 400),
    "invalid-header-name": (b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n", 400),
    "uri-too-long": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    "too-many-headers": (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(150)) + b"\r\n",
                         431),
    "header-too-large": (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 9000 + b"\r\n\r\n", 431),
    "unsupported-transfer-coding": (b"POST /stock-push HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: br\r\n\r\n", 501),
}


@pytest.mark.parametrize("request_bytes, status", REFUSED.values(), ids=REFUSED.keys())
def test_what_the_server_refuses_is_the_json_envelope(receiver: RunningReceiver, request_bytes: bytes,
                                                      status: int) -> None:
    with connect(receiver) as sock:
        sock.sendall(request_bytes)
        answer = read_all(sock)
    assert_envelope(answer, status)


def test_a_too_long_uri_says_the_limit(receiver: RunningReceiver) -> None:
    with connect(receiver) as sock:
        sock.sendall(REFUSED["uri-too-long"][0])
        error = assert_envelope(read_all(sock), 414)
    assert "4094" in error["message"]


def test_a_handshake_that_never_ends_is_cut_off_at_its_deadline(receiver: RunningReceiver) -> None:
    with socket.create_connection(address(receiver), timeout=30) as sock:
        sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # the start of a ClientHello, no more
        started = time.monotonic()
        assert read_all(sock) == b""  # closed, nothing said: there is no TLS to say it over
        assert time.monotonic() - started < DEADLINE + 4


def test_an_idle_connection_is_cut_off_at_the_handshake_deadline(receiver: RunningReceiver) -> None:
    with socket.create_connection(address(receiver), timeout=30) as sock:
        started = time.monotonic()
        assert read_all(sock) == b""
        assert time.monotonic() - started < DEADLINE + 4


def test_headers_slower_than_their_deadline_are_408(receiver: RunningReceiver) -> None:
    with connect(receiver) as sock:
        started = time.monotonic()
        sock.sendall(b"POST /stock-push HTTP/1.1\r\nHost: localhost\r\n")  # and the rest never comes
        error = assert_envelope(read_all(sock), 408)
    assert time.monotonic() - started < DEADLINE + 4
    assert "headers" in error["message"] and f"{DEADLINE:g} s" in error["message"]


def test_a_kept_alive_connection_is_closed_when_no_next_request_comes(receiver: RunningReceiver) -> None:
    with connect(receiver) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        started = time.monotonic()
        answer = read_all(sock)  # the answer, then nothing: closed after keepalive_timeout
    assert answer.startswith(b"HTTP/1.1 200")
    assert time.monotonic() - started < DEADLINE + 4


def test_a_normal_request_is_served_after_all_that(receiver: RunningReceiver) -> None:
    assert requests.get(f"{receiver.url}/healthz", verify=str(receiver.ca), timeout=10).status_code == 200


def test_no_query_string_reaches_the_log(receiver: RunningReceiver) -> None:
    secrets = [f"query-secret-{n}" for n in range(5)]
    verify = str(receiver.ca)
    requests.get(f"{receiver.url}/healthz?token={secrets[0]}", verify=verify, timeout=10)
    requests.post(f"{receiver.url}/stock-push?{secrets[1]}", data=b"{}", headers=STOCK_HEADERS, verify=verify,
                  timeout=10)
    requests.get(f"{receiver.url}/healthz", headers={"Referer": f"https://sender.example/x?key={secrets[2]}"},
                 verify=verify, timeout=10)
    with connect(receiver) as sock:  # refused by the server itself, the query still in its request line
        sock.sendall(f"GET /x?token={secrets[3]} HTTP/1.1 junk\r\n\r\n".encode())
        assert_envelope(read_all(sock), 400)
    with connect(receiver) as sock:
        sock.sendall(f"GET /x?token={secrets[4]} HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n".encode())
        assert_envelope(read_all(sock), 400)
    time.sleep(0.5)  # the access log is written after the answer
    log = receiver.log_text()
    assert '"GET /healthz?*** HTTP/1.1" 200' in log  # the request is logged, its query masked
    for secret in secrets:
        assert secret not in log


@pytest.mark.parametrize("text, masked", [
    ("GET /stock-push?token=abc HTTP/1.1", "GET /stock-push?*** HTTP/1.1"),
    ("GET /a?b HTTP/1.1", "GET /a?*** HTTP/1.1"),
    ("https://x/y?k=v&k2=v2", "https://x/y?***"),
    ("Invalid request line: 'GET /x?t=s HTTP/9'", "Invalid request line: 'GET /x?*** HTTP/9'"),
    ("GET /plain HTTP/1.1", "GET /plain HTTP/1.1"),
])
def test_mask_query(text: str, masked: str) -> None:
    assert mask_query(text) == masked


def test_the_server_config_refuses_a_deadline_of_zero() -> None:
    for key in ("handshake_timeout", "header_timeout", "keepalive_timeout", "body_timeout"):
        with pytest.raises(ConfigError, match=key):
            from_mapping({"server": {key: 0}})


def test_a_worker_waits_for_postgresql_cooperatively_even_though_the_master_imported_psycopg_first() -> None:
    # In a child process: monkey-patching this one would change every other test.
    script = (
        "import psycopg.waiting as waiting\n"
        "from inventory_push_kit.receiver.worker import _cooperative_psycopg\n"
        "from gevent import monkey\n"
        "monkey.patch_all()\n"
        "_cooperative_psycopg()\n"
        "print(waiting.wait.__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).parents[1])
    assert result.stdout.strip() == "wait_poll", result.stderr

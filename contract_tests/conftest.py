"""Fixtures of the contract suite: the target, the platforms (from ``simulator``), the state probe."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlparse

import pytest

from contract_tests.plugin import option
from simulator.http import Sender, parse_header_lines
from simulator.stock import DEFAULT_MAX_BODY_BYTES, StockPlatform


@dataclass(frozen=True)
class Target:
    receiver_url: str
    ca_bundle: str | bool


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    """The receiver under test; unreachable → the whole run stops with one clear message."""
    url = option(pytestconfig, "--receiver-url")
    if not url:
        pytest.skip("no --receiver-url given: the HTTP channels are not checked")
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=5):
            pass
    except OSError as exc:
        pytest.exit(f"cannot reach the receiver at {url} ({exc}): is it running, and is the URL right?", 3)
    return Target(url.rstrip("/"), option(pytestconfig, "--ca-bundle") or True)


class Probe:
    """The receiver's state probe (docs/state-probe.md): read-only GETs answering 200 or 404."""

    def __init__(self, base_url: str, headers: dict[str, str], ca_bundle: str | bool) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.headers = headers
        self.sender = Sender(self.base_url, ca_bundle=ca_bundle, timeout=30)

    def get(self, path: str) -> tuple[int, Any]:
        status, body = self.sender.get_json(urljoin(self.base_url, path.lstrip("/")), self.headers)
        if status not in (200, 404):
            pytest.fail(f"the state probe answered {status} to GET {path}: {body!r} (docs/state-probe.md: "
                        f"200 with the object, or 404)")
        return status, body


@pytest.fixture(scope="session")
def probe(pytestconfig: pytest.Config) -> Iterator[Probe]:
    url = option(pytestconfig, "--state-probe")
    if not url:
        pytest.skip("no state probe given (--state-probe URL): this check needs to read what was stored")
    probe = Probe(url, parse_header_lines(option(pytestconfig, "--state-probe-header")),
                  option(pytestconfig, "--ca-bundle") or True)
    yield probe
    probe.sender.close()


@dataclass(frozen=True)
class StockTarget:
    platform: StockPlatform
    credentials: dict[str, str]
    max_body_bytes: int


@pytest.fixture(scope="session")
def stock(pytestconfig: pytest.Config, target: Target) -> Iterator[StockTarget]:
    """The stock push platform, pointed at the receiver's stock endpoint with its credentials."""
    headers = option(pytestconfig, "--stock-headers")
    if not headers:
        pytest.skip("stock push not configured: give --stock-headers 'Name: value' (the credentials the "
                    "receiver expects)")
    credentials = parse_header_lines(headers)
    path = option(pytestconfig, "--stock-path") or "/stock-push"
    limit = int(option(pytestconfig, "--stock-max-body-bytes") or DEFAULT_MAX_BODY_BYTES)
    platform = StockPlatform(target.receiver_url + path, credentials=credentials, ca_bundle=target.ca_bundle)
    yield StockTarget(platform, credentials, limit)
    platform.close()

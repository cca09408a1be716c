"""The one HTTP client of the project's sending side. Every HTTP channel of the simulator, and so
every contract test, sends through :class:`Sender`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import requests

from .core import Request

# What leaves a request without an answer: the platforms count these as a failed delivery.
NO_ANSWER_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


@dataclass(frozen=True)
class Delivery:
    """What came back for one request."""

    status: int
    elapsed: float  # seconds, from the first byte sent to the last byte received
    headers: Mapping[str, str]
    body: bytes
    url: str
    request: Request | None = None  # what was sent, for a person reading a failure
    method: str = "POST"

    def json(self) -> Any:
        """The answer parsed as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def summary(self, limit: int = 300) -> str:
        text = self.body.decode("utf-8", "replace")
        if len(text) > limit:
            text = text[:limit] + "…"
        return f"{self.status} from {self.url}: {text}"


@dataclass(frozen=True)
class NoAnswer:
    """A request that got no answer at all: the connection failed, or the receiver took too long."""

    error: str  # the exception's type and message
    elapsed: float  # seconds until it gave up


class Sender:
    """Posts requests to one base URL over one keep-alive session.

    ``ca_bundle`` is a CA file to trust (the platform trusts the customer's certificate chain),
    ``True`` for the system store, or ``False`` to skip verification (never the default).
    """

    def __init__(
        self,
        base_url: str,
        *,
        ca_bundle: str | bool = True,
        timeout: float = 120.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.extra_headers: dict[str, str] = {}  # sent with every request (--header), under its own headers
        self.session = session or requests.Session()
        # Senders on other threads (--concurrency) each get their own session: one is not thread-safe.
        self._owner = threading.get_ident()
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        # Passed on every request: a session-wide verify would lose to REQUESTS_CA_BUNDLE.
        self.verify = ca_bundle

    def url_for(self, path: str | None) -> str:
        if not path:
            return self.base_url
        return urljoin(self.base_url if self.base_url.endswith("/") else self.base_url + "/",
                       path.lstrip("/"))

    def _session(self) -> requests.Session:
        if threading.get_ident() == self._owner:
            return self.session
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            with self._lock:
                self._sessions.append(session)
        return session

    def send(self, request: Request, *, method: str = "POST") -> Delivery:
        url = self.url_for(request.path)
        headers = {**self.extra_headers, **request.headers}
        started = time.perf_counter()
        response = self._session().request(
            method, url, data=request.body, headers=headers, timeout=self.timeout, verify=self.verify,
            allow_redirects=False,  # a platform does not follow a redirect with its POST: 3xx is not 200
        )
        elapsed = time.perf_counter() - started
        return Delivery(response.status_code, elapsed, dict(response.headers), response.content, url, request, method)

    def attempt(self, request: Request) -> Delivery | NoAnswer:
        """:meth:`send`, with no answer as an outcome (what a platform records) instead of an exception."""
        started = time.perf_counter()
        try:
            return self.send(request)
        except NO_ANSWER_ERRORS as exc:
            return NoAnswer(f"{type(exc).__name__}: {exc}", time.perf_counter() - started)

    def get_json(self, url: str, headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
        """GET a JSON document (the state probe); returns (status, parsed body or None)."""
        response = self.session.get(url, headers=dict(headers or {}), timeout=self.timeout, verify=self.verify)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None

    def close(self) -> None:
        self.session.close()
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()


def parse_header_lines(lines: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["Name: value", ...]`` → ``{"Name": "value"}``; a line without a colon is an error."""
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"header {line!r} is not of the form 'Name: value'")
        headers[name.strip()] = value.strip()
    return headers

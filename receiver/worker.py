"""The receiver's gunicorn worker and access log: what stands between a socket and the app.

``ReceiverWorker`` is gunicorn's gevent worker (one greenlet per connection, so a client that is slow or
idle holds a greenlet, never a thread the others need) with a deadline on every phase of a connection:

- the TLS handshake must be over within ``[server] handshake_timeout`` of the connection's accept;
- the request line and headers must have arrived within ``header_timeout`` of the handshake (408);
- a kept-alive connection is closed when no next request has arrived within ``keepalive_timeout``;
- the body within ``body_timeout``: the app enforces that one (``web.read_body``, 408, nothing
  applied) on ``environ["gunicorn.socket"]``, a gevent socket whose timeouts are cooperative.

The worker also answers gunicorn's own refusals (a malformed request line, 414, 431, 501, …) with the
receiver's JSON error envelope instead of gunicorn's HTML page. ``AccessLog`` keeps query strings out of
the access log: a sender's ``?token=`` must never land in a log.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import ssl
import sys
from contextvars import ContextVar
from datetime import timedelta
from http import HTTPStatus
from typing import Any

import gevent
from gunicorn import util
from gunicorn.glogging import Logger
from gunicorn.http import errors as http_errors
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.workers.ggevent import GeventWorker

from .config import ServerConfig
from .errors import error_body


class RequestHeadTimeout(Exception):
    """The request line and headers did not arrive within ``[server] header_timeout``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the request line and headers did not arrive within {seconds:g} s")


# What gunicorn refuses, by the exception its parser raises (first match wins: subclasses first).
# Every ParseException is the client's mistake (400) unless named here; a response header the app
# tried to send and a server misconfiguration are the server's (500).
REFUSALS: tuple[tuple[type[BaseException], int, str], ...] = (
    (RequestHeadTimeout, 408, "request headers too slow"),
    (http_errors.LimitRequestLine, 414, "the request line is longer than {cfg.limit_request_line} bytes"),
    (http_errors.LimitRequestHeaders, 431, "the request has more than {cfg.limit_request_fields} header fields "
                                           "or one longer than {cfg.limit_request_field_size} bytes"),
    (http_errors.UnsupportedTransferCoding, 501, "the transfer coding is not supported"),
    (http_errors.ExpectationFailed, 417, "the expectation cannot be met"),
    (http_errors.ForbiddenProxyRequest, 403, "the proxy request is not allowed"),
    (http_errors.InvalidResponseHeader, 500, "the server produced an invalid response header"),
    (http_errors.InvalidResponseHeaderName, 500, "the server produced an invalid response header"),
    (http_errors.ConfigurationProblem, 500, "the server is misconfigured"),
    (http_errors.ParseException, 400, "the request could not be parsed"),
    (ssl.SSLError, 400, "the TLS connection failed"),
)

_QUERY = re.compile(r"\?[^\s'\"]*")
QUERY_MASK = "?***"


def mask_query(text: str) -> str:
    """Every ``?query`` in ``text`` replaced by ``?***`` (names and values: a bare ``?secret`` too)."""
    return _QUERY.sub(QUERY_MASK, text)


def refusal(exc: BaseException, cfg: Any) -> tuple[int, str]:
    """The status and the message of the envelope for what gunicorn (configured by ``cfg``) or the worker
    refused; 500 for anything that is not the client's doing."""
    for kind, status, what in REFUSALS:
        if isinstance(exc, kind):
            if isinstance(exc, RequestHeadTimeout):
                return status, str(exc)
            detail = mask_query(str(exc))[:300]
            what = what.format(cfg=cfg)
            return status, f"{what} ({detail})" if detail else what
    return 500, "the server failed while reading the request"


def envelope_response(status: int, message: str) -> bytes:
    """A complete HTTP/1.1 answer carrying the JSON error envelope; the connection is closed after it."""
    body = json.dumps(error_body(status, message)).encode()
    head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


# How many request heads this connection's greenlet has waited for (each connection has its own
# greenlet, and each greenlet its own context).
_heads_waited_for: ContextVar[int] = ContextVar("heads_waited_for", default=0)


class ReceiverWorker(GeventWorker):
    """gunicorn's gevent worker with a deadline on the handshake, the request head and the keep-alive
    wait, and gunicorn's own refusals in the JSON error envelope. The deadlines come from ``[server]``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.server_config: ServerConfig = self.app.receiver_config.server

    def init_process(self) -> None:
        # Until gunicorn installs this worker's signal handlers (after gevent's patching, which takes a
        # while), a SIGTERM would reach the master's handler, inherited at the fork, and be lost: the
        # worker would then serve on until the master kills it, graceful_timeout later.
        signal.signal(signal.SIGTERM, self.handle_exit)
        super().init_process()

    def patch(self) -> None:
        super().patch()
        _cooperative_psycopg()

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        client.setblocking(1)
        if isinstance(client, ssl.SSLSocket) and not self._handshake(client, addr):
            util.close(client)
            return
        super().handle(listener, client, addr)

    def _handshake(self, client: ssl.SSLSocket, addr: Any) -> bool:
        """The TLS handshake, within ``handshake_timeout`` (the server's context defers it to here)."""
        done = False
        try:
            with gevent.Timeout(self.server_config.handshake_timeout, False):
                client.do_handshake()
                done = True
        except (ssl.SSLError, OSError) as exc:
            self.log.debug("TLS handshake with %s failed: %s", addr, exc)
            return False
        if not done:
            self.log.debug("TLS handshake with %s not done within %g s: closed", addr,
                           self.server_config.handshake_timeout)
        return done

    def timeout_ctx(self) -> gevent.Timeout:
        """The deadline of one ``next(parser)``: the first request's head within ``header_timeout``
        (then 408), a kept-alive connection's next request within ``keepalive_timeout`` (then closed,
        quietly: a client may be about to reuse it)."""
        waited = _heads_waited_for.get()
        _heads_waited_for.set(waited + 1)
        if waited == 0:
            seconds = self.server_config.header_timeout
            return gevent.Timeout(seconds, RequestHeadTimeout(seconds))
        return gevent.Timeout(self.server_config.keepalive_timeout, False)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        """gunicorn's refusals (and its own failures) as the JSON error envelope."""
        status, message = refusal(exc, self.cfg)
        ip = (addr or ("", -1))[0]
        if status == 500:
            self.log.error("error while reading a request from ip=%s: %s", ip, mask_query(repr(exc)), exc_info=exc)
        else:
            self.log.warning("refused a request from ip=%s: %d %s", ip, status, message)
        answer = envelope_response(status, message)
        if req is None and isinstance(exc, http_errors.InvalidHeader | http_errors.InvalidHeaderName):
            req = getattr(exc, "req", None)  # as gunicorn does: these know their request (access log)
        if req is not None:
            environ = default_environ(req, client, self.cfg)
            environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = ip, str((addr or ("", -1))[1])
            response = Response(req, client, self.cfg)
            response.status = f"{status} {HTTPStatus(status).phrase}"
            response.response_length = len(answer)
            self.log.access(response, req, environ, timedelta(0))
        try:
            util.write_nonblock(client, answer)
        except Exception:  # the client is gone or its TLS is broken: nothing more to tell it
            self.log.debug("could not send the %d refusal to %s", status, ip)


class DeferredHandshake:
    """The server's TLS context, wrapping each accepted socket without doing the handshake: gevent's
    server would otherwise do it before the worker sees the connection, with no deadline. The worker
    does it, within ``handshake_timeout``."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context

    def wrap_socket(self, sock: Any, **kwargs: Any) -> Any:
        return self.context.wrap_socket(sock, **{**kwargs, "do_handshake_on_connect": False})

    def __getattr__(self, name: str) -> Any:
        return getattr(self.context, name)


def deferred_handshake_context(config: Any, default_ssl_context_factory: Any) -> DeferredHandshake:
    """gunicorn's ``ssl_context`` hook: its own context (certificate, key, ALPN), handshake deferred."""
    return DeferredHandshake(default_ssl_context_factory())


def _cooperative_psycopg() -> None:
    """psycopg chooses how to wait for the database when it is imported: the master process imported it
    (creating the schema) before this worker patched ``select``, so it would wait in C and block this
    worker's whole loop on every query. Choose again, as psycopg does when imported after the patch."""
    waiting: Any = sys.modules.get("psycopg.waiting")
    if waiting is not None and waiting.wait is getattr(waiting, "wait_c", None) and waiting._is_select_patched():
        waiting.wait = waiting.wait_poll


class AccessLog(Logger):
    """gunicorn's logger, writing through the receiver's own handler (``receiver.logs``: one format for
    every line of the process), with every query string in the access log masked
    (``GET /path?*** HTTP/1.1``). An access line carries its fields for the JSON format: ``remote_addr``,
    ``method``, ``path``, ``status``, ``bytes``, ``duration_ms``, ``user_agent``, ``referer``."""

    MASKED = ("r", "q", "f", "{referer}i", "{raw_uri}e", "{query_string}e", "{http_referer}e")
    # gunicorn's combined format without the user (from a Basic Authorization header) and the time
    # (every line has its own), with the duration.
    ACCESS_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s"'

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                if getattr(handler, "_gunicorn", False):
                    log.removeHandler(handler)
            log.propagate = True  # to the root logger's handler, which receiver.logs configured

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: timedelta) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key in self.MASKED:
            value = atoms.get(key)
            if isinstance(value, str) and value:
                atoms[key] = "***" if key in ("q", "{query_string}e") else mask_query(value)
        return atoms

    def access(self, resp: Any, req: Any, environ: Any, request_time: timedelta) -> None:
        if not self.access_log_enabled or not self.access_log.isEnabledFor(logging.INFO):
            return
        atoms = self.atoms(resp, req, environ, request_time)
        path = mask_query(environ.get("PATH_INFO") or "-")
        fields = {"remote_addr": atoms["h"], "method": atoms["m"],
                  "path": path + (QUERY_MASK if environ.get("QUERY_STRING") else ""),
                  "status": int(atoms["s"]) if str(atoms["s"]).isdigit() else atoms["s"],
                  "bytes": atoms["B"], "duration_ms": atoms["M"], "user_agent": atoms["a"], "referer": atoms["f"]}
        self.access_log.info(self.ACCESS_FORMAT, self.atoms_wrapper_class(atoms), extra=fields)

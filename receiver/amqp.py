"""The ERP channel's AMQP transport: ``inventory-receiver consume``, a long-running consumer of both queues.

Guarantees: a message is acknowledged only after the transaction that stored it (or recorded it as
rejected) has committed, so a crash at any point means redelivery, never loss (at-least-once; the
channel logic makes redelivery harmless). Messages are committed in batches of up to ``batch_size``
and then acknowledged with one ``basic_ack(multiple=True)``; a message that can never be stored is
``basic_reject``-ed without requeue, to its dead-letter queue.

Why a BlockingConnection plus one worker thread (rather than pika's SelectConnection): every pika
call stays on the main thread, in one plain loop around ``process_data_events`` (heartbeats, new
deliveries), while the store's work runs on the worker thread. However long a transaction takes (a
database that is slow, locked or down and retried), the heartbeats go on and the next batch is
collected meanwhile. The worker wakes the loop with ``add_callback_threadsafe`` when it is done.

Topology (``declare_topology = true``, the default), declared idempotently and never deleted or
purged: a durable direct exchange ``dead_letter_exchange`` (``secom.dead-letter``); per queue Q a
durable dead-letter queue ``Q + dead_letter_suffix`` (``secom-customer-queue.dead-letter``) bound to it
with routing key = its own name; and Q itself, durable, with ``x-dead-letter-exchange`` and
``x-dead-letter-routing-key`` pointing there. With ``declare_topology = false`` the queues are only
checked to exist (passively); rejected messages then go wherever the queue's own arguments say.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Protocol

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

from . import storage
from .channels import erp
from .channels.erp import Notification, ObjectKind
from .errors import StorageFailure
from .web import Receipt

log = logging.getLogger(__name__)

IDLE_WAKE_SECONDS = 0.5  # how soon the loop notices stop() when nothing else wakes it


class TopologyError(Exception):
    """The broker's queues do not match what the consumer needs; the message tells the operator what
    differs and what to do. The consumer never deletes or changes a queue to fix it."""


class BrokerRefused(Exception):
    """The broker refused the consumer's credentials or their access (a wrong user or password, a virtual
    host or a queue the user may not use): retrying cannot help, so the consumer stops. The message names
    the URL (password masked) and what to change."""


# The exit codes of ``inventory-receiver consume`` (besides 0, a clean stop).
EXIT_TOPOLOGY = 2  # the queues exist with other properties, or not at all with declare_topology = false
EXIT_BROKER_REFUSED = 5  # the broker refused the credentials or their access


@dataclass(frozen=True)
class Topology:
    """The consumer's queues (queue name → the object it carries) and their dead-letter route."""

    queues: dict[str, ObjectKind]
    dead_letter_exchange: str
    dead_letter_suffix: str
    single_active_consumer: bool = False

    @classmethod
    def from_config(cls, config: erp.Config) -> Topology:
        return cls({config.customer_queue: erp.CUSTOMER, config.subscription_queue: erp.SUBSCRIPTION},
                   config.dead_letter_exchange, config.dead_letter_suffix, config.single_active_consumer)

    def dead_letter_queue(self, queue: str) -> str:
        return queue + self.dead_letter_suffix

    def arguments(self, queue: str) -> dict[str, str | bool]:
        """The arguments the consumer declares its queue with."""
        arguments: dict[str, str | bool] = {"x-dead-letter-exchange": self.dead_letter_exchange,
                                            "x-dead-letter-routing-key": self.dead_letter_queue(queue)}
        if self.single_active_consumer:
            # RabbitMQ delivers to one consumer at a time, the others standing by: the ERP's order
            # within a queue (two full states of one id) is kept across several consumer processes.
            arguments["x-single-active-consumer"] = True
        return arguments

    def declare(self, channel: BlockingChannel) -> None:
        """Declare the exchange and the queues (idempotent); TopologyError when one exists otherwise."""
        what = f"exchange {self.dead_letter_exchange!r} (durable, direct)"
        self._on_broker(what, channel.exchange_declare, self.dead_letter_exchange, "direct", durable=True)
        for queue in self.queues:
            dead_letter = self.dead_letter_queue(queue)
            self._on_broker(f"queue {dead_letter!r} (durable, no arguments)", channel.queue_declare,
                            dead_letter, durable=True)
            channel.queue_bind(dead_letter, self.dead_letter_exchange, routing_key=dead_letter)
            self._on_broker(f"queue {queue!r} (durable, arguments {self.arguments(queue)})", channel.queue_declare,
                            queue, durable=True, arguments=self.arguments(queue))

    def check(self, channel: BlockingChannel) -> None:
        """``declare_topology = false``: the queues must already exist; nothing is declared."""
        for queue in self.queues:
            self._on_broker(f"queue {queue!r}", channel.queue_declare, queue, passive=True)

    def _on_broker(self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            method(*args, **kwargs)
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code == 406:  # PRECONDITION_FAILED: exists with other properties
                raise TopologyError(
                    f"{what} already exists with other properties; the broker says: {exc.reply_text}. "
                    "The consumer never deletes or changes an existing queue or exchange: either set "
                    "[erp] declare_topology = false to consume the queues as they are (dead-lettering then "
                    "follows their own arguments), or have an administrator move the messages away and "
                    "re-create it as shown"
                ) from None
            if exc.reply_code == 404:
                raise TopologyError(
                    f"{what} does not exist and [erp] declare_topology = false: create it, or set "
                    f"declare_topology = true to let the consumer declare it; the broker says: {exc.reply_text}"
                ) from None
            raise


class Backoff:
    """Capped exponential back-off: min, 2×min, 4×min, … up to max; reset after a success."""

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high, self.current = low, high, low

    def next(self) -> float:
        delay, self.current = self.current, min(self.high, self.current * 2)
        return delay

    def reset(self) -> None:
        self.current = self.low


@dataclass
class Stats:
    """What the consumer did since it started (logged when it stops; read by the benchmark)."""

    acked: int = 0
    dead_lettered: int = 0
    batches: int = 0
    storage_retries: int = 0
    connections: int = 0


Hook = Callable[[], None]


class Events(Protocol):
    """What the consumer reports as it goes, for whoever counts it (``receiver/metrics.py:
    ConsumerMetrics``); by default nobody does, so the transport needs no metrics library."""

    def redelivered(self, queue: str) -> None:
        """A message came with the broker's redelivered flag."""

    def settled(self, results: list[tuple[str, str]], seconds: float) -> None:
        """A batch was settled: (queue, outcome) per message, ``seconds`` after it went to the store."""

    def dead_lettered(self, queue: str) -> None:
        """A message that could not be stored at all was dead-lettered."""

    def reconnect(self, why: str) -> None:
        """The connection could not be opened (``connect_failed``) or was lost (``connection_lost``)."""


class _Uncounted:
    def redelivered(self, queue: str) -> None: ...
    def settled(self, results: list[tuple[str, str]], seconds: float) -> None: ...
    def dead_lettered(self, queue: str) -> None: ...
    def reconnect(self, why: str) -> None: ...


Deliveries = list[tuple[int, Notification]]  # (delivery tag, message), in delivery order


@dataclass(frozen=True)
class _Batch:
    deliveries: Deliveries
    future: Future[list[Receipt]]  # the worker's transaction
    submitted_at: float = field(default_factory=time.perf_counter)


@dataclass
class _Session:
    """The state of one connection: delivery tags mean nothing on another one."""

    connection: BlockingConnection
    channel: BlockingChannel
    consumer_tags: list[str] = field(default_factory=list)
    pending: Deliveries = field(default_factory=list)
    first_pending_at: float = 0.0
    in_flight: _Batch | None = None
    retry: Deliveries | None = None  # a batch the store refused, waiting for retry_at
    retry_at: float = 0.0
    # Messages of a batch that failed for another reason than a store outage, stored one at a time to
    # find the one that can never be stored (it is dead-lettered) instead of blocking the queues.
    isolating: Deliveries = field(default_factory=list)
    cancelled_by_broker: str | None = None


class Consumer:
    """Consumes both ERP queues into the store until :meth:`stop`; reconnects with a capped back-off."""

    def __init__(self, config: erp.Config, store: storage.Store, *, before_commit: Hook | None = None,
                 after_commit: Hook | None = None, events: Events | None = None) -> None:
        if not config.amqp_url:
            raise ValueError("[erp] amqp_url is empty: set it, or RECEIVER_ERP_AMQP_URL")
        self.config = config
        self.store = store
        self.topology = Topology.from_config(config)
        self.parameters = pika.URLParameters(config.amqp_url)
        self.parameters.heartbeat = config.heartbeat_seconds
        self.parameters.connection_attempts = 1  # retries are ours, with back-off and a log line each
        self.parameters.client_properties = {
            "connection_name": f"inventory-receiver erp consumer ({socket.gethostname()}, pid {os.getpid()})"}
        self.stats = Stats()
        self.events: Events = events or _Uncounted()
        self.consuming = threading.Event()  # set while consuming (tests and the benchmark wait on it)
        self._stop_reason: str | None = None
        self._batch_wait = config.batch_wait_ms / 1000
        self._store_retry = Backoff(config.backoff_min_seconds, config.backoff_max_seconds)
        # Called on the store's thread inside each batch's transaction, just before its commit, and just
        # after it (the fault tests inject a SIGKILL there).
        self._before_commit = before_commit
        self._after_commit = after_commit
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="erp-store")

    def stop(self, reason: str = "asked to stop") -> None:
        """Finish the messages in hand, acknowledge them, close. Safe from a signal handler or thread."""
        self._stop_reason = self._stop_reason or reason

    def run(self) -> None:
        """Consume until :meth:`stop` (once per Consumer). Raises :class:`TopologyError` when the queues
        cannot be used, :class:`BrokerRefused` when the broker refuses the credentials or their access;
        every other failure (name resolution, a refused or lost connection, the store) is retried with
        back-off, one WARNING line each."""
        reconnect = Backoff(self.config.backoff_min_seconds, self.config.backoff_max_seconds)
        url = storage.masked_url(self.config.amqp_url)
        try:
            while self._stop_reason is None:
                try:
                    connection = BlockingConnection(self.parameters)
                except (pika.exceptions.AMQPConnectionError, OSError) as exc:  # OSError: name resolution
                    self._refused(exc)
                    self.events.reconnect("connect_failed")
                    delay = reconnect.next()
                    log.warning("erp: cannot connect to %s (%s); retrying in %.3g s", url, self._why(exc), delay,
                                extra={"channel": "erp", "retry_in_s": delay})
                    self._sleep(delay)
                    continue
                self.stats.connections += 1
                session: _Session | None = None
                try:
                    session = self._open(connection)
                    reconnect.reset()
                    self._consume(session)
                except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as exc:
                    unsettled = self._abandon(session)
                    self._refused(exc)
                    self.events.reconnect("connection_lost")
                    delay = reconnect.next()
                    log.warning("erp: connection to %s closed (%s); %d unacknowledged message(s) go back to "
                                "the queue; reconnecting in %.3g s", url, self._why(exc), unsettled, delay,
                                extra={"channel": "erp", "retry_in_s": delay})
                    self._sleep(delay)
                finally:
                    self.consuming.clear()
                    if connection.is_open:
                        connection.close()
        finally:
            self._worker.shutdown(wait=True)
        log.info("erp: consumer stopped (%s): %d message(s) stored and acknowledged, %d dead-lettered, "
                 "%d connection(s); connection closed", self._stop_reason, self.stats.acked,
                 self.stats.dead_lettered, self.stats.connections)

    # -- one connection ------------------------------------------------------------------------------

    def _open(self, connection: BlockingConnection) -> _Session:
        channel = connection.channel()
        if self.config.declare_topology:
            self.topology.declare(channel)
        else:
            self.topology.check(channel)
        channel.basic_qos(prefetch_count=self.config.prefetch)
        session = _Session(connection, channel)
        channel.add_on_cancel_callback(functools.partial(self._on_cancelled, session))
        for queue, kind in self.topology.queues.items():
            on_message = functools.partial(self._on_message, session, queue, kind)
            session.consumer_tags.append(channel.basic_consume(queue, on_message))
        log.info("erp: consuming %s from %s (prefetch %d, batches of up to %d)",
                 " and ".join(self.topology.queues), storage.masked_url(self.config.amqp_url),
                 self.config.prefetch, self.config.batch_size)
        self.consuming.set()
        return session

    def _on_message(self, session: _Session, queue: str, kind: ObjectKind, _channel: BlockingChannel,
                    method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        if method.redelivered:
            self.events.redelivered(queue)
        if not session.pending:
            session.first_pending_at = time.monotonic()
        session.pending.append((method.delivery_tag,
                                Notification(kind, queue, body, properties.content_type, method.redelivered)))

    def _on_cancelled(self, session: _Session, _method: Any) -> None:
        session.cancelled_by_broker = "the broker cancelled the consumer (was a queue deleted?)"

    def _consume(self, session: _Session) -> None:
        """The loop: pump the connection, hand full (or waited-for) batches to the worker, settle them."""
        stopping = False
        while True:
            if session.cancelled_by_broker:
                raise pika.exceptions.ConsumerCancelled(session.cancelled_by_broker)
            if self._stop_reason is not None and not stopping:
                stopping = True
                log.info("erp: stopping (%s): finishing %d message(s) in hand", self._stop_reason,
                         len(session.pending) + len(session.in_flight.deliveries if session.in_flight else ()))
                for tag in session.consumer_tags:
                    session.channel.basic_cancel(tag)  # pika requeues what it received but did not hand over
            if session.in_flight is not None and session.in_flight.future.done():
                self._settle(session)
            if stopping and session.retry is not None:
                log.warning("erp: stopping while the store is unavailable: %d message(s) not stored go back "
                            "to the queue", len(session.retry) + len(session.pending))
                break
            if session.in_flight is None:
                self._submit_due(session, stopping)
            if stopping and session.in_flight is None and not session.pending:
                break
            session.connection.process_data_events(time_limit=self._wait(session))
        session.channel.close()

    def _wait(self, session: _Session) -> float:
        now = time.monotonic()
        if session.in_flight is not None:
            return IDLE_WAKE_SECONDS  # the worker wakes the loop as soon as it is done
        if session.retry is not None:
            return min(IDLE_WAKE_SECONDS, max(0.0, session.retry_at - now))
        if session.pending:
            return min(IDLE_WAKE_SECONDS, max(0.0, session.first_pending_at + self._batch_wait - now))
        return IDLE_WAKE_SECONDS

    def _submit_due(self, session: _Session, stopping: bool) -> None:
        now = time.monotonic()
        if session.isolating:
            self._submit(session, [session.isolating.pop(0)])
            return
        if session.retry is not None:
            if now >= session.retry_at:
                deliveries, session.retry = session.retry, None
                self._submit(session, deliveries)
            return
        full = len(session.pending) >= self.config.batch_size
        if session.pending and (full or stopping or now >= session.first_pending_at + self._batch_wait):
            deliveries = session.pending[: self.config.batch_size]
            del session.pending[: self.config.batch_size]
            session.first_pending_at = now
            self._submit(session, deliveries)

    def _submit(self, session: _Session, deliveries: Deliveries) -> None:
        future = self._worker.submit(self._store_batch, [notification for _, notification in deliveries])
        # Once the future is done (not before: the loop checks done()), wake the loop up.
        future.add_done_callback(functools.partial(_wake, session.connection))
        session.in_flight = _Batch(deliveries, future)

    def _store_batch(self, notifications: list[Notification]) -> list[Receipt]:
        """On the worker thread: one transaction for the whole batch."""
        receipts = erp.receive_batch(self.store, notifications, before_commit=self._before_commit)
        if self._after_commit is not None:
            self._after_commit()
        return receipts

    def _settle(self, session: _Session) -> None:
        """A batch came back from the worker: committed → reject the poison, ack the rest in one
        multiple ack; failed → keep every message unacknowledged and retry after a back-off."""
        batch, session.in_flight = session.in_flight, None
        assert batch is not None
        try:
            receipts = batch.future.result()
        except StorageFailure as exc:
            self._retry_later(session, batch.deliveries, exc)
            return
        except Exception as exc:  # not an outage: something in these messages the store refuses
            self._isolate(session, batch.deliveries, exc)
            return
        self._store_retry.reset()
        last_stored, stored = 0, 0
        duration_ms = round((time.perf_counter() - batch.submitted_at) * 1000)
        for (tag, notification), receipt in zip(batch.deliveries, receipts, strict=True):
            if receipt.outcome == "rejected":
                log.warning("erp: message from %s dead-lettered (delivery %d): %s", notification.queue,
                            receipt.delivery, receipt.reason,
                            extra={"channel": "erp", "delivery": receipt.delivery, "outcome": "rejected",
                                   "queue": notification.queue, "duration_ms": duration_ms})
                session.channel.basic_reject(tag, requeue=False)
                self.stats.dead_lettered += 1
            else:
                last_stored, stored = tag, stored + 1
        if last_stored:
            # Acknowledges every message up to this tag: the rejected ones are settled already.
            session.channel.basic_ack(last_stored, multiple=True)
        self.stats.acked += stored
        self.stats.batches += 1
        self.events.settled([(notification.queue, receipt.outcome)
                             for (_, notification), receipt in zip(batch.deliveries, receipts, strict=True)],
                            time.perf_counter() - batch.submitted_at)
        if receipts:
            first, last = receipts[0].delivery, receipts[-1].delivery
            log.info("erp: %d message(s) stored and acknowledged, %d dead-lettered (deliveries %s) in %d ms", stored,
                     len(receipts) - stored, first if first == last else f"{first}-{last}", duration_ms,
                     extra={"channel": "erp", "delivery": first, "last_delivery": last, "stored": stored,
                            "dead_lettered": len(receipts) - stored, "duration_ms": duration_ms})

    def _retry_later(self, session: _Session, deliveries: Deliveries, exc: Exception) -> None:
        """The store is down: keep the messages unacknowledged and retry after a capped back-off."""
        self.stats.storage_retries += 1
        delay = self._store_retry.next()
        log.warning("erp: could not store a batch of %d message(s) (%s); nothing acknowledged, retrying in %.3g s",
                    len(deliveries), exc, delay)
        session.retry, session.retry_at = deliveries, time.monotonic() + delay

    def _isolate(self, session: _Session, deliveries: Deliveries, exc: Exception) -> None:
        """A batch failed for another reason than an outage. Several messages: store them one at a time
        to find the culprit. One message: it can never be stored — record why (with its body) and
        dead-letter it, so it cannot block the queues forever."""
        if len(deliveries) > 1:
            log.warning("erp: a batch of %d message(s) failed (%s: %s); storing them one at a time",
                        len(deliveries), type(exc).__name__, _why(exc).splitlines()[0])
            session.isolating = list(deliveries) + session.isolating
            return
        [(tag, notification)] = deliveries
        reason = f"could not be stored: {type(exc).__name__}: {_why(exc).splitlines()[0]}"
        log.error("erp: message from %s dead-lettered: %s", notification.queue, reason, exc_info=exc)
        try:
            erp.record_unstorable(self.store, notification, reason)
        except StorageFailure as outage:
            self._retry_later(session, deliveries, outage)
            return
        except Exception as refused:  # noqa: BLE001 (not an outage: even its log line cannot be stored)
            # Dead-lettered all the same: the message is kept there, and the queue goes on.
            log.error("erp: the delivery log refused the line of the message dead-lettered from %s (%s: %s); it "
                      "is kept in the dead-letter queue only", notification.queue, type(refused).__name__,
                      _why(refused).splitlines()[0])
        session.channel.basic_reject(tag, requeue=False)
        self.stats.dead_lettered += 1
        self.events.dead_lettered(notification.queue)

    def _abandon(self, session: _Session | None) -> int:
        """The connection is gone: wait for the store's work in progress (its messages come back as
        duplicates if it committed) and forget the session's messages, which the broker requeues."""
        if session is None:
            return 0
        unsettled = len(session.pending) + len(session.retry or ())
        if session.in_flight is not None:
            unsettled += len(session.in_flight.deliveries)
            wait([session.in_flight.future])  # a failure is the worker's to log; its messages come back anyway
        return unsettled

    def _refused(self, exc: BaseException) -> None:
        """Raise :class:`BrokerRefused` when ``exc`` is the broker refusing the credentials or their access."""
        url = storage.masked_url(self.config.amqp_url)
        user, vhost = self.parameters.credentials.username, self.parameters.virtual_host
        stop = "the consumer stops: retrying cannot help"
        if isinstance(exc, pika.exceptions.ProbableAuthenticationError | pika.exceptions.AuthenticationError):
            raise BrokerRefused(
                f"the broker at {url} refused the credentials of user {user!r} ({_broker_says(exc)}): correct "
                f"the user and password in [erp] amqp_url (or RECEIVER_ERP_AMQP_URL); {stop}") from None
        if isinstance(exc, pika.exceptions.ProbableAccessDeniedError):
            raise BrokerRefused(
                f"the broker at {url} refused user {user!r} access to the virtual host {vhost!r} "
                f"({_broker_says(exc)}): grant it (rabbitmqctl set_permissions -p {vhost} {user} ...) or "
                f"correct the virtual host in [erp] amqp_url; {stop}") from None
        if isinstance(exc, pika.exceptions.ConnectionClosedByBroker | pika.exceptions.ChannelClosedByBroker) \
                and exc.reply_code == 403:
            raise BrokerRefused(
                f"the broker at {url} refused user {user!r} ({exc.reply_code} {exc.reply_text}): grant it the "
                f"permissions on the queues and exchange it uses (configure, write and read), or use another "
                f"user in [erp] amqp_url; {stop}") from None

    def _why(self, exc: BaseException) -> str:
        """Why a connection failed or closed, in one line (pika's reprs are nested)."""
        if isinstance(exc, socket.gaierror):
            return f"cannot resolve the host name {self.parameters.host!r}: {exc.strerror or exc}"
        return _why(exc)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self._stop_reason is None and time.monotonic() < deadline:
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def _wake(connection: BlockingConnection, _done: Future[list[Receipt]]) -> None:
    # The connection may be gone already: then the main loop no longer waits for this batch.
    with contextlib.suppress(pika.exceptions.ConnectionWrongStateError):
        connection.add_callback_threadsafe(lambda: None)


def _why(exc: BaseException) -> str:
    """A closed connection's reason, in one line (pika's reprs are nested)."""
    if isinstance(exc, pika.exceptions.ConnectionClosed | pika.exceptions.ChannelClosed):
        return f"{exc.reply_code} {exc.reply_text}"
    cause = _innermost(exc)
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror[:1].lower() + cause.strerror[1:]  # "connection refused", "no route to host"
    if cause is not exc:
        return _why(cause)
    return str(exc) or type(exc).__name__


def _innermost(exc: BaseException) -> BaseException:
    """What a pika connection error wraps: the workflow's last failure, its phase's exception, …"""
    seen = 0
    while seen < 10:
        seen += 1
        if isinstance(exc, pika.exceptions.AMQPConnectionError) and exc.args \
                and isinstance(exc.args[0], BaseException):
            exc = exc.args[0]
        elif getattr(exc, "exceptions", None):
            exc = exc.exceptions[-1]  # type: ignore[attr-defined]
        elif isinstance(getattr(exc, "exception", None), BaseException):
            exc = exc.exception  # type: ignore[attr-defined]
        else:
            break
    return exc


def _broker_says(exc: BaseException) -> str:
    """The broker's own words in a refusal ("403 ACCESS_REFUSED - Login was refused …"), else pika's."""
    found = re.search(r"\((\d{3})\) (['\"])(.*?)\2", str(exc))
    if found:
        return f"{found[1]} {found[3]}"
    return str(exc) or type(exc).__name__


def consume(config: erp.Config, store: storage.Store, *, before_commit: Hook | None = None,
            after_commit: Hook | None = None, events: Events | None = None,
            started: Callable[[Consumer], None] | None = None) -> int:
    """``inventory-receiver consume``: run the consumer until SIGTERM/SIGINT; 0 on a clean stop,
    :data:`EXIT_TOPOLOGY` when the queues cannot be used, :data:`EXIT_BROKER_REFUSED` when the broker
    refuses the credentials (one log line says why). The hooks and ``events`` are the :class:`Consumer`'s;
    ``started`` is called with the consumer before it runs."""
    pika_log = logging.getLogger("pika")
    if pika_log.level == logging.NOTSET:  # receiver.logs.configure sets it: pika only at debug
        pika_log.setLevel(logging.CRITICAL)
    consumer = Consumer(config, store, before_commit=before_commit, after_commit=after_commit, events=events)
    if started is not None:  # e.g. the health port, which asks the consumer whether it consumes
        started(consumer)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        consumer.stop(f"received {signal.Signals(signum).name}")

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    try:
        consumer.run()
    except TopologyError as exc:
        log.error("erp: %s", exc)
        return EXIT_TOPOLOGY
    except BrokerRefused as exc:
        log.critical("erp: %s", exc)
        return EXIT_BROKER_REFUSED
    return 0

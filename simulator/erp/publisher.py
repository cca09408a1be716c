"""How the ERP publishes: the default exchange, routing key = queue name, persistent UTF-8 JSON,
``mandatory`` and publisher confirms, so that every message is either confirmed stored or an error."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pika
import pika.exceptions
from pika import spec

from .payload import CUSTOMER_QUEUE, SUBSCRIPTION_QUEUE, encode

# What the platform's messages look like on the wire: the document's Content-Type, UTF-8 text,
# persistent so that a broker restart does not lose a change.
MESSAGE_PROPERTIES = pika.BasicProperties(
    content_type="application/json",
    content_encoding="utf-8",
    delivery_mode=pika.DeliveryMode.Persistent,
)


class ErpPublishError(Exception):
    """A message was not confirmed by the broker; the message says why and what to do."""


class BrokerUnreachableError(ErpPublishError):
    """No AMQP connection could be opened."""


class QueueMissingError(ErpPublishError):
    """A queue the ERP publishes to does not exist (the consumer has not declared it)."""


class UnroutableError(ErpPublishError):
    """The broker returned a mandatory message: no queue of that name, so it was not stored."""


class NackedError(ErpPublishError):
    """The broker refused a message (basic.nack), e.g. a full queue with ``reject-publish``."""


def safe_url(url: str) -> str:
    """The URL with its password masked, for error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _body(item: bytes | dict[str, Any] | list[Any]) -> bytes:
    return item if isinstance(item, bytes) else encode(item)


class ErpPublisher:
    """Publishes like the ERP: default exchange, routing key = queue name, persistent JSON messages,
    ``mandatory`` and publisher confirms, so every message is either confirmed stored or an error.

    It never declares queues: the consumer owns the topology (its queues may carry dead-letter
    arguments, and a declaration with other arguments would fail). Use :meth:`declare_passive` to
    check that they exist.
    """

    def __init__(
        self,
        amqp_url: str,
        *,
        customer_queue: str = CUSTOMER_QUEUE,
        subscription_queue: str = SUBSCRIPTION_QUEUE,
    ) -> None:
        self.amqp_url = amqp_url
        self.customer_queue = customer_queue
        self.subscription_queue = subscription_queue
        self.parameters = pika.URLParameters(amqp_url)
        try:
            self._connection = pika.BlockingConnection(self.parameters)
        except pika.exceptions.AMQPConnectionError as exc:
            raise BrokerUnreachableError(
                f"cannot connect to the AMQP broker at {safe_url(amqp_url)}: {exc!r}"
            ) from exc
        self._channel = self._open_channel()

    def _open_channel(self) -> Any:
        channel = self._connection.channel()
        channel.confirm_delivery()
        return channel

    def queue_for(self, queue: str) -> str:
        """The configured queue for a documented queue name (other names pass through)."""
        return {CUSTOMER_QUEUE: self.customer_queue, SUBSCRIPTION_QUEUE: self.subscription_queue}.get(
            queue, queue
        )

    def declare_passive(self) -> dict[str, int]:
        """Check that both queues exist; returns their message counts, raises QueueMissingError."""
        counts: dict[str, int] = {}
        missing: list[str] = []
        for queue in (self.customer_queue, self.subscription_queue):
            try:
                counts[queue] = self._channel.queue_declare(queue, passive=True).method.message_count
            except pika.exceptions.ChannelClosedByBroker as exc:
                if exc.reply_code != 404:
                    raise ErpPublishError(f"checking queue {queue!r}: {exc.reply_text}") from exc
                missing.append(queue)
                self._channel = self._open_channel()  # the broker closes the channel on a 404
        if missing:
            raise QueueMissingError(
                f"queue(s) {', '.join(map(repr, missing))} do not exist on {safe_url(self.amqp_url)}: "
                "the consumer declares its queues, so start it first (or check the queue names)"
            )
        return counts

    def publish(self, queue: str, body: bytes | dict[str, Any], *, message_id: str | None = None) -> None:
        """Publish one message and block until the broker confirms it; raises on nack/unroutable.
        ``message_id`` (the AMQP property, kept when the message is dead-lettered) lets the one who
        published it find that very message again, e.g. in a dead-letter queue."""
        properties = MESSAGE_PROPERTIES
        if message_id is not None:
            properties = pika.BasicProperties(content_type=MESSAGE_PROPERTIES.content_type,
                                              content_encoding=MESSAGE_PROPERTIES.content_encoding,
                                              delivery_mode=MESSAGE_PROPERTIES.delivery_mode, message_id=message_id)
        try:
            self._channel.basic_publish(
                exchange="", routing_key=queue, body=_body(body), properties=properties, mandatory=True,
            )
        except pika.exceptions.UnroutableError as exc:
            raise self._unroutable(queue, exc.messages[0].method.reply_text if exc.messages else "") from exc
        except pika.exceptions.NackError as exc:
            raise NackedError(
                f"the broker refused (nacked) a message for queue {queue!r}: it is not stored "
                "(a full queue with overflow=reject-publish, or a broker-side error)"
            ) from exc
        except pika.exceptions.AMQPError as exc:
            raise ErpPublishError(f"publishing to queue {queue!r} failed: {exc!r}") from exc

    def _unroutable(self, queue: str, reply_text: str) -> UnroutableError:
        return UnroutableError(
            f"message for queue {queue!r} was returned unroutable ({reply_text or 'NO_ROUTE'}): no queue of "
            f"that name on {safe_url(self.amqp_url)}, so it was not stored. The consumer declares the "
            "queues; start it first, or check the queue name"
        )

    def publish_customer(self, obj: bytes | dict[str, Any]) -> None:
        """Publish a customer to the customer queue."""
        self.publish(self.customer_queue, obj)

    def publish_subscription(self, obj: bytes | dict[str, Any]) -> None:
        """Publish a subscription to the subscription queue."""
        self.publish(self.subscription_queue, obj)

    def publish_many(self, items: Iterable[bytes | dict[str, Any]], queue: str, *, window: int = 1000) -> int:
        """Publish many messages to one queue, keeping up to ``window`` unconfirmed at a time; returns
        how many the broker confirmed (all of them, or it raises)."""
        bodies = [_body(item) for item in items]
        if not bodies:
            return 0
        return _PipelinedPublish(self, queue, bodies, window).run()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._connection.is_open:
            self._connection.close()

    def __enter__(self) -> ErpPublisher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _PipelinedPublish:
    """``publish_many``'s fast path on its own asynchronous connection: a blocking channel waits for
    each confirm in turn (~1,500 msg/s locally); tracking delivery tags keeps the pipe full instead."""

    def __init__(self, publisher: ErpPublisher, queue: str, bodies: list[bytes], window: int) -> None:
        self.publisher = publisher
        self.queue = queue
        self.bodies = bodies
        self.window = max(1, window)
        self.sent = 0
        self.confirmed = 0
        self.outstanding: OrderedDict[int, None] = OrderedDict()
        self.returned: list[str] = []
        self.nacked = 0
        self.error: ErpPublishError | None = None
        self.closing = False
        self.channel: Any = None

    def run(self) -> int:
        connection = pika.SelectConnection(
            self.publisher.parameters,
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_close,
        )
        self.connection = connection
        try:
            connection.ioloop.start()
        finally:
            connection.ioloop.close()  # the loop's own wake-up sockets
        if self.error is not None:
            raise self.error
        if self.returned:
            raise self.publisher._unroutable(self.queue, self.returned[0])
        if self.nacked:
            raise NackedError(
                f"the broker refused (nacked) {self.nacked} message(s) for queue {self.queue!r} "
                f"after confirming {self.confirmed}"
            )
        return self.confirmed

    def _on_open(self, connection: Any) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_open_error(self, connection: Any, error: BaseException) -> None:
        self.error = BrokerUnreachableError(
            f"cannot connect to the AMQP broker at {safe_url(self.publisher.amqp_url)}: {error!r}"
        )
        connection.ioloop.stop()

    def _on_close(self, connection: Any, reason: BaseException) -> None:
        if not self.closing and self.error is None:
            self.error = ErpPublishError(
                f"connection closed after {self.confirmed} of {len(self.bodies)} confirms "
                f"to queue {self.queue!r}: {reason!r}"
            )
        connection.ioloop.stop()

    def _on_channel_open(self, channel: Any) -> None:
        self.channel = channel
        channel.add_on_return_callback(self._on_return)
        channel.add_on_close_callback(self._on_channel_closed)
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._fill())

    def _on_channel_closed(self, channel: Any, reason: BaseException) -> None:
        if not self.closing:
            self.error = ErpPublishError(
                f"the broker closed the channel after {self.confirmed} of {len(self.bodies)} confirms "
                f"to queue {self.queue!r}: {reason!r}"
            )
            self.closing = True
            self.connection.close()

    def _on_return(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        # The broker sends basic.return before the basic.ack of that same message.
        self.returned.append(method.reply_text)

    def _fill(self) -> None:
        failing = bool(self.returned or self.nacked)
        while not failing and self.sent < len(self.bodies) and len(self.outstanding) < self.window:
            self.channel.basic_publish(
                "", self.queue, self.bodies[self.sent], MESSAGE_PROPERTIES, mandatory=True
            )
            self.sent += 1
            self.outstanding[self.sent] = None
        if not self.outstanding and (failing or self.sent == len(self.bodies)):
            self.closing = True
            self.connection.close()

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        if method.multiple:
            count = 0
            while self.outstanding and next(iter(self.outstanding)) <= method.delivery_tag:
                self.outstanding.popitem(last=False)
                count += 1
        else:
            count = 1 if method.delivery_tag in self.outstanding else 0
            self.outstanding.pop(method.delivery_tag, None)
        if isinstance(method, spec.Basic.Ack):
            self.confirmed += count
        else:
            self.nacked += count
        self._fill()


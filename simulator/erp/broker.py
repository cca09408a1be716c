"""A look into the broker from outside the consumer (what the contract suite checks after publishing):
whether a message reached a queue, typically the dead-letter queue of a poison message."""

from __future__ import annotations

import time

import pika
import pika.exceptions

from .publisher import BrokerUnreachableError, safe_url


class BrokerInspector:
    """Reads queues of one broker without consuming what it does not look for; each look opens its own
    connection, so none sits idle between looks."""

    def __init__(self, amqp_url: str) -> None:
        self.amqp_url = amqp_url
        self.parameters = pika.URLParameters(amqp_url)

    def queue_state(self, queue: str) -> tuple[int, int] | None:
        """(messages ready, consumers attached) of ``queue``, or None when there is no such queue."""
        connection = self._connect()
        try:
            try:
                method = connection.channel().queue_declare(queue, passive=True).method
            except pika.exceptions.ChannelClosedByBroker:
                return None
            return int(method.message_count), int(method.consumer_count)
        finally:
            connection.close()

    def _connect(self) -> pika.BlockingConnection:
        try:
            return pika.BlockingConnection(self.parameters)
        except pika.exceptions.AMQPConnectionError as exc:
            raise BrokerUnreachableError(f"cannot connect to the AMQP broker at {safe_url(self.amqp_url)}: "
                                         f"{exc!r}") from exc

    def take(self, queue: str, body: bytes, timeout: float = 20.0) -> bool | None:
        """Take the message ``body`` out of ``queue`` when it arrives within ``timeout`` seconds: True when
        taken, False when it did not come, None when there is no such queue. Only the matching message is
        acknowledged; the others go back (their channel closes without acknowledging them)."""
        connection = self._connect()
        try:
            channel = connection.channel()
            try:
                channel.queue_declare(queue, passive=True)
            except pika.exceptions.ChannelClosedByBroker:
                return None
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                method, _, found = channel.basic_get(queue, auto_ack=False)
                if method is None:
                    time.sleep(0.2)
                    channel.close()
                    channel = connection.channel()  # give back what was looked at, look again
                    continue
                if found == body:
                    channel.basic_ack(method.delivery_tag)
                    return True
            return False
        finally:
            connection.close()

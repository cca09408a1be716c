"""A look into the broker from outside the consumer (what the contract suite checks after publishing):
whether a message reached a queue, typically the dead-letter queue of a poison message."""

from __future__ import annotations

import time
from collections.abc import Collection

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

    def take(self, queue: str, message_ids: Collection[str], *, barrier: str | None = None,
             until: float) -> set[str] | None:
        """Take out of ``queue`` the messages whose ``message_id`` is among ``message_ids`` (acknowledged,
        so a later look does not find them again); the others go back untouched (their channel closes
        without acknowledging them). Looks until every one is found — and, when a ``barrier`` message id is
        given, that message too —, or, once the barrier is found, after one more look through the queue:
        a consumer that settles messages in order dead-lettered whatever it dead-letters before it. At the
        latest at ``until`` (``time.monotonic()``). Returns the ids found (the barrier's among them when it was
        found), None when there is no such queue."""
        wanted = set(message_ids)
        found: set[str] = set()
        barrier_seen = False
        connection = self._connect()
        try:
            channel = connection.channel()
            try:
                channel.queue_declare(queue, passive=True)
            except pika.exceptions.ChannelClosedByBroker:
                return None
            looks_after_barrier = 0
            while True:
                method, properties, _ = channel.basic_get(queue, auto_ack=False)
                if method is not None:
                    message_id = properties.message_id
                    if message_id in wanted or (barrier is not None and message_id == barrier):
                        channel.basic_ack(method.delivery_tag)
                        found.add(message_id)
                        barrier_seen = barrier_seen or message_id == barrier
                    continue
                # Looked through the whole queue once.
                looks_after_barrier += barrier_seen
                all_found = wanted <= found
                if (all_found and (barrier is None or barrier_seen)) or looks_after_barrier >= 2:
                    break
                if time.monotonic() >= until:
                    break
                channel.close()
                time.sleep(0.05)
                channel = connection.channel()  # give back what was looked at, look again
            return found
        finally:
            connection.close()

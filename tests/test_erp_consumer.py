"""The ERP consumer against the real RabbitMQ, on SQLite and PostgreSQL: it acks only what it stored,
dead-letters what can never be stored, batches its acks, holds messages while the store is down, keeps
its heartbeats through a long transaction, reconnects, and declares (never deletes) its topology.

Every test uses queues and an exchange of its own (``test-erp-<random>``) and deletes them after."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import selectors
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
import pytest
import sqlalchemy as sa
from pika.adapters.blocking_connection import BlockingChannel

from inventory_push_kit.receiver import amqp, cli, storage
from inventory_push_kit.receiver.channels import erp
from inventory_push_kit.receiver.config import Config
from inventory_push_kit.simulator.erp import (
    CUSTOMER_QUEUE,
    SUBSCRIPTION_QUEUE,
    ErpGenerator,
    ErpPublisher,
    ScenarioOptions,
    conforming_messages,
    encode,
    expected_state,
    malformed_messages,
    publish_messages,
)
from tests.conftest import receiver_config


@dataclass
class Broker:
    """The test's own queue names on the real broker, and a channel to look at them."""

    url: str
    config: dict[str, Any]  # the [erp] section naming them
    channel: BlockingChannel

    @property
    def customers(self) -> str:
        return str(self.config["customer_queue"])

    @property
    def subscriptions(self) -> str:
        return str(self.config["subscription_queue"])

    def ready(self, queue: str) -> int:
        """Messages waiting in a queue (not the ones handed to a consumer and not yet acked)."""
        return int(self.channel.queue_declare(queue, passive=True).method.message_count)

    def publisher(self) -> ErpPublisher:
        return ErpPublisher(self.url, customer_queue=self.customers, subscription_queue=self.subscriptions)

    def declare(self) -> None:
        """The consumer's own topology, declared as the consumer declares it."""
        amqp.Topology.from_config(receiver_config("sqlite://", erp=self.config).erp).declare(self.channel)

    def drain(self, queue: str) -> list[tuple[Any, bytes]]:
        messages = []
        while (got := self.channel.basic_get(queue, auto_ack=True))[0] is not None:
            messages.append((got[1], got[2]))
        return messages


@pytest.fixture
def broker(rabbitmq_url: str) -> Iterator[Broker]:
    prefix = f"test-erp-{uuid.uuid4().hex[:10]}"
    section = {"amqp_url": rabbitmq_url, "customer_queue": f"{prefix}-customers",
               "subscription_queue": f"{prefix}-subscriptions", "dead_letter_exchange": f"{prefix}.dead-letter",
               "backoff_min_seconds": 0.05, "backoff_max_seconds": 0.4, "batch_wait_ms": 5}
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        yield Broker(rabbitmq_url, section, connection.channel())
    finally:
        channel = connection.channel()
        for queue in (section["customer_queue"], section["subscription_queue"]):
            for name in (queue, queue + ".dead-letter"):
                channel.queue_delete(name)
        channel.exchange_delete(section["dead_letter_exchange"])
        connection.close()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class RunningConsumer:
    """The real consumer on a thread of the test process; ``stop()`` is what SIGTERM does."""

    def __init__(self, config: Config, store: storage.Store) -> None:
        self.consumer = amqp.Consumer(config.erp, store)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="erp-consumer")

    def _run(self) -> None:
        try:
            self.consumer.run()
        except BaseException as exc:  # handed to the test
            self.error = exc

    @property
    def stats(self) -> amqp.Stats:
        return self.consumer.stats

    def stop(self) -> None:
        self.consumer.stop("test done")
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the consumer did not stop"
        if self.error is not None:
            raise self.error


@pytest.fixture
def consume(broker: Broker, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., RunningConsumer]]:
    """Start the consumer on the test's queues and store (the ``store_url`` one when the test runs on
    both backends, else a SQLite file); ``consume(erp={...}, storage={...})``."""
    if "store_url" in request.fixturenames:
        store_url = request.getfixturevalue("store_url")
    else:
        store_url = f"sqlite:///{tmp_path / 'consumer.db'}"
    running: list[RunningConsumer] = []
    stores: list[storage.Store] = []

    def start(*, url: str | None = None, wait: bool = True, **sections: dict[str, Any]) -> RunningConsumer:
        config = receiver_config(url or store_url, **{**sections, "erp": {**broker.config, **sections.get("erp", {})}})
        store = storage.Store(config.storage_url, busy_timeout_ms=config.storage.busy_timeout_ms)
        stores.append(store)
        if url is None:
            store.create_schema()
        consumer = RunningConsumer(config, store)
        running.append(consumer)
        consumer.thread.start()
        if wait:
            wait_for(consumer.consumer.consuming.is_set, "the consumer to start consuming", timeout=10)
        return consumer

    yield start
    for consumer in running:
        if consumer.thread.is_alive():
            consumer.stop()
    for store in stores:
        store.dispose()


def logged(store: storage.Store) -> list[dict[str, Any]]:
    """The ERP delivery log, oldest first."""
    with store.read() as conn:
        rows = conn.execute(sa.select(storage.deliveries).where(storage.deliveries.c.channel == "erp")
                            .order_by(storage.deliveries.c.id))
        return [dict(row._mapping) for row in rows]


def held(store: storage.Store) -> dict[tuple[str, str], Any]:
    """What the store holds, keyed like the simulator's ``expected_state``."""
    state = {}
    with store.read() as conn:
        for queue, table in ((CUSTOMER_QUEUE, erp.customer_table), (SUBSCRIPTION_QUEUE, erp.subscription_table)):
            for row in conn.execute(sa.select(table.c.id, table.c.document)):
                state[(queue, row.id)] = row.document
    return state


# --- the happy path and the poison ----------------------------------------------------------------------


def test_conforming_messages_are_stored_and_acked_and_the_queues_drain(broker: Broker, consume: Any,
                                                                       store: storage.Store) -> None:
    consumer = consume(erp={"batch_size": 10, "prefetch": 25})
    messages = conforming_messages(ScenarioOptions(seed=11, customers=25, subscriptions=30, duplicates=True))
    with broker.publisher() as publisher:
        assert all(result.ok for result in publish_messages(publisher, messages))
    wait_for(lambda: consumer.stats.acked == len(messages), "every message to be acked")
    consumer.stop()  # anything stored but unacked would now go back to its queue

    assert broker.ready(broker.customers) == broker.ready(broker.subscriptions) == 0
    assert held(store) == expected_state(messages)
    outcomes = [row["outcome"] for row in logged(store)]
    assert outcomes.count("duplicate") >= len(messages) // 2  # every message was published twice in a row
    assert outcomes.count("accepted") + outcomes.count("duplicate") == len(messages)


def test_poison_is_dead_lettered_and_its_reason_logged(broker: Broker, consume: Any, store: storage.Store) -> None:
    consumer = consume()
    messages = malformed_messages(seed=4)
    with broker.publisher() as publisher:
        publish_messages(publisher, messages)
    wait_for(lambda: consumer.stats.acked + consumer.stats.dead_lettered == len(messages), "every message settled")
    consumer.stop()

    poison = [m for m in messages if m.outcome == "dead-letter"]
    assert consumer.stats.dead_lettered == len(poison) > 0
    for queue, documented in ((broker.customers, CUSTOMER_QUEUE), (broker.subscriptions, SUBSCRIPTION_QUEUE)):
        assert broker.ready(queue) == 0
        dead = broker.drain(queue + ".dead-letter")
        assert [body for _, body in dead] == [m.body for m in poison if m.queue == documented]
        assert all(props.headers["x-death"][0]["reason"] == "rejected" for props, _ in dead)
    rejected = [row for row in logged(store) if row["outcome"] == "rejected"]
    assert [row["raw_body"] for row in rejected] == [m.body for m in poison]
    assert all(row["reason"].startswith(("malformed body: ", "invalid payload: ")) for row in rejected)
    assert held(store) == expected_state(messages)


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_message_the_store_refuses_is_found_and_dead_lettered_instead_of_blocking_the_queue(
    broker: Broker, consume: Any, store: storage.Store
) -> None:
    # Not an outage: a rule of the customer's own database (a trigger) refuses one customer.
    with store.write() as conn:
        conn.exec_driver_sql(
            "CREATE FUNCTION refuse_customer() RETURNS trigger AS $$ BEGIN "
            "IF NEW.id = '999001' THEN RAISE EXCEPTION 'customer 999001 refused by a database rule'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql")
        conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON erp_customers "
                             "FOR EACH ROW EXECUTE FUNCTION refuse_customer()")
    consumer = consume(erp={"batch_size": 10, "prefetch": 25})
    generator = ErpGenerator(seed=5)
    customers = [generator.customer() for _ in range(9)]
    refused = encode(dict(customers[0], id="999001"))
    bodies = [encode(c) for c in customers[1:5]] + [refused] + [encode(c) for c in customers[5:]]
    with broker.publisher() as publisher:
        for body in bodies:
            publisher.publish(broker.customers, body)
    wait_for(lambda: consumer.stats.acked == 8 and consumer.stats.dead_lettered == 1,
             "the good messages stored and the refused one dead-lettered")
    consumer.stop()

    assert broker.ready(broker.customers) == 0
    assert [body for _, body in broker.drain(broker.customers + ".dead-letter")] == [refused]
    assert set(held(store)) == {(CUSTOMER_QUEUE, c["id"]) for c in customers[1:]}
    rejected = [row for row in logged(store) if row["outcome"] == "rejected"]
    assert len(rejected) == 1 and rejected[0]["raw_body"] == refused
    assert "refused by a database rule" in rejected[0]["reason"]


def test_stored_batches_are_acked_with_one_multiple_ack(broker: Broker, consume: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    acks: list[tuple[int, bool]] = []
    real_ack = BlockingChannel.basic_ack

    def recording_ack(self: BlockingChannel, delivery_tag: int = 0, multiple: bool = False) -> None:
        acks.append((delivery_tag, multiple))
        real_ack(self, delivery_tag, multiple)

    monkeypatch.setattr(BlockingChannel, "basic_ack", recording_ack)
    broker.declare()
    gen = ErpGenerator(8)
    with broker.publisher() as publisher:
        publisher.publish_many([gen.customer() for _ in range(49)] + [b"not json"], broker.customers)
    consumer = consume(erp={"prefetch": 50, "batch_size": 20, "batch_wait_ms": 300})
    wait_for(lambda: consumer.stats.acked + consumer.stats.dead_lettered == 50, "all 50 settled")
    consumer.stop()
    # 1-20, 21-40, then 41-49 (the 50th was rejected to the dead-letter queue, not acked).
    assert acks == [(20, True), (40, True), (49, True)]
    assert broker.ready(broker.customers) == 0 and broker.ready(broker.customers + ".dead-letter") == 1


# --- the store goes away --------------------------------------------------------------------------------------


class TcpProxy:
    """A TCP forwarder the test switches on and off: a database or broker that goes away and comes back.

    One thread per connection forwards both directions and alone closes its two sockets; the test's
    thread only shuts them down (under the lock), so a closed descriptor is never reused under it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.listener: socket.socket | None = None
        self.open: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen()
        self._thread(self._accept, self.listener)

    def _thread(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was shut down
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.open += [client, upstream]
            self._thread(self._forward, client, upstream)

    def _forward(self, client: socket.socket, upstream: socket.socket) -> None:
        peer = {client: upstream, upstream: client}
        with selectors.DefaultSelector() as selector:
            for sock in peer:
                selector.register(sock, selectors.EVENT_READ)
            while selector.get_map():
                for key, _ in selector.select():
                    sock = key.fileobj
                    try:
                        data = sock.recv(65536)
                        if data:
                            peer[sock].sendall(data)
                            continue
                    except OSError:
                        pass
                    selector.unregister(sock)
                    with contextlib.suppress(OSError):
                        peer[sock].shutdown(socket.SHUT_WR)
        with self.lock:
            for sock in peer:
                self.open.remove(sock)
                sock.close()

    def drop_connections(self) -> None:
        """Cut every connection through the proxy (it keeps accepting new ones)."""
        with self.lock:
            for sock in self.open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self.listener is not None:
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone does not
            self.drop_connections()
            for thread in self.threads:
                thread.join(timeout=5)
            self.listener.close()
            self.listener = None
        self.threads = []


@contextlib.contextmanager
def outage(store_url: str, tmp_path: Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """A store that is unavailable until ``restore()``: SQLite locked by another writer (busy timeout
    short), or PostgreSQL behind a proxy that is down. Yields (URL for the consumer, restore)."""
    if store_url.startswith("sqlite"):
        holder = sqlite3.connect(sa.make_url(store_url).database, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield store_url, holder.rollback
        finally:
            holder.close()
        return
    url = sa.make_url(store_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    try:
        yield url.set(port=proxy.port).render_as_string(hide_password=False), proxy.start
    finally:
        proxy.stop()


def test_while_the_store_is_down_messages_stay_unacked_and_are_stored_once_it_is_back(
    broker: Broker, consume: Any, store: storage.Store, store_url: str, tmp_path: Path,
    caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="inventory_push_kit.receiver.amqp")
    gen = ErpGenerator(21)
    customers = [gen.customer() for _ in range(30)]
    with outage(store_url, tmp_path) as (url, restore):
        consumer = consume(url=url, storage={"busy_timeout_ms": 50}, erp={"prefetch": 10, "batch_size": 5})
        with broker.publisher() as publisher:
            publisher.publish_many(customers, broker.customers)
        wait_for(lambda: consumer.stats.storage_retries >= 4, "the consumer to retry a few times")
        assert consumer.stats.acked == 0
        assert broker.ready(broker.customers) == 20  # prefetch: 10 held by the consumer, unacknowledged
        restore()
        wait_for(lambda: consumer.stats.acked == 30, "every message to be stored once the store is back")
    consumer.stop()

    assert broker.ready(broker.customers) == 0
    rows = logged(store)
    assert [row["counts"]["id"] for row in rows] == [c["id"] for c in customers]  # each once, in order
    assert {row["outcome"] for row in rows} == {"accepted"}
    assert not any(row["counts"]["redelivered"] for row in rows)  # held and retried, never requeued
    delays = [float(m) for m in re.findall(r"retrying in ([\d.]+) s", caplog.text)]
    assert delays[:4] == [0.05, 0.1, 0.2, 0.4] and set(delays[4:]) <= {0.4}  # capped exponential back-off


def test_heartbeats_go_on_during_a_long_transaction(broker: Broker, consume: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'receiver.db'}"
    schema = storage.Store(url)
    schema.create_schema()
    schema.dispose()
    # The store answers only after 4 s (another writer holds the lock): with a 1 s heartbeat the
    # broker closes a connection that misses two of them, unless heartbeats go on meanwhile.
    holder = sqlite3.connect(tmp_path / "receiver.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        consumer = consume(url=url, storage={"busy_timeout_ms": 10_000}, erp={"heartbeat_seconds": 1})
        with broker.publisher() as publisher:
            publisher.publish_customer(ErpGenerator(2).customer())
        time.sleep(4)
    finally:
        holder.rollback()
        holder.close()
    wait_for(lambda: consumer.stats.acked == 1, "the message to be stored")
    consumer.stop()
    assert (consumer.stats.connections, consumer.stats.storage_retries) == (1, 0)


# --- the broker goes away -------------------------------------------------------------------------------------


def test_reconnects_after_the_connection_drops(broker: Broker, consume: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="inventory_push_kit.receiver.amqp")
    target = pika.URLParameters(broker.url)
    proxy = TcpProxy((target.host, target.port))
    proxy.start()
    try:
        via_proxy = broker.url.replace(f"{target.host}:{target.port}", f"127.0.0.1:{proxy.port}")
        consumer = consume(erp={"amqp_url": via_proxy})
        gen = ErpGenerator(9)
        batches = [[gen.customer() for _ in range(20)] for _ in range(2)]
        with broker.publisher() as publisher:
            publisher.publish_many(batches[0], broker.customers)
            wait_for(lambda: consumer.stats.acked == 20, "the first 20")
            proxy.drop_connections()
            wait_for(lambda: consumer.stats.connections == 2 and consumer.consumer.consuming.is_set(),
                     "the consumer to reconnect")
            publisher.publish_many(batches[1], broker.customers)
        wait_for(lambda: consumer.stats.acked == 40, "the next 20")
        consumer.stop()
    finally:
        proxy.stop()
    assert re.search(r"connection to amqp://guest:\*\*\*@127\.0\.0\.1:\d+/%2F closed \(.+\); 0 unacknowledged "
                     r"message\(s\) go back to the queue; reconnecting in 0\.05 s", caplog.text), caplog.text
    # An acknowledgement still in flight when the connection drops is lost with it: the broker delivers that
    # message again and, stored already, it is recorded as a duplicate. Each message is applied once.
    outcomes = [row["outcome"] for row in logged(consumer.consumer.store)]
    assert outcomes.count("accepted") == 40 and set(outcomes) <= {"accepted", "duplicate"}, outcomes


def test_an_unreachable_broker_is_retried_with_back_off_until_stopped(broker: Broker, consume: Any,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="inventory_push_kit.receiver.amqp")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nowhere = f"amqp://guest:secret@127.0.0.1:{probe.getsockname()[1]}/%2F"
    consumer = consume(erp={"amqp_url": nowhere}, wait=False)
    wait_for(lambda: caplog.text.count("cannot connect") >= 4, "four attempts")
    consumer.stop()
    delays = [float(m) for m in re.findall(r"cannot connect to amqp://guest:\*\*\*@.+; retrying in ([\d.]+) s",
                                           caplog.text)]
    assert delays[:4] == [0.05, 0.1, 0.2, 0.4]
    assert "secret" not in caplog.text


# --- topology ---------------------------------------------------------------------------------------------


def test_declares_durable_queues_that_dead_letter_to_their_own_queue(broker: Broker, consume: Any) -> None:
    consume().stop()
    exchange = broker.config["dead_letter_exchange"]

    def arguments(queue: str) -> dict[str, str]:
        return {"x-dead-letter-exchange": exchange, "x-dead-letter-routing-key": f"{queue}.dead-letter"}

    for queue in (broker.customers, broker.subscriptions):
        broker.channel.queue_declare(queue, durable=True, arguments=arguments(queue))  # equivalent: accepted
        broker.channel.queue_declare(f"{queue}.dead-letter", durable=True)
        broker.channel.basic_publish(exchange, f"{queue}.dead-letter", b"routed")
        wait_for(lambda q=queue: broker.ready(f"{q}.dead-letter") == 1, "the message routed to the dead-letter queue")
    with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="inequivalent arg 'durable'"):
        broker.channel.queue_declare(broker.customers, durable=False, arguments=arguments(broker.customers))


def test_a_queue_that_exists_with_other_arguments_stops_the_consumer_untouched(broker: Broker, consume: Any) -> None:
    broker.channel.queue_declare(broker.customers, durable=True)  # no dead-letter arguments
    broker.channel.basic_publish("", broker.customers, b'{"id": "1"}')
    consumer = consume(wait=False)
    consumer.thread.join(timeout=10)
    assert isinstance(consumer.error, amqp.TopologyError)
    message = str(consumer.error)
    assert f"queue {broker.customers!r}" in message and "x-dead-letter-exchange" in message
    assert "declare_topology = false" in message and "never deletes" in message
    assert broker.ready(broker.customers) == 1  # still there, message and all


def test_without_declare_topology_missing_queues_stop_the_consumer(broker: Broker, consume: Any) -> None:
    consumer = consume(erp={"declare_topology": False}, wait=False)
    consumer.thread.join(timeout=10)
    assert isinstance(consumer.error, amqp.TopologyError)
    assert f"queue {broker.customers!r} does not exist and [erp] declare_topology = false" in str(consumer.error)
    with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="NOT_FOUND"):
        broker.ready(broker.customers)  # nothing was declared


def test_without_declare_topology_existing_queues_are_consumed_as_they_are(broker: Broker, consume: Any,
                                                                          store: storage.Store) -> None:
    for queue in (broker.customers, broker.subscriptions):
        broker.channel.queue_declare(queue, durable=True)
    consumer = consume(erp={"declare_topology": False})
    with broker.publisher() as publisher:
        publisher.publish_customer(b"[]")
        publisher.publish_customer({"id": "7"})
    wait_for(lambda: consumer.stats.acked + consumer.stats.dead_lettered == 2, "both settled")
    consumer.stop()
    assert broker.ready(broker.customers) == 0  # the poison had nowhere to go, but its body is logged
    assert [(row["outcome"], row["raw_body"]) for row in logged(store)] == [("rejected", b"[]"), ("accepted", None)]


# --- the command ---------------------------------------------------------------------------------------------


def test_consume_needs_an_amqp_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RECEIVER_STORAGE_URL", f"sqlite:///{tmp_path / 'r.db'}")
    monkeypatch.setenv("RECEIVER_STOCK_ENABLED", "false")
    monkeypatch.delenv("RECEIVER_ERP_AMQP_URL", raising=False)
    assert cli.main(["consume"]) == 3
    assert "[erp] amqp_url is empty" in capsys.readouterr().err


def test_check_config_masks_the_broker_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RECEIVER_STORAGE_URL", f"sqlite:///{tmp_path / 'r.db'}")
    monkeypatch.setenv("RECEIVER_STOCK_ENABLED", "false")
    monkeypatch.setenv("RECEIVER_ERP_AMQP_URL", "amqps://erp:s3cr3t@broker.example:5671/erp")
    monkeypatch.setenv("RECEIVER_SERVER_INSECURE_HTTP", "true")
    assert cli.main(["check-config", "--offline", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)["config"]
    assert printed["erp"]["amqp_url"] == "amqps://erp:***@broker.example:5671/erp"

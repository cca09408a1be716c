"""Poison for the ERP consumer, fuzzed: the real consumer on the real broker, on SQLite and on PostgreSQL,
gets bodies of every class a careless or hostile publisher sends — not JSON, not UTF-8, lone surrogates,
NUL, JSON of every wrong shape, ids of every wrong type and length, deep nesting, huge numbers, empty
bodies, odd content types and headers, and the simulator's valid messages mutated. Whatever is sent:

- a message that can never be stored lands in its ``<queue>.dead-letter`` queue, and its delivery-log
  line holds its raw body and the reason (a validation reason, the same on both backends);
- nothing of it is stored;
- the valid message published right after it on the same queue is stored: poison never blocks a queue;
- a message whose id is usable is stored however odd its other properties (decision erp-3).

One consumer per backend serves every example (starting one per example would cost more than the
example). Each class is pinned with ``@example`` and a comment. In CI (``HYPOTHESIS_PROFILE=ci``) each
backend gets at least 300 poison messages.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pika
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pika.adapters.blocking_connection import BlockingChannel

from inventory_push_kit.receiver import amqp, storage
from inventory_push_kit.receiver.channels import erp
from inventory_push_kit.simulator.erp import (
    CUSTOMER_QUEUE,
    QUEUES,
    SUBSCRIPTION_QUEUE,
    ErpGenerator,
    encode,
    malformed_messages,
)
from tests.conftest import POSTGRES_URL, RABBITMQ_URL, postgres_schema, receiver_config, require_service

CI = os.environ.get("HYPOTHESIS_PROFILE") == "ci"
EXAMPLES = 60 if CI else 8  # × 7 to 12 messages each, about three quarters of them poison
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# The reasons a consumer gives a message it can never store: the receiver's own validation, never
# "the store refused it" (that would mean SQLite and PostgreSQL treat the body differently).
REASONS = ("malformed body: ", "invalid payload: ")


# --- what is sent ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """One message: its documented queue, its bytes and AMQP properties, and whether it is poison."""

    queue: str  # CUSTOMER_QUEUE or SUBSCRIPTION_QUEUE
    body: bytes
    poison: bool
    content_type: str | None = "application/json"
    content_encoding: str | None = "utf-8"
    headers: dict[str, Any] | None = None

    def properties(self) -> pika.BasicProperties:
        return pika.BasicProperties(content_type=self.content_type, content_encoding=self.content_encoding,
                                    headers=self.headers, delivery_mode=pika.DeliveryMode.Persistent)


GENERATOR = ErpGenerator(seed=10, id_offset=900_000)
VALID = {CUSTOMER_QUEUE: [GENERATOR.customer() for _ in range(5)],
         SUBSCRIPTION_QUEUE: [GENERATOR.subscription(str(900_001 + i)) for i in range(5)]}
VALID_PROPERTIES = pika.BasicProperties(content_type="application/json", content_encoding="utf-8",
                                        delivery_mode=pika.DeliveryMode.Persistent)
CASES = malformed_messages(seed=12)  # the simulator's named cases, each with the outcome it expects


def poison(body: bytes, queue: str = CUSTOMER_QUEUE, **properties: Any) -> Sent:
    return Sent(queue, body, True, **properties)


def with_id(queue: str, object_id: Any, index: int = 0) -> bytes:
    return json.dumps({**VALID[queue][index], "id": object_id}).encode()


def nested(levels: int) -> str:
    return '{"v": ' * levels + "null" + "}" * levels


HOSTILE_TEXT = ["", "\x00", "a\x00b", "x" * 3000, "é" * 700, "\u2063", "NaN", "Active"]
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20), st.sampled_from(HOSTILE_TEXT))
FIELDS = ["id", "status", "name", "contactMedium", "characteristic", "properties", "engagedParty", "agreementType",
          "documentNumber", "completionDate", "valueType", "value"]
json_values = st.recursive(
    leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8),
                                                                        inner, max_size=5), max_leaves=20)
# An id that can never be a key: of another JSON type, empty, NUL, longer than a key holds.
bad_ids = st.one_of(
    st.none(), st.booleans(), st.lists(leaves, max_size=3), st.dictionaries(st.text(max_size=5), leaves, max_size=3),
    st.sampled_from(["", "   ", "\t\n", "\x00", "12\x0034", "x" * 256, "x" * 3000, "ş" * 3000]),
    st.text(min_size=1, max_size=10).map(lambda text: text + "\x00"),
    st.integers(min_value=10**255, max_value=10**300), st.integers(min_value=-(10**300), max_value=-(10**255)))


@st.composite
def mutated(draw: st.DrawFn, queue: str, *, keep_id: bool) -> dict[str, Any]:
    """A valid object with one to four of its properties replaced, dropped or added; its id kept, or
    replaced by one that can never be a key."""
    document = dict(draw(st.sampled_from(VALID[queue])))
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from([key for key in FIELDS if key != "id"]))
        if draw(st.booleans()) and name in document:
            del document[name]
        else:
            document[name] = draw(json_values)
    if keep_id:
        document["id"] = draw(st.sampled_from([document["id"], int(document["id"]), float(document["id"])]))
    else:
        document["id"] = draw(bad_ids)
        if draw(st.integers(0, 9)) == 0:
            del document["id"]
    return document


def encoded(document: Any, ascii_only: bool) -> bytes:
    return json.dumps(document, ensure_ascii=ascii_only).encode("utf-8")


RAW_POISON = [
    b"", b"   ", b"\n", b"{", b"}", b"{\"id\": ", b"\xef\xbb\xbf", b"\xff\xfe{}", b"\xc3\x28", b"\xed\xa0\x80",
    b"null", b"true", b"0", b"-1e999", b'"134719"', b"[]", b"[{\"id\": \"1\"}]", b"{\"id\": NaN}",
    b"{\"id\": Infinity}", b"{\"id\": \"\\ud800\"}", b"{\"id\": \"1\", \"name\": \"\\udfff\"}",
    b"{\"id\": 1e999}", b"{\"id\": " + b"9" * 5000 + b"}", b"{\"id\": \"1\"} trailing",
    ("{\"id\": \"1\", \"name\": " + "[" * 1000 + "]" * 1000 + "}").encode(),
]
CONTENT_TYPES = ["application/json", None, "text/plain", "application/xml", "application/json; charset=latin-1",
                 "*/*", ";;", "a" * 255, "application/json\x00", "ü/ü"]
CONTENT_ENCODINGS = ["utf-8", None, "gzip", "latin-1", "\x00"]
HEADERS = [None, {}, {"x-death": "not a list"}, {"x-first-death-reason": 42, "n": None},
           {"type": ["customer"], "id": {"v": 1}}, {"\x00": "\x00"}]


def sent(queue: str, body: bytes, poisoned: bool, properties: tuple[Any, Any, Any]) -> Sent:
    return Sent(queue, body, poisoned, *properties)


def message_strategies(queue: str) -> tuple[st.SearchStrategy[Sent], st.SearchStrategy[Sent]]:
    """(poison, kept) messages for one queue."""
    properties = st.tuples(st.sampled_from(CONTENT_TYPES), st.sampled_from(CONTENT_ENCODINGS),
                           st.sampled_from(HEADERS))
    valid_text = st.sampled_from(VALID[queue]).map(encode)
    poison_bodies = st.one_of(
        st.sampled_from(RAW_POISON),
        st.binary(max_size=64).filter(lambda b: not b.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")),
        st.builds(encoded, json_values.filter(lambda v: not isinstance(v, dict)), st.booleans()),
        st.builds(encoded, mutated(queue, keep_id=False), st.booleans()),
        st.builds(lambda text, cut: text[:cut], valid_text, st.integers(0, 10_000)).filter(
            lambda b: not b.endswith(b"}")),  # a valid message cut short
        st.builds(lambda doc: json.dumps({**doc, "name": "ŞÜKRÜ ÖZEKİNCİ"}, ensure_ascii=False).encode("iso-8859-9"),
                  st.sampled_from(VALID[queue])),  # not UTF-8
        st.sampled_from([case.body for case in CASES if case.queue == queue and case.outcome == "dead-letter"]),
    )
    kept_bodies = st.one_of(
        st.builds(encoded, mutated(queue, keep_id=True), st.booleans()),
        st.sampled_from([case.body for case in CASES if case.queue == queue and case.outcome == "stored"]),
    )
    return (st.builds(sent, st.just(queue), poison_bodies, st.just(True), properties),
            st.builds(sent, st.just(queue), kept_bodies, st.just(False), properties))


STRATEGIES = {queue: message_strategies(queue) for queue in QUEUES}


@st.composite
def batches(draw: st.DrawFn) -> list[Sent]:
    """Seven to twelve messages over both queues, poison and kept mixed in any order."""
    messages = []
    for _ in range(draw(st.integers(7, 12))):
        poison_of, kept_of = STRATEGIES[draw(st.sampled_from(QUEUES))]
        messages.append(draw(poison_of if draw(st.integers(0, 3)) else kept_of))
    return messages


# --- the consumer and its queues, one per backend --------------------------------------------------------


@dataclass
class Tally:
    poison: int = 0
    kept: int = 0
    after: int = 0


@dataclass
class Rig:
    """One backend's store, the consumer's queues on the real broker and the running consumer."""

    backend: str
    store: storage.Store
    queues: dict[str, str]  # documented queue → the test's own
    consumer: amqp.Consumer
    channel: BlockingChannel  # publishes with confirms, and looks into the dead-letter queues
    tally: Tally = field(default_factory=Tally)
    errors: list[BaseException] = field(default_factory=list)

    def settled(self) -> int:
        return self.consumer.stats.acked + self.consumer.stats.dead_lettered

    def ready(self, queue: str) -> int:
        return int(self.channel.queue_declare(queue, passive=True).method.message_count)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def rig(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    schemas = ExitStack()  # the PostgreSQL schema of this module's store, dropped at the end
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('erp-fuzz') / 'receiver.db'}"
    else:
        url = schemas.enter_context(postgres_schema(require_service("PostgreSQL", POSTGRES_URL, 5432),
                                                    "test_erp_fuzz"))
    broker_url = require_service("RabbitMQ", RABBITMQ_URL, 5672)
    prefix = f"test-erp-fuzz-{uuid.uuid4().hex[:10]}"
    section = {"amqp_url": broker_url, "customer_queue": f"{prefix}-customers",
               "subscription_queue": f"{prefix}-subscriptions", "dead_letter_exchange": f"{prefix}.dead-letter",
               "backoff_min_seconds": 0.05, "backoff_max_seconds": 0.4, "batch_wait_ms": 5}
    config = receiver_config(url, erp=section)
    store = storage.Store(config.storage_url)
    store.create_schema()
    consumer = amqp.Consumer(config.erp, store)
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    channel = connection.channel()
    channel.confirm_delivery()
    queues = {CUSTOMER_QUEUE: section["customer_queue"], SUBSCRIPTION_QUEUE: section["subscription_queue"]}
    rig = Rig(request.param, store, queues, consumer, channel)

    def run() -> None:
        try:
            consumer.run()
        except BaseException as exc:  # handed to the test
            rig.errors.append(exc)

    thread = threading.Thread(target=run, name="erp-consumer", daemon=True)
    thread.start()
    try:
        wait_for(lambda: consumer.consuming.is_set() or bool(rig.errors), "the consumer to start consuming")
        yield rig
    finally:
        consumer.stop("test done")
        thread.join(timeout=30)
        cleanup = connection.channel()
        for queue in queues.values():
            cleanup.queue_delete(queue)
            cleanup.queue_delete(queue + ".dead-letter")
        cleanup.exchange_delete(section["dead_letter_exchange"])
        connection.close()
        store.dispose()
        schemas.close()
        print(f"\nERP fuzzing on {rig.backend}: {rig.tally.poison} poison messages dead-lettered, "
              f"{rig.tally.kept} odd but valid ones stored, {rig.tally.after} valid ones right behind them stored")
    assert not thread.is_alive(), "the consumer did not stop"
    assert not rig.errors, rig.errors


# --- what must hold ---------------------------------------------------------------------------------------


def held_keys(store: storage.Store) -> set[tuple[str, str]]:
    with store.read() as conn:
        return {(kind.queue, row.id) for kind in erp.KINDS.values()
                for row in conn.execute(sa.select(kind.table.c.id))}


def log_after(store: storage.Store, watermark: int) -> list[Any]:
    with store.read() as conn:
        return list(conn.execute(sa.select(storage.deliveries).where(storage.deliveries.c.id > watermark)
                                 .order_by(storage.deliveries.c.id)))


def publish_and_check(rig: Rig, messages: list[Sent]) -> None:
    """Publish each message followed by a valid one on the same queue; once all are settled, check
    where each went."""
    assert not rig.errors, rig.errors
    for queue in rig.queues.values():
        rig.channel.queue_purge(queue + ".dead-letter")  # what an earlier failing example left
    with rig.store.read() as conn:
        watermark = conn.execute(sa.select(sa.func.coalesce(sa.func.max(storage.deliveries.c.id), 0))).scalar_one()
    keys_before, settled_before = held_keys(rig.store), rig.settled()
    behind = []
    for message in messages:
        after = {**VALID[message.queue][0], "id": f"after-{uuid.uuid4().hex}"}
        behind.append(after)
        for body, properties in ((message.body, message.properties()), (encode(after), VALID_PROPERTIES)):
            rig.channel.basic_publish("", rig.queues[message.queue], body, properties, mandatory=True)
    wait_for(lambda: rig.settled() == settled_before + 2 * len(messages) or bool(rig.errors),
             f"{2 * len(messages)} messages to be settled (stored or dead-lettered)")
    assert not rig.errors, f"the consumer stopped: {rig.errors!r}"

    rows = log_after(rig.store, watermark)
    assert len(rows) == 2 * len(messages)
    stored = set()
    for documented, queue in rig.queues.items():
        # Per queue, in the order published: the message, then the valid one behind it.
        on_queue = [(m, after) for m, after in zip(messages, behind, strict=True) if m.queue == documented]
        logged = [row for row in rows if row.counts["queue"] == queue]
        assert len(logged) == 2 * len(on_queue)
        for (message, after), row, after_row in zip(on_queue, logged[::2], logged[1::2], strict=True):
            # The content type is recorded as sent, less NUL (no text column holds it); it does not
            # decide anything: the body does.
            assert row.content_type == (message.content_type.replace("\x00", "") if message.content_type else None)
            if message.poison:
                assert row.outcome == "rejected", (row.outcome, row.reason, message.body[:200])
                assert row.raw_body == message.body
                assert row.reason.startswith(REASONS), (row.reason, message.body[:200])
            else:
                assert row.outcome in {"accepted", "duplicate"}, (row.outcome, row.reason, message.body[:200])
                stored.add((documented, row.counts["id"]))
            assert (after_row.outcome, after_row.counts["id"]) == ("accepted", after["id"]), after_row.reason
            stored.add((documented, after["id"]))
        dead_letters = queue + ".dead-letter"
        poisoned = [m.body for m, _ in on_queue if m.poison]
        expected = len(poisoned)
        wait_for(lambda q=dead_letters, n=expected: rig.ready(q) == n, f"{expected} message(s) in {dead_letters}")
        dead = []
        while (got := rig.channel.basic_get(dead_letters, auto_ack=True))[0] is not None:
            dead.append(got)
        assert [body for _, _, body in dead] == poisoned
        assert all(properties.headers["x-death"][0]["reason"] == "rejected" for _, properties, _ in dead)
        assert rig.ready(queue) == 0
    assert held_keys(rig.store) == keys_before | stored  # and nothing of the poison
    rig.tally.poison += sum(m.poison for m in messages)
    rig.tally.kept += sum(not m.poison for m in messages)
    rig.tally.after += len(behind)


S, C = SUBSCRIPTION_QUEUE, CUSTOMER_QUEUE


@FUZZ
@given(messages=batches())
# Not JSON: a body cut off half-way, a stray brace, text after the object.
@example(messages=[poison(b"{\"id\": \"1\", \"name\": \"a"), poison(b"}"), poison(b"{\"id\": \"1\"} trailing", S)])
# Not UTF-8: Latin-5 text in a message that says UTF-8; a lone continuation byte; an encoded surrogate.
@example(messages=[poison("{\"id\": \"1\", \"name\": \"ŞÜKRÜ\"}".encode("iso-8859-9")), poison(b"\xc3\x28", S),
                   poison(b"\xed\xa0\x80")])
# Lone UTF-16 surrogate escapes, in the id and in another property: not Unicode text.
@example(messages=[poison(b"{\"id\": \"\\ud800\"}"), poison(b"{\"id\": \"1\", \"name\": \"\\udfff\"}", S)])
# NUL in the id: no key column can hold it (PostgreSQL text cannot hold U+0000 at all).
@example(messages=[poison(with_id(C, "13\x004719")), poison(with_id(S, "\x00"), S)])
# JSON of every wrong shape: an array (the object wrapped), a string, a number, a boolean, null.
@example(messages=[poison(encode([VALID[C][0]])), poison(b"\"134719\"", S), poison(b"42"), poison(b"true", S),
                   poison(b"null")])
# An id of every wrong type, empty, or missing.
@example(messages=[poison(with_id(C, None)), poison(with_id(S, True), S), poison(with_id(C, [1])),
                   poison(with_id(S, {"id": "1"}), S), poison(with_id(C, "")), poison(with_id(C, "  ")),
                   poison(json.dumps({"name": "no id"}).encode(), S)])
# Nesting ~1000 levels deep, in the id and in another property (RecursionError in the error message).
@example(messages=[poison(f'{{"id": {nested(1000)}}}'.encode()), poison(f'{{"id": "1", "x": {nested(1000)}}}'
                                                                        .encode(), S)])
# An id of 3,000 characters: beyond a PostgreSQL index row (error 54000, taken for an outage), the
# queue was blocked; as a 3,000-digit number it was stored on SQLite and refused by PostgreSQL.
@example(messages=[poison(with_id(C, "x" * 3000)), poison(with_id(S, "ş" * 3000), S),
                   poison(b"{\"id\": " + b"9" * 3000 + b"}"), poison(with_id(C, "x" * 256))])
# Huge numbers: beyond a float, beyond Python's 4,300-digit integers, NaN and Infinity (not JSON).
@example(messages=[poison(b"{\"id\": 1e999}"), poison(b"{\"id\": \"1\", \"n\": " + b"9" * 5000 + b"}", S),
                   poison(b"{\"id\": NaN}"), poison(b"{\"id\": -Infinity}", S)])
# Empty bodies: nothing, blanks, a byte order mark alone.
@example(messages=[poison(b""), poison(b"  \n", S), poison(b"\xef\xbb\xbf")])
# Odd content types, encodings and headers (a NUL in the content type: PostgreSQL refused the log
# line of the poison, and the consumer stopped); a valid body with them is stored all the same.
@example(messages=[poison(b"not json", content_type="text/plain", content_encoding="gzip"),
                   poison(b"[]", S, content_type="application/json\x00", headers={"\x00": "\x00"}),
                   Sent(C, encode(VALID[C][1]), False, "application/json\x00", "\x00", {"x-death": "not a list"}),
                   Sent(S, encode(VALID[S][1]), False, None, None, None)])
# Every documented property of another type or with NUL, and a numeric id: odd, but stored (erp-3).
@example(messages=[Sent(C, json.dumps({"id": 900_001, "status": ["Active"], "name": "a\x00b", "contactMedium": 1})
                        .encode(), False),
                   Sent(S, json.dumps({**VALID[S][2], "id": 900_002.0, "characteristic": {"name": "x" * 3000},
                                       "engagedParty": [{"id": "x" * 3000}, {"id": 10**300}, "1"],
                                       "documentNumber": 1e300, "completionDate": []}).encode(), False)])
def test_poison_is_dead_lettered_with_its_reason_and_never_blocks_the_queue(rig: Rig, messages: list[Sent]) -> None:
    publish_and_check(rig, messages)


def test_poison_whose_log_line_the_store_refuses_is_dead_lettered_all_the_same(rig: Rig) -> None:
    """The last resort: when even the rejected message's log line cannot be stored (here a rule of the
    customer's own database refuses it), the message still goes to its dead-letter queue and the
    consumer goes on with the queue."""
    if rig.backend != "postgresql":
        pytest.skip("a database rule (trigger) is how a store refuses a log line it could otherwise hold")
    marker = f"refused-{uuid.uuid4().hex}".encode()
    with rig.store.write() as conn:
        conn.exec_driver_sql(
            "CREATE FUNCTION refuse_log_line() RETURNS trigger AS $$ BEGIN "
            f"IF position('{marker.decode()}'::bytea in NEW.raw_body) > 0 THEN "
            "RAISE EXCEPTION 'log line refused by a database rule'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql")
        conn.exec_driver_sql("CREATE TRIGGER refuse_log_line BEFORE INSERT ON deliveries "
                             "FOR EACH ROW EXECUTE FUNCTION refuse_log_line()")
    try:
        publish_poison = Sent(CUSTOMER_QUEUE, b"not json " + marker, True)
        settled_before = rig.settled()
        after = {**VALID[CUSTOMER_QUEUE][0], "id": f"after-{uuid.uuid4().hex}"}
        queue = rig.queues[CUSTOMER_QUEUE]
        rig.channel.queue_purge(queue + ".dead-letter")
        rig.channel.basic_publish("", queue, publish_poison.body, publish_poison.properties(), mandatory=True)
        rig.channel.basic_publish("", queue, encode(after), VALID_PROPERTIES, mandatory=True)
        wait_for(lambda: rig.settled() == settled_before + 2 or bool(rig.errors), "both messages settled")
        assert not rig.errors, f"the consumer stopped: {rig.errors!r}"
        wait_for(lambda: rig.ready(queue + ".dead-letter") == 1, "the poison in the dead-letter queue")
        assert rig.channel.basic_get(queue + ".dead-letter", auto_ack=True)[2] == publish_poison.body
        assert (CUSTOMER_QUEUE, after["id"]) in held_keys(rig.store)
    finally:
        with rig.store.write() as conn:
            conn.exec_driver_sql("DROP TRIGGER refuse_log_line ON deliveries")
            conn.exec_driver_sql("DROP FUNCTION refuse_log_line()")

"""Contract of the ERP push notifications over AMQP (erp-amqp-push.md, NOTES.md §4), from the outside:
publish like the ERP (through the simulator), then watch the queues and, with a probe, the store."""

from __future__ import annotations

import json
import random
import time

import pytest

from contract_tests.report import must, probe_mark, should, spec
from contract_tests.targets import DRAIN_SECONDS, ErpTarget, Probe
from simulator.erp import (
    CUSTOMER_QUEUE,
    MALFORMATIONS,
    SUBSCRIPTION_QUEUE,
    ErpGenerator,
    ErpMessage,
    case_messages,
    duplicates,
    expected_state,
    message,
    outcome,
)

ACK = ('erp-amqp-push.md: "Delivery: at-least-once (consumer should ack after successful processing)" / '
       '"only ack after persisting/processing."')
IDEMPOTENT = ('erp-amqp-push.md: "if your app crashes before ack, the message will be re-delivered. Make handlers '
              'idempotent." — NOTES.md §4: full-state upsert keyed on (queue, id)')
POISON = ("NOTES.md §4 Decision: A message that can never be processed (not JSON, no `id`) is dead-lettered, not "
          "re-queued forever.")
FORWARD = ('erp-amqp-push.md: "Treat unknown properties as forward-compatible." / "parse this bag defensively."')


def conforming(count: int = 4) -> tuple[ErpGenerator, list[ErpMessage]]:
    """Customers and their subscriptions with ids no earlier run used, each followed by a later state."""
    generator = ErpGenerator(random.SystemRandom().randrange(2**32),
                             id_offset=random.SystemRandom().randrange(10**6, 10**9))
    messages: list[ErpMessage] = []
    for _ in range(count):
        customer = generator.customer()
        subscription = generator.subscription(customer["id"])
        messages += [message(subscription, SUBSCRIPTION_QUEUE), message(customer, CUSTOMER_QUEUE),
                     message(generator.update(customer), CUSTOMER_QUEUE),
                     message(generator.update(subscription), SUBSCRIPTION_QUEUE)]
    return generator, messages


def assert_stored(probe: Probe, messages: list[ErpMessage], requirement: str) -> None:
    """The probe shows the last published state of every id (polled: a drained queue means delivered
    to the consumer, whose commit may still be under way)."""
    paths = {CUSTOMER_QUEUE: "erp/customers", SUBSCRIPTION_QUEUE: "erp/subscriptions"}
    for (queue, object_id), obj in expected_state(messages).items():
        deadline = time.monotonic() + DRAIN_SECONDS
        status, held = probe.get(f"{paths[queue]}/{object_id}")
        while (status != 200 or held.get("document") != obj) and time.monotonic() < deadline:
            time.sleep(0.2)
            status, held = probe.get(f"{paths[queue]}/{object_id}")
        assert status == 200, f"{queue} {object_id} not stored (probe: {status})\n  requirement: {requirement}"
        assert held["document"] == obj, (
            f"{queue} {object_id}: stored state is not the last one published\n"
            f"  stored:    {json.dumps(held['document'], ensure_ascii=False)[:300]}\n"
            f"  published: {json.dumps(obj, ensure_ascii=False)[:300]}\n  requirement: {requirement}")


@must
@spec(ACK)
def test_conforming_messages_are_consumed_and_acknowledged(erp: ErpTarget) -> None:
    _, messages = conforming()
    erp.publish(messages)
    erp.wait_drained(ACK)


@must
@spec(IDEMPOTENT)
def test_duplicates_are_harmless(erp: ErpTarget) -> None:
    _, messages = conforming(2)
    erp.publish(duplicates(messages))
    erp.wait_drained(IDEMPOTENT)


@should
@spec(POISON)
@pytest.mark.parametrize("name", [c.name for c in MALFORMATIONS if outcome(c) == "dead-letter"])
def test_a_poison_message_is_dead_lettered_not_redelivered_forever(erp: ErpTarget, name: str) -> None:
    generator = ErpGenerator(random.SystemRandom().randrange(2**32), id_offset=random.randrange(10**6, 10**9))
    sent = case_messages(MALFORMATIONS[name], generator)[0]  # on the first queue the case applies to
    erp.publish([sent])
    erp.wait_drained(POISON)  # not left in the queue, not bouncing back into it
    found = erp.dead_lettered(sent.queue, sent.body)
    if found is None:
        pytest.skip(f"no dead-letter queue {erp.queues[sent.queue] + erp.dead_letter_suffix!r}: checked only "
                    f"that the message is not redelivered forever (give --erp-dead-letter-suffix)")
    assert found, f"{name}: not found in the dead-letter queue\n  requirement: {POISON}"


@must
@spec(IDEMPOTENT)
@probe_mark
def test_the_store_holds_the_last_published_state_per_id(erp: ErpTarget, probe: Probe) -> None:
    _, messages = conforming(4)
    all_sent = duplicates(messages)
    erp.publish(all_sent)
    erp.wait_drained(IDEMPOTENT)
    assert_stored(probe, all_sent, IDEMPOTENT)


@should
@spec(FORWARD)
@probe_mark
@pytest.mark.parametrize("name", [c.name for c in MALFORMATIONS if outcome(c) == "stored"])
def test_an_odd_but_processable_message_is_stored(erp: ErpTarget, probe: Probe, name: str) -> None:
    generator = ErpGenerator(random.SystemRandom().randrange(2**32), id_offset=random.randrange(10**6, 10**9))
    sent = case_messages(MALFORMATIONS[name], generator)[:1]  # on the first queue the case applies to
    erp.publish(sent)
    erp.wait_drained(FORWARD)
    assert_stored(probe, sent, FORWARD)


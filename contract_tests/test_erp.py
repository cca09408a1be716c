"""Contract of the ERP push notifications over AMQP (erp-amqp-push.md, decisions erp-1 … erp-3), from the outside:
publish like the ERP (through the simulator), then watch the queues and, with a probe, the store."""

from __future__ import annotations

import json
import random
import time

import pytest

from contract_tests.report import check, fail
from contract_tests.rules import rule
from contract_tests.targets import ErpTarget, Probe
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


def assert_stored(erp: ErpTarget, probe: Probe, messages: list[ErpMessage], what: str) -> None:
    """The probe shows the last published state of every id (polled: a drained queue means delivered
    to the consumer, whose commit may still be under way)."""
    paths = {CUSTOMER_QUEUE: "erp/customers", SUBSCRIPTION_QUEUE: "erp/subscriptions"}
    for (queue, object_id), obj in expected_state(messages).items():
        deadline = time.monotonic() + erp.wait
        status, held = probe.get(f"{paths[queue]}/{object_id}")
        while (status != 200 or held.get("document") != obj) and time.monotonic() < deadline:
            time.sleep(0.2)
            status, held = probe.get(f"{paths[queue]}/{object_id}")
        check(status == 200, what, expected=f"{queue} {object_id} stored", found=f"the probe answered {status}")
        check(held["document"] == obj, what, expected=f"{queue} {object_id}: the last state published, "
              f"{json.dumps(obj, ensure_ascii=False)[:300]}",
              found=f"stored: {json.dumps(held['document'], ensure_ascii=False)[:300]}")


@rule("erp.ack-after-processing")
def test_conforming_messages_are_consumed_and_acknowledged(erp: ErpTarget) -> None:
    _, messages = conforming()
    erp.publish(messages)
    erp.wait_drained("customers and subscriptions, each followed by a later state")


@rule("erp.idempotent")
def test_duplicates_are_harmless(erp: ErpTarget) -> None:
    _, messages = conforming(2)
    erp.publish(duplicates(messages))
    erp.wait_drained("every message published twice")


@rule("erp.poison-dead-lettered")
@pytest.mark.parametrize("name", [c.name for c in MALFORMATIONS if outcome(c) == "dead-letter"])
def test_a_poison_message_is_dead_lettered_not_redelivered_forever(erp: ErpTarget, name: str) -> None:
    generator = ErpGenerator(random.SystemRandom().randrange(2**32), id_offset=random.randrange(10**6, 10**9))
    sent = case_messages(MALFORMATIONS[name], generator)[0]  # on the first queue the case applies to
    erp.publish([sent])
    erp.wait_drained(f"{name}: a message that can never be processed")  # not left there, not bouncing back
    found = erp.dead_lettered(sent.queue, sent.body)
    if found is None:
        why = (f"there is no dead-letter queue {erp.dead_letter_queue(sent.queue)!r} to find the message in: give "
               "--erp-dead-letter-suffix, or --allow-skip dead-letter to accept not checking it")
        if erp.dead_letter_may_skip:
            pytest.skip(why)
        fail(f"{name}: a message that can never be processed", expected="it dead-lettered", found=why)
    check(found, f"{name}: a message that can never be processed",
          expected=f"it in {erp.dead_letter_queue(sent.queue)!r} within {erp.wait:g} s",
          found="it is not there: acknowledged and dropped, or still bouncing")


@rule("erp.idempotent")
@pytest.mark.probe
def test_the_store_holds_the_last_published_state_per_id(erp: ErpTarget, probe: Probe) -> None:
    _, messages = conforming(4)
    all_sent = duplicates(messages)
    erp.publish(all_sent)
    erp.wait_drained("every message published twice")
    assert_stored(erp, probe, all_sent, "every message published twice")


@rule("erp.forward-compatible")
@pytest.mark.probe
@pytest.mark.parametrize("name", [c.name for c in MALFORMATIONS if outcome(c) == "stored"])
def test_an_odd_but_processable_message_is_stored(erp: ErpTarget, probe: Probe, name: str) -> None:
    generator = ErpGenerator(random.SystemRandom().randrange(2**32), id_offset=random.randrange(10**6, 10**9))
    sent = case_messages(MALFORMATIONS[name], generator)[:1]  # on the first queue the case applies to
    erp.publish(sent)
    erp.wait_drained(f"{name}: an odd but processable message")
    assert_stored(erp, probe, sent, f"{name}: an odd but processable message")


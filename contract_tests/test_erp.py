"""Contract of the ERP push notifications over AMQP (erp-amqp-push.md, decisions erp-1 … erp-3), from the outside:
publish like the ERP (through the simulator), then look at the queues, their dead-letter queues and, with a
probe, the store.

How long a check waits: after its own messages it publishes a conforming marker on each queue it used (and,
when it looks into a dead-letter queue, a poison one before it). Once the probe shows the markers stored, the
consumer has taken everything published before them, so the check looks at once — and gives the consumer a
little more (``ErpTarget.grace``, or thrice the time it took to store the markers) — instead of waiting out
``--erp-wait``. Without a probe it waits for the queues to drain, and for a dead-letter queue at most
``--erp-wait``, or until the poison marker arrives there."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from inventory_push_kit import fixtures
from inventory_push_kit.contract_tests.plugin import option
from inventory_push_kit.contract_tests.report import check, fail
from inventory_push_kit.contract_tests.rules import rule
from inventory_push_kit.contract_tests.targets import PROBE_PATHS, ErpTarget, Probe, Sent, Settled
from inventory_push_kit.simulator.erp import (
    CHANNEL,
    CUSTOMER_QUEUE,
    MALFORMATIONS,
    QUEUES,
    SUBSCRIPTION_QUEUE,
    ErpGenerator,
    ErpMessage,
    case_messages,
    duplicates,
    expected_state,
    message,
    out_of_order,
    outcome,
)
from inventory_push_kit.simulator.erp.cases import UNPARSABLE
from inventory_push_kit.simulator.erp.payload import BAGS, engaged_party, read_value, triplets

POISON = [c.name for c in MALFORMATIONS if outcome(c) == "dead-letter"]
# The named cases a correct consumer stores, by the rule whose check publishes them (every stored case is
# here: tests/test_simulator_erp.py makes sure of it).
STORED_CASES: dict[str, list[str]] = {
    "erp.forward-compatible": ["unknown-properties"],
    "erp.processable-stored": ["numeric-id", "document-number-number", "only-id", "null-properties"],
    "erp.bag-defensive": ["characteristic-not-a-list", "bag-odd-triplets"],
    "erp.properties-alias": ["properties-instead-of-characteristic", "properties-beside-characteristic"],
    "erp.value-type-case": ["subscription-valuetype-mixed-case", "properties-instead-of-characteristic"],
    "erp.raw-value-kept": ["value-does-not-parse"],
    "erp.engaged-party": ["engaged-party-several"],
    "erp.deactivated-kept": ["customer-passive", "subscription-passive"],
    "erp.utf8-text": ["turkish-text"],
}
KINDS = {CUSTOMER_QUEUE: "customer", SUBSCRIPTION_QUEUE: "subscription"}


@pytest.fixture
def probe_if_any(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> Probe | None:
    """The state probe when one is given (a check that holds without one also reads the store when it can)."""
    if not option(pytestconfig, "--state-probe"):
        return None
    found: Probe = request.getfixturevalue("probe")
    return found


def shown(value: Any) -> str:
    return clip(json.dumps(value, ensure_ascii=False))


def clip(text: str) -> str:
    return text if len(text) <= 300 else text[:300] + "…"


def excerpt(sent: ErpMessage) -> str:
    try:
        return shown(json.loads(sent.body))
    except ValueError:
        return repr(sent.body[:200])


def diff(expected: Any, found: Any, path: str = "") -> list[str]:
    """Where ``found`` differs from ``expected``, path by path (JSON Pointer-like)."""
    if isinstance(expected, dict) and isinstance(found, dict):
        lines = []
        for key, value in expected.items():
            lines += diff(value, found[key], f"{path}/{key}") if key in found else [f"{path}/{key} is missing"]
        return lines + [f"{path}/{key} was never published ({shown(value)})" for key, value in found.items()
                        if key not in expected]
    if isinstance(expected, list) and isinstance(found, list) and len(expected) == len(found):
        return [line for i, (one, other) in enumerate(zip(expected, found, strict=True))
                for line in diff(one, other, f"{path}/{i}")]
    return [] if expected == found else [f"{path or 'the document'} is {shown(found)} instead of {shown(expected)}"]


def listed(lines: list[str], limit: int = 4) -> str:
    return "; ".join(lines[:limit]) + (f"; and {len(lines) - limit} more" if len(lines) > limit else "")


def conforming(generator: ErpGenerator, count: int = 3) -> list[ErpMessage]:
    """Customers and their subscriptions, each followed by a later state, interleaved across the queues."""
    messages: list[ErpMessage] = []
    for _ in range(count):
        customer = generator.customer()
        subscription = generator.subscription(customer["id"])
        messages += [message(subscription, SUBSCRIPTION_QUEUE), message(customer, CUSTOMER_QUEUE),
                     message(generator.update(customer), CUSTOMER_QUEUE),
                     message(generator.update(subscription), SUBSCRIPTION_QUEUE)]
    return out_of_order(messages, seed=generator.seed)


def document_examples() -> list[ErpMessage]:
    """The document's two example payloads, byte for byte."""
    return [ErpMessage(name, queue, fixtures.raw(CHANNEL, name)) for name, queue in
            (("document-customer-example", CUSTOMER_QUEUE), ("document-subscription-example", SUBSCRIPTION_QUEUE))]


def queues_of(messages: Iterable[ErpMessage]) -> list[str]:
    return list(dict.fromkeys(m.queue for m in messages))


# --- what the probe shows ---------------------------------------------------------------------------------


def bag_as_sent(held: dict[str, Any]) -> list[str] | None:
    """The probe's characteristics as ``[name, valueType, value]`` (JSON text, comparable): what the consumer keeps
    of each triplet as sent."""
    found = held.get("characteristics")
    if not isinstance(found, list):
        return None
    return [shown([t.get("name"), t.get("valueType"), t.get("value")] if isinstance(t, dict) else t) for t in found]


def differences(queue: str, obj: dict[str, Any], status: int, held: Any) -> list[tuple[str, str]]:
    """What differs between the object published last and what the probe shows: (expected, found) pairs."""
    if status != 200:
        return [(f"it stored: {shown(obj)}", f"the probe answered {status}: not stored")]
    if held.get("document") != obj:
        return [(f"the last state published, {shown(obj)}",
                 f"stored otherwise: {listed(diff(obj, held.get('document')))}")]
    if queue != SUBSCRIPTION_QUEUE:
        return []
    found = []
    sent = triplets(obj)
    if sent is not None:
        expected = [shown([t["name"], t["valueType"], t["value"]]) for t in sent]
        bag = bag_as_sent(held)
        both = all(obj.get(name) is not None for name in BAGS)  # the order across the two bags is not the point
        if bag is None:
            found.append((f"characteristics, as sent: {clip(', '.join(expected))}", "the probe shows none"))
        elif sorted(bag) != sorted(expected) if both else bag != expected:
            lines = [f"{t} is missing" for t in expected if t not in bag]
            lines += [f"{t} was not in the last state sent" for t in dict.fromkeys(bag) if t not in expected]
            lines += [f"{t} is there {bag.count(t)} times, sent {expected.count(t)}"
                      for t in dict.fromkeys(bag) if t in expected and bag.count(t) != expected.count(t)]
            found.append((f"characteristics, as sent: {clip(', '.join(expected))}",
                          "the probe shows them otherwise: " + listed(lines or ["in another order"])))
    parties = engaged_party(obj)
    links = held.get("engagedParty")
    if parties is not None and (not isinstance(links, list) or sorted(map(str, links)) != sorted(parties)):
        found.append((f"engagedParty {parties}", f"the probe shows {shown(links)}"))
    return found


def look(probe: Probe, queue: str, object_id: str, settled: Settled,
         done: Callable[[int, Any], bool]) -> tuple[int, Any]:
    """The probe's answer for one object, polled until ``done`` or ``settled.until``."""
    while True:
        status, held = probe.get(f"{PROBE_PATHS[queue]}/{object_id}")
        if done(status, held) or time.monotonic() >= settled.until:
            return status, held
        time.sleep(0.05)


def check_stored(erp: ErpTarget, probe: Probe, sent: list[Sent], settled: Settled, what: str, *,
                 case: str | None = None) -> dict[tuple[str, str], Any]:
    """The probe shows, for every (queue, id), the last state published: its document, and for a subscription
    its characteristics as sent and its engagedParty ids. Returns what the probe showed."""
    shows = {}
    for (queue, object_id), obj in expected_state(one.message for one in sent).items():
        def same(status: int, held: Any, queue: str = queue, obj: Any = obj) -> bool:
            return not differences(queue, obj, status, held)

        status, held = look(probe, queue, object_id, settled, same)
        for expected, found in differences(queue, obj, status, held)[:1]:
            if status == 404:
                found += f" — {where_is(erp, [one for one in sent if one.message.key() == (queue, object_id)])}"
            fail(f"{what}: {KINDS[queue]} {object_id} on {queue}", expected=expected, found=found, case=case)
        shows[(queue, object_id)] = held
    return shows


def where_is(erp: ErpTarget, sent: list[Sent]) -> str:
    """Whether the messages of an object that is not stored went to the dead-letter queue (one look)."""
    found = erp.dead_lettered(sent, Settled(True, time.monotonic(), {}))
    if any(ids for ids in found.values()):
        return f"the consumer dead-lettered it (it is in {erp.dead_letter_queue(sent[0].queue)!r})"
    return "it is not in the dead-letter queue either: dropped, or removed after it was stored"


def check_not_dead_lettered(erp: ErpTarget, sent: list[Sent], settled: Settled, what: str) -> None:
    """None of ``sent`` reached a dead-letter queue (looked into once the poison marker behind them arrived)."""
    for queue, found in erp.dead_lettered(sent, settled).items():
        wrongly = [one for one in sent if found and one.message_id in found]
        check(not wrongly, what, expected=f"none of them in {erp.dead_letter_queue(queue)!r}: each acknowledged",
              found=f"{len(wrongly)} of them dead-lettered, e.g. {wrongly[0].message.name}: "
                    f"{excerpt(wrongly[0].message)}" if wrongly else None)


# --- erp.ack-after-processing --------------------------------------------------------------------------------


@rule("erp.ack-after-processing")
def test_conforming_messages_are_consumed_stored_and_acknowledged(erp: ErpTarget, probe_if_any: Probe | None) -> None:
    messages = document_examples() + conforming(erp.generator())
    what = "the document's two examples, then customers and subscriptions each followed by a later state"
    sent = erp.publish(messages)
    settled = erp.settle(probe_if_any, QUEUES, what, dead_letters=True)
    erp.wait_drained(what)
    check_not_dead_lettered(erp, sent, settled, what)
    if probe_if_any is not None:
        check_stored(erp, probe_if_any, sent, settled, what)


@rule("erp.ack-after-processing")
def test_messages_beside_a_poison_one_are_acknowledged_not_dead_lettered(erp: ErpTarget,
                                                                         probe_if_any: Probe | None) -> None:
    generator = erp.generator()
    messages: list[ErpMessage] = []
    for queue in QUEUES:
        for poison in ("no-id", "not-json"):
            messages += [m for m in case_messages(MALFORMATIONS[poison], generator) if m.queue == queue]
            messages += [m for m in conforming(generator, 1) if m.queue == queue]
    what = "conforming messages published right after a poison one, on each queue"
    sent = erp.publish(messages)
    settled = erp.settle(probe_if_any, QUEUES, what, dead_letters=True)
    check_not_dead_lettered(erp, [one for one in sent if one.message.outcome == "stored"], settled, what)
    if probe_if_any is not None:
        check_stored(erp, probe_if_any, sent, settled, what)


# --- erp.idempotent ----------------------------------------------------------------------------------------------


def delivered_again(generator: ErpGenerator) -> list[ErpMessage]:
    """On each queue, states of objects delivered again as at-least-once does: each message twice in a row
    (A A B B), and a whole run of them twice (A B A B)."""
    messages: list[ErpMessage] = []
    for queue in QUEUES:
        one, other = first_state(generator, queue), first_state(generator, queue)
        run = [message(other, queue), message(generator.update(other), queue)]
        messages += duplicates([message(one, queue), message(generator.update(one), queue)]) + run + run
    return messages


@rule("erp.idempotent")
def test_a_message_delivered_again_is_acknowledged_not_dead_lettered(erp: ErpTarget,
                                                                     probe_if_any: Probe | None) -> None:
    messages = delivered_again(erp.generator())
    what = "states delivered again (A A B B, A B A B) on each queue"
    sent = erp.publish(messages)
    settled = erp.settle(probe_if_any, QUEUES, what, dead_letters=True)
    erp.wait_drained(what)
    check_not_dead_lettered(erp, sent, settled, what)


@rule("erp.idempotent")
@pytest.mark.probe
def test_a_message_delivered_again_changes_nothing(erp: ErpTarget, probe: Probe) -> None:
    messages = delivered_again(erp.generator())
    what = "states delivered again (A A B B, A B A B) on each queue"
    sent = erp.publish(messages)
    check_stored(erp, probe, sent, erp.settle(probe, QUEUES, what), what)
    last = {m.key(): m for m in messages}
    what = "the last state of each delivered once more, after it was stored"
    sent += erp.publish(list(last.values()))
    check_stored(erp, probe, sent, erp.settle(probe, QUEUES, what), what)


# --- erp.full-state, erp.queue-order, erp.keyed-by-queue, erp.deactivated-kept -----------------------------------


def first_state(generator: ErpGenerator, queue: str) -> dict[str, Any]:
    customer = generator.customer()
    return customer if queue == CUSTOMER_QUEUE else generator.subscription(customer["id"])


@rule("erp.full-state")
@pytest.mark.probe
@pytest.mark.parametrize("queue", QUEUES)
def test_a_later_state_replaces_the_earlier_one_whole(erp: ErpTarget, probe: Probe, queue: str) -> None:
    generator = erp.generator()
    first = first_state(generator, queue)
    later = generator.replacement(first)
    what = (f"a {KINDS[queue]}, then (once stored) a later state that changes, adds and drops fields, at the top "
            "and nested")
    sent = erp.publish([message(first, queue)])
    check_stored(erp, probe, sent, erp.settle(probe, [queue], what), what + " (the first state)")
    sent += erp.publish([message(later, queue)])
    check_stored(erp, probe, sent, erp.settle(probe, [queue], what), what)


@rule("erp.queue-order")
@pytest.mark.probe
@pytest.mark.parametrize("queue", QUEUES)
def test_states_of_one_id_published_together_end_with_the_last(erp: ErpTarget, probe: Probe, queue: str) -> None:
    generator = erp.generator()
    messages: list[ErpMessage] = []
    for obj in (first_state(generator, queue), first_state(generator, queue)):
        states = [obj]
        for _ in range(3):
            states.append(generator.update(states[-1]))
        messages += [message(state, queue) for state in states]
    messages = messages[0::4] + messages[1::4] + messages[2::4] + messages[3::4]  # the two objects interleaved
    what = f"four states of each of two {KINDS[queue]}s published together, in order"
    sent = erp.publish(messages)
    check_stored(erp, probe, sent, erp.settle(probe, [queue], what), what)


@rule("erp.keyed-by-queue")
@pytest.mark.probe
def test_a_customer_and_a_subscription_with_one_id_are_two_objects(erp: ErpTarget, probe: Probe) -> None:
    generator = erp.generator()
    customer = generator.customer()
    subscription = generator.subscription(customer["id"]) | {"id": customer["id"]}
    messages = [message(customer, CUSTOMER_QUEUE), message(subscription, SUBSCRIPTION_QUEUE)]
    what = f"a customer and a subscription with the same id {customer['id']}"
    sent = erp.publish(messages)
    check_stored(erp, probe, sent, erp.settle(probe, QUEUES, what), what)


@rule("erp.deactivated-kept")
@pytest.mark.probe
@pytest.mark.parametrize("queue", QUEUES)
def test_a_deactivated_object_is_held_not_removed(erp: ErpTarget, probe: Probe, queue: str) -> None:
    generator = erp.generator()
    active = first_state(generator, queue) | {"status": "Active"}
    name = f"{KINDS[queue]}-passive"
    messages = [message(active, queue), message(active | {"status": "Passive"}, queue)]
    messages += case_messages(MALFORMATIONS[name], generator)
    what = f"a {KINDS[queue]} turned Passive, and one that arrives Passive"
    sent = erp.publish(messages)
    check_stored(erp, probe, sent, erp.settle(probe, [queue], what, case=name), what, case=name)


# --- erp.cross-queue-order, erp.engaged-party ----------------------------------------------------------------------


@rule("erp.cross-queue-order")
@pytest.mark.probe
def test_a_subscription_before_its_customer_is_stored_and_linked(erp: ErpTarget, probe: Probe) -> None:
    generator = erp.generator()
    customer = generator.customer()
    subscription = message(generator.subscription(customer["id"]), SUBSCRIPTION_QUEUE)
    what = f"a subscription of customer {customer['id']}, stored before that customer is published"
    sent = erp.publish([subscription])
    check_stored(erp, probe, sent, erp.settle(probe, [SUBSCRIPTION_QUEUE], what), what)
    sent += erp.publish([message(customer, CUSTOMER_QUEUE)])
    what = f"customer {customer['id']}, published after its subscription"
    check_stored(erp, probe, sent, erp.settle(probe, QUEUES, what), what)


# --- the named cases a correct consumer stores ---------------------------------------------------------------------


Extra = Callable[[str, dict[str, Any], dict[str, Any]], None]  # (queue, object published, probe's answer)


def check_case_stored(erp: ErpTarget, probe: Probe, name: str, extra: Extra | None = None) -> None:
    """Publish a named case on every queue it applies to; the probe shows each message's object as the last
    state of its id (its document; a subscription's bag as sent and its links), and ``extra`` holds of it."""
    messages = case_messages(MALFORMATIONS[name], erp.generator())
    what = f"{name}: {MALFORMATIONS[name].description}"
    sent = erp.publish(messages)
    shows = check_stored(erp, probe, sent, erp.settle(probe, queues_of(messages), what, case=name), what, case=name)
    if extra is not None:
        for (queue, _), obj in expected_state(messages).items():
            extra(queue, obj, shows[(queue, str(obj["id"]))])


def typed_characteristics(name: str) -> Extra:
    """Each well-formed triplet's valueType read case-insensitively: the probe's ``type`` and ``parsed``."""
    def extra(queue: str, obj: dict[str, Any], held: dict[str, Any]) -> None:
        for sent, shows in zip(triplets(obj) or [], held.get("characteristics") or [], strict=False):
            kind, parsed = read_value(sent["valueType"], sent["value"])
            check(shows.get("type") == kind and shows.get("parsed") == parsed,
                  f"{name}: subscription {obj['id']}, characteristic {sent['name']}", case=name,
                  expected=f"valueType {sent['valueType']!r} read as {kind}: type {kind!r}, parsed {shown(parsed)}",
                  found=f"type {shows.get('type')!r}, parsed {shown(shows.get('parsed'))}")

    return extra


def raw_values_kept(name: str) -> Extra:
    """Each value that is not of its valueType: the probe's ``value`` as sent, ``parsed`` null."""
    def extra(queue: str, obj: dict[str, Any], held: dict[str, Any]) -> None:
        shows = {t.get("name"): t for t in held.get("characteristics") or [] if isinstance(t, dict)}
        for triplet_name, (value_type, value) in UNPARSABLE.items():
            found = shows.get(triplet_name, {})
            check(found.get("value") == value and found.get("parsed") is None,
                  f"{name}: subscription {obj['id']}, characteristic {triplet_name}", case=name,
                  expected=f"value {value!r} kept as sent, parsed null (it is not a {value_type})",
                  found=f"value {shown(found.get('value'))}, parsed {shown(found.get('parsed'))}")

    return extra


def stored_cases_check(rule_id: str, extra: Callable[[str], Extra] | None = None) -> Callable[..., None]:
    """The check of ``rule_id``: each of its named cases (``STORED_CASES``) is stored, and ``extra`` holds."""
    @rule(rule_id)
    @pytest.mark.probe
    @pytest.mark.parametrize("name", STORED_CASES[rule_id])
    def check_cases(erp: ErpTarget, probe: Probe, name: str) -> None:
        check_case_stored(erp, probe, name, extra(name) if extra else None)

    return check_cases


test_unknown_properties_are_kept = stored_cases_check("erp.forward-compatible")
test_an_odd_but_processable_message_is_stored_not_dead_lettered = stored_cases_check("erp.processable-stored")
test_an_odd_bag_is_parsed_defensively = stored_cases_check("erp.bag-defensive")
test_the_bag_under_properties_is_read = stored_cases_check("erp.properties-alias")
test_value_type_is_read_case_insensitively = stored_cases_check("erp.value-type-case", typed_characteristics)
test_a_value_that_does_not_parse_keeps_its_raw_string = stored_cases_check("erp.raw-value-kept", raw_values_kept)
test_every_engaged_party_links_the_subscription_to_its_customer = stored_cases_check("erp.engaged-party")
test_a_passive_object_is_stored = stored_cases_check("erp.deactivated-kept")
test_turkish_text_is_kept_exactly = stored_cases_check("erp.utf8-text")


# --- erp.poison-dead-lettered ----------------------------------------------------------------------------------------


def publish_poison(erp: ErpTarget, probe: Probe | None) -> tuple[list[Sent], dict[str, set[str] | None], Settled]:
    """Every poison case on every queue it applies to, published at once; what reached the dead-letter queues."""
    generator = erp.generator()
    sent = erp.publish([m for name in POISON for m in case_messages(MALFORMATIONS[name], generator)])
    settled = erp.settle(probe, QUEUES, "every message that can never be processed, on each queue", dead_letters=True)
    return sent, erp.dead_lettered(sent, settled), settled


@rule("erp.poison-dead-lettered")
@pytest.mark.parametrize("name", POISON)
def test_a_poison_message_is_dead_lettered_on_every_queue(erp: ErpTarget, probe_if_any: Probe | None,
                                                          name: str) -> None:
    sent, found, settled = erp.memo("poison", lambda: publish_poison(erp, probe_if_any))
    for one in (one for one in sent if one.message.name == name):
        what = f"{name} on {one.queue}: a message that can never be processed"
        in_queue = found[one.queue]
        dead_letter_queue = erp.dead_letter_queue(one.queue)
        if in_queue is None:
            why = (f"there is no dead-letter queue {dead_letter_queue!r} to find it in: give "
                   "--erp-dead-letter-suffix, or --allow-skip dead-letter to accept not checking it")
            if erp.dead_letter_may_skip:
                pytest.skip(why)
            fail(what, expected="it dead-lettered", found=why, case=name)
        if one.message_id not in in_queue:
            later = settled.barriers[one.queue] in in_queue
            fail(what, case=name, expected=f"it in {dead_letter_queue!r}",
                 found="it is not there, though a poison message published after it is: the consumer settled this "
                 "one otherwise — acknowledged and dropped it, or re-queued it" if later else
                 "neither it nor a poison message published after it came there "
                 + ("soon after the probe showed what was published after them stored" if settled.confirmed
                    else f"within {erp.wait:g} s (--erp-wait)")
                 + ": the consumer acknowledges and drops such messages or re-queues them, or the queue has no "
                 "dead-letter route (x-dead-letter-exchange) to it")

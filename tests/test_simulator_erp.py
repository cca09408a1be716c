"""The ERP simulator: seeded payloads shaped like the document's examples, malformations that are
really broken, and a publisher checked against a real RabbitMQ (confirms, persistence, returns)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pika
import pika.exceptions
import pytest

from inventory_push_kit import fixtures
from inventory_push_kit.simulator import cli
from inventory_push_kit.simulator.erp import (
    CUSTOMER_QUEUE,
    MALFORMATIONS,
    SUBSCRIPTION_QUEUE,
    BrokerInspector,
    BrokerUnreachableError,
    ErpGenerator,
    ErpMessage,
    ErpPublisher,
    NackedError,
    QueueMissingError,
    ScenarioOptions,
    UnroutableError,
    case_messages,
    conforming_messages,
    duplicates,
    encode,
    expected_state,
    malformed_messages,
    message,
    out_of_order,
    outcome,
    run_scenario,
    scenario_messages,
)

CUSTOMER_EXAMPLE = fixtures.load("erp", "document-customer-example")
SUBSCRIPTION_EXAMPLE = fixtures.load("erp", "document-subscription-example")
TURKISH = set("İıŞşĞğÜüÖöÇç")


def _value_types(subscription: dict[str, Any]) -> list[str]:
    return [t["valueType"] for t in subscription.get("characteristic") or subscription["properties"]]


# -- generators ------------------------------------------------------------------------------


def test_same_seed_same_objects_other_seed_other_objects() -> None:
    def run(seed: int) -> list[dict[str, Any]]:
        gen = ErpGenerator(seed)
        objs = []
        for _ in range(5):
            customer = gen.customer()
            subscription = gen.subscription(customer["id"])
            objs += [customer, subscription, gen.update(customer), gen.update(subscription)]
        return objs

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_customer_has_every_key_of_the_document_example() -> None:
    gen = ErpGenerator(1)
    customers = [gen.customer() for _ in range(30)]
    example_contact_keys = set(CUSTOMER_EXAMPLE["contactMedium"][0]["characteristic"])
    for customer in customers:
        assert set(CUSTOMER_EXAMPLE) <= set(customer)
        assert isinstance(customer["id"], str) and customer["id"].isdigit()
        assert customer["status"] in {"Active", "Passive"}
        for medium in customer["contactMedium"]:
            assert set(medium["characteristic"]) == example_contact_keys
    assert len({c["id"] for c in customers}) == len(customers)
    assert {c["status"] for c in customers} == {"Active", "Passive"}
    assert TURKISH & set(json.dumps(customers, ensure_ascii=False))


def test_social_network_id_is_never_a_valid_national_id() -> None:
    """The field is personal data: generated values fail the T.C. Kimlik No checksum on purpose."""
    gen = ErpGenerator(2)
    for _ in range(200):
        value = gen.customer()["contactMedium"][0]["characteristic"]["socialNetworkId"]
        digits = [int(d) for d in value]
        assert len(digits) == 11 and digits[0] != 0
        assert digits[9] != (sum(digits[0:9:2]) * 7 - sum(digits[1:8:2])) % 10


def test_subscription_is_shaped_like_the_document_example() -> None:
    gen = ErpGenerator(3)
    subscriptions = [gen.subscription("134719") for _ in range(30)]
    for sub in subscriptions:
        assert set(SUBSCRIPTION_EXAMPLE) <= set(sub)
        assert isinstance(sub["documentNumber"], str)
        assert sub["engagedParty"] == [{"id": "134719"}]
        assert set(sub["completionDate"]) == {"startDateTime", "endDateTime"}
        assert sub["completionDate"]["startDateTime"] < sub["completionDate"]["endDateTime"]
        for triplet in sub["characteristic"]:
            assert set(triplet) == {"name", "valueType", "value"}
            assert all(isinstance(v, str) for v in triplet.values())
        assert {t["name"] for t in SUBSCRIPTION_EXAMPLE["characteristic"]} <= {
            t["name"] for t in sub["characteristic"]
        }
    every_type = [vt for sub in subscriptions for vt in _value_types(sub)]
    assert {vt.lower() for vt in every_type} == {"string", "date", "float", "integer", "boolean"}
    assert {"DATE", "string"} & set(every_type), "valueType case never varies"


def test_update_is_a_later_state_of_the_same_object() -> None:
    gen = ErpGenerator(4)
    customer = gen.customer()
    subscription = gen.subscription(customer["id"])
    for obj in (customer, subscription):
        later = gen.update(obj)
        assert later["id"] == obj["id"]
        assert later != obj
        assert set(later) - {"segment"} == set(obj) - {"segment"}
    assert gen.update(customer) is not customer and customer == ErpGenerator(4).customer()


def test_updates_sometimes_drop_a_field_as_full_states_do() -> None:
    gen = ErpGenerator(6)
    customers = [gen.customer() for _ in range(30)]
    subscriptions = [gen.subscription(c["id"]) for c in customers]
    dropped = [obj for obj in customers + subscriptions if _paths(obj) - _paths(gen.update(obj))]
    assert dropped and {"segment" in obj or "characteristic" in obj for obj in dropped} == {True}


def _paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a document (list items by their name or position)."""
    if isinstance(value, dict):
        return {prefix} | {p for k, v in value.items() for p in _paths(v, f"{prefix}/{k}")}
    if isinstance(value, list):
        return {prefix} | {p for i, v in enumerate(value)
                           for p in _paths(v, f"{prefix}/{v.get('name', i) if isinstance(v, dict) else i}")}
    return {prefix}


def test_a_replacement_changes_adds_and_drops_at_the_top_and_nested() -> None:
    gen = ErpGenerator(7)
    customer = gen.customer()
    subscription = gen.subscription(customer["id"])
    for obj in (customer, subscription):
        later = gen.replacement(obj)
        assert later["id"] == obj["id"] and later["status"] != obj["status"]
        assert set(obj) - set(later) and set(later) - set(obj)  # a top-level field dropped, one added
        nested_dropped = {p for p in _paths(obj) - _paths(later) if p.count("/") > 1}
        nested_added = {p for p in _paths(later) - _paths(obj) if p.count("/") > 1}
        assert nested_dropped and nested_added, (nested_dropped, nested_added)
    later = gen.replacement(subscription)
    names = {t["name"]: t["value"] for t in later["characteristic"]}
    before = {t["name"]: t["value"] for t in subscription["characteristic"]}
    assert set(before) - set(names) and set(names) - set(before)
    assert any(names[n] != before[n] for n in set(names) & set(before))
    assert later["engagedParty"] != subscription["engagedParty"]


# -- malformations and fixtures --------------------------------------------------------------


def _json(body: bytes) -> Any:
    return json.loads(body.decode("utf-8"))


def _not_json(body: bytes) -> bool:
    try:
        _json(body)
    except ValueError:
        return True
    return False


def _not_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return json.loads(body.decode("iso-8859-9"))["name"] == "ŞÜKRÜ ÖZEKİNCİ"
    return False


# What makes each case what it says it is; applied to generated bodies and to the fixture files.
BROKEN: dict[str, Callable[[bytes], bool]] = {
    "empty-body": lambda body: body == b"",
    "not-json": lambda body: body.startswith(b"{") and _not_json(body),
    "not-utf8": _not_utf8,
    "json-array": lambda body: isinstance(_json(body), list) and "id" in _json(body)[0],
    "json-string": lambda body: isinstance(_json(body), str) and _json(body).isdigit(),
    "no-id": lambda body: "id" not in _json(body) and "name" in _json(body),
    "id-empty-string": lambda body: _json(body)["id"] == "",
    "id-not-a-string-or-number": lambda body: isinstance(_json(body)["id"], dict),
    "numeric-id": lambda body: type(_json(body)["id"]) is int,
    "unknown-properties": lambda body: {"addresses", "contacts", "@type"} <= set(_json(body)),
    "characteristic-not-a-list": lambda body: set(_json(body)["characteristic"])
    == {"name", "valueType", "value"},
    "properties-instead-of-characteristic": lambda body: "characteristic" not in _json(body)
    and all(set(t) == {"name", "valueType", "value"} for t in _json(body)["properties"]),
    "value-does-not-parse": lambda body: {"name": "MONTAGE_DATE", "valueType": "Date", "value": "not a date"}
    in _json(body)["characteristic"] and {"Date", "Float", "Integer", "Boolean"} <= set(_value_types(_json(body))),
    "properties-beside-characteristic": lambda body: _json(body)["characteristic"] and _json(body)["properties"]
    and not {t["name"] for t in _json(body)["characteristic"]} & {t["name"] for t in _json(body)["properties"]},
    "subscription-valuetype-mixed-case": lambda body: {"string", "DATE", "float", "INTEGER", "boolean"}
    <= set(_value_types(_json(body))),
    "bag-odd-triplets": lambda body: any("valueType" not in t for t in _json(body)["characteristic"])
    and any("name" not in t for t in _json(body)["characteristic"])
    and any(not isinstance(t.get("value"), str) for t in _json(body)["characteristic"]),
    "document-number-number": lambda body: type(_json(body)["documentNumber"]) is int,
    "only-id": lambda body: set(_json(body)) == {"id"},
    "null-properties": lambda body: len(_json(body)) > 2
    and all(v is None for k, v in _json(body).items() if k != "id"),
    "engaged-party-several": lambda body: len({p["id"] for p in _json(body)["engagedParty"]}) == 3,
    "customer-passive": lambda body: _json(body)["status"] == "Passive" and "contactMedium" in _json(body),
    "subscription-passive": lambda body: _json(body)["status"] == "Passive" and "engagedParty" in _json(body),
    "turkish-text": lambda body: set("ÇĞİÖŞÜçğıöşü€🌷") <= set(body.decode("utf-8")),
}


def test_every_malformation_has_a_check() -> None:
    assert sorted(BROKEN) == sorted(MALFORMATIONS.names())


@pytest.mark.parametrize("name", MALFORMATIONS.names())
def test_malformation_is_really_broken_on_each_of_its_queues(name: str) -> None:
    sent = case_messages(MALFORMATIONS[name], ErpGenerator(5))
    assert sent
    for published in sent:
        body = published.body
        assert BROKEN[name](body), f"{name} on {published.queue} is not what it claims: {body[:200]!r}"


@pytest.mark.parametrize("name", MALFORMATIONS.names())
def test_malformation_fixture_matches_its_case(name: str) -> None:
    assert BROKEN[name](fixtures.raw("erp", name))
    described = fixtures.cases("erp")[name]
    case = MALFORMATIONS[name]
    assert described["outcome"] == outcome(case)
    assert described["spec"] == case.expect.spec
    assert described["queue"] in {published.queue for published in case_messages(case, ErpGenerator())}
    assert case.expect.statuses == ()  # AMQP has no status: the outcome is the expectation


def test_the_contract_suite_checks_every_stored_case_under_a_rule() -> None:
    from inventory_push_kit.contract_tests.rules import RULES
    from inventory_push_kit.contract_tests.test_erp import STORED_CASES

    checked = {name for names in STORED_CASES.values() for name in names}
    assert checked == {c.name for c in MALFORMATIONS if outcome(c) == "stored"}
    assert set(STORED_CASES) <= set(RULES)


def test_decided_outcomes() -> None:
    dead = {"empty-body", "not-json", "not-utf8", "json-array", "json-string", "no-id", "id-empty-string",
            "id-not-a-string-or-number"}
    assert {c.name for c in MALFORMATIONS if outcome(c) == "dead-letter"} == dead
    assert {c.name for c in MALFORMATIONS if outcome(c) == "stored"} == set(MALFORMATIONS.names()) - dead


def test_cases_json_describes_exactly_the_fixture_files() -> None:
    described = fixtures.cases("erp")
    assert sorted(described) == fixtures.names("erp")
    for name, case in described.items():
        assert set(case) == {"description", "outcome", "queue", "level", "spec"}, name
        assert case["outcome"] in {"stored", "dead-letter"}
        assert case["queue"] in {CUSTOMER_QUEUE, SUBSCRIPTION_QUEUE}
        if case["outcome"] == "stored":
            assert str(_json(fixtures.raw("erp", name))["id"]), name


def test_document_examples_are_kept_verbatim() -> None:
    customer = fixtures.raw("erp", "document-customer-example").decode("utf-8")
    subscription = fixtures.raw("erp", "document-subscription-example").decode("utf-8")
    # odd indentation and spacing of the document's code blocks survive
    assert '"street1": "içerenköy"\n        }\n    }' in customer
    assert '"SALESEMP","valueType":"String","value":"ÜMİT"' in subscription
    assert '"engagedParty":[ { "id" : "134719" } ]\n }\n' in subscription
    assert CUSTOMER_EXAMPLE["contactMedium"][0]["characteristic"]["city"] == "İSTANBUL(Anadolu)"
    assert SUBSCRIPTION_EXAMPLE["name"] == "RAMAZAN ÖZEKİNCİ"


def test_good_fixtures_use_the_same_keys_as_the_examples() -> None:
    assert set(CUSTOMER_EXAMPLE) <= set(fixtures.load("erp", "customer-passive"))
    mixed = fixtures.load("erp", "subscription-valuetype-mixed-case")
    assert set(SUBSCRIPTION_EXAMPLE) <= set(mixed)
    assert {"string", "DATE", "float", "INTEGER", "boolean"} <= set(_value_types(mixed))


# -- ordering, duplicates, expected state ------------------------------------------------------


def _states(seed: int = 0) -> list[ErpMessage]:
    gen = ErpGenerator(seed)
    messages = []
    for _ in range(4):
        customer = gen.customer()
        sub = gen.subscription(customer["id"])
        later_customer = gen.update(customer)
        messages += [message(customer, CUSTOMER_QUEUE), message(later_customer, CUSTOMER_QUEUE),
                     message(gen.update(later_customer), CUSTOMER_QUEUE),
                     message(sub, SUBSCRIPTION_QUEUE), message(gen.update(sub), SUBSCRIPTION_QUEUE)]
    return messages


def test_out_of_order_mixes_objects_but_keeps_each_objects_states_in_order() -> None:
    messages = _states()
    mixed = out_of_order(messages, seed=3)
    assert sorted(m.body for m in mixed) == sorted(m.body for m in messages)
    assert mixed != messages
    assert out_of_order(messages, seed=3) == mixed
    for key in {m.key() for m in messages}:
        assert [m for m in mixed if m.key() == key] == [m for m in messages if m.key() == key]
    assert expected_state(mixed) == expected_state(messages)


def test_duplicates_follow_their_original_and_change_no_state() -> None:
    messages = _states()
    doubled = duplicates(messages)
    assert len(doubled) == 2 * len(messages)
    assert [m.body for m in doubled[0::2]] == [m.body for m in doubled[1::2]]
    assert expected_state(doubled) == expected_state(messages)


def test_expected_state_is_the_last_state_per_queue_and_id() -> None:
    messages = _states()
    state = expected_state(messages)
    assert len(state) == 8
    customer_id = json.loads(messages[0].body)["id"]
    assert state[(CUSTOMER_QUEUE, customer_id)] == json.loads(messages[2].body)
    assert (SUBSCRIPTION_QUEUE, customer_id) not in state
    numeric = ErpMessage("numeric-id", CUSTOMER_QUEUE, b'{"id": 134719, "status": "Active"}')
    dead = ErpMessage("no-id", CUSTOMER_QUEUE, b'{"status": "Active"}', "dead-letter")
    assert expected_state([numeric, dead]) == {(CUSTOMER_QUEUE, "134719"): {"id": 134719, "status": "Active"}}


def test_scenarios_keep_their_objects_apart() -> None:
    conforming = expected_state(conforming_messages(ScenarioOptions(customers=5, subscriptions=5)))
    malformed = expected_state(malformed_messages())
    backlog = expected_state(scenario_messages("backlog", ScenarioOptions(messages=50)))
    assert len(conforming) == 12  # 2 document examples + 5 + 5, each updated once
    assert len(malformed) == sum(len(case_messages(c, ErpGenerator())) for c in MALFORMATIONS if outcome(c) == "stored")
    assert not set(conforming) & set(malformed) and not set(conforming) & set(backlog)
    again = ScenarioOptions(seed=9)
    assert scenario_messages("all", again) == scenario_messages("all", again)


# -- against a real RabbitMQ -----------------------------------------------------------------


@pytest.fixture
def broker(rabbitmq_url: str) -> Iterator[tuple[pika.adapters.blocking_connection.BlockingChannel,
                                               Callable[..., str]]]:
    """A channel for reading back, and a factory of uniquely named test queues deleted afterwards."""
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    channel = connection.channel()
    created: list[str] = []

    def make_queue(**arguments: Any) -> str:
        name = f"test-erp-{uuid.uuid4()}"
        channel.queue_declare(name, durable=True, arguments=arguments or None)
        created.append(name)
        return name

    try:
        yield channel, make_queue
    finally:
        for name in created:
            channel.queue_delete(name)
        connection.close()


def _missing_queue() -> str:
    return f"test-erp-missing-{uuid.uuid4()}"


def _count(channel: Any, queue: str) -> int:
    return channel.queue_declare(queue, passive=True).method.message_count


def test_published_message_is_persistent_utf8_json(rabbitmq_url: str, broker: Any) -> None:
    channel, make_queue = broker
    customers, subscriptions = make_queue(), make_queue()
    gen = ErpGenerator(6)
    customer = gen.customer()
    customer["name"] = "RAMAZAN ÖZEKİNCİ"
    with ErpPublisher(rabbitmq_url, customer_queue=customers, subscription_queue=subscriptions) as publisher:
        publisher.publish_customer(customer)
        publisher.publish_subscription(fixtures.raw("erp", "document-subscription-example"))

    method, properties, body = channel.basic_get(customers, auto_ack=True)
    assert method is not None and method.exchange == "" and method.routing_key == customers
    assert properties.delivery_mode == 2
    assert properties.content_type == "application/json"
    assert properties.content_encoding == "utf-8"
    assert body == encode(customer)
    assert "RAMAZAN ÖZEKİNCİ".encode() in body and json.loads(body) == customer
    _, _, body = channel.basic_get(subscriptions, auto_ack=True)
    assert body == fixtures.raw("erp", "document-subscription-example")


def test_a_message_id_lets_the_publisher_find_that_very_message_again(rabbitmq_url: str, broker: Any) -> None:
    """The contract suite's look into a dead-letter queue: bodies repeat (an empty body is always the same),
    message ids do not; only what it looks for is taken out, the rest stays where it was."""
    channel, make_queue = broker
    queue = make_queue()
    inspector = BrokerInspector(rabbitmq_url)
    with ErpPublisher(rabbitmq_url, customer_queue=queue) as publisher:
        for message_id in ("old", "wanted", "other", "barrier"):
            publisher.publish(queue, b"", message_id=message_id)
    started = time.monotonic()
    assert inspector.take(queue, ["wanted"], until=started + 30) == {"wanted"}
    # The barrier is there: no need to wait for what is not (a message dropped instead of dead-lettered).
    assert inspector.take(queue, ["never-sent"], barrier="barrier", until=started + 30) == {"barrier"}
    assert time.monotonic() - started < 5
    assert inspector.take(queue, ["never-sent"], until=time.monotonic() + 0.3) == set()  # waits until then
    assert _count(channel, queue) == 2  # "old" and "other" left untouched
    _, properties, _ = channel.basic_get(queue, auto_ack=True)
    assert properties.message_id == "old" and properties.content_type == "application/json"
    assert inspector.take(_missing_queue(), ["wanted"], until=time.monotonic()) is None


def test_unroutable_message_raises_and_publisher_stays_usable(rabbitmq_url: str, broker: Any) -> None:
    channel, make_queue = broker
    customers = make_queue()
    missing = _missing_queue()
    with ErpPublisher(rabbitmq_url, customer_queue=customers) as publisher:
        with pytest.raises(UnroutableError, match=f"'{missing}'.*not stored"):
            publisher.publish(missing, {"id": "1"})
        with pytest.raises(UnroutableError, match=missing):
            publisher.publish_many([{"id": str(i)} for i in range(50)], missing)
        publisher.publish_customer({"id": "2"})
    assert _count(channel, customers) == 1


def test_declare_passive_names_the_missing_queue(rabbitmq_url: str, broker: Any) -> None:
    channel, make_queue = broker
    customers = make_queue()
    channel.basic_publish("", customers, b"{}")
    missing = _missing_queue()
    with ErpPublisher(rabbitmq_url, customer_queue=customers, subscription_queue=missing) as publisher:
        with pytest.raises(QueueMissingError, match=f"'{missing}'.*start it first") as raised:
            publisher.declare_passive()
        assert customers not in str(raised.value)
        publisher.subscription_queue = make_queue()
        assert publisher.declare_passive() == {customers: 1, publisher.subscription_queue: 0}
    assert not channel.is_closed


def test_nacked_message_raises(rabbitmq_url: str, broker: Any) -> None:
    _, make_queue = broker
    full = make_queue(**{"x-max-length": 1, "x-overflow": "reject-publish"})
    with ErpPublisher(rabbitmq_url) as publisher:
        publisher.publish(full, {"id": "1"})
        with pytest.raises(NackedError, match="refused"):
            publisher.publish(full, {"id": "2"})
        with pytest.raises(NackedError, match="refused"):
            publisher.publish_many([{"id": "3"}, {"id": "4"}], full)


def test_publish_many_confirms_every_message_in_order(rabbitmq_url: str, broker: Any) -> None:
    channel, make_queue = broker
    queue = make_queue()
    bodies = [encode({"id": str(i), "name": "GÜLŞEN ÇELİK"}) for i in range(3000)]
    with ErpPublisher(rabbitmq_url) as publisher:
        assert publisher.publish_many(bodies, queue, window=256) == 3000
        assert publisher.publish_many([], queue) == 0
    assert _count(channel, queue) == 3000
    firsts = [channel.basic_get(queue, auto_ack=True)[2] for _ in range(3)]
    assert firsts == bodies[:3]


def test_unreachable_broker_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(BrokerUnreachableError, match=r"127\.0\.0\.1:1") as raised:
        ErpPublisher("amqp://guest:s3cret@127.0.0.1:1/%2F?connection_attempts=1")
    assert "s3cret" not in str(raised.value)


def test_scenario_puts_each_message_on_its_queue_byte_for_byte(rabbitmq_url: str, broker: Any) -> None:
    channel, make_queue = broker
    customers, subscriptions = make_queue(), make_queue()
    options = ScenarioOptions(seed=4, customers=2, subscriptions=2, duplicates=True)
    sent = scenario_messages("all", options)
    with ErpPublisher(rabbitmq_url, customer_queue=customers, subscription_queue=subscriptions) as publisher:
        results = run_scenario(publisher, "all", options)
    assert len(results) == len(sent) and all(r.ok for r in results)
    assert [(r.name, r.expected.outcome) for r in results] == [(m.name, m.outcome) for m in sent]
    for documented, actual in ((CUSTOMER_QUEUE, customers), (SUBSCRIPTION_QUEUE, subscriptions)):
        expected_bodies = [m.body for m in sent if m.queue == documented]
        received = [channel.basic_get(actual, auto_ack=True)[2] for _ in expected_bodies]
        assert received == expected_bodies
        assert _count(channel, actual) == 0


def test_backlog_scenario_is_one_bulk_result(rabbitmq_url: str, broker: Any) -> None:
    channel, make_queue = broker
    customers = make_queue()
    with ErpPublisher(rabbitmq_url, customer_queue=customers) as publisher:
        results = run_scenario(publisher, "backlog", ScenarioOptions(messages=500))
    assert [(r.name, r.items, r.label, r.ok) for r in results] == [("backlog", 500, customers, True)]
    assert _count(channel, customers) == 500


def test_cli_prints_each_message_and_exits_1_on_a_missing_queue(
    rabbitmq_url: str, broker: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _, make_queue = broker
    customers, subscriptions = make_queue(), make_queue()
    args = ["erp", "--amqp-url", rabbitmq_url, "--customer-queue", customers,
            "--subscription-queue", subscriptions, "--scenario", "malformed"]
    assert cli.main([*args, "--publish-only"]) == 0
    out = capsys.readouterr().out
    assert "not-utf8" in out and "expect dead-letter" in out
    assert sum(" confirmed " in line for line in out.splitlines()[:-1]) == len(malformed_messages())
    assert out.splitlines()[-1].startswith(f"{len(malformed_messages())} messages, 0 unexpected; status confirmed x")

    missing = _missing_queue()
    assert cli.main([*args[:-4], "--subscription-queue", missing]) == 1
    assert f"'{missing}' do not exist" in capsys.readouterr().err

"""The ERP's push notifications over AMQP 0-9-1 (``erp-amqp-push.md``): bare JSON customer and
subscription objects published, with publisher confirms, to ``secom-customer-queue`` and
``secom-subscriptions-queue``.

Every message is a full state of one object keyed on its ``id``; delivery is at-least-once, with no
ordering across the two queues. A correct consumer stores the last state it received per (queue, id)
and dead-letters what it can never process (decisions.md erp-*).

``payload`` is the messages and the state they lead to, ``generator`` the customers and subscriptions,
``cases`` the malformations, ``publisher`` how the ERP publishes, ``broker`` a look into the queues,
``scenarios`` whole runs, ``cli`` the ``inventory-simulator erp`` sub-command.
"""

from .broker import BrokerInspector
from .cases import (
    DEAD_LETTER,
    MALFORMATIONS,
    MALFORMED_ID_OFFSET,
    STORED,
    CaseBuilder,
    ErpCaseContext,
    case_messages,
    malformed_messages,
    outcome,
)
from .cli import add_cli, run_cli
from .generator import ErpGenerator, characteristic
from .payload import (
    CHANNEL,
    CUSTOMER_QUEUE,
    QUEUES,
    SUBSCRIPTION_QUEUE,
    ErpMessage,
    Message,
    Outcome,
    duplicates,
    encode,
    expected_state,
    message,
    out_of_order,
)
from .publisher import (
    MESSAGE_PROPERTIES,
    BrokerUnreachableError,
    ErpPublisher,
    ErpPublishError,
    NackedError,
    QueueMissingError,
    UnroutableError,
)
from .scenarios import (
    BACKLOG_ID_OFFSET,
    LINE,
    SCENARIOS,
    Scenario,
    ScenarioOptions,
    backlog_messages,
    conforming_messages,
    publish_messages,
    run_scenario,
    scenario_messages,
)

__all__ = [
    "BACKLOG_ID_OFFSET", "CHANNEL", "CUSTOMER_QUEUE", "DEAD_LETTER", "LINE", "MALFORMATIONS", "MALFORMED_ID_OFFSET",
    "MESSAGE_PROPERTIES", "QUEUES", "SCENARIOS", "STORED", "SUBSCRIPTION_QUEUE", "BrokerInspector",
    "BrokerUnreachableError", "CaseBuilder", "ErpCaseContext", "ErpGenerator", "ErpMessage", "ErpPublishError",
    "ErpPublisher", "Message", "NackedError", "Outcome", "QueueMissingError", "Scenario", "ScenarioOptions",
    "UnroutableError", "add_cli", "backlog_messages", "case_messages", "characteristic", "conforming_messages",
    "duplicates", "encode", "expected_state", "malformed_messages", "message", "out_of_order", "outcome",
    "publish_messages", "run_cli", "run_scenario", "scenario_messages",
]

"""The published contracts: JSON Schema (2020-12) of every payload the platforms send, OpenAPI 3.1 of the
receiver's HTTP surface and AsyncAPI 3.0 of the ERP queues, for customers on any stack.

They are built here from what the channels declare (``channels/<channel>.py: contract``: their
operations, security schemes and payloads — the marshmallow schemas that validate, read by apispec, and
the stock columns from ``stock.COLUMNS``), the error envelope of ``errors.py`` and the read API of
``api.py``. The examples are the documents' own, from ``fixtures`` (data, verbatim). The full set is
shipped in the package (``receiver/published/``), written anywhere by ``inventory-receiver
write-contracts [DIR]``, and a running receiver serves the OpenAPI document of its enabled channels at
``/openapi.json``, rendered for people at ``/docs``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from http import HTTPStatus
from importlib import resources
from pathlib import Path
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from inventory_push_kit import fixtures

from . import api, metrics
from .channels import CHANNELS, erp
from .config import Config
from .errors import ERROR_SCHEMA, error_body
from .web import Contract, Operation, Payload

# The documents' version: bump it with every change a client would notice (semantic versioning).
VERSION = "1.0.0"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# Where the decisions a description cites are, seen from the directory the documents are written to
# (docs/contracts/ in the repository, receiver/published/ in the package).
DECISIONS = "../../contract_tests/decisions.md"
PUBLISHED = "published"  # the package directory of the shipped documents
OPENAPI_FILE, ASYNCAPI_FILE = "openapi.json", "asyncapi.json"

# What each refusal means, for every endpoint that gives it.
REFUSALS = {
    400: "Not JSON, or JSON no store can hold (the message says where it breaks); on a read route, a query "
         "parameter out of range.",
    401: "Credentials missing or wrong (the platform's own scheme; the read API's bearer token). Nothing was "
         "read or stored.",
    404: "Not held: never received, or removed.",
    408: "The body did not arrive within the receiver's body timeout: nothing was applied.",
    413: "The body is over the receiver's limit (refused from its Content-Length before it is read).",
    415: "A Content-Type that is not JSON (no Content-Type at all is read as JSON).",
    422: "The JSON does not conform: every problem, by path (keys and array indexes). Nothing was applied.",
    500: "The store is unavailable (or the receiver failed): nothing was stored, the sender should retry.",
}
_PROBLEM_EXAMPLES: dict[int, tuple[str, list[dict[str, Any]]]] = {
    400: ("the body is not valid JSON: Expecting ',' delimiter (line 3, column 5)", []),
    401: ("credentials missing or wrong (missing X-Stock-Key)", [{"path": ["headers", "X-Stock-Key"],
                                                                  "message": "missing"}]),
    404: ("no stock entry 6f95cd10-c8bb-4381-8b68-a255571aa2f0 received", []),
    408: ("the body did not arrive within 60 s (1024 bytes came): nothing was applied", []),
    413: ("the body is 70000000 bytes; this endpoint accepts at most 67108864 bytes", []),
    415: ("the body must be JSON (Content-Type: application/json), not 'text/plain'", []),
    422: ("the push was rejected: 1 problem(s); nothing was applied",
          [{"path": ["data", "leadTime", 3], "message": "Not an integer (32-bit): \"three\"."}]),
    500: ("the store is unavailable: nothing was stored", []),
}


def component_name(key: str) -> str:
    """A payload's key (its file name) → its component name: ``stock-push`` → ``StockPush``."""
    return "".join(part[:1].upper() + part[1:] for part in key.split("-"))


def _decision_links(text: str) -> str:
    return re.sub(r"\b((?:stock|s360|sm|erp)-\d+)\b", rf"[\1]({DECISIONS})", text)


def describe(payload: Payload) -> str:
    """A payload's description with the rules its schema cannot express, each linked to its decision."""
    if not payload.beyond:
        return payload.description
    rules = "\n".join(f"- {_decision_links(rule)}" for rule in payload.beyond)
    return (f"{payload.description}\n\nBeyond this schema — what the receiver also does, which a JSON Schema "
            f"cannot say (the decisions are in contract_tests/decisions.md):\n{rules}")


def contracts(config: Config | None = None) -> dict[str, Contract]:
    """Channel name → what it publishes: every channel for the published documents (``config`` None),
    else the enabled channels of ``config``."""
    if config is None:
        return {name: channel.contract(None) for name, channel in CHANNELS.items()}
    return {name: channel.contract(config.section(name)) for name, channel in CHANNELS.items()
            if config.section(name).enabled}


# --- marshmallow → JSON Schema (apispec) --------------------------------------------------------------


def _field_schema(self: Any, field: fields.Field, ret: dict[str, Any], **_: Any) -> dict[str, Any]:
    """A channel's own field says what it accepts in ``json_schema()`` (apispec knows only marshmallow's)."""
    if not hasattr(field, "json_schema"):
        return {}
    schema: dict[str, Any] = dict(field.json_schema())
    if field.allow_none and "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        schema["type"] = [*types, "null"]
    return schema


def _nested_name(schema: type[Schema] | Schema) -> str:
    """Components of nested marshmallow schemas are named by channel: ``servicemobility.ItemSchema`` →
    ``ServicemobilityItem``."""
    cls = schema if isinstance(schema, type) else type(schema)
    channel = cls.__module__.rsplit(".", 1)[-1]
    return component_name(channel) + cls.__name__.removesuffix("Schema")


def _spec(title: str, description: str) -> APISpec:
    plugin = MarshmallowPlugin(schema_name_resolver=_nested_name)
    spec = APISpec(title=title, version=VERSION, openapi_version="3.1.0", plugins=[plugin],
                   info={"description": description, "license": {"name": "MIT", "identifier": "MIT"}})
    assert plugin.converter is not None
    plugin.converter.add_attribute_function(_field_schema)
    return spec


def _add_payloads(spec: APISpec, payloads: dict[str, Payload]) -> None:
    for key, payload in payloads.items():
        meta = {"title": payload.title, "description": describe(payload)}
        if isinstance(payload.schema, dict):
            spec.components.schema(component_name(key), {**meta, **copy.deepcopy(payload.schema)})
        else:
            spec.components.schema(component_name(key), meta, schema=payload.schema)


# --- OpenAPI ------------------------------------------------------------------------------------------

HEALTH = Operation(
    "get", "/healthz", "get_health", "Health check", "200 while the receiver answers (the database is not asked: "
    "GET /readyz says whether it is reachable and its schema current).",
    {"type": "object", "required": ["status", "storage"],
     "properties": {"status": {"const": "ok"}, "storage": {"type": "string"}}},
    {"status": "ok", "storage": "sqlite"}, ())
_READINESS = {"type": "object", "required": ["status", "storage"],
              "properties": {"status": {"const": "ready"}, "storage": {"type": "string"}}}
READY = Operation(
    "get", "/readyz", "get_readiness", "Readiness check",
    "200 when the database answers and its schema is this release's; 503 naming each problem otherwise "
    "(a load balancer's readiness probe).", _READINESS, {"status": "ready", "storage": "sqlite"}, (),
    other_answers={503: {
        "description": "Not ready: what is wrong, by part.",
        "content": {"application/json": {
            "schema": {"type": "object", "required": ["status", "problems", "storage"],
                       "properties": {"status": {"const": "not ready"}, "storage": {"type": "string"},
                                      "problems": {"type": "object", "additionalProperties": {"type": "string"}}}},
            "example": {"status": "not ready", "storage": "postgresql",
                        "problems": {"database": "storage unavailable (postgresql): connection refused: start the "
                                                 "database or fix [storage] url"}}}}}})


def _metrics(path: str) -> Operation:
    return Operation(
        "get", path, "get_metrics", "Prometheus metrics",
        "The Prometheus text exposition (text/plain; version=1.0.0) of every worker's counters and histograms "
        "([metrics]; bearer token: [metrics] token, else the read API's). Not served without a token, or with "
        "[metrics] enabled = false.",
        {"type": "string"}, f"# TYPE {metrics.PREFIX}_deliveries_total counter\n"
        f'{metrics.PREFIX}_deliveries_total{{channel="stock",outcome="accepted",status="200"}} 1.0\n', (401,),
        security=[{"metrics": []}], answer_type="text/plain")


OPENAPI = Operation(
    "get", "/openapi.json", "get_openapi", "This document",
    "The OpenAPI document of this receiver's enabled channels (rendered at /docs).", {"type": "object"},
    {"openapi": "3.1.0"}, ())


def openapi(config: Config | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document: every channel with its default paths and every authentication mode
    (``config`` None, the published document), or what a receiver with ``config`` serves."""
    spec = _spec("Inventory push receiver", (
        "The HTTP surface of the inventory push kit's reference receiver: the endpoints the platforms push to "
        "(the aviation marketplace's stock push, S-360's inventory webhook, ServiceMobility's nine webhooks), the "
        "read API whose GETs tagged \"state probe\" are the state probe protocol (docs/state-probe.md), the "
        "receiver's own health, readiness and metrics, and the one error envelope every refusal has. The ERP "
        "queues are in the AsyncAPI document "
        f"({ASYNCAPI_FILE}); each payload is also a JSON Schema of its own (*.schema.json). Where the platforms' "
        f"documents leave gaps, descriptions cite the kit's decisions ([contract_tests/decisions.md]({DECISIONS})). "
        "Before any endpoint sees a request, the server itself refuses what it cannot take — a request it cannot "
        "parse (400), headers too slow (408), a request line too long (414), too many header fields (431), an "
        "unknown transfer coding (501) — and answers an unknown path 404 and a method an endpoint does not take "
        "405, each with the same error envelope."))
    spec.components.schema("Error", copy.deepcopy(ERROR_SCHEMA))
    for status in REFUSALS:
        message, problems = _PROBLEM_EXAMPLES[status]
        spec.components.response(f"Error{status}", {
            "description": f"{HTTPStatus(status).phrase}: {REFUSALS[status]}",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"},
                                              "example": error_body(status, message, problems)}}})
    spec.components.security_scheme("read-api", {
        "type": "http", "scheme": "bearer",
        "description": "The read API's token ([api] token); without one configured the read API is not mounted."})
    prefix = config.api.prefix if config is not None else "/api"
    read_api = config is None or bool(config.api.token)
    groups: list[tuple[str, str, list[Operation]]] = []
    for name, contract in contracts(config).items():
        _add_payloads(spec, contract.payloads)
        for scheme, definition in contract.security_schemes.items():
            spec.components.security_scheme(scheme, definition)
        pushes = [op for op in contract.operations if not op.read]
        reads = [op for op in contract.operations if op.read] if read_api else []
        groups.append((name, contract.tag, pushes + reads))
        spec.tag({"name": contract.tag, "description": contract.description})
    if read_api:
        groups.append(("api", "read API", api.operations()))
        spec.tag({"name": "read API", "description": "What the receiver holds and every delivery it logged "
                  "(bearer token)."})
        spec.tag({"name": "state probe", "description": "The GETs of the state probe protocol (docs/state-probe.md): "
                  "a customer's receiver can offer the same for the contract suite's checks of what was stored."})
    receiver_operations = [HEALTH, READY, OPENAPI]
    if config is None or metrics.scrape_token(config) is not None:
        receiver_operations.append(_metrics(config.metrics.path if config is not None else "/metrics"))
        spec.components.security_scheme("metrics", {
            "type": "http", "scheme": "bearer",
            "description": "The token /metrics needs: [metrics] token, else the read API's [api] token."})
    groups.append(("receiver", "receiver", receiver_operations))
    spec.tag({"name": "receiver", "description": "The receiver itself."})
    for channel, tag, operations in groups:
        for operation in operations:
            path = prefix + operation.path if operation.read else operation.path
            spec.path(path=path, operations={operation.method: _operation(channel, tag, operation)})
    # The schemas are in OpenAPI 3.1's default dialect (JSON Schema 2020-12 and OpenAPI's vocabulary), so
    # jsonSchemaDialect is left out: renderers such as Swagger UI take only the default.
    return spec.to_dict()


def _operation(channel: str, tag: str, operation: Operation) -> dict[str, Any]:
    tags = [tag, "state probe"] if operation.probe else [tag]
    answer: dict[str, Any] = {"description": "Accepted." if operation.body else "Found.",
                              "content": {operation.answer_type: {"schema": operation.answer,
                                                                  "example": operation.answer_example}}}
    if operation.links:
        answer["links"] = operation.links
    refusals = sorted({*operation.refusals, 500} if operation.refusals else operation.refusals)
    responses: dict[str, Any] = {"200": answer, **{str(s): {"$ref": f"#/components/responses/Error{s}"}
                                                   for s in refusals},
                                 **{str(s): other for s, other in operation.other_answers.items()}}
    result: dict[str, Any] = {"operationId": operation.operation_id, "summary": operation.summary,
                              "description": _decision_links(operation.description), "tags": tags,
                              "responses": responses}
    if operation.parameters:
        result["parameters"] = list(operation.parameters)
    if operation.read:
        result["security"] = [{"read-api": []}]
    elif operation.security is not None:
        result["security"] = operation.security
    if operation.body is not None:
        examples = operation.examples or _payload_examples(channel, operation.body)
        result["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{component_name(operation.body)}"},
            "examples": {name: {"summary": _example_summary(name), "value": example(channel, name)}
                         for name in examples}}}}
    return result


def example(channel: str, name: str) -> Any:
    """A fixture of the channel as an example: ``document-example``, or a part of one by JSON pointer
    (``document-envelope#/data``)."""
    fixture, _, pointer = name.partition("#")
    value = fixtures.load(channel, fixture)
    for step in filter(None, pointer.split("/")):
        value = value[int(step)] if isinstance(value, list) else value[step.replace("~1", "/").replace("~0", "~")]
    return value


def _payload_examples(channel: str, key: str) -> tuple[str, ...]:
    return CHANNELS[channel].contract(None).payloads[key].examples


def _example_summary(name: str) -> str:
    if name.startswith("document-"):
        part = name.partition("#")[2]
        return "the platform document's own example" + (f" (its {part[2:]})" if part else " (verbatim)")
    return f"fixtures: {name}"


# --- JSON Schema documents ----------------------------------------------------------------------------


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name → a standalone JSON Schema (2020-12) of each payload the platforms send, its referenced
    schemas in ``$defs``, with its examples (the documents' own)."""
    spec = _spec("payloads", "")
    payloads = {(channel, key): payload for channel, c in contracts().items() for key, payload in c.payloads.items()}
    for (_, key), payload in payloads.items():
        _add_payloads(spec, {key: payload})
    components = spec.to_dict()["components"]["schemas"]
    documents = {}
    for (channel, key), payload in payloads.items():
        name = component_name(key)
        root = copy.deepcopy(components[name])
        definitions = {ref: copy.deepcopy(components[ref]) for ref in _referenced(components, name) if ref != name}
        document: dict[str, Any] = {"$schema": JSON_SCHEMA_DIALECT,
                                    "$id": f"urn:inventory-push-kit:schema:{key}:{VERSION}", **root}
        if payload.examples:
            document["examples"] = [example(channel, name) for name in payload.examples]
        if definitions:
            document["$defs"] = definitions
        documents[f"{key}.schema.json"] = _local_refs(document)
    return documents


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            yield ref.rsplit("/", 1)[-1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _referenced(components: dict[str, Any], name: str) -> list[str]:
    seen, pending = [name], [name]
    while pending:
        for ref in _refs(components[pending.pop()]):
            if ref not in seen:
                seen.append(ref)
                pending.append(ref)
    return sorted(seen)


def _local_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: (value.replace("#/components/schemas/", "#/$defs/") if key == "$ref" and isinstance(value, str)
                      else _local_refs(value)) for key, value in node.items()}
    if isinstance(node, list):
        return [_local_refs(value) for value in node]
    return node


# --- AsyncAPI -----------------------------------------------------------------------------------------

AMQP_BINDING = "0.3.0"


def asyncapi(config: erp.Config | None = None) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the ERP's two queues as the reference consumer declares and consumes
    them (``config`` None: the default names)."""
    from .amqp import Topology  # pika is needed only here

    config = config or erp.Config()
    topology = Topology.from_config(config)
    payloads = erp.PAYLOADS
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for queue, kind in topology.queues.items():
        key = f"erp-{kind.name}"
        payload = payloads[key]
        message = f"{kind.name}Change"
        messages[message] = {
            "name": message, "title": payload.title, "summary": payload.title,
            "description": describe(payload), "contentType": "application/json",
            "payload": {"schemaFormat": "application/schema+json;version=draft-2020-12",
                        "schema": {"$schema": JSON_SCHEMA_DIALECT, **copy.deepcopy(payload.schema)}},
            "examples": [{"name": name, "summary": _example_summary(name), "payload": example(erp.NAME, name)}
                         for name in payload.examples],
            "bindings": {"amqp": {"messageType": kind.name, "bindingVersion": AMQP_BINDING}},
        }
        channel_id, dead_id = f"{kind.name}s", f"{kind.name}sDeadLetter"
        dead_letter = topology.dead_letter_queue(queue)
        channels[channel_id] = {
            "address": queue, "title": f"{kind.queue}",
            "description": f"The documented queue {kind.queue} (configurable: [erp] {kind.name}_queue). Durable; "
                           f"a message that can never be stored is dead-lettered through the exchange "
                           f"{config.dead_letter_exchange} to {dead_letter} (decision erp-3).",
            "messages": {message: {"$ref": f"#/components/messages/{message}"}},
            "bindings": {"amqp": {"is": "queue", "queue": {"name": queue, "durable": True, "exclusive": False,
                                                            "autoDelete": False, "vhost": "/"},
                                  "bindingVersion": AMQP_BINDING}},
            "x-amqp-queue-arguments": topology.arguments(queue),
        }
        channels[dead_id] = {
            "address": dead_letter, "title": f"{kind.queue} dead letters",
            "description": f"Where the consumer rejects (without requeue) what can never be stored: not UTF-8 JSON, "
                           f"not an object, no usable id; the reason is in the delivery log. Bound to the direct "
                           f"exchange {config.dead_letter_exchange} with routing key {dead_letter}.",
            "messages": {message: {"$ref": f"#/components/messages/{message}"}},
            "bindings": {"amqp": {"is": "queue", "queue": {"name": dead_letter, "durable": True, "exclusive": False,
                                                            "autoDelete": False, "vhost": "/"},
                                  "bindingVersion": AMQP_BINDING}},
            "x-dead-letter-exchange": {"name": config.dead_letter_exchange, "type": "direct", "durable": True},
        }
        operations[f"receive{message[:1].upper()}{message[1:]}"] = {
            "action": "receive", "channel": {"$ref": f"#/channels/{channel_id}"},
            "title": f"Consume {kind.queue}",
            "summary": f"Store each {kind.name} as a full-state upsert keyed on (queue, id).",
            "description": "At-least-once: the consumer acknowledges a message only after the transaction that "
                           "stored it has committed (in batches, basic.ack multiple); a message that was never "
                           "acknowledged is delivered again and is harmless (the same state changes nothing, "
                           "decision erp-1). No ordering across the two queues.",
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{message}"}],
            "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING}},
        }
        operations[f"deadLetter{message[:1].upper()}{message[1:]}"] = {
            "action": "send", "channel": {"$ref": f"#/channels/{dead_id}"},
            "title": f"Dead-letter from {kind.queue}",
            "summary": "basic.reject without requeue: the broker moves the message to its dead-letter queue.",
            "messages": [{"$ref": f"#/channels/{dead_id}/messages/{message}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "id": "urn:inventory-push-kit:asyncapi:erp",
        "info": {"title": "ERP push notifications (reference consumer)", "version": VERSION,
                 "description": "The ERP publishes bare JSON domain objects (no envelope) to two queues, at-least-once "
                                "(erp-amqp-push.md). This is how the kit's reference consumer (inventory-receiver "
                                "consume) declares and consumes them; each message's payload is also a JSON Schema "
                                "of its own (erp-customer.schema.json, erp-subscription.schema.json).",
                 "license": {"name": "MIT"}},
        "servers": {"broker": {"host": "{host}:{port}", "protocol": "amqp", "protocolVersion": "0.9.1",
                               "description": "The broker of [erp] amqp_url.",
                               "variables": {"host": {"default": "localhost"}, "port": {"default": "5672"}}}},
        "defaultContentType": "application/json",
        "channels": channels, "operations": operations, "components": {"messages": messages},
    }


# --- the documents as files ---------------------------------------------------------------------------


def documents() -> dict[str, dict[str, Any]]:
    """File name → document: the whole published set."""
    return {OPENAPI_FILE: openapi(), ASYNCAPI_FILE: asyncapi(), **json_schemas()}


def render(document: dict[str, Any]) -> str:
    """A document as its file holds it: JSON, indented, keys in their order, UTF-8 text as is."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write(directory: Path) -> list[Path]:
    """Write the published set into ``directory`` (created when missing); returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in documents().items():
        path = directory / name
        path.write_text(render(document), encoding="utf-8")
        written.append(path)
    return written


def shipped(name: str) -> str:
    """A document as shipped in the installed package (``receiver/published/NAME``)."""
    return (resources.files(__package__) / PUBLISHED / name).read_text(encoding="utf-8")

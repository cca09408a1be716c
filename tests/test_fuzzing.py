"""Hostile input, fuzzed: every HTTP endpoint of every channel gets JSON of every shape, valid payloads
mutated, deep nesting, NUL and lone surrogates, huge numbers and strings, invalid UTF-8 and odd media
types — on SQLite and on PostgreSQL. Whatever is sent:

- the answer is never a 5xx (only a real outage of the store may be one, and there is none here);
- every refusal is the JSON error envelope, with the status it says;
- nothing of a refused body is stored (the channel's tables hold exactly what they held before).

Each class of failure found so far is pinned with ``@example`` and a comment. In CI
(``HYPOTHESIS_PROFILE=ci``) each endpoint gets 1,000 bodies per backend.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from inventory_push_kit import fixtures
from inventory_push_kit.receiver import create_app
from inventory_push_kit.receiver.channels import s360, servicemobility, stock
from inventory_push_kit.receiver.storage import Store
from tests.conftest import POSTGRES_URL, STOCK_HEADERS, postgres_schema, receiver_config, require_service

BODIES = 1000 if os.environ.get("HYPOTHESIS_PROFILE") == "ci" else 60
FUZZ = settings(max_examples=BODIES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FlaskClient, Store]]:
    """Every HTTP channel on one store of the backend, tokens not evaluated (the bodies are the point)."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'receiver.db'}"
        else:
            url = stack.enter_context(postgres_schema(require_service("PostgreSQL", POSTGRES_URL, 5432),
                                                      "test_fuzz"))
        store = Store(url)
        store.create_schema()
        yield create_app(receiver_config(url), store=store).test_client(), store
        store.dispose()


# --- what is sent --------------------------------------------------------------------------------------

# Names the validators look at, so that random objects reach them.
KEYS = ["data", "id", "code", "state", "type", "source", "specversion", "time", "datacontenttype", "action",
        "subject", "rows", "rowver", "InventoryUsage", "ModifiedUTC", "RefModule", "RefObjID", "StorageLocations",
        "StorageLocationID", "Items", "ProdNum", "InQty", *stock.COLUMNS, "internalStockId"]
HOSTILE_TEXT = ["", "\x00", "a\x00b", "x" * 3000, "é" * 700, "2018\u20111\u201101", "ADD", "del", "NaN",
                "2022-07-27T23:10:12.000Z", "6f95cd10-c8bb-4381-8b68-a255571aa2f0", "0001-01-01T00:30:00+01:00"]
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20), st.sampled_from(HOSTILE_TEXT))
json_values = st.recursive(
    leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8),
                                                                        inner, max_size=5), max_leaves=25)


def paths(document: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into a JSON document (keys and indexes)."""
    yield prefix
    children = document.items() if isinstance(document, dict) else enumerate(document) \
        if isinstance(document, list) else ()
    for key, value in children:
        yield from paths(value, (*prefix, key))


def mutated(base: Any) -> st.SearchStrategy[Any]:
    """A valid payload with one to three things changed: a value replaced, a key dropped, a value wrapped."""
    text, spots = json.dumps(base), list(paths(base))  # computed once per base, not per example

    @st.composite
    def strategy(draw: st.DrawFn) -> Any:
        document = json.loads(text)
        for _ in range(draw(st.integers(1, 3))):
            path = draw(st.sampled_from(spots))
            if not path:
                document = draw(json_values)
                continue
            parent = document
            try:
                for step in path[:-1]:
                    parent = parent[step]
                parent[path[-1]]  # noqa: B018 (still there after an earlier change?)
            except (KeyError, IndexError, TypeError):
                continue
            if not isinstance(parent, dict | list):  # an earlier change made a container text
                continue
            action = draw(st.sampled_from(["replace", "drop", "wrap", "hostile"]))
            if action == "drop" and isinstance(parent, dict):
                del parent[path[-1]]
            elif action == "wrap":
                parent[path[-1]] = [parent[path[-1]]]
            elif action == "hostile":
                parent[path[-1]] = draw(st.sampled_from(HOSTILE_TEXT))
            else:
                parent[path[-1]] = draw(json_values)
        return document

    return strategy()


def encoded(document: Any, ascii_only: bool) -> bytes:
    return json.dumps(document, ensure_ascii=ascii_only).encode("utf-8")


RAW = [b"", b"   ", b"{", b"[" * 5000 + b"]" * 5000, b"\xff\xfe{}", b"\xef\xbb\xbf{}", b'{"a": 1e999}',
       b'{"a": NaN}', b'["\\ud800"]', b'{"data": {"leadTime": [' + b"1" * 5000 + b"]}}", b"null", b'"text"']
MEDIA_TYPES = ["application/json", "application/json; charset=utf-8", "application/cloudevents+json", None,
               "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", "*/*", ";;"]


def bodies(base: Any) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.builds(encoded, mutated(base), st.booleans()),
        st.builds(encoded, json_values, st.booleans()),
        st.binary(max_size=64),
        st.sampled_from(RAW),
        st.builds(lambda text, cut: text[:cut], st.builds(encoded, mutated(base), st.just(True)), st.integers(0, 400)),
    )


# --- what must hold ------------------------------------------------------------------------------------


def counts(store: Store, tables: list[sa.Table]) -> list[int]:
    with store.read() as conn:
        return [conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in tables]


def post_and_check(client: FlaskClient, store: Store, path: str, body: bytes, media_type: str | None,
                   tables: list[sa.Table], headers: dict[str, str] | None = None) -> None:
    before = counts(store, tables)
    sent = dict(headers or {})
    if media_type is not None:
        sent["Content-Type"] = media_type
    answer = client.post(path, data=body, headers=sent)
    assert answer.status_code < 500, (answer.status_code, answer.get_data(as_text=True)[:500], body[:300])
    if answer.status_code == 200:
        return
    envelope = answer.get_json(silent=True)
    assert envelope is not None and answer.mimetype == "application/json", answer.get_data()[:300]
    assert set(envelope["error"]) == {"status", "title", "message", "problems"}
    assert envelope["error"]["status"] == answer.status_code
    assert counts(store, tables) == before, f"a refused body ({answer.status_code}) changed the store"


STOCK_BASE = fixtures.load("stock", "add-then-update-same-push")
DEEP = "\u2063deep"  # stands for a value nested 970 deep, which json.dumps itself cannot write


def deep(document: Any) -> bytes:
    return json.dumps(document).replace(json.dumps(DEEP), '{"v": ' * 970 + "null" + "}" * 970).encode()


@FUZZ
@given(body=bodies(STOCK_BASE), media_type=st.sampled_from(MEDIA_TYPES))
# A value nested ~970 deep in a typed column: the error message quoted it whole (RecursionError, 500).
@example(body=deep({"data": {**STOCK_BASE["data"], "leadTime": [DEEP, 1, 2]}}), media_type="application/json")
# NUL in a text column: PostgreSQL text cannot hold it (DataError, 500 on PostgreSQL only).
@example(body=json.dumps({"data": {**STOCK_BASE["data"], "pn": ["PN\u00001", "A", "B"]}}).encode(),
         media_type="application/json")
# A part number too long for its index (PostgreSQL 54000, taken for an outage: 500 "retry").
@example(body=json.dumps({"data": {**STOCK_BASE["data"], "pn": ["x" * 3000, "A", "B"]}}).encode(),
         media_type="application/json")
def test_the_stock_push_survives_anything(app: tuple[FlaskClient, Store], body: bytes, media_type: str) -> None:
    client, store = app
    post_and_check(client, store, "/stock-push", body, media_type, [stock.table], STOCK_HEADERS)


S360_BASE = fixtures.load("s360", "minimal-products")


@FUZZ
@given(body=bodies(S360_BASE), media_type=st.sampled_from(MEDIA_TYPES))
# The id nested ~970 deep: quoting it in the message overflowed the stack (500).
@example(body=deep([{"id": DEEP, "code": "X"}]), media_type="application/json")
# NUL in the code (PostgreSQL DataError, 500).
@example(body=json.dumps([{"id": 1, "code": "A\u0000"}]).encode(), media_type="application/json")
# A state too long for its index (PostgreSQL 54000, 500 "retry": the platform re-posted it N times).
@example(body=json.dumps([{"id": 1, "code": "A", "state": "s" * 3000}]).encode(), media_type="application/json")
# An integer of 4,000 digits as the id: quoted whole in the message.
@example(body=b'[{"id": ' + b"9" * 4000 + b', "code": "A"}]', media_type="application/json")
def test_the_s360_webhook_survives_anything(app: tuple[FlaskClient, Store], body: bytes, media_type: str) -> None:
    client, store = app
    post_and_check(client, store, "/s360/inventory", body, media_type, [s360.product_table, s360.change_table])


SM_BASES = {event_type: fixtures.load("servicemobility", f"type-{event_type}") for event_type in servicemobility.TYPES}


@pytest.mark.parametrize("event_type", list(servicemobility.TYPES))
@FUZZ
@given(data=st.data(), media_type=st.sampled_from(MEDIA_TYPES))
def test_every_servicemobility_path_survives_anything(app: tuple[FlaskClient, Store], event_type: str,
                                                     data: st.DataObject, media_type: str) -> None:
    client, store = app
    body = data.draw(bodies(SM_BASES[event_type]), label="body")
    path = f"/servicemobility/{servicemobility.TYPES[event_type]}/"
    post_and_check(client, store, path, body, media_type, [servicemobility.event_table, servicemobility.usage_table])


USAGE = SM_BASES["InventoryUsage"]


def _usage(usage: dict[str, Any] | None = None, **item: Any) -> bytes:
    event = copy.deepcopy(USAGE)
    event["data"]["rows"][0]["InventoryUsage"].update(usage or {})
    event["data"]["rows"][0]["InventoryUsage"]["StorageLocations"][0]["Items"][0].update(item)
    return deep(event)


@pytest.mark.parametrize("body", [
    # A non-string type: looked up as a dict key (TypeError: unhashable, 500).
    json.dumps({**USAGE, "type": ["InventoryUsage"]}).encode(),
    json.dumps({**USAGE, "type": {"a": 1}}).encode(),
    # time and ModifiedUTC nested ~970 deep: the message quoted them whole (RecursionError, 500).
    deep({**USAGE, "time": DEEP}),
    _usage({"ModifiedUTC": DEEP}),
    # NUL in the id and in an item's ProdNum (PostgreSQL DataError, 500).
    json.dumps({**USAGE, "id": "a\u0000b"}).encode(),
    _usage(ProdNum="P\u00001"),
    # A ProdNum too long for its index (PostgreSQL 54000, 500 "retry" — the platform retries forever).
    _usage(ProdNum="p" * 3000),
    # Quantities beyond what NUMERIC(18, 4) holds.
    _usage(InQty=1e300),
], ids=["type-list", "type-object", "time-deep", "modifiedutc-deep", "id-nul", "prodnum-nul", "prodnum-too-long",
        "qty-huge"])
def test_servicemobility_classes_found_by_fuzzing(app: tuple[FlaskClient, Store], body: bytes) -> None:
    client, store = app
    post_and_check(client, store, "/servicemobility/InventoryUsage/", body, "application/json",
                   [servicemobility.event_table, servicemobility.usage_table])

"""Properties of the stock channel over many generated inputs (Hypothesis), on SQLite and PostgreSQL:
bad input never gives a 5xx and never changes stored stock; any order of deliveries, duplicates
included, ends in the latest change per stock id."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from inventory_push_kit.simulator.stock import MALFORMATIONS, StockCaseContext, StockGenerator
from tests.conftest import API_TOKEN, STOCK_HEADERS

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
# One app per test, reused across examples: each example checks its own effect.
SHARED_APP = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
# Bodies shaped a little like a push, so validation goes deep, not only "not an object".
push_like = st.dictionaries(
    st.sampled_from(["connectorStockId", "pn", "tagDate", "dbAction", "timeStampEntry", "leadTime", "x"]),
    st.lists(json_values, max_size=3) | json_values,
    max_size=6,
).map(lambda columns: {"data": columns})


@pytest.fixture
def client(make_client: Any) -> Any:
    """One app per test function; Hypothesis runs every example of the test against it."""
    return make_client()


def snapshot(client: Any) -> list[dict[str, Any]]:
    return client.get("/api/stock?limit=1000&include_deleted=1", headers=AUTH).get_json()["items"]


@SHARED_APP
@given(document=json_values | push_like)
@example(document={"data": {"connectorStockId": [None]}})  # a null key
@example(document={"data": {"connectorStockId": [[]]}})  # an unhashable value in a converted column (was a 500)
@example(document={"data": {"dbAction": [], "timeStampEntry": [], "connectorStockId": [1.5]}})  # wrong-typed key
def test_random_json_never_gives_a_5xx_nor_changes_stock(client: Any, document: Any) -> None:
    before = snapshot(client)
    answer = client.post("/stock-push", data=json.dumps(document), headers={**STOCK_HEADERS,
                                                                             "Content-Type": "application/json"})
    assert answer.status_code < 500, answer.get_json()
    if answer.status_code != 200:
        assert answer.get_json()["error"]["problems"] or answer.status_code == 400
        assert snapshot(client) == before


@SHARED_APP
@given(raw=st.binary(max_size=200))
def test_random_bytes_never_give_a_5xx(client: Any, raw: bytes) -> None:
    answer = client.post("/stock-push", data=raw, headers={**STOCK_HEADERS, "Content-Type": "application/json"})
    assert answer.status_code in {200, 400, 422}


@pytest.mark.parametrize("case", list(MALFORMATIONS), ids=lambda case: case.name)
def test_every_malformation_is_refused_and_changes_nothing(make_client: Any, case: Any) -> None:
    client = make_client(stock={"max_body_bytes": 64 * 1024})
    generator = StockGenerator(seed=7)
    client.post("/stock-push", data=generator.first_push(20).to_bytes(),
                headers={**STOCK_HEADERS, "Content-Type": "application/json"})
    before = snapshot(client)
    (request,) = case.build(StockCaseContext(push=generator.delta(5), credentials=STOCK_HEADERS,
                                          max_body_bytes=64 * 1024))
    answer = client.post("/stock-push", data=request.body, headers=dict(request.headers))
    assert case.expect.accepts(answer.status_code), (case.name, answer.status_code, answer.get_json())
    assert snapshot(client) == before


# A change: (stock id index, distinct time index, action, price). Times are distinct per id, as the
# platform's timeStampEntry is, so "the latest change" is well defined whatever the delivery order.
changes = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 50), st.sampled_from(["ADD", "UPD", "DEL"]), st.integers(1, 999)),
    min_size=1, max_size=25, unique_by=lambda c: (c[0], c[1]),
)


@SHARED_APP
@given(changes=changes, data=st.data())
def test_any_delivery_order_with_duplicates_ends_in_the_latest_change(
    client: Any, changes: list[tuple[int, int, str, int]], data: st.DataObject
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(5)]  # fresh ids: examples do not see each other
    # Cut the changes into pushes, then deliver them in any order, some twice.
    cuts = sorted(data.draw(st.sets(st.integers(1, len(changes) - 1), max_size=6)) if len(changes) > 1 else [])
    pushes = [changes[a:b] for a, b in zip([0, *cuts], [*cuts, len(changes)], strict=True)]
    deliveries = data.draw(st.permutations(pushes + data.draw(st.lists(st.sampled_from(pushes), max_size=4))))
    for push in deliveries:
        rows = [{"connectorStockId": ids[i], "timeStampEntry": f"2026-01-01 10:{t // 60:02d}:{t % 60:02d}",
                 "dbAction": action, "priceUsd": price} for i, t, action, price in push]
        body = {"data": {name: [r[name] for r in rows] for name in rows[0]}}
        answer = client.post("/stock-push", json=body, headers=STOCK_HEADERS)
        assert answer.status_code == 200, answer.get_json()
    for index, stock_id in enumerate(ids):
        mine = [c for c in changes if c[0] == index]
        entry = client.get(f"/api/stock/{stock_id}", headers=AUTH)
        if not mine:
            assert entry.status_code == 404
            continue
        latest = max(mine, key=lambda c: c[1])
        if latest[2] == "DEL":
            assert entry.status_code == 404
        else:
            assert entry.status_code == 200 and entry.get_json()["priceUsd"] == latest[3]

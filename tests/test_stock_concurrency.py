"""Concurrency through the real server: several gunicorn workers and threads, 8 clients re-sending the
same 200 pushes in different orders, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from devtools.serving import make_tls, running_receiver
from inventory_push_kit.simulator.stock import StockGenerator, StockPlatform
from tests.conftest import API_TOKEN, STOCK_HEADERS


@pytest.mark.timeout(600)
def test_eight_clients_resending_the_same_pushes_get_200_and_exact_state(store_url: str, tmp_path: Path) -> None:
    generator = StockGenerator(seed=11)
    pushes = [generator.first_push(40)] + [generator.delta(8) for _ in range(199)]
    bodies = [push.to_bytes() for push in pushes]
    config = {
        "server": {"workers": 3, "threads": 4},
        "storage": {"url": store_url},
        "api": {"token": API_TOKEN},
        "stock": {"enabled": True, "credential_headers": STOCK_HEADERS},
    }
    with running_receiver(config, tmp_path, tls=make_tls(tmp_path / "tls")) as receiver:

        def client(seed: int) -> list[int]:
            order = list(range(len(bodies)))
            random.Random(seed).shuffle(order)
            platform = StockPlatform(f"{receiver.url}/stock-push", credentials=STOCK_HEADERS,
                                     ca_bundle=str(receiver.ca))
            try:
                return [platform.send(pushes[i].to_request(STOCK_HEADERS)).status for i in order]
            finally:
                platform.close()

        with ThreadPoolExecutor(8) as pool:
            statuses = [status for answers in pool.map(client, range(8)) for status in answers]

        assert len(statuses) == 8 * 200
        assert set(statuses) == {200}
        log = receiver.log_text()
        assert "database is locked" not in log and "Traceback" not in log

        held = {}
        url = f"{receiver.url}/api/stock?limit=1000"
        while url:
            page = requests.get(url, headers={"Authorization": f"Bearer {API_TOKEN}"}, verify=str(receiver.ca),
                                timeout=30).json()
            held |= {entry["connectorStockId"]: entry for entry in page["items"]}
            url = f"{receiver.url}/api/stock?limit=1000&after={page['next_after']}" if page["next_after"] else ""
        expected = generator.state()
        assert set(held) == set(expected)
        for stock_id, row in expected.items():
            assert held[stock_id]["timeStampEntry"] == row["timeStampEntry"]
            assert {name: held[stock_id][name] for name in ("priceUsd", "quantity", "location")} == \
                   {name: row[name] for name in ("priceUsd", "quantity", "location")}, stock_id

        # Each distinct body was applied exactly once; every re-send was recognised as a duplicate.
        outcomes: list[str] = []
        url = f"{receiver.url}/api/deliveries?limit=500"
        while url:
            page = requests.get(url, headers={"Authorization": f"Bearer {API_TOKEN}"}, verify=str(receiver.ca),
                                timeout=30).json()
            outcomes += [d["outcome"] for d in page["items"]]
            before = page["next_before"]
            url = f"{receiver.url}/api/deliveries?limit=500&before={before}" if before else ""
        assert outcomes.count("accepted") == 200 and outcomes.count("duplicate") == 7 * 200
        assert len(outcomes) == 8 * 200

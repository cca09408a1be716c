"""Metrics and health as an operator sees them: ``/metrics`` adding up every gunicorn worker, ``/healthz``
and ``/readyz`` on the receiver and on the consumer's health port, ``[storage] migrate_on_start`` and the
connect timeout — all on the real server, PostgreSQL and RabbitMQ."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from alembic import command

from devtools.serving import free_port, make_tls, running_consumer, running_receiver, write_toml
from inventory_push_kit.receiver import create_app, migrations
from inventory_push_kit.receiver.config import from_mapping
from inventory_push_kit.receiver.startup import ExitCode
from inventory_push_kit.receiver.storage import Store
from inventory_push_kit.simulator.erp import ErpGenerator, ErpPublisher
from inventory_push_kit.simulator.stock import StockGenerator
from tests.conftest import API_TOKEN, STOCK_HEADERS, postgres_schema, unique_queues

BEARER = {"Authorization": f"Bearer {API_TOKEN}"}
JSON = {"Content-Type": "application/json"}


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "inventory_push_kit.receiver", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})


def samples(text: str, name: str) -> dict[str, float]:
    """The samples of one metric in a text exposition: the label text → value."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        match = re.match(rf"{name}(\{{.*\}})? (\S+)$", line)
        if match:
            found[match[1] or ""] = float(match[2])
    return found


def until(condition: Any, what: str, bound: float = 60.0) -> Any:
    """Poll until ``condition()`` is truthy (the bound only keeps a broken run from hanging)."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def worker_pids(master: int) -> set[int]:
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                pids.add(int(entry.name))
    return pids


def test_metrics_add_up_every_worker_and_outlive_a_worker_that_ends(tmp_path: Path) -> None:
    config = {"server": {"workers": 3}, "storage": {"data_dir": str(tmp_path / "data")}, "api": {"token": API_TOKEN},
              "stock": {"enabled": True, "credential_headers": STOCK_HEADERS},
              "servicemobility": {"enabled": True, "jwt": "hs256", "secret": "s" * 32}}
    with running_receiver(config, tmp_path, tls=make_tls(tmp_path / "tls")) as receiver:
        ca = str(receiver.ca)
        assert requests.get(f"{receiver.url}/metrics", verify=ca, timeout=10).status_code == 401  # token needed
        generator = StockGenerator(seed=8)
        pushes = 12
        for number in range(pushes):  # each on a fresh connection: any worker may take it
            push = generator.first_push(5 + number)
            request = push.to_request(STOCK_HEADERS)
            answer = requests.post(f"{receiver.url}/stock-push", data=request.body, headers=request.headers,
                                   verify=ca, timeout=30)
            assert answer.status_code == 200, answer.text
        refused = requests.post(f"{receiver.url}/stock-push", data=b"{}", headers={**STOCK_HEADERS, **JSON},
                                verify=ca, timeout=30)
        assert refused.status_code == 422
        for token in (None, "not-a-token"):
            headers = JSON | ({"x-access-token": token} if token else {})
            answer = requests.post(f"{receiver.url}/servicemobility/InventoryUsage", data=b"{}", headers=headers,
                                   verify=ca, timeout=30)
            assert answer.status_code == 401

        def scrape() -> str:
            answer = requests.get(f"{receiver.url}/metrics", headers=BEARER, verify=ca, timeout=10)
            assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain")
            return answer.text

        text = scrape()
        deliveries = samples(text, "inventory_receiver_deliveries_total")
        assert deliveries['{channel="stock",outcome="accepted",status="200"}'] == pushes
        assert deliveries['{channel="stock",outcome="rejected",status="422"}'] == 1
        assert deliveries['{channel="servicemobility",outcome="rejected",status="401"}'] == 2
        applied = samples(text, "inventory_receiver_applied_total")
        assert applied['{channel="stock",unit="rows"}'] == sum(5 + n for n in range(pushes))
        assert samples(text, "inventory_receiver_jwt_refusals_total") == {
            '{reason="missing"}': 1, '{reason="malformed"}': 1}
        assert samples(text, "inventory_receiver_request_duration_seconds_count")['{channel="stock"}'] == pushes + 1
        assert samples(text, "inventory_receiver_body_bytes_count")['{channel="stock"}'] == pushes + 1

        # Every worker ends (gunicorn starts new ones): what they counted is still there, added up.
        before = worker_pids(receiver.process.pid)
        assert len(before) == 3
        for pid in before:
            os.kill(pid, signal.SIGTERM)
        until(lambda: len(worker_pids(receiver.process.pid) - before) == 3, "three new workers")
        until(lambda: requests.get(f"{receiver.url}/healthz", verify=ca, timeout=10).status_code == 200,
              "a new worker to answer")
        after = samples(scrape(), "inventory_receiver_deliveries_total")
        assert after['{channel="stock",outcome="accepted",status="200"}'] == pushes
        folder = re.search(r"metrics: multiprocess folder (\S+)", receiver.log_text())
        assert folder is not None, receiver.log_text()
        assert Path(folder[1]).is_dir()
    assert not Path(folder[1]).exists()  # the run's own folder goes with it


def test_a_separate_metrics_token_and_metrics_off(tmp_path: Path) -> None:
    config = {"storage": {"data_dir": str(tmp_path / "data")}, "api": {"token": API_TOKEN},
              "metrics": {"token": "scrape-only"}, "stock": {"enabled": True, "credential_headers": STOCK_HEADERS}}
    with running_receiver(config, tmp_path / "own", tls=None) as receiver:
        url = f"{receiver.url}/metrics"
        assert requests.get(url, headers=BEARER, timeout=10).status_code == 401
        assert requests.get(url, headers={"Authorization": "Bearer scrape-only"}, timeout=10).status_code == 200
    config["metrics"] = {"enabled": False}
    with running_receiver(config, tmp_path / "off", tls=None) as receiver:
        assert requests.get(f"{receiver.url}/metrics", headers=BEARER, timeout=10).status_code == 404


@contextmanager
def behind_head(url: str) -> Iterator[str]:
    """A database one revision behind this release (really downgraded), and the revision it is at."""
    store = Store(url)
    store.create_schema()
    with store.engine.begin() as conn:
        command.downgrade(migrations.alembic_config(conn), "-1")
        revision = migrations.current(conn)
    store.dispose()
    assert revision is not None and revision != migrations.head()
    yield revision


def test_readyz_turns_503_when_the_schema_is_behind_and_healthz_stays_200(tmp_path: Path, postgres_url: str) -> None:
    with postgres_schema(postgres_url, "test_ready") as url:
        config = {"storage": {"url": url}, "stock": {"enabled": True, "credential_headers": STOCK_HEADERS}}
        with running_receiver(config, tmp_path, tls=None) as receiver:
            ready = requests.get(f"{receiver.url}/readyz", timeout=10)
            assert ready.status_code == 200 and ready.json()["status"] == "ready"
            engine = sa.create_engine(url)
            with engine.begin() as conn:
                command.downgrade(migrations.alembic_config(conn), "-1")
            engine.dispose()
            ready = requests.get(f"{receiver.url}/readyz", timeout=10)
            assert ready.status_code == 503
            assert ready.json()["status"] == "not ready"
            assert "inventory-receiver migrate" in ready.json()["problems"]["migrations"]
            assert requests.get(f"{receiver.url}/healthz", timeout=10).status_code == 200  # alive all the same


@pytest.mark.parametrize("host", ["refuses", "never answers"])
def test_readyz_names_an_unreachable_database(host: str) -> None:
    with socket.socket() as silent:  # "never answers": the kernel accepts, nobody ever speaks
        silent.bind(("127.0.0.1", 0))
        if host == "never answers":
            silent.listen(16)
        port = silent.getsockname()[1]  # "refuses": bound, not listening
        config = from_mapping({"storage": {"url": f"postgresql://postgres@127.0.0.1:{port}/test",
                                           "connect_timeout": 2}})
        client = create_app(config).test_client()
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert set(ready.get_json()["problems"]) == {"database"}


def test_migrate_on_start_false_refuses_a_database_behind_with_one_line(tmp_path: Path, postgres_url: str) -> None:
    with postgres_schema(postgres_url, "test_mos") as url, behind_head(url) as revision:
        storage = {"url": url, "migrate_on_start": False}
        served = write_toml(tmp_path / "serve.toml", {
            "server": {"insecure_http": True, "bind": f"127.0.0.1:{free_port()}"}, "storage": storage,
            "stock": {"enabled": True, "credential_headers": STOCK_HEADERS}})
        consumed = write_toml(tmp_path / "consume.toml", {  # refused before it looks for a broker
            "storage": storage, "erp": {"enabled": True, "amqp_url": "amqp://guest:guest@127.0.0.1:1/%2F"}})
        for config, command_line in ((served, "serve"), (served, "check-config"), (consumed, "consume")):
            result = cli(config, command_line)
            assert result.returncode == ExitCode.MIGRATIONS, (command_line, result.stderr)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, result.stderr
            assert revision in lines[0] and migrations.head() in lines[0] and "inventory-receiver migrate" in lines[0]
        migrated = cli(served, "migrate")
        assert migrated.returncode == 0, migrated.stderr
        checked = cli(served, "check-config")
        assert checked.returncode == 0, checked.stderr
        assert f"schema at revision {migrations.head()}" in checked.stdout


def test_check_config_gives_up_on_a_database_host_that_never_answers(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel does) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        config = write_toml(tmp_path / "receiver.toml", {
            "server": {"insecure_http": True},
            "storage": {"url": f"postgresql://postgres@127.0.0.1:{port}/test", "connect_timeout": 2}})
        result = cli(config, "check-config")
    assert result.returncode == ExitCode.STORAGE, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "timeout" in lines[0].lower(), result.stderr


def test_the_consumer_answers_health_readiness_and_metrics_on_its_port(tmp_path: Path, rabbitmq_url: str) -> None:
    port = free_port()
    with unique_queues(rabbitmq_url, "test-health") as queues:
        config = write_toml(tmp_path / "receiver.toml", {
            "storage": {"data_dir": str(tmp_path / "data")}, "api": {"token": API_TOKEN},
            "erp": {"enabled": True, "amqp_url": rabbitmq_url, "health_port": port, **queues}})
        with running_consumer(config, tmp_path):
            base = f"http://127.0.0.1:{port}"
            assert requests.get(f"{base}/healthz", timeout=10).json() == {"status": "ok"}
            ready = requests.get(f"{base}/readyz", timeout=10)
            assert ready.status_code == 200 and ready.json()["status"] == "ready"
            assert requests.get(f"{base}/metrics", timeout=10).status_code == 401
            with ErpPublisher(rabbitmq_url, customer_queue=queues["customer_queue"],
                              subscription_queue=queues["subscription_queue"]) as publisher:
                generator = ErpGenerator(seed=4)
                publisher.publish_many([generator.customer() for _ in range(3)] + [b"not json"],
                                       queues["customer_queue"])

            def settled() -> dict[str, float]:
                text = requests.get(f"{base}/metrics", headers=BEARER, timeout=10).text
                found = samples(text, "inventory_receiver_erp_messages_total")
                return found if sum(found.values()) == 4 else {}

            messages = until(settled, "the four messages settled")
            queue = queues["customer_queue"]
            assert messages == {f'{{queue="{queue}",result="acked"}}': 3,
                                f'{{queue="{queue}",result="dead_lettered"}}': 1}
            text = requests.get(f"{base}/metrics", headers=BEARER, timeout=10).text
            assert samples(text, "inventory_receiver_erp_batch_seconds_count")[""] >= 1
            assert samples(text, "inventory_receiver_applied_total") == {'{channel="erp",unit="objects"}': 3}
            assert samples(text, "inventory_receiver_deliveries_total") == {
                '{channel="erp",outcome="accepted",status="amqp"}': 3,
                '{channel="erp",outcome="rejected",status="amqp"}': 1}


def test_the_consumer_is_not_ready_while_it_cannot_reach_the_broker(tmp_path: Path) -> None:
    port = free_port()
    config = write_toml(tmp_path / "receiver.toml", {
        "storage": {"data_dir": str(tmp_path / "data")},
        "erp": {"enabled": True, "amqp_url": f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F", "health_port": port}})
    process = subprocess.Popen([sys.executable, "-m", "inventory_push_kit.receiver", "--config", str(config),
                                "consume"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"})
    try:
        def answer() -> list[requests.Response]:  # a list: a 503 response is falsy
            try:
                return [requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10)]
            except requests.ConnectionError:
                return []

        [ready] = until(answer, "the health port")
        assert ready.status_code == 503
        assert set(ready.json()["problems"]) == {"broker"}  # the database is fine
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def test_the_first_run_configuration_shows_the_new_settings_where_uncommenting_them_works(tmp_path: Path) -> None:
    from inventory_push_kit.receiver.config import load_config
    from inventory_push_kit.receiver.init import init

    init(tmp_path, force=False, bind="127.0.0.1:8443", amqp_url="amqp://guest:guest@127.0.0.1:5672/%2F")
    path = tmp_path / "receiver.toml"
    text = path.read_text()
    for key in ("# migrate_on_start = true", "# connect_timeout = 5", "# health_port = 9101", "[metrics] token"):
        assert key in text
    path.write_text(text.replace("# migrate_on_start = true", "migrate_on_start = false")
                    .replace("# health_port = 9101", "health_port = 9101"))
    config = load_config(path)
    assert config.storage.migrate_on_start is False and config.erp.health_port == 9101

"""Shared fixtures of the project's own test suite.

Tests that need PostgreSQL or RabbitMQ use the ``postgres_url`` / ``rabbitmq_url`` fixtures. When the
service is unreachable they skip on a developer's machine (saying how to start it) and FAIL in CI
(``CI=true``): a missing service must never turn into a silently green run.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pika
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import settings

from inventory_push_kit.receiver import create_app, storage
from inventory_push_kit.receiver.config import Config, from_mapping
from inventory_push_kit.receiver.storage import Store

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")

HOW_TO_START = {
    "PostgreSQL": "start one with `pg_ctlcluster $(ls /etc/postgresql) main start` (or any PostgreSQL with "
    "trust auth) or point TEST_POSTGRES_URL at one",
    "RabbitMQ": "start one with `rabbitmq-server -detached` or point TEST_RABBITMQ_URL at one",
}


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, default_port: int) -> str:
    if _reachable(url, default_port):
        return url
    message = f"{name} is not reachable at {url}: {HOW_TO_START[name]}"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def require_service_tool(tool: str, why: str) -> None:
    """A command a test needs (e.g. rabbitmqctl): skip locally, fail in CI, like a missing service."""
    message = f"{tool} is not installed: {why}"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return require_service("PostgreSQL", POSTGRES_URL, 5432)


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    return require_service("RabbitMQ", RABBITMQ_URL, 5672)


@contextmanager
def unique_queues(rabbitmq_url: str, prefix: str) -> Iterator[dict[str, str]]:
    """ERP queue names of one test only (as ``[erp]`` keys); deleted afterwards with their dead-letter
    queues. Tests never touch queues they did not create."""
    suffix = uuid.uuid4().hex[:8]
    names = {"customer_queue": f"{prefix}-customers-{suffix}", "subscription_queue": f"{prefix}-subscriptions-{suffix}"}
    try:
        yield names
    finally:
        connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
        channel = connection.channel()
        for queue in names.values():
            channel.queue_delete(queue)
            channel.queue_delete(queue + ".dead-letter")
        connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'receiver.db'}"
        return
    with postgres_schema(request.getfixturevalue("postgres_url"), "test") as url:
        yield url


@contextmanager
def postgres_schema(base: str, prefix: str) -> Iterator[str]:
    """A PostgreSQL schema of its own on ``base`` (named ``PREFIX_…``), as a URL whose connections use
    it; dropped with everything in it afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """The test's store on its backend, with the schema created."""
    store = Store(store_url)
    store.create_schema()
    yield store
    store.dispose()


STOCK_HEADERS = {"X-Stock-User": "acme-mro", "X-Stock-Key": "s3cret-stock-key"}
API_TOKEN = "read-api-token"


def receiver_config(store_url: str, **sections: dict[str, Any]) -> Config:
    """A receiver configuration for tests: the given store, a read API token, stock credentials."""
    document: dict[str, Any] = {
        "storage": {"url": store_url},
        "api": {"token": API_TOKEN},
        "stock": {"enabled": True, "credential_headers": STOCK_HEADERS},
        "s360": {"enabled": True},
        "servicemobility": {"enabled": True},
        "erp": {"enabled": True},
    }
    for name, values in sections.items():
        document[name] = {**document.get(name, {}), **values}
    return from_mapping(document)


@pytest.fixture
def make_client(store_url: str) -> Iterator[Callable[..., FlaskClient]]:
    """Build the real app on the test's store and return its test client."""
    stores: list[Store] = []

    def build(**sections: dict[str, Any]) -> FlaskClient:
        config = receiver_config(store_url, **sections)
        store = Store(config.storage_url)
        store.create_schema()  # as `serve` does before its workers start
        stores.append(store)
        return create_app(config, store=store).test_client()

    yield build
    for store in stores:
        store.dispose()


def recorded_headers(store_url: str, delivery: int) -> dict[str, str]:
    """The request's headers recorded with ``delivery`` for the inspector, by name."""
    store = Store(store_url)
    try:
        with store.read() as conn:
            details = storage.get_details(conn, delivery)
    finally:
        store.dispose()
    assert details is not None and details.headers, f"delivery {delivery} has no headers recorded"
    return dict(details.headers)


# Hypothesis profiles: quick on a laptop, thorough in CI (HYPOTHESIS_PROFILE=ci, set by .ci/run).
settings.register_profile("dev", max_examples=40, deadline=None)
settings.register_profile("ci", max_examples=150, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

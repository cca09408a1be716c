"""Shared fixtures of the project's own test suite.

Tests that need PostgreSQL or RabbitMQ use the ``postgres_url`` / ``rabbitmq_url`` fixtures. When the
service is unreachable they skip on a developer's machine (saying how to start it) and FAIL in CI
(``CI=true``): a missing service must never turn into a silently green run.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

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


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return require_service("PostgreSQL", POSTGRES_URL, 5432)


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    return require_service("RabbitMQ", RABBITMQ_URL, 5672)

"""Schema migrations: a database created and filled by the previous release (its code taken from git
history) is upgraded in place by ``inventory-receiver migrate`` with nothing stored lost, on SQLite and
PostgreSQL; the upgraded schema equals a fresh one's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from inventory_push_kit.receiver import migrations
from inventory_push_kit.receiver.storage import Store, metadata
from tests.conftest import API_TOKEN, STOCK_HEADERS

ROOT = Path(__file__).resolve().parent.parent
PREVIOUS_RELEASE = "f257f4b"  # the last commit whose schema was unversioned (no alembic_version)

# Runs in the previous release's code: create the schema, push stock rows (accepted, replayed, rejected).
OLD_PUSHES = textwrap.dedent("""
    import json, sys
    from inventory_push_kit.receiver import create_app
    from inventory_push_kit.receiver.config import from_mapping
    from inventory_push_kit.receiver.storage import Store
    url, headers, token = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    config = from_mapping({"storage": {"url": url}, "api": {"token": token},
                           "stock": {"enabled": True, "credential_headers": headers}})
    store = Store(config.storage_url)
    store.create_schema()
    client = create_app(config, store=store).test_client()
    def body(n, pn, start=0):
        rows = [{"connectorStockId": f"00000000-0000-4000-8000-{i:012d}", "pn": pn, "materialId": "1",
                 "description": "Fuel pump", "condition": "OH", "priceUsd": 10 + i, "quantity": i,
                 "unit": "EA", "location": "FRA", "tagDate": "2025-06-01", "leadTime": 3,
                 "incidentRelated": False, "timeStampEntry": "2026-01-01 10:00:00", "dbAction": "ADD"}
                for i in range(start + 1, start + n + 1)]
        return json.dumps({"data": {k: [r[k] for r in rows] for k in rows[0]}}).encode()
    sent = [body(5, "2117-6130-101"), body(5, "2117-6130-101"), b'{"data": {"pn": [1]}}', body(3, "X-9", 100)]
    answers = [client.post("/stock-push", data=b, headers={**headers, "Content-Type": "application/json"})
               .status_code for b in sent]
    print(json.dumps(answers))
""")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a PostgreSQL database of its own on the local server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'receiver.db'}"
        return
    base = sa.make_url(request.getfixturevalue("postgres_url"))
    name = f"migrations_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous release's receiver package, extracted from git history."""
    where = tmp_path_factory.mktemp("previous-release")
    archive = where / "release.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), PREVIOUS_RELEASE, "receiver"],
                   check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(where, filter="data")
    assert not (where / "receiver" / "migrations").exists()
    (where / "inventory_push_kit").mkdir()  # under the kit's import name, as the repository lays it out now
    (where / "inventory_push_kit" / "__init__.py").write_text("", encoding="utf-8")
    (where / "inventory_push_kit" / "receiver").symlink_to(Path("..") / "receiver")
    (where / "fixtures").symlink_to(ROOT / "fixtures")  # the old code imports it by its folder name
    return where


def _contents(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            names = [n for n in sa.inspect(conn).get_table_names() if n != "alembic_version"]
            return {name: sorted((tuple(row) for row in conn.execute(sa.text(f"SELECT * FROM {name}"))),  # noqa: S608
                                 key=repr) for name in names}
    finally:
        engine.dispose()


def test_previous_release_database_is_upgraded_in_place(database_url: str, previous_release: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(previous_release)}
    old = subprocess.run([sys.executable, "-c", OLD_PUSHES, database_url, json.dumps(STOCK_HEADERS), API_TOKEN],
                         env=env, cwd=previous_release, capture_output=True, text=True, check=True)
    assert json.loads(old.stdout.strip().splitlines()[-1]) == [200, 200, 422, 200]
    before = _contents(database_url)
    assert len(before["stock"]) == 8 and len(before["deliveries"]) == 4

    config = Path(previous_release) / f"{uuid.uuid4().hex}.toml"
    config.write_text(f'[storage]\nurl = "{database_url}"\n')
    upgraded = subprocess.run([sys.executable, "-m", "inventory_push_kit.receiver", "--config", str(config), "migrate"],
                              cwd=ROOT, capture_output=True, text=True, check=True)
    assert f"to {migrations.head()}" in upgraded.stdout
    after = _contents(database_url)
    assert {name: after[name] for name in before} == before  # nothing stored is lost or changed
    assert not any(after[name] for name in set(after) - set(before))  # the new tables start empty

    store = Store(database_url)
    try:
        with store.engine.connect() as conn:
            assert migrations.current(conn) == migrations.head()
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []  # as a fresh schema
        assert store.create_schema() == (migrations.head(), migrations.head())  # a second run changes nothing
    finally:
        store.dispose()
    again = subprocess.run([sys.executable, "-m", "inventory_push_kit.receiver", "--config", str(config), "migrate"],
                           cwd=ROOT, capture_output=True, text=True, check=True)
    assert "already at revision" in again.stdout


def test_fresh_database_gets_the_full_schema_at_head(database_url: str) -> None:
    store = Store(database_url)
    try:
        assert store.create_schema() == (None, migrations.head())
        with store.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        store.dispose()

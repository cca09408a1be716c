"""The schema's versions (Alembic), configured in code: no ``alembic.ini`` to ship or to find.

:func:`upgrade` brings any database to the current schema: a fresh one gets every table and is
stamped at head; one created by a release before versioning (its tables there, no ``alembic_version``)
is recognised by its tables, stamped at :data:`BASELINE` and upgraded from there; a versioned one is
upgraded from its revision. PostgreSQL takes an advisory lock first, so several instances starting at
once upgrade once.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

BASELINE = "0001"  # the schema of the last release before versioning
_HERE = Path(__file__).resolve().parent


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """Alembic's configuration for these scripts; with a connection, the one the scripts run on."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(_HERE))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def head() -> str:
    """The revision this release's code needs (read once: the scripts do not change while running)."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def current(connection: Connection) -> str | None:
    """The database's revision; None for an unversioned (fresh or pre-versioning) database."""
    return MigrationContext.configure(connection).get_current_revision()


def _unversioned_tables(connection: Connection) -> bool:
    return sa.inspect(connection).has_table("deliveries")


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Create or upgrade the schema to head; returns (revision before, revision after)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7411)")  # serialise DDL across instances
        before = current(conn)
        config = alembic_config(conn)
        if before is None and _unversioned_tables(conn):
            command.stamp(config, BASELINE)
            before = BASELINE + " (unversioned)"
        command.upgrade(config, "head")
        return before, head()

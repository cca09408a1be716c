"""Alembic's environment: runs on the connection :mod:`receiver.migrations` hands it."""

from __future__ import annotations

from alembic import context

from receiver.channels import CHANNELS  # noqa: F401  (every channel's tables on the metadata)
from receiver.storage import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the migrations with `inventory-receiver migrate`")
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()

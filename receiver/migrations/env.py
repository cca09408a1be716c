"""Alembic's environment: runs on the connection :mod:`receiver.migrations` hands it.

It imports nothing of the receiver, so the migrations work under any package name (a customer copying
one channel copies this folder with ``storage.py``). The scripts say what each version creates; the
metadata is only for ``alembic revision --autogenerate``, which a developer runs with it set in
``config.attributes["metadata"]``."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the migrations with `inventory-receiver migrate`")
context.configure(connection=connection, target_metadata=context.config.attributes.get("metadata"),
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()

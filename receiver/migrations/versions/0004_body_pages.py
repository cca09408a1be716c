"""The inspector's page map of a kept body: where each page of its pretty-printed lines starts.

- ``delivery_details.body_pages``: the byte offset and the open containers at the start of every page,
  recorded the first time the body is paged, so a deep page is read from there, not from the start.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery_details") as batch:
        batch.add_column(sa.Column("body_pages", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("delivery_details") as batch:
        batch.drop_column("body_pages")

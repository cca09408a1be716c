"""The inspector's delivery details and filters, and the resend log.

- ``delivery_details``: per delivery, the request's headers (credentials masked), a rejection's problems
  and what an accepted delivery changed (each part capped);
- ``resends``: every re-send of a stored delivery to another receiver;
- indexes for the inspector's filters (outcome, status, newest first) and one S-360 product's history.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "delivery_details",
        sa.Column("delivery_id", Id, autoincrement=False, nullable=False),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("problems", sa.JSON(), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("delivery_id"),
    )
    op.create_table(
        "resends",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("delivery_id", Id, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_resends_delivery", "resends", ["delivery_id"])
    op.create_index("ix_deliveries_outcome_id", "deliveries", ["outcome", "id"])
    op.create_index("ix_deliveries_status_id", "deliveries", ["status", "id"])
    op.create_index("ix_s360_product_changes_product", "s360_product_changes", ["product_id", "delivery_id"])


def downgrade() -> None:
    op.drop_index("ix_s360_product_changes_product", table_name="s360_product_changes")
    op.drop_index("ix_deliveries_status_id", table_name="deliveries")
    op.drop_index("ix_deliveries_outcome_id", table_name="deliveries")
    op.drop_index("ix_resends_delivery", table_name="resends")
    op.drop_table("resends")
    op.drop_table("delivery_details")

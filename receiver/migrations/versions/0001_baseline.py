"""Baseline: the schema of the last release before versioning (every channel's tables, as they were).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ("deliveries", "erp_characteristics", "erp_customers", "erp_engaged_parties", "erp_subscriptions",
          "push_digests", "s360_product_changes", "s360_products", "servicemobility_events",
          "servicemobility_usage", "stock")


def upgrade() -> None:
    op.create_table('deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=True),
    sa.Column('warnings', sa.JSON(), nullable=True),
    sa.Column('body_sha256', sa.String(length=64), nullable=True),
    sa.Column('body_bytes', sa.Integer(), nullable=True),
    sa.Column('content_type', sa.String(length=255), nullable=True),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.Column('raw_body', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_deliveries_channel_id', 'deliveries', ['channel', 'id'], unique=False)
    op.create_table('erp_characteristics',
    sa.Column('subscription_id', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('value_type', sa.Text(), nullable=True),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('type', sa.String(length=16), nullable=True),
    sa.Column('parsed', sa.JSON(), nullable=True),
    sa.Column('problem', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('subscription_id', 'position')
    )
    op.create_index('ix_erp_characteristics_name', 'erp_characteristics', ['name'], unique=False)
    op.create_table('erp_customers',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('delivery_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('erp_engaged_parties',
    sa.Column('subscription_id', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('subscription_id', 'position')
    )
    op.create_index('ix_erp_engaged_parties_customer_id', 'erp_engaged_parties', ['customer_id', 'subscription_id'],
                    unique=False)
    op.create_table('erp_subscriptions',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('agreement_type', sa.Text(), nullable=True),
    sa.Column('document_number', sa.Text(), nullable=True),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('delivery_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('push_digests',
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('delivery_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'body_sha256')
    )
    op.create_table('s360_product_changes',
    sa.Column('delivery_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('product_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('change', sa.String(length=9), nullable=False),
    sa.PrimaryKeyConstraint('delivery_id', 'product_id')
    )
    op.create_table('s360_products',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('state', sa.Text(), nullable=True),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('first_seen_delivery', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('last_changed_delivery', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('last_seen_delivery', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_s360_products_state_id', 's360_products', ['state', 'id'], unique=False)
    op.create_table('servicemobility_events',
    sa.Column('source', sa.String(length=255), nullable=False),
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('time', sa.String(length=24).with_variant(sa.DateTime(timezone=True), 'postgresql'), nullable=True),
    sa.Column('envelope', sa.JSON(), nullable=False),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('delivery_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('delivery_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('source', 'id')
    )
    op.create_index('ix_servicemobility_events_delivery', 'servicemobility_events', ['delivery_id'], unique=False)
    op.create_index('ix_servicemobility_events_type', 'servicemobility_events', ['type', 'delivery_id'], unique=False)
    op.create_table('servicemobility_usage',
    sa.Column('source', sa.String(length=255), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('row_index', sa.Integer(), nullable=False),
    sa.Column('location_index', sa.Integer(), nullable=False),
    sa.Column('item_index', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('rowver', sa.Text(), nullable=False),
    sa.Column('user_id', sa.Text(), nullable=True),
    sa.Column('modified_utc', sa.String(length=24).with_variant(sa.DateTime(timezone=True), 'postgresql'),
              nullable=False),
    sa.Column('ref_module', sa.Text(), nullable=False),
    sa.Column('ref_obj_id', sa.Text(), nullable=False),
    sa.Column('storage_location_id', sa.Text(), nullable=False),
    sa.Column('prod_num', sa.Text(), nullable=False),
    sa.Column('serial_num', sa.Text(), nullable=True),
    sa.Column('batch_num', sa.Text(), nullable=True),
    sa.Column('in_qty', sa.Float().with_variant(sa.Numeric(precision=18, scale=4, asdecimal=False), 'postgresql'),
              nullable=True),
    sa.Column('out_qty', sa.Float().with_variant(sa.Numeric(precision=18, scale=4, asdecimal=False), 'postgresql'),
              nullable=True),
    sa.Column('inventory_qty', sa.Float().with_variant(sa.Numeric(precision=18, scale=4, asdecimal=False),
                                                       'postgresql'), nullable=True),
    sa.Column('reported_damaged_qty', sa.Float().with_variant(sa.Numeric(precision=18, scale=4, asdecimal=False),
                                                              'postgresql'), nullable=True),
    sa.Column('disposition_reasons', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('source', 'event_id', 'row_index', 'location_index', 'item_index')
    )
    op.create_index('ix_servicemobility_usage_object', 'servicemobility_usage', ['ref_module', 'ref_obj_id',
                                                                                 'modified_utc'], unique=False)
    op.create_index('ix_servicemobility_usage_product', 'servicemobility_usage', ['prod_num', 'storage_location_id'],
                    unique=False)
    op.create_table('stock',
    sa.Column('connector_stock_id', sa.String(length=36), nullable=False),
    sa.Column('material_id', sa.Text(), nullable=True),
    sa.Column('pn', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('condition', sa.Text(), nullable=True),
    sa.Column('price_usd', sa.Float().with_variant(sa.Numeric(precision=18, scale=4, asdecimal=False), 'postgresql'),
              nullable=True),
    sa.Column('sn', sa.Text(), nullable=True),
    sa.Column('mfr', sa.Text(), nullable=True),
    sa.Column('mro_approval_no', sa.Text(), nullable=True),
    sa.Column('mro_name', sa.Text(), nullable=True),
    sa.Column('lead_time', sa.Integer(), nullable=True),
    sa.Column('tag_date', sa.String(length=10).with_variant(sa.Date(), 'postgresql'), nullable=True),
    sa.Column('last_operator', sa.Text(), nullable=True),
    sa.Column('last_msn', sa.Text(), nullable=True),
    sa.Column('incident_related', sa.Boolean(), nullable=True),
    sa.Column('quantity', sa.Float().with_variant(sa.Numeric(precision=18, scale=4, asdecimal=False), 'postgresql'),
              nullable=True),
    sa.Column('unit', sa.Text(), nullable=True),
    sa.Column('date_of_manufacture', sa.String(length=10).with_variant(sa.Date(), 'postgresql'), nullable=True),
    sa.Column('time_remaining', sa.Integer(), nullable=True),
    sa.Column('cycles_remaining', sa.Integer(), nullable=True),
    sa.Column('shelf_life', sa.String(length=10).with_variant(sa.Date(), 'postgresql'), nullable=True),
    sa.Column('location', sa.Text(), nullable=True),
    sa.Column('company', sa.Text(), nullable=True),
    sa.Column('time_stamp_entry', sa.String(length=19).with_variant(sa.DateTime(), 'postgresql'), nullable=False),
    sa.Column('db_action', sa.String(length=3), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=True),
    sa.Column('delivery_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('connector_stock_id')
    )
    op.create_index('ix_stock_pn', 'stock', ['pn'], unique=False)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)

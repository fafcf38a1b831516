"""inbound_messages.claimed_at: when a retry took over a message whose first handling died
(NULL: handled from received_at on), so that only one retry takes it over

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 07:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_column('claimed_at')

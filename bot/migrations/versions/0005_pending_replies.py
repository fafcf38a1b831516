"""subscribers.pending_replies: staff replies waiting for the subscriber's next message;
case_messages.notified_at: when a template notice told them a reply waits

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 10:05:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pending_replies', sa.Integer(), server_default='0',
                                      nullable=False))
    with op.batch_alter_table('case_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notified_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('case_messages', schema=None) as batch_op:
        batch_op.drop_column('notified_at')
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('pending_replies')

"""subscribers.dialog_until: the webhook learns from its upsert whether a dialog runs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 10:25:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dialog_until', sa.DateTime(), nullable=True))
    # dialogs started before this revision: their subscribers get the flag
    op.execute("UPDATE subscribers SET dialog_until = (SELECT d.expires_at FROM dialog_states d "
               "WHERE d.account = subscribers.account AND d.openid = subscribers.openid)")


def downgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('dialog_until')

"""case_messages.sending_since: when a reply was claimed for sending, so one left `sending`
by a process that died can be found

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25 13:50:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sending_since', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('case_messages', schema=None) as batch_op:
        batch_op.drop_column('sending_since')

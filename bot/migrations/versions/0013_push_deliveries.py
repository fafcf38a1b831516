"""push_deliveries: the recipients of a push sent as template messages

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25 12:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'push_deliveries',
        sa.Column('id', ID, nullable=False),
        sa.Column('push_id', ID, nullable=False),
        sa.Column('openid', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('msgid', sa.String(length=32), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['push_id'], ['pushes.id'],
                                name=op.f('fk_push_deliveries_push_id_pushes')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_push_deliveries')),
        sa.UniqueConstraint('push_id', 'openid', name=op.f('uq_push_deliveries_push_id_openid')))
    op.create_index('ix_push_deliveries_state', 'push_deliveries', ['push_id', 'state'])
    op.create_index('ix_push_deliveries_msgid', 'push_deliveries', ['msgid'])


def downgrade() -> None:
    op.drop_index('ix_push_deliveries_msgid', table_name='push_deliveries')
    op.drop_index('ix_push_deliveries_state', table_name='push_deliveries')
    op.drop_table('push_deliveries')

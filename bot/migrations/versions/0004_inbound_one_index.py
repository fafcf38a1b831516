"""inbound messages keep only the dedupe index

The webhook writes one inbound_messages row per message before replying. Each index is one
more page in every commit: with (account, openid, received_at) the insert cost 43 µs against
28 µs without it, and each message wrote four WAL pages instead of three (SQLite, WAL,
synchronous=NORMAL; `make bench` p99 at 16 connections 10.8-13.9 ms against 8.7-10.7 ms).
Nothing queried it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 09:40:00
"""
from __future__ import annotations

from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_messages_openid_received')


def downgrade() -> None:
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.create_index('ix_inbound_messages_openid_received',
                              ['account', 'openid', 'received_at'], unique=False)

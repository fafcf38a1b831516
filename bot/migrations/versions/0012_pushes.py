"""pushes: disclosure candidates, the push outbox, digest schedules, topic subscriptions,
the scheduler lease

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 12:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'push_schedules',
        sa.Column('id', ID, nullable=False),
        sa.Column('account', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('cron', sa.String(length=64), nullable=False),
        sa.Column('audience', sa.String(length=16), nullable=False),
        sa.Column('msgtype', sa.String(length=16), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_push_schedules')))
    op.create_table(
        'pushes',
        sa.Column('id', ID, nullable=False),
        sa.Column('account', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('schedule_id', ID, nullable=True),
        sa.Column('audience', sa.String(length=16), nullable=False),
        sa.Column('topic', sa.String(length=32), nullable=False),
        sa.Column('msgtype', sa.String(length=16), nullable=False),
        sa.Column('title', sa.String(length=255), nullable=False),
        sa.Column('slugs', sa.JSON(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('due_at', sa.DateTime(), nullable=False),
        sa.Column('clientmsgid', sa.String(length=64), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('approved_by', sa.String(length=64), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('lease_until', sa.DateTime(), nullable=True),
        sa.Column('media_id', sa.String(length=128), nullable=False),
        sa.Column('msg_id', sa.String(length=32), nullable=False),
        sa.Column('msg_data_id', sa.String(length=32), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('result', sa.String(length=64), nullable=False),
        sa.Column('total_count', sa.Integer(), nullable=True),
        sa.Column('sent_count', sa.Integer(), nullable=True),
        sa.Column('error_count', sa.Integer(), nullable=True),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.Column('result_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['schedule_id'], ['push_schedules.id'],
                                name=op.f('fk_pushes_schedule_id_push_schedules')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pushes')),
        sa.UniqueConstraint('clientmsgid', name=op.f('uq_pushes_clientmsgid')))
    op.create_index('ix_pushes_state_due', 'pushes', ['state', 'due_at'])
    op.create_index('ix_pushes_msg_id', 'pushes', ['msg_id'])
    op.create_table(
        'disclosures',
        sa.Column('id', ID, nullable=False),
        sa.Column('slug', sa.String(length=120), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('category', sa.String(length=32), nullable=False),
        sa.Column('title', sa.String(length=255), nullable=False),
        sa.Column('change', sa.String(length=16), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('push_id', ID, nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['push_id'], ['pushes.id'],
                                name=op.f('fk_disclosures_push_id_pushes')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosures')),
        sa.UniqueConstraint('slug', 'revision', name=op.f('uq_disclosures_slug_revision')))
    op.create_index('ix_disclosures_state', 'disclosures', ['state', 'id'])
    op.create_table(
        'topic_subscriptions',
        sa.Column('id', ID, nullable=False),
        sa.Column('account', sa.String(length=32), nullable=False),
        sa.Column('openid', sa.String(length=64), nullable=False),
        sa.Column('topic', sa.String(length=32), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('tagged', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_topic_subscriptions')),
        sa.UniqueConstraint('account', 'openid', 'topic',
                            name=op.f('uq_topic_subscriptions_account_openid_topic')))
    op.create_index('ix_topic_subscriptions_topic', 'topic_subscriptions', ['account', 'topic'])
    op.create_table(
        'topic_tags',
        sa.Column('id', ID, nullable=False),
        sa.Column('account', sa.String(length=32), nullable=False),
        sa.Column('topic', sa.String(length=32), nullable=False),
        sa.Column('tag_id', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_topic_tags')),
        sa.UniqueConstraint('account', 'topic', name=op.f('uq_topic_tags_account_topic')))
    op.create_table(
        'scheduler_leases',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('owner', sa.String(length=128), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_leases')))


def downgrade() -> None:
    op.drop_table('scheduler_leases')
    op.drop_table('topic_tags')
    op.drop_index('ix_topic_subscriptions_topic', table_name='topic_subscriptions')
    op.drop_table('topic_subscriptions')
    op.drop_index('ix_disclosures_state', table_name='disclosures')
    op.drop_table('disclosures')
    op.drop_index('ix_pushes_msg_id', table_name='pushes')
    op.drop_index('ix_pushes_state_due', table_name='pushes')
    op.drop_table('pushes')
    op.drop_table('push_schedules')

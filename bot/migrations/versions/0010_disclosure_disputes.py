"""disclosure_disputes: administrative reviews and lawsuits about disclosure (report Table 4)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 12:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('disclosure_disputes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('case_number', sa.String(length=16), nullable=False),
    sa.Column('filed_on', sa.Date(), nullable=False),
    sa.Column('result', sa.String(length=16), nullable=False),
    sa.Column('decided_on', sa.Date(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('recorded_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_disputes'))
    )
    with op.batch_alter_table('disclosure_disputes', schema=None) as batch_op:
        batch_op.create_index('ix_disclosure_disputes_filed_on', ['filed_on', 'id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('disclosure_disputes', schema=None) as batch_op:
        batch_op.drop_index('ix_disclosure_disputes_filed_on')
    op.drop_table('disclosure_disputes')

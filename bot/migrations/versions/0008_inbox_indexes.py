"""indexes for the console inbox's keyset pagination (deadline, id), also per department

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 11:02:00
"""
from __future__ import annotations

from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_deadline_id', ['deadline', 'id'], unique=False)
        batch_op.create_index('ix_cases_department_deadline', ['department', 'deadline', 'id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_department_deadline')
        batch_op.drop_index('ix_cases_deadline_id')

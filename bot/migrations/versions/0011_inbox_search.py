"""inbox search: a trigram index over what subscribers wrote, and open cases by deadline

SQLite: an FTS5 table with the trigram tokenizer over cases.description (external content,
so the text is stored once), kept in sync by three triggers; PostgreSQL: a pg_trgm GIN index
on cases.description (ILIKE uses it). Both index the rows already there. A partial index of
the open cases by (deadline, id) serves the overdue / due-soon filters.

SQLite drops a table's triggers when Alembic's batch mode recreates the table: a later
migration that recreates `cases` must run SQLITE_TRIGGERS again (tests/test_inbox_search.py
checks the index stays in sync at head).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 12:10:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

OPEN_CASES = "state IN ('待受理', '办理中')"  # bot.models.cases.OPEN_CASES_SQL, at this revision

SQLITE_TABLE = ("CREATE VIRTUAL TABLE cases_fts USING fts5(description, content='cases', "
                "content_rowid='id', tokenize='trigram')")
SQLITE_TRIGGERS = (
    """CREATE TRIGGER cases_fts_insert AFTER INSERT ON cases BEGIN
         INSERT INTO cases_fts(rowid, description) VALUES (new.id, new.description);
       END""",
    """CREATE TRIGGER cases_fts_delete AFTER DELETE ON cases BEGIN
         INSERT INTO cases_fts(cases_fts, rowid, description)
         VALUES ('delete', old.id, old.description);
       END""",
    """CREATE TRIGGER cases_fts_update AFTER UPDATE OF id, description ON cases BEGIN
         INSERT INTO cases_fts(cases_fts, rowid, description)
         VALUES ('delete', old.id, old.description);
         INSERT INTO cases_fts(rowid, description) VALUES (new.id, new.description);
       END""",
)


def _trgm_schema(bind) -> str:
    """The schema holding pg_trgm, installed into `public` when missing (not into the
    connection's first schema, which may be dropped with everything in it)."""
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
    return bind.execute(sa.text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm'")).scalar_one()


def upgrade() -> None:
    op.create_index('ix_cases_open_deadline', 'cases', ['deadline', 'id'], unique=False,
                    sqlite_where=sa.text(OPEN_CASES), postgresql_where=sa.text(OPEN_CASES))
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        op.execute(SQLITE_TABLE)
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
        op.execute("INSERT INTO cases_fts(cases_fts) VALUES ('rebuild')")
    elif bind.dialect.name == 'postgresql':
        schema = _trgm_schema(bind)
        op.execute(f'CREATE INDEX ix_cases_description_trgm ON cases '
                   f'USING gin (description "{schema}".gin_trgm_ops)')


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        for trigger in ('cases_fts_update', 'cases_fts_delete', 'cases_fts_insert'):
            op.execute(f'DROP TRIGGER IF EXISTS {trigger}')
        op.execute('DROP TABLE IF EXISTS cases_fts')
    elif bind.dialect.name == 'postgresql':
        # pg_trgm stays: other schemas of the database may use it.
        op.execute('DROP INDEX IF EXISTS ix_cases_description_trgm')
    op.drop_index('ix_cases_open_deadline', table_name='cases')

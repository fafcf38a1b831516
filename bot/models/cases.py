"""Cases (工单): an inquiry or complaint followed from intake to rating, with its history.

Personal data (name, phone, ID number) is stored encrypted (`*_enc` columns, see
bot/services/privacy.py). A CaseEvent is never changed or deleted once written.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import AccountName, Base, BigID, IntPK, OpenID, ShortText, Timestamp

# The open states of bot/services/case_flow.py (OPEN_STATES) as SQL with literal values: a
# partial index is used only by a query that repeats its WHERE clause, literals included.
OPEN_CASES_SQL = "state IN ('待受理', '办理中')"
# What migration 0011 made in SQL the ORM does not describe: on SQLite the FTS5 trigram table
# over cases.description (and its shadow tables; triggers keep it in sync), on PostgreSQL
# the pg_trgm GIN index. Schema comparisons (Alembic autogenerate) leave them out.
SEARCH_INDEX_OBJECTS = frozenset({
    "cases_fts", "cases_fts_data", "cases_fts_idx", "cases_fts_docsize", "cases_fts_config",
    "ix_cases_description_trgm"})


def include_object(_object, name: str | None, _type: str, reflected: bool, _compare_to) -> bool:
    """Alembic's include_object hook: every object but the search index above."""
    return not (reflected and name in SEARCH_INDEX_OBJECTS)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("account", "source_key"),
        Index("ix_cases_state_deadline", "state", "deadline"),
        Index("ix_cases_deadline_id", "deadline", "id"),  # the inbox's keyset pagination
        Index("ix_cases_department_deadline", "department", "deadline", "id"),
        Index("ix_cases_openid", "account", "openid", "received_at"),
        Index("ix_cases_open_deadline", "deadline", "id", sqlite_where=text(OPEN_CASES_SQL),
              postgresql_where=text(OPEN_CASES_SQL)),  # overdue and due-soon filters
    )

    id: Mapped[IntPK]
    number: Mapped[str] = mapped_column(String(16), unique=True)
    account: Mapped[AccountName]
    openid: Mapped[OpenID]
    case_class: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    # what started the case (the confirming message's key): a retry never makes a second case
    source_key: Mapped[str | None] = mapped_column(String(128))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    contact_name_enc: Mapped[str] = mapped_column(Text, default="")
    contact_phone_enc: Mapped[str] = mapped_column(Text, default="")
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    disclosure: Mapped[dict] = mapped_column(JSON, default=dict)  # 依申请公开: Art. 29 fields
    department: Mapped[ShortText]
    assignee: Mapped[ShortText]
    received_at: Mapped[Timestamp]
    deadline: Mapped[dt.date] = mapped_column(Date)
    extended_days: Mapped[int] = mapped_column(Integer, default=0)
    correction_requested_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    first_reply_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    rating: Mapped[ShortText]
    rating_comment: Mapped[str] = mapped_column(Text, default="")
    rated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    reminded_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[Timestamp]


class CaseEvent(Base):
    """One change to a case: who, when, from/to, what. Append-only."""

    __tablename__ = "case_events"

    id: Mapped[IntPK]
    case_id: Mapped[int] = mapped_column(BigID, ForeignKey("cases.id"), index=True)
    at: Mapped[Timestamp]
    actor: Mapped[str] = mapped_column(String(64))  # subscriber | system | staff:<name>
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[ShortText]
    to_state: Mapped[ShortText]
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)


class CaseMessage(Base):
    """What the subscriber sent for a case and every reply to them, with delivery state."""

    __tablename__ = "case_messages"

    id: Mapped[IntPK]
    case_id: Mapped[int] = mapped_column(BigID, ForeignKey("cases.id"), index=True)
    at: Mapped[Timestamp]
    direction: Mapped[str] = mapped_column(String(4))  # in | out
    kind: Mapped[str] = mapped_column(String(16), default="text")  # text | image | voice ...
    content: Mapped[str] = mapped_column(Text, default="")
    media_id: Mapped[ShortText]
    author: Mapped[ShortText]
    # out only: pending (waiting for the window) | sent | failed
    delivery: Mapped[ShortText]
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    delivery_error: Mapped[str] = mapped_column(Text, default="")
    notified_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # template notice sent
    sending_since: Mapped[dt.datetime | None] = mapped_column(DateTime)  # claimed for a send


class CaseCounter(Base):
    """The last case number handed out on a day (numbers unique across processes)."""

    __tablename__ = "case_counters"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


@event.listens_for(CaseEvent, "before_update")
@event.listens_for(CaseEvent, "before_delete")
def _events_are_history(_mapper, _connection, target: CaseEvent) -> None:
    raise PermissionError(f"case event {target.id} is history: never changed or deleted")

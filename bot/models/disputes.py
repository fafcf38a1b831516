"""Administrative reviews and lawsuits about disclosure decisions (annual report, Table 4).

The office records each proceeding by hand: the kind, the related case when there is one, when it
was filed and, once decided, the result and the date. Rows never commit themselves.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, IntPK, Timestamp

# Table 4's three column groups, in the standard order
DISPUTE_KINDS = {
    "review": "行政复议",
    "suit_direct": "行政诉讼（未经复议直接起诉）",
    "suit_after_review": "行政诉讼（复议后起诉）",
}
# results; "pending" (尚未审结) has no decided date
DISPUTE_RESULTS = {
    "upheld": "维持",
    "corrected": "纠正",
    "other": "其他",
    "pending": "尚未审结",
}


class DisclosureDispute(Base):
    """One administrative review (行政复议) or lawsuit (行政诉讼) about a disclosure decision."""

    __tablename__ = "disclosure_disputes"
    __table_args__ = (Index("ix_disclosure_disputes_filed_on", "filed_on", "id"),)

    id: Mapped[IntPK]
    kind: Mapped[str] = mapped_column(String(24))  # a key of DISPUTE_KINDS
    case_number: Mapped[str] = mapped_column(String(16), default="")  # the related case, if any
    filed_on: Mapped[dt.date] = mapped_column(Date)
    result: Mapped[str] = mapped_column(String(16), default="pending")  # a key of DISPUTE_RESULTS
    decided_on: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp]

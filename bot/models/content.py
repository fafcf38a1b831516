"""The knowledge base at run time, and small shared values (the content version)."""

from __future__ import annotations

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, IntPK, Timestamp


class KnowledgeItem(Base):
    """A knowledge item: the run-time truth (loaded from content/data, edited in the console).

    The list-like fields keep content.model's shapes as JSON; `revision` counts changes.
    """

    __tablename__ = "knowledge_items"

    id: Mapped[IntPK]
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    category: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(255))
    summary: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")
    source_url: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    questions: Mapped[list] = mapped_column(JSON, default=list)
    facts: Mapped[list] = mapped_column(JSON, default=list)
    year: Mapped[int | None]
    image: Mapped[str] = mapped_column(Text, default="")
    menu_key: Mapped[str] = mapped_column(String(128), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | archived
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp]


class AppState(Base):
    """Small shared values every process reads, e.g. the content version."""

    __tablename__ = "app_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[Timestamp]

"""Conversations in progress."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import AccountName, Base, IntPK, OpenID, Timestamp


class DialogState(Base):
    """A subscriber's conversation in progress (numbered choices, intake), expiring."""

    __tablename__ = "dialog_states"
    __table_args__ = (UniqueConstraint("account", "openid"),)

    id: Mapped[IntPK]
    account: Mapped[AccountName]
    openid: Mapped[OpenID]
    kind: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[Timestamp]

"""Staff of the office who use the console, and the audit log of what they (and logins) did."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, IntPK, ShortText, Timestamp

ROLES = {"admin": "管理员", "supervisor": "督办", "handler": "承办人", "viewer": "只读"}


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[IntPK]
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[ShortText]
    role: Mapped[str] = mapped_column(String(16))  # a key of ROLES
    department: Mapped[ShortText]  # 承办人 see their department's cases
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[Timestamp]


class AuditEntry(Base):
    """Who did what, when, from where: logins (and failed ones) and every change. Append-only."""

    __tablename__ = "audit_log"

    id: Mapped[IntPK]
    at: Mapped[Timestamp]
    actor: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[ShortText]
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    ip: Mapped[str] = mapped_column(String(64), default="")

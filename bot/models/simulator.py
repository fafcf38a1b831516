"""What the fake WeChat API records and the failures it is told to inject."""

from __future__ import annotations

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, IntPK, ShortText, Timestamp


class SimulatorCall(Base):
    """A call the fake WeChat API received (simulator mode only): the record tests read."""

    __tablename__ = "sim_calls"

    id: Mapped[IntPK]
    appid: Mapped[ShortText]
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(128))
    query: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[int] = mapped_column(Integer, default=200)
    response: Mapped[str] = mapped_column(Text, default="")
    errcode: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[Timestamp]


class SimulatorFault(Base):
    """An injected failure: the next `remaining` calls to `path` fail this way."""

    __tablename__ = "sim_faults"

    id: Mapped[IntPK]
    path: Mapped[str] = mapped_column(String(128), default="*")
    errcode: Mapped[int] = mapped_column(Integer, default=0)
    http_status: Mapped[int] = mapped_column(Integer, default=200)
    delay: Mapped[float] = mapped_column(default=0.0)
    remaining: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[Timestamp]

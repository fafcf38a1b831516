"""Pushes of newly disclosed items: candidates, the outbox, schedules, topic subscriptions.

The web processes only write rows here; the one scheduler process sends (bot.scheduler).
A push moves draft → approved → sending → sent | failed, or → cancelled; `clientmsgid` is
fixed when the row is made, so a send repeated after a crash is recognised by WeChat (45065)
instead of reaching subscribers twice. Rows never commit themselves.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import AccountName, Base, IntPK, OpenID, ShortText, Timestamp

PUSH_STATES = {"draft": "待审核", "approved": "已批准", "sending": "发送中", "sent": "已发送",
               "failed": "失败", "cancelled": "已取消"}
AUDIENCES = {"all": "全部关注者", "topic": "订阅该主题的用户"}
DELIVERY_STATES = {"pending": "待发送", "sending": "发送中", "sent": "已送达", "failed": "失败",
                   "unknown": "结果未知"}
CANDIDATE_STATES = {"pending": "待推送", "queued": "已加入推送", "sent": "已推送",
                    "dismissed": "不推送"}


class Disclosure(Base):
    """A disclosure candidate: a knowledge item that is new or changed since it was last
    pushed. One row per item revision; staff queue it into a push or dismiss it."""

    __tablename__ = "disclosures"
    __table_args__ = (UniqueConstraint("slug", "revision"),
                      Index("ix_disclosures_state", "state", "id"))

    id: Mapped[IntPK]
    slug: Mapped[str] = mapped_column(String(120))
    revision: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(255))
    change: Mapped[str] = mapped_column(String(16))  # new | changed
    state: Mapped[str] = mapped_column(String(16), default="pending")
    push_id: Mapped[int | None] = mapped_column(ForeignKey("pushes.id"))
    created_at: Mapped[Timestamp]


class PushSchedule(Base):
    """A digest schedule of one account: a cron expression in Beijing time."""

    __tablename__ = "push_schedules"

    id: Mapped[IntPK]
    account: Mapped[AccountName]
    name: Mapped[str] = mapped_column(String(64))
    cron: Mapped[str] = mapped_column(String(64))  # minute hour day month day_of_week
    audience: Mapped[str] = mapped_column(String(16), default="all")
    msgtype: Mapped[str] = mapped_column(String(16), default="mpnews")  # mpnews | text
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[Timestamp]


class Push(Base):
    """One broadcast in the outbox."""

    __tablename__ = "pushes"
    __table_args__ = (Index("ix_pushes_state_due", "state", "due_at"),
                      Index("ix_pushes_msg_id", "msg_id"))

    id: Mapped[IntPK]
    account: Mapped[AccountName]
    kind: Mapped[str] = mapped_column(String(16))  # oneoff | digest
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("push_schedules.id"))
    audience: Mapped[str] = mapped_column(String(16), default="all")  # all | topic
    topic: Mapped[str] = mapped_column(String(32), default="")  # a category, for "topic"
    msgtype: Mapped[str] = mapped_column(String(16), default="mpnews")  # mpnews | text
    title: Mapped[ShortText]
    slugs: Mapped[list] = mapped_column(JSON, default=list)  # the items, in order
    text: Mapped[str] = mapped_column(Text, default="")  # the text, or the digest's lead
    state: Mapped[str] = mapped_column(String(16), default="draft")
    due_at: Mapped[dt.datetime] = mapped_column(DateTime)
    clientmsgid: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    approved_by: Mapped[str] = mapped_column(String(64), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    media_id: Mapped[str] = mapped_column(String(128), default="")
    msg_id: Mapped[str] = mapped_column(String(32), default="")
    msg_data_id: Mapped[str] = mapped_column(String(32), default="")
    note: Mapped[str] = mapped_column(Text, default="")  # why it waits, failed or was deferred
    result: Mapped[str] = mapped_column(String(64), default="")  # the JOBFINISH Status
    total_count: Mapped[int | None] = mapped_column(Integer)
    sent_count: Mapped[int | None] = mapped_column(Integer)
    error_count: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    result_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[Timestamp]
    updated_at: Mapped[Timestamp]


class PushDelivery(Base):
    """One recipient of a push sent as template messages (one call each): claimed before
    the call, so a crash between the call and the record leaves it "unknown", never resent."""

    __tablename__ = "push_deliveries"
    __table_args__ = (UniqueConstraint("push_id", "openid"),
                      Index("ix_push_deliveries_state", "push_id", "state"),
                      Index("ix_push_deliveries_msgid", "msgid"))

    id: Mapped[IntPK]
    push_id: Mapped[int] = mapped_column(ForeignKey("pushes.id"))
    openid: Mapped[OpenID]
    state: Mapped[str] = mapped_column(String(16), default="pending")  # DELIVERY_STATES
    msgid: Mapped[str] = mapped_column(String(32), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[Timestamp]


class TopicSubscription(Base):
    """A subscriber's topic (a knowledge category), mirrored at WeChat as a user tag.

    `active` is what the subscriber asked for, `tagged` what WeChat was last told; a row
    where they differ still has to be synced (tag or untag)."""

    __tablename__ = "topic_subscriptions"
    __table_args__ = (UniqueConstraint("account", "openid", "topic"),
                      Index("ix_topic_subscriptions_topic", "account", "topic"))

    id: Mapped[IntPK]
    account: Mapped[AccountName]
    openid: Mapped[OpenID]
    topic: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # they want it (退订: False)
    tagged: Mapped[bool] = mapped_column(Boolean, default=False)  # WeChat has the tag on them
    updated_at: Mapped[Timestamp]
    created_at: Mapped[Timestamp]


class TopicTag(Base):
    """The WeChat tag that stands for a topic in one account."""

    __tablename__ = "topic_tags"
    __table_args__ = (UniqueConstraint("account", "topic"),)

    id: Mapped[IntPK]
    account: Mapped[AccountName]
    topic: Mapped[str] = mapped_column(String(32))
    tag_id: Mapped[int] = mapped_column(Integer)


class SchedulerLease(Base):
    """Who runs the scheduler: one process holds the lease and renews it; a second process
    started by mistake waits until the lease lapses."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    note: Mapped[str] = mapped_column(Text, default="")

"""Subscribers, the inbound message log, access tokens and outbound sends (per account)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import AccountName, Base, IntPK, OpenID, ShortText, Timestamp


class Subscriber(Base):
    """A follower of one account; the 48-hour customer-service window is tracked here."""

    __tablename__ = "subscribers"
    __table_args__ = (UniqueConstraint("account", "openid"),)

    id: Mapped[IntPK]
    account: Mapped[AccountName]
    openid: Mapped[OpenID]
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True)
    subscribed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    unsubscribed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    first_seen_at: Mapped[Timestamp]
    last_seen_at: Mapped[Timestamp]
    # Window opened by the subscriber's last message: 48 h, 5 customer-service messages.
    last_message_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    message_window_sent: Mapped[int] = mapped_column(Integer, default=0)
    # Window opened by a menu click, follow or scan: 1 minute, 3 messages.
    last_event_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    event_window_sent: Mapped[int] = mapped_column(Integer, default=0)
    # Staff replies waiting for the subscriber's next message (the window was closed):
    # the webhook learns of them from the upsert it does anyway, and delivers them.
    pending_replies: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Until when the subscriber's dialog (bot/services/dialogs.py) runs, NULL without one:
    # the upsert returns it, so a message without a dialog costs no lookup.
    dialog_until: Mapped[dt.datetime | None] = mapped_column(DateTime)


class InboundMessage(Base):
    """Every message WeChat delivered, claimed once by its key before any handler runs.

    The row is both the dedupe claim and the message log: a retry finds it and gets
    the stored reply (or `success` while the first delivery is still being handled).

    Its only index is the dedupe key: every index is one more page written per message
    (an index on openid cost 15 µs and a quarter of the WAL traffic per message, measured
    in migration 0004). A subscriber's conversation is kept with their cases.
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("account", "msg_key"),)

    id: Mapped[IntPK]
    account: Mapped[AccountName]
    msg_key: Mapped[str] = mapped_column(String(128))
    openid: Mapped[OpenID]
    msg_type: Mapped[str] = mapped_column(String(32))
    event: Mapped[ShortText]
    content: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[Timestamp]
    # processing -> answered | deferred -> sent | failed
    status: Mapped[str] = mapped_column(String(16), default="processing")
    reply_kind: Mapped[str] = mapped_column(String(16), default="")
    reply_xml: Mapped[str] = mapped_column(Text, default="")
    reply_text: Mapped[str] = mapped_column(Text, default="")
    # what answered: "group:kind" of the rule, "fallback:none" when the search had nothing
    rule: Mapped[str] = mapped_column(String(64), default="", server_default="")
    handled_ms: Mapped[float | None]
    retries: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    # when a retry took over a handling that died (bot/services/messages.py `_retry`)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class AccessToken(Base):
    """The shared access token of one account, refreshed by one process at a time."""

    __tablename__ = "access_tokens"

    account: Mapped[str] = mapped_column(String(32), primary_key=True)
    token: Mapped[str] = mapped_column(String(512), default="")
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    refreshing_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[Timestamp]


class OutboundMessage(Base):
    """Every attempt to send a customer-service or template message, and its result."""

    __tablename__ = "outbound_messages"
    __table_args__ = (Index("ix_outbound_messages_openid", "account", "openid", "created_at"),)

    id: Mapped[IntPK]
    account: Mapped[AccountName]
    openid: Mapped[OpenID]
    kind: Mapped[str] = mapped_column(String(16))  # custom | template
    payload: Mapped[str] = mapped_column(Text)
    # sent | refused (window or quota, not sent) | failed (the API said no)
    status: Mapped[str] = mapped_column(String(16))
    errcode: Mapped[int] = mapped_column(Integer, default=0)
    errmsg: Mapped[ShortText]
    wechat_msgid: Mapped[ShortText]
    inbound_id: Mapped[int | None]
    created_at: Mapped[Timestamp]

"""Subscriber rows: follow state, last interaction, and the customer-service windows.

WeChat lets an account send customer-service messages for 48 hours after a subscriber's
message (5 at most), and for 1 minute after a menu click, follow or scan (3 at most).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from bot.db import utcnow
from bot.dispatch import Incoming
from bot.models import Subscriber
from bot.services.upsert import insert_for

T = Subscriber.__table__
MESSAGE_WINDOW = dt.timedelta(hours=48)
MESSAGE_WINDOW_QUOTA = 5
EVENT_WINDOW = dt.timedelta(minutes=1)
EVENT_WINDOW_QUOTA = 3
# Events that open the short window (https://developers.weixin.qq.com/doc/offiaccount/
# Message_Management/Service_Center_messages.html).
WINDOW_EVENTS = frozenset({"subscribe", "subscribe_scan", "scan", "click", "scancode_push",
                           "scancode_waitmsg"})
# Events WeChat sends about the account's own jobs: not a subscriber's doing.
SYSTEM_EVENTS = frozenset({"masssendjobfinish", "templatesendjobfinish", "publishjobfinish",
                           "freepublishjobfinish"})


def touch(conn: Connection, msg: Incoming, now: dt.datetime | None = None) -> None:
    """Keep the subscriber row of `msg` current (upsert)."""
    if msg.is_event and msg.event in SYSTEM_EVENTS:
        return
    now = now or utcnow()
    changes: dict[str, object] = {"last_seen_at": now}
    if not msg.is_event:
        changes.update(last_message_at=now, message_window_sent=0)
    elif msg.event in WINDOW_EVENTS:
        changes.update(last_event_at=now, event_window_sent=0)
    if msg.event in ("subscribe", "subscribe_scan"):
        changes.update(subscribed=True, subscribed_at=now)
    elif msg.event == "unsubscribe":
        changes.update(subscribed=False, unsubscribed_at=now)
    values = {"account": msg.account, "openid": msg.openid, "first_seen_at": now,
              "subscribed": msg.event != "unsubscribe", "message_window_sent": 0,
              "event_window_sent": 0, **changes}
    stmt = insert_for(conn, T).values(**values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["account", "openid"], set_=changes))


@dataclass(frozen=True)
class Window:
    """Whether a customer-service message may go out now, and which window it uses."""

    open: bool
    kind: str = ""  # "message" | "event"
    errcode: int = 0  # 45015 outside every window, 45047 quota used up


def window(conn: Connection, account: str, openid: str, now: dt.datetime | None = None) -> Window:
    now = now or utcnow()
    row = conn.execute(select(T).where(T.c.account == account, T.c.openid == openid)).first()
    if row is None or not row.subscribed:
        return Window(False, errcode=45015)
    in_message = row.last_message_at is not None and now - row.last_message_at < MESSAGE_WINDOW
    in_event = row.last_event_at is not None and now - row.last_event_at < EVENT_WINDOW
    if in_message and row.message_window_sent < MESSAGE_WINDOW_QUOTA:
        return Window(True, "message")
    if in_event and row.event_window_sent < EVENT_WINDOW_QUOTA:
        return Window(True, "event")
    if in_message or in_event:
        return Window(False, errcode=45047)
    return Window(False, errcode=45015)


def consume(conn: Connection, account: str, openid: str, kind: str) -> None:
    """Count one customer-service message against the window `kind`."""
    column = T.c.message_window_sent if kind == "message" else T.c.event_window_sent
    conn.execute(update(T).where(T.c.account == account, T.c.openid == openid)
                 .values({column: column + 1}))

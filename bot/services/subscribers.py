"""Subscriber rows: follow state, last interaction, and the customer-service windows.

WeChat lets an account send customer-service messages for 48 hours after a subscriber's
message (5 at most), and for 1 minute after a menu click, follow or scan (3 at most).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from bot.db import utcnow
from bot.dispatch import Incoming
from bot.models import Subscriber
from bot.services import hotpath

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


_COLUMNS = ("INSERT INTO subscribers (account, openid, subscribed, subscribed_at, "
            "unsubscribed_at, first_seen_at, last_seen_at, last_message_at, message_window_sent, "
            "last_event_at, event_window_sent) ")
_UPSERT = (
    " ON CONFLICT (account, openid) DO UPDATE SET "
    "last_seen_at = excluded.last_seen_at, "
    "last_message_at = COALESCE(excluded.last_message_at, subscribers.last_message_at), "
    "message_window_sent = CASE WHEN excluded.last_message_at IS NULL "
    "THEN subscribers.message_window_sent ELSE 0 END, "
    "last_event_at = COALESCE(excluded.last_event_at, subscribers.last_event_at), "
    "event_window_sent = CASE WHEN excluded.last_event_at IS NULL "
    "THEN subscribers.event_window_sent ELSE 0 END, "
    "subscribed = CASE WHEN excluded.subscribed_at IS NOT NULL THEN TRUE "
    "WHEN excluded.unsubscribed_at IS NOT NULL THEN FALSE ELSE subscribers.subscribed END, "
    "subscribed_at = COALESCE(excluded.subscribed_at, subscribers.subscribed_at), "
    "unsubscribed_at = COALESCE(excluded.unsubscribed_at, subscribers.unsubscribed_at) "
    "RETURNING pending_replies, dialog_until")
_TOUCH = (_COLUMNS + "VALUES (:account, :openid, :subscribed, :subscribed_at, "
          ":unsubscribed_at, :now, :now, :last_message_at, 0, :last_event_at, 0)" + _UPSERT)
"""One upsert for every kind of message: NULLs in the new row mean "leave as it was"; it
returns how many staff replies wait for this subscriber."""
TOUCH_AFTER_CLAIM = (
    _COLUMNS + "SELECT CAST(:account AS varchar), CAST(:openid AS varchar), "
    "CAST(:subscribed AS boolean), CAST(:subscribed_at AS timestamp), "
    "CAST(:unsubscribed_at AS timestamp), CAST(:now AS timestamp), CAST(:now AS timestamp), "
    "CAST(:last_message_at AS timestamp), 0, CAST(:last_event_at AS timestamp), 0 "
    "FROM claimed" + _UPSERT)
"""The same upsert as a PostgreSQL CTE after a CTE `claimed` (bot/services/messages.py):
one row only if the message was claimed, so a retry never touches the subscriber. The
casts type the parameters, which a SELECT list (unlike VALUES) would not infer."""


@dataclass(frozen=True)
class Touched:
    """What the upsert returns: staff replies waiting, and whether a dialog may run."""

    pending_replies: int = 0
    dialog_until: dt.datetime | None = None


def touches(msg: Incoming) -> bool:
    """Whether `msg` is the subscriber's doing (and so updates the subscriber row)."""
    return not (msg.is_event and msg.event in SYSTEM_EVENTS)


def touch_params(conn: Connection, msg: Incoming, now: dt.datetime) -> dict[str, Any]:
    """The parameters of the upsert (`_TOUCH` or `TOUCH_AFTER_CLAIM`) for `msg`."""
    now = hotpath.stamp(conn, now)
    follows = msg.event in ("subscribe", "subscribe_scan")
    return {
        "account": msg.account, "openid": msg.openid, "now": now,
        "subscribed": msg.event != "unsubscribe",
        "subscribed_at": now if follows else None,
        "unsubscribed_at": now if msg.event == "unsubscribe" else None,
        "last_message_at": None if msg.is_event else now,
        "last_event_at": now if msg.event in WINDOW_EVENTS else None,
    }


def touched(pending_replies: Any, dialog_until: Any) -> Touched:
    """What the upsert returned (SQLite returns datetimes as text)."""
    if isinstance(dialog_until, str):
        dialog_until = dt.datetime.fromisoformat(dialog_until)
    return Touched(int(pending_replies or 0), dialog_until)


def touch(conn: Connection, msg: Incoming, now: dt.datetime | None = None) -> Touched:
    """Keep the subscriber row of `msg` current (one upsert)."""
    if not touches(msg):
        return Touched()
    row = hotpath.execute(conn, _TOUCH, touch_params(conn, msg, now or utcnow())).fetchone()
    return Touched() if row is None else touched(*row)


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

"""The inbound message log, which is also the dedupe claim (hot path: Core statements).

`claim()` inserts the message's row with its key before any handler runs, in the same short
transaction that keeps the subscriber row current. A retry of the same key inserts nothing and
gets the state of the first delivery instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from bot.db import utcnow
from bot.dispatch import Incoming
from bot.models import InboundMessage
from bot.services.subscribers import touch
from bot.services.upsert import insert_for

MAX_CONTENT = 4000
T = InboundMessage.__table__


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a message key."""

    id: int
    first: bool
    status: str = "processing"
    reply_xml: str = ""


def describe(msg: Incoming) -> str:
    """What to keep of a message in the log: its text, or what kind of thing it carried."""
    if msg.msg_type == "text":
        return msg.text[:MAX_CONTENT]
    if msg.is_event:
        return msg.event_key[:MAX_CONTENT]
    if msg.media_id:
        return f"media:{msg.media_id}"[:MAX_CONTENT]
    for name in ("Url", "Label", "PicUrl"):
        value = msg.fields.get(name)
        if isinstance(value, str):
            return value[:MAX_CONTENT]
    return ""


def claim(conn: Connection, msg: Incoming, now: dt.datetime | None = None) -> Claim:
    """Claim `msg.msg_key` for `msg.account`; call inside a transaction and commit at once."""
    now = now or utcnow()
    stmt = insert_for(conn, T).values(
        account=msg.account, msg_key=msg.msg_key, openid=msg.openid, msg_type=msg.msg_type,
        event=msg.event[:255], content=describe(msg), received_at=now, status="processing",
        reply_kind="", reply_xml="", reply_text="", retries=0, error="",
    ).on_conflict_do_nothing(index_elements=["account", "msg_key"]).returning(T.c.id)
    new_id = conn.execute(stmt).scalar()
    if new_id is not None:
        touch(conn, msg, now)
        return Claim(new_id, True)
    row = conn.execute(
        select(T.c.id, T.c.status, T.c.reply_xml)
        .where(T.c.account == msg.account, T.c.msg_key == msg.msg_key)
    ).one()
    conn.execute(update(T).where(T.c.id == row.id).values(retries=T.c.retries + 1))
    return Claim(row.id, False, row.status, row.reply_xml)


def finish(conn: Connection, message_id: int, *, status: str, reply_kind: str = "",
           reply_xml: str = "", reply_text: str = "", handled_ms: float | None = None,
           error: str = "") -> None:
    """Record how a claimed message was answered."""
    conn.execute(update(T).where(T.c.id == message_id).values(
        status=status, reply_kind=reply_kind, reply_xml=reply_xml,
        reply_text=reply_text[:MAX_CONTENT], handled_ms=handled_ms, error=error[:2000],
    ))

"""The inbound message log, which is also the dedupe claim (hot path: Core statements).

`claim()` inserts the message's row with its key before any handler runs, in the same short
transaction that keeps the subscriber row current. A retry of the same key inserts nothing and
gets the state of the first delivery instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from bot.db import utcnow
from bot.dispatch import Incoming
from bot.models import InboundMessage
from bot.services.subscribers import touch
from bot.services.upsert import insert_for

# The hot path executes statements built once per dialect with parameters: building a
# statement with literal values costs more than the database round trip (see PERFORMANCE.md).

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


@cache
def _claim_statement(dialect: str):
    return (insert_for(dialect, T).on_conflict_do_nothing(index_elements=["account", "msg_key"])
            .returning(T.c.id))


_RETRY = update(T).where(T.c.id == bindparam("_id")).values(retries=T.c.retries + 1)
_FIRST = select(T.c.id, T.c.status, T.c.reply_xml).where(
    T.c.account == bindparam("_account"), T.c.msg_key == bindparam("_key"))
_FINISH = update(T).where(T.c.id == bindparam("_id")).values(
    status=bindparam("_status"), reply_kind=bindparam("_kind"), reply_xml=bindparam("_xml"),
    reply_text=bindparam("_text"), handled_ms=bindparam("_ms"), error=bindparam("_error"))


def claim(conn: Connection, msg: Incoming, now: dt.datetime | None = None) -> Claim:
    """Claim `msg.msg_key` for `msg.account`; call inside a transaction and commit at once."""
    now = now or utcnow()
    new_id = conn.execute(_claim_statement(conn.dialect.name), {
        "account": msg.account, "msg_key": msg.msg_key, "openid": msg.openid,
        "msg_type": msg.msg_type, "event": msg.event[:255], "content": describe(msg),
        "received_at": now, "status": "processing", "reply_kind": "", "reply_xml": "",
        "reply_text": "", "retries": 0, "error": "",
    }).scalar()
    if new_id is not None:
        touch(conn, msg, now)
        return Claim(new_id, True)
    row = conn.execute(_FIRST, {"_account": msg.account, "_key": msg.msg_key}).one()
    conn.execute(_RETRY, {"_id": row.id})
    return Claim(row.id, False, row.status, row.reply_xml)


def finish(conn: Connection, message_id: int, *, status: str, reply_kind: str = "",
           reply_xml: str = "", reply_text: str = "", handled_ms: float | None = None,
           error: str = "") -> None:
    """Record how a claimed message was answered."""
    conn.execute(_FINISH, {"_id": message_id, "_status": status, "_kind": reply_kind,
                           "_xml": reply_xml, "_text": reply_text[:MAX_CONTENT],
                           "_ms": handled_ms, "_error": error[:2000]})

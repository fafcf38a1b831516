"""The inbound message log, which is also the dedupe claim (hot path: driver-level SQL).

`claim()` inserts the message's row with its key before any handler runs, in the same short
transaction that keeps the subscriber row current. A retry of the same key inserts nothing and
gets the state of the first delivery instead.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from bot.db import utcnow
from bot.dispatch import Incoming
from bot.services import dialogs, hotpath, subscribers

MAX_CONTENT = 4000

# The hot path runs driver-level SQL (bot/services/hotpath.py): it is most of the webhook's
# cost per message.
_CLAIM = (
    "INSERT INTO inbound_messages (account, msg_key, openid, msg_type, event, content, "
    "received_at, status, reply_kind, reply_xml, reply_text, retries, error) VALUES "
    "(:account, :msg_key, :openid, :msg_type, :event, :content, :received_at, 'processing', "
    "'', '', '', 0, '') ON CONFLICT (account, msg_key) DO NOTHING RETURNING id")
_CLAIM_AND_TOUCH = (
    f"WITH claimed AS ({_CLAIM}), touched AS ({subscribers.TOUCH_AFTER_CLAIM}) "
    "SELECT claimed.id, touched.pending_replies, touched.dialog_until "
    "FROM claimed LEFT JOIN touched ON TRUE")
"""PostgreSQL only: the claim and the subscriber upsert in one round trip (no row: a retry,
and the subscriber row is left alone). SQLite runs the two statements in process."""
_CLAIM_ANSWERED = (
    "WITH quiet AS (SELECT CAST(:answered AS boolean) AND NOT EXISTS (SELECT 1 FROM subscribers "
    "WHERE account = :account AND openid = :openid AND dialog_until > CAST(:now AS timestamp)) "
    "AS yes), "
    "claimed AS (INSERT INTO inbound_messages (account, msg_key, openid, msg_type, event, "
    "content, received_at, status, reply_kind, reply_xml, reply_text, retries, error, "
    "handled_ms, rule) SELECT CAST(:account AS varchar), CAST(:msg_key AS varchar), "
    "CAST(:openid AS varchar), CAST(:msg_type AS varchar), CAST(:event AS varchar), "
    "CAST(:content AS text), CAST(:received_at AS timestamp), "
    "CASE WHEN yes THEN 'answered' ELSE 'processing' END, "
    "CASE WHEN yes THEN CAST(:kind AS varchar) ELSE '' END, "
    "CASE WHEN yes THEN CAST(:xml AS text) ELSE '' END, "
    "CASE WHEN yes THEN CAST(:text AS text) ELSE '' END, 0, '', "
    "CASE WHEN yes THEN CAST(:ms AS double precision) END, "
    "CASE WHEN yes THEN CAST(:rule AS varchar) ELSE '' END FROM quiet "
    "ON CONFLICT (account, msg_key) DO NOTHING RETURNING id, status), "
    f"touched AS ({subscribers.TOUCH_AFTER_CLAIM}) "
    "SELECT claimed.id, claimed.status, touched.pending_replies, touched.dialog_until, "
    "dialog.kind, dialog.data, dialog.expires_at "
    "FROM claimed LEFT JOIN touched ON TRUE LEFT JOIN dialog_states dialog "
    "ON claimed.status = 'processing' AND touched.dialog_until > CAST(:now AS timestamp) "
    "AND dialog.account = :account AND dialog.openid = :openid")
"""PostgreSQL only, one statement on its own (autocommit): the claim with the answer already
found in memory, stored unless the subscriber has a dialog running (then the message is
claimed `processing`, and the dialog, read in the same statement, goes to its handlers),
and the subscriber upsert."""
_TAKE_OVER = ("UPDATE inbound_messages SET claimed_at = :now WHERE id = :id "
              "AND status = 'processing' AND COALESCE(claimed_at, received_at) < :cutoff "
              "RETURNING id")
"""A retry takes over a message whose handling began before `cutoff` and never ended (its
process died, or the database went away before the reply was written): compare-and-set, so
one retry takes it over, and that one may be taken over in turn if it dies too."""
_RETRY = ("UPDATE inbound_messages SET retries = retries + 1 "
          "WHERE account = :account AND msg_key = :msg_key RETURNING id, status, reply_xml")
"""A retry: counted, and answered with the first delivery's state (in one statement)."""
_FINISH = ("UPDATE inbound_messages SET status = :status, reply_kind = :reply_kind, "
           "reply_xml = :xml, reply_text = :text, handled_ms = :ms, error = :error, "
           "rule = :rule WHERE id = :id")


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a message key."""

    id: int
    first: bool
    status: str = "processing"
    reply_xml: str = ""
    dialog: dialogs.Dialog | None = None  # the subscriber's conversation in progress
    pending_replies: int = 0  # staff replies waiting for this subscriber's next message
    taken_over: bool = False  # a retry handling a message whose first handling died


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


def claim(conn: Connection, msg: Incoming, now: dt.datetime | None = None,
          stale_after: dt.timedelta | None = None) -> Claim:
    """Claim `msg.msg_key` for `msg.account`; call inside a transaction and commit at once.
    A retry takes over a first handling abandoned for `stale_after` (see `_retry`)."""
    now = now or utcnow()
    params = {"account": msg.account, "msg_key": msg.msg_key, "openid": msg.openid,
              "msg_type": msg.msg_type, "event": msg.event[:255], "content": describe(msg),
              "received_at": hotpath.stamp(conn, now)}
    if conn.dialect.name == "postgresql" and subscribers.touches(msg):
        params.update(subscribers.touch_params(conn, msg, now))
        row = hotpath.execute(conn, _CLAIM_AND_TOUCH, params).fetchone()
        touched = None if row is None else subscribers.touched(row[1], row[2])
    else:
        row = hotpath.execute(conn, _CLAIM, params).fetchone()
        touched = None if row is None else subscribers.touch(conn, msg, now)
    if row is not None:
        dialog = None
        if touched.dialog_until is not None and touched.dialog_until > now:
            dialog = dialogs.read(conn, msg.account, msg.openid, now)
        return Claim(row[0], True, dialog=dialog, pending_replies=touched.pending_replies)
    return _retry(conn, msg, now, stale_after)


def _retry(conn: Connection, msg: Incoming, now: dt.datetime,
           stale_after: dt.timedelta | None) -> Claim:
    """A retry of a claimed key: counted, and given the first delivery's state, unless the
    first handling was abandoned (still `processing` after `stale_after`): then this retry
    takes the message over and is handled as if first (its Claim says `first`)."""
    first = hotpath.execute(conn, _RETRY, {"account": msg.account,
                                           "msg_key": msg.msg_key}).fetchone()
    if first[1] != "processing" or stale_after is None:
        return Claim(first[0], False, first[1], first[2])
    taken = hotpath.execute(conn, _TAKE_OVER, {
        "id": first[0], "now": hotpath.stamp(conn, now),
        "cutoff": hotpath.stamp(conn, now - stale_after)}).fetchone()
    if taken is None:  # still being handled, or another retry took it over
        return Claim(first[0], False, first[1], first[2])
    return Claim(first[0], True, dialog=dialogs.read(conn, msg.account, msg.openid, now),
                 taken_over=True)


@dataclass(frozen=True)
class Answer:
    """A reply found before the claim (by handlers that need no database)."""

    kind: str
    xml: str
    text: str
    rule: str
    handled_ms: float


def claim_answered(conn: Connection, msg: Incoming, answer: Answer | None,
                   now: dt.datetime | None = None,
                   stale_after: dt.timedelta | None = None) -> Claim:
    """PostgreSQL: claim `msg` with `answer` in one statement, outside any transaction (the
    hot connection is switched to autocommit for it). The Claim's status says what came of
    it: "answered" (stored: the reply is `answer`), "processing" (claimed, a dialog runs or
    there was no answer: the caller goes on as after `claim`), or a retry's first state."""
    now = now or utcnow()
    params = {"account": msg.account, "msg_key": msg.msg_key, "openid": msg.openid,
              "msg_type": msg.msg_type, "event": msg.event[:255], "content": describe(msg),
              "received_at": now, **subscribers.touch_params(conn, msg, now),
              "answered": answer is not None, "kind": answer.kind if answer else "",
              "xml": answer.xml if answer else "",
              "text": answer.text[:MAX_CONTENT] if answer else "",
              "ms": answer.handled_ms if answer else None,
              "rule": answer.rule[:64] if answer else ""}
    with hotpath.autocommit(conn):
        row = hotpath.execute(conn, _CLAIM_ANSWERED, params).fetchone()
        if row is None:
            return _retry(conn, msg, now, stale_after)
    touched = subscribers.touched(row[2], row[3])
    if row[1] == "answered":
        return Claim(row[0], True, "answered", answer.xml,
                     pending_replies=touched.pending_replies)
    dialog = None if row[4] is None else dialogs.from_row(row[4:], now)
    return Claim(row[0], True, dialog=dialog, pending_replies=touched.pending_replies)


def finish(conn: Connection, message_id: int, *, status: str, reply_kind: str = "",
           reply_xml: str = "", reply_text: str = "", handled_ms: float | None = None,
           error: str = "", rule: str = "", msg: Incoming | None = None,
           change: dialogs.Change | None = None) -> None:
    """Record how a claimed message was answered (and by which rule), with what its handlers
    did to the dialog of `msg`'s subscriber (`change`). On PostgreSQL that is one statement,
    which may run on its own (autocommit): the reply and the dialog are written together."""
    params = {"id": message_id, "status": status, "reply_kind": reply_kind, "xml": reply_xml,
              "text": reply_text[:MAX_CONTENT], "ms": handled_ms, "error": error[:2000],
              "rule": rule[:64]}
    if change is None:
        hotpath.execute(conn, _FINISH, params)
    elif conn.dialect.name == "postgresql":
        params.update(dialogs.change_params(conn, msg.account, msg.openid, change))
        tail = dialogs.CLEAR_WITH if change.dialog is None else dialogs.SET_WITH
        hotpath.execute(conn, f"WITH finished AS ({_FINISH}), {tail}", params)
    else:
        hotpath.execute(conn, _FINISH, params)
        dialogs.apply(conn, msg.account, msg.openid, change)

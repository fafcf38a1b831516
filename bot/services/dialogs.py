"""A subscriber's conversation in progress: one expiring row per subscriber (hot path SQL).

The webhook reads the row while claiming a message (`read`, one indexed lookup in the claim's
transaction, made only when the subscriber upsert's `dialog_until` says a dialog may run) and
hands it to the handlers as `ctx.dialog`; what handlers change is applied
(`apply`) in the transaction that records the reply, so the dialog and the message log never
disagree. A dialog past its expiry reads as none.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from bot.db import utcnow
from bot.services import hotpath

_READ = ("SELECT kind, data, expires_at FROM dialog_states "
         "WHERE account = :account AND openid = :openid")
_SET = ("INSERT INTO dialog_states (account, openid, kind, data, expires_at, updated_at) "
        "VALUES (:account, :openid, :kind, :data, :expires_at, :now) "
        "ON CONFLICT (account, openid) DO UPDATE SET kind = excluded.kind, "
        "data = excluded.data, expires_at = excluded.expires_at, updated_at = excluded.updated_at")
_CLEAR = "DELETE FROM dialog_states WHERE account = :account AND openid = :openid"
_FLAG = ("UPDATE subscribers SET dialog_until = :until "
         "WHERE account = :account AND openid = :openid")
SET_WITH = f"dialog AS ({_SET}) {_FLAG}"
"""PostgreSQL: `apply` of a started dialog as the tail of one statement (after a CTE)."""
CLEAR_WITH = f"dialog AS ({_CLEAR}) {_FLAG}"
"""PostgreSQL: `apply` of an ended dialog as the tail of one statement (after a CTE)."""


@dataclass(frozen=True)
class Dialog:
    """A conversation in progress: its kind ("choose", "case", ...) and its data."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class Change:
    """What a handler did to the dialog: start (or replace) one, or end it."""

    dialog: Dialog | None  # None: end the dialog


def _datetime(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def read(conn: Connection, account: str, openid: str,
         now: dt.datetime | None = None) -> Dialog | None:
    """The subscriber's dialog, or None (never had one, ended, or expired)."""
    row = hotpath.execute(conn, _READ, {"account": account, "openid": openid}).fetchone()
    return None if row is None else from_row(row, now)


def from_row(row: Any, now: dt.datetime | None = None) -> Dialog | None:
    """The dialog of a (kind, data, expires_at) row, or None if it expired."""
    kind, data, expires_at = row
    expires_at = _datetime(expires_at)
    if expires_at <= (now or utcnow()):
        return None
    if isinstance(data, str):
        data = json.loads(data)
    return Dialog(kind, data if isinstance(data, dict) else {}, expires_at)


def apply(conn: Connection, account: str, openid: str, change: Change | None,
          now: dt.datetime | None = None) -> None:
    """Write `change` (inside the caller's transaction); None changes nothing."""
    if change is None:
        return
    params = change_params(conn, account, openid, change, now)
    hotpath.execute(conn, _CLEAR if change.dialog is None else _SET, params)
    hotpath.execute(conn, _FLAG, params)


def change_params(conn: Connection, account: str, openid: str, change: Change,
                  now: dt.datetime | None = None) -> dict[str, Any]:
    """The parameters of `apply`'s statements (and of SET_WITH / CLEAR_WITH)."""
    if change.dialog is None:
        return {"account": account, "openid": openid, "until": None}
    now = now or utcnow()
    dialog = change.dialog
    until = hotpath.stamp(conn, dialog.expires_at or now)
    return {"account": account, "openid": openid, "kind": dialog.kind,
            "data": json.dumps(dialog.data, ensure_ascii=False),  # psycopg sends str untyped
            "expires_at": until, "now": hotpath.stamp(conn, now), "until": until}

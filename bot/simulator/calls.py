"""The fake WeChat API's record of calls and its injected faults: database rows that every
worker process shares."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from bot.db import utcnow
from bot.models import SimulatorCall, SimulatorFault

CALLS = SimulatorCall.__table__
FAULTS = SimulatorFault.__table__
MAX_DELAY = 30.0


def record(engine: Engine, values: dict, payload: dict | Callable[[int], dict]) -> str:
    """Store one call with its answer (JSON text, returned). A callable payload is given
    the new row's id first (a token names the call that issued it)."""
    with engine.begin() as conn:
        if callable(payload):
            call_id = conn.execute(CALLS.insert().values(**values, response="", errcode=0)) \
                .inserted_primary_key[0]
            text, errcode = _dumped(payload(call_id))
            conn.execute(update(CALLS).where(CALLS.c.id == call_id)
                         .values(response=text, errcode=errcode))
        else:
            text, errcode = _dumped(payload)
            conn.execute(CALLS.insert().values(**values, response=text, errcode=errcode))
    return text


def _dumped(payload: dict) -> tuple[str, int]:
    return json.dumps(payload, ensure_ascii=False), int(payload.get("errcode", 0) or 0)


def addressed_to(body: Any, openid: str) -> bool:
    if not isinstance(body, dict):
        return False
    touser = body.get("touser")
    return touser == openid or (isinstance(touser, list) and openid in touser)


def call_json(row: Any) -> dict:
    return {"id": row.id, "appid": row.appid, "method": row.method, "path": row.path,
            "query": row.query, "body": parsed(row.body), "status": row.status,
            "errcode": row.errcode, "response": parsed(row.response),
            "created_at": row.created_at.isoformat()}


def parsed(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def take_fault(engine: Engine, path: str) -> Any:
    """Consume one injected fault for `path` (or "*"), safely across processes: the
    conditional UPDATE lets exactly `count` requests have it."""
    with engine.begin() as conn:
        rows = conn.execute(select(FAULTS).where(FAULTS.c.remaining > 0,
                                                 FAULTS.c.path.in_([path, "*"]))
                            .order_by(FAULTS.c.id)).all()
        for row in rows:
            taken = conn.execute(update(FAULTS).where(FAULTS.c.id == row.id,
                                                      FAULTS.c.remaining > 0)
                                 .values(remaining=FAULTS.c.remaining - 1)).rowcount
            if taken:
                return row
    return None


def fault_values(data: Any) -> tuple[dict, str]:
    if not isinstance(data, dict):
        return {}, "a JSON object expected"
    try:
        values = {"path": str(data.get("path", "*")).strip("/") or "*",
                  "errcode": int(data.get("errcode", 0)),
                  "http_status": int(data.get("http_status", 200)),
                  "delay": float(data.get("delay", 0.0)),
                  "remaining": int(data.get("count", 1))}
    except (TypeError, ValueError):
        return {}, "errcode, http_status and count are integers, delay a number"
    if not 200 <= values["http_status"] <= 599:
        return {}, "http_status between 200 and 599"
    if not 0 <= values["delay"] <= MAX_DELAY or values["remaining"] < 1:
        return {}, f"delay between 0 and {MAX_DELAY:g} seconds, count at least 1"
    if not (values["errcode"] or values["http_status"] >= 400 or values["delay"]):
        return {}, "a fault needs an errcode, an http_status of 400 or more, or a delay"
    return values, ""


def add_fault(engine: Engine, values: dict) -> None:
    with engine.begin() as conn:
        conn.execute(FAULTS.insert().values(**values, created_at=utcnow()))


def clear_faults(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(FAULTS))


def pending_faults(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(FAULTS).where(FAULTS.c.remaining > 0)
                            .order_by(FAULTS.c.id)).all()
    return [{"id": r.id, "path": r.path, "errcode": r.errcode, "http_status": r.http_status,
             "delay": r.delay, "count": r.remaining} for r in rows]

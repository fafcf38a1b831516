"""A fake WeChat API over real HTTP (/sim/api/...): answers like WeChat, errors included.

Every call is recorded (GET /sim/api/_calls lists them, newest last); failures can be injected
(POST /sim/api/_faults). State lives in the database so several workers agree. Tokens are
HMAC-signed, so any process can check them. Endpoint shapes follow
https://developers.weixin.qq.com/doc/offiaccount/ (token, custom send, template, mass, draft,
freepublish, menu, tags, media).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy import delete, select, update

from bot.config import Account
from bot.db import utcnow
from bot.models import SimulatorCall, SimulatorFault
from bot.simulator import wechat_rules as rules

blueprint = Blueprint("sim_api", __name__)
TOKEN_TTL = 7200


def _runtime():
    return current_app.extensions["hotline"]


def _accounts() -> tuple[Account, ...]:
    return _runtime().settings.accounts


def _signer(account: Account) -> bytes:
    return hashlib.sha256(f"sim-token:{account.appid}:{account.secret}".encode()).digest()


def issue_token(account: Account, now: float | None = None) -> str:
    expires = int((now or time.time()) + TOKEN_TTL)
    payload = base64.urlsafe_b64encode(f"{account.appid}|{expires}|{secrets.token_hex(4)}"
                                       .encode()).decode().rstrip("=")
    mac = hmac.new(_signer(account), payload.encode(), "sha256").hexdigest()[:32]
    return f"SIM1.{payload}.{mac}"


def check_token(token: str) -> tuple[Account | None, int]:
    """(account, 0) for a valid token; (None, errcode) otherwise."""
    if not token:
        return None, 41001
    try:
        _prefix, payload, mac = token.split(".")
        appid, expires, _nonce = base64.urlsafe_b64decode(payload + "==").decode().split("|")
    except (ValueError, UnicodeDecodeError):
        return None, 40001
    for account in _accounts():
        if account.appid == appid:
            good = hmac.new(_signer(account), payload.encode(), "sha256").hexdigest()[:32]
            if not hmac.compare_digest(good, mac):
                return None, 40001
            return (account, 0) if int(expires) > time.time() else (None, 42001)
    return None, 40001


def _answer(payload: dict, status: int = 200, appid: str = "") -> Response:
    body = json.dumps(payload, ensure_ascii=False)
    with _runtime().engine.begin() as conn:
        conn.execute(SimulatorCall.__table__.insert().values(
            appid=appid, method=request.method, path=request.view_args.get("path", ""),
            query=request.query_string.decode("utf-8", "replace")[:2000],
            body=request.get_data(as_text=True)[:20000], status=status, response=body,
            errcode=int(payload.get("errcode", 0) or 0), created_at=utcnow()))
    return Response(body, status=status, mimetype="application/json")


def _take_fault(path: str) -> SimulatorFault | None:
    """Consume one injected fault for `path`, safely across processes."""
    table = SimulatorFault.__table__
    with _runtime().engine.begin() as conn:
        rows = conn.execute(select(table).where(table.c.remaining > 0,
                                                table.c.path.in_([path, "*"]))
                            .order_by(table.c.id)).all()
        for row in rows:
            taken = conn.execute(update(table).where(table.c.id == row.id,
                                                     table.c.remaining > 0)
                                 .values(remaining=table.c.remaining - 1)).rowcount
            if taken:
                return row
    return None


@blueprint.route("/<path:path>", methods=["GET", "POST"])
def api(path: str) -> Response:
    if path.startswith("_"):
        return Response("not found", status=404)
    fault = _take_fault(path)
    if fault is not None:
        if fault.delay:
            time.sleep(min(fault.delay, 30))
        if fault.http_status >= 400:
            return _answer({"errcode": -1, "errmsg": "system error"}, fault.http_status)
        if fault.errcode:
            return _answer({"errcode": fault.errcode,
                            "errmsg": rules.ERRMSG.get(fault.errcode, "injected")})
    if path in ("token", "stable_token"):
        return _token(path)
    account, errcode = check_token(request.args.get("access_token", ""))
    if account is None:
        return _answer({"errcode": errcode, "errmsg": rules.ERRMSG[errcode]})
    handler = rules.HANDLERS.get(path)
    if handler is None:
        return _answer({"errcode": 48001, "errmsg": "api unauthorized"}, appid=account.appid)
    if path == "media/upload" or path == "material/add_material":
        return _answer(handler(account, request.files, request.args), appid=account.appid)
    try:
        data = json.loads(request.get_data(as_text=True) or "{}")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return _answer({"errcode": 47001, "errmsg": "data format error"}, appid=account.appid)
    return _answer(handler(account, data, _runtime()), appid=account.appid)


def _token(path: str) -> Response:
    if path == "token":
        params: dict[str, Any] = request.args
    else:
        try:
            params = json.loads(request.get_data(as_text=True) or "{}")
        except ValueError:
            return _answer({"errcode": 47001, "errmsg": "data format error"})
    if params.get("grant_type") != "client_credential":
        return _answer({"errcode": 40002, "errmsg": "invalid grant_type"})
    appid = params.get("appid", "")
    account = next((a for a in _accounts() if a.appid == appid), None)
    if account is None:
        return _answer({"errcode": 40013, "errmsg": "invalid appid"})
    if not hmac.compare_digest(str(params.get("secret", "")), account.secret):
        return _answer({"errcode": 40125, "errmsg": "invalid appsecret"}, appid=appid)
    return _answer({"access_token": issue_token(account), "expires_in": TOKEN_TTL}, appid=appid)


@blueprint.get("/_calls")
def list_calls() -> Response:
    table = SimulatorCall.__table__
    query = select(table).order_by(table.c.id)
    if request.args.get("path"):
        query = query.where(table.c.path == request.args["path"])
    since = request.args.get("since", "")
    if since.isdigit():
        query = query.where(table.c.id > int(since))
    with _runtime().engine.connect() as conn:
        rows = conn.execute(query.limit(5000)).all()
    touser = request.args.get("touser")
    calls = [_call_json(row) for row in rows]
    if touser:
        calls = [c for c in calls if isinstance(c["body"], dict)
                 and c["body"].get("touser") == touser]
    return Response(json.dumps(calls, ensure_ascii=False), mimetype="application/json")


def _parsed(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _call_json(row) -> dict:
    return {"id": row.id, "appid": row.appid, "method": row.method, "path": row.path,
            "query": row.query, "body": _parsed(row.body), "status": row.status,
            "errcode": row.errcode, "response": _parsed(row.response),
            "created_at": row.created_at.isoformat()}


@blueprint.delete("/_calls")
def clear_calls() -> Response:
    with _runtime().engine.begin() as conn:
        conn.execute(delete(SimulatorCall.__table__))
    return Response("{}", mimetype="application/json")


@blueprint.route("/_faults", methods=["GET", "POST", "DELETE"])
def faults() -> Response:
    table = SimulatorFault.__table__
    with _runtime().engine.begin() as conn:
        if request.method == "POST":
            data = request.get_json(silent=True)
            if not isinstance(data, dict):
                return Response('{"error": "JSON object expected"}', status=400,
                                mimetype="application/json")
            try:
                values = {"path": str(data.get("path", "*")),
                          "errcode": int(data.get("errcode", 0)),
                          "http_status": int(data.get("http_status", 200)),
                          "delay": float(data.get("delay", 0.0)),
                          "remaining": int(data.get("count", 1)), "created_at": utcnow()}
            except (TypeError, ValueError):
                return Response('{"error": "bad field"}', status=400,
                                mimetype="application/json")
            conn.execute(table.insert().values(**values))
        elif request.method == "DELETE":
            conn.execute(delete(table))
        rows = conn.execute(select(table).where(table.c.remaining > 0)).all()
    listing = [{"id": r.id, "path": r.path, "errcode": r.errcode, "http_status": r.http_status,
                "delay": r.delay, "remaining": r.remaining} for r in rows]
    return Response(json.dumps(listing), mimetype="application/json")

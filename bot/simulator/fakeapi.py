"""A fake WeChat API over real HTTP (/sim/api/...): checks requests and answers like WeChat,
errors included (https://developers.weixin.qq.com/doc/offiaccount/).

Every call is recorded as a SimulatorCall, failed ones and token fetches included
(``GET /sim/api/_calls`` lists them, newest last; ``DELETE`` clears them). Failures can be
injected (``POST /sim/api/_faults``). All state lives in the database and tokens are signed,
so several worker processes serve one consistent fake.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy import delete, select

from bot.config import Account
from bot.db import utcnow
from bot.models import SimulatorCall
from bot.simulator import calls, jobs
from bot.simulator import wechat_assets as assets
from bot.simulator import wechat_messages as messages
from bot.simulator import wechat_rules as rules
from bot.simulator import wechat_tokens as tokens
from bot.simulator.wechat_rules import Call, Handler, err
from bot.simulator.wechat_tokens import issue_token

blueprint = Blueprint("sim_api", __name__)
MAX_RECORDED = 200_000  # characters of a recorded body
CALLS_LIMIT = 1000


@dataclass(frozen=True)
class Endpoint:
    method: str  # GET | POST
    handler: Handler
    body: str = "json"  # json | none | multipart


ENDPOINTS: dict[str, Endpoint] = {
    "message/custom/send": Endpoint("POST", messages.custom_send),
    "message/template/send": Endpoint("POST", messages.template_send),
    "message/mass/sendall": Endpoint("POST", messages.mass_sendall),
    "message/mass/send": Endpoint("POST", messages.mass_send),
    "message/mass/preview": Endpoint("POST", messages.mass_preview),
    "message/mass/get": Endpoint("POST", messages.mass_get),
    "draft/add": Endpoint("POST", messages.draft_add),
    "freepublish/submit": Endpoint("POST", messages.freepublish_submit),
    "menu/create": Endpoint("POST", rules.menu_create),
    "menu/get": Endpoint("GET", rules.menu_get, "none"),
    "menu/delete": Endpoint("GET", rules.menu_delete, "none"),
    "tags/create": Endpoint("POST", assets.tags_create),
    "tags/get": Endpoint("GET", assets.tags_get, "none"),
    "tags/delete": Endpoint("POST", assets.tags_delete),
    "tags/members/batchtagging": Endpoint("POST", assets.tags_batchtagging),
    "tags/members/batchuntagging": Endpoint("POST", assets.tags_batchuntagging),
    "tags/getidlist": Endpoint("POST", assets.tags_getidlist),
    "media/upload": Endpoint("POST", assets.media_upload, "multipart"),
    "material/add_material": Endpoint("POST", assets.material_add, "multipart"),
}


def _runtime():
    return current_app.extensions["hotline"]


def _accounts() -> tuple[Account, ...]:
    return _runtime().settings.accounts


# -- the API ----------------------------------------------------------------------------
@blueprint.route("/<path:path>", methods=["GET", "POST"])
def api(path: str) -> Response:
    if path.startswith("_"):
        return Response("not found", status=404)
    fault = calls.take_fault(_runtime().engine, path)
    if fault is not None:
        time.sleep(min(max(fault.delay, 0.0), calls.MAX_DELAY))
        if fault.http_status >= 400:
            return _answer(err(fault.errcode or -1), fault.http_status, _appid_hint())
        if fault.errcode:
            return _answer(err(fault.errcode), appid=_appid_hint())
    if path in ("token", "stable_token"):
        return _token(path)
    account, errcode = tokens.check_token(request.args.get("access_token", ""), _accounts(),
                                          _runtime().engine)
    if account is None:
        return _answer(err(errcode), appid=_appid_hint())
    endpoint = ENDPOINTS.get(path)
    if endpoint is None:
        return _answer(err(48001), appid=account.appid)
    if request.method != endpoint.method:
        return _answer(err(43001 if endpoint.method == "GET" else 43002), appid=account.appid)
    call, errcode = _parse(endpoint, account)
    if call is None:
        return _answer(err(errcode), appid=account.appid)
    answer = endpoint.handler(call)
    if path in jobs.REPORTED_PATHS and answer.get("errcode") == 0:
        jobs.report_later(_runtime(), path, call, answer)
    return _answer(answer, appid=account.appid)


def _parse(endpoint: Endpoint, account: Account) -> tuple[Call | None, int]:
    """The call with its parsed body, or WeChat's errcode for a body it cannot read."""
    call = Call(account, _runtime(), args=request.args)
    if endpoint.body == "multipart":
        call.data, call.files = dict(request.form), request.files
    elif endpoint.body == "json":
        raw = request.get_data()
        if not raw.strip():
            return None, 44002
        try:
            call.data = json.loads(raw)
        except ValueError:
            return None, 47001
        if not isinstance(call.data, dict):
            return None, 47001
    return call, 0


def _token(path: str) -> Response:
    """GET token (query) or POST stable_token (JSON body) with appid and secret."""
    if path == "token":
        if request.method != "GET":
            return _answer(err(43001))
        params: Any = request.args
    else:
        if request.method != "POST":
            return _answer(err(43002))
        try:
            params = json.loads(request.get_data() or b"null")
        except ValueError:
            params = None
        if not isinstance(params, dict):
            return _answer(err(47001))
    account, errcode = tokens.credentials_error(params, _accounts())
    if account is None:
        known = any(a.appid == params.get("appid") for a in _accounts())
        return _answer(err(errcode), appid=str(params.get("appid", "")) if known else "")
    if path == "stable_token" and params.get("force_refresh") is not True:
        current = tokens.current_stable(account, _runtime().engine)
        if current is not None:
            return _answer({"access_token": current[0], "expires_in": current[1]},
                           appid=account.appid)
    kind = "token" if path == "token" else "stable"
    return _answer(lambda call_id: {"access_token": issue_token(account, call_id, kind),
                                    "expires_in": tokens.TOKEN_TTL}, appid=account.appid)


# -- recording --------------------------------------------------------------------------
def _answer(payload: dict | Callable[[int], dict], status: int = 200,
            appid: str = "") -> Response:
    """Record the call and answer it; a callable payload gets the recorded call's id."""
    values = {"appid": appid, "method": request.method, "status": status,
              "path": (request.view_args or {}).get("path", "")[:128],
              "query": _masked(request.query_string.decode("utf-8", "replace"))[:4000],
              "body": _masked(_body_text())[:MAX_RECORDED], "created_at": utcnow()}
    text = calls.record(_runtime().engine, values, payload)
    return Response(text, status=status, mimetype="application/json")


def _masked(text: str) -> str:
    """Account secrets never reach the record (token fetches carry them)."""
    for account in _accounts():
        if len(account.secret) >= 6:
            text = text.replace(account.secret, "***")
    return text


def _appid_hint() -> str:
    """The appid a request is about (its token or its appid), for the record only."""
    info = tokens.read_token(request.args.get("access_token", ""), _accounts())
    if info is not None:
        return info.account.appid
    appid = request.args.get("appid", "")
    return appid if any(a.appid == appid for a in _accounts()) else ""


def _body_text() -> str:
    """The body as recorded: the text, or for an upload its form and file sizes."""
    if request.mimetype != "multipart/form-data":
        return request.get_data(as_text=True)
    files = {}
    for name, upload in request.files.items():
        files[name] = {"filename": upload.filename, "size": len(upload.read())}
        upload.seek(0)
    return json.dumps({"form": dict(request.form), "files": files}, ensure_ascii=False)


# -- the record and the faults (simulator-only endpoints) --------------------------------
@blueprint.get("/_calls")
def list_calls() -> Response:
    """Recorded calls, oldest first: after ``since`` (an id), else the newest ones; filtered
    by ``path`` and by ``touser`` (the body's touser, or one of them for a list)."""
    table = SimulatorCall.__table__
    query = select(table)
    if request.args.get("path"):
        query = query.where(table.c.path == request.args["path"])
    touser = request.args.get("touser", "")
    if touser:
        query = query.where(table.c.body.contains(touser, autoescape=True))
    limit = min(_int_arg("limit", CALLS_LIMIT), CALLS_LIMIT)
    since = _int_arg("since", -1)
    if since >= 0:
        query = query.where(table.c.id > since).order_by(table.c.id).limit(limit)
    else:
        query = query.order_by(table.c.id.desc()).limit(limit)
    with _runtime().engine.connect() as conn:
        rows = sorted(conn.execute(query).all(), key=lambda row: row.id)
    found = [calls.call_json(row) for row in rows]
    if touser:
        found = [c for c in found if calls.addressed_to(c["body"], touser)]
    return _json(found)


def _int_arg(name: str, default: int) -> int:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else default


def _json(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(value, ensure_ascii=False), status=status,
                    mimetype="application/json")


@blueprint.delete("/_calls")
def clear_calls() -> Response:
    with _runtime().engine.begin() as conn:
        deleted = conn.execute(delete(SimulatorCall.__table__)).rowcount
    return _json({"deleted": deleted})


@blueprint.route("/_faults", methods=["GET", "POST", "DELETE"])
def faults() -> Response:
    """POST {"path", "errcode", "http_status", "delay", "count"}: the next `count` calls to
    `path` ("*": any) wait `delay` seconds, then fail with `http_status` (>= 400) or
    `errcode`; a delay alone only slows them down. GET lists the pending ones."""
    engine = _runtime().engine
    if request.method == "POST":
        values, problem = calls.fault_values(request.get_json(silent=True))
        if problem:
            return _json({"error": problem}, 400)
        calls.add_fault(engine, values)
    elif request.method == "DELETE":
        calls.clear_faults(engine)
    return _json(calls.pending_faults(engine))

"""What each fake WeChat endpoint checks and answers. State is derived from the recorded calls
(the menu last created, tags, earlier mass sends), so every worker process agrees."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from bot.config import Account
from bot.db import utcnow
from bot.models import SimulatorCall

ERRMSG = {
    0: "ok", -1: "system error", 40001: "invalid credential, access_token is invalid",
    40002: "invalid grant_type", 40003: "invalid openid", 40007: "invalid media_id",
    40013: "invalid appid", 40016: "invalid button size", 40017: "invalid button type",
    40018: "invalid button name size", 40019: "invalid button key size",
    40023: "invalid sub button size", 40024: "invalid sub button type",
    40025: "invalid sub button name size", 40026: "invalid sub button key size",
    40054: "invalid sub button url domain", 40125: "invalid appsecret",
    41001: "access_token missing",
    42001: "access_token expired", 43004: "require subscribe", 44002: "empty post data",
    45002: "content size out of limit", 45008: "article size out of limit",
    45015: "response out of time limit", 45028: "has no masssend quota",
    45047: "out of response count limit", 45157: "invalid tag name",
    47001: "data format error", 48001: "api unauthorized", 40032: "invalid openid list size",
    40037: "invalid template_id",
}
TEXT_LIMIT = 2048
Handler = Callable[..., dict]


def _err(code: int) -> dict:
    return {"errcode": code, "errmsg": ERRMSG.get(code, "error")}


def _ok(**extra: Any) -> dict:
    return {"errcode": 0, "errmsg": "ok", **extra}


def _recorded(runtime, appid: str, path: str, since: dt.datetime | None = None) -> list[dict]:
    table = SimulatorCall.__table__
    query = select(table.c.body, table.c.response).where(
        table.c.appid == appid, table.c.path == path, table.c.errcode == 0,
        table.c.status == 200).order_by(table.c.id)
    if since is not None:
        query = query.where(table.c.created_at >= since)
    with runtime.engine.connect() as conn:
        rows = conn.execute(query).all()
    result = []
    for body, response in rows:
        try:
            result.append({"body": json.loads(body), "response": json.loads(response)})
        except ValueError:
            continue
    return result


def _message_content_error(data: dict) -> int:
    kind = data.get("msgtype")
    if not isinstance(data.get("touser"), str) or not data["touser"]:
        return 40003
    if kind == "text":
        content = (data.get("text") or {}).get("content")
        if not isinstance(content, str) or not content:
            return 44002
        return 45002 if len(content.encode("utf-8")) > TEXT_LIMIT else 0
    if kind == "news":
        articles = (data.get("news") or {}).get("articles")
        return 0 if isinstance(articles, list) and len(articles) == 1 else 45008
    if kind in ("image", "voice", "mpnews", "video", "music", "miniprogrampage", "mpnewsarticle"):
        return 0 if isinstance(data.get(kind), dict) else 47001
    return 40008


def custom_send(account: Account, data: dict, runtime) -> dict:
    error = _message_content_error(data)
    return _err(error) if error else _ok()


def template_send(account: Account, data: dict, runtime) -> dict:
    if not account.can_send_templates:
        return _err(48001)
    if not data.get("touser"):
        return _err(40003)
    if not data.get("template_id"):
        return _err(40037)
    if not isinstance(data.get("data"), dict):
        return _err(47001)
    return _ok(msgid=secrets.randbelow(10**9))


def _mass_kind_error(data: dict) -> int:
    kind = data.get("msgtype")
    if kind == "text":
        content = (data.get("text") or {}).get("content")
        return 0 if isinstance(content, str) and content else 44002
    if kind in ("mpnews", "image", "voice", "mpvideo", "wxcard"):
        media = data.get(kind) or {}
        return 0 if media.get("media_id") or media.get("card_id") else 40007
    return 47001


def mass_sendall(account: Account, data: dict, runtime) -> dict:
    flt = data.get("filter")
    if not isinstance(flt, dict) or not (flt.get("is_to_all") or "tag_id" in flt):
        return _err(47001)
    error = _mass_kind_error(data)
    if error:
        return _err(error)
    clientmsgid = data.get("clientmsgid")
    if clientmsgid:
        since = utcnow() - dt.timedelta(hours=24)
        for call in _recorded(runtime, account.appid, "message/mass/sendall", since):
            if call["body"].get("clientmsgid") == clientmsgid:
                return call["response"]  # WeChat deduplicates a clientmsgid for 24 hours
    return _ok(msg_id=secrets.randbelow(10**9), msg_data_id=secrets.randbelow(10**9))


def mass_send(account: Account, data: dict, runtime) -> dict:
    users = data.get("touser")
    if not isinstance(users, list) or not 2 <= len(users) <= 10000:
        return _err(40032)
    error = _mass_kind_error(data)
    return _err(error) if error else _ok(msg_id=secrets.randbelow(10**9))


def mass_preview(account: Account, data: dict, runtime) -> dict:
    if not data.get("touser") and not data.get("towxname"):
        return _err(40003)
    error = _mass_kind_error(data)
    return _err(error) if error else _ok(msg_id=secrets.randbelow(10**9))


def mass_get(account: Account, data: dict, runtime) -> dict:
    if not data.get("msg_id"):
        return _err(47001)
    return _ok(msg_id=data["msg_id"], msg_status="SEND_SUCCESS")


def draft_add(account: Account, data: dict, runtime) -> dict:
    articles = data.get("articles")
    if not isinstance(articles, list) or not 1 <= len(articles) <= 8:
        return _err(47001)
    for article in articles:
        if not isinstance(article, dict) or not article.get("title") \
                or not article.get("content"):
            return _err(47001)
    return _ok(media_id=f"draft_{secrets.token_hex(8)}")


def freepublish_submit(account: Account, data: dict, runtime) -> dict:
    media = data.get("media_id")
    return _ok(publish_id=str(secrets.randbelow(10**10))) if media else _err(40007)


def _button_error(button: Any, top: bool) -> int:
    if not isinstance(button, dict):
        return 47001
    name = button.get("name", "")
    if not name or len(name.encode("utf-8")) > (16 if top else 60):
        return 40018 if top else 40025
    if top and "sub_button" in button:
        subs = button["sub_button"]
        if not isinstance(subs, list) or len(subs) > 5:
            return 40023
        return next((e for e in (_button_error(s, False) for s in subs) if e), 0)
    kind = button.get("type")
    if kind in ("click", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "location_select"):
        key = button.get("key", "")
        return 0 if key and len(key.encode("utf-8")) <= 128 else (40019 if top else 40026)
    if kind == "view":
        return 0 if str(button.get("url", "")).startswith(("http://", "https://")) else 40054
    if kind in ("miniprogram", "media_id", "view_limited", "article_id", "article_view_limited"):
        return 0
    return 40017 if top else 40024


def menu_create(account: Account, data: dict, runtime) -> dict:
    buttons = data.get("button")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return _err(40016)
    error = next((e for e in (_button_error(b, True) for b in buttons) if e), 0)
    return _err(error) if error else _ok()


def current_menu(runtime, appid: str) -> dict | None:
    if _after_last_create(runtime, appid):
        return None
    created = _recorded(runtime, appid, "menu/create")
    return created[-1]["body"] if created else None


def _after_last_create(runtime, appid: str) -> bool:
    table = SimulatorCall.__table__
    with runtime.engine.connect() as conn:
        last = conn.execute(select(table.c.path).where(
            table.c.appid == appid, table.c.path.in_(["menu/create", "menu/delete"]),
            table.c.errcode == 0).order_by(table.c.id.desc()).limit(1)).scalar()
    return last == "menu/delete"


def menu_get(account: Account, data: dict, runtime) -> dict:
    menu = current_menu(runtime, account.appid)
    return {"menu": menu} if menu else {"errcode": 46003, "errmsg": "menu no exist"}


def menu_delete(account: Account, data: dict, runtime) -> dict:
    return _ok()


def _tags(runtime, appid: str) -> list[dict]:
    created = [c["response"]["tag"] for c in _recorded(runtime, appid, "tags/create")]
    gone = {c["body"]["tag"]["id"] for c in _recorded(runtime, appid, "tags/delete")
            if isinstance(c["body"].get("tag"), dict)}
    return [t for t in created if t["id"] not in gone]


def tags_create(account: Account, data: dict, runtime) -> dict:
    name = (data.get("tag") or {}).get("name", "")
    if not name or len(name) > 30:
        return _err(45157)
    if any(t["name"] == name for t in _tags(runtime, account.appid)):
        return {"errcode": 45157, "errmsg": "invalid tag name"}
    return {"tag": {"id": 100 + len(_recorded(runtime, account.appid, "tags/create")),
                    "name": name}}


def tags_get(account: Account, data: dict, runtime) -> dict:
    return {"tags": [{**t, "count": 0} for t in _tags(runtime, account.appid)]}


def tags_ok(account: Account, data: dict, runtime) -> dict:
    if "openid_list" in data:
        users = data.get("openid_list")
        if not isinstance(users, list) or not 1 <= len(users) <= 50:
            return _err(40032)
        if not isinstance(data.get("tagid"), int):
            return _err(47001)
    return _ok()


def media_upload(account: Account, files, args) -> dict:
    kind = args.get("type", "")
    if kind not in ("image", "voice", "video", "thumb") or "media" not in files:
        return _err(47001)
    return {"type": kind, "media_id": f"media_{secrets.token_hex(8)}",
            "created_at": int(utcnow().timestamp())}


HANDLERS: dict[str, Handler] = {
    "message/custom/send": custom_send,
    "message/template/send": template_send,
    "message/mass/sendall": mass_sendall,
    "message/mass/send": mass_send,
    "message/mass/preview": mass_preview,
    "message/mass/get": mass_get,
    "draft/add": draft_add,
    "freepublish/submit": freepublish_submit,
    "menu/create": menu_create,
    "menu/get": menu_get,
    "menu/delete": menu_delete,
    "tags/create": tags_create,
    "tags/get": tags_get,
    "tags/delete": tags_ok,
    "tags/members/batchtagging": tags_ok,
    "tags/members/batchuntagging": tags_ok,
    "tags/getidlist": lambda account, data, runtime: {"tagid_list": []},
    "media/upload": media_upload,
    "material/add_material": media_upload,
}

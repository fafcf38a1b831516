"""The fake WeChat API's common ground (error messages, the call, earlier calls) and its
custom-menu endpoints.

State comes from the recorded calls (the menu last created, the drafts added, earlier
broadcasts, tags), so every worker process agrees without shared memory. Error codes and
limits follow https://developers.weixin.qq.com/doc/offiaccount/ (global return codes, custom
menus); the other endpoints are in wechat_messages and wechat_assets.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bot.config import Account
from bot.models import SimulatorCall

ERRMSG = {  # https://developers.weixin.qq.com/doc/offiaccount/Getting_Started/Global_Return_Code.html
    -1: "system error", 0: "ok",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type", 40003: "invalid openid", 40004: "invalid media type",
    40005: "invalid file type", 40006: "invalid meida size", 40007: "invalid media_id",
    40008: "invalid message type", 40013: "invalid appid", 40014: "invalid access_token",
    40016: "invalid button size", 40017: "invalid button type",
    40018: "invalid button name size", 40019: "invalid button key size",
    40020: "invalid button url size", 40023: "invalid sub button size",
    40024: "invalid sub button type", 40025: "invalid sub button name size",
    40026: "invalid sub button key size", 40027: "invalid sub button url size",
    40032: "invalid openid list size", 40037: "invalid template_id",
    40054: "invalid sub button url domain", 40055: "invalid button url domain",
    40125: "invalid appsecret", 40130: "invalid openid list size, at least two openid",
    40164: "invalid ip, not in whitelist", 41001: "access_token missing",
    41002: "appid missing", 41004: "appsecret missing", 41005: "media data missing",
    42001: "access_token expired", 43001: "require GET method", 43002: "require POST method",
    43004: "require subscribe", 44002: "empty post data", 44003: "empty news data",
    44004: "empty content", 45002: "content size out of limit",
    45003: "title size out of limit", 45004: "description size out of limit",
    45005: "url size out of limit", 45008: "article size out of limit",
    45009: "reach max api daily quota limit", 45011: "api minute-quota reach limit",
    45015: "response out of time limit", 45028: "has no masssend quota",
    45047: "out of response count limit", 45056: "too many tags now",
    45058: "can't modify sys tag", 45059: "too many tags on user", 45065: "clientmsgid exist",
    45067: "clientmsgid size out of limit", 45110: "author size out of limit",
    45157: "invalid tag name", 45158: "tag name too long", 45159: "invalid tag id",
    46003: "menu no exist", 47001: "data format error", 47003: "argument invalid!",
    48001: "api unauthorized",
}
TEXT_LIMIT = 2048  # bytes of a customer-service text
BEIJING = dt.timezone(dt.timedelta(hours=8))


@dataclass
class Call:
    """One request to a fake endpoint, after its token was checked."""

    account: Account
    runtime: Any
    data: dict = field(default_factory=dict)
    args: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, Any] = field(default_factory=dict)

    def history(self, paths: Iterable[str], since: dt.datetime | None = None,
                after_id: int = 0) -> list[Done]:
        return history(self.runtime, self.account.appid, paths, since, after_id)


@dataclass(frozen=True)
class Done:
    """An earlier successful call of the same account."""

    id: int
    path: str
    created_at: dt.datetime
    body: dict
    response: dict


Handler = Callable[[Call], dict]


def err(code: int, **extra: Any) -> dict:
    return {"errcode": code, "errmsg": ERRMSG.get(code, "error"), **extra}


def ok(errmsg: str = "ok", **extra: Any) -> dict:
    return {"errcode": 0, "errmsg": errmsg, **extra}


def new_id() -> int:
    """A ten-digit id, like WeChat's msg ids."""
    return 1_000_000_000 + secrets.randbelow(9_000_000_000)


def history(runtime, appid: str, paths: Iterable[str],
            since: dt.datetime | None = None, after_id: int = 0) -> list[Done]:
    """The account's successful calls to `paths` in the order they were made (recorded after
    `since`, and with an id above `after_id`, when given)."""
    table = SimulatorCall.__table__
    query = select(table.c.id, table.c.path, table.c.created_at, table.c.body,
                   table.c.response).where(
        table.c.appid == appid, table.c.path.in_(list(paths)), table.c.errcode == 0,
        table.c.status == 200, table.c.id > after_id).order_by(table.c.id)
    if since is not None:
        query = query.where(table.c.created_at >= since)
    with runtime.engine.connect() as conn:
        rows = conn.execute(query).all()
    done = []
    for row in rows:
        try:
            body, response = json.loads(row.body or "{}"), json.loads(row.response)
        except ValueError:
            continue
        if isinstance(body, dict) and isinstance(response, dict):
            done.append(Done(row.id, row.path, row.created_at, body, response))
    return done


def size(text: Any) -> int:
    return len(str(text).encode("utf-8"))




# -- custom menu ------------------------------------------------------------------------
# https://developers.weixin.qq.com/doc/offiaccount/Custom_Menus/Creating_Custom-Defined_Menu.html
KEYED = ("click", "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album",
         "pic_weixin", "location_select")
# (top-level code, sub-button code) for: type, name size, key size, url size, url domain
CODES = {"type": (40017, 40024), "name": (40018, 40025), "key": (40019, 40026),
         "url": (40020, 40027), "domain": (40055, 40054)}


def _leaf_error(button: dict, top: bool) -> int:
    pick = 0 if top else 1
    kind = button.get("type")
    if kind in KEYED:
        key = button.get("key")
        return 0 if isinstance(key, str) and key and size(key) <= 128 \
            else CODES["key"][pick]
    if kind == "view":
        url = button.get("url")
        if not isinstance(url, str) or not url or size(url) > 1024:
            return CODES["url"][pick]
        return 0 if url.startswith(("http://", "https://")) else CODES["domain"][pick]
    if kind == "miniprogram":
        return 0 if button.get("appid") and button.get("pagepath") and button.get("url") \
            else 47001
    if kind in ("media_id", "view_limited"):
        return 0 if button.get("media_id") else 40007
    if kind in ("article_id", "article_view_limited"):
        return 0 if button.get("article_id") else 47001
    return CODES["type"][pick]


def _button_error(button: Any, top: bool) -> int:
    if not isinstance(button, dict):
        return 47001
    name = button.get("name")
    if not isinstance(name, str) or not name or size(name) > (16 if top else 60):
        return CODES["name"][0 if top else 1]
    subs = button.get("sub_button")
    if top and subs:
        if not isinstance(subs, list) or len(subs) > 5:
            return 40023
        return next((e for e in (_button_error(s, False) for s in subs) if e), 0)
    return _leaf_error(button, top)


def menu_create(call: Call) -> dict:
    buttons = call.data.get("button")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return err(40016)
    return err(next((e for e in (_button_error(b, True) for b in buttons) if e), 0))


def current_menu(runtime, appid: str) -> dict | None:
    """The menu last created for `appid`, unless deleted since (also read by the /sim/ page)."""
    done = history(runtime, appid, ["menu/create", "menu/delete"])
    if not done or done[-1].path == "menu/delete":
        return None
    return done[-1].body


def menu_get(call: Call) -> dict:
    menu = current_menu(call.runtime, call.account.appid)
    return {"menu": menu} if menu else err(46003)


def menu_delete(call: Call) -> dict:
    return ok()

"""Fake WeChat endpoints for messages: customer service, templates, mass sends, drafts.

https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Service_Center_messages.html,
.../Message_Management/Template_Message_Interface.html,
.../Message_Management/Batch_Sends_and_Originality_Checks.html, .../Draft_Box/Add_draft.html
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable
from typing import Any

from bot.db import utcnow
from bot.simulator.wechat_rules import BEIJING, TEXT_LIMIT, Call, Done, err, new_id, ok, size


# -- customer-service and template messages --------------------------------------------
def _custom_content_error(data: dict) -> int:
    kind = data.get("msgtype")
    content = data.get(kind) if isinstance(kind, str) else None
    if kind == "text":
        text = content.get("content") if isinstance(content, dict) else None
        if not isinstance(text, str) or not text:
            return 44004
        return 45002 if size(text) > TEXT_LIMIT else 0
    if kind == "news":
        articles = content.get("articles") if isinstance(content, dict) else None
        if not isinstance(articles, list) or not articles:
            return 44003
        return 0 if len(articles) == 1 and isinstance(articles[0], dict) else 45008
    if kind in ("image", "voice", "video", "mpnews"):
        return 0 if isinstance(content, dict) and content.get("media_id") else 40007
    if kind in ("music", "msgmenu", "wxcard", "miniprogrampage", "mpnewsarticle"):
        return 0 if isinstance(content, dict) else 47001
    return 40008


def custom_send(call: Call) -> dict:
    if not isinstance(call.data.get("touser"), str) or not call.data["touser"]:
        return err(40003)
    return err(_custom_content_error(call.data))


def template_send(call: Call) -> dict:
    if not call.account.can_send_templates:
        return err(48001)
    data = call.data
    if not isinstance(data.get("touser"), str) or not data["touser"]:
        return err(40003)
    if not isinstance(data.get("template_id"), str) or not data["template_id"]:
        return err(40037)
    fields = data.get("data")
    if not isinstance(fields, dict) or not all(isinstance(v, dict) and "value" in v
                                               for v in fields.values()):
        return err(47001)
    return ok(msgid=new_id())


# -- mass sends -------------------------------------------------------------------------
def _mass_content_error(call: Call) -> int:
    kind = call.data.get("msgtype")
    content = call.data.get(kind) if isinstance(kind, str) else None
    if kind == "text":
        text = content.get("content") if isinstance(content, dict) else None
        return 0 if isinstance(text, str) and text else 44004
    if kind == "mpnews":
        media_id = content.get("media_id") if isinstance(content, dict) else None
        return 0 if media_id and is_draft(call, media_id) else 40007
    if kind in ("image", "voice", "mpvideo", "images"):
        has_media = isinstance(content, dict) and (content.get("media_id")
                                                   or content.get("media_ids"))
        return 0 if has_media else 40007
    if kind == "wxcard":
        return 0 if isinstance(content, dict) and content.get("card_id") else 47001
    return 40008


def is_draft(call: Call, media_id: str) -> bool:
    return any(d.response.get("media_id") == media_id for d in call.history(["draft/add"]))


def _clientmsgid(body: dict) -> str:
    """The dedupe key: the one given, else a digest of the audience and the content."""
    given = body.get("clientmsgid")
    if given:
        return str(given)
    kind = body.get("msgtype", "")
    basis = json.dumps([body.get("filter"), body.get("touser"), kind, body.get(kind)],
                       sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:32]


def _mass_answer(call: Call, path: str, quota: Callable[[list[Done]], int]) -> dict:
    error = _mass_content_error(call)
    if error:
        return err(error)
    clientmsgid = _clientmsgid(call.data)
    if size(clientmsgid) > 64:
        return err(45067)
    now = utcnow()
    month_start = _beijing(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    since = min(now - dt.timedelta(hours=24),
                month_start.astimezone(dt.UTC).replace(tzinfo=None))
    earlier = call.history([path], since)
    for done in earlier:
        if now - done.created_at < dt.timedelta(hours=24) \
                and _clientmsgid(done.body) == clientmsgid:
            return err(45065, msg_id=done.response["msg_id"])
    error = quota(earlier)
    if error:
        return err(error)
    extra = {"msg_data_id": new_id()} if call.data.get("msgtype") == "mpnews" else {}
    return ok("send job submission success", msg_id=new_id(), **extra)


def _beijing(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC).astimezone(BEIJING)


def _sendall_quota(call: Call, earlier: list[Done]) -> int:
    """Subscription accounts: one broadcast a day. Service accounts: one to everyone a day
    and four a month (tag broadcasts are limited per follower, not here)."""
    today = _beijing(utcnow())
    to_all = call.account.type == "subscription" or call.data["filter"].get("is_to_all")
    if not to_all:
        return 0
    counted = [d for d in earlier if call.account.type == "subscription"
               or d.body.get("filter", {}).get("is_to_all")]
    if any(_beijing(d.created_at).date() == today.date() for d in counted):
        return 45028
    this_month = [d for d in counted if _beijing(d.created_at).strftime("%Y%m")
                  == today.strftime("%Y%m")]
    return 45028 if len(this_month) >= 4 else 0


def mass_sendall(call: Call) -> dict:
    audience = call.data.get("filter")
    if not isinstance(audience, dict):
        return err(47001)
    if not audience.get("is_to_all") and not isinstance(audience.get("tag_id"), int):
        return err(47001)
    return _mass_answer(call, "message/mass/sendall",
                        lambda earlier: _sendall_quota(call, earlier))


def mass_send(call: Call) -> dict:
    if call.account.type == "subscription":
        return err(48001)  # by openid list: service accounts only
    users = call.data.get("touser")
    if not isinstance(users, list) or not 2 <= len(users) <= 10000 \
            or not all(isinstance(u, str) and u for u in users):
        return err(40130)
    return _mass_answer(call, "message/mass/send", lambda earlier: 0)


def mass_preview(call: Call) -> dict:
    if not call.data.get("touser") and not call.data.get("towxname"):
        return err(40003)
    error = _mass_content_error(call)
    return err(error) if error else ok("preview success", msg_id=new_id())


def mass_get(call: Call) -> dict:
    wanted = str(call.data.get("msg_id", ""))
    for done in call.history(["message/mass/sendall", "message/mass/send"]):
        if str(done.response.get("msg_id")) == wanted:
            return {"msg_id": done.response["msg_id"], "msg_status": "SEND_SUCCESS"}
    return err(47003)


# -- drafts and publishing --------------------------------------------------------------
ARTICLE_LIMITS = (("title", 32, 45003), ("author", 16, 45110), ("digest", 128, 45004))


def _article_error(call: Call, article: Any) -> int:
    if not isinstance(article, dict):
        return 47001
    if not article.get("title") or not article.get("content"):
        return 44003
    for name, limit, code in ARTICLE_LIMITS:
        if len(str(article.get(name, ""))) > limit:
            return code
    content = str(article["content"])
    if len(content) >= 20000 or size(content) >= 1024 * 1024:
        return 45002
    if size(article.get("content_source_url", "")) > 1024:
        return 45005
    if article.get("article_type", "news") == "news":
        thumb = article.get("thumb_media_id")
        if not thumb or not is_material(call, thumb):
            return 40007  # a news article's cover must be a permanent material
    return 0


def is_material(call: Call, media_id: str) -> bool:
    return any(d.response.get("media_id") == media_id
               for d in call.history(["material/add_material"]))


def draft_add(call: Call) -> dict:
    articles = call.data.get("articles")
    if not isinstance(articles, list) or not articles:
        return err(44003)
    if len(articles) > 8:
        return err(45008)
    for article in articles:
        error = _article_error(call, article)
        if error:
            return err(error)
    return {"media_id": f"sim-draft-{secrets.token_urlsafe(24)}"}


def freepublish_submit(call: Call) -> dict:
    media_id = call.data.get("media_id")
    if not isinstance(media_id, str) or not is_draft(call, media_id):
        return err(40007)
    return ok(publish_id=str(new_id()), msg_data_id=new_id())

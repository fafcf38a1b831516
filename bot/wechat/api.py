"""The outbound WeChat API of one account: every call (token fetch included) goes to
`WECHAT_API_BASE`; the token is shared by all processes; customer-service sends respect the
48-hour window and its quota and every attempt is recorded with its result.

wechatpy 1.8.18's `fetch_access_token` ignores the API base and its `access_token` trusts a
per-instance expiry: both are replaced here, and its own retry is off (one retry, here).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import redis
import requests
from sqlalchemy.engine import Engine
from wechatpy.client import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot.config import Account, Settings
from bot.db import utcnow
from bot.dispatch import Article, Reply
from bot.models import OutboundMessage
from bot.services import subscribers
from bot.wechat.replies import cut_text
from bot.wechat.tokens import DatabaseTokenStore, Fetched, RedisTokenStore, TokenUnavailable

log = logging.getLogger("hotline.api")
EXPIRED = (40001, 40014, 42001)


class WeChatAPIError(RuntimeError):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass(frozen=True)
class SendResult:
    ok: bool
    errcode: int = 0
    error: str = ""
    outbound_id: int | None = None
    msgid: str = ""


class _Client(WeChatClient):
    """wechatpy's client with its token taken from (and fetched into) the shared store."""

    def __init__(self, api: WeChatAPI) -> None:
        super().__init__(api.account.appid, api.account.secret, timeout=api.settings.api_timeout,
                         auto_retry=False)
        self.API_BASE_URL = api.settings.api_base
        self._api = api

    @property
    def access_token(self) -> str:
        return self._api.token()

    def fetch_access_token(self) -> dict:
        raise NotImplementedError("tokens come from the shared store (WeChatAPI.token)")


class WeChatAPI:
    def __init__(self, settings: Settings, account: Account, engine: Engine,
                 redis_client: Any = None) -> None:
        self.settings = settings
        self.account = account
        self.engine = engine
        if redis_client is None and settings.redis_url:
            redis_client = redis.Redis.from_url(settings.redis_url)
        self.store = (RedisTokenStore(redis_client, account.name) if redis_client is not None
                      else DatabaseTokenStore(engine, account.name))
        self.client = _Client(self)
        self._http = requests.Session()

    # -- token ---------------------------------------------------------------------------
    def token(self) -> str:
        return self.store.get(self._fetch)

    def _fetch(self) -> Fetched:
        try:
            response = self._http.get(f"{self.settings.api_base}token", timeout=self.settings
                                      .api_timeout, params={"grant_type": "client_credential",
                                                            "appid": self.account.appid,
                                                            "secret": self.account.secret})
            data = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise TokenUnavailable(f"token fetch failed: {exc}") from exc
        if not data.get("access_token"):
            raise TokenUnavailable(f"token refused: {data.get('errcode')} {data.get('errmsg')}")
        log.info("access token refreshed for %s", self.account.name)
        return Fetched(data["access_token"], int(data.get("expires_in", 7200)))

    # -- calls ---------------------------------------------------------------------------
    def call(self, method: str, endpoint: str, **kwargs: Any) -> dict:
        """One API call; an expired token is refreshed once and the call retried once."""
        for attempt in (1, 2):
            token = self.token()
            params = dict(kwargs.pop("params", {}) or {})
            params["access_token"] = token
            try:
                return self.client._request(method, endpoint, params=params, **kwargs)
            except WeChatClientException as exc:
                code = int(exc.errcode) if exc.errcode is not None else -1
                if code in EXPIRED and attempt == 1:
                    self.store.invalidate(token)
                    kwargs["params"] = {k: v for k, v in params.items() if k != "access_token"}
                    continue
                status = getattr(exc.response, "status_code", None)
                raise WeChatAPIError(code, exc.errmsg or f"HTTP {status}") from exc
            except requests.RequestException as exc:
                raise WeChatAPIError(-1, f"no answer: {type(exc).__name__}") from exc
        raise AssertionError("unreachable")

    def post(self, endpoint: str, data: dict) -> dict:
        return self.call("post", endpoint, data=data)

    # -- customer-service and template messages ----------------------------------------
    def send_reply(self, openid: str, reply: Reply, inbound_id: int | None = None) -> SendResult:
        if isinstance(reply, Article):
            return self.send_article(openid, reply, inbound_id)
        return self.send_text(openid, str(reply or ""), inbound_id)

    def send_text(self, openid: str, text: str, inbound_id: int | None = None) -> SendResult:
        return self._send_custom(openid, {"touser": openid, "msgtype": "text",
                                          "text": {"content": cut_text(text)}}, inbound_id)

    def send_article(self, openid: str, article: Article,
                     inbound_id: int | None = None) -> SendResult:
        payload = {"touser": openid, "msgtype": "news", "news": {"articles": [{
            "title": article.title, "description": article.description, "url": article.url,
            "picurl": article.image}]}}
        return self._send_custom(openid, payload, inbound_id)

    def _send_custom(self, openid: str, payload: dict, inbound_id: int | None) -> SendResult:
        with self.engine.begin() as conn:
            window = subscribers.window(conn, self.account.name, openid)
        if not window.open:
            return self._record(openid, "custom", payload, "refused", window.errcode,
                                "outside the 48-hour window" if window.errcode == 45015
                                else "customer-service quota used up", inbound_id)
        try:
            self.post("message/custom/send", payload)
        except (WeChatAPIError, TokenUnavailable) as exc:
            return self._record(openid, "custom", payload, "failed",
                                getattr(exc, "errcode", -1), str(exc), inbound_id)
        with self.engine.begin() as conn:
            subscribers.consume(conn, self.account.name, openid, window.kind)
        return self._record(openid, "custom", payload, "sent", 0, "", inbound_id)

    def send_template(self, openid: str, template_id: str, data: dict,
                      url: str = "") -> SendResult:
        payload = {"touser": openid, "template_id": template_id, "data": data}
        if url:
            payload["url"] = url
        if not self.account.can_send_templates:
            return self._record(openid, "template", payload, "refused", 48001,
                                "subscription accounts cannot send template messages", None)
        try:
            result = self.post("message/template/send", payload)
        except (WeChatAPIError, TokenUnavailable) as exc:
            return self._record(openid, "template", payload, "failed",
                                getattr(exc, "errcode", -1), str(exc), None)
        return self._record(openid, "template", payload, "sent", 0, "", None,
                            str(result.get("msgid", "")))

    def _record(self, openid: str, kind: str, payload: dict, status: str, errcode: int,
                error: str, inbound_id: int | None, msgid: str = "") -> SendResult:
        if status != "sent":
            log.warning("%s message to a subscriber of %s %s: %s %s", kind, self.account.name,
                        status, errcode, error)
        with self.engine.begin() as conn:
            row_id = conn.execute(OutboundMessage.__table__.insert().values(
                account=self.account.name, openid=openid, kind=kind,
                payload=json.dumps(payload, ensure_ascii=False), status=status,
                errcode=errcode, errmsg=error[:255], wechat_msgid=msgid,
                inbound_id=inbound_id, created_at=utcnow())).inserted_primary_key[0]
        return SendResult(status == "sent", errcode, error, row_id, msgid)

    # -- menu, mass send, drafts, tags -------------------------------------------------
    def create_menu(self, menu: dict) -> dict:
        return self.post("menu/create", menu)

    def get_menu(self) -> dict:
        return self.call("get", "menu/get")

    def mass_send_text(self, text: str, tag_id: int | None = None,
                       clientmsgid: str = "") -> dict:
        return self.post("message/mass/sendall", self._mass({"msgtype": "text",
                                                             "text": {"content": text}},
                                                            tag_id, clientmsgid))

    def mass_send_mpnews(self, media_id: str, tag_id: int | None = None,
                         clientmsgid: str = "") -> dict:
        body = {"msgtype": "mpnews", "mpnews": {"media_id": media_id},
                "send_ignore_reprint": 0}
        return self.post("message/mass/sendall", self._mass(body, tag_id, clientmsgid))

    @staticmethod
    def _mass(body: dict, tag_id: int | None, clientmsgid: str) -> dict:
        # wechatpy 1.8.18 sends the old group_id; WeChat wants filter.tag_id
        body["filter"] = {"is_to_all": True} if tag_id is None else {"is_to_all": False,
                                                                     "tag_id": tag_id}
        if clientmsgid:
            body["clientmsgid"] = clientmsgid
        return body

    def preview(self, openid: str, body: dict) -> dict:
        return self.post("message/mass/preview", {"touser": openid, **body})

    def add_draft(self, articles: list[dict]) -> str:
        return self.post("draft/add", {"articles": articles})["media_id"]

    def create_tag(self, name: str) -> int:
        return int(self.post("tags/create", {"tag": {"name": name}})["tag"]["id"])

    def tag_users(self, tag_id: int, openids: list[str]) -> None:
        self.post("tags/members/batchtagging", {"openid_list": openids, "tagid": tag_id})

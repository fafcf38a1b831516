"""The outbound WeChat API of one account.

Every call, the token fetch included, goes to `WECHAT_API_BASE` (the simulator's fake API in
development). The access token lives in a store shared by all processes (bot.wechat.tokens).
An expired-token answer (40001, 40014, 42001) retires the token, and the call is retried
once with a fresh one; wechatpy's own retry is off so that this is the only place that does.

Customer-service messages respect the 48-hour window and its quota (checked locally first),
and every attempt is recorded as an OutboundMessage with its result. Errors are reported in
a SendResult, never raised to the caller; the thin wrappers at the end (menu, mass send,
drafts, tags, media) return WeChat's JSON or raise WeChatAPIError.

https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Service_Center_messages.html
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
from bot.metrics import Metrics
from bot.models import OutboundMessage
from bot.services import subscribers
from bot.wechat.replies import cut_text
from bot.wechat.tokens import Fetched, TokenStore, TokenUnavailable, make_store

log = logging.getLogger("hotline.api")
EXPIRED = frozenset({40001, 40014, 42001})
UNANSWERED = -2  # sent, but the answer timed out: repeating it may act twice
REFUSALS = {45015: "outside the 48-hour window", 45047: "customer-service quota used up"}


class WeChatAPIError(RuntimeError):
    """WeChat said no (its errcode), or did not answer usefully (-1)."""

    def __init__(self, errcode: int, errmsg: str, data: dict | None = None) -> None:
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.data = data or {}  # WeChat's whole answer (45065 carries the first msg_id)


@dataclass(frozen=True)
class SendResult:
    ok: bool
    errcode: int = 0
    error: str = ""
    outbound_id: int | None = None
    msgid: str = ""


def _answer_of(response: Any) -> dict:
    try:
        data = response.json()
    except (AttributeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class HotlineClient(WeChatClient):
    """wechatpy's client pointed at `api_base`, its token taken from the shared store.

    wechatpy 1.8.18 fetches tokens from a hardcoded address without a timeout and trusts a
    per-instance expiry; both are replaced here.
    """

    def __init__(self, api: WeChatAPI) -> None:
        super().__init__(api.account.appid, api.account.secret,
                         timeout=api.settings.api_timeout, auto_retry=False)
        self.API_BASE_URL = api.settings.api_base
        self._api = api

    @property
    def access_token(self) -> str:
        return self._api.token()

    def fetch_access_token(self) -> dict:
        """GET <api_base>token: WeChat's answer, or WeChatClientException."""
        response = self._http.get(f"{self.API_BASE_URL}token", timeout=self.timeout, params={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret})
        result = self._handle_result(response)  # raises on an errcode
        if not isinstance(result, dict) or not result.get("access_token"):
            raise WeChatClientException(-1, f"no token in the answer (HTTP "
                                            f"{response.status_code})", client=self)
        return result


class WeChatAPI:
    def __init__(self, settings: Settings, account: Account, engine: Engine, *,
                 store: TokenStore | None = None, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics if metrics is not None else Metrics()
        self.account = account
        self.engine = engine
        self.store = store or make_store(settings, account.name, engine)
        self.client = HotlineClient(self)

    # -- token ---------------------------------------------------------------------------
    def token(self) -> str:
        """The account's current token (fetched by one process when due)."""
        try:
            return self.store.get(self._fetch)
        except redis.RedisError as exc:
            raise TokenUnavailable(f"token store unreachable: {exc}") from exc

    def _invalidate(self, token: str) -> None:
        try:
            self.store.invalidate(token)
        except redis.RedisError as exc:  # the refresh below reports the store's trouble
            log.warning("cannot retire the token of %s: %s", self.account.name, exc)

    def _fetch(self) -> Fetched:
        try:
            data = self.client.fetch_access_token()
        except WeChatClientException as exc:
            code = -1 if exc.errcode is None else int(exc.errcode)
            raise TokenUnavailable(f"token refused: {code} {exc.errmsg or ''}".rstrip(),
                                   code) from exc
        except (requests.RequestException, ValueError) as exc:
            raise TokenUnavailable(f"token fetch failed: {type(exc).__name__}") from exc
        log.info("access token refreshed for %s", self.account.name)
        return Fetched(data["access_token"], int(data.get("expires_in", 7200)))

    # -- calls ---------------------------------------------------------------------------
    def call(self, method: str, endpoint: str, *, data: Any = None,
             params: dict | None = None, files: dict | None = None) -> dict:
        """One API call: WeChat's JSON, or WeChatAPIError. An expired token is retired,
        refreshed once and the call retried once. Counted by endpoint and result."""
        try:
            result = self._call(method, endpoint, data=data, params=params, files=files)
        except WeChatAPIError as exc:
            self.metrics.incr("wechat_api_calls", endpoint=endpoint, result=str(exc.errcode))
            raise
        self.metrics.incr("wechat_api_calls", endpoint=endpoint, result="ok")
        return result

    def _call(self, method: str, endpoint: str, *, data: Any, params: dict | None,
              files: dict | None) -> dict:
        for attempt in (1, 2):
            try:
                token = self.token()
            except TokenUnavailable as exc:
                raise WeChatAPIError(exc.errcode, str(exc)) from exc
            try:
                result = self.client._request(method, endpoint, data=data, files=files,
                                              params={**(params or {}), "access_token": token})
            except WeChatClientException as exc:
                code = -1 if exc.errcode is None else int(exc.errcode)
                if code in EXPIRED and attempt == 1:
                    log.info("token of %s refused (%s): refreshing", self.account.name, code)
                    self._invalidate(token)
                    continue
                status = getattr(exc.response, "status_code", None)
                raise WeChatAPIError(code, exc.errmsg or f"HTTP {status}",
                                     _answer_of(exc.response)) from exc
            except requests.ReadTimeout as exc:  # the request went out: WeChat may have acted
                raise WeChatAPIError(UNANSWERED, "no answer from WeChat in time (it may have "
                                                 "acted on the request)") from exc
            except requests.RequestException as exc:
                raise WeChatAPIError(-1, f"no answer from WeChat: {type(exc).__name__}") \
                    from exc
            if not isinstance(result, dict):
                raise WeChatAPIError(-1, "the answer is not JSON")
            return result
        raise AssertionError("unreachable: the second attempt returns or raises")

    def post(self, endpoint: str, data: dict) -> dict:
        return self.call("post", endpoint, data=data)

    def get(self, endpoint: str, **params: Any) -> dict:
        return self.call("get", endpoint, params=params)

    # -- customer-service and template messages ----------------------------------------
    def send_reply(self, openid: str, reply: Reply, inbound_id: int | None = None) -> SendResult:
        """Send a handler's reply; an empty one sends (and records) nothing."""
        if isinstance(reply, Article):
            return self.send_article(openid, reply, inbound_id)
        if reply is None or str(reply) == "":
            return SendResult(True)
        return self.send_text(openid, str(reply), inbound_id)

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
        with self.engine.connect() as conn:
            window = subscribers.window(conn, self.account.name, openid)
        if not window.open:
            return self._record(openid, "custom", payload, "refused", window.errcode,
                                REFUSALS.get(window.errcode, "refused"), inbound_id)
        try:
            self.post("message/custom/send", payload)
        except WeChatAPIError as exc:
            return self._record(openid, "custom", payload, "failed", exc.errcode, exc.errmsg,
                                inbound_id)
        with self.engine.begin() as conn:
            subscribers.consume(conn, self.account.name, openid, window.kind)
        return self._record(openid, "custom", payload, "sent", 0, "", inbound_id)

    def send_template(self, openid: str, template_id: str, data: dict,
                      url: str | None = None) -> SendResult:
        """A template message (service accounts only; no 48-hour window)."""
        payload: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data}
        if url:
            payload["url"] = url
        if not self.account.can_send_templates:
            return self._record(openid, "template", payload, "refused", 48001,
                                "subscription accounts cannot send template messages", None)
        try:
            result = self.post("message/template/send", payload)
        except WeChatAPIError as exc:
            return self._record(openid, "template", payload, "failed", exc.errcode,
                                exc.errmsg, None)
        return self._record(openid, "template", payload, "sent", 0, "", None,
                            str(result.get("msgid", "")))

    def _record(self, openid: str, kind: str, payload: dict, status: str, errcode: int,
                error: str, inbound_id: int | None, msgid: str = "") -> SendResult:
        if status != "sent":
            log.warning("%s message for a subscriber of %s %s: %s %s", kind, self.account.name,
                        status, errcode, error)
        with self.engine.begin() as conn:
            row_id = conn.execute(OutboundMessage.__table__.insert().values(
                account=self.account.name, openid=openid, kind=kind,
                payload=json.dumps(payload, ensure_ascii=False), status=status,
                errcode=errcode, errmsg=error[:255], wechat_msgid=msgid,
                inbound_id=inbound_id, created_at=utcnow())).inserted_primary_key[0]
        return SendResult(status == "sent", errcode, error, row_id, msgid)

    # -- menu, mass send, drafts, tags, media: thin, WeChat's JSON or WeChatAPIError -----
    def create_menu(self, menu: dict) -> dict:
        return self.post("menu/create", menu)

    def get_menu(self) -> dict:
        return self.get("menu/get")

    def delete_menu(self) -> dict:
        return self.get("menu/delete")

    def mass_send(self, message: dict, tag_id: int | None = None,
                  clientmsgid: str = "") -> dict:
        """Broadcast `message` (msgtype and its content) to everyone or to one tag.

        wechatpy 1.8.18 still sends the old ``group_id``; WeChat wants ``filter.tag_id``.
        A repeated `clientmsgid` within 24 hours is refused by WeChat with 45065 and the
        first broadcast's msg_id.
        """
        body = {**message, "filter": {"is_to_all": True} if tag_id is None
                else {"is_to_all": False, "tag_id": tag_id}}
        if clientmsgid:
            body["clientmsgid"] = clientmsgid
        return self.post("message/mass/sendall", body)

    def mass_send_text(self, text: str, tag_id: int | None = None,
                       clientmsgid: str = "") -> dict:
        return self.mass_send({"msgtype": "text", "text": {"content": text}}, tag_id,
                              clientmsgid)

    def mass_send_mpnews(self, media_id: str, tag_id: int | None = None,
                         clientmsgid: str = "") -> dict:
        return self.mass_send({"msgtype": "mpnews", "mpnews": {"media_id": media_id},
                               "send_ignore_reprint": 0}, tag_id, clientmsgid)

    def mass_send_to(self, openids: list[str], message: dict, clientmsgid: str = "") -> dict:
        """Broadcast to 2..10000 openids (service accounts only)."""
        body = {**message, "touser": list(openids)}
        if clientmsgid:
            body["clientmsgid"] = clientmsgid
        return self.post("message/mass/send", body)

    def mass_status(self, msg_id: int | str) -> dict:
        return self.post("message/mass/get", {"msg_id": str(msg_id)})

    def preview(self, openid: str, *, media_id: str = "", text: str = "") -> dict:
        """Send a draft (media_id) or a text to one subscriber as the broadcast would look."""
        message = ({"msgtype": "mpnews", "mpnews": {"media_id": media_id}} if media_id
                   else {"msgtype": "text", "text": {"content": text}})
        return self.post("message/mass/preview", {"touser": openid, **message})

    def add_draft(self, articles: list[dict]) -> dict:
        """Articles with title, content and thumb_media_id; the answer has the media_id."""
        return self.post("draft/add", {"articles": articles})

    def publish(self, media_id: str) -> dict:
        """Publish a draft (it does not push to followers: broadcast mpnews for that)."""
        return self.post("freepublish/submit", {"media_id": media_id})

    def create_tag(self, name: str) -> dict:
        return self.post("tags/create", {"tag": {"name": name}})

    def get_tags(self) -> dict:
        return self.get("tags/get")

    def tag_users(self, tag_id: int, openids: list[str]) -> dict:
        return self.post("tags/members/batchtagging", {"openid_list": openids, "tagid": tag_id})

    def untag_users(self, tag_id: int, openids: list[str]) -> dict:
        return self.post("tags/members/batchuntagging",
                         {"openid_list": openids, "tagid": tag_id})

    def upload_media(self, kind: str, filename: str, content: bytes) -> dict:
        """A temporary media file (3 days): image, voice, video or thumb."""
        return self.call("post", "media/upload", params={"type": kind},
                         files={"media": (filename, content)})

    def add_material(self, kind: str, filename: str, content: bytes) -> dict:
        """A permanent material (a draft's thumb_media_id must be one)."""
        return self.call("post", "material/add_material", params={"type": kind},
                         files={"media": (filename, content)})

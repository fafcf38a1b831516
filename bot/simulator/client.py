"""A simulated subscriber: builds inbound XML, signs (and in safe mode encrypts) it exactly as
WeChat does, sends it over real HTTP to the webhook and reads the passive reply.

Used by the /sim/ page's backend and by `hotline sim say`. Protocol:
https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Receiving_standard_messages.html
and .../Receiving_event_pushes.html; safe mode as in WeChat's message encryption guide.
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from bot.config import Account
from bot.wechat.crypto import DecryptError, MessageCrypto, SignatureError, signature
from bot.wechat.parse import BadMessage, parse_xml
from bot.wechat.replies import cdata

# A random start keeps MsgIds of separate processes (two CLI runs) apart as well.
_counter = itertools.count(secrets.randbelow(1000))
ARTICLE_FIELDS = ("Title", "Description", "Url", "PicUrl")


def new_msg_id() -> int:
    """A 64-bit MsgId: the time in milliseconds, then a per-process counter."""
    return int(time.time() * 1000) * 1000 + next(_counter) % 1000


@dataclass
class SimReply:
    """What the webhook answered, decoded. kind: text, news, success, error (or another
    passive reply type, e.g. image, named by its MsgType)."""

    status: int
    kind: str
    text: str = ""
    article: dict[str, str] = field(default_factory=dict)
    articles: list[dict[str, str]] = field(default_factory=list)
    raw: str = ""
    reply_xml: str = ""
    request_xml: str = ""
    elapsed_ms: float = 0.0


class SubscriberClient:
    """One subscriber (`openid`) of one account talking to the webhook at `base_url`."""

    def __init__(self, base_url: str, account: Account, openid: str, aes: bool = False,
                 timeout: float = 10.0) -> None:
        if aes and not account.aes_key:
            raise ValueError(f"account {account.name!r} has no EncodingAESKey: "
                             "safe mode (--aes) is not available")
        if not openid:
            raise ValueError("openid is empty")
        self.base_url = base_url.rstrip("/")
        self.account = account
        self.openid = openid
        self.aes = aes
        self.timeout = timeout
        self.last_xml = ""

    @property
    def url(self) -> str:
        return f"{self.base_url}{self.account.webhook_path}"

    # -- building messages ---------------------------------------------------------------
    def _envelope(self, msg_type: str, body: str, msg_id: bool = True) -> str:
        tail = f"<MsgId>{new_msg_id()}</MsgId>" if msg_id else ""
        return (f"<xml><ToUserName>{cdata('gh_' + self.account.name)}</ToUserName>"
                f"<FromUserName>{cdata(self.openid)}</FromUserName>"
                f"<CreateTime>{int(time.time())}</CreateTime>"
                f"<MsgType>{cdata(msg_type)}</MsgType>{body}{tail}</xml>")

    def text_xml(self, text: str, menu_id: str = "") -> str:
        """A text message; `menu_id` as when the text came from tapping a dialog-menu link
        (`weixin://bizmsgmenu?msgmenucontent=…&msgmenuid=…`) in a reply."""
        extra = f"<bizmsgmenuid>{cdata(menu_id)}</bizmsgmenuid>" if menu_id else ""
        return self._envelope("text", f"<Content>{cdata(text)}</Content>{extra}")

    def image_xml(self, pic_url: str, media_id: str = "") -> str:
        media_id = media_id or f"sim-media-{secrets.token_hex(8)}"
        return self._envelope("image", f"<PicUrl>{cdata(pic_url)}</PicUrl>"
                                       f"<MediaId>{cdata(media_id)}</MediaId>")

    def voice_xml(self, recognition: str = "", media_id: str = "", fmt: str = "amr") -> str:
        media_id = media_id or f"sim-media-{secrets.token_hex(8)}"
        return self._envelope("voice", f"<MediaId>{cdata(media_id)}</MediaId>"
                                       f"<Format>{cdata(fmt)}</Format>"
                                       f"<Recognition>{cdata(recognition)}</Recognition>")

    def location_xml(self, latitude: float, longitude: float, scale: int = 15,
                     label: str = "") -> str:
        return self._envelope("location", f"<Location_X>{latitude}</Location_X>"
                                          f"<Location_Y>{longitude}</Location_Y>"
                                          f"<Scale>{scale}</Scale>"
                                          f"<Label>{cdata(label)}</Label>")

    def event_xml(self, event: str, key: str = "") -> str:
        """An event push: subscribe, unsubscribe, CLICK (key: the button's key), VIEW (key:
        the button's url), SCAN. Events carry no MsgId; WeChat dedupes them by sender+time."""
        key_xml = f"<EventKey>{cdata(key)}</EventKey>" if key or event in ("CLICK", "VIEW") \
            else ""
        return self._envelope("event", f"<Event>{cdata(event)}</Event>{key_xml}", msg_id=False)

    # -- sending -------------------------------------------------------------------------
    def say(self, text: str, menu_id: str = "") -> SimReply:
        return self.send(self.text_xml(text, menu_id))

    def event(self, event: str, key: str = "") -> SimReply:
        return self.send(self.event_xml(event, key))

    def click(self, key: str) -> SimReply:
        return self.event("CLICK", key)

    def view(self, url: str) -> SimReply:
        return self.event("VIEW", url)

    def image(self, pic_url: str, media_id: str = "") -> SimReply:
        return self.send(self.image_xml(pic_url, media_id))

    def voice(self, recognition: str = "", media_id: str = "") -> SimReply:
        return self.send(self.voice_xml(recognition, media_id))

    def location(self, latitude: float, longitude: float, label: str = "") -> SimReply:
        return self.send(self.location_xml(latitude, longitude, label=label))

    def retry(self) -> SimReply:
        """Send the last message again, unchanged (same MsgId and CreateTime), as WeChat does
        when the first answer was late."""
        if not self.last_xml:
            raise ValueError("nothing sent yet: nothing to retry")
        return self.send(self.last_xml)

    def send(self, xml: str) -> SimReply:
        """POST `xml` signed (and encrypted in safe mode); requests' errors propagate."""
        self.last_xml = xml
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        query = {"signature": signature(self.account.token, timestamp, nonce),
                 "timestamp": timestamp, "nonce": nonce, "openid": self.openid}
        body, crypto = xml, None
        if self.aes:
            crypto = MessageCrypto(self.account.token, self.account.appid, self.account.aes_key)
            wrapped = parse_xml(crypto.encrypt(xml, nonce, timestamp))
            body = (f"<xml><ToUserName>{cdata('gh_' + self.account.name)}</ToUserName>"
                    f"<Encrypt>{cdata(wrapped['Encrypt'])}</Encrypt></xml>")
            query.update(encrypt_type="aes", msg_signature=wrapped["MsgSignature"])
        started = time.perf_counter()
        response = requests.post(self.url, params=query, data=body.encode("utf-8"),
                                 timeout=self.timeout, headers={"Content-Type": "text/xml"})
        reply = decode_reply(response.status_code, response.text, crypto, self.openid)
        reply.request_xml = xml
        reply.elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        return reply


def decode_reply(status: int, raw: str, crypto: MessageCrypto | None = None,
                 openid: str = "") -> SimReply:
    """Read a webhook's answer; in safe mode the reply must be encrypted and signed.

    Anything unreadable becomes kind "error" with the reason in `text`, never an exception."""
    reply = SimReply(status, "error", raw=raw)
    if status != 200:
        reply.text = raw.strip() or f"HTTP {status}"
        return reply
    if raw.strip() in ("", "success"):
        reply.kind = "success"
        return reply
    try:
        fields = _open_reply(raw, crypto)
    except (BadMessage, SignatureError, DecryptError) as exc:
        reply.text = f"reply not readable: {exc}"
        return reply
    reply.reply_xml = fields.pop("_xml")
    if openid and fields.get("ToUserName") != openid:
        reply.text = f"reply addressed to {fields.get('ToUserName')!r}, not {openid!r}"
        return reply
    reply.kind = _text(fields, "MsgType") or "error"
    if reply.kind == "text":
        reply.text = _text(fields, "Content")
    elif reply.kind == "news":
        reply.articles = _articles(fields.get("Articles"))
        reply.article = reply.articles[0] if reply.articles else dict.fromkeys(ARTICLE_FIELDS, "")
    return reply


def _open_reply(raw: str, crypto: MessageCrypto | None) -> dict[str, Any]:
    """The reply's fields (plus "_xml": the plain reply), decrypted and checked."""
    fields = parse_xml(raw)
    if crypto is None:
        return {**fields, "_xml": raw}
    if "Encrypt" not in fields:
        raise BadMessage("safe mode, but the reply is not encrypted")
    plain = crypto.decrypt(_text(fields, "Encrypt"), _text(fields, "MsgSignature"),
                           _text(fields, "TimeStamp"), _text(fields, "Nonce"))
    return {**parse_xml(plain), "_xml": plain}


def _text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    return value if isinstance(value, str) else ""


def _articles(value: Any) -> list[dict[str, str]]:
    items = value.get("item") if isinstance(value, dict) else None
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        return []
    return [{name: _text(item, name) for name in ARTICLE_FIELDS}
            for item in items if isinstance(item, dict)]

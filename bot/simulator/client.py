"""A simulated subscriber: builds inbound XML, signs (and encrypts) it as WeChat does, and
sends it over real HTTP to the webhook. Used by the /sim/ page and `hotline sim say`."""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field

import requests

from bot.config import Account
from bot.wechat.crypto import MessageCrypto, SignatureError, signature, verify
from bot.wechat.parse import BadMessage, parse_xml
from bot.wechat.replies import cdata

_counter = itertools.count(1)


@dataclass
class SimReply:
    status: int
    kind: str  # text | news | success | error
    text: str = ""
    article: dict = field(default_factory=dict)
    raw: str = ""
    request_xml: str = ""
    elapsed_ms: float = 0.0


class SubscriberClient:
    def __init__(self, base_url: str, account: Account, openid: str, aes: bool = False,
                 timeout: float = 10.0) -> None:
        if aes and not account.aes_key:
            raise ValueError(f"account {account.name!r} has no EncodingAESKey: safe mode is off")
        self.base_url = base_url.rstrip("/")
        self.account = account
        self.openid = openid
        self.aes = aes
        self.timeout = timeout
        self.last_xml = ""

    def _envelope(self, body: str) -> str:
        now = int(time.time())
        return (f"<xml><ToUserName>{cdata('gh_' + self.account.name)}</ToUserName>"
                f"<FromUserName>{cdata(self.openid)}</FromUserName>"
                f"<CreateTime>{now}</CreateTime>{body}</xml>")

    def text_xml(self, text: str) -> str:
        msg_id = int(time.time() * 1000) * 1000 + next(_counter) % 1000
        return self._envelope(f"<MsgType>{cdata('text')}</MsgType>"
                              f"<Content>{cdata(text)}</Content><MsgId>{msg_id}</MsgId>")

    def event_xml(self, event: str, key: str = "") -> str:
        key_xml = f"<EventKey>{cdata(key)}</EventKey>" if key else ""
        return self._envelope(f"<MsgType>{cdata('event')}</MsgType>"
                              f"<Event>{cdata(event)}</Event>{key_xml}")

    def say(self, text: str) -> SimReply:
        return self.send(self.text_xml(text))

    def event(self, event: str, key: str = "") -> SimReply:
        return self.send(self.event_xml(event, key))

    def retry(self) -> SimReply:
        """Send the last message again, unchanged (as WeChat does when a reply is late)."""
        return self.send(self.last_xml)

    def send(self, xml: str) -> SimReply:
        self.last_xml = xml
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        query = {"signature": signature(self.account.token, timestamp, nonce),
                 "timestamp": timestamp, "nonce": nonce, "openid": self.openid}
        body = xml
        crypto = None
        if self.aes:
            crypto = MessageCrypto(self.account.token, self.account.appid, self.account.aes_key)
            wrapped = parse_xml(crypto.encrypt(xml, nonce, timestamp))
            body = (f"<xml><ToUserName>{cdata('gh_' + self.account.name)}</ToUserName>"
                    f"<Encrypt>{cdata(wrapped['Encrypt'])}</Encrypt></xml>")
            query.update(encrypt_type="aes", msg_signature=wrapped["MsgSignature"])
        started = time.perf_counter()
        response = requests.post(f"{self.base_url}{self.account.webhook_path}", params=query,
                                 data=body.encode("utf-8"), timeout=self.timeout,
                                 headers={"Content-Type": "text/xml"})
        elapsed = (time.perf_counter() - started) * 1000
        return self._decode(response, crypto, xml, elapsed)

    def _decode(self, response, crypto, request_xml: str, elapsed: float) -> SimReply:
        raw = response.text
        reply = SimReply(response.status_code, "error", raw=raw, request_xml=request_xml,
                         elapsed_ms=round(elapsed, 1))
        if response.status_code != 200:
            reply.text = raw
            return reply
        if raw == "success" or raw == "":
            reply.kind = "success"
            return reply
        try:
            fields = parse_xml(raw)
            if crypto is not None:
                verify((crypto.token, fields["TimeStamp"], fields["Nonce"], fields["Encrypt"]),
                       fields["MsgSignature"])
                fields = parse_xml(crypto.decrypt(fields["Encrypt"], fields["MsgSignature"],
                                                  fields["TimeStamp"], fields["Nonce"]))
        except (BadMessage, SignatureError, KeyError) as exc:
            reply.text = f"reply not readable: {exc}"
            return reply
        reply.kind = str(fields.get("MsgType", "error"))
        if reply.kind == "text":
            reply.text = str(fields.get("Content", ""))
        elif reply.kind == "news":
            item = fields.get("Articles", {}).get("item", {})
            reply.article = {k: item.get(k, "") for k in ("Title", "Description", "Url",
                                                           "PicUrl")}
        return reply

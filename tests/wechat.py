"""Building signed (and encrypted) requests exactly as WeChat does, for tests."""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlencode

from bot.wechat.crypto import MessageCrypto, signature
from bot.wechat.parse import parse_xml


def text_xml(content: str, openid: str = "oUser1", msg_id: int | None = None,
             to: str = "gh_test", create_time: int | None = None) -> str:
    msg_id = msg_id if msg_id is not None else secrets.randbelow(10**15)
    create_time = create_time or int(time.time())
    return (f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>")


def event_xml(event: str, openid: str = "oUser1", key: str | None = None,
              to: str = "gh_test", create_time: int | None = None) -> str:
    create_time = create_time or int(time.time())
    key_xml = f"<EventKey><![CDATA[{key}]]></EventKey>" if key is not None else ""
    return (f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event>{key_xml}</xml>")


def signed_query(token: str, timestamp: int | None = None, nonce: str | None = None,
                 **extra: str) -> dict[str, str]:
    timestamp_text = str(timestamp or int(time.time()))
    nonce = nonce or secrets.token_hex(5)
    query = {"signature": signature(token, timestamp_text, nonce),
             "timestamp": timestamp_text, "nonce": nonce, "openid": "oUser1"}
    query.update(extra)
    return query


def encrypt_body(account, xml: str, query: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The safe-mode body and query for `xml` (query gets encrypt_type and msg_signature)."""
    crypto = MessageCrypto(account.token, account.appid, account.aes_key)
    wrapped = parse_xml(crypto.encrypt(xml, query["nonce"], query["timestamp"]))
    encrypted = wrapped["Encrypt"]
    body = (f"<xml><ToUserName><![CDATA[gh_test]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
    query = {**query, "encrypt_type": "aes", "msg_signature": wrapped["MsgSignature"]}
    return body, query


def url(path: str, query: dict[str, str]) -> str:
    return f"{path}?{urlencode(query)}"

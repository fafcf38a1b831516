"""Hostile inputs the webhook fuzz (tests/test_webhook_fuzz.py) found, one plain test each:
before the fix each was a 500, an expanded entity, a truncated body taken for whole, a reply
that was not XML, or a handler that broke."""

from __future__ import annotations

import io

import pytest

from bot.wechat.crypto import MessageCrypto, signature
from bot.wechat.parse import parse_xml
from bot.wechat.webhook import APOLOGY
from tests.wechat import encrypt_body, signed_query, text_xml, url

ON_BOTH_DATABASES = True  # tests/conftest.py: each test on SQLite and PostgreSQL

MARK = "ENTITY-EXPANDED-51c2"
HELP = "帮助：列出可以问什么"
ENTITY = text_xml("x").replace("<![CDATA[x]]>", "&e;")  # Content refers to entity e
PI_DTD = f'<?pi <xml?><!DOCTYPE xml [<!ENTITY e "{MARK}">]>' + ENTITY
UTF16_DTD = f'\ufeff<!--\u783c\u6c6d--><!DOCTYPE xml [<!ENTITY e "{MARK}">]>' + ENTITY


def with_create_time(value: str) -> bytes:
    return text_xml("帮助", create_time=1).replace("<CreateTime>1<", f"<CreateTime>{value}<") \
        .encode()


REFUSED = {
    "GBK declared and sent": ('<?xml version="1.0" encoding="GBK"?>' + text_xml("帮助"))
    .encode("gbk"),
    "DTD behind a processing instruction": PI_DTD.encode(),
    "DTD in UTF-16, the bytes of '<xml' in a comment": UTF16_DTD.encode("utf-16-le"),
    "nested 5000 deep": b"<xml>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</xml>",
    "CreateTime of 4301 digits": with_create_time("9" * 4301),
    "CreateTime of 30 digits": with_create_time("9" * 30),
    "CreateTime superscript two": with_create_time("²"),
    "CreateTime in Arabic-Indic digits": with_create_time("١٢٣"),
    "openid longer than its column": text_xml("帮助", openid="o" * 65).encode(),
    "MsgType longer than its column": text_xml("帮助").replace("[text]", "[" + "t" * 33 + "]")
    .encode(),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_hostile_body_is_refused_without_a_row(client, account, runtime, name):
    response = client.post(url("/wechat", signed_query(account.token)), data=REFUSED[name])
    assert response.status_code == 400, response.data
    assert MARK.encode() not in response.data
    with runtime.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM inbound_messages").scalar() == 0


def test_declared_encoding_does_not_switch_the_parser(client, account, runtime):
    body = b'<?xml version="1.0" encoding="no-such-codec"?>' + text_xml("帮助").encode()
    response = client.post(url("/wechat", signed_query(account.token)), data=body)
    assert response.status_code == 200 and HELP in parse_xml(response.data)["Content"]


def test_long_msg_id_keeps_the_key_within_its_column(client, account, runtime):
    body = text_xml("帮助", msg_id=int("7" * 300))
    for _ in range(2):
        assert client.post(url("/wechat", signed_query(account.token)), data=body).status_code \
            == 200
    with runtime.engine.connect() as conn:
        keys = conn.exec_driver_sql("SELECT msg_key FROM inbound_messages").scalars().all()
    assert len(keys) == 1 and len(keys[0]) <= 128


@pytest.mark.parametrize("streamed", [True, False])
def test_body_limit_holds_for_streamed_bodies_too(client, account, settings, streamed):
    limit = settings.max_body_bytes
    extra = {"environ_overrides": {"wsgi.input_terminated": True, "CONTENT_LENGTH": None}
             } if streamed else {}
    statuses = []
    for size in (limit, limit + 1):
        body = text_xml("帮助").encode()
        stream = io.BytesIO(body + b" " * (size - len(body)))
        statuses.append(client.post(url("/wechat", signed_query(account.token)),
                                    input_stream=stream, **extra).status_code)
    assert statuses == [200, 413]


def test_safe_mode_reply_with_an_odd_nonce_is_well_formed(client, account):
    body, query = encrypt_body(account, text_xml("帮助"), signed_query(account.token))
    token, timestamp, nonce = account.token, query["timestamp"], "]]><x>"
    query.update(nonce=nonce, signature=signature(token, timestamp, nonce),
                 msg_signature=signature(token, timestamp, nonce, parse_xml(body)["Encrypt"]))
    outer = parse_xml(client.post(url("/wechat", query), data=body).data)
    crypto = MessageCrypto(account.token, account.appid, account.aes_key)
    inner = crypto.decrypt(outer["Encrypt"], outer["MsgSignature"], outer["TimeStamp"],
                           outer["Nonce"])
    assert outer["Nonce"].isalnum() and HELP in parse_xml(inner)["Content"]


@pytest.mark.parametrize("menu_id", ["²", "9" * 4301])
def test_odd_dialog_menu_id_breaks_no_handler(client, account, runtime, menu_id):
    body = text_xml("低保怎么申请").replace(
        "</xml>", f"<bizmsgmenuid>{menu_id}</bizmsgmenuid></xml>")  # reaches the search
    response = client.post(url("/wechat", signed_query(account.token)), data=body)
    assert response.status_code == 200 and APOLOGY not in parse_xml(response.data)["Content"]
    with runtime.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT status FROM inbound_messages").scalar() == "answered"

from __future__ import annotations

from bot.wechat.parse import parse_xml
from tests.wechat import encrypt_body, event_xml, signed_query, text_xml, url


def test_help_reply_lists_handlers(client, account):
    response = client.post(url("/wechat", signed_query(account.token)), data=text_xml("帮助"))
    assert response.status_code == 200
    reply = parse_xml(response.data)
    assert reply["MsgType"] == "text"
    assert "帮助：列出可以问什么" in reply["Content"]


def test_safe_mode_round_trip(client, account):
    query = signed_query(account.token)
    body, query = encrypt_body(account, event_xml("subscribe"), query)
    response = client.post(url("/wechat", query), data=body)
    assert response.status_code == 200
    outer = parse_xml(response.data)
    assert "Encrypt" in outer

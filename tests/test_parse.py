"""bot/wechat/parse.py: what may stand before the root, encodings, nesting, field bounds."""

from __future__ import annotations

import pytest

from bot.wechat.parse import MAX_DEPTH, MAX_KEY, BadMessage, message_key, parse_xml, to_message

ROOT = b"<xml><A>1</A></xml>"


def fields(**changes: str) -> dict[str, str]:
    base = {"ToUserName": "gh_test", "FromUserName": "oUser1", "CreateTime": "1700000000",
            "MsgType": "text", "Content": "帮助", "MsgId": "42"}
    return {**base, **changes}


@pytest.mark.parametrize("prolog", [
    b"", b"\xef\xbb\xbf", b'<?xml version="1.0" encoding="UTF-8"?>\n', b"<!-- <xml -->",
    b"<?pi x?> \r\n\t<!-- c -->",
])
def test_declaration_comments_and_instructions_may_precede_the_root(prolog):
    assert parse_xml(prolog + ROOT) == {"A": "1"}


@pytest.mark.parametrize("prolog", [
    b"<!DOCTYPE xml>", b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e "x">]>',
    b'<?pi <xml?><!DOCTYPE xml [<!ENTITY e "x">]>', b'<!--<xml--><!DOCTYPE xml>',
    b"<!ELEMENT xml ANY>",
])
def test_a_dtd_is_refused_wherever_it_hides_before_the_root(prolog):
    with pytest.raises(BadMessage, match="DTD"):
        parse_xml(prolog + b"<xml><A>&e;</A></xml>")


def test_the_body_is_read_as_utf8_whatever_it_declares():
    declared = '<?xml version="1.0" encoding="GBK"?><xml><A>中文</A></xml>'
    assert parse_xml(declared.encode("utf-8")) == {"A": "中文"}
    with pytest.raises(BadMessage, match="malformed"):
        parse_xml(declared.encode("gbk"))
    with pytest.raises(BadMessage):
        parse_xml(b'<?xml version="1.0" encoding="no-such-codec"?><xml><A>\xff</A></xml>')
    with pytest.raises(BadMessage, match="root"):
        parse_xml(ROOT.decode().encode("utf-16"))


def nested(levels: int) -> bytes:
    return b"<xml>" + b"<a>" * levels + b"x" + b"</a>" * levels + b"</xml>"


def test_nesting_is_limited():
    assert parse_xml(nested(MAX_DEPTH))
    for levels in (MAX_DEPTH + 1, 50_000):
        with pytest.raises(BadMessage, match="nested"):
            parse_xml(nested(levels))


@pytest.mark.parametrize("value", ["", "soon", "-1", "1.5", "²", "١٢٣", "１２３", "9" * 19,
                                   "9" * 5000])
def test_create_time_must_be_plain_seconds(value):
    with pytest.raises(BadMessage):
        to_message(fields(CreateTime=value))


def test_create_time_may_be_padded():
    assert to_message(fields(CreateTime=" 1700000000 ")).type == "text"


@pytest.mark.parametrize("name,limit", [("FromUserName", 64), ("MsgType", 32)])
def test_fields_longer_than_their_columns_are_refused(name, limit):
    to_message(fields(**{name: "t" * limit}))
    with pytest.raises(BadMessage, match="too long"):
        to_message(fields(**{name: "t" * (limit + 1)}))


def test_message_key_stays_within_its_column_and_apart():
    first, second = fields(MsgId="7" * 300), fields(MsgId="7" * 299 + "8")
    assert len(message_key(first)) <= MAX_KEY
    assert message_key(first) == message_key(dict(first))
    assert message_key(first) != message_key(second)
    assert message_key(fields(MsgId="42")) == "m:42"

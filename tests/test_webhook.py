"""The webhook through HTTP: every real sample, every mode, every kind of bad input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.models import InboundMessage, Subscriber
from bot.wechat.crypto import signature
from bot.wechat.parse import parse_xml
from tests.wechat import encrypt_body, event_xml, signed_query, text_xml, url

ON_BOTH_DATABASES = True  # tests/conftest.py: each test on SQLite and PostgreSQL

SAMPLES = Path(__file__).parent / "fixtures" / "wechat-samples"
SAMPLE_FILES = sorted(p.name for p in SAMPLES.glob("*.xml") if not p.name.startswith("safe_"))


def post(client, account, body, path="/wechat", **query):
    return client.post(url(path, signed_query(account.token, **query)), data=body)


def logged(runtime):
    with runtime.engine.connect() as conn:
        return conn.execute(select(InboundMessage).order_by(InboundMessage.id)).all()


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_every_sample_is_accepted_and_logged(client, account, runtime, name):
    response = post(client, account, (SAMPLES / name).read_bytes())
    assert response.status_code == 200, response.data
    assert response.data == b"success" or parse_xml(response.data)["MsgType"] in ("text", "news")
    rows = logged(runtime)
    assert len(rows) == 1
    assert rows[0].status == "answered"


@pytest.mark.parametrize("name,expected", [
    ("text.xml", "抱歉"), ("image.xml", "图片"), ("voice_recognition.xml", "Meow~"),
    ("location.xml", "位置"), ("event_subscribe.xml", "欢迎关注"),
    ("event_subscribe_qrscene.xml", "欢迎关注"), ("event_scan.xml", "欢迎回来"),
])
def test_samples_get_the_right_answer(client, account, name, expected):
    reply = parse_xml(post(client, account, (SAMPLES / name).read_bytes()).data)
    assert expected in reply["Content"]
    assert reply["ToUserName"] in ("fromUser", "FromUser")


@pytest.mark.parametrize("name", ["unknown_msgtype.xml", "event_unsubscribe.xml",
                                  "event_view.xml", "event_masssendjobfinish.xml",
                                  "event_publishjobfinish.xml", "event_location.xml"])
def test_unknown_types_and_silent_events_get_success(client, account, name):
    assert post(client, account, (SAMPLES / name).read_bytes()).data == b"success"


def test_official_safe_mode_vector_decrypts(runtime, app):
    vector = (SAMPLES / "safe_mode_encrypted_text.xml").read_bytes()
    settings = runtime.settings
    official = settings.default_account.__class__(
        "default", "spamtest", "wx2c2769f8efd9abc2", "secret",
        aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
    runtime.settings = settings.with_overrides(accounts=(official,), timestamp_window=10**10)
    query = {"signature": signature("spamtest", "1409735669", "1320562132"),
             "timestamp": "1409735669", "nonce": "1320562132", "encrypt_type": "aes",
             "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa"}
    response = app.test_client().post(url("/wechat", query), data=vector)
    assert response.status_code == 200
    rows = logged(runtime)
    assert rows[0].content == "abcdteT"
    assert rows[0].openid == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    assert "Encrypt" in parse_xml(response.data)


def test_get_echoes_echostr_and_refuses_bad_signature(client, account):
    ok = client.get(url("/wechat", signed_query(account.token, echostr="hello123")))
    assert ok.status_code == 200 and ok.data == b"hello123"
    query = signed_query(account.token, echostr="x")
    query["signature"] = "0" * 40
    assert client.get(url("/wechat", query)).status_code == 403


def test_bad_signature_and_stale_timestamp_are_refused_without_a_row(client, account, runtime):
    query = signed_query("wrong-token")
    assert client.post(url("/wechat", query), data=text_xml("帮助")).status_code == 403
    stale = signed_query(account.token, timestamp=int(time.time()) - 301)
    assert client.post(url("/wechat", stale), data=text_xml("帮助")).status_code == 403
    future = signed_query(account.token, timestamp=int(time.time()) + 301)
    assert client.post(url("/wechat", future), data=text_xml("帮助")).status_code == 403
    missing = client.post("/wechat", data=text_xml("帮助"))
    assert missing.status_code == 403
    assert logged(runtime) == []


BAD_BODIES = {
    "empty": b"",
    "not xml": b"hello",
    "truncated": b"<xml><ToUserName>",
    "wrong root": b"<doc><a>1</a></doc>",
    "missing fields": b"<xml><MsgType>text</MsgType></xml>",
    "nested field": b"<xml><ToUserName>a</ToUserName><FromUserName><x>1</x></FromUserName>"
                    b"<CreateTime>1</CreateTime><MsgType>text</MsgType></xml>",
    "bad time": text_xml("hi").replace(str(int(time.time())), "soon").encode(),
    "xxe": b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           b"<xml><ToUserName>a</ToUserName><FromUserName>&x;</FromUserName>"
           b"<CreateTime>1</CreateTime><MsgType>text</MsgType></xml>",
    "billion laughs": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                      b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                      b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
                      b"<xml><Content>&lol3;</Content></xml>",
    "doctype only": b"<!DOCTYPE xml><xml><a>1</a></xml>",
    "binary": bytes(range(256)),
    "bad utf8": b"<xml><Content>\xff\xfe</Content></xml>",
}


@pytest.mark.parametrize("name", sorted(BAD_BODIES))
def test_bad_bodies_get_400_and_no_row(client, account, runtime, name):
    response = post(client, account, BAD_BODIES[name])
    assert response.status_code == 400, response.data
    assert logged(runtime) == []


def test_oversized_body_gets_413(client, account, runtime):
    body = text_xml("长" * (runtime.settings.max_body_bytes // 2))
    assert post(client, account, body.encode()).status_code == 413
    assert logged(runtime) == []


def test_safe_mode_failures(client, account, runtime):
    query = signed_query(account.token)
    body, aes_query = encrypt_body(account, text_xml("帮助"), query)
    tampered = {**aes_query, "msg_signature": "f" * 40}
    assert client.post(url("/wechat", tampered), data=body).status_code == 403
    garbage = body.replace(body[body.index("CDATA[") + 6], "%")
    garbled = parse_xml(garbage)["Encrypt"]
    forged = {**aes_query, "msg_signature": signature(account.token, query["timestamp"],
                                                      query["nonce"], garbled)}
    assert client.post(url("/wechat", forged), data=garbage).status_code == 400
    no_encrypt = {**query, "encrypt_type": "aes"}
    assert client.post(url("/wechat", no_encrypt), data=text_xml("帮助")).status_code == 400
    assert logged(runtime) == []


def test_key_rotation_accepts_previous_key(runtime, app, account):
    old = account
    new_key = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
    rotated = old.__class__(old.name, old.token, old.appid, old.secret, aes_key=new_key,
                            previous_aes_key=old.aes_key, type=old.type)
    runtime.settings = runtime.settings.with_overrides(accounts=(rotated,))
    client = app.test_client()
    for sender in (old, rotated):
        body, query = encrypt_body(sender, text_xml("帮助"), signed_query(old.token))
        response = client.post(url("/wechat", query), data=body)
        assert response.status_code == 200
    assert len(logged(runtime)) == 2


def test_retry_gets_the_first_reply_and_runs_no_handler_twice(client, account, runtime):
    body = text_xml("帮助", msg_id=42)
    first = post(client, account, body)
    second = post(client, account, body)
    assert first.data == second.data
    rows = logged(runtime)
    assert len(rows) == 1 and rows[0].retries == 1


def test_event_retry_deduplicated_by_sender_and_time(client, account, runtime):
    body = event_xml("subscribe", openid="oFollow", create_time=1700000000)
    assert post(client, account, body).data == post(client, account, body).data
    assert len(logged(runtime)) == 1


def test_two_menu_taps_in_one_second_are_two_messages(client, account, runtime):
    first = event_xml("CLICK", openid="oTap", key="A", create_time=1700000000)
    second = event_xml("CLICK", openid="oTap", key="B", create_time=1700000000)
    view = event_xml("VIEW", openid="oTap", key="https://example.org/" + "x" * 300,
                     create_time=1700000000)
    for body in (first, second, first, view, view):
        post(client, account, body)
    rows = logged(runtime)
    assert len(rows) == 3 and all(len(row.msg_key) <= 128 for row in rows)


def test_subscriber_row_follows_the_story(client, account, runtime):
    post(client, account, event_xml("subscribe", openid="oStory", create_time=1))
    post(client, account, text_xml("你好", openid="oStory"))
    post(client, account, event_xml("unsubscribe", openid="oStory", create_time=2))
    with runtime.engine.connect() as conn:
        row = conn.execute(select(Subscriber).where(Subscriber.openid == "oStory")).one()
    assert row.subscribed is False
    assert row.subscribed_at is not None and row.unsubscribed_at is not None
    assert row.last_message_at is not None


def test_message_log_keeps_reply_and_time(client, account, runtime):
    post(client, account, text_xml("帮助", openid="oLog"))
    row = logged(runtime)[0]
    assert (row.openid, row.msg_type, row.content) == ("oLog", "text", "帮助")
    assert "帮助" in row.reply_text and row.reply_kind == "text"
    assert row.handled_ms is not None and row.handled_ms >= 0


def test_unknown_account_path_is_404(client, account):
    assert post(client, account, text_xml("帮助"), path="/wechat/nobody").status_code == 404


def test_healthz(client, runtime):
    assert client.get("/healthz").status_code == 200


def test_healthz_503_when_database_unreachable(settings, tmp_path):
    from bot.app import create_app
    from bot.runtime import build_runtime

    broken = settings.with_overrides(database_url=f"sqlite:///{tmp_path}/missing/dir/x.db")
    runtime = build_runtime(broken)
    runtime.engine.dispose()
    import sqlalchemy

    runtime.engine = sqlalchemy.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none",
                                              connect_args={"connect_timeout": 1})
    assert create_app(runtime=runtime).test_client().get("/healthz").status_code == 503


def test_no_rows_without_claim_count(client, account, runtime):
    for index in range(5):
        post(client, account, text_xml("帮助", msg_id=1000 + index))
    with runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(InboundMessage)).scalar() == 5


def test_markup_inside_content_is_just_text(client, account, runtime):
    body = text_xml("<!DOCTYPE x> &amp; <!ENTITY y> 帮助", openid="oMarkup")
    assert post(client, account, body.encode()).status_code == 200
    assert logged(runtime)[0].content == "<!DOCTYPE x> &amp; <!ENTITY y> 帮助"


def test_entity_reference_without_dtd_is_refused(client, account, runtime):
    body = text_xml("hi").replace("<![CDATA[hi]]>", "&xxe;")
    assert post(client, account, body.encode()).status_code == 400
    assert logged(runtime) == []


def test_empty_sender_is_refused(client, account, runtime):
    body = text_xml("hi").replace("<![CDATA[oUser1]]>", "")
    assert post(client, account, body.encode()).status_code == 400


def test_non_ascii_signature_is_403_not_500(client, account):
    query = {**signed_query(account.token), "signature": "签名"}
    assert client.post(url("/wechat", query), data=text_xml("帮助")).status_code == 403
    assert client.get(url("/wechat", {**query, "echostr": "x"})).status_code == 403


def test_webhook_answers_503_when_the_database_is_unreachable(settings):
    """Nothing could be claimed: 503, so WeChat retries; never a 500."""
    import sqlalchemy

    from bot.app import create_app
    from bot.runtime import build_runtime
    from bot.services.hotpath import HotConnections

    runtime = build_runtime(settings)
    runtime.hot = HotConnections(sqlalchemy.create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1}))
    client = create_app(runtime=runtime).test_client()
    response = post(client, settings.default_account, text_xml("帮助"))
    assert response.status_code == 503 and b"database" in response.data
    runtime.close()


def test_webhook_answers_503_when_the_schema_is_missing(settings):
    from bot.app import create_app
    from bot.runtime import build_runtime

    runtime = build_runtime(settings)  # never migrated: no tables
    client = create_app(runtime=runtime).test_client()
    assert post(client, settings.default_account, text_xml("帮助")).status_code == 503
    runtime.close()


def test_the_webhook_opens_no_session(client, account, app):
    from flask import session

    response = post(client, account, text_xml("帮助"))
    assert "Set-Cookie" not in response.headers
    with app.test_request_context("/wechat", method="POST"):
        assert session.__class__.__name__ == "NullSession"
    with app.test_request_context("/console/"):
        assert session.__class__.__name__ == "SecureCookieSession"

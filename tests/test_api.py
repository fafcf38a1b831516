"""The outbound client against the fake WeChat API over real HTTP."""

from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import select

from bot.dispatch import Article
from bot.models import OutboundMessage, Subscriber
from bot.wechat.api import WeChatAPI, WeChatAPIError
from bot.wechat.replies import TEXT_LIMIT_BYTES
from tests.wechat import event_xml, signed_query, text_xml, url

JPEG = b"\xff\xd8\xff\xe0" + b"0" * 1000


def calls(live, path=None):
    params = {"path": path} if path else {}
    return requests.get(f"{live.url}/sim/api/_calls", params=params, timeout=5).json()


def fault(live, **spec):
    requests.post(f"{live.url}/sim/api/_faults", json=spec, timeout=5).raise_for_status()


def say(live, account, openid, body=None):
    body = body or text_xml("你好", openid=openid)
    answer = requests.post(url(f"{live.url}/wechat", signed_query(account.token)),
                           data=body.encode(), timeout=5)
    answer.raise_for_status()


def outbound(runtime):
    with runtime.engine.connect() as conn:
        return conn.execute(select(OutboundMessage).order_by(OutboundMessage.id)).all()


def window_used(runtime, openid):
    with runtime.engine.connect() as conn:
        return conn.execute(select(Subscriber.message_window_sent)
                            .where(Subscriber.openid == openid)).scalar()


@pytest.fixture
def api(live, runtime, account):
    return WeChatAPI(runtime.settings, account, runtime.engine)


def test_token_fetched_once_from_api_base_and_shared(live, api, account, runtime):
    say(live, account, "o1")
    for _ in range(3):
        assert api.send_text("o1", "消息").ok
    assert api.client.tag.get() == [{"id": 2, "name": "星标组", "count": 0}]  # wechatpy's own
    other = WeChatAPI(runtime.settings, account, runtime.engine)  # another worker, say
    assert other.get_tags()["tags"][0]["id"] == 2
    (fetch,) = calls(live, "token")
    assert fetch["appid"] == account.appid and "secret=***" in fetch["query"]
    assert len(calls(live, "message/custom/send")) == 3


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
def test_expired_token_refreshed_once_and_retried(live, api, account, errcode):
    say(live, account, "o1")
    assert api.send_text("o1", "一").ok
    fault(live, path="message/custom/send", errcode=errcode)
    assert api.send_text("o1", "二").ok
    assert len(calls(live, "token")) == 2
    fault(live, path="message/custom/send", errcode=errcode, count=2)
    result = api.send_text("o1", "三")
    assert (result.ok, result.errcode) == (False, errcode)
    assert len(calls(live, "token")) == 3  # one refresh per call, one retry
    assert [c["errcode"] for c in calls(live, "message/custom/send")] == \
        [0, errcode, 0, errcode, errcode]


def test_window_refusals_are_local_and_recorded(live, api, account, runtime):
    result = api.send_text("never-wrote", "你好")
    assert (result.ok, result.errcode) == (False, 45015) and result.outbound_id
    say(live, account, "o2")
    for _ in range(5):
        assert api.send_text("o2", "好").ok
    assert api.send_text("o2", "第六条").errcode == 45047
    assert [c["body"]["touser"] for c in calls(live, "message/custom/send")] == ["o2"] * 5
    statuses = [(r.status, r.errcode) for r in outbound(runtime)]
    assert statuses == [("refused", 45015)] + [("sent", 0)] * 5 + [("refused", 45047)]


def test_event_window_allows_three_in_a_minute(live, api, account):
    say(live, account, "o3", event_xml("subscribe", openid="o3"))
    assert [api.send_text("o3", "好").ok for _ in range(4)] == [True, True, True, False]


def test_api_errors_reported_not_raised(live, api, account, runtime):
    say(live, account, "o4")
    for errcode in (45015, 45047):
        fault(live, path="message/custom/send", errcode=errcode)
        assert api.send_text("o4", "好").errcode == errcode
    fault(live, path="message/custom/send", http_status=502)
    result = api.send_article("o4", Article("标题", url="http://x"))
    assert (result.ok, result.errcode) == (False, -1) and "502" in result.error
    fault(live, path="message/custom/send", delay=1.0)
    slow = WeChatAPI(runtime.settings.with_overrides(api_timeout=0.3), account, runtime.engine)
    timed_out = slow.send_text("o4", "好")
    # the request went out and its answer timed out: -2, "may have acted", not retried blindly
    assert not timed_out.ok and timed_out.errcode == -2 and "may have acted" in timed_out.error
    assert [(r.status, r.errcode) for r in outbound(runtime)] == \
        [("failed", 45015), ("failed", 45047), ("failed", -1), ("failed", -2)]
    assert window_used(runtime, "o4") == 0  # failures do not count against the quota


def test_unreachable_api_and_refused_token_are_reported(live, runtime, account):
    say(live, account, "o5")
    closed = runtime.settings.with_overrides(api_base="http://127.0.0.1:9/")
    result = WeChatAPI(closed, account, runtime.engine).send_text("o5", "好")
    assert (result.ok, result.errcode) == (False, -1) and "token" in result.error
    wrong = account.__class__(account.name, account.token, account.appid, "wrong-secret")
    refused = WeChatAPI(runtime.settings, wrong, runtime.engine).send_text("o5", "好")
    assert (refused.ok, refused.errcode) == (False, 40125)
    assert [r.status for r in outbound(runtime)] == ["failed", "failed"]
    assert calls(live, "message/custom/send") == []


def test_every_attempt_recorded_with_its_payload(live, api, account, runtime):
    say(live, account, "o6")
    long = api.send_text("o6", "很长的回答。" * 400, inbound_id=42)
    news = api.send_reply("o6", Article("标题", "摘要", "http://x/p/1", "http://x/1.png"))
    nothing = api.send_reply("o6", None)
    assert long.ok and news.ok and nothing.ok and nothing.outbound_id is None
    rows = outbound(runtime)
    assert [(r.kind, r.status, r.inbound_id) for r in rows] == \
        [("custom", "sent", 42), ("custom", "sent", None)]
    content = json.loads(rows[0].payload)["text"]["content"]
    assert len(content.encode()) <= TEXT_LIMIT_BYTES and content.endswith("……")
    assert json.loads(rows[1].payload)["news"]["articles"] == [{
        "title": "标题", "description": "摘要", "url": "http://x/p/1",
        "picurl": "http://x/1.png"}]


def test_templates_refused_for_subscription_accounts(live, runtime, account):
    sub = account.__class__(account.name, account.token, account.appid, account.secret,
                            type="subscription")
    refused = WeChatAPI(runtime.settings, sub, runtime.engine).send_template(
        "o1", "T1", {"first": {"value": "x"}})
    assert (refused.ok, refused.errcode) == (False, 48001)
    assert calls(live, "message/template/send") == []
    service = WeChatAPI(runtime.settings, account, runtime.engine)
    sent = service.send_template("o1", "T1", {"first": {"value": "x"}}, url="http://x/")
    assert sent.ok and sent.msgid
    assert calls(live, "message/template/send")[0]["body"]["url"] == "http://x/"
    fault(live, path="message/template/send", errcode=43004)
    assert service.send_template("o1", "T1", {"first": {"value": "x"}}).errcode == 43004
    assert [(r.kind, r.status, r.wechat_msgid) for r in outbound(runtime)] == [
        ("template", "refused", ""), ("template", "sent", sent.msgid),
        ("template", "failed", "")]


def test_broadcast_wrappers(live, api):
    thumb = api.add_material("thumb", "cover.jpg", JPEG)["media_id"]
    draft = api.add_draft([{"title": "通知", "content": "<p>正文</p>",
                            "thumb_media_id": thumb}])["media_id"]
    assert api.preview("o1", media_id=draft)["errcode"] == 0
    sent = api.mass_send_mpnews(draft, tag_id=7, clientmsgid="push-1")
    body = calls(live, "message/mass/sendall")[-1]["body"]
    assert body["filter"] == {"is_to_all": False, "tag_id": 7} and "group_id" not in body
    assert api.mass_status(sent["msg_id"])["msg_status"] == "SEND_SUCCESS"
    with pytest.raises(WeChatAPIError) as repeated:
        api.mass_send_mpnews(draft, tag_id=7, clientmsgid="push-1")
    assert repeated.value.errcode == 45065
    assert api.mass_send_text("全体通知")["msg_id"]
    assert api.mass_send_to(["o1", "o2"], {"msgtype": "text", "text": {"content": "点名"}})
    assert api.publish(draft)["publish_id"]
    with pytest.raises(WeChatAPIError) as bad:
        api.add_draft([])
    assert (bad.value.errcode, bad.value.errmsg) == (44003, "empty news data")


def test_menu_tag_and_media_wrappers(live, api):
    menu = {"button": [{"type": "click", "name": "帮助", "key": "HELP"}]}
    assert api.create_menu(menu)["errcode"] == 0
    assert api.get_menu() == {"menu": menu}
    assert api.delete_menu()["errcode"] == 0
    tag = api.create_tag("政策")["tag"]["id"]
    assert api.tag_users(tag, ["o1", "o2"])["errcode"] == 0
    assert api.untag_users(tag, ["o2"])["errcode"] == 0
    assert {t["id"]: t["count"] for t in api.get_tags()["tags"]} == {2: 0, tag: 1}
    assert api.upload_media("image", "a.png", b"png")["media_id"]
    with pytest.raises(WeChatAPIError) as refused:
        api.upload_media("sticker", "a.png", b"png")
    assert refused.value.errcode == 40004

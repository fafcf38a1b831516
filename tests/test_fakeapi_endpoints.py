"""The fake WeChat API's endpoints check what WeChat checks and answer what it answers."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.simulator import wechat_messages
from bot.simulator.wechat_rules import Call, Done
from tests.fakewx import FakeWeChat

JPEG = b"\xff\xd8\xff\xe0" + b"0" * 1000


@pytest.fixture
def wx(client, account):
    return FakeWeChat(client, account)


@pytest.fixture
def subscription(client, runtime, account):
    """The same appid as a subscription account."""
    sub = account.__class__(account.name, account.token, account.appid, account.secret,
                            type="subscription")
    runtime.settings = runtime.settings.with_overrides(accounts=(sub,))
    return FakeWeChat(client, sub)


def draft(wx: FakeWeChat, title: str = "标题") -> str:
    thumb = wx.upload("material/add_material", "thumb", "cover.jpg", JPEG)["media_id"]
    article = {"title": title, "content": "<p>正文</p>", "thumb_media_id": thumb}
    return wx.post("draft/add", {"articles": [article]})["media_id"]


def text(openid: str, content: str) -> dict:
    return {"touser": openid, "msgtype": "text", "text": {"content": content}}


@pytest.mark.parametrize("body,errcode", [
    (text("o1", "好"), 0),
    (text("o1", "长" * 682 + "12"), 0),  # exactly 2048 bytes
    (text("o1", "长" * 683), 45002),
    (text("o1", ""), 44004),
    ({"touser": "o1", "msgtype": "text", "text": {}}, 44004),
    (text("", "好"), 40003),
    ({"msgtype": "text", "text": {"content": "好"}}, 40003),
    ({"touser": "o1", "msgtype": "news", "news": {"articles": [{}, {}]}}, 45008),
    ({"touser": "o1", "msgtype": "news", "news": {"articles": []}}, 44003),
    ({"touser": "o1", "msgtype": "news", "news": {"articles": [{"title": "t"}]}}, 0),
    ({"touser": "o1", "msgtype": "image", "image": {}}, 40007),
    ({"touser": "o1", "msgtype": "image", "image": {"media_id": "m"}}, 0),
    ({"touser": "o1", "msgtype": "telegram", "telegram": {}}, 40008),
])
def test_custom_send_validation(wx, body, errcode):
    assert wx.post("message/custom/send", body)["errcode"] == errcode


@pytest.mark.parametrize("change,errcode", [
    ({}, 0), ({"template_id": ""}, 40037), ({"touser": None}, 40003),
    ({"data": {"first": "x"}}, 47001), ({"data": None}, 47001),
])
def test_template_send_validation(wx, change, errcode):
    body = {"touser": "o1", "template_id": "T1", "data": {"first": {"value": "x"}}, **change}
    answer = wx.post("message/template/send", body)
    assert answer["errcode"] == errcode
    assert ("msgid" in answer) == (errcode == 0)


def test_templates_only_for_service_accounts(subscription):
    body = {"touser": "o1", "template_id": "T1", "data": {"first": {"value": "x"}}}
    assert subscription.post("message/template/send", body)["errcode"] == 48001


def test_mass_sendall_dedupes_like_wechat(wx):
    body = {"filter": {"is_to_all": False, "tag_id": 2}, "msgtype": "mpnews",
            "mpnews": {"media_id": draft(wx)}, "clientmsgid": "push-7"}
    first = wx.post("message/mass/sendall", body)
    assert first["errcode"] == 0 and first["msg_id"] and first["msg_data_id"]
    again = wx.post("message/mass/sendall", body)
    assert (again["errcode"], again["msg_id"]) == (45065, first["msg_id"])
    plain = {"filter": {"is_to_all": False, "tag_id": 2}, "msgtype": "text",
             "text": {"content": "通知"}}
    assert wx.post("message/mass/sendall", plain)["errcode"] == 0
    assert wx.post("message/mass/sendall", plain)["errcode"] == 45065  # digest of content
    assert wx.post("message/mass/sendall", {**plain, "clientmsgid": "x" * 65})["errcode"] \
        == 45067
    status = wx.post("message/mass/get", {"msg_id": str(first["msg_id"])})
    assert status == {"msg_id": first["msg_id"], "msg_status": "SEND_SUCCESS"}
    assert wx.post("message/mass/get", {"msg_id": "1"})["errcode"] == 47003


@pytest.mark.parametrize("body,errcode", [
    ({"msgtype": "text", "text": {"content": "x"}}, 47001),
    ({"filter": {}, "msgtype": "text", "text": {"content": "x"}}, 47001),
    ({"filter": {"is_to_all": False, "tag_id": "2"}, "msgtype": "text",
      "text": {"content": "x"}}, 47001),
    ({"filter": {"is_to_all": True}, "msgtype": "text", "text": {"content": ""}}, 44004),
    ({"filter": {"is_to_all": True}, "msgtype": "mpnews", "mpnews": {"media_id": "no"}},
     40007),
    ({"filter": {"is_to_all": True}, "msgtype": "fax", "fax": {}}, 40008),
])
def test_mass_sendall_shape(wx, body, errcode):
    assert wx.post("message/mass/sendall", body)["errcode"] == errcode


def test_subscription_account_broadcasts_once_a_day(subscription):
    one = {"filter": {"is_to_all": False, "tag_id": 2}, "msgtype": "text",
           "text": {"content": "一"}}
    assert subscription.post("message/mass/sendall", one)["errcode"] == 0
    two = {**one, "text": {"content": "二"}}
    assert subscription.post("message/mass/sendall", two)["errcode"] == 45028


def test_service_account_once_a_day_to_everyone(wx):
    def to_all(content):
        return {"filter": {"is_to_all": True}, "msgtype": "text", "text": {"content": content}}

    assert wx.post("message/mass/sendall", to_all("一"))["errcode"] == 0
    assert wx.post("message/mass/sendall", to_all("二"))["errcode"] == 45028
    for content in ("三", "四"):  # tag broadcasts are not counted here
        tagged = {**to_all(content), "filter": {"is_to_all": False, "tag_id": 2}}
        assert wx.post("message/mass/sendall", tagged)["errcode"] == 0


def test_service_account_four_broadcasts_to_everyone_a_month(monkeypatch, account, runtime):
    now = dt.datetime(2026, 3, 20, 4, 0)  # 12:00 in Beijing
    monkeypatch.setattr(wechat_messages, "utcnow", lambda: now)
    call = Call(account, runtime, data={"filter": {"is_to_all": True}})

    def sent(*moments):
        return [Done(i, "message/mass/sendall", m, {"filter": {"is_to_all": True}}, {})
                for i, m in enumerate(moments)]

    march = [dt.datetime(2026, 3, day, 2) for day in (2, 9, 16)]
    assert wechat_messages._sendall_quota(call, sent(*march)) == 0
    assert wechat_messages._sendall_quota(call, sent(*march, dt.datetime(2026, 3, 18))) \
        == 45028
    assert wechat_messages._sendall_quota(call, sent(dt.datetime(2026, 2, 28, 15, 0))) == 0
    # 17:00 UTC on the 19th is already the 20th in Beijing
    assert wechat_messages._sendall_quota(call, sent(dt.datetime(2026, 3, 19, 17, 0))) \
        == 45028


def test_mass_send_by_openids_and_preview(wx):
    body = {"touser": ["o1", "o2"], "msgtype": "text", "text": {"content": "通知"}}
    assert wx.post("message/mass/send", body)["errcode"] == 0
    assert wx.post("message/mass/send", body)["errcode"] == 45065
    assert wx.post("message/mass/send", {**body, "touser": ["o1"]})["errcode"] == 40130
    preview = {"touser": "o1", "msgtype": "text", "text": {"content": "预览"}}
    assert wx.post("message/mass/preview", preview)["errcode"] == 0
    assert wx.post("message/mass/preview", {**preview, "touser": ""})["errcode"] == 40003


def test_mass_send_by_openids_is_for_service_accounts(subscription):
    body = {"touser": ["o1", "o2"], "msgtype": "text", "text": {"content": "通知"}}
    assert subscription.post("message/mass/send", body)["errcode"] == 48001


@pytest.mark.parametrize("change,errcode", [
    ({}, 0), ({"title": ""}, 44003), ({"content": ""}, 44003), ({"title": "题" * 33}, 45003),
    ({"author": "名" * 17}, 45110), ({"digest": "摘" * 129}, 45004),
    ({"content": "字" * 20000}, 45002), ({"content_source_url": "h" * 1025}, 45005),
    ({"thumb_media_id": "sim-material-unknown"}, 40007), ({"thumb_media_id": None}, 40007),
    ({"article_type": "newspic", "thumb_media_id": None}, 0),
])
def test_draft_articles_checked(wx, change, errcode):
    thumb = wx.upload("material/add_material", "thumb", "cover.jpg", JPEG)["media_id"]
    article = {"title": "标题", "content": "<p>正文</p>", "thumb_media_id": thumb, **change}
    answer = wx.post("draft/add", {"articles": [article]})
    assert answer.get("errcode", 0) == errcode
    assert ("media_id" in answer) == (errcode == 0)


def test_draft_sizes_and_publishing(wx):
    assert wx.post("draft/add", {"articles": []})["errcode"] == 44003
    media_id = draft(wx)
    article = wx.calls(path="draft/add")[-1]["body"]["articles"][0]
    assert wx.post("draft/add", {"articles": [article] * 9})["errcode"] == 45008
    published = wx.post("freepublish/submit", {"media_id": media_id})
    assert published["errcode"] == 0 and published["publish_id"]
    assert wx.post("freepublish/submit", {"media_id": "nope"})["errcode"] == 40007


def test_menu_limits(wx):
    def menu(*buttons):
        return wx.post("menu/create", {"button": list(buttons)})["errcode"]

    click = {"type": "click", "name": "帮助", "key": "HELP"}
    assert menu() == 40016 and menu(click, click, click, click) == 40016
    assert menu({**click, "name": "扶贫政策法规查询"}) == 40018  # 24 bytes
    assert menu({**click, "key": ""}) == 40019
    assert menu({**click, "type": "teleport"}) == 40017
    assert menu({"type": "view", "name": "官网", "url": "ftp://x"}) == 40055
    assert menu({"type": "view", "name": "官网", "url": "https://" + "x" * 1020}) == 40020

    def parent(*subs):
        return {"name": "政策", "sub_button": list(subs)}

    assert menu(parent(*[click] * 6)) == 40023
    assert menu(parent({**click, "name": "长" * 21})) == 40025  # 63 bytes
    assert menu(parent({**click, "key": None})) == 40026
    assert menu(parent({**click, "type": "teleport"})) == 40024
    assert menu(parent({"type": "view", "name": "官网", "url": "x"})) == 40054
    assert menu(parent(*[click] * 5), click, {"type": "view", "name": "官网",
                                              "url": "https://example.org/"}) == 0


def test_menu_get_and_delete_per_account(client, wx, runtime, account):
    other = account.__class__("other", "t2", "wxotherappid0002", "other-secret")
    runtime.settings = runtime.settings.with_overrides(accounts=(account, other))
    good = {"button": [{"type": "click", "name": "帮助", "key": "HELP"}]}
    assert wx.post("menu/create", good)["errcode"] == 0
    assert wx.get("menu/get") == {"menu": good}
    assert FakeWeChat(client, other).get("menu/get")["errcode"] == 46003
    assert wx.get("menu/delete")["errcode"] == 0
    assert wx.get("menu/get")["errcode"] == 46003


def test_tags_and_members(wx):
    created = wx.post("tags/create", {"tag": {"name": "政策"}})["tag"]
    assert created["id"] >= 100
    assert wx.post("tags/create", {"tag": {"name": "政策"}})["errcode"] == 45157
    assert wx.post("tags/create", {"tag": {"name": "长" * 31}})["errcode"] == 45158
    assert wx.post("tags/create", {"tag": {}})["errcode"] == 45157
    tag = created["id"]
    assert wx.post("tags/members/batchtagging", {"openid_list": ["o1", "o2"],
                                                 "tagid": tag})["errcode"] == 0
    assert wx.get("tags/get")["tags"] == [{"id": 2, "name": "星标组", "count": 0},
                                          {"id": tag, "name": "政策", "count": 2}]
    assert wx.post("tags/getidlist", {"openid": "o1"}) == {"tagid_list": [tag]}
    assert wx.post("tags/members/batchuntagging", {"openid_list": ["o1"],
                                                   "tagid": tag})["errcode"] == 0
    assert wx.post("tags/getidlist", {"openid": "o1"}) == {"tagid_list": []}
    assert wx.post("tags/getidlist", {})["errcode"] == 40003
    members = {"openid_list": [f"o{i}" for i in range(51)], "tagid": tag}
    assert wx.post("tags/members/batchtagging", members)["errcode"] == 40032
    assert wx.post("tags/members/batchtagging", {"openid_list": ["o1"],
                                                 "tagid": 999})["errcode"] == 45159
    assert wx.post("tags/delete", {"tag": {"id": 2}})["errcode"] == 45058
    assert wx.post("tags/delete", {"tag": {"id": tag}})["errcode"] == 0
    assert wx.post("tags/delete", {"tag": {"id": tag}})["errcode"] == 45159
    assert [t["id"] for t in wx.get("tags/get")["tags"]] == [2]


def test_tags_are_replayed_once_not_on_every_call(wx, monkeypatch):
    """The fake API keeps each account's settled tag state: a call reads the calls recorded
    since, not the whole history (a soak's thousands of subscriptions made it slower and
    slower); clearing the record starts it afresh."""
    from bot.simulator import wechat_assets

    monkeypatch.setattr(wechat_assets, "SETTLE", dt.timedelta(0))  # every call settled at once
    read: list[int] = []
    history = Call.history
    monkeypatch.setattr(Call, "history", lambda self, *a, **k: read.append(
        len(found := history(self, *a, **k))) or found)
    tag = wx.post("tags/create", {"tag": {"name": "政策"}})["tag"]["id"]
    for n in range(30):
        assert wx.post("tags/members/batchtagging", {"openid_list": [f"o{n}"],
                                                     "tagid": tag})["errcode"] == 0
    assert wx.post("tags/members/batchuntagging", {"openid_list": ["o3"],
                                                   "tagid": tag})["errcode"] == 0
    assert wx.get("tags/get")["tags"][1] == {"id": tag, "name": "政策", "count": 29}
    assert wx.post("tags/getidlist", {"openid": "o3"}) == {"tagid_list": []}
    assert max(read[1:]) == 1  # each call read the one call made since the last
    assert wx.client.delete("/sim/api/_calls").status_code == 200
    assert [t["id"] for t in wx.get("tags/get")["tags"]] == [2]
    assert wx.post("tags/create", {"tag": {"name": "资金"}})["tag"]["id"] == 100


def test_tags_recorded_in_the_last_seconds_count_too(wx):
    tag = wx.post("tags/create", {"tag": {"name": "政策"}})["tag"]["id"]
    wx.post("tags/members/batchtagging", {"openid_list": ["o1"], "tagid": tag})
    assert wx.post("tags/getidlist", {"openid": "o1"}) == {"tagid_list": [tag]}
    wx.post("tags/delete", {"tag": {"id": tag}})
    assert wx.post("tags/getidlist", {"openid": "o1"}) == {"tagid_list": []}


def test_tag_limits(wx):
    ids = [wx.post("tags/create", {"tag": {"name": f"标签{i}"}})["tag"]["id"]
           for i in range(100)]
    assert wx.post("tags/create", {"tag": {"name": "多余"}})["errcode"] == 45056
    for tag in ids[:20]:
        wx.post("tags/members/batchtagging", {"openid_list": ["o1"], "tagid": tag})
    assert wx.post("tags/members/batchtagging", {"openid_list": ["o1"],
                                                 "tagid": ids[20]})["errcode"] == 45059


@pytest.mark.parametrize("kind,filename,size,errcode", [
    ("image", "a.png", 100, 0), ("thumb", "c.jpg", 64 * 1024, 0),
    ("thumb", "c.jpg", 64 * 1024 + 1, 40006), ("voice", "v.mp3", 100, 0),
    ("voice", "v.exe", 100, 40005), ("sticker", "a.png", 100, 40004),
    ("image", "a.png", 0, 40006),
])
def test_media_upload_checked(wx, kind, filename, size, errcode):
    answer = wx.upload("media/upload", kind, filename, b"x" * size)
    assert answer.get("errcode", 0) == errcode
    if errcode == 0:
        key = "thumb_media_id" if kind == "thumb" else "media_id"
        assert answer["type"] == kind and answer[key].startswith("sim-media-")
    recorded = wx.calls(path="media/upload")[-1]["body"]
    assert recorded["files"]["media"] == {"filename": filename, "size": size}


def test_media_needs_a_file_and_materials(wx):
    answer = wx.client.post("/sim/api/media/upload", data={}, content_type="multipart/form-data",
                            query_string={"access_token": wx.token, "type": "image"})
    assert answer.get_json()["errcode"] == 41005
    image = wx.upload("material/add_material", "image", "a.jpg", JPEG)
    assert image["media_id"].startswith("sim-material-") and image["url"].startswith("http")
    assert wx.upload("material/add_material", "video", "v.mp4", b"v")["errcode"] == 47001
    video = wx.upload("material/add_material", "video", "v.mp4", b"v",
                      description='{"title": "视频", "introduction": "介绍"}')
    assert "media_id" in video

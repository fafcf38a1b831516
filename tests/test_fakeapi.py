"""The fake WeChat API answers like WeChat: tokens, validation, errors, records, faults."""

from __future__ import annotations

import json
import time

import pytest

from bot.simulator.fakeapi import issue_token


def token(client, account):
    data = client.get("/sim/api/token", query_string={
        "grant_type": "client_credential", "appid": account.appid,
        "secret": account.secret}).get_json()
    return data["access_token"]


def post(client, path, token_value, body):
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body, ensure_ascii=False)
    return client.post(f"/sim/api/{path}", query_string={"access_token": token_value},
                       data=raw).get_json()


@pytest.mark.parametrize("params,errcode", [
    ({"grant_type": "client_credential", "appid": "wxnobody", "secret": "x"}, 40013),
    ({"grant_type": "client_credential", "appid": "wxtestappid0001", "secret": "x"}, 40125),
    ({"grant_type": "password", "appid": "wxtestappid0001", "secret": "test-secret"}, 40002),
])
def test_token_errors(client, params, errcode):
    assert client.get("/sim/api/token", query_string=params).get_json()["errcode"] == errcode


def test_token_checked_on_every_call(client, account):
    body = {"touser": "o1", "msgtype": "text", "text": {"content": "你好"}}
    assert post(client, "message/custom/send", "", body)["errcode"] == 41001
    assert post(client, "message/custom/send", "SIM1.bad.token", body)["errcode"] == 40001
    expired = issue_token(account, now=time.time() - 8000)
    assert post(client, "message/custom/send", expired, body)["errcode"] == 42001
    assert post(client, "message/custom/send", token(client, account), body)["errcode"] == 0


@pytest.mark.parametrize("body,errcode", [
    ({"touser": "o1", "msgtype": "text", "text": {"content": "好"}}, 0),
    ({"touser": "o1", "msgtype": "text", "text": {"content": "长" * 700}}, 45002),
    ({"touser": "o1", "msgtype": "text", "text": {}}, 44002),
    ({"msgtype": "text", "text": {"content": "好"}}, 40003),
    ({"touser": "o1", "msgtype": "news", "news": {"articles": [{}, {}]}}, 45008),
    ({"touser": "o1", "msgtype": "news", "news": {"articles": [{"title": "t"}]}}, 0),
])
def test_custom_send_validation(client, account, body, errcode):
    assert post(client, "message/custom/send", token(client, account), body)["errcode"] == errcode


def test_not_json_is_47001(client, account):
    assert post(client, "message/custom/send", token(client, account), b"<xml/>")["errcode"] \
        == 47001


def test_menu_limits_and_get(client, account):
    tok = token(client, account)
    too_many = {"button": [{"type": "click", "name": "a", "key": "A"}] * 4}
    assert post(client, "menu/create", tok, too_many)["errcode"] == 40016
    long_name = {"button": [{"type": "click", "name": "扶贫政策法规查询", "key": "A"}]}
    assert post(client, "menu/create", tok, long_name)["errcode"] == 40018
    subs = {"button": [{"name": "政策", "sub_button": [
        {"type": "click", "name": f"项{i}", "key": f"K{i}"} for i in range(6)]}]}
    assert post(client, "menu/create", tok, subs)["errcode"] == 40023
    no_key = {"button": [{"type": "click", "name": "帮助"}]}
    assert post(client, "menu/create", tok, no_key)["errcode"] == 40019
    good = {"button": [{"type": "click", "name": "帮助", "key": "HELP"},
                       {"type": "view", "name": "官网", "url": "https://example.org/"}]}
    assert post(client, "menu/create", tok, good)["errcode"] == 0
    got = client.get("/sim/api/menu/get", query_string={"access_token": tok}).get_json()
    assert got["menu"] == good


def test_mass_send_dedupes_clientmsgid_and_checks_shape(client, account):
    tok = token(client, account)
    body = {"filter": {"is_to_all": False, "tag_id": 2}, "msgtype": "mpnews",
            "mpnews": {"media_id": "draft_1"}, "clientmsgid": "push-7"}
    first = post(client, "message/mass/sendall", tok, body)
    again = post(client, "message/mass/sendall", tok, body)
    assert first["errcode"] == 0 and again["msg_id"] == first["msg_id"]
    assert post(client, "message/mass/sendall", tok, {**body, "filter": {}})["errcode"] == 47001
    draft = post(client, "draft/add", tok, {"articles": [{"title": "t", "content": "c"}]})
    assert draft["media_id"].startswith("draft_")
    assert post(client, "draft/add", tok, {"articles": []})["errcode"] == 47001


def test_templates_only_for_service_accounts(client, account, runtime):
    tok = token(client, account)
    body = {"touser": "o1", "template_id": "T1", "data": {"first": {"value": "x"}}}
    assert post(client, "message/template/send", tok, body)["errcode"] == 0
    sub = account.__class__(account.name, account.token, account.appid, account.secret,
                            type="subscription")
    runtime.settings = runtime.settings.with_overrides(accounts=(sub,))
    assert post(client, "message/template/send", tok, body)["errcode"] == 48001


def test_tags(client, account):
    tok = token(client, account)
    created = post(client, "tags/create", tok, {"tag": {"name": "政策"}})["tag"]
    assert post(client, "tags/create", tok, {"tag": {"name": "政策"}})["errcode"] == 45157
    listed = client.get("/sim/api/tags/get", query_string={"access_token": tok}).get_json()
    assert [t["name"] for t in listed["tags"]] == ["政策"]
    assert post(client, "tags/members/batchtagging", tok,
                {"openid_list": ["o1"], "tagid": created["id"]})["errcode"] == 0


def test_calls_recorded_and_filtered(client, account):
    client.delete("/sim/api/_calls")
    tok = token(client, account)
    post(client, "message/custom/send", tok, {"touser": "oA", "msgtype": "text",
                                              "text": {"content": "一"}})
    post(client, "message/custom/send", tok, {"touser": "oB", "msgtype": "text",
                                              "text": {"content": "二"}})
    calls = client.get("/sim/api/_calls").get_json()
    assert [c["path"] for c in calls] == ["token", "message/custom/send", "message/custom/send"]
    mine = client.get("/sim/api/_calls", query_string={"touser": "oB"}).get_json()
    assert [c["body"]["text"]["content"] for c in mine] == ["二"]
    since = client.get("/sim/api/_calls", query_string={"since": calls[1]["id"]}).get_json()
    assert len(since) == 1


def test_faults_fail_exactly_count_calls(client, account):
    tok = token(client, account)
    client.post("/sim/api/_faults", json={"path": "message/custom/send", "errcode": 45047,
                                          "count": 2})
    client.post("/sim/api/_faults", json={"path": "menu/get", "http_status": 503})
    body = {"touser": "o1", "msgtype": "text", "text": {"content": "好"}}
    codes = [post(client, "message/custom/send", tok, body)["errcode"] for _ in range(3)]
    assert codes == [45047, 45047, 0]
    assert client.get("/sim/api/menu/get", query_string={"access_token": tok}).status_code == 503
    assert client.get("/sim/api/_faults").get_json() == []
    assert client.post("/sim/api/_faults", data="nope").status_code == 400

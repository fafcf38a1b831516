"""The fake WeChat API's protocol: tokens, methods and bodies, the record, injected faults."""

from __future__ import annotations

import datetime as dt
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import update

from bot.cli import cli
from bot.db import utcnow
from bot.models import SimulatorCall
from bot.simulator.wechat_tokens import issue_token
from tests.fakewx import FakeWeChat


@pytest.fixture
def wx(client, account):
    return FakeWeChat(client, account)


def backdate(runtime, call_id: int, minutes: float) -> None:
    table = SimulatorCall.__table__
    with runtime.engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == call_id).values(
            created_at=utcnow() - dt.timedelta(minutes=minutes)))


def test_token_issued_and_recorded_without_the_secret(wx, account):
    answer = wx.fetch_token()
    assert answer["access_token"].startswith("SIM1.") and answer["expires_in"] == 7200
    (call,) = wx.calls(path="token")
    assert call["appid"] == account.appid and call["errcode"] == 0
    assert account.secret not in call["query"] and "secret=***" in call["query"]


@pytest.mark.parametrize("params,errcode", [
    ({"appid": "wxnobody"}, 40013),
    ({"secret": "wrong-secret"}, 40125),
    ({"grant_type": "password"}, 40002),
    ({"appid": ""}, 41002),
    ({"secret": ""}, 41004),
])
def test_token_errors(wx, params, errcode):
    answer = wx.fetch_token(**params)
    assert answer["errcode"] == errcode and "access_token" not in answer
    assert wx.calls(path="token")[-1]["errcode"] == errcode


def test_token_wants_get_and_stable_token_wants_post_json(client, account):
    query = {"grant_type": "client_credential", "appid": account.appid,
             "secret": account.secret}
    assert client.post("/sim/api/token", query_string=query).get_json()["errcode"] == 43001
    assert client.get("/sim/api/stable_token").get_json()["errcode"] == 43002
    assert client.post("/sim/api/stable_token", data="appid=x").get_json()["errcode"] == 47001
    wrong = client.post("/sim/api/stable_token", json={**query, "secret": "nope"})
    assert wrong.get_json()["errcode"] == 40125


def test_stable_token_normal_mode_and_forced_refresh(client, wx, account):
    body = {"grant_type": "client_credential", "appid": account.appid,
            "secret": account.secret}
    first = client.post("/sim/api/stable_token", json=body).get_json()
    again = client.post("/sim/api/stable_token", json=body).get_json()
    assert again["access_token"] == first["access_token"] and again["expires_in"] <= 7200
    assert wx.text("o1", "好", token=first["access_token"])["errcode"] == 0
    forced = client.post("/sim/api/stable_token", json={**body, "force_refresh": True})
    forced = forced.get_json()["access_token"]
    assert forced != first["access_token"]
    assert wx.text("o1", "好", token=first["access_token"])["errcode"] == 40001
    assert wx.text("o1", "好", token=forced)["errcode"] == 0
    assert wx.text("o1", "好")["errcode"] == 0  # ordinary tokens are a separate world


def test_token_checked_on_every_call(wx, account):
    good = wx.token
    payload, mac = good.split(".")[1:]
    other = account.__class__("x", "t", account.appid, "another-secret")
    cases = {"": 41001, "SIM1.bad.token": 40001, f"SIM1.{payload}.{mac[:-2]}AA": 40001,
             f"SIM2.{payload}.{mac}": 40001, issue_token(other): 40001,
             issue_token(account, now=time.time() - 8000): 42001, good: 0}
    for value, errcode in cases.items():
        assert wx.text("o1", "你好", token=value)["errcode"] == errcode, value


def test_new_token_retires_the_old_one_after_five_minutes(wx, runtime):
    old = wx.fetch_token()["access_token"]
    new = wx.fetch_token()["access_token"]
    assert wx.text("o1", "好", token=old)["errcode"] == 0  # both work for five minutes
    backdate(runtime, wx.calls(path="token")[-1]["id"], minutes=6)
    assert wx.text("o1", "好", token=old)["errcode"] == 40001
    assert wx.text("o1", "好", token=new)["errcode"] == 0


def test_changed_secret_retires_tokens(wx, runtime, account):
    token = wx.token
    changed = account.__class__(account.name, account.token, account.appid, "a-new-secret")
    runtime.settings = runtime.settings.with_overrides(accounts=(changed,))
    assert wx.text("o1", "好", token=token)["errcode"] == 40001


@pytest.mark.parametrize("method,path,body,errcode", [
    ("get", "message/custom/send", None, 43002),
    ("post", "menu/get", "{}", 43001),
    ("post", "message/custom/send", "", 44002),
    ("post", "message/custom/send", "<xml/>", 47001),
    ("post", "message/custom/send", "[1, 2]", 47001),
    ("post", "message/custom/send", b"\xff\xfe{", 47001),
    ("post", "no/such/api", "{}", 48001),
])
def test_methods_and_bodies_checked(client, wx, method, path, body, errcode):
    call = getattr(client, method)
    answer = call(f"/sim/api/{path}", data=body, query_string={"access_token": wx.token})
    assert answer.status_code == 200 and answer.get_json()["errcode"] == errcode
    assert wx.calls()[-1]["errcode"] == errcode


def test_calls_recorded_and_filtered(wx, account):
    wx.text("oA", "一")
    wx.text("oAB", "二")
    wx.text("o_%", "三")
    wx.post("message/custom/send", {"touser": "oA", "msgtype": "nonsense"})
    calls = wx.calls()
    assert [c["path"] for c in calls] == ["token"] + ["message/custom/send"] * 4
    assert [c["errcode"] for c in calls] == [0, 0, 0, 0, 40008]
    assert calls[1]["body"]["text"]["content"] == "一" and calls[1]["method"] == "POST"
    assert calls[1]["response"] == {"errcode": 0, "errmsg": "ok"}
    mine = wx.calls(touser="oA")
    assert [c["id"] for c in mine] == [calls[1]["id"], calls[4]["id"]]
    assert [c["body"]["text"]["content"] for c in wx.calls(touser="o_%")] == ["三"]
    assert [c["id"] for c in wx.calls(since=calls[2]["id"])] == [calls[3]["id"], calls[4]["id"]]
    assert [c["id"] for c in wx.calls(limit=2)] == [calls[3]["id"], calls[4]["id"]]
    assert len(wx.calls(path="token")) == 1
    assert wx.client.delete("/sim/api/_calls").get_json() == {"deleted": 5}
    assert wx.calls() == []


def test_touser_filter_matches_openid_lists(wx):
    wx.post("message/mass/send", {"touser": ["oX", "oY"], "msgtype": "text",
                                  "text": {"content": "通知"}})
    assert [c["path"] for c in wx.calls(touser="oY")] == ["message/mass/send"]
    assert wx.calls(touser="o") == []


def test_faults_fail_exactly_count_calls(wx):
    wx.fault(path="message/custom/send", errcode=45047, count=2)
    wx.fault(path="/menu/get", http_status=503)
    assert [f["count"] for f in wx.fault(path="tags/get", errcode=-1).get_json()] == [2, 1, 1]
    codes = [wx.text("o1", "好")["errcode"] for _ in range(3)]
    assert codes == [45047, 45047, 0]
    answer = wx.client.get("/sim/api/menu/get", query_string={"access_token": wx.token})
    assert answer.status_code == 503 and answer.get_json()["errcode"] == -1
    assert [c["status"] for c in wx.calls(path="menu/get")] == [503]
    assert [f["path"] for f in wx.client.get("/sim/api/_faults").get_json()] == ["tags/get"]
    assert wx.client.delete("/sim/api/_faults").get_json() == []
    assert wx.get("tags/get")["tags"][0]["name"] == "星标组"


def test_wildcard_fault_hits_token_fetches_too(wx):
    wx.fault(path="*", http_status=500)
    assert wx.client.get("/sim/api/token").status_code == 500
    assert "access_token" in wx.fetch_token()


def test_delay_fault_slows_then_answers(wx):
    token = wx.token
    wx.fault(path="message/custom/send", delay=0.3)
    started = time.perf_counter()
    assert wx.text("o1", "好", token=token)["errcode"] == 0
    assert time.perf_counter() - started >= 0.3


@pytest.mark.parametrize("spec", [
    "not json", [1], {"errcode": "x"}, {"http_status": 99}, {"delay": -1},
    {"delay": 31}, {"errcode": 1, "count": 0}, {"path": "menu/get"},
])
def test_bad_fault_specs_refused(client, spec):
    kwargs = {"data": spec} if isinstance(spec, str) else {"json": spec}
    answer = client.post("/sim/api/_faults", **kwargs)
    assert answer.status_code == 400 and answer.get_json()["error"]
    assert client.get("/sim/api/_faults").get_json() == []


def test_fault_consumed_exactly_count_times_under_concurrency(live, runtime, account):
    base = f"{live.url}/sim/api"
    token = requests.get(f"{base}/token", timeout=5, params={
        "grant_type": "client_credential", "appid": account.appid,
        "secret": account.secret}).json()["access_token"]
    requests.post(f"{base}/_faults", json={"path": "message/custom/send", "errcode": 45015,
                                           "count": 5}, timeout=5).raise_for_status()
    body = json.dumps({"touser": "o1", "msgtype": "text", "text": {"content": "好"}})

    def send(_):
        return requests.post(f"{base}/message/custom/send", params={"access_token": token},
                             data=body, timeout=10).json()["errcode"]

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(send, range(20)))
    assert sorted(codes) == [0] * 15 + [45015] * 5


def test_sim_api_command_serves_the_fake_api_alone(monkeypatch, settings, runtime):
    for key, value in {"HOTLINE_DATABASE_URL": settings.database_url, "HOTLINE_ENV": "test",
                       "WECHAT_TOKEN": "test-token", "WECHAT_APPID": "wxtestappid0001",
                       "WECHAT_SECRET": "test-secret"}.items():
        monkeypatch.setenv(key, value)
    served = {}
    monkeypatch.setattr("bot.cli.run_simple", lambda host, port, app, **kw: served.update(
        host=host, port=port, app=app))
    result = CliRunner().invoke(cli, ["sim", "api", "--port", "8123", "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    assert (served["host"], served["port"]) == ("0.0.0.0", 8123)
    assert "http://127.0.0.1:8123/sim/api/" in result.output
    wx = FakeWeChat(served["app"].test_client(), settings.default_account)
    assert wx.text("o1", "好")["errcode"] == 0
    assert served["app"].test_client().get("/wechat").status_code == 404  # the API only

"""The outbound client against the fake API over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import requests
from sqlalchemy import select

from bot.dispatch import Article
from bot.models import OutboundMessage
from bot.wechat.api import WeChatAPI, WeChatAPIError
from tests.wechat import event_xml, signed_query, text_xml, url


def calls(live, path=None):
    params = {"path": path} if path else {}
    return requests.get(f"{live.url}/sim/api/_calls", params=params, timeout=5).json()


def fault(live, **spec):
    requests.post(f"{live.url}/sim/api/_faults", json=spec, timeout=5).raise_for_status()


def say(live, account, openid, body=None):
    body = body or text_xml("你好", openid=openid)
    requests.post(url(f"{live.url}/wechat", signed_query(account.token)), data=body, timeout=5)


def outbound(runtime):
    with runtime.engine.connect() as conn:
        return conn.execute(select(OutboundMessage).order_by(OutboundMessage.id)).all()


@pytest.fixture
def api(live, runtime, account):
    return WeChatAPI(runtime.settings, account, runtime.engine)


def test_token_fetched_once_and_reused(live, api, account):
    say(live, account, "o1")
    for _ in range(3):
        assert api.send_text("o1", "消息").ok
    assert len(calls(live, "token")) == 1
    assert len(calls(live, "message/custom/send")) == 3


def test_expired_token_refreshed_once_and_retried(live, api, account):
    say(live, account, "o1")
    assert api.send_text("o1", "一").ok
    fault(live, path="message/custom/send", errcode=42001)
    assert api.send_text("o1", "二").ok
    assert len(calls(live, "token")) == 2
    fault(live, path="message/custom/send", errcode=40001, count=2)
    result = api.send_text("o1", "三")
    assert not result.ok and result.errcode == 40001


def test_window_refusals_are_local_and_recorded(live, api, account, runtime):
    result = api.send_text("never-wrote", "你好")
    assert (result.ok, result.errcode) == (False, 45015)
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
    fault(live, path="message/custom/send", errcode=45015)
    assert api.send_text("o4", "好").errcode == 45015
    fault(live, path="message/custom/send", http_status=502)
    result = api.send_article("o4", Article("标题", url="http://x"))
    assert not result.ok and "502" in result.error
    fault(live, path="message/custom/send", delay=1.5)
    slow = WeChatAPI(runtime.settings.with_overrides(api_timeout=0.5), account, runtime.engine)
    assert not slow.send_text("o4", "好").ok
    assert [r.status for r in outbound(runtime)] == ["failed"] * 3


def test_templates_refused_for_subscription_accounts(live, runtime, account):
    sub = account.__class__(account.name, account.token, account.appid, account.secret,
                            type="subscription")
    api = WeChatAPI(runtime.settings, sub, runtime.engine)
    assert api.send_template("o1", "T1", {"first": {"value": "x"}}).errcode == 48001
    service = WeChatAPI(runtime.settings, account, runtime.engine)
    sent = service.send_template("o1", "T1", {"first": {"value": "x"}})
    assert sent.ok and sent.msgid


def test_mass_send_uses_tag_filter(live, api):
    api.mass_send_text("通知", tag_id=7, clientmsgid="c1")
    body = calls(live, "message/mass/sendall")[-1]["body"]
    assert body["filter"] == {"is_to_all": False, "tag_id": 7} and "group_id" not in body
    with pytest.raises(WeChatAPIError) as error:
        api.post("draft/add", {"articles": []})
    assert error.value.errcode == 47001


REFRESH = textwrap.dedent("""
    import json, sys
    from bot.config import Settings
    from bot.db import make_engine
    from bot.wechat.api import WeChatAPI
    settings = Settings.from_env(json.loads(sys.argv[1]))
    engine = make_engine(settings.database_url)
    redis_client = None
    if len(sys.argv) > 2:
        import redis
        redis_client = redis.Redis.from_url(sys.argv[2])
    api = WeChatAPI(settings, settings.default_account, engine, redis_client)
    print(api.token())
""")


def run_two_processes(live, settings, *extra):
    env = {"HOTLINE_DATABASE_URL": settings.database_url, "HOTLINE_ENV": "test",
           "WECHAT_TOKEN": "test-token", "WECHAT_APPID": settings.default_account.appid,
           "WECHAT_SECRET": settings.default_account.secret, "HOTLINE_SIMULATOR": "1",
           "WECHAT_API_BASE": f"{live.url}/sim/api/"}
    fault(live, path="token", delay=0.5)  # both processes must meet while one refreshes
    procs = [subprocess.Popen([sys.executable, "-c", REFRESH, json.dumps(env), *extra],
                              stdout=subprocess.PIPE, text=True, env={**os.environ})
             for _ in range(2)]
    tokens = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert tokens[0] == tokens[1] and tokens[0].startswith("SIM1.")
    assert len(calls(live, "token")) == 1


def test_two_processes_share_one_refresh_database(live, runtime):
    run_two_processes(live, runtime.settings)


@pytest.mark.redis
def test_two_processes_share_one_refresh_redis(live, runtime):
    redis_url = os.environ.get("HOTLINE_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("HOTLINE_TEST_REDIS_URL not set")
    import redis

    client = redis.Redis.from_url(redis_url)
    client.delete("hotline:token:default", "hotline:token-lock:default")
    try:
        run_two_processes(live, runtime.settings, redis_url)
    finally:
        client.delete("hotline:token:default", "hotline:token-lock:default")

"""Retries under concurrency, slow handlers, the reply budget and failing handlers."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select

from bot.dispatch import HandlerGroup, Router
from bot.migrate import upgrade
from bot.models import InboundMessage
from bot.runtime import build_runtime
from bot.wechat.parse import parse_xml
from handlers import GROUPS
from tests.conftest import LiveServer
from tests.wechat import signed_query, text_xml, url


def rows(runtime):
    with runtime.engine.connect() as conn:
        return conn.execute(select(InboundMessage).order_by(InboundMessage.id)).all()


def with_test_group(runtime, gate: threading.Event | None = None, calls: list | None = None):
    group = HandlerGroup("testing")

    @group.keyword("慢")
    def slow(msg, ctx):
        """慢慢回答"""
        if calls is not None:
            calls.append(msg.msg_key)
        if gate is not None:
            gate.wait(10)
        return "慢慢说完了"

    @group.keyword("出错")
    def broken(msg, ctx):
        """总是出错"""
        raise RuntimeError("handler bug")

    runtime.router = Router([group, *GROUPS])


def hammer(base_url, account, body, times=12):
    query = signed_query(account.token)
    with ThreadPoolExecutor(times) as pool:
        futures = [pool.submit(requests.post, url(f"{base_url}/wechat", query), data=body,
                               timeout=20) for _ in range(times)]
        return [f.result() for f in futures]


def check_concurrent_retries(runtime, account):
    calls: list[str] = []
    with_test_group(runtime, calls=calls)
    from bot.app import create_app

    server = LiveServer(create_app(runtime=runtime))
    try:
        for n in range(3):
            body = text_xml("慢", msg_id=777 + n).encode()
            responses = hammer(server.url, account, body)
            assert all(r.status_code == 200 for r in responses)
            replies = [r.content for r in responses if r.content != b"success"]
            assert replies, "at least the first delivery carries the reply"
            assert len(set(replies)) == 1
    finally:
        server.stop()
    assert sorted(calls) == ["m:777", "m:778", "m:779"]
    assert [r.retries for r in rows(runtime)] == [11, 11, 11]


def test_concurrent_retries_sqlite(runtime, account):
    check_concurrent_retries(runtime, account)


@pytest.mark.pg
def test_concurrent_retries_postgresql(settings, pg_database_url, account):
    pg_settings = settings.with_overrides(database_url=pg_database_url)
    upgrade(pg_database_url)
    runtime = build_runtime(pg_settings)
    try:
        check_concurrent_retries(runtime, account)
    finally:
        runtime.close()


def test_retry_while_first_is_running_gets_success_and_first_reply_survives(
        live, runtime, account):
    gate = threading.Event()
    with_test_group(runtime, gate=gate)
    body = text_xml("慢", msg_id=9001).encode()
    query = signed_query(account.token)
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(requests.post, url(f"{live.url}/wechat", query), data=body, timeout=20)
        deadline = time.time() + 5
        while not rows(runtime) and time.time() < deadline:
            time.sleep(0.01)
        retry = requests.post(url(f"{live.url}/wechat", query), data=body, timeout=20)
        assert retry.content == b"success"
        gate.set()
        reply = parse_xml(first.result().content)
    assert reply["Content"] == "慢慢说完了"
    later = requests.post(url(f"{live.url}/wechat", query), data=body, timeout=20)
    assert parse_xml(later.content)["Content"] == "慢慢说完了"
    assert rows(runtime)[0].status == "answered"


def test_failing_handler_gets_apology_and_is_logged(client, runtime, account):
    with_test_group(runtime)
    response = client.post(url("/wechat", signed_query(account.token)), data=text_xml("出错"))
    assert response.status_code == 200
    assert "抱歉" in parse_xml(response.data)["Content"]
    row = rows(runtime)[0]
    assert row.status == "failed" and "handler bug" in row.error


def test_past_budget_answers_success_then_sends_customer_service_message(live, runtime, account):
    gate = threading.Event()
    with_test_group(runtime, gate=gate)
    runtime.settings = runtime.settings.with_overrides(reply_budget=0.3)
    query = signed_query(account.token)
    # the subscriber's own message opened the 48-hour window
    requests.post(url(f"{live.url}/wechat", query), data=text_xml("你好", openid="oSlow"),
                  timeout=10)
    started = time.perf_counter()
    response = requests.post(url(f"{live.url}/wechat", query),
                             data=text_xml("慢", openid="oSlow", msg_id=31337), timeout=10)
    assert response.content == b"success"
    assert time.perf_counter() - started < 2
    gate.set()
    deadline = time.time() + 10
    sends = []
    while time.time() < deadline and not sends:
        calls = requests.get(f"{live.url}/sim/api/_calls",
                             params={"path": "message/custom/send", "touser": "oSlow"}).json()
        sends = [c for c in calls if c["body"]["text"]["content"] == "慢慢说完了"]
        time.sleep(0.05)
    assert len(sends) == 1
    deadline = time.time() + 5
    while rows(runtime)[-1].status == "deferred" and time.time() < deadline:
        time.sleep(0.05)
    assert rows(runtime)[-1].status == "sent"

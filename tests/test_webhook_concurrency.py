"""Retries under concurrency, slow handlers, the reply budget and failing handlers."""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select

from bot.db import utcnow
from bot.dispatch import HandlerGroup, Incoming, NotHandled, Router, normalize, quick
from bot.migrate import upgrade
from bot.models import InboundMessage
from bot.runtime import build_runtime
from bot.services import hotpath, messages
from bot.wechat.parse import parse_xml
from handlers import GROUPS
from tests.conftest import LiveServer
from tests.wechat import signed_query, text_xml, url

ON_BOTH_DATABASES = True  # tests/conftest.py: each test on SQLite and PostgreSQL


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


def quick_and_pooled_group(runtime, threads: list):
    group = HandlerGroup("threads")

    @group.intercept
    @quick
    def decline(msg, ctx):
        threads.append(("intercept", threading.current_thread().name))
        return NotHandled

    @group.keyword("快")
    @quick
    def fast(msg, ctx):
        """快速回答"""
        threads.append(("fast", threading.current_thread().name))
        return "快速回答"

    @group.keyword("池")
    def pooled(msg, ctx):
        """在处理线程池里回答"""
        threads.append(("pooled", threading.current_thread().name))
        return "线程池回答"

    @group.keyword("偷看")
    @quick
    def sneaky(msg, ctx):
        """违反 @quick 的约定"""
        with ctx.session() as session:
            session.execute(select(InboundMessage))
        return "不该到这里"

    @group.keyword("怪")
    @quick
    def unsendable(msg, ctx):
        """返回了发不出去的东西"""
        return 42

    runtime.router = Router([group, *GROUPS])


def test_quick_handlers_answer_in_the_request_thread_and_the_rest_in_the_pool(
        client, runtime, account):
    threads: list = []
    quick_and_pooled_group(runtime, threads)
    request_thread = threading.current_thread().name
    assert "快速回答" in client.post(url("/wechat", signed_query(account.token)),
                                   data=text_xml("快", msg_id=1)).text
    assert threads == [("fast", request_thread)]  # no dialog: the intercept is skipped
    threads.clear()
    assert "线程池回答" in client.post(url("/wechat", signed_query(account.token)),
                                   data=text_xml("池", msg_id=2)).text
    assert threads[0][0] == "pooled" and threads[0][1].startswith("handler")
    assert [r.status for r in rows(runtime)] == ["answered", "answered"]


def test_quick_handler_that_touches_the_database_fails_loudly(client, runtime, account):
    quick_and_pooled_group(runtime, [])
    reply = client.post(url("/wechat", signed_query(account.token)),
                        data=text_xml("偷看", msg_id=3))
    assert reply.status_code == 200 and "抱歉" in reply.text
    row = rows(runtime)[-1]
    assert row.status == "failed" and "QuickHandlerError" in row.error


def test_every_quick_handler_shipped_answers_without_the_database(runtime, account):
    """The shipped @quick handlers keep their promise: run with a context that refuses
    the database, each answers every kind of message it is routed."""
    from bot.dispatch import Incoming, normalize

    samples = [Incoming("default", "o1", "text", t, normalize(t)) for t in ("帮助", "随便问问")]
    samples += [Incoming("default", "o1", "image"), Incoming("default", "o1", "voice", "语音")]
    samples += [Incoming("default", "o1", "event", event=e, event_key="K")
                for e in ("subscribe", "scan", "unsubscribe", "click")]
    for msg in samples:
        matches = [m for m in runtime.router.plan(msg) if m.quick]
        assert matches, msg
        ctx = runtime.context(account)
        ctx.quick = True
        runtime.handle(ctx, msg, matches)


def test_unsendable_reply_gets_apology_and_keeps_the_row(client, runtime, account):
    quick_and_pooled_group(runtime, [])
    reply = client.post(url("/wechat", signed_query(account.token)),
                        data=text_xml("怪", msg_id=4))
    assert reply.status_code == 200 and "抱歉" in reply.text
    row = rows(runtime)[-1]
    assert row.status == "failed" and row.error
    retry = client.post(url("/wechat", signed_query(account.token)),
                        data=text_xml("怪", msg_id=4))
    assert retry.text == reply.text and rows(runtime)[-1].retries == 1


def claimed_long_ago(runtime, text: str, msg_id: int, seconds: float) -> None:
    """A first handling that claimed the message `seconds` ago and never wrote a reply."""
    msg = Incoming("default", "oUser1", "text", text, normalize(text), msg_key=f"m:{msg_id}")
    with runtime.engine.connect() as conn, hotpath.write_transaction(conn):
        assert messages.claim(conn, msg, utcnow() - dt.timedelta(seconds=seconds)).first


def test_a_retry_answers_a_message_whose_first_handling_died(client, runtime, account):
    """The worker handling it was killed, or the database went away before the reply was
    written: once the reply budget has passed, WeChat's retry gets the answer (once)."""
    claimed_long_ago(runtime, "帮助", 4242, seconds=30)
    body = text_xml("帮助", msg_id=4242)
    reply = client.post(url("/wechat", signed_query(account.token)), data=body)
    assert reply.status_code == 200 and "订阅" in parse_xml(reply.data)["Content"]
    [row] = rows(runtime)
    assert (row.status, row.retries) == ("answered", 1) and row.claimed_at is not None
    again = client.post(url("/wechat", signed_query(account.token)), data=body)
    assert again.data == reply.data and rows(runtime)[0].retries == 2


def test_a_retry_leaves_a_first_handling_still_within_its_budget(client, runtime, account):
    claimed_long_ago(runtime, "帮助", 4343, seconds=1)
    reply = client.post(url("/wechat", signed_query(account.token)),
                        data=text_xml("帮助", msg_id=4343))
    assert reply.status_code == 200 and reply.data == b"success"
    [row] = rows(runtime)
    assert (row.status, row.retries, row.claimed_at) == ("processing", 1, None)

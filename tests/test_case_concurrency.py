"""Many subscribers opening cases at once, through the real webhook over HTTP: every case
exactly once (confirmations retried as WeChat retries them), numbers unique, nothing lost.
500 subscribers on PostgreSQL (HOTLINE_TEST_PG_URL); a smaller crowd on SQLite."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from bot.migrate import upgrade
from bot.models import Case, InboundMessage
from bot.runtime import build_runtime
from bot.simulator.client import SubscriberClient
from tests.conftest import LiveServer

NUMBER = re.compile(r"编号 (\d{8}-\d{4})")


def one_subscriber(base_url: str, account, n: int) -> str:
    phone = SubscriberClient(base_url, account, f"oCrowd{n:04d}", timeout=60)
    phone.say(f"投诉：第{n}号反映的补助发放问题")
    first = phone.say("确认")
    retried = phone.retry()  # WeChat's retry of the same message: same answer, no new case
    assert retried.text in (first.text, ""), (first.text, retried.text)
    found = NUMBER.search(first.text)
    assert found, first.text
    return found.group(1)


def crowd(runtime, account, size: int, threads: int) -> None:
    server = LiveServer(create_app(runtime=runtime))
    try:
        with ThreadPoolExecutor(threads) as pool:
            numbers = list(pool.map(lambda n: one_subscriber(server.url, account, n),
                                    range(size)))
    finally:
        server.stop()
    assert len(set(numbers)) == size, "a case number was handed out twice"
    with runtime.sessionmaker() as session:
        cases = list(session.scalars(select(Case)))
        logged = session.scalar(select(func.count()).select_from(InboundMessage))
        failed = session.scalar(select(func.count()).select_from(InboundMessage)
                                .where(InboundMessage.status != "answered"))
    assert len(cases) == size
    assert sorted(c.number for c in cases) == sorted(numbers)
    assert len({c.openid for c in cases}) == size
    assert logged == 2 * size and failed == 0  # the retries were not logged twice


def test_a_crowd_on_sqlite(runtime, account):
    crowd(runtime, account, size=60, threads=12)


@pytest.mark.pg
def test_five_hundred_subscribers_on_postgresql(settings, pg_database_url, account):
    upgrade(pg_database_url)
    runtime = build_runtime(settings.with_overrides(database_url=pg_database_url))
    try:
        crowd(runtime, account, size=500, threads=24)
    finally:
        runtime.close()

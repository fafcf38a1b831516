"""The scheduler process killed (SIGKILL) at random points across 50 pushes and restarted,
and two schedulers started at once: the fake WeChat API's record shows every push delivered
exactly once. Real processes (`hotline scheduler`), real HTTP, one SQLite database."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from bot.db import utcnow
from bot.models import Push, TopicSubscription
from bot.scheduler import LEASE_NAME, Lease
from bot.services import content as content_service
from bot.services import pushes as push_service
from content.schema import load_catalog

pytestmark = pytest.mark.live
PUSHES = 50
SLUGS = [item.slug for item in load_catalog().items][:PUSHES]


@pytest.fixture
def world(runtime, live, settings):
    """50 approved text pushes to a topic (tag broadcasts: no daily quota), two subscribers."""
    with runtime.sessionmaker.begin() as session:
        content_service.load(session, load_catalog().items)
        for openid in ("oCrash1", "oCrash2"):
            session.add(TopicSubscription(account="default", openid=openid, topic="policy",
                                          active=True, tagged=False, created_at=utcnow(),
                                          updated_at=utcnow()))
        for number in range(PUSHES):
            push = push_service.create_push(
                session, account="default", slugs=[SLUGS[number % len(SLUGS)]],
                due_at=utcnow(), audience="topic", topic="policy", msgtype="text", by="test",
                title=f"推送 {number}")
            push_service.approve(session, push.id, "test")
    # every broadcast call is slowed down, so kills land between the call and the record too
    requests.post(f"{live.url}/sim/api/_faults", json={
        "path": "message/mass/sendall", "delay": 0.05, "count": 10_000}, timeout=5)
    env = {**os.environ, "HOTLINE_ENV": "test", "HOTLINE_DATABASE_URL": settings.database_url,
           "HOTLINE_INSTANCE_PATH": settings.instance_path, "WECHAT_TOKEN": "test-token",
           "WECHAT_APPID": "wxtestappid0001", "WECHAT_SECRET": "test-secret",
           "WECHAT_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
           "HOTLINE_SIMULATOR": "1", "HOTLINE_PUBLIC_URL": live.url,
           "WECHAT_API_BASE": f"{live.url}/sim/api/",
           "HOTLINE_SECRET_KEY": "test-secret-key-0123456789",
           "HOTLINE_SCHEDULER_TICK": "0.2", "HOTLINE_PUSH_LEASE": "2"}
    return runtime, live, env


def start(env: dict, log: Path) -> subprocess.Popen:
    hotline = Path(sys.executable).with_name("hotline")
    return subprocess.Popen([str(hotline), "scheduler"], env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT)


def states(runtime) -> dict[str, int]:
    with runtime.sessionmaker() as session:
        return dict(session.execute(select(Push.state, func.count()).group_by(Push.state)).all())


def wait_until_all_sent(runtime, timeout: float) -> dict[str, int]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        counted = states(runtime)
        if counted.get("sent") == PUSHES:
            return counted
        time.sleep(0.3)
    return states(runtime)


def delivered(live) -> collections.Counter:
    """Successful broadcasts at the fake API, by clientmsgid."""
    calls = requests.get(f"{live.url}/sim/api/_calls",
                         params={"path": "message/mass/sendall", "limit": 1000}, timeout=10).json()
    return collections.Counter(c["body"]["clientmsgid"] for c in calls if c["errcode"] == 0)


def check_exactly_once(runtime, live) -> None:
    sent = delivered(live)
    with runtime.sessionmaker() as session:
        ids = set(session.scalars(select(Push.clientmsgid)))
    assert set(sent) == ids, "every push reached WeChat"
    assert max(sent.values()) == 1, [k for k, v in sent.items() if v > 1]


def test_sigkill_at_random_points_never_sends_twice_nor_loses_a_push(world, tmp_path):
    runtime, live, env = world
    rng = random.Random(20261125)
    log = tmp_path / "scheduler.log"
    kills = 0
    while kills < 8 and states(runtime).get("sent", 0) < PUSHES:
        process = start(env, log)
        time.sleep(rng.uniform(1.0, 4.0))
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        kills += 1
    process = start(env, log)
    try:
        counted = wait_until_all_sent(runtime, 120)
    finally:
        process.terminate()
        process.wait(10)
    assert counted == {"sent": PUSHES}, (counted, log.read_text()[-3000:])
    assert kills >= 3
    check_exactly_once(runtime, live)


def test_two_schedulers_started_by_mistake_still_send_once(world, tmp_path):
    runtime, live, env = world
    log = tmp_path / "scheduler.log"
    first, second = start(env, log), start(env, log)
    try:
        counted = wait_until_all_sent(runtime, 120)
    finally:
        for process in (first, second):
            process.terminate()
            process.wait(10)
    assert counted == {"sent": PUSHES}, (counted, log.read_text()[-3000:])
    assert "another scheduler holds the lease" in log.read_text()
    check_exactly_once(runtime, live)


def test_the_lease_is_held_by_one_and_taken_over_when_it_lapses(runtime):
    first, second = Lease(runtime.sessionmaker), Lease(runtime.sessionmaker)
    assert first.acquire() and not second.acquire() and first.acquire()
    assert second.holder() == first.owner
    ttl = first.ttl
    first.ttl = -ttl  # as if first had stopped renewing long ago
    assert first.acquire()
    first.ttl = ttl
    assert second.acquire() and not first.acquire()
    second.release()
    assert first.holder() == "" and LEASE_NAME == "scheduler"


def test_a_lease_whose_holder_died_on_this_host_is_taken_at_once(runtime):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ghost = Lease(runtime.sessionmaker)
    ghost.owner = ghost.owner.replace(f":{os.getpid()}:", f":{dead.pid}:")
    assert ghost.acquire()
    assert Lease(runtime.sessionmaker).acquire()

"""The shared token stores: one refresh at a time, across threads and OS processes."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bot.wechat.tokens import DatabaseTokenStore, Fetched, RedisTokenStore, TokenUnavailable

REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="HOTLINE_TEST_REDIS_URL not set "
                                 "(e.g. redis://127.0.0.1:6379/15)")


@pytest.fixture
def redis_prefix():
    """A key prefix of this test's own, removed afterwards."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"hotline:test-{secrets.token_hex(4)}:token:"
    yield client, prefix
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["database", pytest.param("redis", marks=[needs_redis,
                                                                  pytest.mark.redis])])
def make_store(request, runtime):
    """A factory of stores for one account, all sharing one backend (like processes)."""
    if request.param == "database":
        return lambda: DatabaseTokenStore(runtime.engine, "default")
    client, prefix = request.getfixturevalue("redis_prefix")
    return lambda: RedisTokenStore(client, "default", prefix=prefix)


class Fetcher:
    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.count = 0
        self.delay = delay
        self.fail = fail
        self._lock = threading.Lock()

    def __call__(self) -> Fetched:
        with self._lock:
            self.count += 1
            number = self.count
        time.sleep(self.delay)
        if self.fail:
            raise TokenUnavailable("token refused: 40125 invalid appsecret", 40125)
        return Fetched(f"token-{number}", 7200)


def plant(store, token: str, expires_in: int) -> None:
    """Store `token` as if another process had just fetched it."""
    lease = store._lock()
    store._save(Fetched(token, expires_in), lease)
    store._unlock(lease)


def test_fetched_once_then_reused(make_store):
    fetch = Fetcher()
    assert make_store().get(fetch) == "token-1"
    assert make_store().get(fetch) == "token-1"
    assert fetch.count == 1


@pytest.mark.parametrize("expires_in", [0, 200])
def test_expired_or_nearly_expired_token_refreshed(make_store, expires_in):
    store = make_store()
    plant(store, "old", expires_in)
    fetch = Fetcher()
    assert store.get(fetch) == "token-1" and fetch.count == 1


def test_old_token_used_while_another_process_refreshes(make_store):
    plant(make_store(), "old", 200)
    lease = make_store()._lock()  # someone else is refreshing
    assert lease is not None
    fetch = Fetcher()
    assert make_store().get(fetch) == "old" and fetch.count == 0


def test_without_a_token_others_wait_then_give_up(make_store):
    holder = make_store()
    assert holder._lock() is not None
    started = time.monotonic()
    with pytest.raises(TokenUnavailable, match="not refreshed in time"):
        make_store().get(Fetcher(), wait=0.3)
    assert time.monotonic() - started >= 0.3


def test_stale_lease_is_taken_over(make_store, monkeypatch):
    monkeypatch.setattr("bot.wechat.tokens.LEASE", 0.2)
    assert make_store()._lock() is not None  # a refresher that died
    fetch = Fetcher()
    assert make_store().get(fetch, wait=2) == "token-1" and fetch.count == 1


def test_slow_refresher_does_not_overwrite_its_successor(make_store, monkeypatch):
    monkeypatch.setattr("bot.wechat.tokens.LEASE", 0.2)
    slow = make_store()
    lease = slow._lock()
    time.sleep(0.3)  # its lease ran out while it was fetching
    assert make_store().get(Fetcher()) == "token-1"
    slow._save(Fetched("late", 7200), lease)
    slow._unlock(lease)
    assert make_store().read().token == "token-1"


def test_failed_fetch_releases_the_lock(make_store):
    with pytest.raises(TokenUnavailable) as refused:
        make_store().get(Fetcher(fail=True))
    assert refused.value.errcode == 40125
    fetch = Fetcher()
    assert make_store().get(fetch, wait=0.2) == "token-1"


def test_invalidate_only_the_token_that_failed(make_store):
    store = make_store()
    fetch = Fetcher()
    first = store.get(fetch)
    store.invalidate("some-older-token")  # a slow process reports an old failure
    assert store.get(fetch) == first and fetch.count == 1
    store.invalidate(first)
    assert store.get(fetch) == "token-2"


def test_threads_share_one_refresh(make_store):
    fetch = Fetcher(delay=0.3)
    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(lambda _: make_store().get(fetch), range(8)))
    assert tokens == ["token-1"] * 8 and fetch.count == 1


# -- OS processes against the fake WeChat API over HTTP ----------------------------------
WORKER = textwrap.dedent("""
    import json, sys, time
    from bot.config import Settings
    from bot.db import make_engine
    from bot.wechat.api import WeChatAPI
    from bot.wechat.tokens import RedisTokenStore
    env, redis_url, prefix = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
    settings = Settings.from_env(env)
    store = None
    if redis_url:
        import redis
        store = RedisTokenStore(redis.Redis.from_url(redis_url), "default", prefix=prefix)
    api = WeChatAPI(settings, settings.default_account, make_engine(settings.database_url),
                    store=store)
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.monotonic()
    token = api.token()
    print(json.dumps({"token": token, "seconds": time.monotonic() - started}), flush=True)
""")


def token_calls(live) -> list[dict]:
    return requests.get(f"{live.url}/sim/api/_calls", params={"path": "token"},
                        timeout=5).json()


def refresh_in_two_processes(live, runtime, redis_url: str = "", prefix: str = "") -> None:
    account = runtime.settings.default_account
    env = {"HOTLINE_DATABASE_URL": runtime.settings.database_url, "HOTLINE_ENV": "test",
           "WECHAT_TOKEN": account.token, "WECHAT_APPID": account.appid,
           "WECHAT_SECRET": account.secret, "WECHAT_API_BASE": f"{live.url}/sim/api/"}
    # the fetch takes a second, so the second process certainly finds the first refreshing
    requests.post(f"{live.url}/sim/api/_faults", json={"path": "token", "delay": 1.0},
                  timeout=5).raise_for_status()
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(env), redis_url, prefix],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready"
        for proc in procs:  # both start together
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [json.loads(proc.communicate(timeout=30)[0]) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    assert [proc.returncode for proc in procs] == [0, 0]
    assert results[0]["token"] == results[1]["token"] != ""
    assert all(result["seconds"] >= 0.9 for result in results)  # the other one waited
    assert len(token_calls(live)) == 1


def test_two_processes_share_one_refresh_database(live, runtime):
    refresh_in_two_processes(live, runtime)


@needs_redis
@pytest.mark.redis
def test_two_processes_share_one_refresh_redis(live, runtime, redis_prefix):
    _client, prefix = redis_prefix
    refresh_in_two_processes(live, runtime, REDIS_URL, prefix)

"""The access token of each account, shared by every process, refreshed by one at a time.

WeChat keeps one valid token per account: a new fetch retires the previous one (after five
minutes), so processes that each fetched their own would keep knocking each other's out.
Hence one store for all of them:

- database (default): a row per account; a process claims the refresh with a lease
  (`refreshing_until`) set by a conditional UPDATE, the others wait and re-read;
- Redis (when `HOTLINE_REDIS_URL` is set): the token in the hash ``hotline:token:<account>``,
  the lock a ``SET NX PX`` key next to it.

A token is refreshed when it is missing, expired or within five minutes of expiry. While one
process refreshes, the others keep using the old token if it has not expired yet.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.db import utcnow
from bot.models import AccessToken
from bot.services.upsert import insert_for

REFRESH_MARGIN = 300.0  # seconds before expiry when a token counts as due for refresh
USABLE_MARGIN = 30.0  # an old token is still handed out until this close to its expiry
LEASE = 15.0  # seconds a refresher holds the lock (longer than a token fetch can take)
REDIS_PREFIX = "hotline:token:"
T = AccessToken.__table__


class TokenUnavailable(RuntimeError):
    """No token could be had: the API refused (errcode) or did not answer (-1)."""

    def __init__(self, message: str, errcode: int = -1) -> None:
        super().__init__(message)
        self.errcode = errcode


@dataclass(frozen=True)
class Fetched:
    """What the token endpoint answered."""

    token: str
    expires_in: int


@dataclass(frozen=True)
class Stored:
    """The token a store holds, with its expiry (Unix time)."""

    token: str
    expires_at: float

    def fresh(self, now: float) -> bool:
        return self.expires_at - now > REFRESH_MARGIN

    def usable(self, now: float) -> bool:
        return self.expires_at - now > USABLE_MARGIN


Fetcher = Callable[[], Fetched]


class TokenStore(ABC):
    """The refresh protocol every store follows: read; else take the lock, re-read, fetch,
    save, release; else use the old token while it lasts, or wait for the holder."""

    account: str

    @abstractmethod
    def read(self) -> Stored | None:
        """The stored token, if any."""

    @abstractmethod
    def invalidate(self, token: str) -> None:
        """Forget `token`, unless another process has already replaced it."""

    @abstractmethod
    def _lock(self) -> Any:
        """A lease handle, or None when another process holds the lock."""

    @abstractmethod
    def _save(self, fetched: Fetched, lease: Any) -> None:
        """Store `fetched`, if `lease` is still ours (a successor's token is newer)."""

    @abstractmethod
    def _unlock(self, lease: Any) -> None:
        """Release `lease`, if it is still ours."""

    def get(self, fetch: Fetcher, wait: float = LEASE + 1) -> str:
        deadline = time.monotonic() + wait
        while True:
            stored = self.read()
            if stored and stored.fresh(time.time()):
                return stored.token
            lease = self._lock()
            if lease is not None:
                return self._refresh(fetch, lease)
            if stored and stored.usable(time.time()):
                return stored.token  # another process is refreshing; the old one still works
            if time.monotonic() > deadline:
                raise TokenUnavailable(f"token of {self.account} not refreshed in time")
            time.sleep(0.05)

    def _refresh(self, fetch: Fetcher, lease: Any) -> str:
        try:
            stored = self.read()  # another process may have finished meanwhile
            if stored and stored.fresh(time.time()):
                return stored.token
            fetched = fetch()
            self._save(fetched, lease)
            return fetched.token
        finally:
            self._unlock(lease)


class DatabaseTokenStore(TokenStore):
    def __init__(self, engine: Engine, account: str) -> None:
        self.engine = engine
        self.account = account

    def read(self) -> Stored | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(T.c.token, T.c.expires_at)
                               .where(T.c.account == self.account)).first()
        if not row or not row.token or row.expires_at is None:
            return None
        return Stored(row.token, row.expires_at.replace(tzinfo=dt.UTC).timestamp())

    def invalidate(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(T).where(T.c.account == self.account, T.c.token == token)
                         .values(token="", expires_at=None, updated_at=utcnow()))

    def _lock(self) -> dt.datetime | None:
        now = utcnow()
        lease = now + dt.timedelta(seconds=LEASE)
        with self.engine.begin() as conn:
            conn.execute(insert_for(conn, T).values(
                account=self.account, token="", expires_at=None, refreshing_until=None,
                updated_at=now).on_conflict_do_nothing(index_elements=["account"]))
            claimed = conn.execute(update(T).where(
                T.c.account == self.account,
                or_(T.c.refreshing_until.is_(None), T.c.refreshing_until < now),
            ).values(refreshing_until=lease)).rowcount
        return lease if claimed == 1 else None

    def _save(self, fetched: Fetched, lease: dt.datetime) -> None:
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(update(T).where(T.c.account == self.account,
                                         T.c.refreshing_until == lease).values(
                token=fetched.token, updated_at=now,
                expires_at=now + dt.timedelta(seconds=fetched.expires_in)))

    def _unlock(self, lease: dt.datetime) -> None:
        # only our own lease: a slow refresher must not release a successor's
        with self.engine.begin() as conn:
            conn.execute(update(T).where(T.c.account == self.account,
                                         T.c.refreshing_until == lease)
                         .values(refreshing_until=None))


_DELETE_IF_TOKEN = ("if redis.call('hget', KEYS[1], 'token') == ARGV[1] then "
                    "return redis.call('del', KEYS[1]) end return 0")
_SAVE_IF_OWNER = ("if redis.call('get', KEYS[2]) == ARGV[1] then "
                  "redis.call('hset', KEYS[1], 'token', ARGV[2], 'expires_at', ARGV[3]) "
                  "redis.call('expire', KEYS[1], ARGV[4]) return 1 end return 0")
_DELETE_IF_OWNER = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
                    "return redis.call('del', KEYS[1]) end return 0")


class RedisTokenStore(TokenStore):
    def __init__(self, client: Any, account: str, prefix: str = REDIS_PREFIX) -> None:
        self.redis = client
        self.account = account
        self.key = f"{prefix}{account}"
        self.lock_key = f"{prefix}{account}:lock"

    def read(self) -> Stored | None:
        token, expires_at = self.redis.hmget(self.key, "token", "expires_at")
        if not token or not expires_at:
            return None
        return Stored(token.decode() if isinstance(token, bytes) else token, float(expires_at))

    def invalidate(self, token: str) -> None:
        self.redis.eval(_DELETE_IF_TOKEN, 1, self.key, token)

    def _lock(self) -> str | None:
        owner = secrets.token_hex(8)
        taken = self.redis.set(self.lock_key, owner, nx=True, px=int(LEASE * 1000))
        return owner if taken else None

    def _save(self, fetched: Fetched, lease: str) -> None:
        self.redis.eval(_SAVE_IF_OWNER, 2, self.key, self.lock_key, lease, fetched.token,
                        time.time() + fetched.expires_in, max(int(fetched.expires_in), 1))

    def _unlock(self, lease: str) -> None:
        self.redis.eval(_DELETE_IF_OWNER, 1, self.lock_key, lease)


def make_store(settings: Settings, account: str, engine: Engine) -> TokenStore:
    """Redis when `settings.redis_url` is set, the database otherwise."""
    if settings.redis_url:
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=settings.api_timeout,
                                      socket_connect_timeout=settings.api_timeout)
        return RedisTokenStore(client, account)
    return DatabaseTokenStore(engine, account)

"""The access token of each account, shared by every process, refreshed by one at a time.

Database store: a row per account; a process claims the refresh with a lease
(`refreshing_until`) set by a conditional UPDATE, others wait and re-read.
Redis store: the token under `hotline:token:<account>`, the lock a SET NX PX key.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine

from bot.db import utcnow
from bot.models import AccessToken
from bot.services.upsert import insert_for

REFRESH_MARGIN = dt.timedelta(minutes=5)
LEASE = dt.timedelta(seconds=15)
T = AccessToken.__table__


class TokenUnavailable(RuntimeError):
    """No token could be fetched (the API refused or did not answer)."""


@dataclass(frozen=True)
class Fetched:
    token: str
    expires_in: int


Fetcher = Callable[[], Fetched]


class _SharedToken:
    """The refresh protocol both stores follow: read; else take the lock, re-read, fetch,
    save, release; else wait for the holder and read again."""

    account: str

    def current(self) -> str | None:
        raise NotImplementedError

    def _lock(self) -> bool:
        raise NotImplementedError

    def _unlock(self, fetched: Fetched | None) -> None:
        """Save `fetched` (when there is one) and release the lock."""
        raise NotImplementedError

    def get(self, fetch: Fetcher, wait: float = 10.0) -> str:
        deadline = time.monotonic() + wait
        while True:
            token = self.current()
            if token:
                return token
            if self._lock():
                fetched = None
                try:
                    token = self.current()  # refreshed by another process meanwhile
                    if token:
                        return token
                    fetched = fetch()
                finally:
                    self._unlock(fetched)
                return fetched.token
            if time.monotonic() > deadline:
                raise TokenUnavailable(f"token of {self.account} not refreshed in time")
            time.sleep(0.05)


class DatabaseTokenStore(_SharedToken):
    def __init__(self, engine: Engine, account: str) -> None:
        self.engine = engine
        self.account = account

    def current(self) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(T.c.token, T.c.expires_at)
                               .where(T.c.account == self.account)).first()
        if row and row.token and row.expires_at and row.expires_at - utcnow() > REFRESH_MARGIN:
            return row.token
        return None

    def invalidate(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(T).where(T.c.account == self.account, T.c.token == token)
                         .values(token="", expires_at=None))

    def _lock(self) -> bool:
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(insert_for(conn, T).values(
                account=self.account, token="", expires_at=None, refreshing_until=None,
                updated_at=now).on_conflict_do_nothing(index_elements=["account"]))
            claimed = conn.execute(update(T).where(
                T.c.account == self.account,
                or_(T.c.refreshing_until.is_(None), T.c.refreshing_until < now),
            ).values(refreshing_until=now + LEASE)).rowcount
        return claimed == 1

    def _unlock(self, fetched: Fetched | None) -> None:
        values: dict = {"refreshing_until": None, "updated_at": utcnow()}
        if fetched is not None:
            values.update(token=fetched.token,
                          expires_at=utcnow() + dt.timedelta(seconds=fetched.expires_in))
        with self.engine.begin() as conn:
            conn.execute(update(T).where(T.c.account == self.account).values(**values))


class RedisTokenStore(_SharedToken):
    def __init__(self, client, account: str) -> None:
        self.redis = client
        self.key = f"hotline:token:{account}"
        self.lock = f"hotline:token-lock:{account}"
        self.account = account

    def current(self) -> str | None:
        value = self.redis.get(self.key)
        return value.decode() if value else None

    def invalidate(self, token: str) -> None:
        # delete only if unchanged (another process may already have refreshed)
        self.redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then "
                        "return redis.call('del', KEYS[1]) end return 0", 1, self.key, token)

    def _lock(self) -> bool:
        return bool(self.redis.set(self.lock, "1", nx=True,
                                   px=int(LEASE.total_seconds() * 1000)))

    def _unlock(self, fetched: Fetched | None) -> None:
        try:
            if fetched is not None:
                ttl = max(fetched.expires_in - int(REFRESH_MARGIN.total_seconds()), 60)
                self.redis.set(self.key, fetched.token, ex=ttl)
        finally:
            self.redis.delete(self.lock)

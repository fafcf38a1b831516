"""Composition root: settings -> engine, router, API clients. The only module importing handlers."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from bot.config import Account, Settings, development_secret_key
from bot.db import make_engine, make_sessionmaker
from bot.dispatch import Incoming, Match, MoveToPool, Reply, Router
from bot.knowledge import Knowledge
from bot.metrics import Metrics
from bot.services.case_flow import DEFAULT_DEADLINES
from bot.services.dialogs import Change, Dialog
from bot.services.hotpath import HotConnections
from bot.services.privacy import PersonalData
from bot.wechat.api import WeChatAPI


class QuickHandlerError(RuntimeError):
    """A handler marked @quick tried to wait on something (see bot/dispatch.py)."""


@dataclass
class HandlerContext:
    """What a handler gets besides the message: the runtime's services, the account, the
    subscriber's dialog, a clock. Dialog changes are recorded here and written by the
    webhook in the transaction that logs the reply."""

    runtime: Runtime
    account: Account
    quick: bool = False
    dialog: Dialog | None = None
    change: Change | None = None
    outcome: str = ""  # a handler's word on how it went ("none": nothing found), logged

    def session(self):
        """A new ORM session for reading (``with ctx.session() as s:``)."""
        if self.quick:
            raise QuickHandlerError("a @quick handler may not use the database")
        return self.runtime.sessionmaker()

    def transaction(self):
        """A session in a transaction, committed at the end (``with ctx.transaction() as s:``)."""
        if self.quick:
            raise QuickHandlerError("a @quick handler may not use the database")
        return self.runtime.sessionmaker.begin()

    def leave_quick(self) -> None:
        """From a @quick handler that must wait after all: run again on the handler pool."""
        if self.quick:
            raise MoveToPool()

    @property
    def router(self) -> Router:
        return self.runtime.router

    @property
    def knowledge(self) -> Knowledge:
        return self.runtime.knowledge

    def now(self) -> float:
        return self.runtime.clock()

    @property
    def deadlines(self) -> Mapping[str, int]:
        """Working days per case class (HOTLINE_CASE_DEADLINES over the defaults)."""
        return self.runtime.settings.case_deadlines or DEFAULT_DEADLINES

    def utcnow(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.runtime.clock(), dt.UTC).replace(tzinfo=None)

    def start_dialog(self, kind: str, data: dict, ttl: dt.timedelta) -> None:
        """Start (or replace) the subscriber's dialog; it expires after `ttl`."""
        self.dialog = Dialog(kind, data, self.utcnow() + ttl)
        self.change = Change(self.dialog)

    def end_dialog(self) -> None:
        if self.dialog is not None or self.change is not None:
            self.dialog, self.change = None, Change(None)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessionmaker: sessionmaker
    router: Router
    clock: Callable[[], float] = time.time
    metrics: Metrics = field(default_factory=Metrics)
    hot: HotConnections | None = None
    knowledge: Knowledge | None = None
    _executor: ThreadPoolExecutor | None = None
    _executor_pid: int = 0
    _apis: dict[str, Any] = field(default_factory=dict)
    _vault: PersonalData | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.hot is None:
            self.hot = HotConnections(self.engine)
        if self.knowledge is None:
            self.knowledge = Knowledge(self.engine)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run `fn` on this process's handler pool (made after fork, never inherited)."""
        if self._executor is None or self._executor_pid != os.getpid():
            with self._lock:
                if self._executor is None or self._executor_pid != os.getpid():
                    self._executor = ThreadPoolExecutor(16, thread_name_prefix="handler")
                    self._executor_pid = os.getpid()
        return self._executor.submit(fn, *args)

    @property
    def vault(self) -> PersonalData:
        """Seals and opens personal data (names, phones, ID numbers) with the secret key."""
        if self._vault is None:
            self._vault = PersonalData(self.settings.secret_key)
        return self._vault

    def context(self, account: Account, dialog: Dialog | None = None) -> HandlerContext:
        return HandlerContext(self, account, dialog=dialog)

    def handle(self, ctx: HandlerContext, msg: Incoming,
               matches: Sequence[Match] | None = None) -> tuple[Reply, str]:
        """Run `matches` (by default the router's whole plan for `msg`) until one answers."""
        if matches is None:
            matches = self.router.plan(msg)
        return self.router.run(matches, msg, ctx) or (None, "none")

    def refresh(self) -> None:
        """Bring this process's caches up to date (the search index after a content
        change); cheap unless one is due. Called outside any transaction."""
        self.knowledge.refresh()

    def api(self, account_name: str):
        """The outbound WeChat API of one account (shared token, windows, records)."""
        with self._lock:
            if account_name not in self._apis:
                account = self.settings.account(account_name)
                if account is None:
                    raise KeyError(f"no account named {account_name!r}")
                self._apis[account_name] = WeChatAPI(self.settings, account, self.engine,
                                                     metrics=self.metrics)
            return self._apis[account_name]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self.hot.close()
        self.engine.dispose()


def build_router() -> Router:
    from handlers import GROUPS

    return Router(GROUPS)


def build_runtime(settings: Settings, *, clock: Callable[[], float] = time.time) -> Runtime:
    if not settings.secret_key and not settings.production:
        settings = settings.with_overrides(
            secret_key=development_secret_key(settings.instance_path))
    engine = make_engine(settings.database_url)
    return Runtime(settings=settings, engine=engine, sessionmaker=make_sessionmaker(engine),
                   router=build_router(), clock=clock)

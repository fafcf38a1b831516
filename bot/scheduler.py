"""The scheduler: one process (`hotline scheduler`, or a thread of `hotline serve` in the
embedded default) that sends due pushes, prepares digests, syncs topic tags and runs the
case reminders and overdue marks.

APScheduler 3 keeps the jobs in the same database (SQLAlchemyJobStore); every job is the
one trampoline `bot.scheduler:run_job` with the job's name, under an explicit id, so the
store never holds a pickled function of ours. Only the holder of the `scheduler` lease
(a row in scheduler_leases, renewed while it runs) starts APScheduler: a second scheduler
started by mistake waits. Exactly-once sending does not rest on the lease alone: each push
is claimed by a conditional UPDATE (bot.services.push_send).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bot.clock import BEIJING
from bot.db import utcnow
from bot.models import SchedulerLease
from bot.services import cases as case_service
from bot.services import delivery, push_schedules, push_send, topics
from bot.services.upsert import insert_for

log = logging.getLogger("hotline.scheduler")
LEASE_NAME = "scheduler"
LEASE_TTL = dt.timedelta(seconds=30)
CASE_JOBS_EVERY = dt.timedelta(minutes=10)
MISFIRE_GRACE = 3600  # a run missed while the scheduler was down happens once, if this recent

_runtime = None  # the runtime of this scheduler process (set by `run`)


def tick(runtime) -> None:
    """Topic tags synced (first: a topic push goes to those who subscribed until now),
    digests brought up to date, due pushes sent."""
    topics.sync(runtime)
    with runtime.sessionmaker.begin() as session:
        push_schedules.prepare_digests(session)
    for report in push_send.run_due(runtime):
        log.info("push %s: %s %s", report.push_id, report.state, report.note)


def case_jobs(runtime) -> None:
    report = case_service.run_case_jobs(runtime.sessionmaker)
    with runtime.sessionmaker.begin() as session:
        stuck = delivery.recover_stuck(session)
    log.info("case jobs: %s; replies left sending: %s", report, stuck)


JOBS: dict[str, Callable] = {"tick": tick, "case_jobs": case_jobs}


def run_job(name: str) -> None:
    """The trampoline every stored job calls."""
    if _runtime is None:
        raise RuntimeError("the scheduler's runtime is not set (bot.scheduler.run)")
    JOBS[name](_runtime)


def build_scheduler(runtime) -> BackgroundScheduler:
    """APScheduler with its job store in the application's database and our jobs in it."""
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=runtime.engine,
                                                 tablename="apscheduler_jobs")},
        executors={"default": ThreadPoolExecutor(2)},
        job_defaults={"coalesce": True, "max_instances": 1,
                      "misfire_grace_time": MISFIRE_GRACE},
        timezone=BEIJING)
    every = {"tick": dt.timedelta(seconds=runtime.settings.scheduler_tick),
             "case_jobs": CASE_JOBS_EVERY}
    for name in JOBS:
        scheduler.add_job("bot.scheduler:run_job", "interval", args=[name], id=name,
                          name=name, replace_existing=True,
                          seconds=every[name].total_seconds(),
                          next_run_time=dt.datetime.now(BEIJING))
    return scheduler


class Lease:
    """The `scheduler` row: held by one process, renewed while it runs."""

    def __init__(self, sessionmaker, ttl: dt.timedelta = LEASE_TTL) -> None:
        self.sessionmaker, self.ttl = sessionmaker, ttl
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

    def acquire(self) -> bool:
        """Take or renew the lease: free, lapsed, ours, or its holder died on this host."""
        now = utcnow()
        with self.sessionmaker.begin() as session:
            holder = session.scalar(select(SchedulerLease).where(
                SchedulerLease.name == LEASE_NAME))
            stale = holder is not None and _dead_here(holder.owner)
            table = SchedulerLease.__table__
            stmt = insert_for(session, table).values(
                name=LEASE_NAME, owner=self.owner, expires_at=now + self.ttl, note="")
            free = (table.c.expires_at < now) | (table.c.owner == self.owner)
            if stale:
                free = free | (table.c.owner == holder.owner)
            session.execute(stmt.on_conflict_do_update(
                index_elements=["name"], where=free,
                set_={"owner": stmt.excluded.owner, "expires_at": stmt.excluded.expires_at}))
            owner = session.scalar(select(SchedulerLease.owner).where(
                SchedulerLease.name == LEASE_NAME))
        return owner == self.owner

    def release(self) -> None:
        with self.sessionmaker.begin() as session:
            lease = session.get(SchedulerLease, LEASE_NAME)
            if lease is not None and lease.owner == self.owner:
                session.delete(lease)

    def holder(self) -> str:
        with self.sessionmaker() as session:
            lease = session.get(SchedulerLease, LEASE_NAME)
            return lease.owner if lease is not None else ""


def _dead_here(owner: str) -> bool:
    """True when `owner` was a process on this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def run(runtime, stop: threading.Event) -> None:
    """Hold the lease and run the scheduler until `stop` is set; without the lease, wait."""
    global _runtime
    _runtime = runtime
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)  # not every tick
    lease = Lease(runtime.sessionmaker)
    check = lease.ttl.total_seconds() / 3
    waiting_logged = False
    while not stop.is_set():
        if not _try(lease.acquire):
            if not waiting_logged:
                log.warning("another scheduler holds the lease (%s): waiting", lease.holder())
                waiting_logged = True
            stop.wait(check)
            continue
        waiting_logged = False
        log.info("scheduler started (%s)", lease.owner)
        scheduler = build_scheduler(runtime)
        scheduler.start()
        try:
            while not stop.wait(check):
                if not _try(lease.acquire):
                    log.error("scheduler lease lost: stopping the jobs")
                    break
        finally:
            scheduler.shutdown(wait=True)
    _try(lease.release)


def _try(step: Callable[[], object]) -> object:
    try:
        return step()
    except SQLAlchemyError as exc:
        log.error("scheduler lease: database unreachable: %s", exc)
        return False

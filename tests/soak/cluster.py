"""The soak's production-like set-up: PostgreSQL, Redis, gunicorn with 4 workers, the scheduler,
staff at work (replies, broadcasts), and the faults."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis
import requests
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.db import utcnow
from bot.migrate import upgrade
from bot.models import Case, CaseMessage, TopicSubscription
from bot.runtime import build_runtime
from bot.services import case_flow as flow
from bot.services import content as content_service
from bot.services import delivery
from bot.services import pushes as push_service
from content.schema import load_catalog

ROOT = Path(__file__).resolve().parents[2]
PORT = 8765
WORKERS = 4
REDIS_START = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port",
               "6379", "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
               "--logfile", "/var/log/redis/ci.log"]


def _database() -> str:
    base = make_url(os.environ.get("HOTLINE_TEST_PG_URL",
                                   "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS hotline_soak WITH (FORCE)"))
        conn.execute(text("CREATE DATABASE hotline_soak"))
    admin.dispose()
    return base.set(database="hotline_soak").render_as_string(hide_password=False)


def _redis() -> str:
    base = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    url = base.rsplit("/", 1)[0] + "/13"
    redis.Redis.from_url(url).flushdb()
    return url


class Cluster:
    def __init__(self, instance: Path) -> None:
        self.instance = instance
        self.url = f"http://127.0.0.1:{PORT}"
        self.env: dict[str, str] = {}
        self.processes: dict[str, subprocess.Popen] = {}
        self.stop = threading.Event()
        self.side: list[threading.Thread] = []
        self.replies: list[int] = []  # CaseMessage ids staff wrote

    @classmethod
    def start(cls, instance: Path) -> Cluster:
        world = cls(instance)
        shutil.rmtree(instance, ignore_errors=True)
        instance.mkdir(parents=True)
        world.env = {
            "HOTLINE_ENV": "test", "HOTLINE_DATABASE_URL": _database(),
            "HOTLINE_REDIS_URL": _redis(), "HOTLINE_INSTANCE_PATH": str(instance.resolve()),
            "WECHAT_TOKEN": "soak-token", "WECHAT_APPID": "wxsoakappid0001",
            "WECHAT_SECRET": "soak-secret", "HOTLINE_SIMULATOR": "1",
            "HOTLINE_PUBLIC_URL": world.url, "HOTLINE_SECRET_KEY": "soak-secret-key-0123456789",
            "HOTLINE_BIND": f"127.0.0.1:{PORT}", "HOTLINE_WORKERS": str(WORKERS),
            "HOTLINE_SCHEDULER_TICK": "1", "HOTLINE_PUSH_LEASE": "10",
            "HOTLINE_LOG_LEVEL": "WARNING"}
        upgrade(world.env["HOTLINE_DATABASE_URL"])
        world.runtime = build_runtime(Settings.from_env(world.env))
        world.account = world.runtime.settings.default_account
        with world.runtime.sessionmaker.begin() as session:
            content_service.load(session, load_catalog().items)
        world._spawn("web", [str(Path(sys.executable).with_name("gunicorn")), "-c",
                             "deploy/gunicorn.conf.py"])
        world._wait_healthy()
        world._spawn("scheduler", [str(Path(sys.executable).with_name("hotline")), "scheduler"])
        return world

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *_exc) -> None:
        self.stop.set()
        for thread in self.side:
            thread.join(30)
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.runtime.close()

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self.instance / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **self.env},
                                                stdout=log, stderr=subprocess.STDOUT)

    def _wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200 \
                        and len(self.workers()) == WORKERS:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError("gunicorn did not become healthy: see instance/soak/web.log")

    def workers(self) -> list[int]:
        found = subprocess.run(["pgrep", "-P", str(self.processes["web"].pid)],
                               capture_output=True, text=True).stdout.split()
        return [int(pid) for pid in found]

    # -- staff at work -----------------------------------------------------------------
    def start_side_work(self) -> None:
        """Staff answer new cases every second; two broadcasts (all followers, a topic)."""
        with self.runtime.sessionmaker.begin() as session:
            slugs = [item.slug for item in load_catalog().items[:3]]
            for audience, topic in (("all", ""), ("topic", "policy")):
                push = push_service.create_push(
                    session, account="default", slugs=slugs, due_at=utcnow(), audience=audience,
                    topic=topic, msgtype="text", by="soak")
                push_service.approve(session, push.id, "soak")
        thread = threading.Thread(target=self._answer_cases, name="staff", daemon=True)
        thread.start()
        self.side.append(thread)

    def _answer_cases(self) -> None:
        while not self.stop.wait(1.0):
            try:
                self._answer_some(5)
            except Exception as exc:  # noqa: BLE001 - PostgreSQL may be restarting
                print(f"  staff: {type(exc).__name__}", flush=True)

    def _answer_some(self, count: int) -> None:
        with self.runtime.sessionmaker.begin() as session:
            cases = session.scalars(select(Case).where(Case.state == flow.NEW)
                                    .order_by(Case.id).limit(count)).all()
            ids = [delivery.add_reply(session, case, f"已转相关处室核实（{case.number}）。",
                                      "staff:soak").id for case in cases]
        self.replies.extend(ids)
        for message_id in ids:
            delivery.deliver(self.runtime, message_id)

    # -- faults ------------------------------------------------------------------------
    def fault_timeline(self, seconds: float, notes: list[str]) -> threading.Thread:
        steps = [(0.08, self._kill_worker), (0.25, self._restart_postgres),
                 (0.50, self._stop_redis), (0.70, self._api_faults)]

        def run() -> None:
            began = time.time()
            for share, step in steps:
                time.sleep(max(0.0, began + share * seconds - time.time()))
                notes.append(f"{time.time() - began:5.1f} s {step()}")

        thread = threading.Thread(target=run, name="faults", daemon=True)
        thread.start()
        return thread

    def _kill_worker(self) -> str:
        victim = random.Random(1).choice(self.workers())
        os.kill(victim, signal.SIGKILL)
        return f"gunicorn worker {victim} killed with SIGKILL"

    def _restart_postgres(self) -> str:
        version = sorted(os.listdir("/etc/postgresql"))[0]
        started = time.time()
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                       check=True, capture_output=True)
        return f"PostgreSQL restarted ({time.time() - started:.1f} s)"

    def _stop_redis(self) -> str:
        subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"],
                       capture_output=True)
        time.sleep(8)
        subprocess.run(REDIS_START, check=True, capture_output=True)
        return "Redis stopped for 8 s, then started again"

    def _api_faults(self) -> str:
        faults = [{"path": "message/custom/send", "http_status": 502, "count": 5},
                  {"path": "message/custom/send", "errcode": 40001, "count": 3},
                  {"path": "message/custom/send", "delay": 6.0, "http_status": 504, "count": 2},
                  {"path": "message/mass/sendall", "http_status": 503, "count": 1},
                  {"path": "token", "http_status": 500, "count": 2}]
        for fault in faults:
            requests.post(f"{self.url}/sim/api/_faults", json=fault, timeout=5)
        with self.runtime.sessionmaker.begin() as session:  # a broadcast while they last
            push = push_service.create_push(
                session, account="default", slugs=[load_catalog().items[5].slug],
                due_at=utcnow(), audience="topic", topic="funding", msgtype="text", by="soak")
            push_service.approve(session, push.id, "soak")
        return "fake API: 5 × 502, 3 × expired token, 2 × timeout on replies; 503 on a " \
               "broadcast; 2 × 500 on token fetches"

    # -- the end -----------------------------------------------------------------------
    def drain(self, timeout: float = 120) -> None:
        """Stop the staff, clear the faults, deliver what waits, let the scheduler finish."""
        self.stop.set()
        for thread in self.side:
            thread.join(30)
        requests.delete(f"{self.url}/sim/api/_faults", timeout=5)
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.runtime.sessionmaker() as session:
                waiting = session.scalars(select(CaseMessage.id).where(
                    CaseMessage.direction == "out", CaseMessage.delivery == "pending")).all()
                sending = session.scalar(text("SELECT count(*) FROM pushes WHERE state IN "
                                              "('approved', 'sending')"))
                untagged = session.scalar(text("SELECT count(*) FROM topic_subscriptions "
                                               "WHERE active <> tagged"))  # the scheduler's
            for message_id in waiting:
                delivery.deliver(self.runtime, message_id)
            if not waiting and not sending and not untagged:
                return
            time.sleep(1)
        print("  drain: gave up waiting", flush=True)

    def topic_rows(self) -> list[tuple[str, bool, bool]]:
        """(openid, active, tagged) of every topic subscription."""
        with self.runtime.sessionmaker() as session:
            return [tuple(row) for row in session.execute(select(
                TopicSubscription.openid, TopicSubscription.active, TopicSubscription.tagged))]

"""The console inbox over 1,000,000 cases, on SQLite and on PostgreSQL (issue 5).

The cases (tests/bench/inbox_data.py) are built once per schema: the SQLite file under
instance/bench/ and the PostgreSQL database `hotline_bench` (on the server of
HOTLINE_TEST_PG_URL) carry a fingerprint of the migrations and the generator, and are reused
while it matches. Rows go in at revision 0010 and the upgrade to head then indexes them (its
time is printed: what a real upgrade costs at this size).

Then through the real console (Flask test client, logged in, the whole request: session,
filters, queries, template) each scenario's URLs are requested once to warm up and then
ROUNDS more times in shuffled order: p50/p95 per scenario, the median rows per page, and the
ratio of p95 to the p50 of a baseline measured in the same run (one case's page: a lookup on
the unique index of cases.number), which noise moves less than absolute times. Target: p95 <=
150 ms for every scenario. PostgreSQL runs only when HOTLINE_TEST_PG_URL is set.
A benchmark reports: main() returns 0 whatever it finds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import random
import re
import sqlite3
import statistics
import time
from pathlib import Path

from tests.bench.inbox_data import (
    COUNTIES,
    DEPARTMENTS,
    Generator,
    load_postgresql,
    load_sqlite,
)
from tests.bench.search import percentile

TOTAL = int(os.environ.get("BENCH_INBOX_CASES", "1000000"))
ROUNDS = 3
URLS_PER_SCENARIO = 12
TARGET_MS = 150.0
ROOT = Path(__file__).resolve().parents[2]
SECRET = "bench-inbox-secret-key-0123456789"
PASSWORD = "bench-password-7"
PG_DATABASE = "hotline_bench"
COMMON = ("危房改造", "建档立卡", "易地扶贫搬迁", "医疗救助", "优亲厚友", "还没有到账")
SHORT = ("低保", "补助", "搬迁", "名额", "孩子", "材料")


def fingerprint() -> str:
    """Changes with the schema (any migration), the generator, or the size."""
    digest = hashlib.sha256(f"{TOTAL}".encode())
    for path in sorted((ROOT / "bot" / "migrations" / "versions").glob("*.py")):
        digest.update(path.read_bytes())
    digest.update((ROOT / "tests" / "bench" / "inbox_data.py").read_bytes())
    return digest.hexdigest()[:16]


# ---- building (once per fingerprint)


def _generator(end: dt.date) -> Generator:
    return Generator(TOTAL, end, SECRET)


def prepare_sqlite() -> str:
    from bot.migrate import upgrade

    folder = ROOT / "instance" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"inbox-{fingerprint()}.db"
    if path.exists():
        print(f"SQLite: reusing {path.relative_to(ROOT)} ({path.stat().st_size / 2**20:,.0f} MB)")
        return f"sqlite:///{path}"
    for old in folder.glob("inbox-*"):  # other fingerprints, an interrupted build
        old.unlink()
    building = path.with_suffix(".building")
    url = f"sqlite:///{building}"
    upgrade(url, "0010")
    started = time.perf_counter()
    load_sqlite(str(building), _generator(dt.date.today()))
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    upgrade(url)
    migrated = time.perf_counter() - started
    with contextlib.closing(sqlite3.connect(building)) as conn:  # all in the file, then rename
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    building.rename(path)
    for leftover in folder.glob(building.name + "*"):  # the engine's writer lock
        leftover.unlink()
    print(f"SQLite: {TOTAL:,} cases generated and inserted in {loaded:.0f} s; upgrade to head "
           f"(0011 indexes them) {migrated:.0f} s; {path.stat().st_size / 2**20:,.0f} MB")
    return f"sqlite:///{path}"


def prepare_postgresql(base_url: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from bot.migrate import upgrade

    url = make_url(base_url).set(database=PG_DATABASE).render_as_string(hide_password=False)
    tag = f"inbox-bench {fingerprint()}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.execute(text(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE datname = :name"), {"name": PG_DATABASE}).first()
            if found is not None and found[0] == tag:
                print(f"PostgreSQL: reusing database {PG_DATABASE}")
                return url
            conn.execute(text(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {PG_DATABASE}"))
        upgrade(url, "0010")
        started = time.perf_counter()
        load_postgresql(url, _generator(dt.date.today()))
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        upgrade(url)
        migrated = time.perf_counter() - started
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("VACUUM ANALYZE cases"))
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
        engine.dispose()
        with admin.connect() as conn:  # complete: reusable from now on
            conn.execute(text(f"COMMENT ON DATABASE {PG_DATABASE} IS '{tag}'"))
    finally:
        admin.dispose()
    print(f"PostgreSQL: {TOTAL:,} cases generated and copied in {loaded:.0f} s; upgrade to "
           f"head (0011 indexes them) {migrated:.0f} s; {size / 2**20:,.0f} MB")
    return url


# ---- measuring through the console


def _app(url: str):
    from bot.app import create_app
    from bot.config import Settings
    from bot.runtime import build_runtime

    settings = Settings.from_env({
        "HOTLINE_ENV": "test", "HOTLINE_DATABASE_URL": url, "HOTLINE_SECRET_KEY": SECRET,
        "HOTLINE_INSTANCE_PATH": str(ROOT / "instance" / "bench"), "HOTLINE_SIMULATOR": "1",
        "WECHAT_TOKEN": "bench-token", "WECHAT_APPID": "wxbench000000001",
        "WECHAT_SECRET": "bench-secret", "HOTLINE_LOG_LEVEL": "WARNING"})
    runtime = build_runtime(settings)
    return runtime, create_app(runtime=runtime)


def _users(runtime) -> None:
    from sqlalchemy import select

    from bot.models.staff import StaffUser
    from bot.services import staff as staff_service

    with runtime.sessionmaker.begin() as session:
        for name, role, department in (("bench_admin", "admin", ""),
                                       ("bench_li", "handler", DEPARTMENTS[0])):
            if session.scalar(select(StaffUser).where(StaffUser.username == name)) is None:
                staff_service.create_user(session, name, PASSWORD, role, department=department)


def _client(app, username: str):
    client = app.test_client()
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/console/login", data={"username": username, "password": PASSWORD,
                                                   "csrf_token": token})
    if response.status_code != 302:
        raise RuntimeError(f"login as {username} failed: {response.status_code}")
    return client


def scenarios(runtime, rng: random.Random) -> dict[str, tuple[str, list[str]]]:
    """name -> (user, URLs): every kind of page the issue names, with varied values."""
    from urllib.parse import urlencode

    from sqlalchemy import func, select

    from bot.models import Case

    with runtime.sessionmaker() as session:
        top = session.scalar(select(func.max(Case.id)))
        ids = [rng.randint(1, top) for _ in range(URLS_PER_SCENARIO * 2)]
        rows = session.execute(select(Case.deadline, Case.id, Case.number, Case.received_at)
                               .where(Case.id.in_(ids))).all()
    rng.shuffle(rows)
    rows = rows[:URLS_PER_SCENARIO]
    generator = _generator(dt.date.today())
    villages = rng.sample(generator.villages, URLS_PER_SCENARIO)
    staff = [rng.choice(generator.staff[d]) for d in DEPARTMENTS[:URLS_PER_SCENARIO]]
    n = URLS_PER_SCENARIO

    def urls(*choices: dict) -> list[str]:
        return ["/console/?" + urlencode(choice) if choice else "/console/"
                for choice in choices]

    def month(received: dt.datetime) -> dict:
        start = received.date().replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        return {"from": start.isoformat(), "to": end.isoformat()}

    states, classes = ("办理中", "已办结", "已答复", "待受理"), ("投诉", "咨询", "求助", "举报")
    return {
        "baseline: one case's page": ("bench_admin", [f"/console/cases/{r[2]}" for r in rows]),
        "first page": ("bench_admin", urls(*[{}] * n)),
        "state + class + department": ("bench_admin", urls(*[
            {"state": states[i % 4], "class": classes[i % 3],
             "department": DEPARTMENTS[(i * 7) % len(DEPARTMENTS)]} for i in range(n)])),
        "overdue": ("bench_admin", urls(*[{"overdue": "1"}] * n)),
        "due soon": ("bench_admin", urls(*[{"soon": "1"}] * n)),
        "later keyset page": ("bench_admin", urls(*[
            {"after": f"{r[0].isoformat()}_{r[1]}"} for r in rows])),
        "received in a month + class": ("bench_admin", urls(*[
            {**month(r[3]), "class": classes[i % 4]} for i, r in enumerate(rows)])),
        "text, common word": ("bench_admin", urls(*[{"q": COMMON[i % len(COMMON)]}
                                                    for i in range(n)])),
        "text, rare word (a village)": ("bench_admin", urls(*[{"q": v} for v in villages])),
        "text, two words (county + topic)": ("bench_admin", urls(*[
            {"q": f"{COUNTIES[i]} {COMMON[i % 4]}"} for i in range(n)])),
        "text, 2 characters": ("bench_admin", urls(*[{"q": SHORT[i % len(SHORT)]}
                                                     for i in range(n)])),
        "text + state + department": ("bench_admin", urls(*[
            {"q": COMMON[i % len(COMMON)], "state": "已办结",
             "department": DEPARTMENTS[i % len(DEPARTMENTS)]} for i in range(n)])),
        "case number": ("bench_admin", urls(*[{"q": r[2]} for r in rows])),
        "case number, day prefix": ("bench_admin", urls(*[{"q": r[2][:8]} for r in rows])),
        "assignee": ("bench_admin", urls(*[{"assignee": name} for name in staff])),
        "handler: first page": ("bench_li", urls(*[{}] * n)),
        "handler: text, common word": ("bench_li", urls(*[{"q": COMMON[i % len(COMMON)]}
                                                          for i in range(n)])),
    }


def measure(url: str, label: str) -> list[tuple[str, float, float, float, bool]]:
    runtime, app = _app(url)
    try:
        _users(runtime)
        rng = random.Random(11)
        plan = scenarios(runtime, rng)
        clients = {user: _client(app, user) for user in {user for user, _ in plan.values()}}
        work = [(name, path) for name, (_, paths) in plan.items() for path in paths]
        times: dict[str, list[float]] = {name: [] for name in plan}
        rows: dict[str, list[int]] = {name: [] for name in plan}
        for round_ in range(ROUNDS + 1):  # the first round warms up
            rng.shuffle(work)
            for name, path in work:
                client = clients[plan[name][0]]
                started = time.perf_counter()
                response = client.get(path)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    raise RuntimeError(f"{label} {path}: HTTP {response.status_code}")
                if round_:
                    times[name].append(elapsed * 1000)
                    rows[name].append(response.get_data(as_text=True).count('href="/console/cases/'))
    finally:
        runtime.close()
    return report(label, times, rows)


def report(label: str, times: dict[str, list[float]], rows: dict[str, list[int]]) -> list:
    base = statistics.median(next(iter(times.values())))
    print(f"\n{label}: {ROUNDS} rounds x {URLS_PER_SCENARIO} URLs per scenario, shuffled "
          f"(ms; ratio = p95 / baseline p50; rows = median cases on the page)")
    print(f"  {'scenario':34} {'p50':>7} {'p95':>7} {'max':>7} {'ratio':>6} {'rows':>5}")
    results = []
    for name, values in times.items():
        p50, p95 = percentile(values, 50), percentile(values, 95)
        ok = p95 <= TARGET_MS
        print(f"  {name:34} {p50:7.1f} {p95:7.1f} {max(values):7.1f} {p95 / base:6.1f} "
              f"{statistics.median(rows[name]):5.0f}  {'PASS' if ok else 'MISS'}")
        results.append((name, p50, p95, p95 / base, ok))
    return results


def main() -> int:
    started = time.perf_counter()
    print(f"inbox benchmark: {TOTAL:,} cases, target p95 <= {TARGET_MS:.0f} ms per page")
    outcomes = {}
    outcomes["SQLite"] = measure(prepare_sqlite(), "SQLite")
    pg = os.environ.get("HOTLINE_TEST_PG_URL", "")
    if pg:
        outcomes["PostgreSQL"] = measure(prepare_postgresql(pg), "PostgreSQL")
    else:
        print("\nPostgreSQL: skipped (HOTLINE_TEST_PG_URL not set)")
    print()
    for label, results in outcomes.items():
        missed = [name for name, *_, ok in results if not ok]
        verdict = "PASS" if not missed else "MISS (" + ", ".join(missed) + ")"
        print(f"{verdict:6} {label}: every scenario p95 <= {TARGET_MS:.0f} ms")
    print(f"\n(inbox benchmark: {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

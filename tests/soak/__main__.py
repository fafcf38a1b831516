"""`make soak`: a production-like run on this machine, with faults, and the checks that
nothing was lost or doubled.

PostgreSQL (database hotline_soak, made afresh) and Redis, gunicorn with 4 sync workers
(deploy/gunicorn.conf.py), the scheduler process, the fake WeChat API (served by the same
gunicorn), and the load of tests/soak/load.py on loopback. Phases:
0. warm-up (SOAK_WARMUP seconds, default 10), not counted: new workers open their connections;
1. steady (SOAK_STEADY seconds, default 60): messages/s and p50/p99, against the target of
   >= 500 messages/s with p99 <= 100 ms;
2. faults (SOAK_FAULTS seconds, default 60, 0 to skip): a worker killed with SIGKILL, PostgreSQL
   restarted, Redis stopped for 8 s, the fake API answering 5xx, timing out and refusing tokens;
   meanwhile staff replies are delivered and broadcasts sent;
then a drain, and the checks: every message answered and logged once, every retry given the
first answer, every case once, every staff reply and every push delivered once.
Settings: SOAK_RATE (offered messages/s, default 520: a little over the target, so that the
measured rate can meet it), SOAK_STEP (seconds per stretch of the p99 timeline, default 5),
HOTLINE_TEST_PG_URL (a server URL; the database is replaced), HOTLINE_TEST_REDIS_URL (db 13 of
that server is used).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from tests.soak import checks, cluster
from tests.soak.load import Load

TARGET_RATE, TARGET_P99 = 500.0, 0.100


def _run(work) -> None:
    """Run the load on uvloop where installed (`make soak` installs it): the generator shares
    the two cores with the service, and uvloop's loop costs it less CPU per message."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(work)
    else:
        uvloop.run(work)


def main() -> int:
    rate = float(os.environ.get("SOAK_RATE", "520"))
    steady = float(os.environ.get("SOAK_STEADY", "60"))
    faulty = float(os.environ.get("SOAK_FAULTS", "60"))
    warmup = float(os.environ.get("SOAK_WARMUP", "10"))
    step = float(os.environ.get("SOAK_STEP", "5"))  # seconds per stretch of the timeline
    with cluster.Cluster.start(Path("instance/soak")) as world:
        load = Load(world.url, world.account, checks.questions(), checks.menu_keys(), rate)
        print(f"soak: {rate:g} messages/s offered; warm-up {warmup:g} s, steady {steady:g} s, "
              f"faults {faulty:g} s")
        if warmup > 0:
            began = time.time()
            _run(load.run(warmup, concurrency=96))
            print(checks.describe("warm-up (not counted)",
                                  checks.throughput(load.record, began, time.time())))
            print(checks.timeline(load.record, began, time.time(), step=2))
        began = time.time()
        _run(load.run(steady, concurrency=96))
        ended = time.time()
        steady_report = checks.throughput(load.record, began, ended)
        print(checks.describe("steady", steady_report))
        print(checks.by_step(load.record, began, ended))
        print(checks.timeline(load.record, began, ended, step=step))
        fault_notes: list[str] = []
        if faulty > 0:
            world.start_side_work()
            began = time.time()
            runner = world.fault_timeline(faulty, fault_notes)
            _run(load.run(faulty, concurrency=96))
            runner.join()
            print(checks.describe("with faults", checks.throughput(load.record, began,
                                                                   time.time())))
            for note in fault_notes:
                print(f"  fault: {note}")
        world.drain()
        problems = checks.verify(world, load.record)
    passed = (steady_report.rate >= TARGET_RATE and steady_report.p99 <= TARGET_P99)
    print(f"target (steady phase): >= {TARGET_RATE:g} messages/s and p99 <= "
          f"{TARGET_P99 * 1000:g} ms: {'PASS' if passed else 'MISS'}")
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    print("checks: " + ("all passed" if not problems else f"{len(problems)} failed"))
    return 0 if passed and not problems else 1


if __name__ == "__main__":
    sys.exit(main())

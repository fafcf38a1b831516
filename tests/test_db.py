"""SQLite settings: WAL, synchronous=NORMAL, busy timeout, and the writer queue."""

from __future__ import annotations

import threading

from sqlalchemy import text

from bot.db import make_engine


def test_pragmas(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/w.db")
    with engine.begin() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10000
    engine.dispose()


def test_writers_from_many_threads_queue_without_errors(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/q.db")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    errors: list[Exception] = []

    def write() -> None:
        try:
            for n in range(50):
                with engine.begin() as conn:
                    conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": n})
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 300
    assert errors == []
    engine.dispose()

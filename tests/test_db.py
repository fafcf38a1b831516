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


def test_checkpointer_copies_the_wal_back_in_the_background(tmp_path, monkeypatch):
    import time

    from sqlalchemy import text

    from bot import db

    monkeypatch.setattr(db, "SQLITE_AUTOCHECKPOINT", 0)  # nobody else checkpoints
    engine = db.make_engine(f"sqlite:///{tmp_path}/w.db")
    with engine.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        conn.execute(text("CREATE TABLE t (x TEXT)"))
        for n in range(200):
            conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": "行" * 500 + str(n)})
    checkpointer = db.Checkpointer(tmp_path / "w.db", interval=0.02)
    checkpointer.start()
    try:
        deadline = time.time() + 5
        while (checkpointer.last is None or checkpointer.last[1] == 0) and time.time() < deadline:
            time.sleep(0.02)
        busy, frames, copied = checkpointer.last
        assert busy == 0 and frames > 0 and copied == frames
    finally:
        checkpointer.stop()
        engine.dispose()
    assert not checkpointer.is_alive()


def test_sqlite_file_of_urls(tmp_path):
    from bot.db import sqlite_file

    assert sqlite_file(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db"
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql+psycopg://u@h/db") is None

"""Declarative base, column aliases and the engine/sessionmaker factory.

SQLite gets WAL, synchronous=NORMAL and a busy timeout on every connection (see
shared/PERFORMANCE.md: the default journal syncs the disk on every commit and caps the
service near 550 messages/s).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Annotated

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, String, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, mapped_column, sessionmaker
from sqlalchemy.pool import NullPool

log = logging.getLogger("hotline.db")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> dt.datetime:
    """Naive UTC: stored the same way in SQLite and PostgreSQL."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


BigID = BigInteger().with_variant(Integer, "sqlite")
IntPK = Annotated[int, mapped_column(BigID, primary_key=True)]
Timestamp = Annotated[dt.datetime, mapped_column(DateTime, default=utcnow)]
OpenID = Annotated[str, mapped_column(String(64))]
AccountName = Annotated[str, mapped_column(String(32))]
ShortText = Annotated[str, mapped_column(String(255), default="")]


SQLITE_AUTOCHECKPOINT = 1000
"""WAL pages after which a committing connection checkpoints (SQLite's default). Under
gunicorn the master checkpoints in the background instead (`Checkpointer`) and workers only
fall back to this, raised, if it stops (deploy/gunicorn.conf.py)."""


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA wal_autocheckpoint={int(SQLITE_AUTOCHECKPOINT)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for `url`; SQLite files get their folder created and the pragmas above."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 10})
        if path == ":memory:" or not path:
            kwargs.setdefault("poolclass", NullPool)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite defers BEGIN and then upgrades a reading transaction to a writing one,
        # which fails at once ("database is locked") when another process writes. Every
        # transaction here takes the write lock up front (BEGIN IMMEDIATE) and so waits its
        # turn under busy_timeout instead; transactions are short, and WAL readers outside
        # transactions are not blocked.
        event.listen(engine, "connect", _disable_pysqlite_begin)
        event.listen(engine, "begin", _begin_immediate)
        if path and path != ":memory:":
            _queue_writers(engine, Path(path))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 10)
    return create_engine(url, **kwargs)


def _disable_pysqlite_begin(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None


def _begin_immediate(connection) -> None:
    lock = connection.connection.info.get("writer_lock")
    if lock is not None:
        fcntl.flock(lock, fcntl.LOCK_EX)
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _queue_writers(engine: Engine, database: Path) -> None:
    """Writers wait on a file lock before BEGIN IMMEDIATE.

    SQLite's own busy handler polls with sleeps of 1 to 100 ms, which turns a 0.1 ms wait
    into milliseconds under contention; a blocked flock() wakes as soon as the holder lets
    go. Each pooled connection has its own descriptor (so threads queue too); the lock is
    released when the connection goes back to the pool, after its transaction ended.
    """
    lock_path = database.with_name(database.name + ".writer-lock")

    def on_connect(_dbapi, record) -> None:
        record.info["writer_lock"] = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)

    def on_checkin(_dbapi, record) -> None:
        lock = record.info.get("writer_lock")
        if lock is not None:
            fcntl.flock(lock, fcntl.LOCK_UN)

    def on_close(_dbapi, record) -> None:
        lock = record.info.pop("writer_lock", None)
        if lock is not None:
            os.close(lock)

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "checkin", on_checkin)
    event.listen(engine, "close", on_close)


def make_sessionmaker(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def sqlite_file(url: str) -> Path | None:
    """The database file of an SQLite URL (None for other databases and :memory:)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1]
    return Path(path) if path and path != ":memory:" else None


class Checkpointer(threading.Thread):
    """Copies an SQLite WAL back into the database from outside the request path.

    A commit that crosses `wal_autocheckpoint` copies the WAL and syncs the disk while its
    request waits (and every request queued behind it). This thread, in a process that
    serves no requests (the gunicorn master), runs PASSIVE checkpoints, which never block
    writers, every `interval` seconds (50 ms: at 100 ms the WAL fell far enough behind that
    workers' fallback checkpoints stalled requests; at 20 ms the master took CPU from them)."""

    def __init__(self, database: Path, interval: float = 0.05) -> None:
        super().__init__(name="wal-checkpointer", daemon=True)
        self.database, self.interval = database, interval
        self.stopping = threading.Event()
        self.last: tuple[int, int, int] | None = None  # (busy, WAL frames, checkpointed)

    def run(self) -> None:
        conn = sqlite3.connect(self.database, timeout=10, isolation_level=None)
        try:
            while not self.stopping.wait(self.interval):
                try:
                    self.last = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as exc:  # busy or locked: try again next time
                    log.debug("checkpoint skipped: %s", exc)
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)

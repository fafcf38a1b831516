"""Driver-level statements for the webhook's hot path (claim, subscriber upsert, finish).

Measured in-process per message (SQLite, median of 7 runs): the whole webhook ~335 µs, of
which the three statements ~130 µs, two transactions ~35 µs and a pool checkout and checkin
~35 µs. `HotConnections` keeps a few connections checked out so that a message pays for no
checkout, and a message answered by @quick handlers is claimed and answered in one
transaction (bot/wechat/webhook.py).

PERFORMANCE.md measured one row at 15 µs through sqlite3 against 61 µs through Core; an
`engine.begin()` transaction alone costs ~150 µs against ~30 µs done directly. The hot path
therefore writes its SQL once per dialect and runs it on the pooled driver connection, inside
`write_transaction()`, which also takes the SQLite writer lock (see bot/db.py).

On PostgreSQL each statement is a round trip (~0.05 ms of CPU on each side), so the claim and
the subscriber upsert are one statement there (bot/services/messages.py): a message costs
BEGIN, claim, finish and COMMIT (and a dialog read while one runs). psycopg's pipeline
mode, tried for BEGIN, cost more CPU than the round trip it saved.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any

from sqlalchemy.engine import Connection, Engine

_NAMED = re.compile(r"(?<!:):([a-z_]+)")


@cache
def sql(dialect: str, statement: str) -> str:
    """`statement` with :name parameters in the driver's style."""
    return statement if dialect == "sqlite" else _NAMED.sub(r"%(\1)s", statement)


def stamp(conn: Connection, value: dt.datetime) -> Any:
    """A datetime as the driver should get it: SQLite gets SQLAlchemy's DATETIME storage
    format (so ORM reads of these rows work); PostgreSQL the datetime itself."""
    if conn.dialect.name != "sqlite":
        return value
    return value.isoformat(" ", "microseconds")  # == "%Y-%m-%d %H:%M:%S.%f", 5x faster


def execute(conn: Connection, statement: str, params: Mapping[str, Any]) -> Any:
    """Run `statement` on the driver connection under `conn` (datetimes through `stamp`);
    returns the driver cursor."""
    cursor = conn.connection.driver_connection.cursor()
    cursor.execute(sql(conn.dialect.name, statement), params)
    return cursor


@contextmanager
def write_transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """A short write transaction managed directly on the driver connection.

    `bind` may be a Connection already checked out (the webhook keeps one per message, so
    its two transactions pay for one checkout). The SQLite writer lock is held only from
    BEGIN to COMMIT."""
    if isinstance(bind, Engine):
        with bind.connect() as conn, write_transaction(conn) as same:
            yield same
        return
    conn = bind
    driver = conn.connection.driver_connection
    sqlite = conn.dialect.name == "sqlite"
    lock = conn.connection.info.get("writer_lock") if sqlite else None
    if lock is not None:
        fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        if sqlite:
            driver.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            driver.rollback() if not sqlite else driver.execute("ROLLBACK")
            raise
        if sqlite:
            driver.execute("COMMIT")
        else:
            driver.commit()
    finally:
        if lock is not None:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def autocommit(conn: Connection) -> Iterator[Connection]:
    """PostgreSQL: each statement on `conn` commits by itself (no BEGIN and COMMIT round
    trips) until the block ends; the connection must be idle, outside any transaction."""
    driver = conn.connection.driver_connection
    driver.autocommit = True
    try:
        yield conn
    finally:
        if not driver.closed and not driver.broken:
            driver.autocommit = False


@contextmanager
def finishing(conn: Connection) -> Iterator[Connection]:
    """Where the webhook records a reply (`messages.finish`, with the dialog change): on
    PostgreSQL that is one statement, run on its own (autocommit); on SQLite a few, in a
    `write_transaction`."""
    if conn.dialect.name == "postgresql":
        with autocommit(conn):
            yield conn
    else:
        with write_transaction(conn):
            yield conn


class HotConnections:
    """A few engine connections kept checked out for the hot path.

    `connection()` takes a kept connection (or checks one out of the engine's pool, which
    pings it) and keeps it again afterwards, up to `keep` of them. A connection that raised
    is invalidated instead, so after a database restart the next message gets a fresh one.
    A forked child (gunicorn) starts with none: connections never cross a fork."""

    def __init__(self, engine: Engine, keep: int = 4) -> None:
        self.engine = engine
        self.keep = keep
        self._kept: list[Connection] = []
        self._forked: list[Connection] = []
        self._pid = os.getpid()
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        conn = self._take()
        try:
            yield conn
        except BaseException:
            conn.invalidate()
            conn.close()
            raise
        with self._lock:
            if len(self._kept) < self.keep and self._pid == os.getpid():
                self._kept.append(conn)
                return
        conn.close()

    def _take(self) -> Connection:
        with self._lock:
            if self._pid != os.getpid():
                # The parent's connections: never used nor closed here (nor collected,
                # which would return them to the pool and roll back the parent's work).
                self._forked.extend(self._kept)
                self._kept, self._pid = [], os.getpid()
            if self._kept:
                conn = self._kept.pop()
                if not conn.closed and not conn.invalidated:
                    return conn
        return self.engine.connect()

    def close(self) -> None:
        with self._lock:
            kept, self._kept = self._kept, []
        for conn in kept:
            conn.close()

"""Driver-level statements for the webhook's hot path (claim, subscriber upsert, finish).

PERFORMANCE.md measured one row at 15 µs through sqlite3 against 61 µs through Core; an
`engine.begin()` transaction alone costs ~150 µs against ~30 µs done directly. The hot path
therefore writes its SQL once per dialect and runs it on the pooled driver connection, inside
`write_transaction()`, which also takes the SQLite writer lock (see bot/db.py).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import re
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
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if conn.dialect.name == "sqlite" else value


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

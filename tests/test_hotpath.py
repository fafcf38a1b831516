"""The hot path's kept connections."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bot.db import make_engine
from bot.services.hotpath import HotConnections


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/hot.db")
    yield engine
    engine.dispose()


def test_connections_are_kept_and_reused_up_to_the_limit(engine):
    hot = HotConnections(engine, keep=1)
    with hot.connection() as first, hot.connection() as second:
        assert first is not second
    assert engine.pool.checkedout() == 1  # one kept, the other back in the pool
    with hot.connection() as again:
        assert again is first or again is second
    hot.close()
    assert engine.pool.checkedout() == 0


def test_a_connection_that_raised_is_not_kept(engine):
    hot = HotConnections(engine)
    with pytest.raises(RuntimeError), hot.connection() as conn:
        conn.execute(text("SELECT 1"))
        raise RuntimeError("database went away")
    assert conn.invalidated or conn.closed
    with hot.connection() as fresh:
        assert fresh is not conn
        assert fresh.execute(text("SELECT 1")).scalar() == 1
    hot.close()


def test_a_forked_child_never_uses_the_parents_connections(engine):
    hot = HotConnections(engine)
    with hot.connection() as parents:
        pass
    hot._pid = -1  # as if this process were a fork of the one that kept `parents`
    with hot.connection() as childs:
        assert childs is not parents
    assert parents in hot._forked and not parents.closed
    hot.close()

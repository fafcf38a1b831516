"""The hot path on PostgreSQL: the claim and the subscriber upsert in one statement (skipped
without HOTLINE_TEST_PG_URL)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from bot.db import make_engine
from bot.dispatch import Incoming
from bot.migrate import upgrade
from bot.models import InboundMessage, Subscriber
from bot.services import messages

T0 = dt.datetime(2026, 11, 25, 8, 0, 0)


@pytest.fixture
def engine(pg_database_url):
    upgrade(pg_database_url)
    engine = make_engine(pg_database_url)
    yield engine
    engine.dispose()


def text(key="m:1", openid="o1"):
    return Incoming("default", openid, "text", "你好", "你好", msg_key=key)


def row(engine, model, *where):
    with engine.connect() as conn:
        return conn.execute(select(model).where(*where)).one()


def test_a_retry_leaves_the_subscriber_row_alone(engine):
    with engine.begin() as conn:
        first = messages.claim(conn, text(), T0)
    with engine.begin() as conn:
        conn.execute(update(Subscriber).values(pending_replies=2, message_window_sent=3))
        again = messages.claim(conn, text(), T0 + dt.timedelta(hours=1))
    assert first.first and not again.first and again.id == first.id
    seen = row(engine, Subscriber, Subscriber.openid == "o1")
    assert (seen.last_seen_at, seen.last_message_at, seen.message_window_sent) == (T0, T0, 3)
    assert row(engine, InboundMessage, InboundMessage.id == first.id).retries == 1


def test_the_claim_returns_what_the_upsert_returned(engine):
    with engine.begin() as conn:
        assert messages.claim(conn, text("m:1"), T0).pending_replies == 0
        conn.execute(update(Subscriber).values(pending_replies=2))
        later = messages.claim(conn, text("m:2"), T0 + dt.timedelta(minutes=1))
    assert later.first and later.pending_replies == 2 and later.dialog is None
    seen = row(engine, Subscriber, Subscriber.openid == "o1")
    assert (seen.first_seen_at, seen.last_seen_at) == (T0, T0 + dt.timedelta(minutes=1))
    assert seen.message_window_sent == 0 and seen.subscribed


def test_an_overlong_field_fails_the_claim_and_leaves_nothing(engine):
    with pytest.raises(Exception, match="too long"), engine.begin() as conn:
        messages.claim(conn, text(openid="o" * 65), T0)
    with engine.connect() as conn:
        assert conn.execute(select(InboundMessage)).all() == []
        assert conn.execute(select(Subscriber)).all() == []


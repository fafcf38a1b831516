"""The claim, the message log and the subscriber windows, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.db import make_engine
from bot.dispatch import Incoming
from bot.migrate import upgrade
from bot.models import Subscriber
from bot.services import messages, subscribers


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/s.db"
    else:
        url = request.getfixturevalue("pg_database_url")
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def text(openid="o1", key="m:1", content="你好"):
    return Incoming("default", openid, "text", content, content, msg_key=key)


def event(name, openid="o1", key=None):
    return Incoming("default", openid, "event", event=name, msg_key=key or f"e:{name}")


T0 = dt.datetime(2026, 11, 25, 8, 0, 0)


def subscriber(engine, openid="o1"):
    with engine.connect() as conn:
        return conn.execute(select(Subscriber).where(Subscriber.openid == openid)).one()


def test_claim_once_then_retries_see_the_first(engine):
    with engine.begin() as conn:
        first = messages.claim(conn, text(), T0)
    with engine.begin() as conn:
        again = messages.claim(conn, text(), T0)
    assert first.first and not again.first and again.id == first.id
    assert again.status == "processing"
    with engine.begin() as conn:
        messages.finish(conn, first.id, status="answered", reply_kind="text", reply_xml="<xml/>",
                        reply_text="好", handled_ms=1.5)
    with engine.begin() as conn:
        third = messages.claim(conn, text(), T0)
    assert (third.status, third.reply_xml) == ("answered", "<xml/>")


def test_follow_unfollow_and_windows(engine):
    with engine.begin() as conn:
        messages.claim(conn, event("subscribe", key="e:1"), T0)
    row = subscriber(engine)
    assert row.subscribed and row.subscribed_at == T0 and row.last_event_at == T0
    assert row.last_message_at is None
    with engine.begin() as conn:
        assert subscribers.window(conn, "default", "o1", T0).kind == "event"
        for _ in range(3):
            subscribers.consume(conn, "default", "o1", "event")
        assert subscribers.window(conn, "default", "o1", T0).errcode == 45047
        late = T0 + dt.timedelta(minutes=2)
        assert subscribers.window(conn, "default", "o1", late).errcode == 45015
    with engine.begin() as conn:
        messages.claim(conn, text(key="m:2"), T0 + dt.timedelta(hours=1))
    with engine.begin() as conn:
        later = T0 + dt.timedelta(hours=48)
        window = subscribers.window(conn, "default", "o1", later)
        assert window.open and window.kind == "message"
        for _ in range(5):
            subscribers.consume(conn, "default", "o1", "message")
        assert subscribers.window(conn, "default", "o1", later).errcode == 45047
        expired = T0 + dt.timedelta(hours=49, seconds=1)
        assert subscribers.window(conn, "default", "o1", expired).errcode == 45015
    with engine.begin() as conn:
        messages.claim(conn, event("unsubscribe", key="e:2"), T0 + dt.timedelta(hours=2))
    row = subscriber(engine)
    assert not row.subscribed and row.subscribed_at == T0
    with engine.begin() as conn:
        assert subscribers.window(conn, "default", "o1", T0).errcode == 45015


def test_system_events_touch_no_subscriber(engine):
    with engine.begin() as conn:
        messages.claim(conn, event("masssendjobfinish", openid="oAdmin"), T0)
        assert conn.execute(select(Subscriber)).all() == []


def test_claim_reads_the_dialog_and_apply_writes_it(engine):
    from bot.services import dialogs

    later = T0 + dt.timedelta(minutes=10)
    with engine.begin() as conn:
        assert messages.claim(conn, text(key="m:d1"), T0).dialog is None
        dialogs.apply(conn, "default", "o1", dialogs.Change(dialogs.Dialog(
            "choose", {"options": ["a", "b#c"], "问": "退出"}, later)), T0)
    with engine.begin() as conn:
        found = messages.claim(conn, text(key="m:d2"), T0).dialog
        other = messages.claim(conn, text(openid="o2", key="m:d3"), T0).dialog
    assert found == dialogs.Dialog("choose", {"options": ["a", "b#c"], "问": "退出"}, later)
    assert other is None
    with engine.begin() as conn:  # expired
        assert messages.claim(conn, text(key="m:d4"), later).dialog is None
        dialogs.apply(conn, "default", "o1", dialogs.Change(dialogs.Dialog("case", {}, later)))
        dialogs.apply(conn, "default", "o1", None)  # no change
    with engine.begin() as conn:
        assert messages.claim(conn, text(key="m:d5"), T0).dialog.kind == "case"
        dialogs.apply(conn, "default", "o1", dialogs.Change(None))
    with engine.begin() as conn:
        assert messages.claim(conn, text(key="m:d6"), T0).dialog is None

"""The hot path on PostgreSQL: the claim and the subscriber upsert in one statement, and a
question answered from memory claimed with its answer in that statement (skipped without
HOTLINE_TEST_PG_URL)."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from sqlalchemy import select, update

from bot.db import make_engine
from bot.dispatch import Incoming
from bot.migrate import upgrade
from bot.models import InboundMessage, Subscriber
from bot.services import hotpath, messages
from bot.wechat import webhook
from bot.wechat.parse import parse_xml
from tests.wechat import signed_query, text_xml, url

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



# -- through the webhook: a question answered from memory is claimed with its answer --------


@pytest.fixture
def pg_client(settings, pg_database_url):
    from bot.app import create_app
    from bot.runtime import build_runtime
    from bot.services import content as content_service
    from content.schema import load_catalog

    upgrade(pg_database_url)
    runtime = build_runtime(settings.with_overrides(database_url=pg_database_url))
    with runtime.sessionmaker.begin() as session:
        content_service.load(session, load_catalog().items)
    webhook._dialog_hints._until.clear()
    yield create_app(runtime=runtime).test_client(), runtime
    runtime.close()


def ask(client, account, text: str, msg_id: int, openid: str = "oPg") -> str:
    response = client.post(url("/wechat", signed_query(account.token)),
                           data=text_xml(text, openid=openid, msg_id=msg_id))
    assert response.status_code == 200
    return parse_xml(response.data).get("Content", "") if response.data != b"success" else ""


@pytest.fixture
def statements(monkeypatch):
    """The hot path's statements, as run (and whether any ran inside BEGIN ... COMMIT)."""
    seen: list[str] = []
    execute = hotpath.execute

    def counted(conn, statement, params):
        seen.append(statement.split()[0] + (" autocommit" if
                                            conn.connection.driver_connection.autocommit
                                            else " in transaction"))
        return execute(conn, statement, params)

    monkeypatch.setattr(hotpath, "execute", counted)
    return seen


def test_a_question_is_one_statement_and_its_retry_two(pg_client, account, statements):
    client, runtime = pg_client
    reply = ask(client, account, "2018年网站发布了多少条扶贫信息", 501)
    assert "332" in reply
    assert statements == ["WITH autocommit"]
    statements.clear()
    assert ask(client, account, "2018年网站发布了多少条扶贫信息", 501) == reply
    assert statements == ["WITH autocommit", "UPDATE autocommit"]
    logged = row(runtime.engine, InboundMessage, InboundMessage.msg_key == "m:501")
    assert (logged.status, logged.retries, logged.reply_kind) == ("answered", 1, "text")
    assert logged.rule and logged.handled_ms is not None and "332" in logged.reply_text
    seen = row(runtime.engine, Subscriber, Subscriber.openid == "oPg")
    assert seen.last_message_at is not None and seen.pending_replies == 0


def test_a_dialog_this_process_did_not_see_still_gets_the_dialogs_answer(pg_client, account):
    client, runtime = pg_client
    assert ask(client, account, "退出", 601).startswith("您想了解的是哪一项？")
    webhook._dialog_hints._until.clear()  # as if the choice came to another worker
    picked = ask(client, account, "1", 602)
    assert "/p/" in picked and not picked.startswith("您想了解")
    logged = row(runtime.engine, InboundMessage, InboundMessage.msg_key == "m:602")
    assert logged.status == "answered" and logged.reply_text.splitlines()[0] in picked


def test_a_stale_hint_of_a_dialog_costs_nothing_but_the_shortcut(pg_client, account,
                                                                  statements):
    from bot.services.dialogs import Dialog

    client, runtime = pg_client
    msg = Incoming("default", "oPg", "text", "x", "x")
    webhook._dialog_hints.note(msg, Dialog("choose", {}, T0.replace(year=2100)))
    assert "332" in ask(client, account, "2018年网站发布了多少条扶贫信息", 701)
    assert not webhook._dialog_hints.running(msg)  # the claim showed no dialog
    statements.clear()
    assert "332" in ask(client, account, "2018年网站发布了多少条扶贫信息", 702)
    assert statements == ["WITH autocommit"]


def test_a_whole_intake_and_a_question_after_it(pg_client, account):
    client, runtime = pg_client
    for n, text in enumerate(["留言", "1", "村里的道路硬化工程停工半年了", "提交", "跳过"]):
        assert ask(client, account, text, 801 + n, openid="oIntake")
    done = ask(client, account, "确认", 810, openid="oIntake")
    assert "已受理" in done
    assert "332" in ask(client, account, "2018年网站发布了多少条扶贫信息", 811, openid="oIntake")
    with runtime.engine.connect() as conn:
        states = conn.execute(select(InboundMessage.status)).scalars().all()
    assert states == ["answered"] * 7


def test_choices_and_the_pick_cost_two_statements_each(pg_client, account, statements):
    client, runtime = pg_client
    assert ask(client, account, "退出", 901).startswith("您想了解的是哪一项？")
    # claimed (a dialog change is not stored with the claim), then the reply with the choices
    assert statements == ["WITH autocommit", "WITH autocommit"]
    statements.clear()
    assert "/p/" in ask(client, account, "1", 902)
    # the hint skips the answer from memory; the claim with the dialog, the reply and its end
    assert statements == ["WITH autocommit", "WITH autocommit"]
    with runtime.engine.connect() as conn:
        assert conn.execute(select(Subscriber.dialog_until)).scalar() is None
        logged = conn.execute(select(InboundMessage.status, InboundMessage.rule)
                              .order_by(InboundMessage.id)).all()
    assert [status for status, _ in logged] == ["answered", "answered"]
    assert logged[0].rule.startswith("fallback:choose")


def test_a_failed_finish_is_answered_by_a_later_retry(pg_client, account, monkeypatch):
    """A dialog step's reply could not be written (the database went away between the claim
    and the reply): the webhook answers 503; a retry within the reply budget is told the
    first is still being handled, a retry after it takes the message over and answers."""
    client, runtime = pg_client
    ask(client, account, "退出", 951)
    original = messages.finish

    def broken(*args, **kwargs):
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(messages, "finish", broken)
    response = client.post(url("/wechat", signed_query(account.token)),
                           data=text_xml("1", openid="oPg", msg_id=952))
    assert response.status_code == 503
    monkeypatch.setattr(messages, "finish", original)
    assert ask(client, account, "1", 952) == ""  # the retry: claimed, not answered
    logged = row(runtime.engine, InboundMessage, InboundMessage.msg_key == "m:952")
    assert (logged.status, logged.retries) == ("processing", 1)
    with runtime.engine.begin() as conn:  # the first handling began long ago
        conn.execute(update(InboundMessage).where(InboundMessage.id == logged.id).values(
            received_at=InboundMessage.received_at - dt.timedelta(seconds=30)))
    assert "/p/" in ask(client, account, "1", 952)  # taken over: the choice is answered
    logged = row(runtime.engine, InboundMessage, InboundMessage.msg_key == "m:952")
    assert (logged.status, logged.retries) == ("answered", 2)

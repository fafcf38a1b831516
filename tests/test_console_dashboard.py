"""The dashboard: figures from real cases and real messages, drawn as inert SVG charts."""

from __future__ import annotations

import datetime as dt
import itertools

from bot.services import case_flow as flow
from bot.services import cases as case_service
from bot.services import content as content_service
from bot.services import delivery, stats
from bot.services import staff as staff_service
from content.schema import load_catalog
from tests.test_console_access import PASSWORD, login
from tests.wechat import signed_query, text_xml, url

_ids = itertools.count(50_000)
NOW = dt.datetime(2026, 11, 25, 10, 0)


def ask(client, account, text):
    client.post(url("/wechat", signed_query(account.token)),
                data=text_xml(text, openid="oDash", msg_id=next(_ids)))


def test_figures_from_cases_and_questions(client, runtime, account):
    with runtime.sessionmaker.begin() as session:
        content_service.load(session, load_catalog().items)
    for text in ("2018年网站发布了多少条扶贫信息", "2018年网站发布了多少条扶贫信息",
                 "明天昆明天气怎么样"):
        ask(client, account, text)
    with runtime.sessionmaker.begin() as session:
        first, _ = case_service.open_case(session, case_service.Intake(
            "default", "o1", "投诉", "补助没发<script>"), runtime.vault,
            now=NOW - dt.timedelta(days=30))
        second, _ = case_service.open_case(session, case_service.Intake(
            "default", "o2", "咨询", "政策咨询"), runtime.vault, now=NOW - dt.timedelta(hours=5))
        delivery.add_reply(session, second, "答复", "staff:x", now=NOW - dt.timedelta(hours=2))
        case_service.rate(session, second, "满意", now=NOW)
        staff_service.create_user(session, "boss", PASSWORD, "supervisor")
    with runtime.sessionmaker() as session:
        board = stats.dashboard(session, now=NOW)
    assert board.by_class["投诉"] == 1 and board.by_class["咨询"] == 1
    assert board.by_state[flow.CLOSED] == 1 and board.by_state[flow.NEW] == 1
    assert board.overdue_open == 1  # the complaint's 15 working days ran out
    assert board.median_first_reply_hours == 3.0
    assert board.satisfaction == 1.0 and board.ratings["满意"] == 1
    assert sum(board.by_month.values()) == 2 and len(board.by_month) == 12
    with runtime.sessionmaker() as session:
        live = stats.dashboard(session)  # the questions were asked just now
    assert live.top_questions[0] == ("2018年网站发布了多少条扶贫信息", 2)
    assert live.unanswered == [("明天昆明天气怎么样", 1)]
    login(client, "boss")
    page = client.get("/console/dashboard").get_data(as_text=True)
    assert page.count("<svg") == 4 and "明天昆明天气怎么样" in page and "<script>" not in page

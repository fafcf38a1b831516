"""Answers from the knowledge base, through the webhook: questions, choices, menu taps."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from sqlalchemy import select

from bot.models import DialogState
from bot.services import content as content_service
from bot.wechat.parse import parse_xml
from content.schema import load_catalog
from content.schema_menu import click_keys
from handlers.answers import NO_CHOICE_TEXT, NONE_TEXT
from tests.wechat import event_xml, signed_query, text_xml, url

ON_BOTH_DATABASES = True  # tests/conftest.py: each test on SQLite and PostgreSQL

_ids = itertools.count(1)
CATALOG = load_catalog()


@pytest.fixture
def loaded(runtime):
    with runtime.sessionmaker.begin() as session:
        content_service.load(session, CATALOG.items)
    return runtime


def ask(client, account, text: str, openid: str = "oAsker", **fields) -> str:
    body = text_xml(text, openid=openid, msg_id=next(_ids))
    if fields:
        extra = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
        body = body.replace("</xml>", extra + "</xml>")
    response = client.post(url("/wechat", signed_query(account.token)), data=body)
    assert response.status_code == 200
    return parse_xml(response.data)["Content"]


def tap(client, account, key: str, openid: str = "oAsker") -> str:
    response = client.post(url("/wechat", signed_query(account.token)),
                           data=event_xml("CLICK", openid=openid, key=key,
                                          create_time=1700000000 + next(_ids)))
    return parse_xml(response.data)["Content"]


def dialog_of(runtime, openid: str = "oAsker"):
    with runtime.sessionmaker() as session:
        return session.scalars(select(DialogState).where(DialogState.openid == openid)).first()


def test_a_figure_is_answered_with_its_sentence_source_and_page(client, account, loaded):
    reply = ask(client, account, "请问2018年省扶贫办网站发布了多少条扶贫信息？")
    assert "332" in reply and "来源：" in reply and "年度报告" in reply
    assert "/p/report-2018-key-areas" in reply


def test_spoken_traditional_and_numerals_in_words_find_the_same_fact(client, account, loaded):
    reply = ask(client, account, "二〇一八年網站發布咗幾多條扶貧信息")
    assert "332" in reply


def test_a_close_call_offers_numbered_tappable_choices_and_a_number_picks(
        client, account, loaded):
    reply = ask(client, account, "退出")
    assert reply.startswith("您想了解的是哪一项？")
    assert reply.count("weixin://bizmsgmenu?msgmenucontent=") >= 2
    assert "msgmenuid=1" in reply and "msgmenuid=2" in reply
    state = dialog_of(loaded)
    assert state is not None and state.kind == "choose" and len(state.data["options"]) >= 2
    first = state.data["options"][0]
    picked = ask(client, account, "1")
    assert f"/p/{first.split('#')[0]}" in picked
    assert dialog_of(loaded) is None  # a choice is made once
    assert ask(client, account, "1") == NO_CHOICE_TEXT  # "1" alone means nothing now


def test_tapping_a_choice_link_sends_its_menu_id(client, account, loaded):
    ask(client, account, "退出", openid="oTapper")
    second = dialog_of(loaded, "oTapper").data["options"][1]
    reply = ask(client, account, "随便什么文字", openid="oTapper", bizmsgmenuid="2")
    assert f"/p/{second.split('#')[0]}" in reply


def test_choices_are_per_subscriber_and_expire(client, account, loaded):
    ask(client, account, "退出", openid="oFirst")
    assert ask(client, account, "1", openid="oSecond") == NO_CHOICE_TEXT
    with loaded.sessionmaker.begin() as session:
        state = session.scalars(select(DialogState)).one()
        state.expires_at = state.expires_at.replace(year=2000)
    assert ask(client, account, "1", openid="oFirst") == NO_CHOICE_TEXT


def test_out_of_range_choice_says_which_numbers(client, account, loaded):
    ask(client, account, "退出")
    options = len(dialog_of(loaded).data["options"])
    assert f"1 到 {options}" in ask(client, account, "9")
    assert dialog_of(loaded) is not None  # still waiting for a valid number


def test_a_new_question_replaces_the_choices(client, account, loaded):
    ask(client, account, "退出")
    assert "332" in ask(client, account, "2018年网站发布了多少条扶贫信息")
    assert dialog_of(loaded) is None


def test_a_year_the_content_does_not_have_is_never_answered_with_another_years_figure(
        client, account, loaded):
    reply = ask(client, account, "2019年网站发布了多少条信息")
    assert "2019年" in reply and "332" not in reply and "留言" in reply


def test_nothing_good_says_so_and_offers_the_ways_on(client, account, loaded):
    reply = ask(client, account, "明天昆明天气怎么样")
    assert reply == NONE_TEXT
    assert "菜单" in reply and "帮助" in reply and "留言" in reply


def test_menu_keys_answer_from_the_content(client, account, loaded):
    for key in ("MENU_POLICY", "MENU_CRITERIA", "MENU_REPORT", "MENU_FAQ"):
        item = next(i for i in CATALOG.items if i.menu_key == key)
        assert f"/p/{item.slug}" in tap(client, account, key), key
    assert "帮助" in tap(client, account, "HELP") or "可以这样使用" in tap(client, account, "HELP")
    assert "完善中" in tap(client, account, "NO_SUCH_KEY")


def test_every_menu_click_key_has_an_answer(client, account, loaded):
    for key in click_keys(CATALOG.menu):
        if key in ("LEAVE_MESSAGE", "MY_CASES"):
            continue  # the case dialog's (handlers/cases.py)
        assert "完善中" not in tap(client, account, key), key


def test_long_answers_are_cut_with_the_link_kept(client, account, loaded, runtime):
    long_item = dataclasses.replace(CATALOG.items[0], slug="a-long-one", title="很长的一条",
                                    summary="扶贫" * 1500, keywords=("很长的一条",),
                                    menu_key="", questions=())
    with runtime.sessionmaker.begin() as session:
        content_service.load(session, [*CATALOG.items, long_item])
    loaded.knowledge.refresh(force=True)
    reply = ask(client, account, "很长的一条")
    assert len(reply.encode()) <= 2048 and reply.endswith("/p/a-long-one")
    assert "…" in reply


def test_a_content_change_is_answered_after_the_next_check(client, account, loaded, runtime):
    assert "332" in ask(client, account, "2018年网站发布了多少条扶贫信息")
    items = [dataclasses.replace(i, facts=tuple(
        dataclasses.replace(f, value="333条") if f.id == "website-items" else f
        for f in i.facts)) for i in CATALOG.items]
    with runtime.sessionmaker.begin() as session:
        content_service.load(session, items)
    loaded.knowledge._check_every = 0  # as if the check interval had passed
    assert "333条" in ask(client, account, "2018年网站发布了多少条扶贫信息")


def test_the_log_keeps_the_search_outcome_and_the_metrics_the_rule(client, account, loaded):
    from bot.models import InboundMessage

    ask(client, account, "明天昆明天气怎么样", openid="oMetrics")
    ask(client, account, "2018年网站发布了多少条扶贫信息", openid="oMetrics")
    with loaded.sessionmaker() as session:
        rules = [m.rule for m in session.scalars(select(InboundMessage)
                                                 .order_by(InboundMessage.id))]
    assert rules == ["fallback:none", "fallback:answer"]
    assert loaded.metrics.value("handled", rule="fallback") == 2

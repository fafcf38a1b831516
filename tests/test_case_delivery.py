"""Staff replies reach the subscriber: inside the window at once, otherwise at their next
message (and by a template notice where allowed); 45015/45047 keep the reply waiting, other
refusals mark it failed; a delivered reply asks for a rating. Against the fake WeChat API
over real HTTP."""

from __future__ import annotations

import datetime as dt
import re
import time

import requests
from sqlalchemy import select, update

from bot.models import Case, CaseMessage, Subscriber
from bot.services import case_flow as flow
from bot.services import delivery
from bot.simulator.client import SubscriberClient

ON_BOTH_DATABASES = True  # tests/conftest.py: each test on SQLite and PostgreSQL

NUMBER = re.compile(r"编号 (\d{8}-\d{4})")


def open_case(live, account, openid="oDeliver") -> tuple[SubscriberClient, str]:
    phone = SubscriberClient(live.url, account, openid)
    phone.say("咨询：脱贫户的孩子上学有什么补助")
    return phone, NUMBER.search(phone.say("确认").text).group(1)


def staff_reply(runtime, number: str, text: str = "可以申请雨露计划补助。") -> int:
    with runtime.sessionmaker.begin() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        return delivery.add_reply(session, case, text, "staff:张").id


def sent_texts(live, openid: str) -> list[str]:
    calls = requests.get(f"{live.url}/sim/api/_calls", params={"touser": openid},
                         timeout=5).json()
    return [c["body"]["text"]["content"] for c in calls
            if c["path"] == "message/custom/send" and c["errcode"] == 0]


def message(runtime, message_id: int) -> CaseMessage:
    with runtime.sessionmaker() as session:
        return session.get(CaseMessage, message_id)


def close_window(runtime, openid: str, **values) -> None:
    values = values or {"last_message_at": dt.datetime(2020, 1, 1),
                        "last_event_at": dt.datetime(2020, 1, 1)}
    with runtime.sessionmaker.begin() as session:
        session.execute(update(Subscriber).where(Subscriber.openid == openid).values(**values))


def pending_of(runtime, openid: str) -> int:
    with runtime.sessionmaker() as session:
        return session.scalars(select(Subscriber.pending_replies)
                               .where(Subscriber.openid == openid)).one()


def test_inside_the_window_the_reply_goes_at_once_and_asks_for_a_rating(live, runtime, account):
    phone, number = open_case(live, account)
    message_id = staff_reply(runtime, number)
    outcome = delivery.deliver(runtime, message_id)
    assert outcome.delivery == "sent"
    texts = sent_texts(live, "oDeliver")
    assert any(number in t and "雨露计划" in t for t in texts)
    assert any("请对编号" in t and "非常满意" in t for t in texts)
    assert message(runtime, message_id).delivered_at is not None
    assert delivery.deliver(runtime, message_id).delivery == "sent"  # never twice
    assert len([t for t in sent_texts(live, "oDeliver") if "雨露计划" in t]) == 1
    assert "谢谢您的评价" in phone.say("1").text
    with runtime.sessionmaker() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
    assert case.state == flow.CLOSED and case.rating == "非常满意"


def test_outside_the_window_the_reply_waits_for_the_next_message(live, runtime, account):
    phone, number = open_case(live, account, "oLater")
    close_window(runtime, "oLater")
    message_id = staff_reply(runtime, number)
    outcome = delivery.deliver(runtime, message_id)
    assert outcome.delivery == "pending" and "45015" in outcome.error
    assert pending_of(runtime, "oLater") == 1
    assert not [t for t in sent_texts(live, "oLater") if "雨露计划" in t]
    phone.say("你好")  # the window opens: the webhook delivers what waited
    deadline = time.time() + 5
    while message(runtime, message_id).delivery != "sent" and time.time() < deadline:
        time.sleep(0.05)
    assert message(runtime, message_id).delivery == "sent"
    assert [t for t in sent_texts(live, "oLater") if "雨露计划" in t]
    assert pending_of(runtime, "oLater") == 0


def test_a_used_up_quota_also_waits(live, runtime, account):
    _, number = open_case(live, account, "oQuota")
    close_window(runtime, "oQuota", message_window_sent=5)
    outcome = delivery.deliver(runtime, staff_reply(runtime, number))
    assert outcome.delivery == "pending" and "45047" in outcome.error


def test_wechat_refusals_wait_or_fail_by_their_code(live, runtime, account):
    _, number = open_case(live, account, "oFault")
    for errcode, expected in ((45015, "pending"), (40003, "failed")):
        requests.post(f"{live.url}/sim/api/_faults", timeout=5, json={
            "path": "message/custom/send", "errcode": errcode, "count": 1})
        outcome = delivery.deliver(runtime, staff_reply(runtime, number, f"答复{errcode}"))
        assert outcome.delivery == expected and str(errcode) in outcome.error


def test_a_service_account_with_a_template_also_gets_one_notice(live, runtime, account):
    import dataclasses

    templated = dataclasses.replace(account, type="service", case_template="TPL_CASE_REPLY")
    runtime.settings = runtime.settings.with_overrides(accounts=(templated,))
    runtime._apis.clear()
    _, number = open_case(live, templated, "oTemplate")
    close_window(runtime, "oTemplate")
    message_id = staff_reply(runtime, number)
    delivery.deliver(runtime, message_id)
    delivery.deliver_pending(runtime, "default", "oTemplate")  # still closed: no second notice
    calls = requests.get(f"{live.url}/sim/api/_calls", params={"touser": "oTemplate"},
                         timeout=5).json()
    notices = [c for c in calls if c["path"] == "message/template/send" and c["errcode"] == 0]
    assert len(notices) == 1 and notices[0]["body"]["data"]["keyword1"]["value"] == number
    assert message(runtime, message_id).notified_at is not None


def test_a_reply_needs_text_and_a_second_reply_is_a_follow_up(live, runtime, account):
    import pytest

    _, number = open_case(live, account, "oTwice")
    with runtime.sessionmaker.begin() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        with pytest.raises(ValueError):
            delivery.add_reply(session, case, "  ", "staff:张")
        delivery.add_reply(session, case, "第一次答复", "staff:张")
        delivery.add_reply(session, case, "补充说明", "staff:张")
        assert case.state == flow.ANSWERED
        withdrawn = session.scalars(select(Case).where(Case.number == number)).one()
    assert withdrawn.first_reply_at is not None


def test_a_notice_is_delivered_without_asking_for_a_rating(live, runtime, account):
    _, number = open_case(live, account, "oNotice")
    with runtime.sessionmaker.begin() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        notice = delivery.add_notice(session, case, "请写明文件名称或文号。", "staff:李").id
    assert delivery.deliver(runtime, notice).delivery == "sent"
    texts = sent_texts(live, "oNotice")
    assert any("关于您的留言" in t and "文号" in t for t in texts)
    assert not any("请对编号" in t for t in texts)


def test_a_reply_whose_answer_timed_out_is_not_sent_twice(live, runtime, account):
    phone, number = open_case(live, account, "oSlowApi")
    runtime.settings = runtime.settings.with_overrides(api_timeout=0.5)
    runtime._apis.clear()
    runtime.api("default").token()  # fetched before the slow call
    requests.post(f"{live.url}/sim/api/_faults", json={
        "path": "message/custom/send", "delay": 1.5, "count": 1}, timeout=5).raise_for_status()
    message_id = staff_reply(runtime, number)
    outcome = delivery.deliver(runtime, message_id)
    time.sleep(1.5)  # the fake API finishes the send after our client gave up
    assert outcome.delivery == "failed" and "可能已送达" in outcome.error
    phone.say("收到了吗")  # the next message does not resend it
    assert len([t for t in sent_texts(live, "oSlowApi") if "雨露计划" in t]) == 1
    assert message(runtime, message_id).delivery == "failed"


def test_a_refused_token_keeps_the_reply_waiting_instead_of_failing_it(live, runtime, account):
    phone, number = open_case(live, account, "oTokenTrouble")
    requests.post(f"{live.url}/sim/api/_faults", json={
        "path": "message/custom/send", "errcode": 40001, "count": 2}, timeout=5)
    message_id = staff_reply(runtime, number)
    assert delivery.deliver(runtime, message_id).delivery == "pending"
    phone.say("在吗")  # the next message delivers it
    deadline = time.time() + 5
    while message(runtime, message_id).delivery != "sent" and time.time() < deadline:
        time.sleep(0.1)
    assert message(runtime, message_id).delivery == "sent"


def test_a_reply_left_sending_by_a_dead_process_is_shown_failed_not_resent(live, runtime,
                                                                           account):
    phone, number = open_case(live, account, "oDeadSender")
    message_id = staff_reply(runtime, number)
    long_ago = dt.datetime(2020, 1, 1)
    with runtime.sessionmaker.begin() as session:
        session.execute(update(CaseMessage).where(CaseMessage.id == message_id)
                        .values(delivery="sending", sending_since=long_ago))
        assert delivery.recover_stuck(session) == 1
    row = message(runtime, message_id)
    assert row.delivery == "failed" and "结果未知" in row.delivery_error
    assert delivery.deliver(runtime, message_id).delivery == "failed"
    assert not [t for t in sent_texts(live, "oDeadSender") if "雨露计划" in t]

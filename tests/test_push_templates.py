"""Pushes as template messages (service accounts with a "newly disclosed" template): one call
per recipient, claimed before the call, never twice even across a crash, results from
TEMPLATESENDJOBFINISH; refused where the account may not send them."""

from __future__ import annotations

import dataclasses
import time

import pytest
import requests
from sqlalchemy import select, update

from bot.db import utcnow
from bot.models import Push, PushDelivery, TopicSubscription
from bot.services import content as content_service
from bot.services import push_send
from bot.services import pushes as push_service
from content.schema import load_catalog

SLUG = "criteria-household-standard"


@pytest.fixture
def office(runtime, live):
    accounts = tuple(dataclasses.replace(a, push_template="tmpl-disclosure")
                     for a in runtime.settings.accounts)
    runtime.settings = runtime.settings.with_overrides(accounts=accounts)
    runtime._apis.clear()
    with runtime.sessionmaker.begin() as session:
        content_service.load(session, load_catalog().items)
        for openid in ("oTmpl1", "oTmpl2", "oTmpl3"):
            session.add(TopicSubscription(account="default", openid=openid, topic="criteria",
                                          active=True, tagged=True, created_at=utcnow(),
                                          updated_at=utcnow()))
    return runtime


def template_push(runtime) -> int:
    with runtime.sessionmaker.begin() as session:
        push = push_service.create_push(session, account="default", slugs=[SLUG],
                                        due_at=utcnow(), audience="topic", topic="criteria",
                                        msgtype="template", by="张")
        push_service.approve(session, push.id, "李")
        return push.id


def template_calls(live) -> list[dict]:
    return requests.get(f"{live.url}/sim/api/_calls", params={"path": "message/template/send"},
                        timeout=5).json()


def deliveries(runtime, push_id: int) -> dict[str, str]:
    with runtime.sessionmaker() as session:
        return {row.openid: row.state for row in session.scalars(
            select(PushDelivery).where(PushDelivery.push_id == push_id))}


def test_each_topic_subscriber_gets_one_template_message(office, live):
    push_id = template_push(office)
    [report] = push_send.run_due(office)
    assert report.state == "sent"
    calls = [c for c in template_calls(live) if c["errcode"] == 0]
    assert sorted(c["body"]["touser"] for c in calls) == ["oTmpl1", "oTmpl2", "oTmpl3"]
    assert calls[0]["body"]["template_id"] == "tmpl-disclosure"
    assert calls[0]["body"]["url"].endswith(f"/p/{SLUG}")
    with office.sessionmaker() as session:
        push = session.get(Push, push_id)
    assert (push.total_count, push.sent_count, push.error_count) == (3, 3, 0)
    assert set(deliveries(office, push_id).values()) == {"sent"}


def test_a_recipient_caught_in_a_crash_is_never_sent_twice(office, live):
    push_id = template_push(office)
    push_send.run_due(office)
    first = len(template_calls(live))
    with office.sessionmaker.begin() as session:  # as if the process died mid-send
        session.execute(update(PushDelivery).where(PushDelivery.openid == "oTmpl2")
                        .values(state="sending"))
        session.execute(update(PushDelivery).where(PushDelivery.openid == "oTmpl3")
                        .values(state="pending"))
        session.execute(update(Push).where(Push.id == push_id).values(
            state="sending", lease_until=utcnow()))
    [report] = push_send.run_due(office)
    assert report.state == "sent" and "1 人发送中断" in report.note
    assert deliveries(office, push_id) == {"oTmpl1": "sent", "oTmpl2": "unknown",
                                           "oTmpl3": "sent"}
    assert len(template_calls(live)) == first + 1  # only the one still pending


def test_a_refused_recipient_fails_alone_and_the_report_arrives(office, live):
    requests.post(f"{live.url}/sim/api/_faults", json={
        "path": "message/template/send", "errcode": 43004, "count": 1}, timeout=5)
    push_id = template_push(office)
    push_send.run_due(office)
    states = sorted(deliveries(office, push_id).values())
    assert states == ["failed", "sent", "sent"]
    deadline = time.time() + 5  # TEMPLATESENDJOBFINISH reaches the webhook
    while time.time() < deadline:
        with office.sessionmaker() as session:
            row = session.scalars(select(PushDelivery).where(
                PushDelivery.push_id == push_id, PushDelivery.state == "sent")).first()
        if row is not None and row.msgid:
            break
        time.sleep(0.1)
    assert row.msgid


def test_accounts_that_may_not_send_templates_fail_the_push_with_the_reason(runtime, live):
    with runtime.sessionmaker.begin() as session:
        content_service.load(session, load_catalog().items)
    push_id = template_push(runtime)  # no push_template configured
    [report] = push_send.run_due(runtime)
    with runtime.sessionmaker() as session:
        push = session.get(Push, push_id)
    assert report.state == "failed" and push.state == "failed" and "模板" in push.note
    assert template_calls(live) == []


def test_the_daily_template_quota_defers_the_rest(office, live):
    requests.post(f"{live.url}/sim/api/_faults", json={
        "path": "message/template/send", "errcode": 45009, "count": 1}, timeout=5)
    push_id = template_push(office)
    [report] = push_send.run_due(office)
    with office.sessionmaker() as session:
        push = session.get(Push, push_id)
    assert report.state == "deferred" and push.state == "approved" and "额度" in push.note
    assert set(deliveries(office, push_id).values()) == {"pending"}


def test_preview_of_a_template_push_goes_to_the_staff_member(office, live):
    push_id = template_push(office)
    assert push_send.preview(office, push_id, "oStaffMember") == ""
    [call] = template_calls(live)
    assert call["body"]["touser"] == "oStaffMember"

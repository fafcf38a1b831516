"""A push as template messages: one call per recipient (service accounts with a "newly
disclosed" template), for when a broadcast's quota is spent or staff want the notice to
reach only a topic's subscribers as a notification.

WeChat's template API has no dedupe key, so each recipient is a row claimed before its call
(pending → sending → sent | failed). A process that dies between a call and its record leaves
the row `sending`; whoever takes the push over marks such rows `unknown` and never calls for
them again: at most once per recipient, and staff see how many are unknown.
https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Template_Message_Interface.html
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.models import Push, PushDelivery, Subscriber, TopicSubscription
from bot.services.upsert import insert_for

DAILY_QUOTA = 45009  # the account's template messages for today are used up
BATCH = 200


@dataclass(frozen=True)
class Outcome:
    counts: Counter
    stopped: str = ""  # why sending stopped early (the quota), else ""


def recipients(session: Session, account: str, topic: str) -> list[str]:
    """A topic's subscribers, or every follower when `topic` is empty."""
    if topic:
        query = select(TopicSubscription.openid).where(
            TopicSubscription.account == account, TopicSubscription.topic == topic,
            TopicSubscription.active.is_(True))
    else:
        query = select(Subscriber.openid).where(Subscriber.account == account,
                                                Subscriber.subscribed.is_(True))
    return list(session.scalars(query.order_by(query.selected_columns[0])))


def enlist(session: Session, push_id: int, openids: list[str]) -> None:
    """The push's recipients, fixed the first time it is sent."""
    if not openids or session.scalar(select(func.count()).select_from(PushDelivery)
                                     .where(PushDelivery.push_id == push_id)):
        return
    table, now = PushDelivery.__table__, utcnow()
    for start in range(0, len(openids), 1000):
        rows = [{"push_id": push_id, "openid": openid, "state": "pending", "msgid": "",
                 "error": "", "updated_at": now} for openid in openids[start:start + 1000]]
        session.execute(insert_for(session, table).values(rows).on_conflict_do_nothing())


def deliver(runtime, api, push_id: int, template_id: str, data: dict, url: str,
            lease: dt.timedelta) -> Outcome:
    """Send to every pending recipient; rows left `sending` by a dead process become
    `unknown` first."""
    with runtime.sessionmaker.begin() as session:
        session.execute(update(PushDelivery).where(PushDelivery.push_id == push_id,
                                                   PushDelivery.state == "sending")
                        .values(state="unknown", updated_at=utcnow(),
                                error="发送中断，微信可能已送达，未重发"))
    while True:
        with runtime.sessionmaker() as session:
            batch = list(session.execute(select(PushDelivery.id, PushDelivery.openid).where(
                PushDelivery.push_id == push_id, PushDelivery.state == "pending")
                .order_by(PushDelivery.id).limit(BATCH)))
        if not batch:
            return Outcome(counts(runtime, push_id))
        _renew(runtime, push_id, lease)
        for row_id, openid in batch:
            if not _claim(runtime, row_id):
                continue
            result = api.send_template(openid, template_id, data, url)
            _record(runtime, row_id, result)
            if result.errcode == DAILY_QUOTA:
                return Outcome(counts(runtime, push_id), "今日模板消息额度已用完")


def _claim(runtime, row_id: int) -> bool:
    with runtime.sessionmaker.begin() as session:
        return bool(session.execute(
            update(PushDelivery).where(PushDelivery.id == row_id,
                                       PushDelivery.state == "pending")
            .values(state="sending", updated_at=utcnow())).rowcount)


def _record(runtime, row_id: int, result) -> None:
    if result.errcode == DAILY_QUOTA:  # not sent: it waits for tomorrow's quota
        values = {"state": "pending", "error": ""}
    elif result.ok:
        values = {"state": "sent", "msgid": result.msgid, "error": ""}
    else:
        values = {"state": "failed", "error": f"{result.errcode}: {result.error}"[:500]}
    with runtime.sessionmaker.begin() as session:
        session.execute(update(PushDelivery).where(PushDelivery.id == row_id)
                        .values(updated_at=utcnow(), **values))


def _renew(runtime, push_id: int, lease: dt.timedelta) -> None:
    with runtime.sessionmaker.begin() as session:
        session.execute(update(Push).where(Push.id == push_id, Push.state == "sending")
                        .values(lease_until=utcnow() + lease))


def counts(runtime, push_id: int) -> Counter:
    with runtime.sessionmaker() as session:
        return Counter(dict(session.execute(
            select(PushDelivery.state, func.count()).where(PushDelivery.push_id == push_id)
            .group_by(PushDelivery.state)).all()))


def record_result(session: Session, msgid: str, status: str) -> PushDelivery | None:
    """TEMPLATESENDJOBFINISH: "success", "failed:user block", "failed: system failed"."""
    row = session.scalar(select(PushDelivery).where(PushDelivery.msgid == str(msgid)))
    if row is None:
        return None
    if status.strip().lower() != "success":
        row.state, row.error = "failed", status[:500]
    row.updated_at = utcnow()
    return row

"""Staff replies to cases, and getting them to the subscriber.

A reply is a CaseMessage (direction "out") whose `delivery` moves pending → sending → sent,
or back to pending while WeChat's 48-hour window is closed or its 5-message quota used up
(45015/45047; the reason is kept in `delivery_error`), or to failed on any other refusal.
A reply still pending is delivered when the subscriber next writes: the webhook's subscriber
upsert returns `subscribers.pending_replies` and the webhook calls `deliver_pending` on the
handler pool. Where the account may send template messages and has a case template, a
pending reply also gets one template notice ("您的留言有了答复，回复任意消息查看"), its
time kept in `notified_at`.

After a reply is delivered, the subscriber is asked to rate it (a "rate" dialog).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.models import Case, CaseMessage, Subscriber
from bot.services import case_flow as flow
from bot.services import cases as case_service
from bot.services import dialogs

log = logging.getLogger("hotline.delivery")
WINDOW_CLOSED = (45015, 45047)
UNANSWERED = -2  # bot.wechat.api.UNANSWERED (services do not import the WeChat side)
TRANSIENT = (-1, 40001, 40014, 42001)  # not reached, or the token was refused after a refresh
RECORD_TRIES = 5
STUCK_AFTER = dt.timedelta(minutes=10)
RATE_TTL = dt.timedelta(days=7)
PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"


@dataclass(frozen=True)
class Outcome:
    message_id: int
    delivery: str  # sent | pending | failed
    error: str = ""


def add_reply(session: Session, case: Case, text: str, actor: str, *,
              now: dt.datetime | None = None) -> CaseMessage:
    """Answer `case` (accepting it first when nobody has): it becomes 已答复, or a follow-up
    when it already was; the reply waits for delivery (call `deliver` after committing)."""
    now = now or utcnow()
    text = text.strip()
    if not text:
        raise ValueError("答复内容为空")
    if case.state == flow.NEW:
        case_service.apply(session, case, "accept", actor, now=now)
    action = "follow_up" if case.state == flow.ANSWERED else "reply"
    case_service.apply(session, case, action, actor, text=text, now=now)
    message = CaseMessage(case_id=case.id, at=now, direction="out", kind="text", content=text,
                          media_id="", author=actor, delivery=PENDING, delivery_error="")
    session.add(message)
    session.flush()
    return message


def add_notice(session: Session, case: Case, text: str, actor: str, *,
               now: dt.datetime | None = None) -> CaseMessage:
    """A message to the subscriber that answers nothing yet (a 补正 notice, an extension):
    no state change; delivered like a reply."""
    text = text.strip()
    if not text:
        raise ValueError("通知内容为空")
    message = CaseMessage(case_id=case.id, at=now or utcnow(), direction="out", kind="notice",
                          content=text, media_id="", author=actor, delivery=PENDING,
                          delivery_error="")
    session.add(message)
    session.flush()
    return message


def reply_text(case: Case, message: CaseMessage) -> str:
    if message.kind == "notice":
        return f"关于您的留言（编号 {case.number}）：\n{message.content}"
    return f"您的留言（编号 {case.number}）有了答复：\n{message.content}"


def deliver(runtime, message_id: int) -> Outcome:
    """Try to send one pending reply now (a customer-service message)."""
    with runtime.sessionmaker.begin() as session:
        claimed = session.execute(
            update(CaseMessage).where(CaseMessage.id == message_id,
                                      CaseMessage.delivery == PENDING)
            .values(delivery=SENDING, sending_since=utcnow())).rowcount
        message = session.get(CaseMessage, message_id)
        if not claimed or message is None:  # sent already, or another process is sending it
            return Outcome(message_id, message.delivery if message else FAILED)
        case = session.get(Case, message.case_id)
        text, account, openid = reply_text(case, message), case.account, case.openid
        number = case.number
        ask_rating = (message.kind != "notice" and case.state == flow.ANSWERED
                      and case.rated_at is None)
    try:
        result = runtime.api(account).send_text(openid, text)
        ok, errcode, error = result.ok, result.errcode, result.error
    except Exception as exc:  # noqa: BLE001 - the reply must not be lost: back to pending
        log.exception("reply %s not sent", message_id)
        ok, errcode, error = False, -1, repr(exc)
    # -1 (WeChat not reached) and refused credentials: try again later; -2: it may have
    # delivered the reply before the answer timed out, so it is not sent again (staff see why)
    waiting = not ok and (errcode in WINDOW_CLOSED or errcode in TRANSIENT)
    state = SENT if ok else PENDING if waiting else FAILED
    if errcode == UNANSWERED:
        error = "微信未在时限内回复，答复可能已送达，为免重复未自动重发，请核实"
    _record(runtime, message_id, account, openid, state,
            "" if ok else f"{errcode}: {error}"[:500])
    if state == PENDING:
        _notify_by_template(runtime, message_id, account, openid, number)
    if ok and ask_rating:
        _ask_rating(runtime, account, openid, number)
    return Outcome(message_id, state, "" if ok else f"{errcode}: {error}")


def _record(runtime, message_id: int, account: str, openid: str, state: str,
            error: str) -> None:
    """Write how the send went; the database may be briefly away (a restart): try a few
    times, since a reply left `sending` is never sent again (see `recover_stuck`)."""
    for attempt in range(RECORD_TRIES):
        try:
            with runtime.sessionmaker.begin() as session:
                message = session.get(CaseMessage, message_id)
                message.delivery, message.delivery_error = state, error
                message.delivered_at = utcnow() if state == SENT else None
                _count_pending(session, account, openid)
            return
        except OperationalError:
            if attempt == RECORD_TRIES - 1:
                raise
            log.warning("reply %s: recording its delivery failed, retrying", message_id)
            time.sleep(2 ** attempt * 0.5)


def recover_stuck(session: Session, *, now: dt.datetime | None = None) -> int:
    """Replies left `sending` by a process that died between the send and its record: WeChat
    may have delivered them, so they are not sent again; staff see them as failed, why,
    and may resend. Run by the scheduler with the case jobs."""
    cutoff = (now or utcnow()) - STUCK_AFTER
    return session.execute(
        update(CaseMessage).where(CaseMessage.delivery == SENDING,
                                  CaseMessage.sending_since < cutoff)
        .values(delivery=FAILED, delivery_error="发送中断，结果未知（微信可能已送达），"
                                                "为免重复未自动重发，请核实")).rowcount


def deliver_pending(runtime, account: str, openid: str) -> list[Outcome]:
    """Send every reply that waits for this subscriber (called when they write again)."""
    with runtime.sessionmaker() as session:
        ids = list(session.scalars(
            select(CaseMessage.id).join(Case, Case.id == CaseMessage.case_id)
            .where(Case.account == account, Case.openid == openid,
                   CaseMessage.direction == "out", CaseMessage.delivery == PENDING)
            .order_by(CaseMessage.id)))
    outcomes = [deliver(runtime, message_id) for message_id in ids]
    if not ids:
        with runtime.sessionmaker.begin() as session:
            _count_pending(session, account, openid)
    return outcomes


def _count_pending(session: Session, account: str, openid: str) -> None:
    count = session.scalar(
        select(func.count()).select_from(CaseMessage).join(Case, Case.id == CaseMessage.case_id)
        .where(Case.account == account, Case.openid == openid, CaseMessage.direction == "out",
               CaseMessage.delivery == PENDING))
    session.execute(update(Subscriber).where(Subscriber.account == account,
                                             Subscriber.openid == openid)
                    .values(pending_replies=count))


def _notify_by_template(runtime, message_id: int, account_name: str, openid: str,
                        number: str) -> None:
    """One template notice per waiting reply, where the account may send them (the HTTP
    call is made outside any transaction; the note is kept with the reply)."""
    account = runtime.settings.account(account_name)
    if account is None or not account.can_send_templates or not account.case_template:
        return
    with runtime.sessionmaker() as session:
        if session.get(CaseMessage, message_id).notified_at is not None:
            return
    result = runtime.api(account_name).send_template(openid, account.case_template, {
        "first": {"value": "您的留言有了答复"},
        "keyword1": {"value": number},
        "keyword2": {"value": "已答复"},
        "remark": {"value": "回复任意消息即可在对话中查看答复内容。"},
    })
    with runtime.sessionmaker.begin() as session:
        message = session.get(CaseMessage, message_id)
        if result.ok:
            message.notified_at = utcnow()
        else:
            message.delivery_error = f"{message.delivery_error}；模板消息未发出 " \
                                     f"{result.errcode}"[:500]


def rating_prompt(number: str) -> str:
    lines = [f"{n}. {name}" for n, name in enumerate(flow.RATINGS, start=1)]
    return f"请对编号 {number} 的答复作出评价，回复数字：\n" + "\n".join(lines)


def _ask_rating(runtime, account: str, openid: str, number: str) -> None:
    result = runtime.api(account).send_text(openid, rating_prompt(number))
    if not result.ok:
        return  # no prompt, no dialog: "查询 编号" still shows the reply
    with runtime.engine.begin() as conn:
        dialogs.apply(conn, account, openid, dialogs.Change(dialogs.Dialog(
            "rate", {"case": number}, utcnow() + RATE_TTL)))

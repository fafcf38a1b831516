"""The case engine: open, move through the states of case_flow, rate, find; every change is
a CaseEvent. Functions take a Session first; the caller owns the transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.clock import local_date
from bot.db import utcnow
from bot.models import Case, CaseCounter, CaseEvent, CaseMessage
from bot.services import case_flow as flow
from bot.services.privacy import PersonalData
from bot.services.upsert import insert_for
from bot.services.workdays import add_working_days

DUPLICATE_WINDOW = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Intake:
    """What a subscriber (or staff on their behalf) submits."""

    account: str
    openid: str
    case_class: str
    description: str
    contact_name: str = ""
    contact_phone: str = ""
    confidential: bool = False
    disclosure: Mapping[str, str] = field(default_factory=dict)
    source_key: str | None = None
    images: tuple[str, ...] = ()  # media ids


def content_hash(openid: str, case_class: str, description: str) -> str:
    text = "".join(description.split())
    return hashlib.sha256(f"{openid}\n{case_class}\n{text}".encode()).hexdigest()


def next_number(session: Session, day: dt.date) -> str:
    """The next case number of `day`, unique across processes (an atomic counter row).

    On PostgreSQL it is taken in a transaction of its own, committed at once, on a small
    pool of its own (`_numbering`): every intake of the day updates the one counter row, and
    inside the case's transaction its lock was held to the end of it (24 subscribers
    confirming at once waited seconds in line). A case whose transaction then fails leaves
    its number unused. SQLite writes one transaction at a time anyway (and a second writer
    in this thread would wait for the first): there it is taken in the case's transaction."""
    table = CaseCounter.__table__
    stmt = insert_for(session, table).values(day=day, last=1)
    stmt = stmt.on_conflict_do_update(index_elements=["day"],
                                      set_={"last": table.c.last + 1}).returning(table.c.last)
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return flow.case_number(day, session.execute(stmt).scalar_one())
    with _numbering(bind.engine).begin() as conn:
        return flow.case_number(day, conn.execute(stmt).scalar_one())


_numbering_engines: dict[tuple[int, int], Engine] = {}
_numbering_lock = threading.Lock()


def _numbering(engine: Engine) -> Engine:
    """A small engine for the counter beside `engine`, per process: taking a number never
    waits for the main pool, which the waiting case transactions hold. Disposed with
    `engine`."""
    key = (os.getpid(), id(engine))
    with _numbering_lock:
        found = _numbering_engines.get(key)
        if found is None:
            found = _numbering_engines[key] = create_engine(
                engine.url, pool_size=2, max_overflow=2, pool_pre_ping=True)
            event.listen(engine, "engine_disposed", lambda _: _dispose_numbering(key))
        return found


def _dispose_numbering(key: tuple[int, int]) -> None:
    with _numbering_lock:
        found = _numbering_engines.pop(key, None)
    if found is not None:
        found.dispose(close=key[0] == os.getpid())  # a forked child leaves the parent's


def find_duplicate(session: Session, intake: Intake, now: dt.datetime) -> Case | None:
    if intake.source_key:
        found = session.scalar(select(Case).where(Case.account == intake.account,
                                                  Case.source_key == intake.source_key))
        if found is not None:
            return found
    digest = content_hash(intake.openid, intake.case_class, intake.description)
    return session.scalar(select(Case).where(
        Case.content_hash == digest, Case.received_at >= now - DUPLICATE_WINDOW,
        Case.state.in_(flow.OPEN_STATES)).order_by(Case.id.desc()).limit(1))


def open_case(session: Session, intake: Intake, vault: PersonalData, *,
              now: dt.datetime | None = None,
              deadlines: Mapping[str, int] = flow.DEFAULT_DEADLINES) -> tuple[Case, bool]:
    """The new case (and True), or the existing one when this intake was already made."""
    now = now or utcnow()
    if intake.case_class not in flow.CLASSES:
        raise ValueError(f"unknown case class {intake.case_class!r}")
    if not intake.description.strip():
        raise ValueError("a case needs a description")
    existing = find_duplicate(session, intake, now)
    if existing is not None:
        return existing, False
    today = local_date(now)  # the office's date of receipt
    case = Case(
        number=next_number(session, today), account=intake.account, openid=intake.openid,
        case_class=intake.case_class, state=flow.NEW, description=intake.description.strip(),
        source_key=intake.source_key,
        content_hash=content_hash(intake.openid, intake.case_class, intake.description),
        contact_name_enc=vault.seal(intake.contact_name),
        contact_phone_enc=vault.seal(intake.contact_phone), confidential=intake.confidential,
        disclosure=_sealed_disclosure(intake.disclosure, vault), department="", assignee="",
        received_at=now, deadline=flow.deadline(intake.case_class, today, deadlines),
        rating="", rating_comment="", updated_at=now,
    )
    session.add(case)
    session.flush()
    session.add(CaseMessage(case_id=case.id, at=now, direction="in", kind="text",
                            content=case.description, media_id="", author="subscriber",
                            delivery=""))
    for media_id in intake.images:
        session.add(CaseMessage(case_id=case.id, at=now, direction="in", kind="image",
                                content="", media_id=media_id, author="subscriber",
                                delivery=""))
    record(session, case, "open", "subscriber", flow.NEW, flow.NEW, now=now,
           text=f"{intake.case_class}：{case.number}")
    return case, True


def _sealed_disclosure(fields: Mapping[str, str], vault: PersonalData) -> dict:
    """依申请公开 fields; the ID number is personal data and is stored sealed."""
    data = dict(fields)
    if data.get("id_number"):
        data["id_number"] = vault.seal(data["id_number"])
    return data


def record(session: Session, case: Case, action: str, actor: str, from_state: str,
           to_state: str, *, now: dt.datetime | None = None, text: str = "",
           data: Mapping | None = None) -> CaseEvent:
    event = CaseEvent(case_id=case.id, at=now or utcnow(), actor=actor, action=action,
                      from_state=from_state, to_state=to_state, text=text, data=dict(data or {}))
    session.add(event)
    return event


def apply(session: Session, case: Case, action: str, actor: str, *, text: str = "",
          now: dt.datetime | None = None, data: Mapping | None = None) -> CaseEvent:
    """Move `case` by `action` (raises IllegalTransition) and record the event."""
    now = now or utcnow()
    before = case.state
    case.state = flow.check(action, before)
    case.updated_at = now
    _stamp(case, action, now)
    return record(session, case, action, actor, before, case.state, now=now, text=text,
                  data=data)


def _stamp(case: Case, action: str, now: dt.datetime) -> None:
    if action == "reply":
        case.answered_at = now
        case.first_reply_at = case.first_reply_at or now
        case.overdue = case.overdue or local_date(now) > case.deadline
    elif action == "close":
        case.closed_at = now
    elif action == "reopen":
        case.closed_at = None


def rate(session: Session, case: Case, rating: str, comment: str = "", *,
         now: dt.datetime | None = None) -> bool:
    """Record the subscriber's rating; a bad one reopens the case for supervision (督办).

    Returns True when the case was reopened."""
    if rating not in flow.RATINGS:
        raise ValueError(f"rating must be one of {flow.RATINGS}")
    if case.rated_at is not None:
        raise flow.IllegalTransition("这件留言已经评价过")
    now = now or utcnow()
    apply(session, case, "rate", "subscriber", text=f"{rating} {comment}".strip(), now=now)
    case.rating, case.rating_comment, case.rated_at = rating, comment, now
    if rating in flow.BAD_RATINGS:
        apply(session, case, "reopen", "system", text="评价不满意，转督办", now=now)
        return True
    if case.state == flow.ANSWERED:
        apply(session, case, "close", "system", text="已评价，自动办结", now=now)
    return False


def extend(session: Session, case: Case, days: int, actor: str, reason: str, *,
           now: dt.datetime | None = None) -> dt.date:
    """依申请公开 only, once, by at most 20 working days (条例 Art. 33); the new deadline."""
    if case.case_class != flow.DISCLOSURE:
        raise flow.IllegalTransition("只有依申请公开可以延期")
    if case.extended_days:
        raise flow.IllegalTransition("依申请公开只能延期一次")
    if not reason.strip():
        raise ValueError("延期需要填写理由（将告知申请人）")
    new_deadline = flow.extended_deadline(case.deadline, days)
    apply(session, case, "extend", actor, text=reason.strip(), now=now,
          data={"days": days, "from": case.deadline.isoformat(), "to": new_deadline.isoformat()})
    case.deadline, case.extended_days = new_deadline, days
    return new_deadline


def request_correction(session: Session, case: Case, actor: str, what: str, *,
                       now: dt.datetime | None = None) -> None:
    """依申请公开: one notice to correct an unclear request (条例 Art. 30); the clock stops
    until the applicant answers (`corrected`)."""
    if case.case_class != flow.DISCLOSURE:
        raise flow.IllegalTransition("只有依申请公开可以要求补正")
    if case.correction_requested_at is not None:
        raise flow.IllegalTransition("补正只能要求一次")
    if not what.strip():
        raise ValueError("请写明需要补正的内容")
    now = now or utcnow()
    apply(session, case, "request_correction", actor, text=what.strip(), now=now)
    case.correction_requested_at = now


def corrected(session: Session, case: Case, text: str, *,
              now: dt.datetime | None = None) -> dt.date:
    """The applicant's correction arrived: kept with the case, the 20 working days restart."""
    if case.correction_requested_at is None:
        raise flow.IllegalTransition("这件留言没有要求补正")
    if not text.strip():
        raise ValueError("补正内容为空")
    now = now or utcnow()
    new_deadline = flow.restarted_deadline(local_date(now))
    apply(session, case, "corrected", "subscriber", text=text.strip(), now=now,
          data={"to": new_deadline.isoformat()})
    session.add(CaseMessage(case_id=case.id, at=now, direction="in", kind="text",
                            content=text.strip(), media_id="", author="subscriber",
                            delivery=""))
    case.deadline = new_deadline
    return new_deadline


def comment_rating(session: Session, case: Case, comment: str, *,
                   now: dt.datetime | None = None) -> None:
    """The subscriber's words after rating, kept with the rating and in the history."""
    if case.rated_at is None:
        raise flow.IllegalTransition("先评价，再写评价意见")
    case.rating_comment = comment
    record(session, case, "rating_comment", "subscriber", case.state, case.state, now=now,
           text=comment)


def find_own(session: Session, account: str, openid: str, number: str) -> Case | None:
    """A case by number, only when it is this subscriber's own."""
    return session.scalar(select(Case).where(Case.number == number.strip(),
                                             Case.account == account, Case.openid == openid))


def cases_of(session: Session, account: str, openid: str, limit: int = 5) -> list[Case]:
    return list(session.scalars(select(Case).where(Case.account == account,
                                                   Case.openid == openid)
                                .order_by(Case.received_at.desc(), Case.id.desc()).limit(limit)))


def history(session: Session, case: Case) -> list[CaseEvent]:
    return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                .order_by(CaseEvent.id)))


def replies(session: Session, case: Case) -> list[CaseMessage]:
    return list(session.scalars(select(CaseMessage).where(CaseMessage.case_id == case.id,
                                                          CaseMessage.direction == "out")
                                .order_by(CaseMessage.id)))


# -- jobs for the scheduler (bot/scheduler runs them; each is safe to run again) --------
REMIND_WORKING_DAYS = 1  # remind this many working days before the deadline


@dataclass(frozen=True)
class JobReport:
    reminded: tuple[str, ...] = ()
    overdue: tuple[str, ...] = ()


def remind_due(session: Session, *, now: dt.datetime | None = None,
               working_days: int = REMIND_WORKING_DAYS) -> tuple[str, ...]:
    """催办: an open case whose deadline is within `working_days` working days gets one
    reminder (a "remind" event and `reminded_at`); the numbers reminded."""
    now = now or utcnow()
    today = local_date(now)
    horizon = add_working_days(today, working_days)
    due = session.scalars(select(Case).where(
        Case.state.in_(flow.OPEN_STATES), Case.deadline <= horizon, Case.deadline >= today,
        Case.reminded_at.is_(None)).order_by(Case.deadline, Case.id).with_for_update(
        skip_locked=True))
    reminded = []
    for case in due:
        apply(session, case, "remind", "system", now=now,
              text=f"将于{case.deadline:%Y年%m月%d日}到期")
        case.reminded_at = now
        reminded.append(case.number)
    return tuple(reminded)


def mark_overdue(session: Session, *, now: dt.datetime | None = None) -> tuple[str, ...]:
    """An open case past its deadline is marked overdue once (an event and `overdue`); the
    numbers marked. Supervisors see them first (the console's 超期 filter)."""
    now = now or utcnow()
    late = session.scalars(select(Case).where(
        Case.state.in_(flow.OPEN_STATES), Case.deadline < local_date(now),
        Case.overdue.is_(False)).order_by(Case.deadline, Case.id).with_for_update(
        skip_locked=True))
    marked = []
    for case in late:
        apply(session, case, "mark_overdue", "system", now=now,
              text=f"已超过答复期限{case.deadline:%Y年%m月%d日}")
        case.overdue = True
        marked.append(case.number)
    return tuple(marked)


def run_case_jobs(sessionmaker, *, now: dt.datetime | None = None) -> JobReport:
    """Both jobs, each in its own transaction (what the scheduler calls)."""
    with sessionmaker.begin() as session:
        reminded = remind_due(session, now=now)
    with sessionmaker.begin() as session:
        overdue = mark_overdue(session, now=now)
    return JobReport(reminded, overdue)

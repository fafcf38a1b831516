"""Digest schedules: a cron rule (Beijing time) per account that gathers the waiting
disclosure candidates into its next digest.

Every active schedule keeps one open digest (a draft push due at the rule's next time).
`prepare_digests`, run by the scheduler at every look, adds new candidates to open drafts,
makes the next digest once one went out, and moves a draft nobody approved in time, or one
with nothing in it, on to the rule's next time: a digest is never sent unapproved.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import SHORT, shown
from bot.db import utcnow
from bot.models import Disclosure, Push, PushSchedule
from bot.services.pushes import (
    MAX_ARTICLES,
    MSGTYPES,
    PushError,
    create_push,
    next_fire,
)


def save_schedule(session: Session, *, account: str, cron: str, by: str, name: str = "每日摘要",
                  audience: str = "all", msgtype: str = "mpnews", active: bool = True,
                  schedule_id: int | None = None) -> PushSchedule:
    """Create or change a schedule (the cron rule is checked first)."""
    next_fire(cron, utcnow())  # raises PushError on a bad rule
    if audience not in ("all", "topic"):
        raise PushError(f"推送对象不对：{audience}")
    if msgtype not in MSGTYPES:
        raise PushError(f"消息类型不对：{msgtype}")
    if schedule_id is None:
        schedule = PushSchedule(account=account)
        session.add(schedule)
    else:
        schedule = session.get(PushSchedule, schedule_id)
        if schedule is None:
            raise PushError(f"没有编号为 {schedule_id} 的定时规则")
    schedule.name = name.strip() or "每日摘要"
    schedule.cron, schedule.audience = cron.strip(), audience
    schedule.msgtype, schedule.active, schedule.updated_by = msgtype, active, by
    schedule.updated_at = utcnow()
    session.flush()
    if not active:
        _close_drafts(session, schedule, f"{by} 停用了定时规则")
    return schedule


def schedules(session: Session) -> list[PushSchedule]:
    return list(session.scalars(select(PushSchedule).order_by(PushSchedule.id)))


def _close_drafts(session: Session, schedule: PushSchedule, why: str) -> None:
    for push in session.scalars(select(Push).where(Push.schedule_id == schedule.id,
                                                   Push.state == "draft")):
        push.state, push.note, push.updated_at = "cancelled", why, utcnow()
        for candidate in session.scalars(select(Disclosure).where(Disclosure.push_id == push.id)):
            candidate.state, candidate.push_id = "pending", None


def prepare_digests(session: Session, now: dt.datetime | None = None) -> list[Push]:
    """Bring every active schedule's open digest up to date; the digests touched."""
    now = now or utcnow()
    touched = []
    for schedule in session.scalars(select(PushSchedule).where(PushSchedule.active.is_(True))
                                    .order_by(PushSchedule.id)):
        digests = _open_digests(session, schedule)
        if not digests:
            digests = [create_push(session, account=schedule.account, slugs=[],
                                   due_at=next_fire(schedule.cron, now), kind="digest",
                                   msgtype=schedule.msgtype, schedule_id=schedule.id,
                                   audience="all", by=f"定时：{schedule.name}")]
        for digest in digests:
            if digest.state == "draft":
                _gather(session, digest)
                _roll_on(digest, schedule, now)
            touched.append(digest)
    return touched


def _open_digests(session: Session, schedule: PushSchedule) -> list[Push]:
    return list(session.scalars(select(Push).where(Push.schedule_id == schedule.id,
                                                   Push.state.in_(("draft", "approved",
                                                                   "sending")))))


def _gather(session: Session, digest: Push) -> None:
    """Add waiting candidates (up to a news draft's 8 articles) to a draft digest."""
    room = MAX_ARTICLES - len(digest.slugs)
    if room <= 0:
        return
    waiting = list(session.scalars(select(Disclosure).where(Disclosure.state == "pending")
                                   .order_by(Disclosure.id).limit(room)))
    if not waiting:
        return
    slugs = list(digest.slugs)
    for candidate in waiting:
        if candidate.slug not in slugs:
            slugs.append(candidate.slug)
        candidate.state, candidate.push_id = "queued", digest.id
    digest.slugs, digest.updated_at = slugs, utcnow()
    digest.media_id = ""  # a draft made for a preview no longer shows everything


def _roll_on(digest: Push, schedule: PushSchedule, now: dt.datetime) -> None:
    if digest.due_at > now:
        return
    later = next_fire(schedule.cron, now)
    digest.note = (f"{shown(digest.due_at, SHORT)} 到点时还没有新公开的信息" if not digest.slugs
                   else f"{shown(digest.due_at, SHORT)} 到点时尚未审核，未发送")
    digest.note += f"，顺延至 {shown(later, SHORT)}"
    digest.due_at, digest.updated_at = later, utcnow()

"""The push outbox: disclosure candidates, pushes staff create and approve, digest schedules.

A knowledge item that is created or changed becomes a disclosure candidate (`note_change`,
called by the content service). Staff gather candidates into a one-off push, or an active
digest schedule gathers them into its next digest (`prepare_digests`, run by the scheduler).
Nothing here talks to WeChat: bot.services.push_send sends what is approved and due.

Times are stored as naive UTC; staff give and read them in Beijing time.
"""

from __future__ import annotations

import datetime as dt
import secrets

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import BEIJING
from bot.db import utcnow
from bot.models import Disclosure, KnowledgeItem, Push
from bot.models.pushes import PUSH_STATES
from bot.services.topics import TOPICS

MAX_ARTICLES = 8  # a news draft holds at most 8 articles
OPEN = ("draft", "approved")
MSGTYPES = {"mpnews": "图文", "text": "文字", "template": "模板消息（逐人发送）"}


class PushError(ValueError):
    """A push request staff must correct; the message is shown to them as is."""


def parse_time(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """Staff's "2026-11-26 18:00" (Beijing time; "now" or empty: now) as naive UTC."""
    now = now or utcnow()
    text = (text or "").strip().replace("T", " ")
    if text in ("", "now", "立即"):
        return now
    for layout in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            local = dt.datetime.strptime(text, layout).replace(tzinfo=BEIJING)
            break
        except ValueError:
            continue
    else:
        raise PushError(f"时间格式不对：{text}（应为 2026-11-26 18:00，北京时间）")
    moment = local.astimezone(dt.UTC).replace(tzinfo=None)
    if moment < now - dt.timedelta(minutes=1):
        raise PushError(f"推送时间已过：{text}")
    return moment


def next_fire(cron: str, after: dt.datetime) -> dt.datetime:
    """The first time after `after` (naive UTC) that the cron expression (Beijing time,
    "minute hour day month day_of_week") names, as naive UTC."""
    trigger = _trigger(cron)
    fire = trigger.get_next_fire_time(None, after.replace(tzinfo=dt.UTC) + dt.timedelta(seconds=1))
    if fire is None:
        raise PushError(f"定时规则不会再触发：{cron}")
    return fire.astimezone(dt.UTC).replace(tzinfo=None)


def _trigger(cron: str) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(cron.strip(), timezone=BEIJING)
    except (ValueError, TypeError) as exc:
        raise PushError(f"定时规则不对：{cron}（例：0 18 * * mon-fri 表示工作日18:00）") from exc


# -- candidates -----------------------------------------------------------------------
def note_change(session: Session, row: KnowledgeItem, change: str) -> Disclosure | None:
    """Make `row` (just created or changed) a candidate; an earlier candidate of the same
    item still waiting is moved on to this revision instead of adding a second."""
    if row.status != "active":
        return None
    waiting = session.scalar(select(Disclosure).where(Disclosure.slug == row.slug,
                                                      Disclosure.state == "pending"))
    _forget_drafts(session, row.slug)
    if waiting is not None:
        waiting.revision, waiting.title, waiting.category = row.revision, row.title, row.category
        return waiting
    if session.scalar(select(Disclosure.id).where(Disclosure.slug == row.slug,
                                                  Disclosure.revision == row.revision)):
        return None
    candidate = Disclosure(slug=row.slug, revision=row.revision, category=row.category,
                           title=row.title, change=change, state="pending", created_at=utcnow())
    session.add(candidate)
    return candidate


def _forget_drafts(session: Session, slug: str) -> None:
    """An item changed: a news draft made of it (by a preview) is stale; the send makes a
    new one."""
    for push in session.scalars(select(Push).where(Push.state.in_(OPEN), Push.media_id != "")):
        if slug in push.slugs:
            push.media_id = ""


def withdraw_candidates(session: Session, slug: str) -> None:
    """An archived item is no longer news: its waiting candidate is dismissed."""
    for row in session.scalars(select(Disclosure).where(Disclosure.slug == slug,
                                                        Disclosure.state == "pending")):
        row.state = "dismissed"


def candidates(session: Session, state: str = "pending") -> list[Disclosure]:
    return list(session.scalars(select(Disclosure).where(Disclosure.state == state)
                                .order_by(Disclosure.id)))


def dismiss(session: Session, ids: list[int]) -> int:
    """Candidates staff decide not to push."""
    rows = session.scalars(select(Disclosure).where(Disclosure.id.in_(ids),
                                                    Disclosure.state == "pending"))
    count = 0
    for row in rows:
        row.state, count = "dismissed", count + 1
    return count


# -- pushes ---------------------------------------------------------------------------
def create_push(session: Session, *, account: str, slugs: list[str], due_at: dt.datetime,
                audience: str = "all", topic: str = "", msgtype: str = "mpnews",
                kind: str = "oneoff", by: str = "", title: str = "",
                schedule_id: int | None = None) -> Push:
    """A new push (a draft: staff approve it) of the active items `slugs`."""
    slugs = list(dict.fromkeys(s.strip() for s in slugs if s and s.strip()))
    rows = _items(session, slugs, allow_empty=kind == "digest")
    _check_audience(audience, topic, msgtype)
    now = utcnow()
    push = Push(account=account, kind=kind, schedule_id=schedule_id, audience=audience,
                topic=topic if audience == "topic" else "", msgtype=msgtype,
                title=(title or _title(rows, kind))[:255], slugs=slugs, state="draft",
                due_at=due_at, clientmsgid=f"hotline-{secrets.token_hex(12)}", created_by=by,
                created_at=now, updated_at=now)
    session.add(push)
    session.flush()
    _attach(session, push, slugs)
    return push


def _items(session: Session, slugs: list[str], allow_empty: bool) -> list[KnowledgeItem]:
    if not slugs and not allow_empty:
        raise PushError("请至少选择一条要推送的信息")
    if len(slugs) > MAX_ARTICLES:
        raise PushError(f"一次推送最多 {MAX_ARTICLES} 条，已选 {len(slugs)} 条")
    found = {row.slug: row for row in session.scalars(
        select(KnowledgeItem).where(KnowledgeItem.slug.in_(slugs)))}
    for slug in slugs:
        row = found.get(slug)
        if row is None or row.status != "active":
            raise PushError(f"没有这一条目（或已归档）：{slug}")
    return [found[slug] for slug in slugs]


def _check_audience(audience: str, topic: str, msgtype: str) -> None:
    if audience not in ("all", "topic"):
        raise PushError(f"推送对象不对：{audience}")
    if audience == "topic" and topic not in TOPICS:
        raise PushError(f"没有这个主题：{topic or '（空）'}（可选：{'、'.join(TOPICS)}）")
    if msgtype not in MSGTYPES:
        raise PushError(f"消息类型不对：{msgtype}（图文 mpnews、文字 text 或模板消息 template）")


def _title(rows: list[KnowledgeItem], kind: str) -> str:
    if kind == "digest":
        return "新公开信息摘要"
    return rows[0].title if len(rows) == 1 else f"{rows[0].title} 等 {len(rows)} 条新公开信息"


def _attach(session: Session, push: Push, slugs: list[str]) -> None:
    for candidate in session.scalars(select(Disclosure).where(
            Disclosure.slug.in_(slugs), Disclosure.state == "pending")):
        candidate.state, candidate.push_id = "queued", push.id


def get_push(session: Session, push_id: int, *, lock: bool = False) -> Push:
    query = select(Push).where(Push.id == push_id)
    push = session.scalar(query.with_for_update() if lock else query)
    if push is None:
        raise PushError(f"没有编号为 {push_id} 的推送")
    return push


def approve(session: Session, push_id: int, by: str) -> Push:
    push = get_push(session, push_id, lock=True)
    if push.state != "draft":
        raise PushError(f"推送 {push_id} 当前为“{_state(push)}”，只有待审核的推送可以批准")
    if not push.slugs:
        raise PushError(f"推送 {push_id} 还没有内容，不能批准")
    now = utcnow()
    push.state, push.approved_by, push.updated_at, push.note = "approved", by, now, ""
    push.due_at = max(push.due_at, now)  # one held back for being late goes out now
    return push


def send_now(session: Session, push_id: int, by: str) -> Push:
    """Approve (if needed) and make due at once; the scheduler sends it at its next look."""
    push = get_push(session, push_id, lock=True)
    if push.state == "draft":
        approve(session, push_id, by)
    elif push.state != "approved":
        raise PushError(f"推送 {push_id} 当前为“{_state(push)}”，不能立即发送")
    push.due_at, push.updated_at = utcnow(), utcnow()
    return push


def cancel(session: Session, push_id: int, by: str, reason: str = "") -> Push:
    push = get_push(session, push_id, lock=True)
    if push.state not in OPEN:
        raise PushError(f"推送 {push_id} 当前为“{_state(push)}”，不能取消")
    push.state, push.updated_at = "cancelled", utcnow()
    push.note = f"{by} 取消" + (f"：{reason}" if reason else "")
    for candidate in session.scalars(select(Disclosure).where(Disclosure.push_id == push.id)):
        candidate.state, candidate.push_id = "pending", None
    return push


def _state(push: Push) -> str:
    return PUSH_STATES.get(push.state, push.state)


def queue(session: Session) -> list[Push]:
    return list(session.scalars(select(Push).where(Push.state.in_(OPEN + ("sending",)))
                                .order_by(Push.due_at, Push.id)))


def history(session: Session, limit: int = 100) -> list[Push]:
    return list(session.scalars(select(Push).where(Push.state.in_(("sent", "failed",
                                                                   "cancelled")))
                                .order_by(Push.updated_at.desc(), Push.id.desc()).limit(limit)))


def record_result(session: Session, account: str, msg_id: str, status: str,
                  counts: dict[str, int | None]) -> Push | None:
    """WeChat's later report of a broadcast (MASSSENDJOBFINISH) on the push it belongs to."""
    push = session.scalar(select(Push).where(Push.account == account,
                                             Push.msg_id == str(msg_id)))
    if push is None:
        return None
    push.result, push.result_at = status[:64], utcnow()
    push.total_count = counts.get("total")
    push.sent_count = counts.get("sent")
    push.error_count = counts.get("errors")
    return push

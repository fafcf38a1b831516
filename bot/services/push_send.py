"""Sending approved pushes, exactly once and within WeChat's broadcast quotas.

Only the scheduler process calls this (`run_due`). Each push goes:
1. claim: one conditional UPDATE moves it approved → sending with a lease (or takes over a
   `sending` push whose lease lapsed: its process died). Two schedulers never both hold it.
2. the news draft (draft/add), its media_id recorded at once; a crash before that only
   leaves an unused draft behind.
3. the broadcast with the push's fixed `clientmsgid`. WeChat refuses the same clientmsgid
   within 24 hours (45065, with the first msg_id), so a push re-sent after a crash between
   the call and step 4 is recorded, not delivered twice.
4. record: sending → sent with WeChat's msg_id (the JOBFINISH event later adds the counts).

A quota refusal (local count first, then 45028) defers the push to the next window; a
timeout, 5xx or rate limit retries with backoff (safe: the clientmsgid guards it); any other
refusal fails the push with WeChat's reason, shown to staff.
https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Batch_Sends_and_Originality_Checks.html
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from markdown_it import MarkdownIt
from sqlalchemy import func, or_, select, update

from bot.clock import SHORT, beijing, shown
from bot.db import utcnow
from bot.models import Disclosure, Push
from bot.services import push_content, push_template, topics

log = logging.getLogger("hotline.push")
ALREADY_SENT = 45065
QUOTA = 45028
# not reached, no answer (the clientmsgid makes a repeat safe), rate limits, busy
RETRYABLE = frozenset({-1, -2, 45009, 45011, 45033, 50002})
MAX_ATTEMPTS = 6
RETRY_BASE = dt.timedelta(seconds=30)
GRACE = dt.timedelta(hours=6)  # a push later than this waits for staff instead of going out
TEXT_LIMIT = 1800
_markdown = MarkdownIt("commonmark", {"html": False})


@dataclass(frozen=True)
class SendReport:
    push_id: int
    state: str  # sent | deferred | retry | failed | held | cancelled | skipped
    note: str = ""


@dataclass(frozen=True)
class _Job:
    id: int
    account: str
    audience: str
    topic: str
    msgtype: str
    slugs: list
    title: str
    media_id: str
    clientmsgid: str
    due_at: dt.datetime
    attempts: int


class Refused(Exception):
    """Not sent, for a reason staff read (`state`: deferred | held | cancelled)."""

    def __init__(self, state: str, note: str, due_at: dt.datetime | None = None) -> None:
        super().__init__(note)
        self.state, self.note, self.due_at = state, note, due_at


def due_ids(sessionmaker, now: dt.datetime, limit: int = 20) -> list[int]:
    with sessionmaker() as session:
        return list(session.scalars(
            select(Push.id).where(or_(
                (Push.state == "approved") & (Push.due_at <= now),
                (Push.state == "sending") & (Push.lease_until < now)))
            .order_by(Push.due_at, Push.id).limit(limit)))


def run_due(runtime, now: dt.datetime | None = None, limit: int = 20) -> list[SendReport]:
    """Send every push that is due (what the scheduler does at each look)."""
    now = now or utcnow()
    return [send(runtime, push_id, now) for push_id in due_ids(runtime.sessionmaker, now, limit)]


def send(runtime, push_id: int, now: dt.datetime | None = None) -> SendReport:
    report = _send(runtime, push_id, now or utcnow())
    if report.state != "skipped":  # another process had it: not a result of this one's
        runtime.metrics.incr("pushes", result=report.state)
    return report


def _send(runtime, push_id: int, now: dt.datetime) -> SendReport:
    job = _claim(runtime, push_id, now)
    if job is None:
        return SendReport(push_id, "skipped", "已由其他进程处理")
    try:
        _check_time(job, now)
        if job.msgtype == "template":
            return _by_template(runtime, job, now)
        _check_quota(runtime, job, now)
        api = runtime.api(job.account)
        tag_id = _audience(runtime, job)
        message = _message(runtime, api, job)
        answer = api.mass_send(message, tag_id, job.clientmsgid)
    except Refused as refused:
        return _refused(runtime, job, refused)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded on the push
        code = getattr(exc, "errcode", -1)
        if code == ALREADY_SENT:
            data = getattr(exc, "data", None) or {}
            return _sent(runtime, job, data, "微信识别为重复提交（此前已发出），未重复发送")
        if code == QUOTA:
            return _refused(runtime, job, _deferral(runtime, job, now, "微信回复群发次数已用完"))
        if code not in RETRYABLE:
            log.warning("push %s refused: %s", job.id, exc)
        return _failed(runtime, job, code, str(exc), now)
    return _sent(runtime, job, answer, "")


# -- steps ----------------------------------------------------------------------------
def _claim(runtime, push_id: int, now: dt.datetime) -> _Job | None:
    lease = now + dt.timedelta(seconds=runtime.settings.push_lease)
    with runtime.sessionmaker.begin() as session:
        claimed = session.execute(
            update(Push).where(Push.id == push_id, or_(
                (Push.state == "approved") & (Push.due_at <= now),
                (Push.state == "sending") & (Push.lease_until < now)))
            .values(state="sending", attempts=Push.attempts + 1, lease_until=lease,
                    updated_at=now)).rowcount
        if not claimed:
            return None
        return _job_of(session.get(Push, push_id))


def _job_of(push: Push) -> _Job:
    return _Job(push.id, push.account, push.audience, push.topic, push.msgtype, list(push.slugs),
                push.title, push.media_id, push.clientmsgid, push.due_at, push.attempts)


def _check_time(job: _Job, now: dt.datetime) -> None:
    if job.attempts == 1 and now - job.due_at > GRACE:
        raise Refused("held", f"错过计划发送时间（{shown(job.due_at, SHORT)}）超过 "
                              f"{int(GRACE.total_seconds() // 3600)} 小时，未发送，请重新审核")


def _check_quota(runtime, job: _Job, now: dt.datetime) -> None:
    """WeChat's broadcast quota, counted from our own sends (Beijing days and months):
    subscription accounts one broadcast a day; service accounts one to everyone a day and
    four a month (tag broadcasts are limited per follower by WeChat itself)."""
    account = runtime.settings.account(job.account)
    subscription = account is not None and account.type == "subscription"
    if not subscription and job.audience != "all":
        return
    local = beijing(now)
    day_start = _utc(local.replace(hour=0, minute=0, second=0, microsecond=0))
    month_start = _utc(local.replace(day=1, hour=0, minute=0, second=0, microsecond=0))
    with runtime.sessionmaker() as session:
        counted = select(func.count()).select_from(Push).where(
            Push.account == job.account, Push.state == "sent", Push.id != job.id)
        if not subscription:
            counted = counted.where(Push.audience == "all")
        today = session.scalar(counted.where(Push.sent_at >= day_start))
        month = 0 if subscription else session.scalar(counted.where(Push.sent_at >= month_start))
    if today:
        raise _deferral(runtime, job, now, "今天的群发次数已用完")
    if month >= 4:
        raise _deferral(runtime, job, now, "本月的群发次数（4 次）已用完", month=True)


def _deferral(runtime, job: _Job, now: dt.datetime, why: str, month: bool = False) -> Refused:
    """Defer to the same time of day on the next day (or the 1st of next month) that
    opens a new quota window."""
    local, due = beijing(now), beijing(max(job.due_at, now))
    if month:
        first = (local.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        later = first.replace(hour=due.hour, minute=due.minute, second=0, microsecond=0)
    else:
        later = (local + dt.timedelta(days=1)).replace(hour=due.hour, minute=due.minute,
                                                       second=0, microsecond=0)
    return Refused("deferred", f"{why}，顺延至 {later:%m-%d %H:%M}", _utc(later))


def _audience(runtime, job: _Job) -> int | None:
    if job.audience != "topic":
        return None
    topics.sync(runtime, job.account)  # subscriptions made since the last look are tagged too
    with runtime.sessionmaker() as session:
        count = topics.subscriber_count(session, job.account, job.topic)
    if not count:
        raise Refused("cancelled", "还没有用户订阅这个主题，未发送")
    return topics.tag_for(runtime, job.account, job.topic)


def _message(runtime, api, job: _Job) -> dict:
    items = push_content.items(runtime, job.slugs)
    if not items:
        raise Refused("cancelled", "要推送的条目都已归档，未发送")
    if job.msgtype == "text":
        return {"msgtype": "text", "text": {"content": push_content.text(runtime, items)}}
    media_id = job.media_id or push_content.draft(runtime, api, job.id, job.account, items)
    return {"msgtype": "mpnews", "mpnews": {"media_id": media_id}, "send_ignore_reprint": 0}


def _by_template(runtime, job: _Job, now: dt.datetime) -> SendReport:
    """Template messages, one per recipient (bot.services.push_template)."""
    account = runtime.settings.account(job.account)
    if account is None or not account.can_send_templates or not account.push_template:
        raise Refused("failed", "该公众号不能发送模板消息（须为服务号并配置“新公开信息”模板 "
                                "WECHAT_PUSH_TEMPLATE_ID）")
    items = push_content.items(runtime, job.slugs)
    if not items:
        raise Refused("cancelled", "要推送的条目都已归档，未发送")
    with runtime.sessionmaker.begin() as session:
        push_template.enlist(session, job.id, push_template.recipients(
            session, job.account, job.topic if job.audience == "topic" else ""))
    data = push_content.template_data(items, now)
    lease = dt.timedelta(seconds=runtime.settings.push_lease)
    outcome = push_template.deliver(runtime, runtime.api(job.account), job.id,
                                    account.push_template, data,
                                    push_content.page(runtime, items[0]["slug"]),
                                    lease)
    counts = outcome.counts
    if outcome.stopped:
        later = _deferral(runtime, job, now, outcome.stopped)
        return _refused(runtime, job, Refused("deferred", f"已送达 {counts['sent']} 人；"
                                                          f"{later.note}", later.due_at))
    total = sum(counts.values())
    if not total:
        raise Refused("cancelled", "没有可以接收的用户，未发送")
    note = f"{counts['unknown']} 人发送中断，结果未知，未重发" if counts["unknown"] else ""
    _finish(runtime, job, state="sent", sent_at=utcnow(), note=note, total_count=total,
            sent_count=counts["sent"], error_count=counts["failed"] + counts["unknown"])
    return SendReport(job.id, "sent", note)


# -- outcomes -------------------------------------------------------------------------
def _finish(runtime, job: _Job, **values) -> None:
    with runtime.sessionmaker.begin() as session:
        session.execute(update(Push).where(Push.id == job.id, Push.state == "sending")
                        .values(lease_until=None, updated_at=utcnow(), **values))


def _sent(runtime, job: _Job, answer: dict, note: str) -> SendReport:
    now = utcnow()
    _finish(runtime, job, state="sent", sent_at=now, note=note,
            msg_id=str(answer.get("msg_id", "")), msg_data_id=str(answer.get("msg_data_id", "")))
    with runtime.sessionmaker.begin() as session:
        session.execute(update(Disclosure).where(Disclosure.push_id == job.id)
                        .values(state="sent"))
    log.info("push %s sent (msg_id %s)", job.id, answer.get("msg_id"))
    return SendReport(job.id, "sent", note)


def _refused(runtime, job: _Job, refused: Refused) -> SendReport:
    if refused.state == "deferred":
        _finish(runtime, job, state="approved", due_at=refused.due_at, note=refused.note,
                attempts=0)
    elif refused.state == "held":
        _finish(runtime, job, state="draft", approved_by="", note=refused.note, attempts=0)
    else:
        state = "failed" if refused.state == "failed" else "cancelled"
        _finish(runtime, job, state=state, note=refused.note)
    return SendReport(job.id, refused.state, refused.note)


def _failed(runtime, job: _Job, code: int, error: str, now: dt.datetime) -> SendReport:
    reason = f"{code}: {error}"[:500]
    if code in RETRYABLE and job.attempts < MAX_ATTEMPTS:
        later = now + RETRY_BASE * 2 ** (job.attempts - 1)
        _finish(runtime, job, state="approved", due_at=later,
                note=f"第 {job.attempts} 次发送未成功（{reason}），{shown(later, SHORT)} 重试")
        return SendReport(job.id, "retry", reason)
    _finish(runtime, job, state="failed", note=f"发送失败：{reason}")
    return SendReport(job.id, "failed", reason)


def _utc(local: dt.datetime) -> dt.datetime:
    return local.astimezone(dt.UTC).replace(tzinfo=None)



def preview(runtime, push_id: int, openid: str) -> str:
    """Send the push to one staff member's WeChat exactly as subscribers will get it
    (WeChat's preview API); "" when sent, else the reason."""
    openid = openid.strip()
    if not openid:
        return "请填写接收预览的微信 openid"
    with runtime.sessionmaker() as session:
        push = session.get(Push, push_id)
        if push is None:
            return f"没有编号为 {push_id} 的推送"
        job = _job_of(push)
    try:
        api = runtime.api(job.account)
        if job.msgtype == "template":
            return _preview_template(runtime, api, job, openid)
        message = _message(runtime, api, job)
        if message["msgtype"] == "text":
            api.preview(openid, text=message["text"]["content"])
        else:
            api.preview(openid, media_id=message["mpnews"]["media_id"])
    except Refused as refused:
        return refused.note
    except Exception as exc:  # noqa: BLE001 - shown to staff
        return f"预览未发出：{exc}"
    return ""


def _preview_template(runtime, api, job: _Job, openid: str) -> str:
    account = runtime.settings.account(job.account)
    chosen = push_content.items(runtime, job.slugs)
    if account is None or not account.push_template or not chosen:
        return "该公众号未配置“新公开信息”模板，或条目已归档"
    result = api.send_template(openid, account.push_template,
                               push_content.template_data(chosen, utcnow()),
                               push_content.page(runtime, chosen[0]["slug"]))
    return "" if result.ok else f"预览未发出：{result.errcode} {result.error}"

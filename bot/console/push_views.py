"""Console: pushes of newly disclosed items. The candidates, the queue, the digest schedules
and the history on one page; one push as subscribers will receive it, with approve, cancel,
send now and a preview to a staff member's WeChat. Routes live on the console blueprint
(bot/console/views.py); sending is the scheduler's (bot/services/push_send.py), so "send now"
only makes a push due."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import abort, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms.fields.choices import SelectChoice

from bot.clock import shown
from bot.console.forms import ActionForm, CancelForm, PreviewForm, PushForm, ScheduleForm
from bot.console.views import RANK, blueprint, requires
from bot.db import utcnow
from bot.models import Disclosure, Push, PushSchedule
from bot.models.pushes import AUDIENCES, PUSH_STATES
from bot.services import push_content, push_send
from bot.services import push_schedules as schedule_service
from bot.services import pushes as push_service
from bot.services import staff as staff_service
from bot.services.pushes import MSGTYPES, PushError
from content.model import CATEGORIES

NUMBER = re.compile(r"[0-9]{1,18}")
SLUG_SEPARATORS = re.compile(r"[\s,，、;；]+")
MAX_TICKED = 500
PREVIEW_OPENID = "push_preview_openid"  # the session remembers the last preview's openid
KINDS = {"oneoff": "单次推送", "digest": "定时摘要"}


def _runtime():
    return current_app.extensions["hotline"]


def _number(text: str) -> int:
    if not NUMBER.fullmatch(text):
        abort(404)
    return int(text)


def _with_accounts(form: PushForm | ScheduleForm) -> PushForm | ScheduleForm:
    settings = _runtime().settings
    form.account.choices = [SelectChoice(a.name, a.name) for a in settings.accounts]
    if not form.account.data:
        form.account.data = settings.default_account.name
    return form


def _account(name: str) -> str:
    if _runtime().settings.account(name) is None:
        raise PushError(f"没有这个公众号：{name or '（空）'}")
    return name


def _form_error(form: FlaskForm) -> str:
    if "csrf_token" in form.errors:
        return "页面已过期，请刷新后重试"
    return "；".join(e for errors in form.errors.values() for e in errors) or "请重新提交"


def _audit(db: Session, action: str, target: str, form: FlaskForm, **extra) -> None:
    detail = {k: v for k, v in form.data.items() if k != "csrf_token"}
    staff_service.audit(db, g.user.username, action, target, {**detail, **extra},
                        request.remote_addr or "")


def _ticked(texts: list[str]) -> list[int]:
    """The ticked candidates' ids (a tampered or stale form is a PushError)."""
    if len(texts) > MAX_TICKED or any(not NUMBER.fullmatch(t) for t in texts):
        raise PushError("勾选的信息有误，请刷新页面后重新选择")
    return [int(t) for t in texts]


# -- the page -------------------------------------------------------------------------
@blueprint.get("/pushes")
@requires("viewer")
def pushes():
    return _index()


def _index(forms: dict | None = None, error: str = "", error_at: str = ""):
    """The pushes page; a failed POST's form comes back in `forms` with `error` next to it
    (422), so nothing staff typed is lost."""
    forms = forms or {}
    with _runtime().sessionmaker() as db:
        waiting = push_service.candidates(db)
        queued, past = push_service.queue(db), push_service.history(db)
        rules = schedule_service.schedules(db)
        db.expunge_all()
    schedule_forms = {rule.id: forms.get(f"schedule-{rule.id}") or _schedule_form(rule)
                      for rule in rules}
    return render_template(
        "console/pushes.html", candidates=waiting, queue=queued, history=past, rules=rules,
        next_fire={rule.id: _next_fire(rule) for rule in rules}, schedule_forms=schedule_forms,
        push_form=forms.get("push") or _with_accounts(PushForm(formdata=None)),
        new_schedule=forms.get("schedule") or _with_accounts(
            ScheduleForm(formdata=None, cron="0 18 * * mon-fri", active=True)),
        checked=set(forms.get("checked", ())), error=error, error_at=error_at,
        can_edit=RANK[g.user.role] >= RANK["supervisor"], **_labels()), 422 if error else 200


def _labels() -> dict:
    return {"states": PUSH_STATES, "audiences": AUDIENCES, "msgtypes": MSGTYPES,
            "categories": CATEGORIES, "kinds": KINDS, "when": shown}


def _schedule_form(rule: PushSchedule) -> ScheduleForm:
    return _with_accounts(ScheduleForm(formdata=None, account=rule.account, name=rule.name,
                                       cron=rule.cron, msgtype=rule.msgtype,
                                       active=rule.active))


def _next_fire(rule: PushSchedule) -> str:
    if not rule.active:
        return ""
    try:
        return shown(push_service.next_fire(rule.cron, utcnow()))
    except PushError:
        return ""


@blueprint.post("/pushes/create")
@requires("supervisor")
def push_create():
    form = _with_accounts(PushForm())
    ticked = request.form.getlist("candidate")
    kept = {"push": form, "checked": ticked}
    if not form.validate_on_submit():
        return _index(kept, _form_error(form), "push")
    try:
        with _runtime().sessionmaker.begin() as db:
            slugs = _candidate_slugs(db, _ticked(ticked))
            slugs += SLUG_SEPARATORS.split(form.slugs.data or "")
            push = push_service.create_push(
                db, account=_account(form.account.data), slugs=slugs,
                due_at=push_service.parse_time(form.due.data or ""),
                audience=form.audience.data, topic=form.topic.data or "",
                msgtype=form.msgtype.data, by=g.user.username)
            _audit(db, "push_create", str(push.id), form, candidates=ticked)
            push_id = push.id
    except PushError as exc:
        return _index(kept, str(exc), "push")
    return redirect(url_for("console.push_page", push_id=push_id, ok="推送已创建，待审核"))


def _candidate_slugs(db: Session, ids: list[int]) -> list[str]:
    rows = list(db.scalars(select(Disclosure).where(Disclosure.id.in_(ids))
                           .order_by(Disclosure.id)))
    if len(rows) != len(set(ids)) or any(row.state != "pending" for row in rows):
        raise PushError("勾选的信息已加入其他推送或已处理，请刷新页面后重新选择")
    return [row.slug for row in rows]


@blueprint.post("/pushes/dismiss")
@requires("supervisor")
def push_dismiss():
    form = ActionForm()
    ticked = request.form.getlist("candidate")
    kept = {"push": _with_accounts(PushForm()), "checked": ticked}
    if not form.validate_on_submit():
        return _index(kept, _form_error(form), "candidates")
    try:
        ids = _ticked(ticked)
        if not ids:
            raise PushError("请先勾选不推送的信息")
        with _runtime().sessionmaker.begin() as db:
            count = push_service.dismiss(db, ids)
            _audit(db, "push_dismiss", ",".join(ticked), form, candidates=ids)
    except PushError as exc:
        return _index(kept, str(exc), "candidates")
    return redirect(url_for("console.pushes", ok=f"已将 {count} 条标记为不推送"))


@blueprint.post("/pushes/schedules")
@requires("supervisor")
def schedule_new():
    return _save_schedule(None)


@blueprint.post("/pushes/schedules/<schedule_id>")
@requires("supervisor")
def schedule_edit(schedule_id: str):
    return _save_schedule(_number(schedule_id))


def _save_schedule(schedule_id: int | None):
    """Create or change a digest schedule (the service checks the cron rule first)."""
    form = _with_accounts(ScheduleForm())
    key = "schedule" if schedule_id is None else f"schedule-{schedule_id}"
    if not form.validate_on_submit():
        return _index({key: form}, _form_error(form), key)
    try:
        with _runtime().sessionmaker.begin() as db:
            rule = schedule_service.save_schedule(
                db, account=_account(form.account.data), cron=form.cron.data,
                by=g.user.username, name=form.name.data or "", msgtype=form.msgtype.data,
                active=form.active.data, schedule_id=schedule_id)
            _audit(db, "push_schedule", str(rule.id), form)
            name = rule.name
    except PushError as exc:
        return _index({key: form}, str(exc), key)
    return redirect(url_for("console.pushes", ok=f"定时摘要“{name}”已保存"))


# -- one push -------------------------------------------------------------------------
@blueprint.get("/pushes/<push_id>")
@requires("viewer")
def push_page(push_id: str):
    return _detail(_number(push_id))


def _detail(push_id: int, forms: dict | None = None, error: str = "", error_at: str = ""):
    """One push: its fields, what subscribers will receive (composed by push_send, as the
    send will), its items and, for supervisors, what may be done with it."""
    runtime, forms = _runtime(), forms or {}
    with runtime.sessionmaker() as db:
        push = db.get(Push, push_id)
        if push is None:
            abort(404)
        db.expunge(push)
    articles = push_content.articles_of(runtime, push)
    remembered = session.get(PREVIEW_OPENID, "")
    return render_template(
        "console/push.html", push=push, articles=articles,
        text=push_content.text_of(runtime, push) if push.msgtype == "text" else "",
        can_edit=RANK[g.user.role] >= RANK["supervisor"], action=ActionForm(formdata=None),
        cancel=forms.get("cancel") or CancelForm(formdata=None),
        preview=forms.get("preview") or PreviewForm(formdata=None, openid=remembered),
        error=error, error_at=error_at, **_labels()), 422 if error else 200


def _act(push_id: str, form: FlaskForm, name: str, apply: Callable, done: str):
    """Validate `form` (CSRF included), run `apply(db, push_id)` with an audit entry in one
    transaction; a PushError comes back on the push's page (422) and nothing is written."""
    number = _number(push_id)
    if not form.validate_on_submit():
        return _detail(number, {name: form}, _form_error(form), name)
    try:
        with _runtime().sessionmaker.begin() as db:
            apply(db, number)
            _audit(db, f"push_{name}", str(number), form)
    except PushError as exc:
        return _detail(number, {name: form}, str(exc), name)
    return redirect(url_for("console.push_page", push_id=number, ok=done))


@blueprint.post("/pushes/<push_id>/approve")
@requires("supervisor")
def push_approve(push_id: str):
    return _act(push_id, ActionForm(), "approve",
                lambda db, n: push_service.approve(db, n, g.user.username),
                "已批准，将在计划时间发送")


@blueprint.post("/pushes/<push_id>/send-now")
@requires("supervisor")
def push_send_now(push_id: str):
    return _act(push_id, ActionForm(), "send_now",
                lambda db, n: push_service.send_now(db, n, g.user.username),
                "已批准：定时任务下次检查队列时（通常一分钟内）发出")


@blueprint.post("/pushes/<push_id>/cancel")
@requires("supervisor")
def push_cancel(push_id: str):
    form = CancelForm()
    return _act(push_id, form, "cancel",
                lambda db, n: push_service.cancel(db, n, g.user.username,
                                                  (form.reason.data or "").strip()),
                "已取消，其中的信息回到待推送")


@blueprint.post("/pushes/<push_id>/preview")
@requires("supervisor")
def push_preview(push_id: str):
    """Send the push to one staff member's WeChat through WeChat's preview API."""
    number, form = _number(push_id), PreviewForm()
    with _runtime().sessionmaker() as db:
        if db.get(Push, number) is None:
            abort(404)
    if not form.validate_on_submit():
        return _detail(number, {"preview": form}, _form_error(form), "preview")
    openid = form.openid.data.strip()
    session[PREVIEW_OPENID] = openid
    reason = push_send.preview(_runtime(), number, openid)
    with _runtime().sessionmaker.begin() as db:
        _audit(db, "push_preview", str(number), form, result=reason or "sent")
    if reason:
        return _detail(number, {"preview": form}, reason, "preview")
    return redirect(url_for("console.push_page", push_id=number, ok=f"预览已发送给 {openid}"))

"""Console views: login, logout, the case inbox, one case and what staff do with it."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import logging
from collections.abc import Callable

import yaml
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from markupsafe import Markup, escape
from openpyxl import Workbook
from sqlalchemy import select

from bot.clock import shown
from bot.clock import today as office_today
from bot.console.forms import (
    ActionForm,
    AssignForm,
    BulkForm,
    CorrectionForm,
    ExtendForm,
    ItemForm,
    LoginForm,
    LogoutForm,
    NoteForm,
    ReplyForm,
)
from bot.db import utcnow
from bot.models import Case, CaseMessage, KnowledgeItem
from bot.models.staff import ROLES, StaffUser
from bot.pages import render_markdown
from bot.services import canned, delivery, stats
from bot.services import case_flow as flow
from bot.services import cases as case_service
from bot.services import content as content_service
from bot.services import inbox as inbox_service
from bot.services import staff as staff_service
from bot.services.privacy import mask_name, mask_phone
from bot.services.report import OUTCOMES
from content.model import CATEGORIES
from content.schema import parse_item

log = logging.getLogger("hotline.console")
blueprint = Blueprint("console", __name__, url_prefix="/console",
                      template_folder="templates")
IDLE_MINUTES = 120
SESSION_HOURS = 12
PAGE_SIZE = 50
RANK = {"viewer": 0, "handler": 1, "supervisor": 2, "admin": 3}


def register(app: Flask) -> None:
    secure = app.extensions["hotline"].settings.public_url.startswith("https://")
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=secure,
                      PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=SESSION_HOURS),
                      WTF_CSRF_TIME_LIMIT=SESSION_HOURS * 3600)
    app.jinja_env.filters["when"] = shown  # stored times as staff read them: Beijing time
    app.register_blueprint(blueprint)


@blueprint.context_processor
def _page_globals() -> dict:
    return {"roles": ROLES, "logout": LogoutForm(formdata=None)}


def _runtime():
    return current_app.extensions["hotline"]


def requires(minimum: str) -> Callable:
    """The view needs a logged-in user of at least `minimum` (viewer < handler < supervisor
    < admin): anonymous → the login page, lower roles → 403."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = _current_user()
            if user is None:
                return redirect(url_for("console.login", next=request.path))
            if RANK[user.role] < RANK[minimum]:
                abort(403)
            g.user = user
            return view(*args, **kwargs)

        return wrapped

    return decorate


def _current_user() -> StaffUser | None:
    user_id, seen = session.get("uid"), session.get("seen")
    if user_id is None or seen is None:
        return None
    now = utcnow().timestamp()
    if now - seen > IDLE_MINUTES * 60 or now - session.get("since", 0) > SESSION_HOURS * 3600:
        session.clear()
        return None
    with _runtime().sessionmaker() as db:
        user = db.get(StaffUser, user_id)
        if user is None or not user.active:
            session.clear()
            return None
        db.expunge(user)
    session["seen"] = now
    return user


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = ""
    if form.validate_on_submit():
        with _runtime().sessionmaker.begin() as db:
            result = staff_service.authenticate(db, form.username.data, form.password.data,
                                                ip=request.remote_addr or "")
            user_id = result.user.id if result.user else None
        if user_id is not None:
            session.clear()
            session.permanent = True
            now = utcnow().timestamp()
            session.update(uid=user_id, since=now, seen=now)
            target = request.args.get("next", "")
            if not target.startswith("/console/") or target.startswith("//"):
                target = url_for("console.inbox")
            return redirect(target)
        error = result.reason
    elif request.method == "POST":
        if "csrf_token" in form.errors:
            error = "页面已过期或来源不明，请刷新后重新登录"
        else:
            error = "；".join(e for errors in form.errors.values() for e in errors) or "请重新提交"
    status = 401 if error else 200
    return render_template("console/login.html", form=form, error=error), status


@blueprint.post("/logout")
@requires("viewer")
def logout():
    form = LogoutForm()
    if not form.validate_on_submit():
        abort(400)
    with _runtime().sessionmaker.begin() as db:
        staff_service.audit(db, g.user.username, "logout", g.user.username,
                            ip=request.remote_addr or "")
    session.clear()
    return redirect(url_for("console.login"))


def _filters(args) -> inbox_service.Filters:
    """The inbox form's filters, limited to what this user may see (FilterError if bad)."""
    filters = inbox_service.Filters.from_args(args)
    if g.user.role == "handler":
        filters = filters.restricted_to(g.user.department)
    return filters


def _filtered(args) -> object:
    """The cases this user may see, filtered as the inbox's form says (exports); a bad
    filter is a 400 that says why."""
    try:
        filters = _filters(args)
    except inbox_service.FilterError as exc:
        abort(Response(render_template("console/error.html", message=str(exc)), 400))
    return inbox_service.select_cases(filters, _runtime().engine.dialect.name, office_today())


@blueprint.get("/")
@requires("viewer")
def inbox():
    args = request.args
    today = office_today()
    error, page = "", inbox_service.Page([], None)
    try:
        filters = _filters(args)
    except inbox_service.FilterError as exc:
        error = str(exc)
    else:
        after = _cursor(args.get("after", ""))
        with _runtime().sessionmaker() as db:  # keyset pages: fast on any page of a million
            page = inbox_service.page(db, filters, today=today, after=after, size=PAGE_SIZE)
    next_args = None
    if page.after is not None:
        next_args = {**args.to_dict(), "after": inbox_service.format_cursor(page.after)}
    return render_template("console/inbox.html", cases=page.cases, today=today,
                           states=flow.STATES, classes=flow.CLASSES,
                           soon_days=inbox_service.SOON_DAYS, args=args, next_args=next_args,
                           searched_to=page.searched_to, filter_error=error,
                           bulk=BulkForm(formdata=None),
                           can_bulk=RANK[g.user.role] >= RANK["supervisor"],
                           first_args={k: v for k, v in args.items() if k != "after"}), \
        400 if error else 200


def _cursor(text: str) -> tuple[dt.date, int] | None:
    """The page cursor "2026-12-01_123" (deadline, id of the last row shown); None if bad."""
    return inbox_service.parse_cursor(text)


@blueprint.before_request
def _refuse_nul_characters():
    """A NUL in a form value can be stored by no database (PostgreSQL refuses it): the form
    is sent back as invalid instead of failing later."""
    if request.method == "POST" and any("\x00" in value for value in request.values.values()):
        message = "提交的内容含有无法保存的控制字符（NUL），请删除后重试。"
        return render_template("console/error.html", message=message), 400
    return None


@blueprint.app_errorhandler(403)
def forbidden(_exc):
    if request.path.startswith("/console/"):
        return render_template("console/error.html", message="您的角色无权访问此页面。"), 403
    return "forbidden", 403


# -- one case -----------------------------------------------------------------------------
HANDLES = ("handler", "supervisor", "admin")


def _case_for(db, number: str) -> Case:
    """The case, if this user may see it (a handler: their department's only)."""
    case = db.scalars(select(Case).where(Case.number == number)).first()
    if case is None:
        abort(404)
    if g.user.role == "handler" and case.department != g.user.department:
        abort(403)
    return case


def _may_see_personal_data(case: Case) -> bool:
    return g.user.role in ("admin", "supervisor") or (
        g.user.role == "handler" and case.department == g.user.department)


@blueprint.get("/cases/<number>")
@requires("viewer")
def case_page(number: str, forms: dict | None = None, preview: str = "", status: int = 200):
    vault = _runtime().vault
    with _runtime().sessionmaker() as db:
        case = _case_for(db, number)
        personal = _may_see_personal_data(case)
        contact = (vault.open(case.contact_name_enc), vault.open(case.contact_phone_enc))
        if not personal:
            contact = (mask_name(contact[0]), mask_phone(contact[1]) if contact[1] else "")
        messages = list(db.scalars(select(CaseMessage).where(CaseMessage.case_id == case.id)
                                   .order_by(CaseMessage.id)))
        events = case_service.history(db, case)
        db.expunge_all()
    forms = forms or {}
    return render_template(
        "console/case.html", case=case, contact=contact, messages=messages, events=events,
        today=office_today(), preview=preview,
        can_handle=g.user.role in HANDLES, can_assign=RANK[g.user.role] >= RANK["supervisor"],
        actions=flow.allowed_actions(case.state), disclosure=flow.DISCLOSURE,
        reply=forms.get("reply") or ReplyForm(formdata=None),
        note=forms.get("note") or NoteForm(formdata=None),
        assign=forms.get("assign") or AssignForm(formdata=None, department=case.department,
                                                 assignee=case.assignee),
        close=ActionForm(formdata=None), extend=forms.get("extend") or ExtendForm(formdata=None),
        correction=forms.get("correction") or CorrectionForm(formdata=None),
        labels={"open": "提交留言", "rating_comment": "评价意见",
                **{action: t.label for action, t in flow.TRANSITIONS.items()}},
        flash_error=forms.get("error", ""), flash_ok=request.args.get("ok", ""),
        **_canned(case)), status


def _canned(case: Case) -> dict:
    """Knowledge-base answers for the reply box: matching the case, or staff's own search."""
    if g.user.role not in HANDLES:
        return {"canned": [], "kb": ""}
    kb = " ".join(request.args.get("kb", "").split())[:200]
    runtime = _runtime()
    try:
        found = canned.suggestions(runtime.knowledge, kb or case.description,
                                   runtime.settings.public_url)
    except Exception:  # noqa: BLE001 - the page works without suggestions
        log.exception("canned answers for %s failed", case.number)
        found = []
    return {"canned": found, "kb": kb}


def _act(number: str, form, name: str, apply: Callable, done: str = "已保存") -> object:
    """Validate `form` (CSRF included), run `apply(db, case)` in one transaction with an audit
    entry; errors come back on the case page (422), never a 500. The page then says what
    `apply` returned when that is text, else `done`."""
    if not form.validate_on_submit():
        errors = "；".join(e for field in form.errors.values() for e in field)
        if "csrf_token" in form.errors:
            errors = "页面已过期，请刷新后重试"
        return case_page(number, {name: form, "error": errors}, status=422)
    try:
        with _runtime().sessionmaker.begin() as db:
            case = _case_for(db, number)
            said = apply(db, case)
            staff_service.audit(db, g.user.username, name, number,
                                {k: v for k, v in form.data.items() if k != "csrf_token"},
                                request.remote_addr or "")
    except (flow.IllegalTransition, ValueError) as exc:
        return case_page(number, {name: form, "error": str(exc)}, status=422)
    return redirect(url_for("console.case_page", number=number,
                            ok=said if isinstance(said, str) else done))


@blueprint.post("/cases/<number>/reply")
@requires("handler")
def case_reply(number: str):
    form = ReplyForm()
    if request.form.get("preview") and form.validate_on_submit():
        with _runtime().sessionmaker() as db:
            case = _case_for(db, number)
            text = delivery.reply_text(case, CaseMessage(kind="text", content=form.text.data))
        return case_page(number, {"reply": form}, preview=text)
    sent: list[int] = []

    def apply(db, case):
        if case.case_class == flow.DISCLOSURE:
            if form.outcome.data not in OUTCOMES:
                raise ValueError("依申请公开请选择办理结果（计入年度报告表三）")
            case.disclosure = {**(case.disclosure or {}), "outcome": form.outcome.data}
        sent.append(delivery.add_reply(db, case, form.text.data, f"staff:{g.user.username}").id)
        return "答复已保存，正在发送给用户"

    response = _act(number, form, "reply", apply)
    if sent:  # after the commit: WeChat's API is not called inside a transaction
        _runtime().submit(delivery.deliver, _runtime(), sent[0])
    return response


@blueprint.post("/cases/<number>/note")
@requires("handler")
def case_note(number: str):
    form = NoteForm()
    return _act(number, form, "note", lambda db, case: case_service.apply(
        db, case, "note", f"staff:{g.user.username}", text=form.text.data), done="备注已保存")


@blueprint.post("/cases/<number>/assign")
@requires("supervisor")
def case_assign(number: str):
    form = AssignForm()

    def apply(db, case):
        moving = bool(case.department) and case.department != form.department.data.strip()
        if moving and not (form.reason.data or "").strip():
            raise ValueError("改派需要填写原因")
        case_service.apply(db, case, "transfer" if moving else "assign",
                           f"staff:{g.user.username}", text=(form.reason.data or "").strip(),
                           data={"from": case.department, "to": form.department.data.strip(),
                                 "assignee": (form.assignee.data or "").strip()})
        case.department = form.department.data.strip()
        case.assignee = (form.assignee.data or "").strip()
        if case.state == flow.NEW:
            case_service.apply(db, case, "accept", f"staff:{g.user.username}")
        return "已改派" if moving else "已派单"

    return _act(number, form, "assign", apply)


@blueprint.post("/cases/<number>/close")
@requires("handler")
def case_close(number: str):
    return _act(number, ActionForm(), "close", lambda db, case: case_service.apply(
        db, case, "close", f"staff:{g.user.username}"), done="已办结")


@blueprint.post("/cases/<number>/extend")
@requires("handler")
def case_extend(number: str):
    form = ExtendForm()

    def apply(db, case):
        new = case_service.extend(db, case, form.days.data, f"staff:{g.user.username}",
                                  form.reason.data)
        delivery.add_notice(db, case, f"您的申请因{form.reason.data.strip()}，答复期限依法延长至"
                                      f"{new:%Y年%m月%d日}。", f"staff:{g.user.username}")
        return f"已延期至 {new:%Y-%m-%d}"

    return _act(number, form, "extend", apply)


@blueprint.post("/cases/<number>/correction")
@requires("handler")
def case_correction(number: str):
    form = CorrectionForm()

    def apply(db, case):
        case_service.request_correction(db, case, f"staff:{g.user.username}", form.what.data)
        delivery.add_notice(db, case, f"您的政府信息公开申请需要补正：{form.what.data.strip()}\n"
                                      f"请回复“补正 {case.number}：补正内容”。",
                            f"staff:{g.user.username}")
        return "已发出补正通知"

    return _act(number, form, "correction", apply)


# -- exports ------------------------------------------------------------------------------
EXPORT_LIMIT = 200_000
EXPORT_COLUMNS = ("编号", "类型", "状态", "承办部门", "承办人", "收到时间", "答复期限", "超期",
                  "首次答复", "答复时间", "办结时间", "评价", "联系人", "联系电话", "内容")


def _export_rows():
    vault = _runtime().vault
    with _runtime().sessionmaker() as db:
        for case in db.scalars(_filtered(request.args).order_by(Case.deadline, Case.id)
                               .limit(EXPORT_LIMIT)):
            name, phone = vault.open(case.contact_name_enc), vault.open(case.contact_phone_enc)
            if not _may_see_personal_data(case):
                name, phone = mask_name(name), mask_phone(phone) if phone else ""
            yield (case.number, case.case_class, case.state, case.department, case.assignee,
                   shown(case.received_at), case.deadline.isoformat(), "是" if case.overdue else "",
                   shown(case.first_reply_at), shown(case.answered_at), shown(case.closed_at),
                   case.rating, name, phone, _cell(case.description))


def _cell(text: str) -> str:
    """Text a spreadsheet will not run as a formula (=, +, -, @ at the start)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _audit_export(kind: str) -> None:
    _filtered(request.args)  # a bad filter is a 400 before anything is streamed
    with _runtime().sessionmaker.begin() as db:
        staff_service.audit(db, g.user.username, "export", kind, dict(request.args),
                            request.remote_addr or "")


@blueprint.get("/export.csv")
@requires("viewer")
def export_csv():
    _audit_export("csv")
    def lines():  # stream_with_context keeps the request (and g.user) while streaming
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        yield "\ufeff" + out.getvalue()  # a BOM: Excel opens UTF-8 as such
        for row in _export_rows():
            out.seek(0)
            out.truncate()
            writer.writerow(row)
            yield out.getvalue()

    name = f"cases-{utcnow():%Y%m%d-%H%M}.csv"
    return Response(stream_with_context(lines()), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


@blueprint.get("/export.xlsx")
@requires("viewer")
def export_xlsx():
    _audit_export("xlsx")
    book = Workbook(write_only=True)
    sheet = book.create_sheet("留言")
    sheet.append(EXPORT_COLUMNS)
    for row in _export_rows():
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    name = f"cases-{utcnow():%Y%m%d-%H%M}.xlsx"
    return Response(out.getvalue(), headers={"Content-Disposition": f"attachment; filename={name}"},
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# -- figures ------------------------------------------------------------------------------
@blueprint.get("/dashboard")
@requires("viewer")
def dashboard():
    department = g.user.department if g.user.role == "handler" else None
    with _runtime().sessionmaker() as db:
        board = stats.dashboard(db, department=department)
    return render_template("console/dashboard.html", board=board, bars=bars)


def bars(values: dict[str, int | float], width: int = 520, row: int = 22) -> Markup:
    """A horizontal bar chart as inline SVG (labels escaped; no script, no external file)."""
    top = max(values.values(), default=0) or 1
    label_width, parts = 110, []
    for n, (label, value) in enumerate(values.items()):
        y = n * row
        length = (width - label_width - 60) * value / top
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="13">{escape(str(label))}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{length:.1f}" height="{row - 8}" '
            f'fill="#b22"></rect>'
            f'<text x="{label_width + length + 6:.1f}" y="{y + 15}" font-size="13">'
            f"{escape(str(value))}</text>")
    height = max(row * len(values), row)
    return Markup(f'<svg role="img" viewBox="0 0 {width} {height}" width="100%" '
                  f'style="max-width:{width}px">{"".join(parts)}</svg>')


# -- bulk actions (督办) --------------------------------------------------------------------
MAX_BULK = 200


@blueprint.post("/bulk")
@requires("supervisor")
def bulk():
    form = BulkForm()
    numbers = [n.strip() for n in request.form.getlist("case")][:MAX_BULK]
    if not form.validate_on_submit() or not numbers:
        why = "页面已过期，请刷新后重试" if "csrf_token" in form.errors else "请先勾选留言"
        return redirect(url_for("console.inbox", error=why))
    if form.action.data == "assign" and not (form.department.data or "").strip():
        return redirect(url_for("console.inbox", error="派单需要填写部门"))
    done, skipped = [], []
    actor = f"staff:{g.user.username}"
    for number in numbers:
        try:
            with _runtime().sessionmaker.begin() as db:
                case = db.scalars(select(Case).where(Case.number == number)).first()
                if case is None:
                    raise ValueError("不存在")
                if form.action.data == "assign":
                    department = form.department.data.strip()
                    action = "transfer" if case.department and case.department != department \
                        else "assign"
                    case_service.apply(db, case, action, actor,
                                       text=(form.reason.data or "").strip() or "批量派单",
                                       data={"from": case.department, "to": department})
                    case.department = department
                else:
                    case_service.apply(db, case, "remind", actor,
                                       text=(form.reason.data or "").strip() or "督办催办")
                    case.reminded_at = utcnow()
                staff_service.audit(db, g.user.username, f"bulk_{form.action.data}", number,
                                    {"department": form.department.data or ""},
                                    request.remote_addr or "")
            done.append(number)
        except (flow.IllegalTransition, ValueError) as exc:
            skipped.append(f"{number}（{exc}）")
    message = f"已处理 {len(done)} 件"
    if skipped:
        message += "；未处理：" + "、".join(skipped[:10])
    return redirect(url_for("console.inbox", ok=message))


# -- knowledge -----------------------------------------------------------------------------
def _item_yaml(item) -> str:
    """An item as the YAML staff edit (the shape of one entry of a content/data file)."""
    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if v not in (None, "", [], ())}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    data = {"slug": item.slug, **content_service.item_row(item)}
    return yaml.dump(clean(data), Dumper=_LiteralDumper, allow_unicode=True, sort_keys=False,
                     width=100)


class _LiteralDumper(yaml.SafeDumper):
    pass


_LiteralDumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


@blueprint.get("/knowledge")
@requires("viewer")
def knowledge():
    with _runtime().sessionmaker() as db:
        rows = list(db.scalars(select(KnowledgeItem).order_by(KnowledgeItem.category,
                                                              KnowledgeItem.slug)))
        db.expunge_all()
    return render_template("console/knowledge.html", rows=rows, categories=CATEGORIES,
                           can_edit=RANK[g.user.role] >= RANK["supervisor"])


@blueprint.route("/knowledge/<slug>", methods=["GET", "POST"])
@requires("supervisor")
def knowledge_item(slug: str):
    form = ItemForm()
    problems, preview = [], None
    if request.method == "GET":
        with _runtime().sessionmaker() as db:
            row = content_service.get_item(db, slug)
            text = _item_yaml(content_service.to_item(row)) if row is not None else \
                NEW_ITEM.replace("SLUG", slug)
        form.text.data = text
    elif form.validate_on_submit():
        item, problems = parse_item(form.text.data)
        if item is not None and item.slug != slug:
            problems = [f"slug 须为 {slug}（改 slug 请新建条目并归档旧的）"]
        elif item is not None and request.form.get("preview"):
            preview = render_markdown(item.body)
        elif item is not None:
            with _runtime().sessionmaker.begin() as db:
                outcome = content_service.save_item(db, item)
                staff_service.audit(db, g.user.username, f"knowledge_{outcome}", slug, {},
                                    request.remote_addr or "")
            return redirect(url_for("console.knowledge", ok=f"{slug}：{SAVED[outcome]}"))
    else:
        problems = ["页面已过期，请刷新后重试"] if "csrf_token" in form.errors else \
            [e for errors in form.errors.values() for e in errors]
    status = 422 if problems else 200
    return render_template("console/knowledge_item.html", form=form, slug=slug,
                           problems=[str(p) for p in problems], preview=preview,
                           archive=ActionForm(formdata=None)), status


@blueprint.post("/knowledge/<slug>/archive")
@requires("supervisor")
def knowledge_archive(slug: str):
    if not ActionForm().validate_on_submit():
        abort(400)
    with _runtime().sessionmaker.begin() as db:
        done = content_service.archive_item(db, slug)
        if done:
            staff_service.audit(db, g.user.username, "knowledge_archive", slug, {},
                                request.remote_addr or "")
    return redirect(url_for("console.knowledge", ok=f"{slug}：已归档" if done else
                            f"{slug}：不是在用的条目"))


SAVED = {"created": "已新建", "updated": "已保存，问答将在2秒内更新", "unchanged": "没有变化"}
NEW_ITEM = """slug: SLUG
category: policy
title: 标题
summary: 一两句话的简要回答。
body: |
  正文（Markdown）。
source: 来源文件名称、文号和日期
keywords: [关键词]
questions:
- 用户可能怎么问
"""

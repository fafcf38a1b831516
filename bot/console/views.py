"""Console views: login, logout, the case inbox."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import or_, select

from bot.console.forms import LoginForm, LogoutForm
from bot.db import utcnow
from bot.models import Case
from bot.models.staff import ROLES, StaffUser
from bot.services import case_flow as flow
from bot.services import staff as staff_service

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
    app.register_blueprint(blueprint)


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


@blueprint.get("/")
@requires("viewer")
def inbox():
    args = request.args
    query = select(Case)
    if g.user.role == "handler":
        query = query.where(Case.department == g.user.department)
    state = args.get("state", "")
    if state in flow.STATES:
        query = query.where(Case.state == state)
    case_class = args.get("class", "")
    if case_class in flow.CLASSES:
        query = query.where(Case.case_class == case_class)
    if args.get("overdue") == "1":
        query = query.where(Case.overdue.is_(True), Case.state.in_(flow.OPEN_STATES))
    text = args.get("q", "").strip()[:100]
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(Case.number.like(pattern, escape="\\"),
                                Case.description.like(pattern, escape="\\")))
    query = query.order_by(Case.deadline, Case.id).limit(PAGE_SIZE)
    today = utcnow().date()
    with _runtime().sessionmaker() as db:
        rows = list(db.scalars(query))
    return render_template("console/inbox.html", cases=rows, today=today, states=flow.STATES,
                           classes=flow.CLASSES, args=args, roles=ROLES,
                           logout=LogoutForm())


@blueprint.app_errorhandler(403)
def forbidden(_exc):
    if request.path.startswith("/console/"):
        return render_template("console/error.html", message="您的角色无权访问此页面。"), 403
    return "forbidden", 403

"""The console's people and access: accounts, login with throttling, CSRF, sessions that
expire, every route refusing anonymous users and lower roles, inert case text, the audit log."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import cli
from bot.models import AuditEntry, Case
from bot.services import cases as case_service
from bot.services import staff as staff_service

PASSWORD = "correct-horse-7"
# Every console route and the least role that may use it (GET unless marked); {n} is a case
# of the handler li's department.
ROUTES = [("/console/", "viewer"), ("POST /console/logout", "viewer"),
          ("/console/export.csv", "viewer"), ("/console/export.xlsx", "viewer"),
          ("/console/dashboard", "viewer"), ("POST /console/bulk", "supervisor"),
          ("/console/knowledge", "viewer"), ("/console/knowledge/<slug>", "supervisor"),
          ("POST /console/knowledge/<slug>/archive", "supervisor"),
          ("/console/cases/{n}", "viewer"), ("POST /console/cases/{n}/reply", "handler"),
          ("POST /console/cases/{n}/note", "handler"), ("POST /console/cases/{n}/close", "handler"),
          ("POST /console/cases/{n}/assign", "supervisor"),
          ("POST /console/cases/{n}/extend", "handler"),
          ("POST /console/cases/{n}/correction", "handler")]
ROUTES += [("/console/report", "viewer"), ("/console/report.xlsx", "viewer"),
           ("/console/report/disputes/new", "supervisor"),
           ("POST /console/report/disputes/new", "supervisor"),
           ("/console/report/disputes/<dispute_id>", "supervisor")]
ROUTES += [("/console/pushes", "viewer"), ("/console/pushes/<push_id>", "viewer"),
           ("POST /console/pushes/create", "supervisor"),
           ("POST /console/pushes/dismiss", "supervisor"),
           ("POST /console/pushes/schedules", "supervisor"),
           ("POST /console/pushes/schedules/<schedule_id>", "supervisor"),
           ("POST /console/pushes/<push_id>/approve", "supervisor"),
           ("POST /console/pushes/<push_id>/send-now", "supervisor"),
           ("POST /console/pushes/<push_id>/cancel", "supervisor"),
           ("POST /console/pushes/<push_id>/preview", "supervisor")]


@pytest.fixture
def people(runtime):
    with runtime.sessionmaker.begin() as session:
        for name, role, department in (("admin", "admin", ""), ("boss", "supervisor", ""),
                                       ("li", "handler", "规划财务处"),
                                       ("wang", "handler", "开发指导处"),
                                       ("look", "viewer", "")):
            staff_service.create_user(session, name, PASSWORD, role, department=department)
        case, _ = case_service.open_case(session, case_service.Intake(
            "default", "oAccess", "依申请公开", "申请公开一份文件"), runtime.vault)
        case.department = "规划财务处"
        runtime.case_number = case.number
    return runtime


def csrf(client, path="/console/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def login(client, username, password=PASSWORD, next_=""):
    token = csrf(client)
    return client.post("/console/login" + (f"?next={next_}" if next_ else ""),
                       data={"username": username, "password": password, "csrf_token": token})


def audit(runtime, action):
    with runtime.sessionmaker() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_login_page_is_chinese_and_carries_a_csrf_token(client):
    page = client.get("/console/login")
    assert page.status_code == 200 and "工作人员登录" in page.get_data(as_text=True)
    assert 'name="csrf_token"' in page.get_data(as_text=True)


def test_login_without_csrf_is_refused(client, people):
    response = client.post("/console/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 401 and "刷新后重新登录" in response.get_data(as_text=True)
    assert client.get("/console/").status_code == 302  # still anonymous


def test_login_logout_and_the_audit_log(client, people):
    response = login(client, "admin")
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "工作台" in client.get("/console/").get_data(as_text=True)
    assert client.post("/console/logout", data={}).status_code == 400  # no CSRF token
    token = csrf(client, "/console/")
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/console/").status_code == 302
    assert [e.actor for e in audit(people, "login")] == ["admin"]
    assert [e.actor for e in audit(people, "logout")] == ["admin"]


def test_wrong_passwords_lock_the_account_and_say_nothing_of_who_exists(client, people):
    for _ in range(staff_service.MAX_FAILURES):
        response = login(client, "boss", "wrong-password-1")
        assert response.status_code == 401 and "用户名或密码错误" in response.get_data(as_text=True)
    locked = login(client, "boss")
    assert locked.status_code == 401 and "分钟后再试" in locked.get_data(as_text=True)
    unknown = login(client, "nobody", "whatever-123")
    assert "用户名或密码错误" in unknown.get_data(as_text=True)
    assert len(audit(people, "login_failed")) == staff_service.MAX_FAILURES + 1


@pytest.mark.parametrize("route, minimum", ROUTES)
def test_every_route_refuses_anonymous_users_and_lower_roles(client, people, route, minimum):
    method, _, path = route.rpartition(" ")
    method = method or "GET"
    path = path.format(n=people.case_number).replace("<slug>", "some-item")
    anonymous = client.open(path, method=method)
    assert anonymous.status_code == 302 and "/console/login" in anonymous.headers["Location"]
    rank = ["viewer", "handler", "supervisor", "admin"]
    users = {"viewer": "look", "handler": "li", "supervisor": "boss", "admin": "admin"}
    for role in rank:
        client.delete_cookie("session")
        login(client, users[role])
        data = {"csrf_token": csrf(client, "/console/")} if method == "POST" else None
        response = client.open(path, method=method, data=data)
        response.get_data()  # a streamed export finishes (and closes) before the next login
        allowed = rank.index(role) >= rank.index(minimum)
        to_login = (response.status_code == 302
                    and "/console/login" in response.headers["Location"]
                    and not path.endswith("/logout"))  # logging out lands there too
        refused = response.status_code == 403 or to_login
        assert refused != allowed, (role, path, response.status_code)


def test_the_access_table_covers_every_console_route(app):
    covered = {route.rpartition(" ")[2].replace("{n}", "<number>") for route, _ in ROUTES}
    console = {rule.rule for rule in app.url_map.iter_rules()
               if rule.rule.startswith("/console/") and rule.endpoint != "console.login"
               and rule.endpoint != "console.static"}
    assert console <= covered, console - covered


def test_a_handler_sees_only_their_departments_cases(client, people):
    with people.sessionmaker.begin() as session:
        for text, department in (("财务处的件", "规划财务处"), ("指导处的件", "开发指导处")):
            case, _ = case_service.open_case(session, case_service.Intake(
                "default", "o1", "咨询", text), people.vault)
            case.department = department
    login(client, "li")
    page = client.get("/console/").get_data(as_text=True)
    assert "财务处的件" in page and "指导处的件" not in page
    client.delete_cookie("session")
    login(client, "boss")
    page = client.get("/console/").get_data(as_text=True)
    assert "财务处的件" in page and "指导处的件" in page


def test_case_text_is_rendered_inert(client, people):
    with people.sessionmaker.begin() as session:
        case_service.open_case(session, case_service.Intake(
            "default", "o1", "投诉", '<script>alert("x")</script><img src=x onerror=alert(1)>'),
            people.vault)
    login(client, "admin")
    page = client.get("/console/").get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "<img" not in page


def test_inbox_filters_and_search(client, people):
    with people.sessionmaker.begin() as session:
        for text, case_class in (("补助没发", "投诉"), ("政策咨询", "咨询")):
            case_service.open_case(session, case_service.Intake("default", "o2", case_class,
                                                                text), people.vault)
        number = session.scalars(select(Case.number)).first()
    login(client, "admin")
    only = client.get("/console/?class=投诉").get_data(as_text=True)
    assert "补助没发" in only and "政策咨询" not in only
    assert number in client.get(f"/console/?q={number}").get_data(as_text=True)
    assert "没有符合条件" in client.get("/console/?q=%25_%5C").get_data(as_text=True)
    assert client.get("/console/?state=bogus&class=bogus&overdue=x").status_code == 200


def test_sessions_expire_when_idle(client, people):
    login(client, "admin")
    with client.session_transaction() as session:
        session["seen"] -= 3 * 3600
    assert client.get("/console/").status_code == 302


def test_next_never_leaves_the_console(client, people):
    assert login(client, "admin", next_="//evil.example/").headers["Location"].endswith(
        "/console/")
    client.delete_cookie("session")
    assert login(client, "admin", next_="/console/?state=办理中").headers["Location"] \
        .startswith("/console/?")


def test_user_add_from_the_command_line(runtime, settings, monkeypatch):
    monkeypatch.setenv("HOTLINE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HOTLINE_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("HOTLINE_USER_PASSWORD", PASSWORD)
    runner = CliRunner()
    result = runner.invoke(cli, ["user", "add", "zhang", "--role", "admin"])
    assert result.exit_code == 0 and "管理员" in result.output
    assert "已存在" in runner.invoke(cli, ["user", "add", "zhang", "--role", "admin"]).output
    assert "部门" in runner.invoke(cli, ["user", "add", "zhao", "--role", "handler"]).output
    monkeypatch.setenv("HOTLINE_USER_PASSWORD", "short")
    assert "至少" in runner.invoke(cli, ["user", "add", "qian", "--role", "viewer"]).output
    prompted = runner.invoke(cli, ["user", "add", "sun", "--role", "viewer"],
                             env={"HOTLINE_USER_PASSWORD": ""},
                             input=f"{PASSWORD}\n{PASSWORD}\n")
    assert prompted.exit_code == 0, prompted.output


def test_the_inbox_pages_by_deadline_with_a_cursor(client, people, monkeypatch):
    from bot.console import views

    monkeypatch.setattr(views, "PAGE_SIZE", 3)
    with people.sessionmaker.begin() as session:
        for n in range(7):
            case_service.open_case(session, case_service.Intake(
                "default", f"o{n}", "咨询", f"第{n}件留言"), people.vault)
    login(client, "admin")
    seen, url, pages = [], "/console/", 0
    while url:
        page = client.get(url).get_data(as_text=True)
        seen += re.findall(r">(\d{8}-\d{4})</a>", page)
        found = re.search(r'href="([^"]+)">下一页', page)
        url = found.group(1).replace("&amp;", "&") if found else ""
        pages += 1
    assert pages == 3 and len(seen) == len(set(seen)) == 8  # 7 + the access test's case
    assert client.get("/console/?after=garbage").status_code == 200


def test_exports_mask_personal_data_unless_the_role_handles_the_case(client, people):
    import csv
    import io

    from openpyxl import load_workbook

    with people.sessionmaker.begin() as session:
        case, _ = case_service.open_case(session, case_service.Intake(
            "default", "oExport", "投诉", "=HYPERLINK(\"http://x\")补助没发",
            contact_name="李四", contact_phone="13800138000"), people.vault)
        case.department = "规划财务处"
    login(client, "look")
    masked = client.get("/console/export.csv?class=投诉")
    assert masked.status_code == 200 and masked.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(masked.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "编号" and rows[1][12:14] == ["李*", "138****8000"]
    assert rows[1][14].startswith("'=")  # never a formula in the spreadsheet
    client.delete_cookie("session")
    login(client, "li")
    book = load_workbook(io.BytesIO(client.get("/console/export.xlsx?class=投诉").data))
    values = [list(r) for r in book.active.iter_rows(values_only=True)]
    assert values[1][12:14] == ["李四", "13800138000"]
    assert [e.target for e in audit(people, "export")] == ["csv", "xlsx"]


def test_supervisors_assign_and_remind_in_bulk(client, people):
    with people.sessionmaker.begin() as session:
        numbers = []
        for n in range(3):
            case, _ = case_service.open_case(session, case_service.Intake(
                "default", f"oBulk{n}", "咨询", f"批量{n}"), people.vault)
            numbers.append(case.number)
        done, _ = case_service.open_case(session, case_service.Intake(
            "default", "oBulkDone", "咨询", "已撤回的"), people.vault)
        case_service.apply(session, done, "withdraw", "subscriber")
    login(client, "boss")
    page = client.get("/console/").get_data(as_text=True)
    assert 'form="bulk"' in page and "对勾选的留言执行" in page
    token = re.search(r'id="bulk".*?name="csrf_token" type="hidden" value="([^"]+)"', page,
                      re.S).group(1)
    response = client.post("/console/bulk", data={
        "csrf_token": token, "action": "assign", "department": "规划财务处", "reason": "",
        "case": numbers + [done.number]})
    message = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已处理 3 件" in message and done.number in message
    with people.sessionmaker() as session:
        departments = {c.number: c.department for c in session.scalars(select(Case))}
    assert all(departments[n] == "规划财务处" for n in numbers)
    missing = client.post("/console/bulk", data={"csrf_token": token, "action": "assign",
                                                 "case": numbers})
    assert "需要填写部门" in client.get(missing.headers["Location"]).get_data(as_text=True)
    client.post("/console/bulk", data={"csrf_token": token, "action": "remind",
                                       "case": numbers[:1]})
    assert [e.target for e in audit(people, "bulk_remind")] == numbers[:1]
    client.delete_cookie("session")
    login(client, "look")
    assert 'form="bulk"' not in client.get("/console/").get_data(as_text=True)

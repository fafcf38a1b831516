"""The case page: read, reply (previewed, then delivered to the simulated subscriber),
notes, 派单/改派 with a reason, 办结, 依申请公开 extension and 补正; who may see personal data
and do what."""

from __future__ import annotations

import time

import pytest
import requests
from sqlalchemy import select

from bot.models import Case, CaseEvent, CaseMessage
from bot.services import case_flow as flow
from bot.services import cases as case_service
from bot.services import content as content_service
from bot.services import staff as staff_service
from bot.simulator.client import SubscriberClient
from content.schema import load_catalog
from tests.test_console_access import PASSWORD, csrf, login


@pytest.fixture
def office(runtime):
    with runtime.sessionmaker.begin() as session:
        for name, role, department in (("boss", "supervisor", ""), ("li", "handler", "财务处"),
                                       ("wang", "handler", "指导处"), ("look", "viewer", "")):
            staff_service.create_user(session, name, PASSWORD, role, department=department)
    return runtime


def new_case(runtime, case_class="咨询", department="财务处", openid="oConsole",
             text="村里的产业补助什么时候发？") -> str:
    with runtime.sessionmaker.begin() as session:
        case, _ = case_service.open_case(session, case_service.Intake(
            "default", openid, case_class, text, contact_name="李四",
            contact_phone="13800138000"), runtime.vault)
        case.department = department
        return case.number


def case_row(runtime, number) -> Case:
    with runtime.sessionmaker() as session:
        return session.scalars(select(Case).where(Case.number == number)).one()


def post(client, path, **data):
    token = csrf(client, path.rsplit("/", 1)[0])
    return client.post(path, data={"csrf_token": token, **data})


def test_reply_is_previewed_then_delivered_to_the_subscriber(client, live, office, account):
    phone = SubscriberClient(live.url, account, "oConsole")
    phone.say("你好")  # the 48-hour window is open
    number = new_case(office)
    login(client, "li")
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "13800138000" in page and "李四" in page  # the handler sees the contact
    preview = post(client, f"/console/cases/{number}/reply", text="下周一发放。", preview="1")
    assert "用户将收到" in preview.get_data(as_text=True) and f"编号 {number}" in \
        preview.get_data(as_text=True)
    assert case_row(office, number).state == flow.NEW  # a preview changes nothing
    sent = post(client, f"/console/cases/{number}/reply", text="下周一发放。")
    assert sent.status_code == 302 and "ok=" in sent.headers["Location"]
    deadline = time.time() + 5
    while time.time() < deadline:
        with office.sessionmaker() as session:
            reply = session.scalars(select(CaseMessage).where(
                CaseMessage.direction == "out")).one()
        if reply.delivery == "sent":
            break
        time.sleep(0.05)
    assert reply.delivery == "sent"
    calls = requests.get(f"{live.url}/sim/api/_calls", params={"touser": "oConsole"},
                         timeout=5).json()
    assert any("下周一发放" in c["body"].get("text", {}).get("content", "") for c in calls)
    assert case_row(office, number).state == flow.ANSWERED
    assert "已送达" in client.get(f"/console/cases/{number}").get_data(as_text=True)


def test_viewers_see_masked_data_and_no_forms(client, office):
    number = new_case(office)
    login(client, "look")
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "13800138000" not in page and "138****8000" in page and "李*" in page
    assert "发送答复" not in page
    assert post(client, f"/console/cases/{number}/reply", text="x").status_code == 403


def test_a_handler_of_another_department_may_not_open_it(client, office):
    number = new_case(office)
    login(client, "wang")
    assert client.get(f"/console/cases/{number}").status_code == 403
    assert client.get("/console/cases/20200101-0001").status_code == 404


def test_transfer_needs_a_reason_and_is_recorded(client, office):
    number = new_case(office)
    login(client, "boss")
    refused = post(client, f"/console/cases/{number}/assign", department="指导处", reason="")
    assert refused.status_code == 422 and "改派需要填写原因" in refused.get_data(as_text=True)
    done = post(client, f"/console/cases/{number}/assign", department="指导处",
                assignee="王", reason="属于指导处职责")
    assert done.status_code == 302
    case = case_row(office, number)
    assert (case.department, case.assignee, case.state) == ("指导处", "王", flow.HANDLING)
    with office.sessionmaker() as session:
        actions = [e.action for e in session.scalars(select(CaseEvent).order_by(CaseEvent.id))]
    assert "transfer" in actions
    login(client, "li")  # a handler may not reassign (nor, now, even see it)
    token = csrf(client, "/console/")
    assert client.post(f"/console/cases/{number}/assign",
                       data={"csrf_token": token, "department": "x"}).status_code == 403


def test_notes_close_and_illegal_actions_are_explained(client, office):
    number = new_case(office)
    login(client, "li")
    assert post(client, f"/console/cases/{number}/note", text="已电话联系").status_code == 302
    early = post(client, f"/console/cases/{number}/close")
    assert early.status_code == 422 and "不能办结" in early.get_data(as_text=True)
    post(client, f"/console/cases/{number}/reply", text="已答复。")
    assert post(client, f"/console/cases/{number}/close").status_code == 302
    assert case_row(office, number).state == flow.CLOSED
    empty = post(client, f"/console/cases/{number}/note", text="")
    assert empty.status_code == 422 and "请填写备注" in empty.get_data(as_text=True)


def test_disclosure_extension_and_correction_notify_the_applicant(client, office):
    number = new_case(office, case_class=flow.DISCLOSURE, text="申请公开资金分配表")
    login(client, "li")
    before = case_row(office, number).deadline
    assert post(client, f"/console/cases/{number}/extend", days="25",
                reason="需征求意见").status_code == 422
    assert post(client, f"/console/cases/{number}/extend", days="10",
                reason="需征求第三方意见").status_code == 302
    assert case_row(office, number).deadline > before
    again = post(client, f"/console/cases/{number}/extend", days="5", reason="再延")
    assert again.status_code == 422 and "只能延期一次" in again.get_data(as_text=True)
    assert post(client, f"/console/cases/{number}/correction",
                what="请写明文件名称").status_code == 302
    with office.sessionmaker() as session:
        notices = [m.content for m in session.scalars(select(CaseMessage).where(
            CaseMessage.kind == "notice"))]
    assert any("延长至" in n for n in notices) and any(f"补正 {number}" in n for n in notices)


def test_forms_without_csrf_are_refused(client, office):
    number = new_case(office)
    login(client, "li")
    response = client.post(f"/console/cases/{number}/note", data={"text": "x"})
    assert response.status_code == 422 and "页面已过期" in response.get_data(as_text=True)
    with office.sessionmaker() as session:
        assert session.scalars(select(CaseEvent).where(CaseEvent.action == "note")).first() \
            is None


def test_the_case_page_offers_knowledge_answers_to_insert_and_a_search(client, office):
    with office.sessionmaker.begin() as session:
        content_service.load(session, load_catalog().items)
    office.knowledge.refresh(force=True)
    number = new_case(office, text="贫困户是怎么认定的，要什么条件")
    login(client, "li")
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "知识库参考答复（3 条，按留言内容匹配）" in page and "插入答复框" in page
    assert "来源：" in page and "/p/criteria-" in page
    searched = client.get(f"/console/cases/{number}?kb=雨露计划").get_data(as_text=True)
    assert "搜索“雨露计划”" in searched
    hostile = client.get(f"/console/cases/{number}?kb=<script>alert(1)</script>")
    assert hostile.status_code == 200 and "<script>alert(1)" not in hostile.get_data(as_text=True)
    login(client, "look")  # a viewer does not reply, so gets no suggestions
    assert "知识库参考答复" not in client.get(f"/console/cases/{number}").get_data(as_text=True)

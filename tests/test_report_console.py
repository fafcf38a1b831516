"""The annual report in the console: the page (year picker, Table 3 with its check, Table 4,
the figures, printable), the workbook checked cell by cell, recording and changing reviews and
lawsuits (audited), and bad input: a year that is not one, an invalid proceeding."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.db import utcnow
from bot.models import AuditEntry, DisclosureDispute
from bot.services import report as report_service
from bot.services import report_disputes as disputes
from bot.services import report_xlsx
from bot.services import staff as staff_service
from bot.services.report import COLUMNS
from bot.services.report_disputes import DisputeInput
from tests.test_console_access import PASSWORD, csrf, login
from tests.test_report_table3 import answer, request_


@pytest.fixture
def office(runtime):
    """A viewer, a supervisor; in 2026 two requests (one carried into 2027), a review."""
    with runtime.sessionmaker.begin() as s:
        staff_service.create_user(s, "look", PASSWORD, "viewer")
        staff_service.create_user(s, "boss", PASSWORD, "supervisor")
        firm = request_(s, runtime.vault, dt.datetime(2026, 3, 1), applicant="商业企业")
        answer(s, firm, dt.datetime(2026, 3, 20), "partial")
        request_(s, runtime.vault, dt.datetime(2026, 12, 29))
        disputes.record(s, DisputeInput("review", dt.date(2026, 4, 1), "upheld",
                                        dt.date(2026, 6, 1), firm.number, "复议维持<原>决定"),
                        "boss")
        runtime.firm = firm.number
    return runtime


def test_the_report_page_shows_the_tables_and_the_figures(client, office):
    login(client, "look")
    page = client.get("/console/report?year=2026")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "2026年政府信息公开工作年度报告" in html and "@media print" in html
    assert "三、收到和处理政府信息公开申请情况" in html and "法人或其他组织" in html
    assert "核对 一＋二＝三（七）＋四" in html and "通过（相符）" in html
    assert "四、政府信息公开行政复议、行政诉讼情况" in html
    assert "行政诉讼（复议后起诉）" in html and "结果维持" in html and "尚未审结" in html
    assert "复议维持&lt;原&gt;决定" in html and office.firm in html  # escaped
    assert "按期答复率" in html and "满意率" in html and "主动公开知识库条目" in html
    assert "2026年共收到群众留言2件" in html
    assert "登记复议或诉讼" not in html and "修改" not in html  # a viewer only reads
    assert "/console/report.xlsx?year=2026" in html


def test_the_year_picker_defaults_to_last_year(client, office):
    login(client, "look")
    html = client.get("/console/report").get_data(as_text=True)
    last = utcnow().year - 1
    assert f"{last}年政府信息公开工作年度报告" in html and f'value="{last}"' in html
    assert "年度报告" in client.get("/console/").get_data(as_text=True)  # the nav link


@pytest.mark.parametrize("year", ["abc", "1999", "2101", "2026x", "９" * 40])
@pytest.mark.parametrize("path", ["/console/report", "/console/report.xlsx"])
def test_a_year_that_is_not_one_is_a_clear_error(client, office, path, year):
    login(client, "look")
    response = client.get(path, query_string={"year": year})
    assert response.status_code == 400
    assert "年份须为2000至2100之间的整数" in response.get_data(as_text=True)
    with office.sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "export")) == 0


def test_the_workbook_cell_by_cell_and_audited(client, office):
    login(client, "look")
    response = client.get("/console/report.xlsx?year=2026")
    assert response.status_code == 200 and response.mimetype == report_xlsx.MIMETYPE
    assert "annual-report-2026.xlsx" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["表三 申请情况", "表四 复议诉讼", "复议诉讼明细", "办理情况",
                               "主动公开条目"]
    t3 = book["表三 申请情况"]
    assert t3["A1"].value == "三、收到和处理政府信息公开申请情况（2026年）"
    assert [c.value for c in t3[2]] == ["申请人情况", "自然人", "法人或其他组织", None, None,
                                       None, None, "总计"]
    assert [c.value for c in t3[3]][2:7] == list(COLUMNS[1:])
    assert "C2:G2" in {str(r) for r in t3.merged_cells.ranges}
    assert [c.value for c in t3[4]] == ["一、本年新收政府信息公开申请数量", 1, 1, 0, 0, 0, 0, 2]
    assert [c.value for c in t3[5]] == ["二、上年结转政府信息公开申请数量", 0, 0, 0, 0, 0, 0, 0]
    assert t3["A7"].value == "三、（二）部分公开" and t3["C7"].value == 1 and t3["H7"].value == 1
    last = t3.max_row
    assert t3.cell(last - 1, 1).value == "四、结转下年度继续办理"
    assert t3.cell(last - 1, 2).value == 1 and t3.cell(last - 1, 8).value == 1
    assert [t3.cell(last, 1).value, t3.cell(last, 2).value] == ["核对：一＋二＝三（七）＋四",
                                                                "相符"]
    t4 = book["表四 复议诉讼"]
    assert [t4.cell(2, c).value for c in (1, 6, 11)] == [
        "行政复议", "行政诉讼（未经复议直接起诉）", "行政诉讼（复议后起诉）"]
    assert [c.value for c in t4[3]] == ["结果维持", "结果纠正", "其他结果", "尚未审结",
                                       "总计"] * 3
    assert [c.value for c in t4[4]] == [1, 0, 0, 0, 1] + [0] * 10
    detail = book["复议诉讼明细"]
    assert [c.value for c in detail[3]] == ["行政复议", office.firm, "2026-04-01", "维持",
                                           "2026-06-01", "结果维持", "复议维持<原>决定", "boss"]
    figures = book["办理情况"]
    assert [c.value for c in figures[2]] == ["类型", "收到", "答复", "按期答复"]
    assert [c.value for c in figures[8]] == ["依申请公开", 2, 1, 1]
    assert [c.value for c in figures[9]] == ["合计", 2, 1, 1]
    assert [figures["A11"].value, figures["B11"].value] == ["按期答复率", "100.0%"]
    items = book["主动公开条目"]
    assert [c.value for c in items[3]] == ["扶贫政策法规", 0, 0]
    with office.sessionmaker() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "export")).one()
    assert (entry.actor, entry.target, entry.detail) == ("look", "report.xlsx", {"year": 2026})


def post_dispute(client, path, **fields):
    data = {"csrf_token": csrf(client, "/console/report/disputes/new"), "kind": "review",
            "case_number": "", "filed_on": "2026-05-01", "result": "pending", "decided_on": "",
            "note": ""}
    return client.post(path, data={**data, **fields})


def test_a_supervisor_records_and_changes_a_proceeding(client, office):
    login(client, "boss")
    assert "登记复议或诉讼" in client.get("/console/report?year=2026").get_data(as_text=True)
    form = client.get("/console/report/disputes/new").get_data(as_text=True)
    assert "行政诉讼（未经复议直接起诉）" in form and 'type="date"' in form
    made = post_dispute(client, "/console/report/disputes/new", kind="suit_direct",
                        case_number=office.firm, note="起诉")
    assert made.status_code == 302 and "year=2026" in made.headers["Location"]
    with office.sessionmaker() as s:
        row = s.scalars(select(DisclosureDispute).where(
            DisclosureDispute.kind == "suit_direct")).one()
    assert (row.case_number, row.recorded_by, row.result) == (office.firm, "boss", "pending")
    page = client.get(f"/console/report/disputes/{row.id}").get_data(as_text=True)
    assert 'value="2026-05-01"' in page and "起诉" in page
    changed = post_dispute(client, f"/console/report/disputes/{row.id}", kind="suit_direct",
                           case_number=office.firm, result="corrected",
                           decided_on="2026-08-01", note="起诉")
    assert changed.status_code == 302 and "ok=" in changed.headers["Location"]
    html = client.get("/console/report?year=2026").get_data(as_text=True)
    assert "结果纠正" in html
    with office.sessionmaker() as s:
        assert s.get(DisclosureDispute, row.id).decided_on == dt.date(2026, 8, 1)
        actions = [e.action for e in s.scalars(select(AuditEntry).where(
            AuditEntry.actor == "boss", AuditEntry.action.like("dispute_%"))
            .order_by(AuditEntry.id))]
    assert actions == ["dispute_create", "dispute_create", "dispute_update"]


@pytest.mark.parametrize("fields, message", [
    ({"kind": ""}, "请选择类型"),
    ({"kind": "appeal"}, "请选择类型"),
    ({"filed_on": ""}, "请填写立案（申请）日期"),
    ({"filed_on": "2026/05/01"}, "立案（申请）日期格式不对"),
    ({"filed_on": "2026-05-01-extra"}, "立案日期格式不对"),
    ({"result": "upheld"}, "已审结的请填写审结日期"),
    ({"result": "upheld", "decided_on": "2026-04-01"}, "不能早于立案日期"),
    ({"result": "pending", "decided_on": "2026-06-01"}, "尚未审结的不填审结日期"),
    ({"result": "won"}, "请选择结果"),
    ({"case_number": "20990101-0001"}, "没有编号为 20990101-0001 的留言"),
    ({"case_number": "x" * 17}, "留言编号不超过16个字符"),
    ({"note": "长" * 1001}, "备注不超过1000字"),
    ({"csrf_token": ""}, "页面已过期"),
])
def test_an_invalid_proceeding_is_refused_and_nothing_written(client, office, fields, message):
    login(client, "boss")
    response = post_dispute(client, "/console/report/disputes/new", **fields)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    with office.sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(DisclosureDispute)) == 1
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action.like("dispute_%"))) == 1  # the fixture's record only
    # an edit refused the same way leaves the row as it was
    with office.sessionmaker() as s:
        first = s.scalars(select(DisclosureDispute)).one()
    again = post_dispute(client, f"/console/report/disputes/{first.id}", **fields)
    assert again.status_code == 422
    with office.sessionmaker() as s:
        assert s.get(DisclosureDispute, first.id).result == "upheld"


@pytest.mark.parametrize("dispute_id", ["999", "abc", "1.5", "9" * 30])
def test_an_unknown_proceeding_is_not_found(client, office, dispute_id):
    login(client, "boss")
    assert client.get(f"/console/report/disputes/{dispute_id}").status_code == 404


def test_an_unbalanced_table3_shows_the_difference(client, office, monkeypatch):
    real = report_service.table3

    def off_by_one(session, year):
        table = real(session, year)
        table.new["自然人"] += 1
        table.new["总计"] += 1
        return table

    monkeypatch.setattr(report_service, "table3", off_by_one)
    login(client, "look")
    html = client.get("/console/report?year=2026").get_data(as_text=True)
    assert "不符：自然人差+1，总计差+1" in html and "通过（相符）" not in html

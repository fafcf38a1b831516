"""The annual report beyond Table 3: Table 4 from the recorded reviews and lawsuits (year
boundaries, undecided ones), the checks on a proceeding as entered, the narrative figures from
crafted cases, the knowledge items disclosed by category, the workbook and the CLI."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.cli import cli
from bot.migrate import upgrade
from bot.models import AuditEntry, DisclosureDispute, KnowledgeItem
from bot.runtime import build_runtime
from bot.services import case_flow as flow
from bot.services import cases as case_service
from bot.services import delivery, report, report_xlsx
from bot.services import report_disputes as disputes
from bot.services.report_disputes import DisputeError, DisputeInput

TODAY = dt.date(2027, 6, 1)
D = dt.date


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, settings):
    """A runtime on SQLite, then on PostgreSQL (skipped without HOTLINE_TEST_PG_URL)."""
    if request.param == "sqlite":
        yield request.getfixturevalue("runtime")
        return
    url = request.getfixturevalue("pg_database_url")
    upgrade(url)
    runtime = build_runtime(settings.with_overrides(database_url=url))
    yield runtime
    runtime.close()


def add(session, kind, filed, result="pending", decided=None, **more):
    return disputes.record(session, DisputeInput(kind, filed, result, decided, **more), "boss",
                           today=TODAY)


def test_table4_counts_the_years_proceedings_by_result(db):
    with db.sessionmaker.begin() as s:
        add(s, "review", D(2025, 11, 1), "upheld", D(2026, 2, 1))  # 2025 undecided, 2026 维持
        add(s, "review", D(2026, 3, 1), "corrected", D(2026, 4, 1))
        add(s, "review", D(2025, 12, 31), "other", D(2026, 1, 1))  # decided on New Year's Day
        add(s, "suit_direct", D(2026, 12, 31))  # filed on the last day, still open
        add(s, "suit_after_review", D(2026, 6, 1), "other", D(2027, 1, 5))
        add(s, "review", D(2024, 1, 1), "upheld", D(2024, 5, 1))  # long done
        add(s, "suit_direct", D(2027, 1, 1), "upheld", D(2027, 2, 1))  # next year's
    with db.sessionmaker() as s:
        t2025, t2026, t2027 = (disputes.table4(s, year) for year in (2025, 2026, 2027))
    assert t2025.counts["review"] == {"upheld": 0, "corrected": 0, "other": 0, "pending": 2,
                                      "总计": 2}
    assert t2026.counts["review"] == {"upheld": 1, "corrected": 1, "other": 1, "pending": 0,
                                      "总计": 3}
    assert t2026.counts["suit_direct"] == {"upheld": 0, "corrected": 0, "other": 0,
                                           "pending": 1, "总计": 1}
    assert t2026.counts["suit_after_review"]["pending"] == 1  # decided only in 2027
    assert t2027.counts["suit_after_review"]["other"] == 1
    assert t2027.counts["suit_direct"] == {"upheld": 1, "corrected": 0, "other": 0,
                                           "pending": 1, "总计": 2}
    labels = [label for label, _ in t2026.rows()]
    assert labels == ["行政复议", "行政诉讼（未经复议直接起诉）", "行政诉讼（复议后起诉）"]
    assert t2026.rows()[0][1] == [1, 1, 1, 0, 3]


def test_recording_and_changing_a_proceeding_is_audited(db):
    with db.sessionmaker.begin() as s:
        case, _ = case_service.open_case(s, case_service.Intake(
            "default", "oD", flow.DISCLOSURE, "申请公开"), db.vault)
        dispute = add(s, "review", D(2026, 3, 1), case_number=case.number)
        number = case.number
    with db.sessionmaker.begin() as s:
        row = s.get(DisclosureDispute, dispute.id)
        changed = disputes.update(s, row, DisputeInput("review", D(2026, 3, 1), "corrected",
                                                       D(2026, 5, 1), number), "admin",
                                  today=TODAY)
        same = disputes.update(s, row, DisputeInput("review", D(2026, 3, 1), "corrected",
                                                    D(2026, 5, 1), number), "admin",
                               today=TODAY)
    assert changed and not same
    with db.sessionmaker() as s:
        entries = list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        row = s.get(DisclosureDispute, dispute.id)
    assert [(e.actor, e.action) for e in entries] == [("boss", "dispute_create"),
                                                     ("admin", "dispute_update")]
    assert entries[1].detail["before"]["result"] == "pending"
    assert entries[1].detail["after"]["decided_on"] == "2026-05-01"
    assert row.recorded_by == "boss" and row.result == "corrected"


@pytest.mark.parametrize("data, message", [
    (DisputeInput("appeal", D(2026, 3, 1)), "请选择类型"),
    (DisputeInput("review", D(2026, 3, 1), "maybe"), "请选择结果"),
    (DisputeInput("review", D(2027, 6, 2)), "不能晚于今天"),
    (DisputeInput("review", D(1999, 12, 31)), "2000年以后"),
    (DisputeInput("review", D(2026, 3, 1), "upheld"), "请填写审结日期"),
    (DisputeInput("review", D(2026, 3, 1), "upheld", D(2026, 2, 1)), "不能早于立案日期"),
    (DisputeInput("review", D(2026, 3, 1), "pending", D(2026, 4, 1)), "尚未审结的不填审结日期"),
    (DisputeInput("review", D(2026, 3, 1), case_number="20260101-9999"), "没有编号为"),
    (DisputeInput("review", D(2026, 3, 1), note="很长" * 600), "备注不超过"),
])
def test_a_bad_proceeding_is_refused_in_chinese_and_nothing_written(runtime, data, message):
    with pytest.raises(DisputeError, match=message), runtime.sessionmaker.begin() as s:
        disputes.record(s, data, "boss", today=TODAY)
    with runtime.sessionmaker() as s:
        assert s.scalar(select(func.count()).select_from(DisclosureDispute)) == 0
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0


@pytest.mark.parametrize("fields, message", [
    (("review", "", "pending", ""), "请填写立案（申请）日期"),
    (("review", "2026-13-01", "pending", ""), "立案（申请）日期格式不对"),
    (("review", "2026-03-01", "upheld", "明天"), "审结日期格式不对"),
])
def test_form_dates_are_parsed_with_clear_errors(fields, message):
    with pytest.raises(DisputeError, match=message):
        disputes.parse_input(*fields)
    assert disputes.parse_input("review", " 2026-03-01 ", "pending", "").filed_on == D(2026, 3, 1)


def crafted_cases(session, vault):
    """2026: 咨询 ×3 (on time, on the deadline day, late), 投诉 answered in 2027, 求助 left
    unanswered past its deadline, 意见建议 from 2025 answered in 2026; ratings."""
    def case(case_class, when, text):
        made, _ = case_service.open_case(session, case_service.Intake(
            "default", f"o{text}", case_class, text), vault, now=when)
        return made

    def answer(made, when):
        delivery.add_reply(session, made, "答复", "staff:x", now=when)

    early = case("咨询", dt.datetime(2026, 3, 2, 9), "问政策")
    answer(early, dt.datetime(2026, 3, 2, 21))  # half a day
    on_day = case("咨询", dt.datetime(2026, 4, 1, 9), "问标准")
    answer(on_day, dt.datetime.combine(on_day.deadline, dt.time(8)))  # 16:00 Beijing
    late = case("咨询", dt.datetime(2026, 5, 4, 9), "问资金")
    answer(late, dt.datetime.combine(late.deadline + dt.timedelta(days=1), dt.time(9)))
    complaint = case("投诉", dt.datetime(2026, 12, 30, 9), "投诉干部")
    answer(complaint, dt.datetime(2027, 1, 4, 9))
    case("求助", dt.datetime(2026, 6, 1, 9), "求助危房")
    old = case("意见建议", dt.datetime(2025, 12, 29, 9), "建议修路")
    answer(old, dt.datetime(2026, 1, 2, 9))
    case_service.rate(session, early, "非常满意", now=dt.datetime(2026, 3, 3))
    case_service.rate(session, on_day, "基本满意", now=dt.datetime(2026, 6, 1))
    case_service.rate(session, late, "满意", now=dt.datetime(2026, 7, 1))
    case_service.rate(session, old, "不满意", now=dt.datetime(2026, 1, 5))
    case_service.rate(session, complaint, "满意", now=dt.datetime(2027, 1, 5))  # next year
    return early, on_day, late, old


def test_narrative_figures_from_crafted_cases(db):
    with db.sessionmaker.begin() as s:
        early, on_day, late, old = crafted_cases(s, db.vault)
        waits = sorted((c.first_reply_at - c.received_at).total_seconds() / 86400
                       for c in (early, on_day, late, old))
    with db.sessionmaker() as s:
        figures = report.annual(s, 2026).figures
    consult = figures.by_class["咨询"]
    assert (consult.received, consult.answered, consult.on_time) == (3, 3, 2)
    assert (figures.by_class["投诉"].received, figures.by_class["投诉"].answered) == (1, 0)
    assert figures.by_class["求助"].received == 1 and figures.by_class["意见建议"].received == 0
    assert (figures.by_class["意见建议"].answered, figures.by_class["意见建议"].on_time) == (1, 1)
    assert figures.total("received") == 5 and figures.total("answered") == 4
    assert figures.on_time_rate == 0.75
    assert figures.late_at_year_end == 1  # the 求助 (the 投诉 fell due in 2027)
    assert figures.median_first_reply_days == round((waits[1] + waits[2]) / 2, 1)
    assert figures.rated == 4 and figures.satisfied == 2 and figures.satisfaction == 0.5
    assert figures.ratings["基本满意"] == 1 and figures.ratings["不满意"] == 1
    with db.sessionmaker() as s:
        empty = report.annual(s, 2020)
    assert empty.figures.on_time_rate is None and empty.figures.satisfaction is None
    assert "按期答复率暂无" in "".join(empty.narrative())


def test_items_disclosed_by_category(db):
    def item(slug, category, created, updated, status="active"):
        return KnowledgeItem(slug=slug, category=category, title=slug, status=status,
                             created_at=created, updated_at=updated)

    with db.sessionmaker.begin() as s:
        s.add_all([
            item("p1", "policy", dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 1)),
            # 23:00 on 31 December in Beijing (stored UTC); 00:30 on 1 January in Beijing
            item("p2", "policy", dt.datetime(2026, 12, 31, 15), dt.datetime(2027, 2, 1)),
            item("p3", "policy", dt.datetime(2026, 12, 31, 16, 30), dt.datetime(2027, 1, 1)),
            item("f1", "funding", dt.datetime(2025, 5, 1), dt.datetime(2026, 5, 1)),  # updated
            item("f2", "funding", dt.datetime(2025, 5, 1), dt.datetime(2025, 6, 1)),
            item("q1", "faq", dt.datetime(2025, 5, 1), dt.datetime(2026, 3, 1), "archived"),
            item("q2", "faq", dt.datetime(2026, 2, 1), dt.datetime(2026, 8, 1), "archived"),
        ])
    with db.sessionmaker() as s:
        items = report.annual(s, 2026).items
    assert items.published == {"policy": 2, "criteria": 0, "funding": 0, "proposal": 0,
                               "report": 0, "faq": 1}
    assert items.updated == {"policy": 0, "criteria": 0, "funding": 1, "proposal": 0,
                             "report": 0, "faq": 0}
    assert items.rows()[0] == ("扶贫政策法规", 2, 0)


@pytest.mark.parametrize("text", ["abc", "", "1999", "2101", "20 26", "2026.5"])
def test_parse_year_refuses_what_is_not_a_year(text):
    with pytest.raises(ValueError, match="年份须为2000至2100之间的整数"):
        report.parse_year(text)
    assert report.parse_year(" 2026 ") == 2026


def test_the_workbook_escapes_formulas_typed_by_people(db):
    with db.sessionmaker.begin() as s:
        add(s, "review", D(2026, 3, 1), note="=HYPERLINK(\"http://x\")")
    with db.sessionmaker() as s:
        data = report_xlsx.workbook(report.annual(s, 2026))
    sheet = load_workbook(io.BytesIO(data))["复议诉讼明细"]
    assert [c.value for c in sheet[3]] == ["行政复议", None, "2026-03-01", "尚未审结", None,
                                          "尚未审结", "'=HYPERLINK(\"http://x\")", "boss"]


def test_report_annual_prints_everything_and_writes_the_workbook(runtime, settings, monkeypatch,
                                                                 tmp_path):
    monkeypatch.setenv("HOTLINE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HOTLINE_SECRET_KEY", settings.secret_key)
    with runtime.sessionmaker.begin() as s:
        crafted_cases(s, runtime.vault)
        add(s, "suit_direct", D(2026, 3, 1), "corrected", D(2026, 9, 1))
    path = tmp_path / "report.xlsx"
    result = CliRunner().invoke(cli, ["report", "annual", "--year", "2026",
                                      "--xlsx", str(path)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "核对 一+二=三（七）+四：相符" in out
    assert "行政诉讼（未经复议直接起诉）\t0\t1\t0\t0\t1" in out
    assert "咨询\t3\t3\t2" in out and "按期答复率\t75.0%" in out and "满意率\t50.0%" in out
    assert "2026年共收到群众留言5件" in out and f"workbook written to {path}" in out
    assert load_workbook(path).sheetnames == list(report_xlsx.SHEETS)
    bad = CliRunner().invoke(cli, ["report", "annual", "--year", "abc"])
    assert bad.exit_code != 0 and "abc" in bad.output
    nowhere = CliRunner().invoke(cli, ["report", "annual", "--year", "2026", "--xlsx",
                                       str(tmp_path / "missing" / "r.xlsx")])
    assert nowhere.exit_code != 0 and "cannot write" in nowhere.output

"""The office works in Beijing time while times are stored as naive UTC: a case received at
07:30 on Monday in Beijing (23:30 on Sunday, UTC) is Monday's case, with Monday's number and
deadline; it is overdue from Beijing midnight; the annual report and the dashboard count by
Beijing years and months; staff read Beijing times."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.clock import beijing, day_start, local_date, shown, year_bounds
from bot.models import Case
from bot.services import case_flow as flow
from bot.services import cases as case_service
from bot.services import delivery, report, report_figures, stats
from bot.services import staff as staff_service
from bot.services.workdays import add_working_days
from tests.test_console_access import PASSWORD, login

SUNDAY_NIGHT_UTC = dt.datetime(2026, 12, 6, 23, 30)  # Monday 7 December, 07:30 in Beijing


def test_clock_conversions():
    assert local_date(SUNDAY_NIGHT_UTC) == dt.date(2026, 12, 7)
    assert local_date(dt.datetime(2026, 12, 6, 15, 59)) == dt.date(2026, 12, 6)
    assert beijing(SUNDAY_NIGHT_UTC).strftime("%H:%M") == "07:30"
    assert day_start(dt.date(2027, 1, 1)) == dt.datetime(2026, 12, 31, 16, 0)
    assert year_bounds(2026) == (dt.datetime(2025, 12, 31, 16, 0), dt.datetime(2026, 12, 31, 16, 0))
    assert shown(SUNDAY_NIGHT_UTC) == "2026-12-07 07:30"
    assert shown(None) == ""


def _open(session, vault, when, case_class="咨询", openid="o-clock", text="请问低保怎么申请"):
    case, _ = case_service.open_case(session, case_service.Intake(
        "default", openid, case_class, text,
        disclosure={"applicant": "自然人"} if case_class == flow.DISCLOSURE else {}),
        vault, now=when)
    return case


def test_a_case_received_early_on_a_beijing_morning_is_that_days_case(runtime):
    with runtime.sessionmaker.begin() as s:
        case = _open(s, runtime.vault, SUNDAY_NIGHT_UTC)
        number, deadline = case.number, case.deadline
    assert number.startswith("20261207")
    days = flow.DEFAULT_DEADLINES["咨询"]
    assert deadline == add_working_days(dt.date(2026, 12, 7), days)


def test_overdue_from_beijing_midnight_and_reminders_by_beijing_date(runtime):
    with runtime.sessionmaker.begin() as s:
        case = _open(s, runtime.vault, dt.datetime(2026, 12, 1, 2, 0))
        deadline = case.deadline
    last_evening = day_start(deadline + dt.timedelta(days=1)) - dt.timedelta(minutes=1)
    just_after = day_start(deadline + dt.timedelta(days=1)) + dt.timedelta(minutes=1)
    with runtime.sessionmaker.begin() as s:
        assert case_service.mark_overdue(s, now=last_evening) == ()
    with runtime.sessionmaker.begin() as s:
        assert len(case_service.mark_overdue(s, now=just_after)) == 1  # 00:01 Beijing, 16:01 UTC
    with runtime.sessionmaker() as s:
        assert s.scalar(select(Case.overdue)) is True


def test_a_reply_early_on_the_morning_after_the_deadline_is_late(runtime):
    with runtime.sessionmaker.begin() as s:
        on_time = _open(s, runtime.vault, dt.datetime(2026, 3, 2, 2, 0), openid="o-a")
        late = _open(s, runtime.vault, dt.datetime(2026, 3, 2, 2, 0), openid="o-b",
                     text="请问危房改造补助标准")
        last_evening = day_start(on_time.deadline) + dt.timedelta(hours=23)  # 23:00 Beijing
        next_morning = day_start(late.deadline + dt.timedelta(days=1)) + dt.timedelta(hours=7)
        assert next_morning.date() == late.deadline  # still the deadline's date in UTC
        delivery.add_reply(s, on_time, "答复", "staff:x", now=last_evening)
        delivery.add_reply(s, late, "答复", "staff:x", now=next_morning)
        assert on_time.overdue is False and late.overdue is True
    with runtime.sessionmaker() as s:
        figures = report_figures.figures(s, 2026)
    assert figures.by_class["咨询"].answered == 2 and figures.by_class["咨询"].on_time == 1


def test_the_annual_report_counts_by_the_beijing_year(runtime):
    new_year_morning = dt.datetime(2026, 12, 31, 17, 0)  # 1 January 2027, 01:00 in Beijing
    with runtime.sessionmaker.begin() as s:
        _open(s, runtime.vault, new_year_morning, flow.DISCLOSURE, "o-ny", "申请公开2027年资金")
        _open(s, runtime.vault, dt.datetime(2026, 12, 31, 15, 0), flow.DISCLOSURE, "o-ye",
              "申请公开2026年资金")  # 23:00 on 31 December in Beijing
    with runtime.sessionmaker() as s:
        assert report.table3(s, 2026).new["总计"] == 1
        assert report.table3(s, 2027).new["总计"] == 1
        assert report.table3(s, 2027).carried_in["总计"] == 1
        assert report_figures.figures(s, 2027).by_class[flow.DISCLOSURE].received == 1


def test_the_dashboard_counts_by_beijing_month(runtime):
    with runtime.sessionmaker.begin() as s:
        _open(s, runtime.vault, dt.datetime(2026, 11, 30, 17, 0), openid="o-dec")  # 1 Dec
        _open(s, runtime.vault, dt.datetime(2026, 11, 30, 15, 0), openid="o-nov")  # 30 Nov
    with runtime.sessionmaker() as s:
        board = stats.dashboard(s, now=dt.datetime(2026, 12, 6, 23, 30))
        single = stats.dashboard(s, now=dt.datetime(2026, 12, 6, 23, 30), months=1)
    assert list(board.by_month)[-1] == "2026-12" and len(board.by_month) == 12
    assert board.by_month["2026-12"] == 1 and board.by_month["2026-11"] == 1
    assert single.by_month == {"2026-12": 1}


def test_staff_read_beijing_times_on_the_case_page(client, runtime):
    with runtime.sessionmaker.begin() as s:
        case = _open(s, runtime.vault, SUNDAY_NIGHT_UTC)
        number = case.number
        staff_service.create_user(s, "admin", PASSWORD, "admin")
    assert login(client, "admin").status_code == 302
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "2026-12-07 07:30" in page
    assert "2026-12-06 23:30" not in page

"""Table 3 of the annual report from the 依申请公开 cases: new, carried over, outcomes,
carried forward, by applicant type; the balance check; the console requires the outcome;
`hotline report annual`."""

from __future__ import annotations

import datetime as dt

from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import cli
from bot.models import Case
from bot.services import case_flow as flow
from bot.services import cases as case_service
from bot.services import delivery, report
from bot.services import staff as staff_service
from tests.test_console_access import PASSWORD, csrf, login


def request_(session, vault, when, applicant="自然人", text="申请公开"):
    case, _ = case_service.open_case(session, case_service.Intake(
        "default", f"o{when:%m%d%H}{applicant}", flow.DISCLOSURE, f"{text}{when}",
        disclosure={"applicant": applicant}), vault, now=when)
    return case


def answer(session, case, when, outcome):
    case.disclosure = {**case.disclosure, "outcome": outcome}
    delivery.add_reply(session, case, "答复", "staff:x", now=when)


def test_table3_counts_and_balances(runtime):
    with runtime.sessionmaker.begin() as s:
        old = request_(s, runtime.vault, dt.datetime(2025, 12, 20))  # carried into 2026
        answer(s, old, dt.datetime(2026, 1, 10), "public")
        done_before = request_(s, runtime.vault, dt.datetime(2025, 6, 1), text="早已办结")
        answer(s, done_before, dt.datetime(2025, 6, 10), "public")  # not in 2026 at all
        firm = request_(s, runtime.vault, dt.datetime(2026, 3, 1), applicant="商业企业")
        answer(s, firm, dt.datetime(2026, 3, 20), "withheld-third-party")
        request_(s, runtime.vault, dt.datetime(2026, 12, 28), applicant="科研机构")  # open
        gone = request_(s, runtime.vault, dt.datetime(2026, 5, 1), text="撤回的")
        case_service.apply(s, gone, "withdraw", "subscriber", now=dt.datetime(2026, 5, 2))
        case_service.open_case(s, case_service.Intake("default", "o9", "咨询", "不是申请"),
                               runtime.vault, now=dt.datetime(2026, 4, 1))
    with runtime.sessionmaker() as s:
        table = report.table3(s, 2026)
    assert table.new["总计"] == 3 and table.new["商业企业"] == 1 and table.new["科研机构"] == 1
    assert table.carried_in["总计"] == 1
    assert table.outcomes["public"]["自然人"] == 1
    assert table.outcomes["withheld-third-party"]["商业企业"] == 1
    assert table.outcomes["other"]["自然人"] == 1  # the withdrawn request
    assert table.handled["总计"] == 3 and table.carried_out["总计"] == 1
    assert table.balanced
    labels = [label for label, _ in table.rows()]
    assert labels[0].startswith("一、") and labels[-1].startswith("四、")


def test_the_console_requires_the_outcome_of_a_disclosure_reply(client, runtime):
    with runtime.sessionmaker.begin() as s:
        staff_service.create_user(s, "boss", PASSWORD, "supervisor")
        number = request_(s, runtime.vault, dt.datetime.now()).number
    login(client, "boss")
    token = csrf(client, f"/console/cases/{number}")
    missing = client.post(f"/console/cases/{number}/reply", data={
        "csrf_token": token, "text": "已公开", "outcome": ""})
    assert missing.status_code == 422 and "请选择办理结果" in missing.get_data(as_text=True)
    bogus = client.post(f"/console/cases/{number}/reply", data={
        "csrf_token": token, "text": "已公开", "outcome": "nonsense"})
    assert bogus.status_code == 422 and "请选择办理结果" in bogus.get_data(as_text=True)
    done = client.post(f"/console/cases/{number}/reply", data={
        "csrf_token": token, "text": "已公开", "outcome": "partial"})
    assert done.status_code == 302
    with runtime.sessionmaker() as s:
        assert s.scalars(select(Case)).one().disclosure["outcome"] == "partial"


def test_report_annual_prints_table3(runtime, settings, monkeypatch):
    monkeypatch.setenv("HOTLINE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HOTLINE_SECRET_KEY", settings.secret_key)
    with runtime.sessionmaker.begin() as s:
        answer(s, request_(s, runtime.vault, dt.datetime(2026, 2, 1)),
               dt.datetime(2026, 2, 5), "public")
    result = CliRunner().invoke(cli, ["report", "annual", "--year", "2026"])
    assert result.exit_code == 0, result.output
    assert "一、本年新收政府信息公开申请数量\t1" in result.output and "相符" in result.output
    assert CliRunner().invoke(cli, ["report", "annual", "--year", "1900"]).exit_code != 0

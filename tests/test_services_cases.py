"""The case engine on SQLite and PostgreSQL: intake, numbers, transitions, rating, history."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from bot.db import make_engine, make_sessionmaker
from bot.migrate import upgrade
from bot.models import Case, CaseEvent
from bot.services import case_flow as flow
from bot.services import cases
from bot.services.privacy import PersonalData

VAULT = PersonalData("test-secret-key-0123456789")
NOW = dt.datetime(2026, 11, 25, 9, 30)


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path):
    url = (f"sqlite:///{tmp_path}/c.db" if request.param == "sqlite"
           else request.getfixturevalue("pg_database_url"))
    upgrade(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


def intake(text="村里的补助没有发放", openid="o1", case_class="投诉", key=None, **extra):
    return cases.Intake("default", openid, case_class, text, source_key=key, **extra)


def test_open_numbers_deadline_and_sealed_contact(sessions):
    with sessions.begin() as s:
        case, new = cases.open_case(s, intake(contact_name="张三", contact_phone="13812345678"),
                                    VAULT, now=NOW)
        second, _ = cases.open_case(s, intake("另一件事", case_class="咨询"), VAULT, now=NOW)
    assert new and case.number == "20261125-0001" and second.number == "20261125-0002"
    assert case.state == flow.NEW and case.deadline == dt.date(2026, 12, 16)
    assert second.deadline == dt.date(2026, 11, 30)
    assert "13812345678" not in case.contact_phone_enc
    assert VAULT.open(case.contact_phone_enc) == "13812345678"


def test_duplicate_intake_never_makes_two_cases(sessions):
    with sessions.begin() as s:
        first, new = cases.open_case(s, intake(key="m:1"), VAULT, now=NOW)
        retry, again = cases.open_case(s, intake(key="m:1"), VAULT, now=NOW)
        same_text, third = cases.open_case(s, intake(" 村里的补助 没有发放", key="m:2"), VAULT,
                                           now=NOW + dt.timedelta(minutes=5))
        later, fourth = cases.open_case(s, intake(key="m:3"), VAULT,
                                        now=NOW + dt.timedelta(minutes=30))
    assert new and not again and not third and fourth
    assert retry.id == first.id == same_text.id and later.id != first.id


@pytest.mark.parametrize("bad", [intake(case_class="闲聊"), intake(text="   ")])
def test_bad_intake_is_refused_and_writes_nothing(sessions, bad):
    with pytest.raises(ValueError), sessions.begin() as s:
        cases.open_case(s, bad, VAULT, now=NOW)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0


def test_lifecycle_rating_and_history(sessions):
    with sessions.begin() as s:
        case, _ = cases.open_case(s, intake(), VAULT, now=NOW)
        cases.apply(s, case, "accept", "staff:li")
        cases.apply(s, case, "reply", "staff:li", text="已核实，补助下周发放")
        assert cases.rate(s, case, "满意") is False
        assert case.state == flow.CLOSED and case.rating == "满意"
        with pytest.raises(flow.IllegalTransition):
            cases.rate(s, case, "满意")
        with pytest.raises(flow.IllegalTransition):
            cases.apply(s, case, "reply", "staff:li")
        actions = [e.action for e in cases.history(s, case)]
    assert actions == ["open", "accept", "reply", "rate", "close"]


def test_bad_rating_reopens_for_supervision(sessions):
    with sessions.begin() as s:
        case, _ = cases.open_case(s, intake(), VAULT, now=NOW)
        cases.apply(s, case, "accept", "staff:li")
        cases.apply(s, case, "reply", "staff:li")
        assert cases.rate(s, case, "不满意", "没解决") is True
        assert case.state == flow.HANDLING
        with pytest.raises(ValueError):
            cases.rate(s, case, "一般")


def test_events_are_never_changed_or_deleted(sessions):
    with sessions.begin() as s:
        case, _ = cases.open_case(s, intake(), VAULT, now=NOW)
    with pytest.raises(PermissionError), sessions.begin() as s:
        event = s.scalar(select(CaseEvent))
        event.text = "rewritten"
    with pytest.raises(PermissionError), sessions.begin() as s:
        s.delete(s.scalar(select(CaseEvent)))


def test_subscriber_sees_only_own_cases(sessions):
    with sessions.begin() as s:
        mine, _ = cases.open_case(s, intake(openid="o1"), VAULT, now=NOW)
        theirs, _ = cases.open_case(s, intake("别人的事", openid="o2"), VAULT, now=NOW)
    with sessions() as s:
        assert cases.find_own(s, "default", "o1", mine.number).id == mine.id
        assert cases.find_own(s, "default", "o1", theirs.number) is None
        assert [c.id for c in cases.cases_of(s, "default", "o1")] == [mine.id]


def test_numbers_unique_under_concurrency(sessions):
    numbers: list[str] = []
    errors: list[Exception] = []

    def open_many(worker: int) -> None:
        try:
            for n in range(10):
                with sessions.begin() as s:
                    case, _ = cases.open_case(s, intake(f"事项{worker}-{n}", openid=f"o{worker}"),
                                              VAULT, now=NOW)
                    numbers.append(case.number)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_many, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(numbers) == len(set(numbers)) == 80


def test_disclosure_extension_once_with_a_reason(sessions):
    with sessions.begin() as s:
        case, _ = cases.open_case(s, intake("申请公开扶贫资金分配表", case_class=flow.DISCLOSURE),
                                  VAULT, now=NOW)
        first = case.deadline
        with pytest.raises(ValueError):
            cases.extend(s, case, 20, "staff:李", "  ")
        with pytest.raises(ValueError):
            cases.extend(s, case, 21, "staff:李", "需要征求第三方意见")
        new = cases.extend(s, case, 20, "staff:李", "需要征求第三方意见")
        assert new > first and case.deadline == new and case.extended_days == 20
        with pytest.raises(flow.IllegalTransition):
            cases.extend(s, case, 5, "staff:李", "再延一次")
        other, _ = cases.open_case(s, intake("咨询一下"), VAULT, now=NOW)
        with pytest.raises(flow.IllegalTransition):
            cases.extend(s, other, 5, "staff:李", "咨询不能延期")


def test_disclosure_correction_restarts_the_clock(sessions):
    later = NOW + dt.timedelta(days=10)
    with sessions.begin() as s:
        case, _ = cases.open_case(s, intake("要那个文件", case_class=flow.DISCLOSURE),
                                  VAULT, now=NOW)
        with pytest.raises(flow.IllegalTransition):
            cases.corrected(s, case, "补充", now=later)
        cases.request_correction(s, case, "staff:李", "请写明文件名称或文号", now=NOW)
        with pytest.raises(flow.IllegalTransition):
            cases.request_correction(s, case, "staff:李", "再补正一次", now=NOW)
        deadline = cases.corrected(s, case, "文件是云开组〔2018〕5号", now=later)
        assert deadline == flow.restarted_deadline(later.date()) == case.deadline
        actions = [e.action for e in cases.history(s, case)]
    assert actions[-2:] == ["request_correction", "corrected"]


def test_reminders_before_the_deadline_and_overdue_marks_after_it_once(sessions):
    monday = dt.datetime(2026, 11, 23, 9, 0)
    with sessions.begin() as s:
        consult, _ = cases.open_case(s, intake("咨询补助", case_class="咨询"), VAULT, now=monday)
        complaint, _ = cases.open_case(s, intake("投诉补助"), VAULT, now=monday)
        closed, _ = cases.open_case(s, intake("已办的", case_class="咨询", openid="o2"), VAULT,
                                    now=monday)
        cases.apply(s, closed, "withdraw", "subscriber", now=monday)
        numbers = consult.number, complaint.number
    assert consult.deadline == dt.date(2026, 11, 26)  # 3 working days after Monday
    wednesday = dt.datetime(2026, 11, 25, 8, 0)
    report = cases.run_case_jobs(sessions, now=wednesday)
    assert report.reminded == (numbers[0],) and report.overdue == ()
    assert cases.run_case_jobs(sessions, now=wednesday) == cases.JobReport()  # once only
    friday = dt.datetime(2026, 11, 27, 8, 0)
    report = cases.run_case_jobs(sessions, now=friday)
    assert report.overdue == (numbers[0],)
    assert cases.run_case_jobs(sessions, now=friday).overdue == ()
    with sessions() as s:
        late = s.scalars(select(Case).where(Case.number == numbers[0])).one()
        actions = [e.action for e in cases.history(s, late)]
    assert late.overdue and actions[-2:] == ["remind", "mark_overdue"]

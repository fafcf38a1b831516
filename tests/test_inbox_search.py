"""The inbox's search and pages (bot/services/inbox.py, case_search.py, migration 0011): text
of any length, case numbers, the other filters and a handler's department, keyset pages that
neither repeat nor skip, the index kept in sync and built on upgrade, the same answers on
SQLite and PostgreSQL, and odd input that gets a normal page."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select, text

from bot.migrate import downgrade, upgrade
from bot.models import Case
from bot.models.cases import OPEN_CASES_SQL
from bot.runtime import build_runtime
from bot.services import case_flow as flow
from bot.services import cases as case_service
from bot.services import inbox
from bot.services import staff as staff_service
from bot.services.case_search import Search, clean_query
from tests.test_console_access import PASSWORD, login

DAY = dt.date(2026, 11, 2)
TODAY = dt.date(2026, 11, 20)
# (text, class, department, state): the quote, %, _ and FTS words are there on purpose
CASES = (
    ("危房改造补助申请了三个月还没有到账", "投诉", "财务处", flow.HANDLING),
    ("低保被取消了，想知道原因", "咨询", "财务处", flow.CLOSED),
    ("易地扶贫搬迁安置点没有工作", "求助", "指导处", flow.HANDLING),
    ("举报村干部在危房改造中优亲厚友", "举报", "指导处", flow.NEW),
    ("教育资助的钱什么时候发？低保户的孩子", "咨询", "财务处", flow.ANSWERED),
    ('他说"危房"不算，补助只发了50%', "投诉", "指导处", flow.HANDLING),
    ("Photovoltaic 光伏扶贫 project OR NEAR the village_road", "意见建议", "财务处", flow.CLOSED),
    ("家里困难😀😀😀请帮帮忙", "求助", "", flow.NEW),
    ("申请公开2025年度扶贫资金分配名单", "依申请公开", "财务处", flow.HANDLING),
)
FILLER = 23  # more cases with one deadline: pages must break ties by id


def seed(runtime) -> list[str]:
    """CASES over several days, then FILLER cases on one day; their numbers in order."""
    numbers = []
    with runtime.sessionmaker.begin() as session:
        for n, (words, case_class, department, state) in enumerate(CASES):
            when = dt.datetime.combine(DAY + dt.timedelta(n), dt.time(9))
            numbers.append(_open(session, runtime, words, case_class, when, f"oSeed{n}",
                                 department, state))
        for n in range(FILLER):
            when = dt.datetime.combine(DAY, dt.time(10, n))
            numbers.append(_open(session, runtime, f"第{n}件：产业扶贫项目进度", "投诉", when,
                                 f"oFill{n}", "财务处" if n % 2 else "指导处", flow.HANDLING))
    return numbers


def _open(session, runtime, words, case_class, when, openid, department, state) -> str:
    case, _ = case_service.open_case(session, case_service.Intake(
        "default", openid, case_class, words), runtime.vault, now=when)
    case.department, case.state = department, state
    return case.number


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def office(request, settings):
    """A seeded runtime on each database, with a supervisor and a handler of 财务处."""
    url = settings.database_url if request.param == "sqlite" else \
        request.getfixturevalue("pg_database_url")
    upgrade(url)
    runtime = build_runtime(settings.with_overrides(database_url=url))
    runtime.numbers = seed(runtime)
    with runtime.sessionmaker.begin() as session:
        staff_service.create_user(session, "boss", PASSWORD, "supervisor")
        staff_service.create_user(session, "li", PASSWORD, "handler", department="财务处")
    yield runtime
    runtime.close()


@pytest.fixture
def console(office):
    from bot.app import create_app

    return create_app(runtime=office).test_client()


def found(runtime, args: dict, **kwargs) -> list[str]:
    """What the cases on the first page for these form values say, in page order."""
    with runtime.sessionmaker() as session:
        page = inbox.page(session, inbox.Filters.from_args(args), today=TODAY, **kwargs)
        return [case.description for case in page.cases]


def test_open_cases_sql_is_the_flows_open_states():
    assert re.findall(r"'([^']+)'", OPEN_CASES_SQL) == list(flow.OPEN_STATES)


def test_queries_are_cleaned_and_told_apart():
    assert clean_query("  危房\x00改造\u200b \t 补助 ") == "危房改造 补助"
    assert len(clean_query("字" * 500)) == 100
    assert Search.parse("20261102-0001").number == "20261102-0001"
    assert Search.parse("20261102").number == "20261102"
    assert Search.parse("2026").terms == ("2026",)  # too short to be a number: text
    assert Search.parse("a b a c d e f g").terms == ("a", "b", "c", "d", "e")
    assert Search.parse("x OR y*").fts_match() == ""  # no term of 3 characters
    assert Search.parse('say "hi" NEAR(x)').fts_match() == '"say" AND """hi""" AND "NEAR(x)"'


def test_text_of_two_three_and_more_characters(office):
    assert found(office, {"q": "危房改造"}) == [CASES[0][0], CASES[3][0]]
    assert found(office, {"q": "低保"}) == [CASES[1][0], CASES[4][0]]  # 2 characters
    assert found(office, {"q": "安置点"}) == [CASES[2][0]]  # 3: the smallest trigram
    assert found(office, {"q": "补助 到账"}) == [CASES[0][0]]  # every term must be there
    assert found(office, {"q": "危房 低保"}) == []
    assert found(office, {"q": "PHOTOVOLTAIC"}) == [CASES[6][0]]  # ASCII case ignored
    assert found(office, {"q": "完全不存在的词"}) == []


def test_case_numbers_whole_and_by_prefix(office):
    assert found(office, {"q": office.numbers[0]}) == [CASES[0][0]]
    day = [CASES[0][0]] + [f"第{n}件：产业扶贫项目进度" for n in range(FILLER)]  # 2026-11-02
    assert sorted(found(office, {"q": "20261102"})) == sorted(day)
    assert len(found(office, {"q": "20261102-00"})) == len(day)
    assert found(office, {"q": "20991231"}) == [] and found(office, {"q": "99999999-"}) == []


def test_search_respects_the_other_filters(office):
    with office.sessionmaker.begin() as session:
        session.scalars(select(Case).where(Case.description == CASES[3][0])).one().assignee = "张伟"
    assert found(office, {"q": "危房改造", "assignee": " 张伟 "}) == [CASES[3][0]]
    assert found(office, {"assignee": "张伟"}) == [CASES[3][0]]
    assert found(office, {"q": "危房改造", "state": flow.NEW}) == [CASES[3][0]]
    assert found(office, {"q": "危房改造", "class": "投诉"}) == [CASES[0][0]]
    assert found(office, {"q": "危房", "department": "指导处"}) == [CASES[3][0], CASES[5][0]]
    assert found(office, {"q": "低保", "due": "overdue"}) == []
    received = {"q": "扶贫", "from": (DAY + dt.timedelta(6)).isoformat(),
                "to": (DAY + dt.timedelta(8)).isoformat()}
    assert found(office, received) == [CASES[6][0], CASES[8][0]]
    mine = inbox.Filters.from_args({"q": "危房改造"}).restricted_to("财务处")
    with office.sessionmaker() as session:
        page = inbox.page(session, mine, today=TODAY)
    assert [c.description for c in page.cases] == [CASES[0][0]]


def test_a_handler_searches_only_their_department(console, office):
    login(console, "li")
    page = console.get("/console/?q=危房改造").get_data(as_text=True)
    assert "危房改造补助" in page and "优亲厚友" not in page
    page = console.get("/console/?q=危房改造&department=指导处").get_data(as_text=True)
    assert "危房改造补助" not in page and "优亲厚友" not in page  # not theirs to ask for
    exported = console.get("/console/export.csv?q=危房改造").get_data(as_text=True)
    assert "危房改造补助" in exported and "优亲厚友" not in exported  # exports search alike
    login(console, "boss")
    page = console.get("/console/?q=危房改造").get_data(as_text=True)
    assert "危房改造补助" in page and "优亲厚友" in page


def test_due_filters(office):
    with office.sessionmaker.begin() as session:
        cases = {c.description: c for c in session.scalars(select(Case))}
        cases[CASES[0][0]].deadline = TODAY - dt.timedelta(1)  # open, past its deadline
        cases[CASES[2][0]].deadline, cases[CASES[2][0]].overdue = TODAY + dt.timedelta(9), True
        cases[CASES[3][0]].deadline = TODAY + dt.timedelta(inbox.SOON_DAYS)
        cases[CASES[1][0]].deadline = TODAY - dt.timedelta(1)  # closed: never overdue here
    assert found(office, {"due": "overdue", "q": "没有"}) == [CASES[0][0], CASES[2][0]]
    assert found(office, {"overdue": "1", "q": "没有"}) == [CASES[0][0], CASES[2][0]]
    soon = found(office, {"soon": "1"})
    assert CASES[3][0] in soon and not {CASES[0][0], CASES[1][0], CASES[2][0]} & set(soon)
    either = set(found(office, {"overdue": "1", "soon": "1"}))
    assert {CASES[0][0], CASES[2][0], CASES[3][0]} <= either and CASES[1][0] not in either
    assert either == set(found(office, {"due": "urgent"}))


PAGINGS = [{}, {"q": "产业扶贫"}, {"q": "项目"}, {"class": "投诉"},
           {"q": "产业", "department": "财务处"}]


def test_keyset_pages_neither_repeat_nor_skip(office, monkeypatch):
    """Every way to a page (the window whole or cut short, the index's candidates or too
    many of them) on many cases sharing one deadline."""
    for scan, candidates in ((20_000, 5_000), (5, 5_000), (7, 3)):
        monkeypatch.setattr(inbox, "SCAN_LIMIT", scan)
        monkeypatch.setattr(inbox, "CANDIDATE_LIMIT", candidates)
        for args in PAGINGS:
            expected, seen = _every_page(office, inbox.Filters.from_args(args), whole=scan > 7)
            assert expected and seen == expected, (scan, candidates, args)


def _every_page(runtime, filters, whole: bool) -> tuple[list[int], list[int]]:
    with runtime.sessionmaker() as session:
        dialect = session.get_bind().dialect.name
        expected = [c.id for c in session.scalars(inbox.select_cases(filters, dialect, TODAY))]
        seen, after = [], None
        for _ in range(100):
            page = inbox.page(session, filters, today=TODAY, after=after, size=4)
            assert len(page.cases) <= 4 and (page.searched_to is None or not whole)
            seen += [case.id for case in page.cases]
            if page.after is None:
                break
            after = page.after
    return expected, seen


def test_triggers_keep_the_sqlite_index_in_sync(runtime):
    with runtime.sessionmaker.begin() as session:
        _open(session, runtime, "光伏扶贫电站收益分配", "咨询", dt.datetime(2026, 11, 2, 9),
              "oSync", "财务处", flow.NEW)
    assert _fts(runtime, "光伏扶贫") == 1
    with runtime.sessionmaker.begin() as session:
        case = session.scalars(select(Case)).one()
        case.description = "饮水安全工程"
    assert _fts(runtime, "光伏扶贫") == 0 and _fts(runtime, "饮水安全") == 1
    with runtime.sessionmaker.begin() as session:
        session.execute(text(
            "INSERT INTO cases_fts(cases_fts, rank) VALUES ('integrity-check', 1)"))
        for table in ("case_events", "case_messages", "cases"):
            session.execute(text(f"DELETE FROM {table}"))
    assert _fts(runtime, "饮水安全") == 0


def _fts(runtime, words: str) -> int:
    with runtime.sessionmaker() as session:
        return session.scalar(text("SELECT count(*) FROM cases_fts WHERE cases_fts MATCH :q"),
                              {"q": f'"{words}"'})


@pytest.mark.pg
def test_postgresql_search_uses_the_trigram_index(settings, pg_database_url):
    upgrade(pg_database_url)
    runtime = build_runtime(settings.with_overrides(database_url=pg_database_url))
    try:
        with runtime.sessionmaker.begin() as session:
            session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(session.scalars(text(
                "EXPLAIN SELECT id FROM cases WHERE description ILIKE '%危房改造%'")))
    finally:
        runtime.close()
    assert "ix_cases_description_trgm" in plan


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def test_upgrade_indexes_the_cases_already_there(db, settings, request):
    url = settings.database_url if db == "sqlite" else request.getfixturevalue("pg_database_url")
    # The case is written by today's code, then the schema taken back to before the search
    # index (0010 has no index of case text): the ORM of today cannot write 0010's tables.
    upgrade(url)
    runtime = build_runtime(settings.with_overrides(database_url=url))
    try:
        with runtime.sessionmaker.begin() as session:
            _open(session, runtime, "雨露计划补助没有发", "咨询", dt.datetime(2026, 11, 2, 9),
                  "oOld", "财务处", flow.NEW)
        downgrade(url, "0010")
        for _ in range(2):  # and again after a downgrade
            upgrade(url)
            with runtime.sessionmaker() as session:
                search = Search.parse("雨露计划")
                assert search.candidates(session, 10) and len(search.candidates(session, 10)) == 1
            downgrade(url, "0010")
    finally:
        runtime.close()


@pytest.mark.pg
def test_the_same_answers_on_sqlite_and_postgresql(settings, pg_database_url):
    questions = [{"q": q} for q in ("危房改造", "低保", "安置点", "补助 到账", "photovoltaic",
                                    '"危房"', "50%", "_", "village_road", "NEAR", "😀😀😀",
                                    "20261102", "产业扶贫", "项目")]
    questions += [{"q": "扶贫", "department": "财务处"}, {"state": flow.HANDLING},
                  {"class": "投诉", "from": "2026-11-03"}, {"due": "soon"}]
    answers = []
    for url in (settings.database_url, pg_database_url):
        upgrade(url)
        runtime = build_runtime(settings.with_overrides(database_url=url))
        try:
            seed(runtime)
            answers.append([found(runtime, args) for args in questions])
        finally:
            runtime.close()
    assert answers[0] == answers[1]
    assert all(answers[0][:11])  # each of the text queries finds something


ODD = ["%", "_", "\\", "'", '"', '""', "*", "NEAR", "a OR b", "NEAR(危房 改造)", "危房*",
       '"危房"', "x" * 500, "😀", "😀😀😀", "abc\x00def", "\x00", "ＡＢＣ", "-", "--",
       "20261102-", "99999999", "AND", "(", ")", "^", ":", "col:危房", "\u202e危房", " " * 50]


def test_odd_input_gets_a_normal_page(console, office):
    login(console, "boss")
    for query in ODD:
        response = console.get("/console/", query_string={"q": query})
        assert response.status_code == 200, query
    assert found(office, {"q": '"危房"'}) == [CASES[5][0]]  # quotes are text
    assert found(office, {"q": "50%"}) == found(office, {"q": "%"}) == [CASES[5][0]]  # text
    assert found(office, {"q": "_"}) == [CASES[6][0]]  # _ is text
    assert found(office, {"q": "NEAR"}) == [CASES[6][0]]  # FTS words are text
    assert found(office, {"q": "危房*"}) == []
    assert found(office, {"q": "😀😀😀"}) == [CASES[7][0]]
    for args in ({"after": "garbage", "state": "bogus", "due": "bogus", "class": "\x00"},
                 {"after": "2026-11-01_99999999999999999999999"}, {"after": "2026-11-01_-5"},
                 {"department": "\x00财务处'--", "assignee": "%_\\" * 100}):
        assert console.get("/console/", query_string=args).status_code == 200, args


def test_bad_dates_are_explained(console):
    login(console, "boss")
    for args, why in (({"from": "2026-13-01"}, "不是有效日期"),
                      ({"to": "yesterday"}, "不是有效日期"),
                      ({"to": "9999-12-31"}, "超出了可查询的范围"),
                      ({"from": "2026-11-05", "to": "2026-11-01"}, "不能晚于")):
        response = console.get("/console/", query_string=args)
        assert response.status_code == 400 and why in response.get_data(as_text=True)
        for export in ("/console/export.csv", "/console/export.xlsx"):
            response = console.get(export, query_string=args)
            assert response.status_code == 400 and why in response.get_data(as_text=True)


def test_a_page_cut_short_by_the_window_offers_to_go_on(console, monkeypatch):
    monkeypatch.setattr(inbox, "SCAN_LIMIT", 6)
    login(console, "boss")
    url, pages, seen = "/console/?q=申请", 0, []
    while url and pages < 20:
        page = console.get(url).get_data(as_text=True)
        seen += re.findall(r">(\d{8}-\d{4})</a>", page)
        link = re.search(r'href="([^"]+)">(?:下一页|继续查找)', page)
        if pages == 0:
            assert "继续查找" in page and "本页只查找了期限在" in page
        url, pages = (link.group(1).replace("&amp;", "&") if link else ""), pages + 1
    assert len(seen) == len(set(seen)) == 2  # 危房改造补助申请…, 申请公开…

"""The console inbox: the cases a user may see, filtered, searched, and paged by keyset on
(deadline, id), with a bounded cost per page whatever the number of cases.

Two ways to a page:
- Indexed search: when the query's index (bot/services/case_search.py) lists at most
  CANDIDATE_LIMIT candidates, the page is those cases, filtered, sorted, cut: exact.
- Window: otherwise (no query, a common word, a short word), the cases are walked in page
  order on an index, at most SCAN_LIMIT per page; a page that fills early (a common word,
  loose filters) stops there. When the window ends before the page is full, the page says how
  far it looked and the next page goes on from there: no page ever reads every case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Select,
    any_,
    bindparam,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.orm import Session

from bot.clock import day_start
from bot.models import Case
from bot.models.cases import OPEN_CASES_SQL
from bot.services import case_flow as flow
from bot.services.case_search import Search, clean_query

PAGE_SIZE = 50
CANDIDATE_LIMIT = 5_000
SCAN_LIMIT = 20_000
SOON_DAYS = 2  # "due soon": the deadline is today or within this many days
DUE = ("overdue", "soon", "urgent")  # past the deadline (or marked so), due soon, either
MAX_FIELD = 64
Cursor = tuple[dt.date, int]


class FilterError(ValueError):
    """A filter value that cannot be used; the message (Chinese) says which and why."""


@dataclass(frozen=True)
class Filters:
    """What the inbox's form asks for. Unknown state, class and due values (they come from
    select boxes) are ignored; a malformed date is a FilterError."""

    state: str = ""
    case_class: str = ""
    department: str = ""
    assignee: str = ""
    due: str = ""  # "" or a key of DUE
    received_from: dt.date | None = None
    received_to: dt.date | None = None
    search: Search = Search()
    only_department: str | None = None  # a handler's: they see nothing else

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        due = args.get("due", "")
        if due not in DUE:  # the form's two check boxes
            late, soon = args.get("overdue") == "1", args.get("soon") == "1"
            due = "urgent" if late and soon else "overdue" if late else "soon" if soon else ""
        filters = cls(
            state=_choice(args.get("state", ""), flow.STATES),
            case_class=_choice(args.get("class", ""), flow.CLASSES),
            department=_field(args.get("department", "")),
            assignee=_field(args.get("assignee", "")), due=due,
            received_from=_date(args.get("from", ""), "开始日期"),
            received_to=_date(args.get("to", ""), "结束日期"),
            search=Search.parse(args.get("q", "")))
        if (filters.received_from and filters.received_to
                and filters.received_from > filters.received_to):
            raise FilterError("开始日期不能晚于结束日期")
        return filters

    def restricted_to(self, department: str) -> Filters:
        """These filters for a user who may see only `department`'s cases."""
        return replace(self, only_department=department)

    @property
    def departments(self) -> set[str]:
        """The departments asked for (a user's own and the form's; two: nothing matches)."""
        return {d for d in (self.only_department, self.department or None) if d is not None}


def _choice(value: str, allowed: tuple[str, ...]) -> str:
    return value if value in allowed else ""


def _field(value: str) -> str:
    return clean_query(value, MAX_FIELD)


def _date(value: str, label: str) -> dt.date | None:
    value = clean_query(value, 20)
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"{label}“{value}”不是有效日期，请按 2026-01-31 的格式填写") from None
    if not 1900 <= day.year <= 2999:
        raise FilterError(f"{label}“{value}”超出了可查询的范围")
    return day


@dataclass(frozen=True)
class Page:
    cases: list[Case]
    after: Cursor | None  # where the next page starts (None: this is the last)
    searched_to: Cursor | None = None  # the window ended before the page filled: looked up to


def conditions(filters: Filters, today: dt.date) -> list[ColumnElement[bool]]:
    """Exact conditions for `filters`."""
    where: list[ColumnElement[bool]] = [Case.department == d for d in filters.departments]
    if filters.state:
        where.append(Case.state == filters.state)
    if filters.case_class:
        where.append(Case.case_class == filters.case_class)
    if filters.assignee:
        where.append(Case.assignee == filters.assignee)
    if filters.state in flow.OPEN_STATES or filters.due:
        where.append(text(OPEN_CASES_SQL))  # the partial index's own words: it may be used
    soon = today + dt.timedelta(SOON_DAYS)
    if filters.due == "overdue":
        where.append(or_(Case.overdue.is_(True), Case.deadline < today))
    elif filters.due == "soon":
        where += [Case.deadline >= today, Case.deadline <= soon, Case.overdue.is_(False)]
    elif filters.due == "urgent":
        where.append(or_(Case.overdue.is_(True), Case.deadline <= soon))
    if filters.received_from:
        # no case's deadline is before the day it was received: a bound the indexes can use
        where += [Case.received_at >= day_start(filters.received_from),
                  Case.deadline >= filters.received_from]
    if filters.received_to:
        where.append(Case.received_at < day_start(filters.received_to + dt.timedelta(1)))
    if filters.search.received_on_or_after:
        where.append(Case.deadline >= filters.search.received_on_or_after)
    return where


def select_cases(filters: Filters, dialect: str, today: dt.date) -> Select:
    """Every matching case, in page order, unbounded (exports)."""
    return select(Case).where(*conditions(filters, today),
                              *filters.search.conditions(dialect)).order_by(Case.deadline,
                                                                            Case.id)


def page(session: Session, filters: Filters, *, today: dt.date, after: Cursor | None = None,
         size: int = PAGE_SIZE) -> Page:
    """One page of the inbox (restrict `filters` to the user's department first)."""
    dialect = session.get_bind().dialect.name
    where = [*conditions(filters, today), *filters.search.conditions(dialect), *_after(after)]
    candidates = filters.search.candidates(session, CANDIDATE_LIMIT) if filters.search \
        else None
    if candidates is not None:
        if not candidates:
            return Page([], None)
        rows = _rows(session, [_among(candidates, dialect), *where], size)
        return Page(rows[:size], _key(rows[size - 1]) if len(rows) > size else None)
    edge = _window_edge(session, filters, after)
    bounded = [] if edge is None else [Case.deadline <= edge[0],
                                       tuple_(Case.deadline, Case.id) <= tuple_(*edge)]
    rows = _rows(session, [*where, *bounded], size)
    if len(rows) > size:
        return Page(rows[:size], _key(rows[size - 1]))
    return Page(rows, edge, searched_to=edge)


def _among(ids: list[int], dialect: str) -> ColumnElement[bool]:
    """cases.id is one of `ids` (on PostgreSQL one array parameter, not thousands)."""
    if dialect == "postgresql":
        return Case.id == any_(bindparam("ids", ids, type_=ARRAY(BigInteger)))
    return Case.id.in_(ids)


def _rows(session: Session, where: list, size: int) -> list[Case]:
    return list(session.scalars(select(Case).where(*where)
                                .order_by(Case.deadline, Case.id).limit(size + 1)))


def _after(cursor: Cursor | None) -> list[ColumnElement[bool]]:
    if cursor is None:
        return []
    return [Case.deadline >= cursor[0], tuple_(Case.deadline, Case.id) > tuple_(*cursor)]


def _window_edge(session: Session, filters: Filters, after: Cursor | None) -> Cursor | None:
    """The (deadline, id) of the SCAN_LIMIT-th case after `after` among those an index
    lists in page order (the department's, the open ones, or all), None when fewer remain."""
    driver: list[ColumnElement[bool]] = []
    if filters.state in flow.OPEN_STATES or filters.due:
        driver.append(text(OPEN_CASES_SQL))
    elif filters.departments:
        driver += [Case.department == d for d in filters.departments]
    if filters.received_from:
        driver.append(Case.deadline >= filters.received_from)
    if filters.search.received_on_or_after:
        driver.append(Case.deadline >= filters.search.received_on_or_after)
    row = session.execute(select(Case.deadline, Case.id).where(*driver, *_after(after))
                          .order_by(Case.deadline, Case.id).offset(SCAN_LIMIT - 1)
                          .limit(1)).first()
    return None if row is None else (row[0], row[1])


def _key(case: Case) -> Cursor:
    return case.deadline, case.id


def format_cursor(cursor: Cursor) -> str:
    return f"{cursor[0].isoformat()}_{cursor[1]}"


def parse_cursor(value: str) -> Cursor | None:
    """The page cursor "2026-12-01_123" (deadline, id of the last case shown); None if bad."""
    day, _, number = value.partition("_")
    try:
        cursor = dt.date.fromisoformat(day), int(number)
    except ValueError:
        return None
    return cursor if 0 <= cursor[1] < 2**63 else None

"""Figures for the console's dashboard: cases by class, state and month, time to first reply,
overdue cases, satisfaction, and what subscribers asked (and what the bot could not answer)."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from bot.clock import day_start, local_date
from bot.db import utcnow
from bot.models import Case, InboundMessage
from bot.services import case_flow as flow

SATISFIED = ("非常满意", "满意", "基本满意")
MAX_SAMPLE = 100_000  # cases read for the median


@dataclass
class Dashboard:
    by_class: dict[str, int] = field(default_factory=dict)
    by_state: dict[str, int] = field(default_factory=dict)
    by_month: dict[str, int] = field(default_factory=dict)  # "2026-11": cases received
    median_first_reply_hours: float | None = None
    overdue_open: int = 0
    due_soon: int = 0
    ratings: dict[str, int] = field(default_factory=dict)
    satisfaction: float | None = None  # share of rated cases 基本满意 or better
    top_questions: list[tuple[str, int]] = field(default_factory=list)
    unanswered: list[tuple[str, int]] = field(default_factory=list)


def dashboard(session: Session, *, now: dt.datetime | None = None, months: int = 12,
              days: int = 30, department: str | None = None) -> Dashboard:
    """The figures; `department` limits the cases to one department's (a handler's view)."""
    now = now or utcnow()
    scope = [Case.department == department] if department is not None else []
    board = Dashboard()
    board.by_class = {k: 0 for k in flow.CLASSES} | dict(session.execute(
        select(Case.case_class, func.count()).where(*scope).group_by(Case.case_class)).all())
    board.by_state = {k: 0 for k in flow.STATES} | dict(session.execute(
        select(Case.state, func.count()).where(*scope).group_by(Case.state)).all())
    today = local_date(now)
    starts = _month_starts(today, months)  # Beijing months, as stored (UTC) bounds
    board.by_month = dict.fromkeys(starts, 0)
    # a case's month: the latest month that started before it was received
    month = case(*((Case.received_at >= start, key) for key, start in reversed(starts.items())))
    for key, n in session.execute(select(month, func.count()).where(
            *scope, Case.received_at >= next(iter(starts.values()))).group_by(month)):
        board.by_month[key] = n
    waits = [(first - received).total_seconds() / 3600 for received, first in session.execute(
        select(Case.received_at, Case.first_reply_at).where(
            *scope, Case.first_reply_at.is_not(None)).limit(MAX_SAMPLE))]
    board.median_first_reply_hours = round(statistics.median(waits), 1) if waits else None
    open_cases = [*scope, Case.state.in_(flow.OPEN_STATES)]
    board.overdue_open = session.scalar(select(func.count()).select_from(Case).where(
        *open_cases, Case.deadline < today)) or 0
    board.due_soon = session.scalar(select(func.count()).select_from(Case).where(
        *open_cases, Case.deadline >= today, Case.deadline <= today + dt.timedelta(days=2))) or 0
    board.ratings = {k: 0 for k in flow.RATINGS} | dict(session.execute(
        select(Case.rating, func.count()).where(*scope, Case.rating != "")
        .group_by(Case.rating)).all())
    rated = sum(board.ratings.values())
    if rated:
        board.satisfaction = round(sum(board.ratings[k] for k in SATISFIED) / rated, 3)
    asked = [InboundMessage.msg_type == "text",
             InboundMessage.received_at >= now - dt.timedelta(days=days)]
    board.top_questions = _top(session, asked + [InboundMessage.rule.like("%fallback%")])
    board.unanswered = _top(session, asked + [InboundMessage.rule == "fallback:none"])
    return board


def _top(session: Session, conditions: list, limit: int = 10) -> list[tuple[str, int]]:
    count = func.count().label("n")
    return [(text, n) for text, n in session.execute(
        select(InboundMessage.content, count).where(*conditions)
        .group_by(InboundMessage.content).order_by(count.desc(), InboundMessage.content)
        .limit(limit))]


def _month_starts(today: dt.date, months: int) -> dict[str, dt.datetime]:
    """The last `months` Beijing calendar months up to `today`'s: "YYYY-MM" -> its start as
    a stored (naive UTC) time, oldest first."""
    starts = {}
    for back in range(months - 1, -1, -1):
        index = today.year * 12 + today.month - 1 - back  # months counted from year 0
        first = dt.date(index // 12, index % 12 + 1, 1)
        starts[f"{first:%Y-%m}"] = day_start(first)
    return starts

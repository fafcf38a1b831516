"""Cases by state and open cases past their deadline, for `/metrics` (read at each scrape)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from bot.models import Case
from bot.services import case_flow as flow


def case_counts(session: Session, today: dt.date) -> tuple[dict[str, int], int]:
    """Cases by state (every state, 0 included) and the open ones overdue (marked so, or past
    the deadline as the inbox's 已超期 filter counts them): one GROUP BY over the cases."""
    late = case((or_(Case.overdue.is_(True), Case.deadline < today), 1), else_=0)
    by_state = {state: 0 for state in flow.STATES}
    overdue = 0
    for state, count, late_count in session.execute(
            select(Case.state, func.count(), func.sum(late)).group_by(Case.state)):
        by_state[state] = count
        if state in flow.OPEN_STATES:
            overdue += int(late_count or 0)
    return by_state, overdue

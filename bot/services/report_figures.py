"""The annual report's narrative figures, counted from the cases and the knowledge base.

Years are counted on the stored (UTC) timestamps, as Table 3 is. Definitions:
- received: cases received in the year; answered: cases whose answer (已答复) fell in the year;
- on time: answered on or before the deadline day (extensions included); the rate is over the
  cases answered in the year; late at year end: still unanswered on 31 December, deadline passed;
- days to first reply: calendar days from receipt to the first reply, over the first replies
  made in the year (the median);
- satisfaction: ratings given in the year, the share 满意 or 非常满意;
- knowledge items: first published (created) in the year, and, separately, items published
  earlier and changed in the year that are still in use.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.clock import local_date, year_bounds
from bot.models import Case, KnowledgeItem
from bot.services import case_flow as flow
from content.model import CATEGORIES

SATISFIED = ("非常满意", "满意")
MAX_SAMPLE = 200_000  # rows read for the on-time count and the median


@dataclass
class ClassFigures:
    received: int = 0
    answered: int = 0
    on_time: int = 0


@dataclass
class Figures:
    year: int
    by_class: dict[str, ClassFigures] = field(default_factory=dict)  # every flow.CLASSES key
    late_at_year_end: int = 0
    median_first_reply_days: float | None = None
    ratings: dict[str, int] = field(default_factory=dict)  # every flow.RATINGS key

    def total(self, name: str) -> int:
        return sum(getattr(row, name) for row in self.by_class.values())

    @property
    def on_time_rate(self) -> float | None:
        answered = self.total("answered")
        return round(self.total("on_time") / answered, 4) if answered else None

    @property
    def rated(self) -> int:
        return sum(self.ratings.values())

    @property
    def satisfied(self) -> int:
        return sum(self.ratings[k] for k in SATISFIED)

    @property
    def satisfaction(self) -> float | None:
        return round(self.satisfied / self.rated, 4) if self.rated else None


def figures(session: Session, year: int) -> Figures:
    start, end = year_bounds(year)  # the Beijing calendar year
    result = Figures(year, {k: ClassFigures() for k in flow.CLASSES},
                     ratings=dict.fromkeys(flow.RATINGS, 0))
    for case_class, n in session.execute(
            select(Case.case_class, func.count()).where(
                Case.received_at >= start, Case.received_at < end).group_by(Case.case_class)):
        result.by_class.setdefault(case_class, ClassFigures()).received = n
    for case_class, answered_at, deadline in session.execute(
            select(Case.case_class, Case.answered_at, Case.deadline).where(
                Case.answered_at >= start, Case.answered_at < end).limit(MAX_SAMPLE)):
        row = result.by_class.setdefault(case_class, ClassFigures())
        row.answered += 1
        row.on_time += local_date(answered_at) <= deadline
    result.late_at_year_end = session.scalar(
        select(func.count()).select_from(Case).where(
            Case.received_at < end, Case.state != flow.WITHDRAWN,
            Case.deadline < dt.date(year + 1, 1, 1),
            or_(Case.answered_at.is_(None), Case.answered_at >= end))) or 0
    waits = [(first - received).total_seconds() / 86400 for received, first in session.execute(
        select(Case.received_at, Case.first_reply_at).where(
            Case.first_reply_at >= start, Case.first_reply_at < end).limit(MAX_SAMPLE))]
    result.median_first_reply_days = round(statistics.median(waits), 1) if waits else None
    for rating, n in session.execute(
            select(Case.rating, func.count()).where(
                Case.rated_at >= start, Case.rated_at < end, Case.rating != "")
            .group_by(Case.rating)):
        if rating in result.ratings:
            result.ratings[rating] = n
    return result


@dataclass
class ItemCounts:
    """Knowledge items disclosed in the year, by category (every CATEGORIES key)."""

    year: int
    published: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    def rows(self) -> list[tuple[str, int, int]]:
        return [(label, self.published[key], self.updated[key])
                for key, label in CATEGORIES.items()]


def items_disclosed(session: Session, year: int) -> ItemCounts:
    start, end = year_bounds(year)
    counts = ItemCounts(year, dict.fromkeys(CATEGORIES, 0), dict.fromkeys(CATEGORIES, 0))
    created = (KnowledgeItem.created_at >= start, KnowledgeItem.created_at < end)
    changed = (KnowledgeItem.created_at < start, KnowledgeItem.updated_at >= start,
               KnowledgeItem.updated_at < end, KnowledgeItem.status == "active")
    for target, conditions in ((counts.published, created), (counts.updated, changed)):
        for category, n in session.execute(
                select(KnowledgeItem.category, func.count()).where(*conditions)
                .group_by(KnowledgeItem.category)):
            if category in target:
                target[category] = n
    return counts


def percent(share: float | None) -> str:
    return "暂无" if share is None else f"{share * 100:.1f}%"


def narrative(result: Figures, items: ItemCounts) -> list[str]:
    """The figures as the report's sentences (Simplified Chinese)."""
    row = result.by_class
    median = result.median_first_reply_days
    published, updated = sum(items.published.values()), sum(items.updated.values())
    return [
        f"{result.year}年共收到群众留言{result.total('received')}件，其中咨询"
        f"{row['咨询'].received}件、投诉{row['投诉'].received}件、举报{row['举报'].received}件、"
        f"意见建议{row['意见建议'].received}件、求助{row['求助'].received}件、"
        f"政府信息公开申请{row[flow.DISCLOSURE].received}件。",
        f"全年答复{result.total('answered')}件，其中咨询{row['咨询'].answered}件、"
        f"投诉{row['投诉'].answered}件；按期答复{result.total('on_time')}件，"
        f"按期答复率{percent(result.on_time_rate)}；年末逾期未答复{result.late_at_year_end}件。",
        "首次答复用时中位数"
        + ("暂无" if median is None else f"{median:.1f}天") + "。",
        f"共{result.rated}件留言获评价，满意（含非常满意）{result.satisfied}件，"
        f"满意率{percent(result.satisfaction)}。",
        f"全年新发布知识库条目{published}条，更新{updated}条。",
    ]

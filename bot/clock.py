"""The office's clock: times are stored as naive UTC (bot.db.utcnow), but the office works,
counts days and writes its report in Beijing time. A case received at 07:00 on a Monday in
Beijing (23:00 on Sunday, UTC) was received on Monday: its number, its deadline, whether it is
overdue, and which year's report counts it all follow the Beijing date."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.db import utcnow

BEIJING = ZoneInfo("Asia/Shanghai")
SHOWN = "%Y-%m-%d %H:%M"
SHORT = "%m-%d %H:%M"  # within the year, in notes


def beijing(moment: dt.datetime) -> dt.datetime:
    """A stored (naive UTC) time in Beijing time."""
    return moment.replace(tzinfo=dt.UTC).astimezone(BEIJING)


def local_date(moment: dt.datetime) -> dt.date:
    """The Beijing date of a stored (naive UTC) time."""
    return beijing(moment).date()


def today() -> dt.date:
    """The office's date now."""
    return local_date(utcnow())


def day_start(day: dt.date) -> dt.datetime:
    """The start of a Beijing day as a stored (naive UTC) time."""
    local = dt.datetime.combine(day, dt.time(), tzinfo=BEIJING)
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    """A Beijing calendar year as stored (naive UTC) times, end exclusive."""
    return day_start(dt.date(year, 1, 1)), day_start(dt.date(year + 1, 1, 1))


def shown(moment: dt.datetime | None, layout: str = SHOWN) -> str:
    """A stored time as staff read it (Beijing time); empty for none."""
    return beijing(moment).strftime(layout) if moment else ""

"""Working days on the Chinese calendar, adjusted weekends included (chinese-calendar).

The calendar package knows the State Council's holiday arrangements up to the year it was
released; beyond that, Monday to Friday count as working days and a warning is logged once per
year, so deadlines stay computable (and conservative staff can extend them).
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import cache

import chinese_calendar

log = logging.getLogger("hotline.workdays")


@cache
def _warn_unknown_year(year: int) -> None:
    log.warning("no holiday data for %s in chinese-calendar: counting Monday-Friday only", year)


def is_working_day(day: dt.date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        _warn_unknown_year(day.year)
        return day.weekday() < 5


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The `days`-th working day after `start` (the day of receipt itself does not count)."""
    if days < 0:
        raise ValueError("days must not be negative")
    day = start
    counted = 0
    while counted < days:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return day


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after `start` up to and including `end` (negative when `end` is earlier)."""
    if end < start:
        return -working_days_between(end, start)
    return sum(1 for n in range(1, (end - start).days + 1)
               if is_working_day(start + dt.timedelta(days=n)))

from __future__ import annotations

import datetime as dt

import pytest

from bot.services.workdays import add_working_days, is_working_day, working_days_between

D = dt.date


@pytest.mark.parametrize("day,working", [
    (D(2026, 10, 1), False),   # National Day
    (D(2026, 10, 7), False),
    (D(2026, 10, 10), True),   # Saturday made a working day
    (D(2026, 9, 20), True),    # Sunday made a working day
    (D(2026, 11, 25), True),
    (D(2026, 11, 28), False),  # an ordinary Saturday
    (D(2026, 2, 17), False),   # Spring Festival
    (D(2026, 2, 28), True),    # Saturday made a working day after Spring Festival
])
def test_calendar_2026(day, working):
    assert is_working_day(day) is working


def test_deadline_across_national_day():
    # received on Wednesday 30 September: 3 working days skip the holiday week
    assert add_working_days(D(2026, 9, 30), 3) == D(2026, 10, 10)
    assert add_working_days(D(2026, 9, 30), 15) == D(2026, 10, 27)


def test_deadline_across_spring_festival():
    assert add_working_days(D(2026, 2, 13), 3) == D(2026, 2, 25)


def test_zero_days_and_bad_input():
    assert add_working_days(D(2026, 11, 25), 0) == D(2026, 11, 25)
    with pytest.raises(ValueError):
        add_working_days(D(2026, 11, 25), -1)


def test_between_counts_working_days_both_ways():
    assert working_days_between(D(2026, 9, 30), D(2026, 10, 10)) == 3
    assert working_days_between(D(2026, 10, 10), D(2026, 9, 30)) == -3


def test_year_without_holiday_data_counts_weekdays(caplog):
    assert add_working_days(D(2099, 6, 5), 1) == D(2099, 6, 8)  # Friday -> Monday
    assert "2099" in caplog.text

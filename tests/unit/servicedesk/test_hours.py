"""Service hours on the Chinese working-day calendar, with the fallback for unknown years."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from campusid.clock import SHANGHAI
from campusid.config import Settings
from campusid.servicedesk.hours import (
    ServiceCalendar,
    calendar_knows,
    hotline_status,
    is_working_day,
    missing_year,
)


def at(y: int, m: int, d: int, hh: int, mm: int) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def status(now: datetime, calendar: ServiceCalendar | None = None, **overrides: object):  # type: ignore[no-untyped-def]
    return hotline_status(Settings(secret_key="k", **overrides), now, calendar)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 11, 30), True),  # a Monday
        (date(2026, 11, 28), False),  # a Saturday
        (date(2026, 10, 1), False),  # National Day
        (date(2026, 10, 10), True),  # Saturday made a working day (调休)
        (date(2026, 1, 4), True),  # Sunday made a working day
    ],
)
def test_known_years_follow_the_calendar(day, working):
    assert is_working_day(day) is working


@pytest.mark.parametrize(
    ("clock", "is_open", "next_text"),
    [
        ((8, 29), False, "今天 8:30"),
        ((8, 30), True, ""),
        ((16, 59), True, ""),
        ((17, 0), False, "明天（周二） 8:30"),
    ],
)
def test_hours_edges(clock, is_open, next_text):
    result = status(at(2026, 11, 30, *clock))
    assert result.is_open is is_open
    assert result.next_open_text == next_text


def test_friday_evening_opens_on_monday():
    result = status(at(2026, 12, 4, 18, 0))
    assert result.next_open == at(2026, 12, 7, 8, 30)
    assert result.next_open_text == "12月7日（周一） 8:30"


def test_holiday_opens_after_the_break_and_counts_the_adjusted_saturday():
    result = status(at(2026, 10, 1, 10, 0))
    assert not result.is_open
    assert result.next_open == at(2026, 10, 8, 8, 30)
    assert status(at(2026, 10, 10, 10, 0)).is_open


def test_configured_hours():
    result = status(at(2026, 11, 30, 8, 45), servicedesk_opens_at=time(9, 0))
    assert not result.is_open
    assert result.hours == "工作日 9:00-17:00"
    assert result.next_open_text == "今天 9:00"


def test_unknown_year_falls_back_to_weekdays_and_the_entered_days():
    year = 2040
    assert not calendar_knows(year)
    monday, saturday = date(year, 1, 2), date(year, 1, 7)
    assert is_working_day(monday)
    assert not is_working_day(saturday)
    assert not is_working_day(monday, closed_days={monday})
    assert is_working_day(saturday, open_days={saturday})
    result = status(at(year, 1, 1, 10, 0), ServiceCalendar(closed=frozenset({date(year, 1, 1)})))
    assert not result.is_open
    assert not result.calendar_known
    assert result.missing_year == year
    assert result.next_open == at(year, 1, 2, 8, 30)


def test_entered_closed_days_close_a_known_working_day_too():
    calendar = ServiceCalendar(closed=frozenset({date(2026, 11, 30)}))
    assert not status(at(2026, 11, 30, 10, 0), calendar).is_open


def test_an_entered_year_replaces_the_package_and_is_weekdays_plus_its_days():
    # 2026-10-01 is a holiday for the package; an administrator who entered 2026 without it
    # opens the desk that day, and a 调休 Saturday entered is open.
    calendar = ServiceCalendar(years=frozenset({2026}), open=frozenset({date(2026, 11, 28)}))
    assert calendar.is_working_day(date(2026, 10, 1))
    assert not calendar.is_working_day(date(2026, 10, 10))  # the package's 调休, not entered
    assert calendar.is_working_day(date(2026, 11, 28))


@pytest.mark.parametrize(
    ("today", "entered", "missing"),
    [
        (date(2026, 11, 30), frozenset(), None),  # 2026 known, 2027 more than a month away
        (date(2026, 12, 1), frozenset(), 2027),  # a month ahead: say 2027 is missing
        (date(2026, 12, 1), frozenset({2027}), None),  # entered
        (date(2040, 6, 1), frozenset(), 2040),  # this year itself unknown
    ],
)
def test_a_missing_year_is_announced_a_month_ahead(today, entered, missing):
    assert missing_year(ServiceCalendar(years=entered), today) == missing

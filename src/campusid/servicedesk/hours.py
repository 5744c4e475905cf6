"""Service hours of the hotline on the Chinese working-day calendar (pure functions, no DB).

Which days are working days, in this order (issue 20):
1. a year a platform administrator entered at 平台管理 → 服务日历 (`ServiceCalendar`, kept in the
   database by `servicedesk.calendar`): Monday to Friday, less its holidays, plus its 调休 days;
2. else a year the `chinesecalendar` package knows (it ships the State Council's arrangement
   year by year): statutory holidays closed, 调休 weekend days open;
3. else Monday to Friday, and the console and the platform's home page say the year is missing
   (from a month before it starts).
The hours (`CAMPUSID_SERVICEDESK_OPENS_AT` / `_CLOSES_AT`) are the one setting; the text shown
(工作日 8:30-17:00) is made from them.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import chinese_calendar

from campusid.clock import SHANGHAI
from campusid.config import Settings
from campusid.i18n import N_

WEEKDAY_NAMES = (N_("周一"), N_("周二"), N_("周三"), N_("周四"), N_("周五"), N_("周六"), N_("周日"))
# How far ahead to look for the next opening; a year always has a working day.
_LOOKAHEAD_DAYS = 400


@functools.cache
def calendar_knows(year: int) -> bool:
    """Whether the calendar package has the official arrangement of this year."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@dataclass(frozen=True)
class ServiceCalendar:
    """The years a platform administrator entered, and their closed and open days."""

    years: frozenset[int] = frozenset()
    closed: frozenset[date] = frozenset()
    open: frozenset[date] = frozenset()

    def knows(self, year: int) -> bool:
        """Whether the year's arrangement is known (entered, or in the calendar package)."""
        return year in self.years or calendar_knows(year)

    def is_working_day(self, day: date) -> bool:
        """Whether the hotline works on this day."""
        return is_working_day(
            day, closed_days=self.closed, open_days=self.open, entered_years=self.years
        )


# The warning about next year starts this many days before it (from 12-01).
NEXT_YEAR_WARNING_DAYS = 31


def missing_year(calendar: ServiceCalendar, today: date) -> int | None:
    """A year whose holidays nobody knows, to warn about: this one, or the next from 12-01."""
    if not calendar.knows(today.year):
        return today.year
    soon = today + timedelta(days=NEXT_YEAR_WARNING_DAYS)
    if soon.year != today.year and not calendar.knows(soon.year):
        return soon.year
    return None


def is_working_day(
    day: date,
    *,
    closed_days: Collection[date] = (),
    open_days: Collection[date] = (),
    entered_years: Collection[int] = (),
) -> bool:
    """Whether the hotline works on this day (see the module's docstring for the order)."""
    if day in closed_days:
        return False
    if day in open_days:
        return True
    if day.year in entered_years:
        return day.weekday() < 5
    if calendar_knows(day.year):
        return bool(chinese_calendar.is_workday(day))
    return day.weekday() < 5


def hours_text(opens_at: time, closes_at: time) -> str:
    """The hours as the guide writes them: 工作日 8:30-17:00."""
    return N_(
        "工作日 %(opens)s-%(closes)s", opens=_clock_text(opens_at), closes=_clock_text(closes_at)
    )


def _clock_text(at: time) -> str:
    return f"{at.hour}:{at.minute:02d}"


def day_text(day: date, today: date) -> str:
    """今天 / 明天(周二) / 12月7日(周一), as the hotline line says when it opens."""
    weekday = WEEKDAY_NAMES[day.weekday()]
    if day == today:
        return N_("今天")
    if day == today + timedelta(days=1):
        return N_("明天（%(weekday)s）", weekday=weekday)
    return N_("%(month)s月%(day)s日（%(weekday)s）", month=day.month, day=day.day, weekday=weekday)


@dataclass(frozen=True)
class HotlineStatus:
    """Whether the hotline is open now, and when it opens next."""

    number: str
    hours: str
    is_open: bool
    closes_at: datetime | None  # local time, when open
    next_open: datetime | None  # local time, when closed
    next_open_text: str  # 明天(周二)8:30; empty when open
    calendar_known: bool  # False: this year's holidays come from the fallback
    missing_year: int | None = None  # this year or (from 12-01) next, when nobody entered it

    @property
    def summary(self) -> str:
        """One line for the page: open until when, or when it opens next."""
        if self.is_open and self.closes_at is not None:
            return N_("服务中，今天 %(time)s 结束", time=_clock_text(self.closes_at.timetz()))
        if self.next_open_text:
            return N_("当前不在服务时间，下次开放：%(when)s", when=self.next_open_text)
        return N_("当前不在服务时间")


def hotline_status(
    settings: Settings, now: datetime, calendar: ServiceCalendar | None = None
) -> HotlineStatus:
    """The hotline's state at `now` (an aware datetime), by the settings' hours and the
    calendar (`servicedesk.calendar.current` loads the database's)."""
    local = now.astimezone(SHANGHAI)
    today = local.date()
    opens_at, closes_at = settings.servicedesk_opens_at, settings.servicedesk_closes_at
    calendar = calendar or ServiceCalendar()
    working = calendar.is_working_day

    # Opening inclusive, closing exclusive: 8:29 closed, 8:30 open, 17:00 closed.
    is_open = working(today) and opens_at <= local.time() < closes_at
    next_open = None
    if not is_open:
        first = today if local.time() < opens_at else today + timedelta(days=1)
        for offset in range(_LOOKAHEAD_DAYS):
            day = first + timedelta(days=offset)
            if working(day):
                next_open = datetime.combine(day, opens_at, tzinfo=SHANGHAI)
                break
    return HotlineStatus(
        number=settings.hotline_number,
        hours=hours_text(opens_at, closes_at),
        is_open=is_open,
        closes_at=datetime.combine(today, closes_at, tzinfo=SHANGHAI) if is_open else None,
        next_open=next_open,
        next_open_text=(
            N_(
                "%(day)s %(time)s",
                day=day_text(next_open.date(), today),
                time=_clock_text(opens_at),
            )
            if next_open
            else ""
        ),
        calendar_known=calendar.knows(today.year),
        missing_year=missing_year(calendar, today),
    )

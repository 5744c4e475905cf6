"""Service hours of the hotline on the Chinese working-day calendar (pure functions, no DB).

Working days follow the `chinesecalendar` package: statutory holidays are closed and the
weekend days made working days (调休) are open. The package ships the State Council's
arrangement year by year; for a year it does not know yet, the desk falls back to Monday to
Friday, corrected by the settings' extra closed days (and extra open days for announced 调休).
The extra closed days apply in every year (e.g. a platform maintenance day).
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


def is_working_day(
    day: date,
    *,
    closed_days: Collection[date] = (),
    open_days: Collection[date] = (),
) -> bool:
    """Whether the hotline works on this day (see the module's docstring for the order)."""
    if day in closed_days:
        return False
    if day in open_days:
        return True
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
        return N_("明天(%(weekday)s)", weekday=weekday)
    return N_("%(month)s月%(day)s日(%(weekday)s)", month=day.month, day=day.day, weekday=weekday)


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

    @property
    def summary(self) -> str:
        """One line for the page: open until when, or when it opens next."""
        if self.is_open and self.closes_at is not None:
            return N_("服务中,今天 %(time)s 结束", time=_clock_text(self.closes_at.timetz()))
        if self.next_open_text:
            return N_("当前不在服务时间,下次开放:%(when)s", when=self.next_open_text)
        return N_("当前不在服务时间")


def hotline_status(settings: Settings, now: datetime) -> HotlineStatus:
    """The hotline's state at `now` (an aware datetime), by the settings' hours and calendar."""
    local = now.astimezone(SHANGHAI)
    today = local.date()
    opens_at, closes_at = settings.servicedesk_opens_at, settings.servicedesk_closes_at
    closed = frozenset(settings.servicedesk_closed_days)
    extra_open = frozenset(settings.servicedesk_open_days)

    def working(day: date) -> bool:
        return is_working_day(day, closed_days=closed, open_days=extra_open)

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
        calendar_known=calendar_knows(today.year),
    )

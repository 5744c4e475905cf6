"""The service calendar in the database (issue 20): holidays and 调休 days per year.

A platform administrator enters a year at 平台管理 → 服务日历; the page is prefilled from the
`chinesecalendar` package where it knows the year. Every page shows the hotline line, so the
calendar is cached per app for a minute (`current`); saving clears this process's cache, other
worker processes see the change within the minute.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date, datetime

import chinese_calendar
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.context import Services
from campusid.db import begin_reading
from campusid.i18n import N_
from campusid.servicedesk.hours import ServiceCalendar, calendar_knows
from campusid.servicedesk.models import ServiceDay, ServiceYear
from campusid.types import ClientInfo

CACHE_KEY = "servicedesk.calendar"
CACHE_SECONDS = 60.0
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
_SEPARATORS = re.compile(r"[\s,，、;；]+")


def load(db: Session) -> ServiceCalendar:
    """The entered years and their days, from the database."""
    years = frozenset(db.scalars(select(ServiceYear.year)))
    closed: set[date] = set()
    opened: set[date] = set()
    for day, is_open in db.execute(select(ServiceDay.day, ServiceDay.is_open)):
        (opened if is_open else closed).add(day)
    return ServiceCalendar(years=years, closed=frozenset(closed), open=frozenset(opened))


def current(services: Services) -> ServiceCalendar:
    """The calendar, cached for a minute in this app (read in a short session of its own)."""
    cached = services.caches.get(CACHE_KEY)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    with services.session_factory() as db:
        begin_reading(db)
        calendar = load(db)
    services.caches[CACHE_KEY] = (time.monotonic(), calendar)
    return calendar


def forget(services: Services) -> None:
    """Drop this app's cached calendar (after a change)."""
    services.caches.pop(CACHE_KEY, None)


@dataclass(frozen=True)
class YearDays:
    """One year's holidays (weekdays closed) and 调休 days (weekend days open)."""

    year: int
    closed: list[date]
    open: list[date]
    entered: bool  # from the database; else a proposal (from chinesecalendar, or empty)
    source: str  # "database", "chinesecalendar" or "none"


def year_days(db: Session, year: int) -> YearDays:
    """What the page shows for a year: the entered days, else chinesecalendar's, else none."""
    if db.get(ServiceYear, year) is not None:
        rows = db.execute(
            select(ServiceDay.day, ServiceDay.is_open)
            .where(ServiceDay.year == year)
            .order_by(ServiceDay.day)
        ).all()
        return YearDays(
            year,
            [d for d, is_open in rows if not is_open],
            [d for d, is_open in rows if is_open],
            True,
            "database",
        )
    if calendar_knows(year):
        start, end = date(year, 1, 1), date(year, 12, 31)
        closed = sorted(chinese_calendar.get_holidays(start, end, include_weekends=False))
        opened = sorted(d for d in chinese_calendar.get_workdays(start, end) if d.weekday() >= 5)
        return YearDays(year, closed, opened, False, "chinesecalendar")
    return YearDays(year, [], [], False, "none")


class CalendarError(ValueError):
    """The days typed cannot be saved; `messages` say why, in Chinese."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def parse_days(text: str, year: int, label: str) -> tuple[list[date], list[str]]:
    """Dates typed one a line (or separated by commas or spaces), all in `year`."""
    days: set[date] = set()
    problems: list[str] = []
    for token in _SEPARATORS.split(text.strip()):
        if not token:
            continue
        try:
            if not _DATE.fullmatch(token):
                raise ValueError(token)
            parsed = date(*(int(part) for part in token.split("-")))
        except ValueError:
            problems.append(
                N_(
                    "%(label)s中的「%(value)s」不是日期，请写成 2027-01-01",
                    label=label,
                    value=token[:20],
                )
            )
            continue
        if parsed.year != year:
            problems.append(
                N_("%(label)s中的 %(day)s 不在 %(year)s 年", label=label, day=parsed, year=year)
            )
            continue
        days.add(parsed)
    return sorted(days), problems


def save_year(
    db: Session,
    *,
    services: Services,
    year: int,
    closed_text: str,
    open_text: str,
    actor_id: int,
    client: ClientInfo,
    now: datetime,
) -> YearDays:
    """Replace a year's days with those typed (all or nothing), audited; clears the cache."""
    closed, problems = parse_days(closed_text, year, N_("节假日"))
    opened, more = parse_days(open_text, year, N_("调休上班日"))
    problems += more
    both = sorted(set(closed) & set(opened))
    if both:
        problems.append(
            N_(
                "%(days)s 不能既是节假日又是调休上班日",
                days="、".join(day.isoformat() for day in both),
            )
        )
    if problems:
        raise CalendarError(problems)
    entry = db.get(ServiceYear, year)
    if entry is None:
        entry = ServiceYear(year=year, updated_at=now, updated_by_id=actor_id)
        db.add(entry)
    else:
        entry.updated_at, entry.updated_by_id = now, actor_id
    db.flush()
    db.execute(delete(ServiceDay).where(ServiceDay.year == year))
    db.add_all(ServiceDay(day=day, year=year, is_open=False) for day in closed)
    db.add_all(ServiceDay(day=day, year=year, is_open=True) for day in opened)
    audit.record(
        db,
        now=now,
        action=AuditAction.SERVICE_CALENDAR_CHANGED,
        actor_id=actor_id,
        actor_role="platform_admin",
        client=client,
        detail={"year": year, "holidays": len(closed), "workdays": len(opened)},
    )
    db.flush()
    forget(services)
    return YearDays(year, closed, opened, True, "database")

"""Time is injected: services ask a Clock, tests set it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    """Something that tells the current time (timezone-aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Now, in UTC."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved; for tests and benchmarks."""

    def __init__(self, at: datetime | None = None) -> None:
        self._at = at or datetime(2026, 11, 30, 2, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """The set time."""
        return self._at

    def set(self, at: datetime) -> None:
        """Move to an absolute time (must be timezone-aware)."""
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at.astimezone(UTC)

    def advance(self, **kwargs: float) -> None:
        """Move forward by a timedelta's keyword arguments."""
        self._at += timedelta(**kwargs)


class FileClock:
    """The time written in a file (ISO 8601), else the real time: end-to-end tests move it.

    Only for development and test servers; build_services refuses it in production.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def now(self) -> datetime:
        """The file's time if it holds one, else now."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read().strip()
        except FileNotFoundError:
            return datetime.now(UTC)
        return datetime.fromisoformat(text).astimezone(UTC) if text else datetime.now(UTC)


def local_today(clock: Clock) -> date:
    """Today's date in China, where every school of the platform is."""
    return clock.now().astimezone(SHANGHAI).date()


def as_utc(value: datetime) -> datetime:
    """Treat a naive datetime read back from SQLite as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

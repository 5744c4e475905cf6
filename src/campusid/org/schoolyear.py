"""School-year arithmetic: stages, school systems, grade names (pure functions, no DB).

A grade is identified by its enrollment year; its display name follows from the enrollment year,
the school system (学制) and the current school year, so promotion and graduation need no batch job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

from campusid.clock import local_today
from campusid.i18n import N_

if TYPE_CHECKING:
    from campusid.clock import Clock
    from campusid.config import Settings

__all__ = [
    "DEFAULT_BOUNDARY",
    "Calendar",
    "SchoolSystem",
    "Stage",
    "YearBoundary",
    "calendar_for",
    "class_name",
    "current_grades",
    "enrollment_year_for",
    "grade_label",
    "grade_name",
    "graduation_year",
    "is_graduated",
    "school_year",
    "stage_length",
    "year_in_stage",
]

_NUMERALS = ("一", "二", "三", "四", "五", "六", "七", "八", "九")


class Stage(StrEnum):
    """School stage (学段)."""

    PRIMARY = "primary"
    JUNIOR = "junior"
    SENIOR = "senior"

    @property
    def label(self) -> str:
        """Chinese name of the stage."""
        return _STAGE_LABELS[self]


class SchoolSystem(StrEnum):
    """School system (学制): years of primary + junior school."""

    SIX_THREE = "6-3"
    FIVE_FOUR = "5-4"

    @property
    def label(self) -> str:
        """Chinese name of the school system."""
        return _SYSTEM_LABELS[self]


_STAGE_LABELS: dict[Stage, str] = {
    Stage.PRIMARY: N_("小学"),
    Stage.JUNIOR: N_("初中"),
    Stage.SENIOR: N_("高中"),
}
_SYSTEM_LABELS: dict[SchoolSystem, str] = {
    SchoolSystem.SIX_THREE: N_("六三制"),
    SchoolSystem.FIVE_FOUR: N_("五四制"),
}
_LENGTHS: dict[tuple[Stage, SchoolSystem], int] = {
    (Stage.PRIMARY, SchoolSystem.SIX_THREE): 6,
    (Stage.PRIMARY, SchoolSystem.FIVE_FOUR): 5,
    (Stage.JUNIOR, SchoolSystem.SIX_THREE): 3,
    (Stage.JUNIOR, SchoolSystem.FIVE_FOUR): 4,
    (Stage.SENIOR, SchoolSystem.SIX_THREE): 3,
    (Stage.SENIOR, SchoolSystem.FIVE_FOUR): 3,
}


@dataclass(frozen=True)
class YearBoundary:
    """Day on which a new school year starts (default 1 September)."""

    month: int = 9
    day: int = 1

    def __post_init__(self) -> None:
        """Reject impossible dates (29 February is allowed; it means 1 March in common years)."""
        date(2000, self.month, self.day)  # raises ValueError

    def reached(self, today: date) -> bool:
        """Return True if ``today`` is on or after the boundary in its calendar year."""
        return (today.month, today.day) >= (self.month, self.day)


DEFAULT_BOUNDARY = YearBoundary()


@dataclass(frozen=True)
class Calendar:
    """Today in China and the school-year boundary: everything a grade's or class's name and
    state (current, graduated) follow from. The one definition; `calendar_for` makes it."""

    today: date
    boundary: YearBoundary

    @property
    def school_year(self) -> int:
        """The calendar year in which the current school year started."""
        return school_year(self.today, self.boundary)


def calendar_for(settings: Settings, clock: Clock) -> Calendar:
    """The calendar of a clock and the configured school-year boundary (the one derivation)."""
    return Calendar(
        today=local_today(clock),
        boundary=YearBoundary(
            month=settings.school_year_boundary_month, day=settings.school_year_boundary_day
        ),
    )


def stage_length(stage: Stage, system: SchoolSystem) -> int:
    """Return the number of years of a stage under a school system."""
    return _LENGTHS[(Stage(stage), SchoolSystem(system))]


def school_year(today: date, boundary: YearBoundary = DEFAULT_BOUNDARY) -> int:
    """Return the calendar year in which the current school year started."""
    return today.year if boundary.reached(today) else today.year - 1


def year_in_stage(
    enrollment_year: int, today: date, boundary: YearBoundary = DEFAULT_BOUNDARY
) -> int:
    """Return the year within the stage (1 = first); <1 before enrollment, > length after."""
    return school_year(today, boundary) - enrollment_year + 1


def graduation_year(stage: Stage, system: SchoolSystem, enrollment_year: int) -> int:
    """Return the calendar year in which the grade leaves the stage."""
    return enrollment_year + stage_length(stage, system)


def is_graduated(
    stage: Stage,
    system: SchoolSystem,
    enrollment_year: int,
    today: date,
    boundary: YearBoundary = DEFAULT_BOUNDARY,
) -> bool:
    """Return True once the grade has completed the last year of its stage."""
    return year_in_stage(enrollment_year, today, boundary) > stage_length(stage, system)


def _default_name(stage: Stage, system: SchoolSystem, year: int) -> str:
    """Default display name of year ``year`` (1-based) of a stage."""
    stage = Stage(stage)
    if stage is Stage.SENIOR:
        return f"高{_NUMERALS[year - 1]}"
    offset = 0 if stage is Stage.PRIMARY else stage_length(Stage.PRIMARY, system)
    return f"{_NUMERALS[offset + year - 1]}年级"


def grade_name(
    stage: Stage,
    system: SchoolSystem,
    enrollment_year: int,
    today: date,
    boundary: YearBoundary = DEFAULT_BOUNDARY,
    overrides: Mapping[int, str] | None = None,
) -> str:
    """Return the grade's display name today (一年级, 七年级, 高一, or a custom 年级命名)."""
    year = year_in_stage(enrollment_year, today, boundary)
    if year < 1:
        return N_("%(year)s级（未入学）", year=enrollment_year)
    if year > stage_length(stage, system):
        return N_("%(year)s级（已毕业）", year=enrollment_year)
    if overrides and overrides.get(year):
        return overrides[year]
    return _default_name(stage, system, year)


def grade_label(
    stage: Stage,
    system: SchoolSystem,
    enrollment_year: int,
    today: date,
    boundary: YearBoundary = DEFAULT_BOUNDARY,
    overrides: Mapping[int, str] | None = None,
) -> str:
    """Return the grade's name with its enrollment year, e.g. ``一年级2020级``."""
    name = grade_name(stage, system, enrollment_year, today, boundary, overrides)
    year = year_in_stage(enrollment_year, today, boundary)
    if not 1 <= year <= stage_length(stage, system):
        return name  # already "<year>级(未入学)" / "<year>级(已毕业)"
    return N_("%(name)s%(year)s级", name=name, year=enrollment_year)


def class_name(grade_display_name: str, number: int) -> str:
    """Return a class's display name, e.g. ``三年级1班``."""
    if number < 1:
        raise ValueError("class number must be >= 1")
    return f"{grade_display_name}{number}班"


def enrollment_year_for(
    stage: Stage,
    system: SchoolSystem,
    year_in_stage: int,
    today: date,
    boundary: YearBoundary = DEFAULT_BOUNDARY,
) -> int:
    """Return the enrollment year of the grade now in year ``year_in_stage`` (1..length)."""
    length = stage_length(stage, system)
    if not 1 <= year_in_stage <= length:
        raise ValueError(f"year_in_stage must be within 1..{length}")
    return school_year(today, boundary) - year_in_stage + 1


def current_grades(
    stage: Stage,
    system: SchoolSystem,
    today: date,
    boundary: YearBoundary = DEFAULT_BOUNDARY,
    overrides: Mapping[int, str] | None = None,
) -> list[tuple[int, str]]:
    """List ``(enrollment_year, grade_name)`` for every year of the stage now, youngest first."""
    result: list[tuple[int, str]] = []
    for year in range(1, stage_length(stage, system) + 1):
        enrolled = enrollment_year_for(stage, system, year, today, boundary)
        result.append((enrolled, grade_name(stage, system, enrolled, today, boundary, overrides)))
    return result

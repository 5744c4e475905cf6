"""Tests of school-year arithmetic and grade naming."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campusid.org.schoolyear import (
    SchoolSystem,
    Stage,
    YearBoundary,
    class_name,
    current_grades,
    enrollment_year_for,
    grade_label,
    grade_name,
    graduation_year,
    is_graduated,
    school_year,
    stage_length,
    year_in_stage,
)

P, J, S = Stage.PRIMARY, Stage.JUNIOR, Stage.SENIOR
SIX_THREE, FIVE_FOUR = SchoolSystem.SIX_THREE, SchoolSystem.FIVE_FOUR

boundaries = st.builds(YearBoundary, month=st.integers(1, 12), day=st.integers(1, 28))
stages = st.sampled_from(list(Stage))
systems = st.sampled_from(list(SchoolSystem))


def test_labels_and_lengths() -> None:
    assert [s.label for s in Stage] == ["小学", "初中", "高中"]
    assert SIX_THREE.label == "六三制"
    assert FIVE_FOUR.label == "五四制"
    assert SchoolSystem("5-4") is FIVE_FOUR
    assert [stage_length(s, SIX_THREE) for s in Stage] == [6, 3, 3]
    assert [stage_length(s, FIVE_FOUR) for s in Stage] == [5, 4, 3]


def test_school_year_default_boundary() -> None:
    assert school_year(date(2026, 8, 31)) == 2025
    assert school_year(date(2026, 9, 1)) == 2026
    assert school_year(date(2026, 1, 1)) == 2025


def test_primary_six_three_across_the_boundary() -> None:
    assert grade_name(P, SIX_THREE, 2020, date(2020, 8, 31)) == "2020级（未入学）"
    assert grade_name(P, SIX_THREE, 2020, date(2020, 9, 1)) == "一年级"
    assert grade_name(P, SIX_THREE, 2020, date(2023, 3, 1)) == "三年级"
    assert grade_name(P, SIX_THREE, 2020, date(2026, 8, 31)) == "六年级"
    assert not is_graduated(P, SIX_THREE, 2020, date(2026, 8, 31))
    assert grade_name(P, SIX_THREE, 2020, date(2026, 9, 1)) == "2020级（已毕业）"
    assert is_graduated(P, SIX_THREE, 2020, date(2026, 9, 1))
    assert graduation_year(P, SIX_THREE, 2020) == 2026


def test_primary_five_four_graduates_after_five_years() -> None:
    assert graduation_year(P, FIVE_FOUR, 2021) == 2026
    assert grade_name(P, FIVE_FOUR, 2021, date(2026, 8, 31)) == "五年级"
    assert grade_name(P, FIVE_FOUR, 2021, date(2026, 9, 1)) == "2021级（已毕业）"


def test_junior_numbering() -> None:
    today = date(2025, 10, 1)
    assert [n for _, n in current_grades(J, SIX_THREE, today)] == ["七年级", "八年级", "九年级"]
    assert [n for _, n in current_grades(J, FIVE_FOUR, today)] == [
        "六年级", "七年级", "八年级", "九年级",
    ]  # fmt: skip
    assert grade_name(J, FIVE_FOUR, 2025, today) == "六年级"
    assert grade_name(J, FIVE_FOUR, 2021, date(2025, 8, 31)) == "九年级"
    assert grade_name(J, FIVE_FOUR, 2021, date(2025, 9, 1)) == "2021级（已毕业）"


def test_senior_names() -> None:
    assert current_grades(S, SIX_THREE, date(2025, 10, 1)) == [
        (2025, "高一"), (2024, "高二"), (2023, "高三"),
    ]  # fmt: skip
    assert current_grades(S, FIVE_FOUR, date(2025, 10, 1)) == current_grades(
        S, SIX_THREE, date(2025, 10, 1)
    )


def test_current_grades_primary_and_labels() -> None:
    grades = current_grades(P, SIX_THREE, date(2020, 9, 1))
    assert grades[0] == (2020, "一年级")
    assert grades[-1] == (2015, "六年级")
    assert grade_label(P, SIX_THREE, 2020, date(2020, 9, 1)) == "一年级2020级"
    assert grade_label(P, SIX_THREE, 2020, date(2027, 1, 1)) == "2020级（已毕业）"
    assert grade_label(P, SIX_THREE, 2021, date(2020, 9, 1)) == "2021级（未入学）"


def test_custom_boundary() -> None:
    spring = YearBoundary(month=3, day=1)
    assert school_year(date(2026, 2, 28), spring) == 2025
    assert school_year(date(2026, 3, 1), spring) == 2026
    assert grade_name(P, SIX_THREE, 2020, date(2026, 2, 28), spring) == "六年级"
    assert grade_name(P, SIX_THREE, 2020, date(2026, 3, 1), spring) == "2020级（已毕业）"
    leap = YearBoundary(month=2, day=29)
    assert school_year(date(2025, 2, 28), leap) == 2024
    assert school_year(date(2025, 3, 1), leap) == 2025
    with pytest.raises(ValueError, match="day"):
        YearBoundary(month=2, day=30)
    with pytest.raises(ValueError, match="month"):
        YearBoundary(month=13, day=1)


def test_overrides() -> None:
    overrides = {1: "起始年级", 6: "毕业年级"}
    today = date(2025, 10, 1)
    names = [n for _, n in current_grades(P, SIX_THREE, today, overrides=overrides)]
    assert names == ["起始年级", "二年级", "三年级", "四年级", "五年级", "毕业年级"]
    assert grade_label(P, SIX_THREE, 2025, today, overrides=overrides) == "起始年级2025级"
    # overrides never rename grades outside the stage
    assert grade_name(P, SIX_THREE, 2026, today, overrides=overrides) == "2026级（未入学）"


def test_class_name() -> None:
    assert class_name("三年级", 1) == "三年级1班"
    assert class_name("高二", 12) == "高二12班"
    with pytest.raises(ValueError, match="class number"):
        class_name("三年级", 0)


def test_enrollment_year_for_range() -> None:
    assert enrollment_year_for(P, SIX_THREE, 1, date(2020, 9, 1)) == 2020
    assert enrollment_year_for(P, SIX_THREE, 6, date(2020, 9, 1)) == 2015
    with pytest.raises(ValueError, match="year_in_stage"):
        enrollment_year_for(P, FIVE_FOUR, 6, date(2020, 9, 1))
    with pytest.raises(ValueError, match="year_in_stage"):
        enrollment_year_for(P, FIVE_FOUR, 0, date(2020, 9, 1))


@given(
    enrollment=st.integers(1990, 2100),
    year=st.integers(1990, 2100),
    boundary=boundaries,
)
def test_year_in_stage_steps_by_one_at_each_boundary(
    enrollment: int, year: int, boundary: YearBoundary
) -> None:
    at = date(year, boundary.month, boundary.day)
    before = at - timedelta(days=1)
    step = year_in_stage(enrollment, at, boundary) - year_in_stage(enrollment, before, boundary)
    assert step == 1
    # constant for the rest of the school year
    end = date(year + 1, boundary.month, boundary.day) - timedelta(days=1)
    assert year_in_stage(enrollment, end, boundary) == year_in_stage(enrollment, at, boundary)


@given(
    stage=stages,
    system=systems,
    today=st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)),
    boundary=boundaries,
    data=st.data(),
)
def test_enrollment_year_for_inverts_year_in_stage(
    stage: Stage, system: SchoolSystem, today: date, boundary: YearBoundary, data: st.DataObject
) -> None:
    year = data.draw(st.integers(1, stage_length(stage, system)))
    enrolled = enrollment_year_for(stage, system, year, today, boundary)
    assert year_in_stage(enrolled, today, boundary) == year
    assert not is_graduated(stage, system, enrolled, today, boundary)
    assert graduation_year(stage, system, enrolled) > school_year(today, boundary)


@given(
    stage=stages,
    system=systems,
    today=st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)),
    boundary=boundaries,
)
def test_grade_names_within_a_stage_are_distinct(
    stage: Stage, system: SchoolSystem, today: date, boundary: YearBoundary
) -> None:
    grades = current_grades(stage, system, today, boundary)
    assert len(grades) == stage_length(stage, system)
    names = [n for _, n in grades]
    assert len(set(names)) == len(names)
    years = [y for y, _ in grades]
    assert years == sorted(years, reverse=True)
    assert all("级（" not in n for n in names)
    # the first year before the stage and the one after are outside it
    assert grade_name(stage, system, years[0] + 1, today, boundary).endswith("（未入学）")
    assert grade_name(stage, system, years[-1] - 1, today, boundary).endswith("（已毕业）")

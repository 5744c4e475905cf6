"""年级设置: 年级组长, and 升级/毕业 by hand."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from campusid.members import teachers as staff
from campusid.members.batch import MemberError
from campusid.org import building
from campusid.org.building import Invalid
from campusid.org.deps import Page
from campusid.org.models import Grade
from campusid.org.service import graduation_year_of, is_graduated
from campusid.org.tree import grade_label
from campusid.org.views import lookup
from campusid.org.views.forms import EnrollmentForm, LeaderForm
from campusid.web import Id

router = APIRouter(prefix="/school/{school_id}/grades/{grade_id}")

SETTINGS = "org/grade_settings.html"


def _settings(page: Page, grade: Grade, typed_year: int | str | None = None) -> dict[str, Any]:
    """The settings page's content (its node opened in the tree)."""
    page.at("grade", grade.id)
    return {
        "typed_year": grade.enrollment_year if typed_year is None else typed_year,
        "can_correct": not is_graduated(grade, page.calendar.today, page.calendar.boundary),
        "grade": grade,
        "grade_label": grade_label(grade, page.calendar),
        "leaders": staff.grade_leaders(page.db, grade),
        "school_teachers": staff.teachers(page.db, page.school),
        "graduation_year": graduation_year_of(grade),
        "can_unpromote": bool(
            grade.year_offset and grade.promoted_school_year == page.calendar.school_year
        )
        and grade.graduated_at is None,
        "can_ungraduate": grade.graduated_at is not None,
    }


@router.get("/settings")
def grade_settings_page(page: Page, grade_id: Id) -> Response:
    """年级设置: 年级组长, and 升级/毕业 by hand."""
    return page.render(SETTINGS, errors=[], **_settings(page, lookup.grade(page, grade_id)))


@router.post("/promote")
def promote_grade(page: Page, grade_id: Id) -> Response:
    """升级 now, before the school-year boundary."""
    grade = lookup.grade(page, grade_id)
    try:
        building.promote(page.db, grade=grade, calendar=page.calendar)
    except Invalid as exc:
        return page.refuse(SETTINGS, exc, **_settings(page, grade))
    return page.go(f"/grades/{grade_id}", promoted=1)


@router.post("/graduate")
def graduate_grade(page: Page, grade_id: Id) -> Response:
    """毕业 now: the grade moves to 毕业班级 with its members."""
    grade = lookup.grade(page, grade_id)
    try:
        building.graduate(page.db, grade=grade, calendar=page.calendar, now=page.now)
    except Invalid as exc:
        return page.refuse(SETTINGS, exc, **_settings(page, grade))
    return page.go("/graduated", graduated=1)


@router.post("/unpromote")
def unpromote_grade(page: Page, grade_id: Id) -> Response:
    """撤销升级: take back this school year's promotion by hand."""
    grade = lookup.grade(page, grade_id)
    try:
        building.unpromote(page.db, grade=grade, calendar=page.calendar)
    except Invalid as exc:
        return page.refuse(SETTINGS, exc, **_settings(page, grade))
    return page.go(f"/grades/{grade_id}/settings")


@router.post("/ungraduate")
def ungraduate_grade(page: Page, grade_id: Id) -> Response:
    """撤销毕业: take back this school year's graduation by hand."""
    grade = lookup.grade(page, grade_id)
    try:
        building.ungraduate(page.db, grade=grade, calendar=page.calendar)
    except Invalid as exc:
        return page.refuse(SETTINGS, exc, **_settings(page, grade))
    return page.go(f"/grades/{grade_id}/settings")


@router.post("/enrollment-year")
def correct_enrollment_year(
    page: Page, grade_id: Id, form: Annotated[EnrollmentForm, Form()]
) -> Response:
    """更正入学年份 of a current grade."""
    grade = lookup.grade(page, grade_id)
    try:
        changed = building.correct_enrollment_year(
            page.db,
            grade=grade,
            enrollment_year=form.enrollment_year,
            calendar=page.calendar,
            now=page.now,
            actor=page.actor,
        )
    except Invalid as exc:
        typed = form.enrollment_year or ""  # as typed (not a number: blank)
        return page.refuse(SETTINGS, exc, **_settings(page, grade, typed))
    if not changed:
        return page.go(f"/grades/{grade_id}/settings", unchanged=1)
    return page.go(f"/grades/{grade_id}/settings", saved=1)


@router.post("/leaders")
def add_grade_leader(page: Page, grade_id: Id, form: Annotated[LeaderForm, Form()]) -> Response:
    """设置年级组长."""
    grade = lookup.grade(page, grade_id)
    try:
        staff.set_grade_leader(
            page.db,
            school=page.school,
            grade=grade,
            teacher_id=form.teacher_id,
            now=page.now,
            actor=page.actor,
        )
    except MemberError as exc:
        return page.refuse(SETTINGS, exc, **_settings(page, grade))
    return page.go(f"/grades/{grade_id}/settings", saved=1)


@router.post("/leaders/{teacher_id}/remove")
def remove_grade_leader(page: Page, grade_id: Id, teacher_id: Id) -> Response:
    """取消年级组长."""
    grade = lookup.grade(page, grade_id)
    staff.remove_grade_leader(
        page.db,
        school=page.school,
        grade=grade,
        teacher_id=teacher_id,
        now=page.now,
        actor=page.actor,
    )
    return page.go(f"/grades/{grade_id}/settings", saved=1)

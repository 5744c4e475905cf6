"""Edits, settings and deletes of the tree's nodes: campus, stage (年级命名), grade, class.

A refused delete needs no `try`: the app's handler draws the refusal page, with the way back to
the node named by `page.at()`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from campusid.i18n import N_
from campusid.org import building, schoolyear
from campusid.org.building import Invalid
from campusid.org.deps import Page
from campusid.org.models import StageUnit
from campusid.org.schoolyear import SchoolSystem
from campusid.org.service import graduation_year_of
from campusid.org.views import lookup
from campusid.org.views.forms import CampusForm, ClassForm, NamingForm, SystemForm
from campusid.web import Id

router = APIRouter(prefix="/school/{school_id}")


@router.get("/campuses/{campus_id}/edit")
def edit_campus_page(page: Page, campus_id: Id) -> Response:
    """编辑校区."""
    campus = lookup.campus(page, campus_id)
    return page.at("campus", campus_id).render(
        "org/edit_campus.html", campus=campus, name=campus.name
    )


@router.post("/campuses/{campus_id}/edit")
def edit_campus_submit(page: Page, campus_id: Id, form: Annotated[CampusForm, Form()]) -> Response:
    """Rename the campus."""
    campus = lookup.campus(page, campus_id)
    try:
        building.rename_campus(page.db, campus=campus, name=form.name)
    except Invalid as exc:
        return page.at("campus", campus_id).refuse(
            "org/edit_campus.html", exc, campus=campus, name=form.name
        )
    return page.go(f"/campuses/{campus_id}", saved=1)


@router.post("/campuses/{campus_id}/delete")
def delete_campus(page: Page, campus_id: Id) -> Response:
    """Delete an empty campus (a refusal names why: it still has stages or students)."""
    campus = lookup.campus(page.at("campus", campus_id), campus_id)
    building.delete_campus(page.db, campus=campus)
    return page.go(deleted=1)


def schoolyear_date(year: int) -> date:
    """A date in year `year` of a grade enrolled in 2000 (to name the default of that year)."""
    return date(2000 + year - 1, 10, 1)


def _naming_rows(unit: StageUnit, typed: dict[int, str] | None) -> list[dict[str, Any]]:
    """Each year of the stage: its default name and the name typed (or saved)."""
    shown = typed if typed is not None else building.overrides_of(unit)
    rows = []
    for year in range(1, schoolyear.stage_length(unit.stage, unit.school_system) + 1):
        default = schoolyear.grade_name(
            unit.stage, unit.school_system, 2000, schoolyear_date(year), schoolyear.DEFAULT_BOUNDARY
        )
        rows.append({"year": year, "default": default, "value": shown.get(year, "")})
    return rows


STAGE_SETTINGS = "org/stage_settings.html"


def _stage_settings(
    unit: StageUnit, *, names: dict[int, str] | None = None, chosen: str | None = None
) -> dict[str, Any]:
    """学段设置's content: the names typed (else saved) and the 学制 chosen (else the stage's)."""
    return {
        "unit": unit,
        "names": _naming_rows(unit, names),
        "systems": list(SchoolSystem),
        "chosen": unit.school_system.value if chosen is None else chosen,
    }


@router.get("/stages/{stage_id}/settings")
def stage_settings_page(page: Page, stage_id: Id) -> Response:
    """学段设置: 年级命名."""
    unit = lookup.stage(page, stage_id)
    return page.at("stage", stage_id).render(STAGE_SETTINGS, **_stage_settings(unit))


@router.post("/stages/{stage_id}/settings")
def stage_settings_submit(
    page: Page, stage_id: Id, form: Annotated[NamingForm, Form()]
) -> Response:
    """Save the stage's 年级命名 overrides."""
    unit = lookup.stage(page, stage_id)
    names = form.names()
    try:
        building.set_grade_names(page.db, unit=unit, names=names)
    except Invalid as exc:
        return page.at("stage", stage_id).refuse(
            STAGE_SETTINGS, exc, **_stage_settings(unit, names=names)
        )
    return page.go(f"/stages/{stage_id}", saved=1)


@router.post("/stages/{stage_id}/system")
def correct_stage_system(page: Page, stage_id: Id, form: Annotated[SystemForm, Form()]) -> Response:
    """更正学制: the stage (with its campus's other primary or junior stage) and its grades."""
    unit = lookup.stage(page, stage_id)
    system = form.system()
    try:
        if system is None:
            raise Invalid(N_("请选择学制"))
        changed = building.correct_school_system(
            page.db,
            unit=unit,
            system=system,
            calendar=page.calendar,
            now=page.now,
            actor=page.actor,
        )
    except Invalid as exc:
        return page.at("stage", stage_id).refuse(
            STAGE_SETTINGS, exc, **_stage_settings(unit, chosen=form.school_system)
        )
    if not changed:
        return page.go(f"/stages/{stage_id}/settings", unchanged=1)
    return page.go(f"/stages/{stage_id}/settings", saved=1)


@router.post("/stages/{stage_id}/delete")
def delete_stage(page: Page, stage_id: Id) -> Response:
    """Delete an empty stage."""
    unit = lookup.stage(page.at("stage", stage_id), stage_id)
    campus_id = unit.campus_id
    building.delete_stage(page.db, unit=unit)
    return page.go(f"/campuses/{campus_id}", deleted=1)


@router.post("/grades/{grade_id}/delete")
def delete_grade(page: Page, grade_id: Id) -> Response:
    """Delete an empty grade."""
    grade = lookup.grade(page.at("grade", grade_id), grade_id)
    stage_id = grade.stage_id
    building.delete_grade(page.db, grade=grade)
    return page.go(f"/stages/{stage_id}", deleted=1)


@router.get("/classes/{class_id}/edit")
def edit_class_page(page: Page, class_id: Id) -> Response:
    """编辑班级 (or 教学班)."""
    school_class = lookup.school_class(page, class_id)
    return page.at("class", class_id).render(
        "org/edit_class.html",
        school_class=school_class,
        graduation_year=graduation_year_of(school_class.grade) if school_class.grade else None,
        form={
            "number": school_class.number,
            "name": school_class.name,
            "subject": school_class.subject,
        },
    )


@router.post("/classes/{class_id}/edit")
def edit_class_submit(page: Page, class_id: Id, form: Annotated[ClassForm, Form()]) -> Response:
    """Save the class's number and graduation year (a teaching class: name and subject)."""
    school_class = lookup.school_class(page, class_id)
    try:
        if school_class.grade_id is None:
            building.edit_teaching_class(
                page.db, school_class=school_class, name=form.name, subject=form.subject
            )
        else:
            building.edit_class(
                page.db,
                school_class=school_class,
                number=form.number,
            )
    except Invalid as exc:
        return page.at("class", class_id).refuse(
            "org/edit_class.html",
            exc,
            school_class=school_class,
            graduation_year=graduation_year_of(school_class.grade) if school_class.grade else None,
            form=form.redraw(),
        )
    return page.go(f"/classes/{class_id}", saved=1)


@router.post("/classes/{class_id}/delete")
def delete_class(page: Page, class_id: Id) -> Response:
    """Delete a class without members."""
    school_class = lookup.school_class(page.at("class", class_id), class_id)
    grade_id = school_class.grade_id
    building.delete_class(page.db, school_class=school_class)
    return page.go(f"/grades/{grade_id}" if grade_id else "/teaching", deleted=1)

"""The guide's four creation cases: 快速创建 (a campus with its stages, grades and classes),
新增学段, 新增年级 and 新增班级."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from campusid.org import building, schoolyear
from campusid.org.building import Invalid, StagePlan
from campusid.org.deps import Page
from campusid.org.schoolyear import Calendar, SchoolSystem, Stage
from campusid.org.service import graduation_year_of
from campusid.org.tree import grade_label
from campusid.org.views import lookup
from campusid.org.views.forms import ClassesForm, GradeForm, StagesForm, system_of
from campusid.web import Id

router = APIRouter(prefix="/school/{school_id}")

STAGES = (Stage.PRIMARY, Stage.JUNIOR, Stage.SENIOR)
DEFAULT_CLASSES = 5


def _stage_rows(
    calendar: Calendar, system: SchoolSystem, form: StagesForm | None
) -> list[dict[str, Any]]:
    """Every stage with its grades (by enrollment year) and the class count typed or proposed."""
    rows = []
    for stage in STAGES:
        typed = form.typed(f"classes_{stage.value}_") if form is not None else {}
        grades = []
        for year in range(1, schoolyear.stage_length(stage, system) + 1):
            enrolled = schoolyear.enrollment_year_for(
                stage, system, year, calendar.today, calendar.boundary
            )
            value = typed.get(str(year), "")
            grades.append(
                {
                    "field": f"classes_{stage.value}_{year}",
                    "label": schoolyear.grade_label(
                        stage, system, enrolled, calendar.today, calendar.boundary
                    ),
                    "value": value if value != "" else DEFAULT_CLASSES,
                }
            )
        rows.append(
            {
                "stage": stage,
                "length": schoolyear.stage_length(stage, system),
                "grades": grades,
                "ticked": form.ticked(stage.value) if form is not None else stage is Stage.PRIMARY,
            }
        )
    return rows


def _plans(form: StagesForm) -> list[StagePlan]:
    plans = []
    for stage in STAGES:
        if not form.ticked(stage.value):
            continue
        counts: dict[int, int] = {}
        for key, value in form.typed(f"classes_{stage.value}_").items():
            try:
                counts[int(key)] = int(value or 0)
            except ValueError:
                counts[0] = -1  # reported as out of range
        plans.append(StagePlan(stage=stage, classes_per_year=counts))
    return plans


def _quick_create_form(
    page: Page, system: SchoolSystem, form: StagesForm | None = None
) -> dict[str, Any]:
    """快速创建's form: empty, or as it was typed."""
    page.at("school", page.school_id)
    return {
        "system": system,
        "stages": _stage_rows(page.calendar, system, form),
        "campus_name": form.campus_name if form is not None else "",
        "systems": list(SchoolSystem),
    }


@router.get("/quick-create")
def quick_create_page(page: Page, school_system: str = "") -> Response:
    """快速创建校区、年级、班级 (新增校区/班级)."""
    # The school's own school system first (set when the platform onboarded it).
    form = _quick_create_form(page, system_of(school_system or page.school.school_system.value))
    return page.render("org/quick_create.html", is_htmx_rows=False, **form)


@router.post("/quick-create")
def quick_create_submit(page: Page, form: Annotated[StagesForm, Form()]) -> Response:
    """Create the campus with its stages, grades and classes in one transaction."""
    try:
        campus = building.quick_create(
            page.db,
            school=page.school,
            campus_name=form.campus_name,
            system=form.system,
            stages=_plans(form),
            calendar=page.calendar,
            now=page.now,
        )
    except Invalid as exc:
        typed = _quick_create_form(page, form.system, form)
        return page.refuse("org/quick_create.html", exc, **typed)
    return page.go(f"/campuses/{campus.id}", created=1)


@router.get("/campuses/{campus_id}/stages/new")
def add_stage_page(page: Page, campus_id: Id, school_system: str | None = None) -> Response:
    """新增学段."""
    campus = lookup.campus(page, campus_id)
    system = building.campus_system(campus) or system_of(school_system or "")
    return page.at("campus", campus_id).render(
        "org/add_stage.html",
        campus=campus,
        system=system,
        systems=list(SchoolSystem),
        existing={u.stage for u in campus.stages},
        stages=_stage_rows(page.calendar, system, None),
    )


@router.post("/campuses/{campus_id}/stages/new")
def add_stage_submit(page: Page, campus_id: Id, form: Annotated[StagesForm, Form()]) -> Response:
    """Add the ticked stages to the campus, with their grades and classes."""
    campus = lookup.campus(page, campus_id)
    try:
        building.add_stages(
            page.db,
            campus=campus,
            system=form.system,
            stages=_plans(form),
            calendar=page.calendar,
            now=page.now,
        )
    except Invalid as exc:
        return page.at("campus", campus_id).refuse(
            "org/add_stage.html",
            exc,
            campus=campus,
            system=form.system,
            systems=list(SchoolSystem),
            existing={u.stage for u in campus.stages},
            stages=_stage_rows(page.calendar, form.system, form),
        )
    return page.go(f"/campuses/{campus_id}", created=1)


@router.get("/stages/{stage_id}/grades/new")
def add_grade_page(page: Page, stage_id: Id) -> Response:
    """新增年级."""
    unit = lookup.stage(page, stage_id)
    return page.at("stage", stage_id).render(
        "org/add_grade.html",
        unit=unit,
        choices=building.grade_year_choices(unit, page.calendar),
        systems=list(SchoolSystem),
        form={"first": 1, "last": 5, "school_system": unit.school_system.value},
    )


@router.post("/stages/{stage_id}/grades/new")
def add_grade_submit(page: Page, stage_id: Id, form: Annotated[GradeForm, Form()]) -> Response:
    """Create the grade with its classes 从…班 到…班."""
    unit = lookup.stage(page, stage_id)
    try:
        grade = building.add_grade(
            page.db,
            unit=unit,
            enrollment_year=form.enrollment_year,
            first=form.first,
            last=form.last,
            system=system_of(form.school_system),
            calendar=page.calendar,
            now=page.now,
        )
    except Invalid as exc:
        return page.at("stage", stage_id).refuse(
            "org/add_grade.html",
            exc,
            unit=unit,
            choices=building.grade_year_choices(unit, page.calendar),
            systems=list(SchoolSystem),
            form=form.redraw(),
        )
    return page.go(f"/grades/{grade.id}", created=1)


@router.get("/grades/{grade_id}/classes/new")
def add_classes_page(page: Page, grade_id: Id) -> Response:
    """新增班级."""
    grade = lookup.grade(page, grade_id)
    next_number = max((c.number or 0 for c in grade.classes), default=0) + 1
    return page.at("grade", grade_id).render(
        "org/add_classes.html",
        grade=grade,
        grade_label=grade_label(grade, page.calendar),
        graduation_year=graduation_year_of(grade),
        form={"batch": "no", "first": next_number, "last": next_number},
    )


@router.post("/grades/{grade_id}/classes/new")
def add_classes_submit(page: Page, grade_id: Id, form: Annotated[ClassesForm, Form()]) -> Response:
    """Create one class, or a batch 从…班 到…班, in the grade."""
    grade = lookup.grade(page, grade_id)
    try:
        building.add_classes(
            page.db,
            grade=grade,
            first=form.first,
            last=form.last if form.batch == "yes" else form.first,
            calendar=page.calendar,
            now=page.now,
        )
    except Invalid as exc:
        return page.at("grade", grade_id).refuse(
            "org/add_classes.html",
            exc,
            grade=grade,
            grade_label=grade_label(grade, page.calendar),
            graduation_year=graduation_year_of(grade),
            form=form.redraw(),
        )
    return page.go(f"/grades/{grade_id}", created=1)

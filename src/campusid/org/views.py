"""学校管理 → 组织管理: the organisation tree, the guide's four creation cases, edits, deletes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from campusid.i18n import N_
from campusid.members import service as members
from campusid.members import teachers as staff
from campusid.members.batch import MemberError
from campusid.org import building, schoolyear
from campusid.org.building import Calendar, Invalid, StagePlan
from campusid.org.counts import district_counts, district_list
from campusid.org.deps import ActorDep, AdminSchool, CalendarDep, FormFields, Page, refused
from campusid.org.deps import page as _page
from campusid.org.deps import school_tree as _tree
from campusid.org.models import Campus, Grade, School, SchoolClass, StageUnit
from campusid.org.schoolyear import SchoolSystem, Stage
from campusid.org.tree import SchoolTree, grade_label
from campusid.security import authz
from campusid.web import (
    CurrentPrincipal,
    DbSession,
    Id,
    NotFound,
    Svc,
    redirect,
    render,
)

router = APIRouter()

SCHOOL_TIPS = [
    N_("请根据管理需求点击左侧组织树进行相应的新增校区、学段、年级、班级等管理操作。"),
    N_(
        "身份证号、学籍号、手机号均可作为登录账号使用,学生、家长已有账号的,添加到学校时原密码不变。"
    ),
    N_("新创建的学生、家长用户,密码都为学生默认密码,前往设置查看学生默认密码。"),
    N_("成员统计数量实时计算,始终准确。"),
    N_("对学生进行批量(换班,绑身份证,绑家长)操作时,可通过“批量导入/导出学生”快速调整。"),
    N_(
        "年级名称随学年自动升级,毕业年级自动进入毕业班级;班级毕业、升级操作也可以在年级设置页面手动进行。"
    ),
]
CAMPUS_TIPS = [
    N_("对学生进行移出班级操作时,学生自动转到校区存放,可在校区存放中重新分班。"),
    N_("对学生进行移出学校操作时,则解除和学校的关系,学生账号保留。"),
    N_("对学生进行批量(换班、绑身份证、绑家长)操作时,可通过“批量导入/导出学生”快速调整。"),
]
STAGE_TIPS = [
    N_("年级、班级名称不符合教学要求的,可通过编辑学段的“年级命名”调整。"),
    N_("班级的自动升级和毕业与年级的入学年份、年级学制关联。"),
    N_("请认真核对年级的入学年份与学制信息,例如一年级2026级,六三制。"),
    N_("班级毕业、升级操作可以在年级设置页面手动进行。"),
]


def _node(tree: SchoolTree, kind: str, node_id: Id) -> Any:
    node = tree.find(kind, node_id)
    if node is None:
        raise NotFound
    return node


@router.get("/school")
def school_home(principal: CurrentPrincipal) -> Response:
    """学校管理: the school the person administers (the first, if several)."""
    return redirect(f"/school/{authz.check_administers_a_school(principal)}")


@router.get("/school/{school_id}")
def school_page(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep
) -> Response:
    """组织管理: the tree and the school's panel."""
    school, tree = _tree(db, school, calendar)
    return _page(
        request,
        "org/node.html",
        school=school,
        tree=tree,
        selected=("school", school.id),
        node=tree.root,
        tips=SCHOOL_TIPS,
        child_title=N_("校区"),
    )


@router.get("/school/{school_id}/campuses/{campus_id}")
def campus_page(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep, campus_id: Id
) -> Response:
    """A campus: its stages, and the students parked there (校区存放)."""
    school, tree = _tree(db, school, calendar)
    node = _node(tree, "campus", campus_id)
    return _page(
        request,
        "org/node.html",
        school=school,
        tree=tree,
        selected=("campus", campus_id),
        node=node,
        tips=CAMPUS_TIPS,
        child_title=N_("学段"),
        parked=members.parked_students(db, school, campus_id),
        move_targets=members.active_class_names(db, school, calendar),
    )


@router.get("/school/{school_id}/stages/{stage_id}")
def stage_page(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep, stage_id: Id
) -> Response:
    """A stage: its grades."""
    school, tree = _tree(db, school, calendar)
    node = _node(tree, "stage", stage_id)
    return _page(
        request,
        "org/node.html",
        school=school,
        tree=tree,
        selected=("stage", stage_id),
        node=node,
        tips=STAGE_TIPS,
        child_title=N_("年级"),
    )


def _viewable_grade(
    db: DbSession, principal: CurrentPrincipal, school_id: Id, grade_id: Id
) -> Grade:
    grade = db.get(Grade, grade_id)
    if grade is None:
        raise NotFound
    authz.check_grade_view(
        principal,
        url_school_id=school_id,
        grade_school_id=grade.stage_unit.campus.school_id,
        grade_id=grade.id,
    )
    return grade


@router.get("/school/{school_id}/grades/{grade_id}")
def grade_page(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    calendar: CalendarDep,
    school_id: Id,
    grade_id: Id,
) -> Response:
    """A grade: its classes; administrators manage it, its grade leaders see it."""
    grade = _viewable_grade(db, principal, school_id, grade_id)
    school = grade.stage_unit.campus.school
    manage = authz.may_manage_school(principal, school_id)
    school, tree = _tree(db, school, calendar)
    node = _node(tree, "grade", grade_id)
    return _page(
        request,
        "org/node.html",
        school=school,
        tree=tree if manage else None,
        selected=("grade", grade_id),
        node=node,
        tips=STAGE_TIPS[1:],
        child_title=N_("班级"),
        leaders=staff.grade_leaders(db, grade),
        tab="graduated" if node.graduated else "admin",
    )


@router.get("/school/{school_id}/classes/{class_id}")
def class_page(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    calendar: CalendarDep,
    school_id: Id,
    class_id: Id,
) -> Response:
    """A class (administrative or teaching): its teachers and students."""
    school_class = db.get(SchoolClass, class_id)
    if school_class is None:
        raise NotFound
    authz.check_org_class_view(principal, url_school_id=school_id, school_class=school_class.scope)
    manage = authz.may_manage_school(principal, school_id)
    school, tree = _tree(db, school_class.school, calendar)
    node = _node(tree, "class", class_id)
    teaching = node.kind == "teaching"
    return _page(
        request,
        "org/class.html",
        school=school,
        tree=tree if manage else None,
        selected=("class", class_id),
        node=node,
        school_class=school_class,
        students=members.class_students(db, school_class),
        teachers=members.class_teachers(db, school_class),
        move_targets=members.active_class_names(db, school, calendar) if manage else {},
        school_teachers=staff.teachers(db, school) if manage else [],
        tab="teaching" if teaching else ("graduated" if node.graduated else "admin"),
    )


@router.get("/school/{school_id}/teaching")
def teaching_tab(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep
) -> Response:
    """教学班: the school's teaching classes."""
    school, tree = _tree(db, school, calendar)
    return _page(request, "org/teaching.html", school=school, tree=tree, tab="teaching")


@router.get("/school/{school_id}/graduated")
def graduated_tab(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep
) -> Response:
    """毕业班级: graduated grades and their classes, members kept."""
    school, tree = _tree(db, school, calendar)
    return _page(request, "org/graduated.html", school=school, tree=tree, tab="graduated")


@router.get("/school/{school_id}/search")
def search_page(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep
) -> Response:
    """搜索组织与成员 (the form)."""
    school, tree = _tree(db, school, calendar)
    return _page(request, "org/search.html", school=school, tree=tree, q="", nodes=[], people=[])


@router.post("/school/{school_id}/search")
def search_submit(
    request: Request,
    db: DbSession,
    school: AdminSchool,
    calendar: CalendarDep,
    fields: FormFields,
) -> Response:
    """Nodes by name or code, members by name or any identifier (posted: never in a URL)."""
    text = fields.get("q")[:64]
    school, tree = _tree(db, school, calendar)
    return _page(
        request,
        "org/search.html",
        school=school,
        tree=tree,
        q=members.masked_query(text),
        nodes=tree.search(text),
        people=members.search(db, school=school, calendar=calendar, query=text),
    )


# --------------------------------------------------------------------------- creation


STAGES = (Stage.PRIMARY, Stage.JUNIOR, Stage.SENIOR)
DEFAULT_CLASSES = 5


def _system(fields: Any) -> SchoolSystem:
    try:
        return SchoolSystem(fields.get("school_system") or SchoolSystem.SIX_THREE.value)
    except ValueError:
        return SchoolSystem.SIX_THREE


def _stage_rows(
    calendar: Calendar, system: SchoolSystem, fields: Any | None
) -> list[dict[str, Any]]:
    """Every stage with its grades (by enrollment year) and the class count typed or proposed."""
    rows = []
    for stage in STAGES:
        grades = []
        for year in range(1, schoolyear.stage_length(stage, system) + 1):
            enrolled = schoolyear.enrollment_year_for(
                stage, system, year, calendar.today, calendar.boundary
            )
            name = f"classes_{stage.value}_{year}"
            typed = fields.get(name) if fields is not None else ""
            grades.append(
                {
                    "field": name,
                    "label": schoolyear.grade_label(
                        stage, system, enrolled, calendar.today, calendar.boundary
                    ),
                    "value": typed if typed != "" else DEFAULT_CLASSES,
                }
            )
        ticked = (
            fields.flag(f"stage_{stage.value}") if fields is not None else stage is Stage.PRIMARY
        )
        rows.append(
            {
                "stage": stage,
                "length": schoolyear.stage_length(stage, system),
                "grades": grades,
                "ticked": ticked,
            }
        )
    return rows


def _plans(fields: Any, system: SchoolSystem) -> list[StagePlan]:
    plans = []
    for stage in STAGES:
        if not fields.flag(f"stage_{stage.value}"):
            continue
        counts: dict[int, int] = {}
        for key, value in fields.startingwith(f"classes_{stage.value}_").items():
            try:
                counts[int(key)] = int(value or 0)
            except ValueError:
                counts[0] = -1  # reported as out of range
        plans.append(StagePlan(stage=stage, classes_per_year=counts))
    return plans


@router.get("/school/{school_id}/quick-create")
def quick_create_page(
    request: Request,
    db: DbSession,
    school: AdminSchool,
    calendar: CalendarDep,
    school_system: str = "",
) -> Response:
    """快速创建校区、年级、班级 (新增校区/班级); the school's own school system first."""
    school, tree = _tree(db, school, calendar)
    system = _system({"school_system": school_system or school.school_system.value})
    return _page(
        request,
        "org/quick_create.html",
        school=school,
        tree=tree,
        selected=("school", school.id),
        system=system,
        stages=_stage_rows(calendar, system, None),
        campus_name="",
        systems=list(SchoolSystem),
        is_htmx_rows=False,
    )


@router.post("/school/{school_id}/quick-create")
def quick_create_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    fields: FormFields,
) -> Response:
    """Create the campus with its stages, grades and classes in one transaction."""
    system = _system(fields)
    try:
        campus = building.quick_create(
            db,
            school=school,
            campus_name=fields.get("campus_name"),
            system=system,
            stages=_plans(fields, system),
            calendar=calendar,
            now=services.clock.now(),
        )
    except Invalid as exc:
        school, tree = _tree(db, school, calendar)
        return _page(
            request,
            "org/quick_create.html",
            school=school,
            tree=tree,
            selected=("school", school.id),
            system=system,
            errors=exc.messages,
            stages=_stage_rows(calendar, system, fields),
            campus_name=fields.get("campus_name"),
            systems=list(SchoolSystem),
            status_code=400,
        )
    return redirect(f"/school/{school.id}/campuses/{campus.id}?created=1")


def _campus(db: DbSession, school: School, campus_id: Id) -> Campus:
    campus = db.get(Campus, campus_id)
    if campus is None or campus.school_id != school.id:
        raise NotFound
    return campus


def _stage(db: DbSession, school: School, stage_id: Id) -> StageUnit:
    unit = db.get(StageUnit, stage_id)
    if unit is None or unit.campus.school_id != school.id:
        raise NotFound
    return unit


def _grade(db: DbSession, school: School, grade_id: Id) -> Grade:
    grade = members.grade_in(db, school, grade_id)
    if grade is None:
        raise NotFound
    return grade


def _class(db: DbSession, school: School, class_id: Id) -> SchoolClass:
    found = members.school_class(db, school, class_id)
    if found is None:
        raise NotFound
    return found


@router.get("/school/{school_id}/campuses/{campus_id}/stages/new")
def add_stage_page(
    request: Request,
    db: DbSession,
    school: AdminSchool,
    calendar: CalendarDep,
    campus_id: Id,
    school_system: str | None = None,
) -> Response:
    """新增学段."""
    campus = _campus(db, school, campus_id)
    system = building.campus_system(campus) or _system({"school_system": school_system or ""})
    school, tree = _tree(db, school, calendar)
    return _page(
        request,
        "org/add_stage.html",
        school=school,
        tree=tree,
        selected=("campus", campus_id),
        campus=campus,
        system=system,
        systems=list(SchoolSystem),
        existing={u.stage for u in campus.stages},
        stages=_stage_rows(calendar, system, None),
    )


@router.post("/school/{school_id}/campuses/{campus_id}/stages/new")
def add_stage_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    fields: FormFields,
    campus_id: Id,
) -> Response:
    """Add the ticked stages to the campus, with their grades and classes."""
    campus = _campus(db, school, campus_id)
    system = _system(fields)
    try:
        building.add_stages(
            db,
            campus=campus,
            system=system,
            stages=_plans(fields, system),
            calendar=calendar,
            now=services.clock.now(),
        )
    except Invalid as exc:
        school, tree = _tree(db, school, calendar)
        return _page(
            request,
            "org/add_stage.html",
            school=school,
            tree=tree,
            selected=("campus", campus_id),
            campus=campus,
            system=system,
            systems=list(SchoolSystem),
            existing={u.stage for u in campus.stages},
            stages=_stage_rows(calendar, system, fields),
            errors=exc.messages,
            status_code=400,
        )
    return redirect(f"/school/{school.id}/campuses/{campus_id}?created=1")


@router.get("/school/{school_id}/stages/{stage_id}/grades/new")
def add_grade_page(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep, stage_id: Id
) -> Response:
    """新增年级."""
    unit = _stage(db, school, stage_id)
    school, tree = _tree(db, school, calendar)
    return _page(
        request,
        "org/add_grade.html",
        school=school,
        tree=tree,
        selected=("stage", stage_id),
        unit=unit,
        choices=building.grade_year_choices(unit, calendar),
        systems=list(SchoolSystem),
        form={"first": 1, "last": 5, "school_system": unit.school_system.value},
    )


@router.post("/school/{school_id}/stages/{stage_id}/grades/new")
def add_grade_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    fields: FormFields,
    stage_id: Id,
) -> Response:
    """Create the grade with its classes 从…班 到…班."""
    unit = _stage(db, school, stage_id)
    try:
        grade = building.add_grade(
            db,
            unit=unit,
            enrollment_year=fields.number("enrollment_year", 0) or 0,
            first=fields.number("first", 0) or 0,
            last=fields.number("last", 0) or 0,
            system=_system(fields),
            calendar=calendar,
            now=services.clock.now(),
        )
    except Invalid as exc:
        school, tree = _tree(db, school, calendar)
        return _page(
            request,
            "org/add_grade.html",
            school=school,
            tree=tree,
            selected=("stage", stage_id),
            unit=unit,
            choices=building.grade_year_choices(unit, calendar),
            systems=list(SchoolSystem),
            errors=exc.messages,
            status_code=400,
            form={k: fields.get(k) for k in ("enrollment_year", "first", "last", "school_system")},
        )
    return redirect(f"/school/{school.id}/grades/{grade.id}?created=1")


@router.get("/school/{school_id}/grades/{grade_id}/classes/new")
def add_classes_page(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep, grade_id: Id
) -> Response:
    """新增班级."""
    grade = _grade(db, school, grade_id)
    next_number = max((c.number or 0 for c in grade.classes), default=0) + 1
    school, tree = _tree(db, school, calendar)
    graduation = schoolyear.graduation_year(
        grade.stage_unit.stage, grade.school_system, grade.enrollment_year
    )
    return _page(
        request,
        "org/add_classes.html",
        school=school,
        tree=tree,
        selected=("grade", grade_id),
        grade=grade,
        grade_label=grade_label(grade, calendar),
        form={
            "batch": "no",
            "first": next_number,
            "last": next_number,
            "graduation_year": graduation,
        },
    )


@router.post("/school/{school_id}/grades/{grade_id}/classes/new")
def add_classes_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    fields: FormFields,
    grade_id: Id,
) -> Response:
    """Create one class, or a batch 从…班 到…班, in the grade."""
    grade = _grade(db, school, grade_id)
    first = fields.number("first", 0) or 0
    last = (fields.number("last", 0) or 0) if fields.get("batch") == "yes" else first
    try:
        building.add_classes(
            db,
            grade=grade,
            first=first,
            last=last,
            graduation_year=fields.number("graduation_year", 0) or 0,
            calendar=calendar,
            now=services.clock.now(),
        )
    except Invalid as exc:
        school, tree = _tree(db, school, calendar)
        return _page(
            request,
            "org/add_classes.html",
            school=school,
            tree=tree,
            selected=("grade", grade_id),
            grade=grade,
            grade_label=grade_label(grade, calendar),
            errors=exc.messages,
            status_code=400,
            form={k: fields.get(k) for k in ("batch", "first", "last", "graduation_year")},
        )
    return redirect(f"/school/{school.id}/grades/{grade_id}?created=1")


# --------------------------------------------------------------------------- edits and deletes


@router.get("/school/{school_id}/campuses/{campus_id}/edit")
def edit_campus_page(page: Page, campus_id: Id) -> Response:
    """编辑校区."""
    campus = _campus(page.db, page.school, campus_id)
    return page.at("campus", campus_id).render(
        "org/edit_campus.html", campus=campus, name=campus.name
    )


class CampusForm(BaseModel):
    """编辑校区's fields."""

    name: str = Field("", max_length=64)


@router.post("/school/{school_id}/campuses/{campus_id}/edit")
def edit_campus_submit(page: Page, campus_id: Id, form: Annotated[CampusForm, Form()]) -> Response:
    """Rename the campus."""
    campus = _campus(page.db, page.school, campus_id)
    try:
        building.rename_campus(page.db, campus=campus, name=form.name)
    except Invalid as exc:
        return page.at("campus", campus_id).refuse(
            "org/edit_campus.html", exc.messages, campus=campus, name=form.name
        )
    return page.go(f"/campuses/{campus_id}", saved=1)


@router.post("/school/{school_id}/campuses/{campus_id}/delete")
def delete_campus(page: Page, campus_id: Id) -> Response:
    """Delete an empty campus (a refusal names why: it still has stages or students)."""
    campus = _campus(page.db, page.school, campus_id)
    page.at("campus", campus_id)
    building.delete_campus(page.db, campus=campus)
    return page.go(deleted=1)


@router.get("/school/{school_id}/stages/{stage_id}/settings")
def stage_settings_page(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep, stage_id: Id
) -> Response:
    """学段设置: 年级命名."""
    unit = _stage(db, school, stage_id)
    school, tree = _tree(db, school, calendar)
    return _page(
        request,
        "org/stage_settings.html",
        school=school,
        tree=tree,
        selected=("stage", stage_id),
        unit=unit,
        names=_naming_rows(unit, None),
    )


def _naming_rows(unit: StageUnit, fields: Any | None) -> list[dict[str, Any]]:
    overrides = building.overrides_of(unit)
    rows = []
    for year in range(1, schoolyear.stage_length(unit.stage, unit.school_system) + 1):
        default = schoolyear.grade_name(
            unit.stage, unit.school_system, 2000, schoolyear_date(year), schoolyear.DEFAULT_BOUNDARY
        )
        value = fields.get(f"name_{year}") if fields is not None else overrides.get(year, "")
        rows.append({"year": year, "default": default, "value": value})
    return rows


def schoolyear_date(year: int) -> Any:
    """A date in year `year` of a grade enrolled in 2000 (to name the default of that year)."""
    from datetime import date

    return date(2000 + year - 1, 10, 1)


@router.post("/school/{school_id}/stages/{stage_id}/settings")
def stage_settings_submit(
    request: Request,
    db: DbSession,
    school: AdminSchool,
    calendar: CalendarDep,
    fields: FormFields,
    stage_id: Id,
) -> Response:
    """Save the stage's 年级命名 overrides."""
    unit = _stage(db, school, stage_id)
    names: dict[int, str] = {}
    for key, value in fields.startingwith("name_").items():
        if key.isdigit():
            names[int(key)] = value
    try:
        building.set_grade_names(db, unit=unit, names=names)
    except Invalid as exc:
        school, tree = _tree(db, school, calendar)
        return _page(
            request,
            "org/stage_settings.html",
            school=school,
            tree=tree,
            selected=("stage", stage_id),
            unit=unit,
            names=_naming_rows(unit, fields),
            errors=exc.messages,
            status_code=400,
        )
    return redirect(f"/school/{school.id}/stages/{stage_id}?saved=1")


@router.post("/school/{school_id}/stages/{stage_id}/delete")
def delete_stage(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep, stage_id: Id
) -> Response:
    """Delete an empty stage."""
    unit = _stage(db, school, stage_id)
    campus_id = unit.campus_id
    try:
        building.delete_stage(db, unit=unit)
    except Invalid as exc:
        return refused(request, db, school, calendar, exc.messages, selected=("stage", stage_id))
    return redirect(f"/school/{school.id}/campuses/{campus_id}?deleted=1")


@router.get("/school/{school_id}/grades/{grade_id}/settings")
def grade_settings_page(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep, grade_id: Id
) -> Response:
    """年级设置: 年级组长, and 升级/毕业 by hand."""
    return _grade_settings(request, db, school, calendar, _grade(db, school, grade_id), [])


def _grade_settings(
    request: Request,
    db: DbSession,
    school: School,
    calendar: Calendar,
    grade: Grade,
    messages: list[str],
) -> Response:
    school, tree = _tree(db, school, calendar)
    return _page(
        request,
        "org/grade_settings.html",
        school=school,
        tree=tree,
        selected=("grade", grade.id),
        grade=grade,
        grade_label=grade_label(grade, calendar),
        leaders=staff.grade_leaders(db, grade),
        school_teachers=staff.teachers(db, school),
        graduation_year=schoolyear.graduation_year(
            grade.stage_unit.stage, grade.school_system, grade.enrollment_year
        ),
        errors=messages,
        status_code=400 if messages else 200,
    )


@router.post("/school/{school_id}/grades/{grade_id}/promote")
def promote_grade(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep, grade_id: Id
) -> Response:
    """升级 now, before the school-year boundary."""
    grade = _grade(db, school, grade_id)
    try:
        building.promote(db, grade=grade, calendar=calendar)
    except Invalid as exc:
        return _grade_settings(request, db, school, calendar, grade, exc.messages)
    return redirect(f"/school/{school.id}/grades/{grade_id}?promoted=1")


@router.post("/school/{school_id}/grades/{grade_id}/graduate")
def graduate_grade(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    grade_id: Id,
) -> Response:
    """毕业 now: the grade moves to 毕业班级 with its members."""
    grade = _grade(db, school, grade_id)
    try:
        building.graduate(db, grade=grade, calendar=calendar, now=services.clock.now())
    except Invalid as exc:
        return _grade_settings(request, db, school, calendar, grade, exc.messages)
    return redirect(f"/school/{school.id}/graduated?graduated=1")


@router.post("/school/{school_id}/grades/{grade_id}/leaders")
def add_grade_leader(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    actor: ActorDep,
    fields: FormFields,
    grade_id: Id,
) -> Response:
    """设置年级组长."""
    grade = _grade(db, school, grade_id)
    try:
        staff.set_grade_leader(
            db,
            school=school,
            grade=grade,
            teacher_id=fields.number("teacher_id", 0) or 0,
            now=services.clock.now(),
            actor=actor,
        )
    except MemberError as exc:
        return _grade_settings(request, db, school, calendar, grade, [exc.message])
    return redirect(f"/school/{school.id}/grades/{grade_id}/settings?saved=1")


@router.post("/school/{school_id}/grades/{grade_id}/leaders/{teacher_id}/remove")
def remove_grade_leader(
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    actor: ActorDep,
    grade_id: Id,
    teacher_id: Id,
) -> Response:
    """取消年级组长."""
    grade = _grade(db, school, grade_id)
    staff.remove_grade_leader(
        db,
        school=school,
        grade=grade,
        teacher_id=teacher_id,
        now=services.clock.now(),
        actor=actor,
    )
    return redirect(f"/school/{school.id}/grades/{grade_id}/settings?saved=1")


@router.post("/school/{school_id}/grades/{grade_id}/delete")
def delete_grade(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep, grade_id: Id
) -> Response:
    """Delete an empty grade."""
    grade = _grade(db, school, grade_id)
    stage_id = grade.stage_id
    try:
        building.delete_grade(db, grade=grade)
    except Invalid as exc:
        return refused(request, db, school, calendar, exc.messages, selected=("grade", grade_id))
    return redirect(f"/school/{school.id}/stages/{stage_id}?deleted=1")


@router.get("/school/{school_id}/classes/{class_id}/edit")
def edit_class_page(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep, class_id: Id
) -> Response:
    """编辑班级 (or 教学班)."""
    school_class = _class(db, school, class_id)
    school, tree = _tree(db, school, calendar)
    return _page(
        request,
        "org/edit_class.html",
        school=school,
        tree=tree,
        selected=("class", class_id),
        school_class=school_class,
        form={
            "number": school_class.number,
            "graduation_year": school_class.graduation_year,
            "name": school_class.name,
            "subject": school_class.subject,
        },
    )


@router.post("/school/{school_id}/classes/{class_id}/edit")
def edit_class_submit(
    request: Request,
    db: DbSession,
    school: AdminSchool,
    calendar: CalendarDep,
    fields: FormFields,
    class_id: Id,
) -> Response:
    """Save the class's number and graduation year (a teaching class: name and subject)."""
    school_class = _class(db, school, class_id)
    try:
        if school_class.grade_id is None:
            building.edit_teaching_class(
                db,
                school_class=school_class,
                name=fields.get("name"),
                subject=fields.get("subject"),
            )
        else:
            building.edit_class(
                db,
                school_class=school_class,
                number=fields.number("number", 0) or 0,
                graduation_year=fields.number("graduation_year", 0) or 0,
            )
    except Invalid as exc:
        school, tree = _tree(db, school, calendar)
        return _page(
            request,
            "org/edit_class.html",
            school=school,
            tree=tree,
            selected=("class", class_id),
            school_class=school_class,
            errors=exc.messages,
            form={k: fields.get(k) for k in ("number", "graduation_year", "name", "subject")},
            status_code=400,
        )
    return redirect(f"/school/{school.id}/classes/{class_id}?saved=1")


@router.post("/school/{school_id}/classes/{class_id}/delete")
def delete_class(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep, class_id: Id
) -> Response:
    """Delete a class without members."""
    school_class = _class(db, school, class_id)
    grade_id = school_class.grade_id
    try:
        building.delete_class(db, school_class=school_class)
    except Invalid as exc:
        return refused(request, db, school, calendar, exc.messages, selected=("class", class_id))
    target = (
        f"/school/{school.id}/grades/{grade_id}" if grade_id else f"/school/{school.id}/teaching"
    )
    return redirect(target + "?deleted=1")


@router.get("/school/{school_id}/teaching/new")
def new_teaching_page(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep
) -> Response:
    """新增教学班."""
    school, tree = _tree(db, school, calendar)
    return _page(
        request,
        "org/new_teaching.html",
        school=school,
        tree=tree,
        tab="teaching",
        form={"name": "", "subject": "", "campus_id": ""},
    )


@router.post("/school/{school_id}/teaching/new")
def new_teaching_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    fields: FormFields,
) -> Response:
    """Create a teaching class on a campus."""
    campus = _campus(db, school, fields.number("campus_id", 0) or 0)
    try:
        school_class = building.create_teaching_class(
            db,
            campus=campus,
            name=fields.get("name"),
            subject=fields.get("subject"),
            now=services.clock.now(),
        )
    except Invalid as exc:
        school, tree = _tree(db, school, calendar)
        return _page(
            request,
            "org/new_teaching.html",
            school=school,
            tree=tree,
            tab="teaching",
            errors=exc.messages,
            status_code=400,
            form={k: fields.get(k) for k in ("name", "subject", "campus_id")},
        )
    return redirect(f"/school/{school.id}/classes/{school_class.id}?created=1")


# --------------------------------------------------------------------------- districts
# org counts (issue 10): a district's organisation page, for platform administrators.


def _district_viewer(principal: CurrentPrincipal) -> None:
    authz.check_district_view(principal)


@router.get("/districts")
def district_list_page(request: Request, db: DbSession, principal: CurrentPrincipal) -> Response:
    """区县组织: every district with its schools and its teachers, students and parents."""
    _district_viewer(principal)
    return render(request, "org/districts.html", {"districts": district_list(db)})


@router.get("/district/{district_id}")
def district_page(
    request: Request, db: DbSession, principal: CurrentPrincipal, district_id: Id
) -> Response:
    """A district: its total and each of its schools with its counts (kept by the triggers)."""
    _district_viewer(principal)
    found = district_counts(db, district_id=district_id)
    if found is None:
        raise NotFound
    return render(request, "org/district.html", {"district": found})

"""组织管理: the tree's pages (school, campus, stage, grade, class), 毕业班级 and the search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from campusid.i18n import N_
from campusid.members import service as members
from campusid.members import teachers as staff
from campusid.org import service as org
from campusid.org.deps import CalendarDep, Page
from campusid.org.deps import page as _page
from campusid.org.models import Grade, SchoolClass
from campusid.org.tree import counted_tree
from campusid.org.views.forms import SearchForm
from campusid.org.views.lookup import node
from campusid.security import authz
from campusid.web import CurrentPrincipal, DbSession, Id, NotFound, redirect, render

home = APIRouter(prefix="/school")
grade_home = APIRouter()  # issue 23: 年级, a grade leader's entry
router = APIRouter(prefix="/school/{school_id}")

SCHOOL_TIPS = [
    N_("请根据管理需求点击左侧组织树进行相应的新增校区、学段、年级、班级等管理操作。"),
    N_(
        "身份证号、学籍号、手机号均可作为登录账号使用，学生、家长已有账号的，添加到学校时原密码不变。"
    ),
    N_("新创建的学生、家长用户，密码都为学生默认密码，前往设置查看学生默认密码。"),
    N_("成员统计数量实时计算，始终准确。"),
    N_("对学生进行批量（换班，绑身份证，绑家长）操作时，可通过“批量导入/导出学生”快速调整。"),
    N_(
        "年级名称随学年自动升级，毕业年级自动进入毕业班级；班级毕业、升级操作也可以在年级设置页面手动进行。"
    ),
]
CAMPUS_TIPS = [
    N_("对学生进行移出班级操作时，学生自动转到校区存放，可在校区存放中重新分班。"),
    N_("对学生进行移出学校操作时，则解除和学校的关系，学生账号保留。"),
    N_("对学生进行批量（换班、绑身份证、绑家长）操作时，可通过“批量导入/导出学生”快速调整。"),
]
STAGE_TIPS = [
    N_("年级、班级名称不符合教学要求的，可通过编辑学段的“年级命名”调整。"),
    N_("班级的自动升级和毕业与年级的入学年份、年级学制关联。"),
    N_("请认真核对年级的入学年份与学制信息，例如一年级2026级，六三制。"),
    N_("班级毕业、升级操作可以在年级设置页面手动进行。"),
]


@home.get("")
def school_home(principal: CurrentPrincipal) -> Response:
    """学校管理: the school the person administers (the first, if several)."""
    return redirect(f"/school/{authz.check_administers_a_school(principal)}")


@grade_home.get("/grade")
def my_grades(
    request: Request, db: DbSession, principal: CurrentPrincipal, calendar: CalendarDep
) -> Response:
    """年级: the grades the person leads (年级组长), each with its classes."""
    grade_ids = authz.check_leads_a_grade(principal)
    grades = org.led_grades(
        db, grade_ids=grade_ids, today=calendar.today, boundary=calendar.boundary
    )
    return render(request, "org/my_grades.html", {"grades": grades})


@router.get("")
def school_page(page: Page) -> Response:
    """组织管理: the tree and the school's panel."""
    tree = page.tree()
    return page.at("school", page.school_id).render(
        "org/node.html",
        loaded=tree,
        node=tree.root,
        tips=SCHOOL_TIPS,
        child_title=N_("校区"),
    )


@router.get("/campuses/{campus_id}")
def campus_page(page: Page, campus_id: Id) -> Response:
    """A campus: its stages, and the students parked there (校区存放)."""
    tree = page.tree()
    return page.at("campus", campus_id).render(
        "org/node.html",
        loaded=tree,
        node=node(tree, "campus", campus_id),
        tips=CAMPUS_TIPS,
        child_title=N_("学段"),
        parked=members.parked_students(page.db, page.school, campus_id),
        move_targets=members.active_class_names(page.db, page.school, page.calendar),
    )


@router.get("/stages/{stage_id}")
def stage_page(page: Page, stage_id: Id) -> Response:
    """A stage: its grades."""
    tree = page.tree()
    return page.at("stage", stage_id).render(
        "org/node.html",
        loaded=tree,
        node=node(tree, "stage", stage_id),
        tips=STAGE_TIPS,
        child_title=N_("年级"),
    )


# The grade and class pages are also open to their grade leaders and teachers (not only to the
# school's administrators), so they check their own object and draw the tree for managers only.


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


@router.get("/grades/{grade_id}")
def grade_page(
    db: DbSession,
    principal: CurrentPrincipal,
    calendar: CalendarDep,
    school_id: Id,
    grade_id: Id,
    request: Request,
) -> Response:
    """A grade: its classes; administrators manage it, its grade leaders see it."""
    grade = _viewable_grade(db, principal, school_id, grade_id)
    manage = authz.may_manage_school(principal, school_id)
    school = grade.stage_unit.campus.school
    tree = counted_tree(db, school, calendar)
    found = node(tree, "grade", grade_id)
    return _page(
        request,
        "org/node.html",
        school=school,
        tree=tree if manage else None,
        manage=manage,
        selected=("grade", grade_id),
        node=found,
        tips=STAGE_TIPS[1:],
        child_title=N_("班级"),
        leaders=staff.grade_leaders(db, grade),
        tab="graduated" if found.graduated else "admin",
    )


@router.get("/classes/{class_id}")
def class_page(
    db: DbSession,
    principal: CurrentPrincipal,
    calendar: CalendarDep,
    school_id: Id,
    class_id: Id,
    request: Request,
) -> Response:
    """A class (administrative or teaching): its teachers and students."""
    school_class = db.get(SchoolClass, class_id)
    if school_class is None:
        raise NotFound
    authz.check_org_class_view(principal, url_school_id=school_id, school_class=school_class.scope)
    manage = authz.may_manage_school(principal, school_id)
    school = school_class.school
    tree = counted_tree(db, school, calendar)
    found = node(tree, "class", class_id)
    teaching = found.kind == "teaching"
    return _page(
        request,
        "org/class.html",
        school=school,
        tree=tree if manage else None,
        manage=manage,
        selected=("class", class_id),
        node=found,
        school_class=school_class,
        students=members.class_students(db, school_class),
        teachers=members.class_teachers(db, school_class),
        move_targets=members.active_class_names(db, school, calendar) if manage else {},
        school_teachers=staff.teachers(db, school) if manage else [],
        tab="teaching" if teaching else ("graduated" if found.graduated else "admin"),
    )


@router.get("/graduated")
def graduated_tab(page: Page) -> Response:
    """毕业班级: graduated grades and their classes, members kept."""
    return page.render("org/graduated.html", loaded=page.tree(), tab="graduated")


@router.get("/search")
def search_page(page: Page) -> Response:
    """搜索组织与成员 (the form)."""
    return page.render("org/search.html", q="", nodes=[], people=[])


@router.post("/search")
def search_submit(page: Page, form: Annotated[SearchForm, Form()]) -> Response:
    """Nodes by name or code, members by name or any identifier (posted: never in a URL)."""
    text = form.q[:64]
    tree = page.tree()
    return page.render(
        "org/search.html",
        loaded=tree,
        q=members.masked_query(text),
        nodes=tree.search(text),
        people=members.search(page.db, school=page.school, calendar=page.calendar, query=text),
    )

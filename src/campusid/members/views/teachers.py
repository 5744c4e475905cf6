"""老师: the list, 添加老师, 设置任教 / 移出任教, 批量设置任教 and 快速设置老师."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from campusid.members import service as members
from campusid.members import teachers as staff
from campusid.members.batch import MemberError
from campusid.members.views.forms import AssignForm, BatchForm, ClassForm, QuickForm, TeacherForm
from campusid.org.deps import Page, SchoolPage
from campusid.web import Id, NotFound

router = APIRouter(prefix="/school/{school_id}/teachers")


def _classes(page: SchoolPage) -> dict[int, str]:
    return members.active_class_names(page.db, page.school, page.calendar)


def _batch_choices(page: SchoolPage) -> dict[str, Any]:
    return {
        "teachers": staff.teachers(page.db, page.school),
        "classes": _classes(page),
        "subjects": staff.SUBJECTS,
    }


@router.get("")
def teachers_page(page: Page) -> Response:
    """成员管理: the school's teachers and what they teach."""
    rows = staff.teacher_rows(page.db, school=page.school, calendar=page.calendar)
    return page.render("members/teachers.html", section="teachers", rows=rows)


@router.get("/add")
def add_teacher_page(page: Page) -> Response:
    """添加老师."""
    return page.render(
        "members/add_teacher.html", section="teachers", classes=_classes(page), form=TeacherForm()
    )


@router.post("/add")
def add_teacher_submit(page: Page, form: Annotated[TeacherForm, Form()]) -> Response:
    """Attach or create the teacher, with a first class to teach if chosen; a refusal keeps
    what was typed (drawn by the app's refusal handler, which keeps a refused attach's audit)."""
    page.on_refusal(
        lambda messages: page.render(
            "members/add_teacher.html",
            errors=messages,
            status_code=400,
            section="teachers",
            classes=_classes(page),
            form=form,
        )
    )
    added = staff.add_teacher(
        page.db,
        school=page.school,
        calendar=page.calendar,
        teacher=form.person(page.calendar.today),
        class_id=form.class_id,
        subject=form.subject,
        homeroom=form.homeroom,
        now=page.now,
        actor=page.actor,
        guard=members.attach_guard(page.services),
    )
    outcome = "created" if added.created else "attached"
    return page.go(f"/members/{added.user.id}", **{outcome: 1})


@router.post("/assign")
def assign_teacher(page: Page, form: Annotated[AssignForm, Form()]) -> Response:
    """设置任教 (and 班主任)."""
    class_id = form.class_id or 0
    staff.assign_by_id(
        page.db,
        school=page.school,
        teacher_id=form.teacher_id or 0,
        class_id=class_id,
        subject=form.subject,
        homeroom=form.homeroom,
        now=page.now,
        actor=page.actor,
    )
    return page.go(f"/classes/{class_id}", saved=1)


@router.post("/{teacher_id}/unassign")
def unassign_teacher(page: Page, teacher_id: Id, form: Annotated[ClassForm, Form()]) -> Response:
    """Stop the teacher teaching the class (a teacher who does not teach it: not found)."""
    class_id = form.class_id or 0
    try:
        staff.unassign(
            page.db,
            school=page.school,
            teacher_id=teacher_id,
            class_id=class_id,
            now=page.now,
            actor=page.actor,
        )
    except MemberError:
        raise NotFound from None
    return page.go(f"/classes/{class_id}", saved=1)


@router.get("/batch")
def batch_page(page: Page) -> Response:
    """批量设置任教/导出老师."""
    return page.render(
        "members/batch_assign.html", section="teachers", form=BatchForm(), **_batch_choices(page)
    )


@router.post("/batch")
def batch_submit(page: Page, form: Annotated[BatchForm, Form()]) -> Response:
    """One teacher, one subject, every ticked class; a refusal keeps what was chosen."""
    try:
        count = staff.batch_assign(
            page.db,
            school=page.school,
            teacher_id=form.teacher_id or 0,
            class_ids=form.class_ids,
            subject=form.subject,
            now=page.now,
            actor=page.actor,
        )
    except MemberError as exc:
        return page.refuse(
            "members/batch_assign.html",
            exc,
            section="teachers",
            form=form,
            **_batch_choices(page),
        )
    return page.go("/teachers", assigned=count)


@router.get("/quick")
def quick_page(page: Page, class_id: Id | None = None) -> Response:
    """快速设置老师: pick a class, then its 班主任 and a teacher per subject."""
    chosen = members.school_class(page.db, page.school, class_id) if class_id else None
    current: dict[str, int] = {}
    homeroom = None
    if chosen is not None:
        page.at("class", chosen.id)
        for row in members.class_teachers(page.db, chosen):
            if row.subject:
                current[row.subject] = row.user.id
            if row.homeroom:
                homeroom = row.user.id
    return page.render(
        "members/quick_teachers.html",
        classes=_classes(page),
        chosen=chosen,
        teachers=staff.teachers(page.db, page.school),
        subjects=staff.SUBJECTS,
        current=current,
        homeroom=homeroom,
    )


@router.post("/quick")
def quick_submit(page: Page, form: Annotated[QuickForm, Form()]) -> Response:
    """Save the class's 班主任 and subject teachers."""
    chosen = members.school_class(page.db, page.school, form.class_id or 0)
    if chosen is None:
        raise NotFound
    staff.quick_set_teachers(
        page.db,
        school=page.school,
        school_class=chosen,
        homeroom_id=form.homeroom_id,
        subjects=form.teachers_by_subject(staff.SUBJECTS),
        now=page.now,
        actor=page.actor,
    )
    return page.go(f"/classes/{chosen.id}", saved=1)

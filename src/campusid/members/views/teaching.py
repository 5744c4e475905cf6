"""A teaching class's students: 从行政班级添加学生, and taking one out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from campusid.members import service as members
from campusid.members.batch import MemberError
from campusid.members.views.forms import StudentsForm
from campusid.org.deps import Page, SchoolPage
from campusid.org.models import ClassKind, SchoolClass
from campusid.web import Id, NotFound

router = APIRouter(prefix="/school/{school_id}/classes/{class_id}/students")


def _class(page: SchoolPage, class_id: int) -> SchoolClass:
    found = members.school_class(page.db, page.school, class_id)
    if found is None:
        raise NotFound
    page.at("class", class_id)
    return found


@router.get("")
def teaching_students_page(page: Page, class_id: Id, from_class: int | None = None) -> Response:
    """从行政班级添加学生 to a teaching class: pick a class, tick its students."""
    teaching = _class(page, class_id)
    if teaching.kind is not ClassKind.TEACHING:
        raise NotFound
    source = members.school_class(page.db, page.school, from_class) if from_class else None
    return page.render(
        "members/teaching_students.html",
        tab="teaching",
        teaching=teaching,
        classes=members.active_class_names(page.db, page.school, page.calendar),
        source=source,
        candidates=members.class_students(page.db, source) if source else [],
    )


@router.post("")
def teaching_students_submit(
    page: Page, class_id: Id, form: Annotated[StudentsForm, Form()]
) -> Response:
    """Add the ticked students to the teaching class."""
    teaching = _class(page, class_id)
    members.add_to_teaching_class(
        page.db,
        school=page.school,
        teaching_class=teaching,
        student_ids=form.student_ids,
        now=page.now,
    )
    return page.go(f"/classes/{class_id}", saved=1)


@router.post("/{user_id}/remove")
def teaching_student_remove(page: Page, class_id: Id, user_id: Id) -> Response:
    """Take a student out of the teaching class (one who is not in it: not found)."""
    teaching = _class(page, class_id)
    try:
        members.remove_from_teaching_class(page.db, teaching_class=teaching, student_id=user_id)
    except MemberError:
        raise NotFound from None
    return page.go(f"/classes/{class_id}", saved=1)

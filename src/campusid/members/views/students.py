"""添加学生/家长: the form, and attaching or creating the student (and a parent)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from campusid.families.models import Relation
from campusid.members import service as members
from campusid.members.batch import MemberError, TransferNeeded
from campusid.members.views.forms import StudentForm
from campusid.org.deps import Page, SchoolPage
from campusid.web import Id

router = APIRouter(prefix="/school/{school_id}/members")


def _choices(page: SchoolPage) -> dict[str, Any]:
    return {
        "classes": members.active_class_names(page.db, page.school, page.calendar),
        "relations": list(Relation),
    }


@router.get("/add")
def add_student_page(page: Page, class_id: Id | None = None) -> Response:
    """添加学生/家长."""
    if class_id:
        page.at("class", class_id)
    form = StudentForm(class_id=class_id, relation=Relation.MOTHER.value)
    return page.render("members/add_student.html", form=form, **_choices(page))


@router.post("/add")
def add_student_submit(page: Page, form: Annotated[StudentForm, Form()]) -> Response:
    """Attach or create the student (and the parent, if given); a refusal keeps what was typed."""
    try:
        student = form.person(page.calendar.today)
        parent, relation = form.parent_and_relation(page.calendar.today)
        added = members.add_student(
            page.db,
            school=page.school,
            calendar=page.calendar,
            student=student,
            class_id=form.class_id or 0,
            student_number=form.student_number,
            parent=parent,
            relation=relation,
            now=page.now,
            actor=page.actor,
            guard=members.attach_guard(page.services),
        )
    except MemberError as exc:
        # Drawn by the app's refusal handler, after it rolled the request back and kept what the
        # refusal keeps (a refused attach's audit event). A student of another school: the page
        # offers the 转学申请 (transfers), as typed.
        transfer = isinstance(exc, TransferNeeded)
        page.on_refusal(
            lambda messages: page.render(
                "members/add_student.html",
                errors=messages,
                status_code=400,
                form=form,
                transfer=transfer,
                **_choices(page),
            )
        )
        raise
    outcome = "created" if added.created else "attached"
    return page.go(f"/members/{added.user.id}", **{outcome: 1})

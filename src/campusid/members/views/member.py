"""A member's page, and what the console does to them: 换班/分班, 移出班级, 移出学校, 添加家长.

A refusal of one of these acts (the app's handler for `MemberError`) draws this member's page
again with the reasons, in place of the console's refusal page (`_refusals_redraw_member`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from campusid.accounts import factors
from campusid.accounts.models import SchoolRole
from campusid.families import service as families
from campusid.families.models import Relation
from campusid.members import service as members
from campusid.members import teachers as staff
from campusid.members.views.forms import ClassForm, ParentForm
from campusid.org.deps import Page, SchoolPage
from campusid.security import authz
from campusid.security.permissions import principal_for
from campusid.web import Id, NotFound

router = APIRouter(prefix="/school/{school_id}/members/{user_id}")


def _member_page(
    page: SchoolPage,
    user_id: int,
    *,
    form: ParentForm | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    user = members.member(page.db, page.school, user_id)
    if user is None:
        raise NotFound
    row = members.describe(page.db, school=page.school, calendar=page.calendar, users=[user])[0]
    current = members.current_class(page.db, page.school, user.id)
    if current is not None:
        page.at("class", current.id)
    teaching = staff.teacher_rows(page.db, school=page.school, calendar=page.calendar, only=[user])
    is_student = members.is_member(page.db, page.school, user.id, SchoolRole.STUDENT)
    links = families.parent_links_of(page.db, child_id=user.id) if is_student else []
    limit = page.services.settings.families_max_parents_per_child
    return page.render(
        "members/member.html",
        member=row,
        current_class=current,
        teaching=teaching[0] if teaching else None,
        is_student=is_student,
        # Who fills the parent cap, and how many were refused for it in the last 30 days.
        parent_links=links,
        parent_limit=limit,
        refused_for_limit=families.refused_for_limit(
            page.db, child_id=user.id, since=page.now - timedelta(days=30)
        )
        if is_student and len(links) >= limit
        else 0,
        # issue 19: 重置两步验证 is offered when the one rule allows it (a teacher's lost second
        # factor is reset by the school's administrator; never one's own, nor an administrator's)
        may_reset_factors=factors.has_factor(page.db, user.id)
        and authz.may_reset_factors(page.request.state.principal, principal_for(page.db, user)),
        classes=members.active_class_names(page.db, page.school, page.calendar),
        relations=list(Relation),
        form=form or ParentForm(relation=Relation.MOTHER.value),
        errors=errors or [],
        status_code=status_code,
    )


def _refusals_redraw_member(page: SchoolPage, user_id: int, form: ParentForm | None = None) -> None:
    """The member this POST acts on must be of the school (else 404); if the act is refused,
    their page is drawn again with the reasons (and the parent form as typed)."""
    if members.member(page.db, page.school, user_id) is None:
        raise NotFound
    page.on_refusal(
        lambda messages: _member_page(page, user_id, form=form, errors=messages, status_code=400)
    )


@router.get("")
def member_page(page: Page, user_id: Id) -> Response:
    """A member of the school: identifiers (masked), roles, class, parents, and the actions."""
    return _member_page(page, user_id)


@router.post("/move")
def move_student(page: Page, user_id: Id, form: Annotated[ClassForm, Form()]) -> Response:
    """换班 / 分班."""
    _refusals_redraw_member(page, user_id)
    class_id = form.class_id or 0
    members.move_student(
        page.db,
        school=page.school,
        calendar=page.calendar,
        student_id=user_id,
        class_id=class_id,
        now=page.now,
        actor=page.actor,
    )
    return page.go(f"/classes/{class_id}", saved=1)


@router.post("/remove-from-class")
def remove_from_class(page: Page, user_id: Id) -> Response:
    """移出班级: the student is parked at the campus (校区存放)."""
    _refusals_redraw_member(page, user_id)
    left = members.remove_from_class(
        page.db,
        school=page.school,
        calendar=page.calendar,
        student_id=user_id,
        now=page.now,
        actor=page.actor,
    )
    return page.go(f"/campuses/{left.campus_id}", saved=1)


@router.post("/leave")
def leave_school(page: Page, user_id: Id) -> Response:
    """移出学校: the relationship ends; the account stays."""
    _refusals_redraw_member(page, user_id)
    members.leave_school(
        page.db,
        school=page.school,
        calendar=page.calendar,
        user_id=user_id,
        now=page.now,
        actor=page.actor,
    )
    return page.go(saved=1)


@router.post("/parents")
def add_parent(page: Page, user_id: Id, form: Annotated[ParentForm, Form()]) -> Response:
    """添加家长 to this student."""
    _refusals_redraw_member(page, user_id, form)
    members.add_parent(
        page.db,
        school=page.school,
        calendar=page.calendar,
        child_id=user_id,
        parent=form.parent(page.calendar.today),
        relation=form.relation_to_child(),
        now=page.now,
        actor=page.actor,
        guard=members.attach_guard(page.services),
    )
    return page.go(f"/members/{user_id}", saved=1)

"""转学申请 pages: filed from 添加学生, decided in the sending school's console (or 我的孩子)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import Field

from campusid.families.models import Relation
from campusid.members import service as members
from campusid.members.batch import MemberError
from campusid.members.views.forms import NUMBER, Choice, PersonFields, StudentForm
from campusid.org.deps import CalendarDep, Page
from campusid.security import authz
from campusid.security.permissions import Permission
from campusid.transfers import service
from campusid.web import Client, CurrentPrincipal, DbSession, Id, NotFound, Svc, redirect, render

router = APIRouter()


class TransferForm(PersonFields):
    """提交转学申请: the student as typed on 添加学生, and the class they are to join."""

    class_id: Choice = None
    student_number: str = Field(default="", max_length=NUMBER)


@router.post("/school/{school_id}/transfers")
def file_transfer(page: Page, form: Annotated[TransferForm, Form()]) -> Response:
    """提交转学申请 (from 添加学生's answer "该学生已在其他学校就读")."""
    # Refused: the add page again, with the same answers it gives, drawn by the app's refusal
    # handler (which keeps the refused attempt's audit event).
    page.on_refusal(
        lambda messages: page.render(
            "members/add_student.html",
            errors=messages,
            status_code=400,
            form=StudentForm(**form.model_dump()),
            classes=members.active_class_names(page.db, page.school, page.calendar),
            relations=list(Relation),
        )
    )
    service.request_transfer(
        page.db,
        school=page.school,
        calendar=page.calendar,
        student=form.person(page.calendar.today),
        class_id=form.class_id or 0,
        student_number=form.student_number,
        now=page.now,
        actor=page.actor,
        guard=members.attach_guard(page.services),
    )
    return page.go("/transfers", filed=1)


@router.get("/school/{school_id}/transfers")
def school_transfers(page: Page, filed: int = 0, decided: str = "") -> Response:
    """转学申请: requests for this school's students (to decide) and those it filed."""
    return page.render(
        "transfers/school.html",
        incoming=service.incoming(page.db, school=page.school, calendar=page.calendar),
        outgoing=service.outgoing(page.db, school=page.school, calendar=page.calendar),
        filed=bool(filed),
        decided=decided,
        section="transfers",
    )


def _decide_in_school(
    page: Page, principal: CurrentPrincipal, request_id: int, *, approve: bool
) -> Response:
    done = service.decide(
        page.db,
        request_id=request_id,
        approve=approve,
        principal=principal,
        calendar=page.calendar,
        parent_may_approve=page.services.settings.transfers_parent_may_approve,
        from_school_id=page.school_id,
        now=page.now,
        client=page.actor.client,
    )
    if done is None:
        raise NotFound
    return page.go("/transfers", decided=done.status.value)


@router.post("/school/{school_id}/transfers/{request_id}/approve")
def approve_in_school(page: Page, principal: CurrentPrincipal, request_id: Id) -> Response:
    """同意转出: the student moves to the school that asked."""
    return _decide_in_school(page, principal, request_id, approve=True)


@router.post("/school/{school_id}/transfers/{request_id}/refuse")
def refuse_in_school(page: Page, principal: CurrentPrincipal, request_id: Id) -> Response:
    """拒绝: the student stays."""
    return _decide_in_school(page, principal, request_id, approve=False)


# --------------------------------------------------------------------------- 我的孩子


def _parent_may_decide(services: Svc, principal: CurrentPrincipal) -> None:
    # Only where the region allows it (CAMPUSID_TRANSFERS_PARENT_MAY_APPROVE): otherwise the
    # pages do not exist.
    if not services.settings.transfers_parent_may_approve:
        raise NotFound
    authz.check_permission(principal, Permission.CHILD_LINK)


@router.get("/me/transfers")
def my_transfers(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    calendar: CalendarDep,
    decided: str = "",
) -> Response:
    """我的孩子 → 转学申请: pending requests for one's children."""
    _parent_may_decide(services, principal)
    return render(
        request,
        "transfers/mine.html",
        {
            "rows": service.for_parent(db, principal=principal, calendar=calendar),
            "decided": decided,
        },
    )


def _decide_as_parent(
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    calendar: CalendarDep,
    client: Client,
    request_id: int,
    *,
    approve: bool,
) -> Response:
    _parent_may_decide(services, principal)
    try:
        done = service.decide(
            db,
            request_id=request_id,
            approve=approve,
            principal=principal,
            calendar=calendar,
            parent_may_approve=True,
            from_school_id=None,
            now=services.clock.now(),
            client=client,
        )
    except MemberError:
        done = None
    if done is None:
        raise NotFound
    return redirect(f"/me/transfers?decided={done.status.value}")


@router.post("/me/transfers/{request_id}/approve")
def approve_as_parent(
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    calendar: CalendarDep,
    client: Client,
    request_id: Id,
) -> Response:
    """A linked parent agrees to the transfer (where the region allows it)."""
    return _decide_as_parent(db, services, principal, calendar, client, request_id, approve=True)


@router.post("/me/transfers/{request_id}/refuse")
def refuse_as_parent(
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    calendar: CalendarDep,
    client: Client,
    request_id: Id,
) -> Response:
    """A linked parent refuses the transfer (where the region allows it)."""
    return _decide_as_parent(db, services, principal, calendar, client, request_id, approve=False)

"""班级管理 → 成员审核: join requests waiting, 通过 or 拒绝."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form
from fastapi.responses import Response
from pydantic import BaseModel

from campusid.classes import joins
from campusid.classes.views.page import ClassPage, ManagedClass, PostedClass
from campusid.web import Id

router = APIRouter(prefix="/classes/{class_id}/manage/requests")


class DecisionForm(BaseModel):
    """通过 or 拒绝."""

    decision: Literal["approve", "refuse"]


def _requests(page: ClassPage, errors: list[str] | None = None) -> Response:
    return page.console(
        "classes/requests.html",
        "requests",
        status_code=400 if errors else 200,
        requests=joins.pending_requests(page.db, school_class=page.school_class),
        errors=errors,
    )


@router.get("")
def requests_page(page: ManagedClass) -> Response:
    """成员审核: pending join requests."""
    return _requests(page)


@router.post("/{request_id}")
def decide_request(
    page: PostedClass, request_id: Id, form: Annotated[DecisionForm, Form()]
) -> Response:
    """通过 or 拒绝 a join request (the act asks the rule)."""
    approve = form.decision == "approve"
    problems = joins.decide(page.db, **page.acting, request_id=request_id, approve=approve)
    if problems:
        return _requests(page, problems)
    return page.go("/manage/requests", msg="approved" if approve else "refused")

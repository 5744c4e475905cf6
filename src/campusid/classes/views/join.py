"""加入班级: find a class by its code and ask its homeroom teacher to join."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response
from pydantic import BaseModel, Field

from campusid.classes import joins
from campusid.classes.views.page import Person

router = APIRouter(prefix="/join")


class JoinForm(BaseModel):
    """The class code, the role asked for, and a word to the teacher."""

    code: str = Field("", max_length=16)
    role: str = Field("", max_length=16)
    message: str = Field("", max_length=200)


@router.get("")
def join_page(page: Person, code: str = "") -> Response:
    """加入班级: the class a code names, and the request form."""
    found, errors = page.find_by_code(code)
    return page.render(
        "classes/join.html", code=code[:16], found=found, errors=errors, roles=joins.JOIN_ROLES
    )


@router.post("")
def join_submit(page: Person, form: Annotated[JoinForm, Form()]) -> Response:
    """Send the join request to the class's homeroom teacher."""
    problems = joins.request_to_join(
        page.db,
        services=page.services,
        principal=page.principal,
        class_code=form.code,
        role=form.role,
        message=form.message,
        client=page.client,
    )
    return page.render(
        "classes/join.html",
        status_code=400 if problems else 200,
        code=form.code,
        found=None,
        errors=problems,
        roles=joins.JOIN_ROLES,
        sent=not problems,
    )

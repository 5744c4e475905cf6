"""班级管理 → 班干部职位: the positions the class defines, added and deleted."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response
from pydantic import BaseModel, Field

from campusid.classes import members
from campusid.classes import service as classes
from campusid.classes.views.page import ClassPage, ManagedClass, PostedClass
from campusid.web import Id

router = APIRouter(prefix="/classes/{class_id}/manage/positions")


class PositionForm(BaseModel):
    """A new 班干部职位."""

    name: str = Field("", max_length=64)


def _positions(page: ClassPage, errors: list[str] | None = None) -> Response:
    return page.console(
        "classes/positions.html",
        "positions",
        status_code=400 if errors else 200,
        positions=classes.positions_of(page.db, school_class=page.school_class),
        errors=errors,
    )


@router.get("")
def positions_page(page: ManagedClass) -> Response:
    """班干部职位: the positions the class defines."""
    return _positions(page)


@router.post("")
def add_position(page: PostedClass, form: Annotated[PositionForm, Form()]) -> Response:
    """Add a 班干部职位 (the act asks the rule)."""
    problems = members.add_position(page.db, **page.acting, name=form.name)
    if problems:
        return _positions(page, problems)
    return page.go("/manage/positions", msg="position_added")


@router.post("/{position_id}/delete")
def delete_position(page: PostedClass, position_id: Id) -> Response:
    """Delete a 班干部职位 (the act asks the rule)."""
    members.delete_position(page.db, **page.acting, position_id=position_id)
    return page.go("/manage/positions", msg="position_deleted")

"""任教班级 and the class home."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from campusid.classes import service as classes
from campusid.classes.views.page import Person, VisibleClass

router = APIRouter()


@router.get("/teaching")
def teaching(page: Person) -> Response:
    """任教班级: 班级名称, 所在校区, 班主任, 前往班级."""
    return page.render("classes/teaching.html", classes=page.taught_classes())


@router.get("/classes/{class_id}")
def class_home(page: VisibleClass) -> Response:
    """The class home: header, teachers, and 班级管理 for those who manage it."""
    return page.render(
        "classes/home.html",
        teachers=classes.teachers_of(page.db, school_class=page.school_class),
        manages=page.manages,
    )

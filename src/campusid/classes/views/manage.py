"""班级管理: its entry, and the 班级教师 and 全网搜索班级 tabs."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from campusid.classes import service as classes
from campusid.classes.views.page import ManagedClass

router = APIRouter(prefix="/classes/{class_id}/manage")


@router.get("")
def manage(page: ManagedClass) -> Response:
    """班级管理 opens on 用户管理 → 班级成员."""
    return page.go("/manage/students")


@router.get("/teachers")
def teachers(page: ManagedClass) -> Response:
    """班级教师."""
    return page.console(
        "classes/teachers.html",
        "teachers",
        teachers=classes.teachers_of(page.db, school_class=page.school_class),
    )


@router.get("/search")
def search_page(page: ManagedClass, code: str = "") -> Response:
    """全网搜索班级 by class code."""
    found, errors = page.find_by_code(code)
    return page.console("classes/search.html", "search", code=code[:16], found=found, errors=errors)

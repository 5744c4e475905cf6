"""班级管理 → 班级学生: the list, 重置密码, 退出班级, 编辑, 添加学生 and 从校区存放中添加."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response
from pydantic import BaseModel, Field

from campusid.classes import members
from campusid.classes import service as classes
from campusid.classes.models import CLASS_ROLE_LABELS, MemberStatus
from campusid.classes.views.page import ClassPage, ManagedClass, PostedClass
from campusid.i18n import N_
from campusid.resets import export
from campusid.resets import service as resets
from campusid.types import MAX_ID
from campusid.web import Id, require_step_up

router = APIRouter(prefix="/classes/{class_id}/manage/students")

GENDERS = {"male": N_("男"), "female": N_("女")}
NONE_TICKED = N_("请先勾选学生")


class TickedForm(BaseModel):
    """The students ticked in the list."""

    student_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = []


class MemberForm(BaseModel):
    """编辑学号, 设置角色, 设置职位 and 编辑: each form sends its fields; absent ones stay."""

    student_number: str | None = Field(None, max_length=64)
    class_role: str | None = Field(None, max_length=32)
    cadre_position: str | None = Field(None, max_length=32)
    real_name: str | None = Field(None, max_length=64)
    gender: str | None = Field(None, max_length=16)
    status: str | None = Field(None, max_length=16)


class NewStudentForm(BaseModel):
    """添加学生: a new account in this class."""

    real_name: str = Field("", max_length=64)
    gender: str = Field("", max_length=16)
    student_number: str = Field("", max_length=64)
    username: str = Field("", max_length=64)


class ParkedForm(BaseModel):
    """从校区存放中添加: the parked student chosen."""

    student_id: int = Field(ge=1, le=MAX_ID)


def _students(
    page: ClassPage, q: str = "", errors: list[str] | None = None, status_code: int = 200
) -> Response:
    return page.console(
        "classes/students.html",
        "students",
        status_code=status_code,
        q=q,
        members=classes.student_list(page.db, school_class=page.school_class, name_query=q),
        positions=classes.positions_of(page.db, school_class=page.school_class),
        role_labels=CLASS_ROLE_LABELS,
        errors=errors or [],
    )


@router.get("")
def students(page: ManagedClass, q: str = "") -> Response:
    """班级学生, searchable by student name."""
    return _students(page, q[:32])


@router.post("/reset")
def reset_ticked(page: PostedClass, form: Annotated[TickedForm, Form()]) -> Response:
    """重置密码 for every ticked student: a printable list and an .xlsx, shown this once.

    The list lives only in this response (no-store): the .xlsx is a `data:` link built here, so
    no plain password is ever kept on the server for a later download.
    """
    if not form.student_ids:
        return _students(page, errors=[NONE_TICKED], status_code=400)
    if len(form.student_ids) > page.services.settings.mfa_step_up_bulk_reset_over:
        require_step_up(page.request)  # issue 19: a bulk reset asks for a fresh second factor
    results = resets.reset_students(page.db, **page.acting, student_ids=form.student_ids)
    summary = page.summary
    title = N_(
        "%(school)s%(class_name)s 重置密码名单", school=summary.school_name, class_name=summary.name
    )
    return page.render(
        "classes/reset_result.html",
        title=title,
        results=results,
        xlsx_url=export.as_data_url(export.password_sheet(title, results)),
        when=page.now,
    )


@router.post("/remove")
def remove_ticked(page: PostedClass, form: Annotated[TickedForm, Form()]) -> Response:
    """退出班级: the ticked students leave the class and are parked at the campus."""
    if not form.student_ids:
        return _students(page, errors=[NONE_TICKED], status_code=400)
    members.remove_students(page.db, **page.acting, student_ids=form.student_ids)
    return page.go("/manage/students", msg="removed")


@router.get("/{student_id}/edit")
def edit_page(page: ManagedClass, student_id: Id) -> Response:
    """编辑: the student's name, gender and 状态 in the class."""
    return page.console(
        "classes/student_edit.html",
        "students",
        member=page.member(student_id),
        genders=GENDERS,
        statuses=list(MemberStatus),
    )


@router.post("/{student_id}/edit")
def edit_submit(page: PostedClass, student_id: Id, form: Annotated[MemberForm, Form()]) -> Response:
    """Save what the form sent (the act asks the rule)."""
    problems = members.edit_member(
        page.db,
        **page.acting,
        student_id=student_id,
        changes=members.MemberChanges(**form.model_dump()),
    )
    if problems:
        return _students(page, errors=problems, status_code=400)
    return page.go("/manage/students", msg="saved")


def _add(
    page: ClassPage, errors: list[str] | None = None, form: dict[str, str] | None = None
) -> Response:
    return page.console(
        "classes/student_add.html",
        "students",
        status_code=400 if errors else 200,
        parked=classes.parked_students(page.db, school_class=page.school_class),
        genders=GENDERS,
        errors=errors or [],
        form=form or {},
    )


@router.get("/add")
def add_page(page: ManagedClass) -> Response:
    """添加学生: a new account, or a student parked at the campus."""
    return _add(page)


@router.post("/add")
def add_submit(page: PostedClass, form: Annotated[NewStudentForm, Form()]) -> Response:
    """Create the student on the school's default password, in this class."""
    _, problems = members.add_new_student(
        page.db,
        **page.acting,
        real_name=form.real_name,
        gender=form.gender,
        student_number=form.student_number,
        username=form.username,
    )
    if problems:
        return _add(page, problems, form.model_dump())
    return page.go("/manage/students", msg="added")


@router.post("/add-parked")
def add_parked(page: PostedClass, form: Annotated[ParkedForm, Form()]) -> Response:
    """Bring a student parked at the campus into the class."""
    problems = members.add_parked_student(page.db, **page.acting, student_id=form.student_id)
    if problems:
        return _add(page, problems)
    return page.go("/manage/students", msg="added")

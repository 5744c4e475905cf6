"""平台管理 → 学校: the list of schools, onboarding one, its administrators, suspending it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from campusid.context import Services
from campusid.i18n import N_
from campusid.org.models import School
from campusid.org.schoolyear import SchoolSystem, calendar_for
from campusid.platform import schools as service
from campusid.platform.schools import Actor, NewAdmin, OnboardingError
from campusid.security.permissions import Permission, Principal
from campusid.web import (
    Client,
    DbSession,
    Id,
    NotFound,
    Svc,
    redirect,
    render,
    require,
    require_step_up,
)

router = APIRouter()

SchoolsManager = Annotated[Principal, require(Permission.PLATFORM_SCHOOLS_MANAGE)]

# What the pages say about a suspended school (the choice is the platform's, see README).
SUSPENSION_NOTE = N_(
    "停用后，该校的学校管理员和老师不能使用学校管理和班级管理；"
    "学生和家长仍可正常登录和使用账号。启用后恢复。"
)


def _actor(principal: Principal, client: Client) -> Actor:
    return Actor(user_id=principal.user.id, client=client)


def _school(db: DbSession, school_id: int) -> School:
    school = db.get(School, school_id)
    if school is None:
        raise NotFound
    return school


# --------------------------------------------------------------------------- the list


def _list_page(
    request: Request,
    db: DbSession,
    services: Services,
    *,
    q: str = "",
    errors: list[str] | None = None,
    message: str | None = None,
    district_name: str = "",
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "platform/schools.html",
        {
            "lines": service.school_list(
                db, search=q, calendar=calendar_for(services.settings, services.clock)
            ),
            "districts": service.districts(db),
            "q": q,
            "errors": errors or [],
            "message": message,
            "district_name": district_name,
        },
        status_code=status_code,
    )


@router.get("/platform/schools")
def school_list(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: SchoolsManager,
    q: Annotated[str, Query(max_length=64)] = "",
    created: str = "",
) -> Response:
    """学校: every school with its counts, searchable by name or 学校编码."""
    message = N_("区县已创建") if created == "district" else None
    return _list_page(request, db, services, q=q, message=message)


class DistrictForm(BaseModel):
    """新建区县's field."""

    name: str = Field(default="", max_length=64)


@router.post("/platform/districts")
def create_district(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: SchoolsManager,
    client: Client,
    form: Annotated[DistrictForm, Form()],
) -> Response:
    """新建区县."""
    try:
        service.create_district(
            db, name=form.name, actor=_actor(principal, client), now=services.clock.now()
        )
    except OnboardingError as exc:
        db.rollback()
        return _list_page(
            request, db, services, errors=exc.messages, district_name=form.name, status_code=400
        )
    return redirect("/platform/schools?created=district")


# --------------------------------------------------------------------------- a new school


class SchoolForm(BaseModel):
    """新建学校's fields: the school, and its first administrator (new or existing)."""

    name: str = Field(default="", max_length=64)
    district_id: int = Field(default=0, ge=0, le=2**31 - 1)
    code: str = Field(default="", max_length=16)
    school_system: SchoolSystem = SchoolSystem.SIX_THREE
    admin_mode: Literal["new", "existing"] = "new"
    admin_name: str = Field(default="", max_length=32)
    admin_username: str = Field(default="", max_length=32)
    admin_phone: str = Field(default="", max_length=20)
    admin_login: str = Field(default="", max_length=64)

    def new_admin(self) -> NewAdmin | None:
        """The new account to create, unless an existing one is appointed."""
        if self.admin_mode == "existing":
            return None
        return NewAdmin(self.admin_name, self.admin_username, self.admin_phone)


def _new_school_page(
    request: Request,
    db: DbSession,
    form: SchoolForm,
    *,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "platform/school_new.html",
        {
            "form": form,
            "districts": service.districts(db),
            "systems": list(SchoolSystem),
            "errors": errors or [],
        },
        status_code=status_code,
    )


@router.get("/platform/schools/new")
def new_school_page(
    request: Request, db: DbSession, principal: SchoolsManager, district_id: int = 0
) -> Response:
    """新建学校."""
    return _new_school_page(request, db, SchoolForm(district_id=max(0, district_id)))


@router.post("/platform/schools")
def create_school(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: SchoolsManager,
    client: Client,
    form: Annotated[SchoolForm, Form()],
) -> Response:
    """Create the school and its first administrator; a new one's password is shown once."""
    try:
        school, appointed = service.create_school(
            db,
            name=form.name,
            district_id=form.district_id or None,
            code=form.code,
            system=form.school_system,
            new_admin=form.new_admin(),
            admin_login=form.admin_login,
            hasher=services.hasher,
            actor=_actor(principal, client),
            now=services.clock.now(),
        )
    except OnboardingError as exc:
        db.rollback()
        return _new_school_page(request, db, form, errors=exc.messages, status_code=400)
    return _admin_page(
        request, db, school, appointed=appointed, message=N_("学校已创建"), status_code=200
    )


# --------------------------------------------------------------------------- one school


def _admin_page(
    request: Request,
    db: DbSession,
    school: School,
    *,
    appointed: service.Appointed | None = None,
    errors: list[str] | None = None,
    message: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "platform/school.html",
        {
            "school": school,
            "admins": service.administrators(db, school=school),
            "appointed": appointed,
            "errors": errors or [],
            "message": message,
            "form": form or {},
            "note": SUSPENSION_NOTE,
        },
        status_code=status_code,
    )


@router.get("/platform/schools/{school_id}")
def school_page(
    request: Request, db: DbSession, principal: SchoolsManager, school_id: Id, done: str = ""
) -> Response:
    """A school: its details, its administrators, 停用/启用."""
    messages = {
        "suspended": N_("学校已停用"),
        "reopened": N_("学校已启用"),
        "appointed": N_("已任命学校管理员"),
        "removed": N_("已移除学校管理员"),
    }
    return _admin_page(request, db, _school(db, school_id), message=messages.get(done))


def _acted(
    request: Request, db: DbSession, school_id: int, exc: OnboardingError, **form: Any
) -> Response:
    db.rollback()
    return _admin_page(
        request, db, _school(db, school_id), errors=exc.messages, form=form, status_code=400
    )


@router.post("/platform/schools/{school_id}/suspend")
def suspend(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: SchoolsManager,
    client: Client,
    school_id: Id,
) -> Response:
    """停用学校."""
    return _set_suspended(request, db, services, principal, client, school_id, suspended=True)


@router.post("/platform/schools/{school_id}/reopen")
def reopen(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: SchoolsManager,
    client: Client,
    school_id: Id,
) -> Response:
    """启用学校."""
    return _set_suspended(request, db, services, principal, client, school_id, suspended=False)


def _set_suspended(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: Principal,
    client: Client,
    school_id: int,
    *,
    suspended: bool,
) -> Response:
    try:
        service.set_suspended(
            db,
            school=_school(db, school_id),
            suspended=suspended,
            actor=_actor(principal, client),
            now=services.clock.now(),
        )
    except OnboardingError as exc:
        return _acted(request, db, school_id, exc)
    done = "suspended" if suspended else "reopened"
    return redirect(f"/platform/schools/{school_id}?done={done}")


class AppointForm(BaseModel):
    """任命已有账号's field."""

    login: str = Field(default="", max_length=64)


@router.post("/platform/schools/{school_id}/admins")
def appoint(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: SchoolsManager,
    client: Client,
    school_id: Id,
    form: Annotated[AppointForm, Form()],
) -> Response:
    """Appoint an existing adult account as the school's administrator."""
    require_step_up(request)  # issue 19
    try:
        service.appoint_admin(
            db,
            school=_school(db, school_id),
            login=form.login,
            actor=_actor(principal, client),
            now=services.clock.now(),
        )
    except OnboardingError as exc:
        return _acted(request, db, school_id, exc, login=form.login)
    return redirect(f"/platform/schools/{school_id}?done=appointed")


class NewAdminForm(BaseModel):
    """新建管理员账号's fields."""

    admin_name: str = Field(default="", max_length=32)
    admin_username: str = Field(default="", max_length=32)
    admin_phone: str = Field(default="", max_length=20)


@router.post("/platform/schools/{school_id}/admins/new")
def add_new_admin(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: SchoolsManager,
    client: Client,
    school_id: Id,
    form: Annotated[NewAdminForm, Form()],
) -> Response:
    """A new account as the school's administrator; its one-time password is shown once."""
    require_step_up(request)  # issue 19
    school = _school(db, school_id)
    try:
        appointed = service.add_new_admin(
            db,
            school=school,
            person=NewAdmin(form.admin_name, form.admin_username, form.admin_phone),
            hasher=services.hasher,
            actor=_actor(principal, client),
            now=services.clock.now(),
        )
    except OnboardingError as exc:
        return _acted(request, db, school_id, exc, **form.model_dump())
    return _admin_page(request, db, school, appointed=appointed, message=N_("已任命学校管理员"))


@router.post("/platform/schools/{school_id}/admins/{user_id}/remove")
def remove_admin(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: SchoolsManager,
    client: Client,
    school_id: Id,
    user_id: Id,
) -> Response:
    """Remove an administrator (never the school's last)."""
    try:
        service.remove_admin(
            db,
            school=_school(db, school_id),
            user_id=user_id,
            actor=_actor(principal, client),
            now=services.clock.now(),
        )
    except OnboardingError as exc:
        return _acted(request, db, school_id, exc)
    return redirect(f"/platform/schools/{school_id}?done=removed")

"""扫码登录卡 pages: the class's badges (web and phone), the printable page, 挂失, the stage's
setting, and 扫码登录 on the login page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from campusid.accounts.views import open_session
from campusid.badges import service
from campusid.classes import service as classes
from campusid.classes.views.page import ClassPage, MobileClass, PostedClass, VisibleClass
from campusid.i18n import N_
from campusid.org import schoolyear
from campusid.org.deps import CalendarDep, Page
from campusid.org.views import lookup
from campusid.security import authz
from campusid.web import (
    AMR_BADGE,
    Client,
    DbSession,
    FormIds,
    Id,
    OptionalUser,
    Svc,
    redirect,
    render,
    safe_next,
)

router = APIRouter()

FLASH = {
    "revoked": N_("已挂失，该登录卡立即失效"),
    "none": N_("该学生没有可挂失的登录卡"),
}


def _class_badges(page: ClassPage, *, mobile: bool) -> Response:
    authz.check_badge_printer(page.principal, page.school_class.scope, action=authz.ACCESS_DENIED)
    members = classes.students_of(page.db, school_class=page.school_class)
    active = service.active_badges(page.db, user_ids=[m.student_id for m in members], now=page.now)
    template = "badges/m_class.html" if mobile else "badges/class.html"
    return page.render(
        template,
        members=members,
        active=active,
        enabled=service.class_enabled(page.db, page.school_class, page.calendar),
        flash=FLASH.get(page.request.query_params.get("msg", "")),
        back=f"{page.base}/badges",
    )


@router.get("/classes/{class_id}/badges")
def class_badges(page: VisibleClass) -> Response:
    """扫码登录卡: each pupil's badge (valid until, or none), 打印 and 挂失."""
    return _class_badges(page, mobile=False)


@router.get("/m/classes/{class_id}/badges")
def mobile_class_badges(page: MobileClass) -> Response:
    """扫码登录卡 on the phone pages."""
    return _class_badges(page, mobile=True)


@router.post("/classes/{class_id}/badges/print")
def print_badges(page: PostedClass, student_id: FormIds = None) -> Response:
    """打印: new badges for the pupils ticked (all when none is), revoking their earlier ones;
    the printable A4 page shows the new codes this once."""
    printed = service.print_badges(
        page.db,
        services=page.services,
        principal=page.principal,
        school_class=page.school_class,
        cal=page.calendar,
        client=page.client,
        student_ids=student_id or None,
    )
    return page.render(
        "badges/print.html",
        printed=printed,
        expires=service.end_of_school_year(page.calendar),
        back=f"/classes/{page.class_id}/badges",
    )


@router.post("/classes/{class_id}/badges/{student_id}/revoke")
def revoke_badge(
    page: PostedClass,
    student_id: Id,
    back: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    """挂失: the pupil's badge stops working at once."""
    revoked = service.revoke_badge(
        page.db,
        services=page.services,
        principal=page.principal,
        school_class=page.school_class,
        student_id=student_id,
        client=page.client,
    )
    target = safe_next(back) if back else f"/classes/{page.class_id}/badges"
    return redirect(f"{target}?msg={'revoked' if revoked else 'none'}")


# -- the stage's setting (学段设置 · 启用扫码登录) and the school's networks -----------------------

SETTINGS = "badges/stage_settings.html"


def _settings(page: Page, stage_id: int, **typed: Any) -> dict[str, Any]:
    unit = lookup.stage(page, stage_id)
    length = schoolyear.stage_length(unit.stage, unit.school_system)
    years = typed.pop("years", None)
    return {
        "unit": unit,
        "length": list(range(1, length + 1)),
        "years": service.enabled_years(page.db, unit) if years is None else set(years),
        "networks": typed.pop("networks", None)
        or "\n".join(service.networks_of(page.db, page.school_id)),
        "saved": page.request.query_params.get("saved") == "1",
        **typed,
    }


@router.get("/school/{school_id}/stages/{stage_id}/badges")
def stage_badges_page(page: Page, stage_id: Id) -> Response:
    """启用扫码登录: the years of the stage whose pupils may use badges; the school's networks."""
    return page.at("stage", stage_id).render(SETTINGS, **_settings(page, stage_id))


@router.post("/school/{school_id}/stages/{stage_id}/badges")
def stage_badges_submit(
    page: Page,
    stage_id: Id,
    year: Annotated[list[int] | None, Form()] = None,
    networks: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Save both; a bad address range is refused with the form as typed, nothing saved."""
    unit = lookup.stage(page.at("stage", stage_id), stage_id)
    page.on_refusal(
        lambda messages: page.render(
            SETTINGS,
            errors=messages,
            status_code=400,
            **_settings(page, stage_id, years=year or [], networks=networks),
        )
    )
    service.set_enabled_years(
        page.db, services=page.services, actor=page.actor, unit=unit, years=year or []
    )
    service.set_networks(
        page.db, services=page.services, actor=page.actor, school_id=page.school_id, text=networks
    )
    return page.go(f"/stages/{stage_id}/badges", saved=1)


# -- 扫码登录 -------------------------------------------------------------------------------


def _scan_page(
    request: Request, *, next_path: str, error: str | None = None, status_code: int = 200
) -> Response:
    return render(
        request,
        "badges/scan.html",
        {"next": next_path, "error": error},
        status_code=status_code,
    )


@router.get("/login/badge")
def scan_page(request: Request, user: OptionalUser, next: str | None = None) -> Response:
    """扫码登录: the camera reads the badge (or a USB scanner types it into the field)."""
    return _scan_page(request, next_path=safe_next(next))


@router.post("/login/badge")
def scan_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    client: Client,
    cal: CalendarDep,
    code: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=512)] = "/",
) -> Response:
    """Sign the pupil in with the badge; a refusal says why, never whose badge it was."""
    result = service.sign_in(db, services=services, scanned=code, client=client, cal=cal)
    if result.user is None:
        return _scan_page(request, next_path=safe_next(next), error=result.message, status_code=400)
    return open_session(
        request, db, services, client, result.user, next_path=safe_next(next), amr=AMR_BADGE
    )

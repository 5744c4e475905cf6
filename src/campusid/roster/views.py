"""批量导入/导出学生 and 导出老师: pages and downloads."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response

from campusid.org.deps import ActorDep, AdminSchool, CalendarDep, tree_page
from campusid.org.models import School
from campusid.org.schoolyear import Calendar
from campusid.roster import excel, service
from campusid.web import CurrentPrincipal, DbSession, NotFound, Svc

router = APIRouter()


def _xlsx(content: bytes, filename: str) -> Response:
    return Response(
        content,
        media_type=excel.XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


@router.get("/school/{school_id}/roster")
def roster_page(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep
) -> Response:
    """批量导入/导出学生."""
    return _roster_page(request, db, school, calendar)


def _roster_page(
    request: Request,
    db: DbSession,
    school: School,
    calendar: Calendar,
    status_code: int = 200,
    **context: Any,
) -> Response:
    return tree_page(
        request,
        db,
        school,
        calendar,
        "roster/roster.html",
        section="roster",
        max_mb=excel.MAX_UPLOAD_BYTES // (1024 * 1024),
        instructions=service.INSTRUCTIONS,
        status_code=status_code,
        **context,
    )


@router.get("/school/{school_id}/roster/template.xlsx")
def template(school: AdminSchool) -> Response:
    """The import template."""
    return _xlsx(service.template_bytes(), "学生导入模板.xlsx")


@router.post("/school/{school_id}/roster/import")
def import_upload(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    actor: ActorDep,
    file: Annotated[UploadFile, File()],
) -> Response:
    """Import the uploaded workbook: every row, or none and the error file back."""
    data = file.file.read(excel.MAX_UPLOAD_BYTES + 1)  # the limit is checked on what was read
    now = services.clock.now()
    result = service.run_import(
        db, school=school, calendar=calendar, data=data, now=now, actor=actor
    )
    token = None
    if result.errors and actor.user_id is not None:
        token = service.store_error_file(
            db,
            school=school,
            user_id=actor.user_id,
            content=service.error_workbook(result),
            now=now,
        )
    bad = sorted(result.errors.items())
    return _roster_page(
        request,
        db,
        school,
        calendar,
        status_code=200 if result.ok else 400,
        result=result,
        bad_rows=[(index + 2, result.rows[index], reason) for index, reason in bad[:200]],
        error_token=token,
        errors=[result.file_error] if result.file_error else [],
    )


@router.get("/school/{school_id}/roster/errors/{token}")
def error_file(
    db: DbSession, services: Svc, school: AdminSchool, principal: CurrentPrincipal, token: str
) -> Response:
    """The refused file with each bad row's reason (only for its uploader, for 30 minutes)."""
    content = service.fetch_error_file(
        db, school=school, user_id=principal.user.id, token=token, now=services.clock.now()
    )
    if content is None:
        raise NotFound
    return _xlsx(content, "导入错误原因.xlsx")


@router.get("/school/{school_id}/roster/students.xlsx")
def export_students(db: DbSession, school: AdminSchool, calendar: CalendarDep) -> Response:
    """批量导出学生."""
    return _xlsx(service.export_students(db, school=school, calendar=calendar), "学生.xlsx")


@router.get("/school/{school_id}/roster/teachers.xlsx")
def export_teachers(db: DbSession, school: AdminSchool, calendar: CalendarDep) -> Response:
    """导出老师."""
    return _xlsx(service.export_teachers(db, school=school, calendar=calendar), "老师.xlsx")

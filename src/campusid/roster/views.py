"""批量导入/导出学生 and 导出老师: pages and downloads."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse, Response

from campusid.i18n import N_
from campusid.org.deps import Page, SchoolPage
from campusid.roster import excel, service
from campusid.security.progress import valid_key
from campusid.web import NotFound, require_step_up

router = APIRouter(prefix="/school/{school_id}/roster")


def _xlsx(content: bytes, filename: str) -> Response:
    return Response(
        content,
        media_type=excel.XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )


def _roster_page(page: SchoolPage, status_code: int = 200, **context: Any) -> Response:
    return page.render(
        "roster/roster.html",
        section="roster",
        max_mb=excel.MAX_UPLOAD_BYTES // (1024 * 1024),
        instructions=service.INSTRUCTIONS,
        kinds=service.KIND_LABELS,
        status_code=status_code,
        **context,
    )


@router.get("")
def roster_page(page: Page) -> Response:
    """批量导入/导出学生."""
    return _roster_page(page)


@router.get("/template.xlsx")
def template(page: Page) -> Response:
    """The import template."""
    return _xlsx(service.template_bytes(), "学生导入模板.xlsx")


def _report(page: SchoolPage, key: str) -> service.BoardReport | None:
    """The progress board entry the page asked for (a key of its own), if any."""
    if not key or not valid_key(key) or page.actor.user_id is None:
        return None
    return service.BoardReport(
        page.services.progress, key, user_id=page.actor.user_id, school_id=page.school.id
    )


@router.get("/progress/{key}")
def progress(page: Page, key: str) -> Response:
    """How far this administrator's upload or confirmation has got: {done, total, phase}."""
    if page.actor.user_id is None or not valid_key(key):
        raise NotFound
    state = page.services.progress.read(
        key, service.progress_owner(page.actor.user_id, page.school.id)
    )
    if state is None:
        raise NotFound
    return JSONResponse(state.as_json(), headers={"Cache-Control": "no-store"})


@router.post("/import")
def import_upload(
    page: Page, file: Annotated[UploadFile, File()], progress_key: Annotated[str, Form()] = ""
) -> Response:
    """上传并预览: check the uploaded workbook and show what importing it would do.

    Nothing of the school is written: the upload is kept for its administrator (by a random
    token) until 确认导入. A refused file is not a refusal of the request: the page lists the
    bad rows, and the error file is kept (committed) for its uploader.
    """
    data = file.file.read(excel.MAX_UPLOAD_BYTES + 1)  # the limit is checked on what was read
    result = service.run_import(
        page.db,
        school=page.school,
        calendar=page.calendar,
        data=data,
        now=page.now,
        actor=page.actor,
        dry_run=True,
        report=_report(page, progress_key),
    )
    if not result.ok or page.actor.user_id is None:
        return _refused(page, result)
    token = service.store_pending(
        page.db, school=page.school, user_id=page.actor.user_id, content=data, now=page.now
    )
    return _roster_page(page, preview=result, confirm_token=token)


@router.post("/import/confirm")
def import_confirm(
    page: Page, token: Annotated[str, Form()] = "", progress_key: Annotated[str, Form()] = ""
) -> Response:
    """确认导入: import the previewed upload, every row or none."""
    data = None
    if page.actor.user_id is not None and token:
        data = service.take_pending(
            page.db, school=page.school, user_id=page.actor.user_id, token=token, now=page.now
        )
    if data is None:
        return _roster_page(
            page, status_code=400, errors=[N_("预览已过期或已导入，请重新上传文件")]
        )
    result = service.run_import(
        page.db,
        school=page.school,
        calendar=page.calendar,
        data=data,
        now=page.now,
        actor=page.actor,
        report=_report(page, progress_key),
    )
    if not result.ok:
        return _refused(page, result)
    return _roster_page(page, result=result)


def _refused(page: SchoolPage, result: service.ImportResult) -> Response:
    """The bad rows, and the error file kept for its uploader."""
    token = None
    if result.errors and page.actor.user_id is not None:
        token = service.store_error_file(
            page.db,
            school=page.school,
            user_id=page.actor.user_id,
            content=service.error_workbook(result),
            now=page.now,
        )
    bad = sorted(result.errors.items())
    return _roster_page(
        page,
        status_code=400,
        result=result,
        bad_rows=[
            (result.number(index), result.rows[index], reason) for index, reason in bad[:200]
        ],
        error_token=token,
        errors=[result.file_error] if result.file_error else [],
    )


@router.get("/errors/{token}")
def error_file(page: Page, token: str) -> Response:
    """The refused file with each bad row's reason (only for its uploader, for 30 minutes)."""
    if page.actor.user_id is None:
        raise NotFound
    content = service.fetch_error_file(
        page.db, school=page.school, user_id=page.actor.user_id, token=token, now=page.now
    )
    if content is None:
        raise NotFound
    return _xlsx(content, "导入错误原因.xlsx")


@router.get("/students.xlsx")
def export_students(page: Page) -> Response:
    """批量导出学生 (a fresh second factor first: issue 19's step-up)."""
    require_step_up(page.request)
    return _xlsx(
        service.export_students(page.db, school=page.school, calendar=page.calendar), "学生.xlsx"
    )


@router.get("/teachers.xlsx")
def export_teachers(page: Page) -> Response:
    """导出老师 (a fresh second factor first: issue 19's step-up)."""
    require_step_up(page.request)
    return _xlsx(
        service.export_teachers(page.db, school=page.school, calendar=page.calendar), "老师.xlsx"
    )

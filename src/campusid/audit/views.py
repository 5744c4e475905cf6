"""审计日志: the audit trail for school and platform administrators, with its .xlsx export."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from campusid.audit import labels, trail
from campusid.audit.trail import AuditFilter
from campusid.clock import SHANGHAI
from campusid.i18n import N_
from campusid.security import authz
from campusid.security.authz import AuditScope
from campusid.security.permissions import Principal
from campusid.web import (
    Client,
    CurrentPrincipal,
    DbSession,
    Svc,
    language_of,
    redirect,
    render,
)

router = APIRouter()

Text = Annotated[str, Form(max_length=64)]


def _scope(principal: Principal) -> AuditScope:
    return authz.audit_scope(principal)


def _page(
    request: Request,
    db: DbSession,
    scope: AuditScope,
    wanted: AuditFilter,
    *,
    page: int = 1,
    problems: list[str] | None = None,
    person_query: str = "",
    status_code: int = 200,
) -> Response:
    result = trail.page_of_events(
        db, scope=scope, wanted=wanted, language=language_of(request), page=page
    )
    params = wanted.query_params()
    return render(
        request,
        "audit/index.html",
        {
            "result": result,
            "wanted": wanted,
            "params": params,
            "link": lambda p: "/audit?" + urlencode({**params, "page": p}),
            "problems": problems or [],
            "person_query": person_query,
            "all_schools": scope.all_schools,
            "actions": labels.ACTION_LABELS,
            "routes": labels.ROUTE_LABELS,
            "outcomes": labels.OUTCOME_LABELS,
        },
        status_code=status_code,
    )


@router.get("/audit")
def audit_page(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    who: str | None = None,
    action: str | None = None,
    route: str | None = None,
    outcome: str | None = None,
    since: str | None = None,
    until: str | None = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    """The events this administrator may see, filtered, newest first, one page at a time."""
    scope = _scope(principal)
    wanted, problems = trail.parse_filter(
        who=who, action=action, route=route, outcome=outcome, since=since, until=until
    )
    return _page(
        request,
        db,
        scope,
        wanted,
        page=page,
        problems=problems,
        status_code=400 if problems else 200,
    )


def _posted_filter(
    who: Text = "",
    action: Text = "",
    route: Text = "",
    outcome: Text = "",
    since: Text = "",
    until: Text = "",
) -> tuple[AuditFilter, list[str]]:
    return trail.parse_filter(
        who=who, action=action, route=route, outcome=outcome, since=since, until=until
    )


PostedFilter = Annotated[tuple[AuditFilter, list[str]], Depends(_posted_filter)]


@router.post("/audit")
def audit_search(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    posted: PostedFilter,
    person: Text = "",
) -> Response:
    """The filter form: a person typed by identifier or name becomes ids (a POST, so no
    identifier ever goes in a URL), then the page is shown by a plain GET."""
    scope = _scope(principal)
    wanted, problems = posted
    if problems:
        return _page(request, db, scope, wanted, problems=problems, status_code=400)
    if person.strip():
        ids = trail.find_persons(db, scope=scope, query=person)
        if not ids:
            return _page(
                request,
                db,
                scope,
                wanted,
                problems=[N_("未找到此人，或其没有您可查看的记录")],
                person_query=trail.masked_query(person),
            )
        wanted = replace(wanted, person_ids=tuple(ids))
    params = wanted.query_params()
    return redirect("/audit" + (f"?{urlencode(params)}" if params else ""))


@router.post("/audit/export")
def audit_export(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
    posted: PostedFilter,
) -> Response:
    """导出: the filtered events as an .xlsx (every cell plain text); the export is audited."""
    scope = _scope(principal)
    wanted, problems = posted
    if problems:
        return _page(request, db, scope, wanted, problems=problems, status_code=400)
    now = services.clock.now()
    content = trail.export_events(
        db,
        scope=scope,
        wanted=wanted,
        reader=principal.user,
        now=now,
        client=client,
        language=language_of(request),
    )
    name = "audit-" + now.astimezone(SHANGHAI).strftime("%Y%m%d-%H%M") + ".xlsx"
    return Response(
        content,
        media_type=trail.XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

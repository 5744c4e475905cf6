"""Who may read a school's rosters (issue 22): a platform administrator grants schools on an
application's page; a school administrator grants or withdraws its own school from the
console (应用名册授权), where the school's OneRoster CSV export also is."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.i18n import N_
from campusid.oidc import service as oidc
from campusid.oidc.models import OAuthClient
from campusid.oneroster import export
from campusid.oneroster import service as roster
from campusid.org.deps import Page
from campusid.org.models import School
from campusid.org.schoolyear import calendar_for
from campusid.security import authz
from campusid.security.permissions import Permission, Principal
from campusid.web import (
    Client,
    CurrentPrincipal,
    DbSession,
    FormId,
    Id,
    NotFound,
    Svc,
    redirect,
    render,
    require,
)

router = APIRouter()

ClientAdmin = Annotated[Principal, require(Permission.PLATFORM_CLIENTS_MANAGE)]

GRANTED = N_("已允许该应用读取学校名册")
REVOKED = N_("已取消该应用读取学校名册")


def roster_clients(db: Session) -> list[OAuthClient]:
    """The enabled applications given a OneRoster scope for their own calls."""
    rows = db.scalars(select(OAuthClient).order_by(OAuthClient.name)).all()
    return [
        r
        for r in rows
        if r.disabled_at is None and set(r.service_scopes.split()) & set(roster.READ_SCOPES)
    ]


def _client_or_404(db: Session, client_pk: int) -> OAuthClient:
    row = oidc.get_client(db, client_pk)
    if row is None:
        raise NotFound()
    return row


def _record(
    db: Session,
    *,
    action: AuditAction,
    principal: Principal,
    client: audit.ClientInfo,
    row: OAuthClient,
    school_id: int,
    now: object,
) -> None:
    audit.record(
        db,
        now=now,  # type: ignore[arg-type]
        action=action,
        actor_id=principal.user.id,
        actor_role=principal.main_role.value if principal.main_role else None,
        school_id=school_id,
        client=client,
        detail={"client_id": row.client_id},
    )


def change_grant(
    db: Session,
    *,
    principal: Principal,
    client: audit.ClientInfo,
    row: OAuthClient,
    school_id: int,
    allow: bool,
    now: object,
) -> bool:
    """Grant or withdraw a school's roster to an application (the one rule decides who may);
    audited when something changed."""
    authz.check_roster_granter(principal, school_id)
    if allow:
        changed = (
            roster.grant(
                db,
                client_pk=row.id,
                school_id=school_id,
                actor_id=principal.user.id,
                now=now,  # type: ignore[arg-type]
            )
            is not None
        )
    else:
        changed = roster.revoke(db, client_pk=row.id, school_id=school_id)
    if changed:
        _record(
            db,
            action=AuditAction.ONEROSTER_GRANTED if allow else AuditAction.ONEROSTER_REVOKED,
            principal=principal,
            client=client,
            row=row,
            school_id=school_id,
            now=now,
        )
    return changed


# -- the platform administrator, on an application's page -----------------------------------


@router.get("/platform/clients/{client_pk}/rosters")
def client_rosters(
    request: Request, db: DbSession, principal: ClientAdmin, client_pk: Id, done: str = ""
) -> Response:
    """The schools whose rosters the application reads; grant another, withdraw one."""
    row = _client_or_404(db, client_pk)
    grants = roster.grants_of_client(db, row.id)
    granted = {school.id for _, school in grants}
    schools = [s for s in db.scalars(select(School).order_by(School.name)) if s.id not in granted]
    return render(
        request,
        "oneroster/client_rosters.html",
        {
            "row": row,
            "grants": grants,
            "schools": schools,
            "has_scope": bool(set(row.service_scopes.split()) & set(roster.READ_SCOPES)),
            "done": {"granted": GRANTED, "revoked": REVOKED}.get(done),
        },
    )


@router.post("/platform/clients/{client_pk}/rosters")
def grant_school(
    db: DbSession,
    services: Svc,
    principal: ClientAdmin,
    client: Client,
    client_pk: Id,
    school_id: FormId,
) -> Response:
    """Allow the application to read a school's roster."""
    row = _client_or_404(db, client_pk)
    if db.get(School, school_id) is None:
        raise NotFound()
    change_grant(
        db,
        principal=principal,
        client=client,
        row=row,
        school_id=school_id,
        allow=True,
        now=services.clock.now(),
    )
    return redirect(f"/platform/clients/{row.id}/rosters?done=granted")


@router.post("/platform/clients/{client_pk}/rosters/{school_id}/revoke")
def revoke_school(
    db: DbSession,
    services: Svc,
    principal: ClientAdmin,
    client: Client,
    client_pk: Id,
    school_id: Id,
) -> Response:
    """Withdraw a school's roster from the application."""
    row = _client_or_404(db, client_pk)
    change_grant(
        db,
        principal=principal,
        client=client,
        row=row,
        school_id=school_id,
        allow=False,
        now=services.clock.now(),
    )
    return redirect(f"/platform/clients/{row.id}/rosters?done=revoked")


# -- the school administrator, in the console ------------------------------------------------


@router.get("/school/{school_id}/apps")
def school_apps(page: Page, principal: CurrentPrincipal, done: str = "") -> Response:
    """应用名册授权: which applications read this school's roster; the OneRoster export."""
    granted = roster.granted_client_ids(page.db, page.school_id)
    apps = [(row, row.id in granted) for row in roster_clients(page.db)]
    return page.render(
        "oneroster/school_apps.html",
        with_tree=False,
        section="apps",
        apps=apps,
        may_grant=authz.may_grant_roster(principal, page.school_id),
        done={"granted": GRANTED, "revoked": REVOKED}.get(done),
    )


def _school_change(page: Page, principal: Principal, client_pk: int, *, allow: bool) -> Response:
    row = next((r for r in roster_clients(page.db) if r.id == client_pk), None)
    if row is None:
        raise NotFound()
    change_grant(
        page.db,
        principal=principal,
        client=page.actor.client,
        row=row,
        school_id=page.school_id,
        allow=allow,
        now=page.now,
    )
    return page.go("/apps", done="granted" if allow else "revoked")


@router.post("/school/{school_id}/apps/{client_pk}/grant")
def school_grant(page: Page, principal: CurrentPrincipal, client_pk: Id) -> Response:
    """Allow an application to read this school's roster."""
    return _school_change(page, principal, client_pk, allow=True)


@router.post("/school/{school_id}/apps/{client_pk}/revoke")
def school_revoke(page: Page, principal: CurrentPrincipal, client_pk: Id) -> Response:
    """Withdraw this school's roster from an application."""
    return _school_change(page, principal, client_pk, allow=False)


@router.get("/school/{school_id}/apps/oneroster.zip")
def school_export(page: Page, principal: CurrentPrincipal, services: Svc) -> Response:
    """The school's OneRoster 1.2 CSV bulk export, streamed."""
    audit.record(
        page.db,
        now=page.now,
        action=AuditAction.ONEROSTER_EXPORTED,
        actor_id=principal.user.id,
        actor_role=principal.main_role.value if principal.main_role else None,
        school_id=page.school_id,
        client=page.actor.client,
        detail={"export_of": "school"},
    )
    data = roster.Roster(
        page.db,
        frozenset({page.school_id}),
        calendar_for(services.settings, services.clock),
        base=str(page.request.base_url).rstrip("/"),
    )
    data.load()  # read inside the request's transaction; the zip is written from memory
    filename = f"oneroster-{page.school.name}.zip"
    return StreamingResponse(
        export.stream_zip(data),
        media_type="application/zip",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"},
    )

"""用户协议 and 隐私政策, public at /terms and /privacy; 同意 for a parent who signed up before."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from campusid.i18n import N_
from campusid.legal import service
from campusid.legal.models import ConsentVia, DocumentKind
from campusid.types import MAX_ID
from campusid.web import (
    Client,
    CurrentPrincipal,
    DbSession,
    NotFound,
    Svc,
    language_of,
    redirect,
    render,
)

router = APIRouter()

# ?version=N: a published version's number (an integer column: bounded, so no value reaches
# the database that it cannot hold)
Version = Annotated[int | None, Query(ge=1, le=MAX_ID)]

MUST_TICK = N_("请阅读并勾选同意《用户协议》和《隐私政策》")


def _document_page(
    request: Request, db: DbSession, services: Svc, kind: DocumentKind, version: int | None
) -> Response:
    latest = service.current(db, kind, now=services.clock.now())
    shown = latest if version is None else service.version_of(db, kind, version)
    if shown is None:
        raise NotFound
    return render(
        request,
        "legal/document.html",
        {
            "document": shown,
            "latest": latest,
            "paragraphs": service.paragraphs(shown.body(language_of(request))),
        },
    )


@router.get("/terms")
def terms(request: Request, db: DbSession, services: Svc, version: Version = None) -> Response:
    """用户协议: the current version (an older one with ?version=N), open to everyone."""
    return _document_page(request, db, services, DocumentKind.TERMS, version)


@router.get("/privacy")
def privacy(request: Request, db: DbSession, services: Svc, version: Version = None) -> Response:
    """隐私政策: the current version (an older one with ?version=N), open to everyone."""
    return _document_page(request, db, services, DocumentKind.PRIVACY, version)


@router.get("/consent")
def consent_page(
    request: Request, db: DbSession, services: Svc, principal: CurrentPrincipal
) -> Response:
    """同意: the current texts' versions, a box to tick and 同意 (or a note that it is done)."""
    now = services.clock.now()
    return render(
        request,
        "legal/consent.html",
        {
            "agreed": service.has_agreed(db, user_id=principal.user.id, now=now),
            "documents": [service.current(db, kind, now=now) for kind in DocumentKind],
        },
    )


@router.post("/consent")
def consent_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
    agree: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Record the consent to the current versions (refused while the box is not ticked)."""
    now = services.clock.now()
    if not agree:
        return render(
            request,
            "legal/consent.html",
            {
                "agreed": False,
                "documents": [service.current(db, kind, now=now) for kind in DocumentKind],
                "errors": [MUST_TICK],
            },
            status_code=400,
        )
    if not service.has_agreed(db, user_id=principal.user.id, now=now):
        service.agree(db, user_id=principal.user.id, via=ConsentVia.LATER, client=client, now=now)
    return redirect("/?agreed=1")

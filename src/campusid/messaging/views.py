"""消息: the person's notices inbox; and the development outbox of SMS and mail."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from campusid.messaging import service
from campusid.web import (
    CurrentPrincipal,
    DbSession,
    NotFound,
    Svc,
    language_of,
    redirect,
    render,
)

router = APIRouter()


@router.get("/notices")
def notices(request: Request, db: DbSession, principal: CurrentPrincipal) -> Response:
    """The inbox, newest first."""
    return render(
        request,
        "messaging/notices.html",
        {
            "notices": [
                (notice, *service.shown(notice, language_of(request)))
                for notice in service.inbox(db, user_id=principal.user.id)
            ],
            "unread": request.state.viewer.counts["unread_notices"],
            "kind_label": service.kind_label,
        },
    )


@router.post("/notices/read")
def mark_read(db: DbSession, services: Svc, principal: CurrentPrincipal) -> Response:
    """Mark every notice read."""
    service.mark_all_read(db, user_id=principal.user.id, now=services.clock.now())
    return redirect("/notices")


@router.get("/dev/outbox")
def dev_outbox(request: Request, db: DbSession, services: Svc) -> Response:
    """开发发件箱: the SMS and mail kept instead of sent; only in development.

    Testers read sign-up and recovery codes here; in demo and production the page does not
    exist (issue 18: a demo is reachable by people who are not its testers).
    """
    if services.settings.environment != "development":
        raise NotFound
    return render(
        request,
        "messaging/outbox.html",
        {"messages": service.outbox(db, now=services.clock.now())},
    )

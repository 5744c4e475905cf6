"""消息: the person's notices inbox."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from campusid.messaging import service
from campusid.web import CurrentPrincipal, DbSession, Svc, redirect, render

router = APIRouter()


@router.get("/notices")
def notices(request: Request, db: DbSession, principal: CurrentPrincipal) -> Response:
    """The inbox, newest first."""
    return render(
        request,
        "messaging/notices.html",
        {
            "notices": service.inbox(db, user_id=principal.user.id),
            "unread": service.unread_count(db, user_id=principal.user.id),
        },
    )


@router.post("/notices/read")
def mark_read(db: DbSession, services: Svc, principal: CurrentPrincipal) -> Response:
    """Mark every notice read."""
    service.mark_all_read(db, user_id=principal.user.id, now=services.clock.now())
    return redirect("/notices")

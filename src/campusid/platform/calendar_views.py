"""平台管理 → 服务日历 (issue 20): the hotline's holidays and 调休 days, year by year."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from campusid.clock import local_today
from campusid.i18n import N_
from campusid.security.permissions import Permission, Principal
from campusid.servicedesk import calendar as service_calendar
from campusid.servicedesk.hours import hours_text
from campusid.web import Client, DbSession, Svc, redirect, render, require

router = APIRouter()

CalendarManager = Annotated[Principal, require(Permission.PLATFORM_CALENDAR_MANAGE)]
# Years the page offers: this one, the next, and any typed between these bounds.
YEAR_MIN, YEAR_MAX = 2020, 2100
Year = Annotated[int | None, Query(ge=YEAR_MIN, le=YEAR_MAX)]


def _page(
    request: Request,
    db: DbSession,
    services: Svc,
    year: int,
    *,
    closed_text: str | None = None,
    open_text: str | None = None,
    errors: list[str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    today = local_today(services.clock)
    days = service_calendar.year_days(db, year)
    return render(
        request,
        "platform/calendar.html",
        {
            "year": year,
            "years": [today.year, today.year + 1],
            "days": days,
            "closed_text": (
                closed_text
                if closed_text is not None
                else "\n".join(d.isoformat() for d in days.closed)
            ),
            "open_text": (
                open_text if open_text is not None else "\n".join(d.isoformat() for d in days.open)
            ),
            "errors": errors or [],
            "message": message,
            "hours": hours_text(
                services.settings.servicedesk_opens_at, services.settings.servicedesk_closes_at
            ),
        },
        status_code=status_code,
    )


@router.get("/platform/calendar")
def calendar_page(
    request: Request, db: DbSession, services: Svc, principal: CalendarManager, year: Year = None
) -> Response:
    """A year's holidays and 调休 days: entered ones, else chinesecalendar's as a proposal."""
    chosen = year or local_today(services.clock).year
    saved = request.query_params.get("saved") == "1"
    return _page(request, db, services, chosen, message=N_("已保存") if saved else None)


@router.post("/platform/calendar")
def calendar_save(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CalendarManager,
    client: Client,
    year: Annotated[int, Form(ge=YEAR_MIN, le=YEAR_MAX)],
    closed_days: Annotated[str, Form(max_length=8000)] = "",
    open_days: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Save a year's days (all or nothing); the form keeps what was typed when refused."""
    try:
        service_calendar.save_year(
            db,
            services=services,
            year=year,
            closed_text=closed_days,
            open_text=open_days,
            actor_id=principal.user.id,
            client=client,
            now=services.clock.now(),
        )
    except service_calendar.CalendarError as exc:
        db.rollback()
        return _page(
            request,
            db,
            services,
            year,
            closed_text=closed_days,
            open_text=open_days,
            errors=exc.messages,
            status_code=400,
        )
    return redirect(f"/platform/calendar?year={year}&saved=1")

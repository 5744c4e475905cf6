"""区县组织 (issue 10's org counts): a district's organisation page, for platform administrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from campusid.org.counts import district_counts, district_list
from campusid.org.deps import CalendarDep
from campusid.security import authz
from campusid.web import CurrentPrincipal, DbSession, Id, NotFound, render

router = APIRouter()


@router.get("/districts")
def district_list_page(
    request: Request, db: DbSession, principal: CurrentPrincipal, calendar: CalendarDep
) -> Response:
    """区县组织: every district with its schools and its teachers, students and parents."""
    authz.check_district_view(principal)
    found = district_list(db, calendar=calendar)
    return render(request, "org/districts.html", {"districts": found})


@router.get("/district/{district_id}")
def district_page(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    calendar: CalendarDep,
    district_id: Id,
) -> Response:
    """A district: its total and each of its schools with its counts (kept by the triggers)."""
    authz.check_district_view(principal)
    found = district_counts(db, district_id=district_id, calendar=calendar)
    if found is None:
        raise NotFound
    return render(request, "org/district.html", {"district": found})

"""Page dependencies of school administration: the school in the URL, checked once per request."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import Outcome
from campusid.clock import local_today
from campusid.context import Services
from campusid.members.service import Actor
from campusid.org import access
from campusid.org import service as org
from campusid.org.building import Calendar
from campusid.org.models import School
from campusid.org.tree import SchoolTree, build_tree, load_school
from campusid.web import Client, CurrentPrincipal, DbSession, Id, PermissionDenied, Svc, render


def admin_school(
    school_id: Id, db: DbSession, principal: CurrentPrincipal, services: Svc, client: Client
) -> School:
    """The school named in the URL, if the signed-in person administers it; else 403."""
    try:
        return access.check_school_admin(db, principal, school_id)
    except access.AccessDenied as exc:
        audit.record(
            db,
            now=services.clock.now(),
            action=AuditAction.SCHOOL_ADMIN_DENIED,
            outcome=Outcome.DENIED,
            actor_id=principal.user.id,
            school_id=None,
            client=client,
            detail={"school_id": school_id},
        )
        # Nothing else has been written yet in this request; keep the record of the refusal,
        # which the rollback on the way out would otherwise take with it.
        db.commit()
        raise PermissionDenied(exc.message) from exc


AdminSchool = Annotated[School, Depends(admin_school)]


async def calendar(services: Svc) -> Calendar:
    """Today in China and the configured school-year boundary."""
    return calendar_for(services)


def calendar_for(services: Services) -> Calendar:
    """The calendar of the app's clock and settings (also for the command line)."""
    settings = services.settings
    return Calendar(
        today=local_today(services.clock),
        boundary=org.boundary_from(
            settings.school_year_boundary_month, settings.school_year_boundary_day
        ),
    )


CalendarDep = Annotated[Calendar, Depends(calendar)]


async def actor(principal: CurrentPrincipal, client: Client) -> Actor:
    """The acting administrator, for the audit trail."""
    return Actor(user_id=principal.user.id, client=client)


ActorDep = Annotated[Actor, Depends(actor)]


class Fields:
    """A submitted form's text fields (several values per name allowed)."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items

    def get(self, name: str, default: str = "") -> str:
        """The first value of a field, stripped."""
        for key, value in self._items:
            if key == name:
                return value.strip()
        return default

    def getlist(self, name: str) -> list[str]:
        """Every value of a field."""
        return [value for key, value in self._items if key == name]

    def number(self, name: str, default: int | None = None) -> int | None:
        """A whole number, or the default when blank or not a number."""
        text = self.get(name)
        try:
            return int(text)
        except ValueError:
            return default

    def ints(self, name: str) -> list[int]:
        """Every value of a field that is a whole number."""
        found = []
        for value in self.getlist(name):
            try:
                found.append(int(value))
            except ValueError:
                continue
        return found

    def flag(self, name: str) -> bool:
        """A ticked checkbox."""
        return self.get(name) in {"on", "1", "true", "yes"}

    def startingwith(self, prefix: str) -> dict[str, str]:
        """Fields whose names start with the prefix, by the rest of the name."""
        return {k[len(prefix) :]: v.strip() for k, v in self._items if k.startswith(prefix)}


async def form_fields(request: Request) -> Fields:
    """The submitted form (parsed once; the CSRF check has already read it)."""
    form = await request.form()
    return Fields([(k, v) for k, v in form.multi_items() if isinstance(v, str)])


FormFields = Annotated[Fields, Depends(form_fields)]


def school_tree(db: Session, school: School, calendar: Calendar) -> tuple[School, SchoolTree]:
    """The school, freshly loaded, and its organisation tree."""
    loaded = load_school(db, school.id)
    assert loaded is not None
    return loaded, build_tree(db, loaded, calendar)


def page(
    request: Request,
    template: str,
    *,
    school: School,
    tree: SchoolTree | None,
    selected: tuple[str, int] | None = None,
    tab: str = "admin",
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A school administration page: the tree on the left, the template on the right."""
    path = tree.path_to(*selected) if tree and selected else []
    return render(
        request,
        template,
        {
            "school": school,
            "tree": tree,
            "selected": selected,
            "open_keys": {(n.kind, n.id) for n in path},
            "path": path,
            "tab": tab,
            "manage": tree is not None,
            **context,
        },
        status_code=status_code,
    )


def tree_page(
    request: Request,
    db: Session,
    school: School,
    calendar: Calendar,
    template: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """`page` with the school's tree freshly loaded."""
    school, tree = school_tree(db, school, calendar)
    return page(request, template, school=school, tree=tree, status_code=status_code, **context)


def refused(
    request: Request,
    db: Session,
    school: School,
    calendar: Calendar,
    messages: list[str],
    *,
    selected: tuple[str, int] | None = None,
) -> Response:
    """The refusal of an action, with its reasons and the way back."""
    school, tree = school_tree(db, school, calendar)
    return page(
        request,
        "org/refused.html",
        school=school,
        tree=tree,
        selected=selected,
        errors=messages,
        back=tree.find(*selected) if selected else None,
        status_code=400,
    )

"""Page dependencies of school administration: the school in the URL, checked once per request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from campusid.audit.service import Actor
from campusid.context import Services
from campusid.org.models import School
from campusid.org.schoolyear import Calendar, calendar_for
from campusid.org.tree import SchoolTree, counted_tree, load_school, outline
from campusid.security import authz
from campusid.web import (
    Client,
    CurrentPrincipal,
    DbSession,
    Id,
    Refused,
    Svc,
    keep_refused,
    redirect,
    render,
)


def admin_school(school_id: Id, db: DbSession, principal: CurrentPrincipal) -> School:
    """The school named in the URL, if the signed-in person administers it; else refused."""
    school = db.get(School, school_id)
    authz.check_school_admin(principal, school_id, exists=school is not None)
    assert school is not None
    return school


AdminSchool = Annotated[School, Depends(admin_school)]


async def calendar(services: Svc) -> Calendar:
    """Today in China and the configured school-year boundary."""
    return calendar_for(services.settings, services.clock)


CalendarDep = Annotated[Calendar, Depends(calendar)]


async def actor(principal: CurrentPrincipal, client: Client) -> Actor:
    """The acting administrator, for the audit trail."""
    return Actor(user_id=principal.user.id, client=client)


ActorDep = Annotated[Actor, Depends(actor)]


def page(
    request: Request,
    template: str,
    *,
    school: School,
    tree: SchoolTree | None,
    selected: tuple[str, int] | None = None,
    manage: bool,
    tab: str = "admin",
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A school administration page: the tree on the left (if any), the template on the
    right; the console's tabs if the person administers the school (`manage`)."""
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
            "manage": manage,
            **context,
        },
        status_code=status_code,
    )


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
    tree = outline(db, school, calendar)
    return page(
        request,
        "org/refused.html",
        school=school,
        tree=tree,
        manage=True,  # the school console's refusal: its administrator's
        selected=selected,
        errors=messages,
        back=tree.find(*selected) if selected else None,
        status_code=400,
    )


class SchoolPage:
    """What every school console handler needs, loaded once per request.

    The school in the URL (checked by `AdminSchool`), the request's transaction, today's
    calendar and the acting administrator; `render` draws the console around a template
    (the organisation tree on the left), `go` answers a POST with a redirect inside the school.

    A domain refusal (`web.Refused`: `org.building.Invalid`, `members.batch.MemberError`) raised
    by a handler needs no `try`: the app's handler rolls the request back (nothing is
    half-written) and draws this page's refusal — its reasons and the way back to the node the
    handler named with `at()`.
    """

    def __init__(
        self,
        request: Request,
        db: Session,
        services: Services,
        school: School,
        calendar: Calendar,
        actor: Actor,
    ) -> None:
        self.request = request
        self.db = db
        self.services = services
        self.school = school
        self.school_id = school.id
        self.calendar = calendar
        self.actor = actor
        self.selected: tuple[str, int] | None = None
        self._draw_refusal: Callable[[list[str]], Response] | None = None
        request.state.refusal_page = self.refusal

    @property
    def now(self) -> datetime:
        """The injected clock's time."""
        return self.services.clock.now()

    def at(self, kind: str, node_id: int) -> SchoolPage:
        """The node of the tree this page is about (opened in the tree; the refusal's way back)."""
        self.selected = (kind, node_id)
        return self

    def tree(self) -> SchoolTree:
        """The school's organisation tree with every node's counts."""
        return counted_tree(self.db, self.school, self.calendar)

    def render(
        self,
        template: str,
        *,
        with_tree: bool = True,
        loaded: SchoolTree | None = None,
        tab: str = "admin",
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        """The console page: the tree (unless `with_tree` is off) and the template.

        `loaded` is the tree the handler already read (to find its node, or for the counts its
        template shows), drawn as is; otherwise the sidebar is the kept outline (no counts).
        """
        tree = loaded or (outline(self.db, self.school, self.calendar) if with_tree else None)
        return page(
            self.request,
            template,
            school=self.school,
            tree=tree,
            selected=self.selected,
            tab=tab,
            status_code=status_code,
            manage=True,  # the school's administrator (`AdminSchool`), with or without the tree
            **context,
        )

    def refuse(self, template: str, errors: list[str] | Refused, **context: Any) -> Response:
        """Draw a form again with the reasons it was refused (400), after rolling back whatever
        the request wrote, so a refused form never leaves anything half-written; a `Refused`
        still writes what it keeps (the audit event of the refused attempt)."""
        self.db.rollback()
        if isinstance(errors, Refused):
            keep_refused(self.request, errors)
            errors = errors.messages
        return self.render(template, errors=errors, status_code=400, **context)

    def go(self, path: str = "", **query: Any) -> Response:
        """303 to a page of this school (`path` below /school/{id})."""
        suffix = "?" + urlencode(query) if query else ""
        return redirect(f"/school/{self.school_id}{path}{suffix}")

    def on_refusal(self, draw: Callable[[list[str]], Response]) -> None:
        """Draw this page (given the reasons) instead of the console's refusal page, should the
        act be refused: e.g. a member's own page with the reasons and the form as typed."""
        self._draw_refusal = draw

    def refusal(self, messages: list[str]) -> Response:
        """The refusal page, drawn after the request's transaction was rolled back.

        The session is used again, to read only, and closed once the page is drawn.
        """
        try:
            school = load_school(self.db, self.school_id)
            assert school is not None
            self.school = school
            if self._draw_refusal is not None:
                return self._draw_refusal(messages)
            return refused(
                self.request, self.db, school, self.calendar, messages, selected=self.selected
            )
        finally:
            self.db.close()


def school_page(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    actor: ActorDep,
) -> SchoolPage:
    """The school console page of this request."""
    return SchoolPage(request, db, services, school, calendar, actor)


Page = Annotated[SchoolPage, Depends(school_page)]

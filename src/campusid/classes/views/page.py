"""The class pages' dependency: the signed-in person, and the class in the URL loaded once.

A handler names what it needs as one parameter:

- `Person`: pages without a class (任教班级, 加入班级);
- `VisibleClass`: a class page its teachers and its school's administrators see (else 404,
  the rule `authz.may_view_class`);
- `ManagedClass`: a 班级管理 page (else refused, the rule `authz.check_class_manager`);
- `PostedClass`: an act on the class's students (the class must exist; the act itself asks the
  rule, `classes.service.authorize_students`, so a refusal is audited as the refused act);
- `MobileClass` and `MobilePostedClass`: the same for the phone pages below /m/classes.

The page renders a template with the class's header (`render`), draws the 班级管理 frame around
a tab (`console`), and answers a POST with a redirect below the class (`go`). A refusal is
`authz.Denied`, raised by the rules; the app's handler audits it once and answers 403.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import Annotated, Any, Literal, TypedDict
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from campusid.classes import joins
from campusid.classes import service as classes
from campusid.classes.models import ClassStudent
from campusid.context import Services
from campusid.i18n import N_
from campusid.org.deps import CalendarDep
from campusid.org.models import SchoolClass
from campusid.org.schoolyear import Calendar
from campusid.security import authz
from campusid.security.permissions import Principal
from campusid.types import ClientInfo
from campusid.web import Client, CurrentPrincipal, DbSession, Id, NotFound, Svc, redirect, render

DESKTOP = "/classes"
MOBILE = "/m/classes"
# The 班级管理 pages' one-line notice after a POST (?msg=…).
FLASH = {
    "removed": N_("已将所选学生退出班级，他们已存放在本校区"),
    "saved": N_("已保存"),
    "added": N_("已添加学生"),
    "approved": N_("已通过申请"),
    "refused": N_("已拒绝申请"),
    "position_added": N_("已添加职位"),
    "position_deleted": N_("已删除职位"),
}


class PersonPage:
    """What every class page handler needs: the request, its transaction, the services, the
    signed-in person, where they connect from and today's calendar."""

    def __init__(
        self,
        request: Request,
        db: Session,
        services: Services,
        principal: Principal,
        client: ClientInfo,
        calendar: Calendar,
    ) -> None:
        self.request = request
        self.db = db
        self.services = services
        self.principal = principal
        self.client = client
        self.calendar = calendar

    @property
    def now(self) -> datetime:
        """The injected clock's time."""
        return self.services.clock.now()

    def render(self, template: str, *, status_code: int = 200, **context: Any) -> Response:
        """The template with the context."""
        return render(self.request, template, context, status_code=status_code)

    def taught_classes(self) -> list[classes.ClassSummary]:
        """任教班级: the classes this person teaches."""
        return classes.taught_classes(self.db, principal=self.principal, cal=self.calendar)

    def find_by_code(self, code: str) -> tuple[classes.ClassSummary | None, list[str]]:
        """The class a class code names (nothing asked for nothing typed), or why not."""
        if not code:
            return None, []
        return joins.find_by_code(
            self.db, services=self.services, principal=self.principal, code=code
        )


class Acting(TypedDict):
    """Who acts on the class, as the class services take it (`service(db, **page.acting, …)`)."""

    services: Services
    principal: Principal
    school_class: SchoolClass
    client: ClientInfo


class ClassPage(PersonPage):
    """A page about the class in the URL, loaded once (and checked by the dependency)."""

    def __init__(self, person: PersonPage, school_class: SchoolClass, prefix: str) -> None:
        super().__init__(
            person.request,
            person.db,
            person.services,
            person.principal,
            person.client,
            person.calendar,
        )
        self.school_class = school_class
        self.class_id = school_class.id
        self.base = f"{prefix}/{school_class.id}"

    @property
    def acting(self) -> Acting:
        """The services, the signed-in person, this class and the client, for an act on it."""
        return Acting(
            services=self.services,
            principal=self.principal,
            school_class=self.school_class,
            client=self.client,
        )

    @cached_property
    def summary(self) -> classes.ClassSummary:
        """The class's header: name, campus, homeroom teacher and member counts (read once,
        when the page is drawn, after the act)."""
        return classes.summarize(self.db, school_class=self.school_class, cal=self.calendar)

    @property
    def manages(self) -> bool:
        """Whether to offer 班级管理 (the pages behind it check again)."""
        return authz.may_manage_class(self.principal, self.school_class.scope)

    def member(self, student_id: int) -> ClassStudent:
        """The student's row in this class; not found when they are not in it."""
        member = classes.member_of(self.db, school_class=self.school_class, student_id=student_id)
        if member is None:
            raise NotFound
        return member

    def may_act(self, student_id: int, act: authz.StudentAct) -> bool:
        """Whether to offer the act on the student from this class (the rule:
        `authz.student_authority`; the act itself checks again)."""
        authority = classes.authority_over_student(
            self.db, principal=self.principal, student_id=student_id, cal=self.calendar, act=act
        )
        return (
            authority is not None
            and authority.school_class is not None
            and authority.school_class.id == self.class_id
        )

    def pending_count(self) -> int:
        """成员审核's badge: join requests waiting."""
        return joins.pending_count(self.db, school_class=self.school_class)

    def render(self, template: str, *, status_code: int = 200, **context: Any) -> Response:
        """The template under the class's header."""
        return super().render(template, status_code=status_code, summary=self.summary, **context)

    def console(
        self, template: str, tab: str, *, status_code: int = 200, **context: Any
    ) -> Response:
        """A 班级管理 tab: the class's header, the tabs and the notice of the last act."""
        return self.render(
            template,
            status_code=status_code,
            tab=tab,
            base=f"{DESKTOP}/{self.class_id}/manage",
            flash=FLASH.get(self.request.query_params.get("msg", "")),
            pending_count=self.pending_count(),
            **context,
        )

    def go(self, path: str = "", **query: str) -> Response:
        """303 to a page of this class (`path` below /classes/{id} or /m/classes/{id})."""
        suffix = "?" + urlencode(query) if query else ""
        return redirect(f"{self.base}{path}{suffix}")


def person_page(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
    calendar: CalendarDep,
) -> PersonPage:
    """The signed-in person's page of this request."""
    return PersonPage(request, db, services, principal, client, calendar)


Person = Annotated[PersonPage, Depends(person_page)]
Rule = Literal["view", "manage", "act"]


def class_page(page: PersonPage, class_id: int, *, rule: Rule, prefix: str) -> ClassPage:
    """The class in the URL, checked by the rule: `view` answers 404 for a class this person
    may not see; `manage` refuses anyone but its managers; `act` leaves the check to the act."""
    school_class = page.db.get(SchoolClass, class_id)
    if school_class is None:
        raise NotFound
    if rule == "view" and not authz.may_view_class(page.principal, school_class.scope):
        raise NotFound
    if rule == "manage":
        authz.check_class_manager(page.principal, school_class.scope, action=authz.ACCESS_DENIED)
    return ClassPage(page, school_class, prefix)


def visible_class(page: Person, class_id: Id) -> ClassPage:
    """A class page (its teachers and its school's administrators)."""
    return class_page(page, class_id, rule="view", prefix=DESKTOP)


def managed_class(page: Person, class_id: Id) -> ClassPage:
    """A 班级管理 page (the class's managers)."""
    return class_page(page, class_id, rule="manage", prefix=DESKTOP)


def posted_class(page: Person, class_id: Id) -> ClassPage:
    """An act on the class's students (the act asks the rule)."""
    return class_page(page, class_id, rule="act", prefix=DESKTOP)


def mobile_class(page: Person, class_id: Id) -> ClassPage:
    """A phone page of a class (its teachers and its school's administrators)."""
    return class_page(page, class_id, rule="view", prefix=MOBILE)


def mobile_posted_class(page: Person, class_id: Id) -> ClassPage:
    """An act on a student from a phone page (the act asks the rule)."""
    return class_page(page, class_id, rule="act", prefix=MOBILE)


VisibleClass = Annotated[ClassPage, Depends(visible_class)]
ManagedClass = Annotated[ClassPage, Depends(managed_class)]
PostedClass = Annotated[ClassPage, Depends(posted_class)]
MobileClass = Annotated[ClassPage, Depends(mobile_class)]
MobilePostedClass = Annotated[ClassPage, Depends(mobile_posted_class)]

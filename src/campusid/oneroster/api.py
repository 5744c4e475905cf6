"""The OneRoster 1.2 Rostering REST binding, read-only (issue 22).

Every call carries a client_credentials bearer token with one of the OneRoster scopes; the
client sees only the schools granted to it (`authz.check_roster_school`); every call is one
audit row (the client, the path, the status). Errors are the binding's imsx payloads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.context import Services
from campusid.oidc import service as oidc
from campusid.oidc.models import OAuthClient
from campusid.oidc.server import issuer_of
from campusid.oneroster import service as roster
from campusid.oneroster import sql
from campusid.oneroster.query import Clause, Filter, Query, QueryError, Record
from campusid.org.models import School, SchoolClass
from campusid.org.schoolyear import calendar_for
from campusid.security import authz
from campusid.web import Client, DbSession, Svc

router = APIRouter(prefix=roster.BASE_PATH, tags=["OneRoster 1.2"])

COMMON = frozenset({"sourcedId", "status", "dateLastModified", "metadata"})
ORG_FIELDS = COMMON | {"name", "type", "identifier", "parent", "children"}
SESSION_FIELDS = COMMON | {
    "title",
    "startDate",
    "endDate",
    "type",
    "parent",
    "children",
    "schoolYear",
}
CLASS_FIELDS = COMMON | {
    "title",
    "classCode",
    "classType",
    "location",
    "grades",
    "subjects",
    "course",
    "school",
    "terms",
    "subjectCodes",
    "periods",
    "resources",
}
USER_FIELDS = COMMON | {
    "userMasterIdentifier",
    "username",
    "userIds",
    "enabledUser",
    "givenName",
    "familyName",
    "middleName",
    "preferredFirstName",
    "preferredMiddleName",
    "preferredLastName",
    "pronouns",
    "roles",
    "userProfiles",
    "identifier",
    "email",
    "sms",
    "phone",
    "agents",
    "grades",
    "primaryOrg",
    "resources",
}
COURSE_FIELDS = COMMON | {
    "title",
    "schoolYear",
    "courseCode",
    "grades",
    "subjects",
    "org",
    "subjectCodes",
    "resources",
}
ENROLLMENT_FIELDS = COMMON | {
    "class",
    "user",
    "school",
    "role",
    "primary",
    "beginDate",
    "endDate",
}


class ImsxError(Exception):
    """An error the binding answers with an imsx status payload."""

    def __init__(self, status: int, code_minor: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code_minor = code_minor
        self.description = description


def imsx_payload(code_minor: str, description: str) -> dict[str, Any]:
    """The binding's status payload of a failed call."""
    return {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [
                {
                    "imsx_codeMinorFieldName": "TargetEndSystem",
                    "imsx_codeMinorFieldValue": code_minor,
                }
            ]
        },
    }


def imsx_response(status: int, code_minor: str, description: str) -> JSONResponse:
    """An imsx error response (401s name the bearer scheme)."""
    headers = {"WWW-Authenticate": 'Bearer realm="campusid"'} if status == 401 else None
    return JSONResponse(imsx_payload(code_minor, description), status_code=status, headers=headers)


@dataclass
class Call:
    """One API call: who made it, what it may see, and its audit row."""

    request: Request
    db: Session
    services: Services
    client: OAuthClient
    scopes: frozenset[str]
    granted: frozenset[int]
    school_id: int | None = None

    def roster(self) -> roster.Roster:
        """The records of the granted schools."""
        return roster.Roster(
            self.db,
            self.granted,
            calendar_for(self.services.settings, self.services.clock),
            base=issuer_of(self.request, self.services),
            demographics=roster.DEMOGRAPHICS in self.scopes,
            counts=self.services.roster_counts,
            client_key=self.client.client_id,
        )

    def school(self, sourced_id: str) -> School:
        """A school named in the URL: unknown is 404, not granted is refused (403)."""
        school = self.db.scalar(select(School).where(School.sourced_id == sourced_id))
        if school is None:
            raise ImsxError(404, "unknownobject", f"No school {sourced_id}.")
        self.school_id = school.id
        authz.check_roster_school(self.granted, school.id, client_id=self.client.client_id)
        return school

    def school_class(self, sourced_id: str) -> SchoolClass:
        """A class named in the URL, under the same rule as its school."""
        found = self.db.scalar(select(SchoolClass).where(SchoolClass.sourced_id == sourced_id))
        if found is None:
            raise ImsxError(404, "unknownobject", f"No class {sourced_id}.")
        self.school_id = found.school_id
        authz.check_roster_school(self.granted, found.school_id, client_id=self.client.client_id)
        return found


def _bearer(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _authenticate(request: Request, db: Session, services: Services) -> Call:
    token = _bearer(request)
    if token is None:
        raise ImsxError(401, "unauthorisedrequest", "A bearer access token is required.")
    now = services.clock.now()
    item = oidc.find_access_token(db, access_token=token, now=now)
    client = db.get(OAuthClient, item.client_id) if item is not None else None
    if item is None or item.user_id is not None or client is None or client.disabled_at:
        raise ImsxError(401, "unauthorisedrequest", "The access token is not valid.")
    scopes = frozenset(item.scope.split()) & frozenset(roster.READ_SCOPES)
    if not scopes:
        raise ImsxError(403, "forbidden", "The access token carries no OneRoster scope.")
    return Call(request, db, services, client, scopes, roster.granted_school_ids(db, client.id))


def _audit(
    call_or_none: Call | None,
    request: Request,
    client: Any,
    status: int,
    extra: dict[str, Any],
) -> None:
    if call_or_none is None:
        return
    call = call_or_none
    audit.record(
        call.db,
        now=call.services.clock.now(),
        action=AuditAction.ONEROSTER_CALL,
        outcome=(
            audit.Outcome.SUCCESS
            if status < 400
            else audit.Outcome.DENIED
            if status == 403
            else audit.Outcome.FAILURE
        ),
        school_id=call.school_id,
        client=client,
        detail={
            "client_id": call.client.client_id,
            "path": request.url.path,
            "http_status": status,
            **extra,
        },
    )


def _links(request: Request, total: int, query: Query, shown: int) -> str:
    """The binding's Link header: first, prev, next and last pages. A full page (`shown`
    records) always has a next one: a remembered total may be behind a roster that grew
    during the walk (`counts.py`), and the walk must still reach its end."""
    params = dict(request.query_params)
    base = str(request.url).split("?")[0]

    def link(offset: int, rel: str) -> str:
        return (
            f'<{base}?{urlencode({**params, "limit": query.limit, "offset": offset})}>; rel="{rel}"'
        )

    total = max(total, query.offset + shown)
    last = max(0, ((total - 1) // query.limit) * query.limit) if total else 0
    parts = [link(0, "first")]
    if query.offset > 0:
        parts.append(link(max(0, query.offset - query.limit), "prev"))
    if query.offset + query.limit < total or shown == query.limit:
        parts.append(link(query.offset + query.limit, "next"))
    parts.append(link(last, "last"))
    return ", ".join(parts)


Producer = Callable[[Call], list[Record]]
# A collection paged in SQL: (the page, the total); `sql.UntranslatableError` falls back to Python.
Pager = Callable[[Call, Query], tuple[list[Record], int]]


def serve_collection(
    request: Request,
    db: Session,
    services: Services,
    client: Any,
    key: str,
    fields: frozenset[str],
    produce: Producer,
    pager: Pager | None = None,
) -> Response:
    """A collection call: authenticate, read, filter, sort, page, answer and audit. With a
    `pager` the database filters, sorts and pages; a query it cannot translate is answered
    from `produce`'s records, filtered in Python (the same answer, slower)."""
    call: Call | None = None
    try:
        call = _authenticate(request, db, services)
        query = Query.parse(dict(request.query_params), fields)
        try:
            if pager is None:
                raise sql.UntranslatableError("no pager")
            page, total = pager(call, query)
        except sql.UntranslatableError:
            page, total = query.apply(produce(call))
    except ImsxError as exc:
        _audit(call, request, client, exc.status, {"code_minor": exc.code_minor})
        return imsx_response(exc.status, exc.code_minor, exc.description)
    except QueryError as exc:
        _audit(call, request, client, 400, {"code_minor": exc.code_minor})
        return imsx_response(400, exc.code_minor, exc.description)
    except authz.Denied as exc:
        _audit(call, request, client, 403, {"reason": exc.reason})
        return imsx_response(403, "forbidden", exc.message)
    _audit(call, request, client, 200, {"records": len(page)})
    return JSONResponse(
        {key: page},
        headers={"X-Total-Count": str(total), "Link": _links(request, total, query, len(page))},
    )


def serve_one(
    request: Request,
    db: Session,
    services: Services,
    client: Any,
    key: str,
    fields: frozenset[str],
    produce: Producer,
    sourced_id: str,
    pager: Pager | None = None,
) -> Response:
    """A single record by its sourcedId among what the client may see (else 404); with a
    `pager`, found in SQL."""
    call: Call | None = None
    try:
        call = _authenticate(request, db, services)
        query = Query.parse({"fields": request.query_params.get("fields", "")}, fields)
        if pager is not None:
            one = Query(Filter((Clause("sourcedId", "=", sourced_id),)), None, False, None, 1, 0)
            page, _ = pager(call, one)
            found = page[0] if page else None
        else:
            found = next((r for r in produce(call) if r["sourcedId"] == sourced_id), None)
        if found is None:
            raise ImsxError(404, "unknownobject", f"No {key} {sourced_id}.")
    except ImsxError as exc:
        _audit(call, request, client, exc.status, {"code_minor": exc.code_minor})
        return imsx_response(exc.status, exc.code_minor, exc.description)
    except QueryError as exc:
        _audit(call, request, client, 400, {"code_minor": exc.code_minor})
        return imsx_response(400, exc.code_minor, exc.description)
    _audit(call, request, client, 200, {"records": 1})
    return JSONResponse({key: query.select(found)})


# -- the collections ----------------------------------------------------------------------------


def _orgs(call: Call) -> list[Record]:
    return call.roster().orgs()


def _schools(call: Call) -> list[Record]:
    return call.roster().schools_records()


def _sessions(call: Call) -> list[Record]:
    return call.roster().academic_sessions()


def _classes(call: Call) -> list[Record]:
    return call.roster().classes_records()


def _classes_page(call: Call, query: Query) -> tuple[list[Record], int]:
    return call.roster().classes_page(query)


def _one_class(call: Call, query: Query) -> tuple[list[Record], int]:
    return call.roster().classes_page(query, count=False)


def _courses(call: Call) -> list[Record]:
    return call.roster().courses_records()


def _users(call: Call) -> list[Record]:
    return call.roster().users_records()


def _users_page(call: Call, query: Query) -> tuple[list[Record], int]:
    return call.roster().users_page(query)


def _one_user(call: Call, query: Query) -> tuple[list[Record], int]:
    return call.roster().users_page(query, count=False)


def _role_page(role: str) -> Pager:
    def page(call: Call, query: Query) -> tuple[list[Record], int]:
        return call.roster().users_page(query, role=role)

    return page


def _with_role(role: str) -> Producer:
    def produce(call: Call) -> list[Record]:
        return [
            u for u in call.roster().users_records() if any(r["role"] == role for r in u["roles"])
        ]

    return produce


def _enrollments(call: Call) -> list[Record]:
    return call.roster().enrollments_records()


def _enrollments_page(call: Call, query: Query) -> tuple[list[Record], int]:
    return call.roster().enrollments_page(query)


def _one_enrollment(call: Call, query: Query) -> tuple[list[Record], int]:
    return call.roster().enrollments_page(query, count=False)


@router.get("/orgs")
def orgs(request: Request, db: DbSession, services: Svc, client: Client) -> Response:
    """All orgs: the districts and the granted schools."""
    return serve_collection(request, db, services, client, "orgs", ORG_FIELDS, _orgs)


@router.get("/orgs/{sourced_id}")
def org(
    request: Request, db: DbSession, services: Svc, client: Client, sourced_id: str
) -> Response:
    """One org."""
    return serve_one(request, db, services, client, "org", ORG_FIELDS, _orgs, sourced_id)


@router.get("/schools")
def schools(request: Request, db: DbSession, services: Svc, client: Client) -> Response:
    """The granted schools."""
    return serve_collection(request, db, services, client, "orgs", ORG_FIELDS, _schools)


@router.get("/schools/{sourced_id}")
def school(
    request: Request, db: DbSession, services: Svc, client: Client, sourced_id: str
) -> Response:
    """One granted school."""
    return serve_one(request, db, services, client, "org", ORG_FIELDS, _schools, sourced_id)


@router.get("/academicSessions")
def academic_sessions(request: Request, db: DbSession, services: Svc, client: Client) -> Response:
    """The current school year and its terms."""
    return serve_collection(
        request, db, services, client, "academicSessions", SESSION_FIELDS, _sessions
    )


@router.get("/academicSessions/{sourced_id}")
def academic_session(
    request: Request, db: DbSession, services: Svc, client: Client, sourced_id: str
) -> Response:
    """One academic session."""
    return serve_one(
        request, db, services, client, "academicSession", SESSION_FIELDS, _sessions, sourced_id
    )


@router.get("/classes")
def classes(request: Request, db: DbSession, services: Svc, client: Client) -> Response:
    """The classes of the granted schools."""
    return serve_collection(
        request, db, services, client, "classes", CLASS_FIELDS, _classes, _classes_page
    )


@router.get("/classes/{sourced_id}")
def one_class(
    request: Request, db: DbSession, services: Svc, client: Client, sourced_id: str
) -> Response:
    """One class."""
    return serve_one(
        request, db, services, client, "class", CLASS_FIELDS, _classes, sourced_id, _one_class
    )


@router.get("/courses")
def courses(request: Request, db: DbSession, services: Svc, client: Client) -> Response:
    """A course per school, grade and subject that has classes."""
    return serve_collection(request, db, services, client, "courses", COURSE_FIELDS, _courses)


@router.get("/courses/{sourced_id}")
def course(
    request: Request, db: DbSession, services: Svc, client: Client, sourced_id: str
) -> Response:
    """One course."""
    return serve_one(request, db, services, client, "course", COURSE_FIELDS, _courses, sourced_id)


@router.get("/users")
def users(request: Request, db: DbSession, services: Svc, client: Client) -> Response:
    """Students, teachers and guardians of the granted schools."""
    return serve_collection(
        request, db, services, client, "users", USER_FIELDS, _users, _users_page
    )


@router.get("/users/{sourced_id}")
def user(
    request: Request, db: DbSession, services: Svc, client: Client, sourced_id: str
) -> Response:
    """One user."""
    return serve_one(
        request, db, services, client, "user", USER_FIELDS, _users, sourced_id, _one_user
    )


@router.get("/students")
def students(request: Request, db: DbSession, services: Svc, client: Client) -> Response:
    """The students of the granted schools."""
    return serve_collection(
        request,
        db,
        services,
        client,
        "users",
        USER_FIELDS,
        _with_role("student"),
        _role_page("student"),
    )


@router.get("/teachers")
def teachers(request: Request, db: DbSession, services: Svc, client: Client) -> Response:
    """The teachers of the granted schools."""
    return serve_collection(
        request,
        db,
        services,
        client,
        "users",
        USER_FIELDS,
        _with_role("teacher"),
        _role_page("teacher"),
    )


@router.get("/enrollments")
def enrollments(request: Request, db: DbSession, services: Svc, client: Client) -> Response:
    """Students and teachers in the classes of the granted schools."""
    return serve_collection(
        request,
        db,
        services,
        client,
        "enrollments",
        ENROLLMENT_FIELDS,
        _enrollments,
        _enrollments_page,
    )


@router.get("/enrollments/{sourced_id}")
def enrollment(
    request: Request, db: DbSession, services: Svc, client: Client, sourced_id: str
) -> Response:
    """One enrollment."""
    return serve_one(
        request,
        db,
        services,
        client,
        "enrollment",
        ENROLLMENT_FIELDS,
        _enrollments,
        sourced_id,
        _one_enrollment,
    )


# -- nested collections ---------------------------------------------------------------------------


@router.get("/schools/{school_sourced_id}/classes")
def school_classes(
    request: Request, db: DbSession, services: Svc, client: Client, school_sourced_id: str
) -> Response:
    """The classes of one granted school."""

    def produce(call: Call) -> list[Record]:
        found = call.school(school_sourced_id)
        return [
            c
            for c in call.roster().classes_records()
            if c["school"]["sourcedId"] == found.sourced_id
        ]

    def page(call: Call, query: Query) -> tuple[list[Record], int]:
        return call.roster().classes_page(query, school=call.school(school_sourced_id))

    return serve_collection(request, db, services, client, "classes", CLASS_FIELDS, produce, page)


def _school_people(school_sourced_id: str, role: str) -> tuple[Producer, Pager]:
    def produce(call: Call) -> list[Record]:
        return call.roster().school_members(call.school(school_sourced_id), role)

    def page(call: Call, query: Query) -> tuple[list[Record], int]:
        found = call.school(school_sourced_id)
        return call.roster().users_page(query, role=role, school=found)

    return produce, page


@router.get("/schools/{school_sourced_id}/students")
def school_students(
    request: Request, db: DbSession, services: Svc, client: Client, school_sourced_id: str
) -> Response:
    """The students of one granted school."""
    produce = _school_people(school_sourced_id, "student")
    return serve_collection(request, db, services, client, "users", USER_FIELDS, *produce)


@router.get("/schools/{school_sourced_id}/teachers")
def school_teachers(
    request: Request, db: DbSession, services: Svc, client: Client, school_sourced_id: str
) -> Response:
    """The teachers of one granted school."""
    produce = _school_people(school_sourced_id, "teacher")
    return serve_collection(request, db, services, client, "users", USER_FIELDS, *produce)


@router.get("/schools/{school_sourced_id}/enrollments")
def school_enrollments(
    request: Request, db: DbSession, services: Svc, client: Client, school_sourced_id: str
) -> Response:
    """The enrollments of one granted school."""

    def produce(call: Call) -> list[Record]:
        found = call.school(school_sourced_id)
        return [
            e
            for e in call.roster().enrollments_records()
            if e["school"]["sourcedId"] == found.sourced_id
        ]

    def page(call: Call, query: Query) -> tuple[list[Record], int]:
        return call.roster().enrollments_page(query, school=call.school(school_sourced_id))

    return serve_collection(
        request, db, services, client, "enrollments", ENROLLMENT_FIELDS, produce, page
    )


def _class_people(class_sourced_id: str, role: str) -> tuple[Producer, Pager]:
    def produce(call: Call) -> list[Record]:
        return call.roster().class_members(call.school_class(class_sourced_id), role)

    def page(call: Call, query: Query) -> tuple[list[Record], int]:
        found = call.school_class(class_sourced_id)
        return call.roster().users_page(query, role=role, school_class=found)

    return produce, page


@router.get("/classes/{class_sourced_id}/students")
def class_students(
    request: Request, db: DbSession, services: Svc, client: Client, class_sourced_id: str
) -> Response:
    """The students of one class."""
    produce = _class_people(class_sourced_id, "student")
    return serve_collection(request, db, services, client, "users", USER_FIELDS, *produce)


@router.get("/classes/{class_sourced_id}/teachers")
def class_teachers(
    request: Request, db: DbSession, services: Svc, client: Client, class_sourced_id: str
) -> Response:
    """The teachers of one class."""
    produce = _class_people(class_sourced_id, "teacher")
    return serve_collection(request, db, services, client, "users", USER_FIELDS, *produce)

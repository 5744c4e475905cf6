"""The OneRoster 1.2 records of the schools a client may read (issue 22).

Everything here is read from the organisation (schools, classes, memberships, parent links) and
shaped as the 1.2 data model: orgs (the district and its schools), academic sessions (the school
year and its two terms, from the platform's school-year boundary), classes (administrative
classes as `homeroom`, teaching classes as `scheduled`), users (students, teachers, guardians
with `agents`) and enrollments. Identifiers are the rows' `sourcedId`s, never database ids; no
ID card number or 学籍号 is ever served; email and phone only with the demographics scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    Select,
    and_,
    any_,
    case,
    false,
    func,
    literal,
    null,
    or_,
    select,
    text,
    union,
    union_all,
)
from sqlalchemy import (
    cast as sql_cast,
)
from sqlalchemy.orm import Session, aliased, joinedload, load_only

from campusid.accounts.models import AccountStatus, SchoolMembership, SchoolRole, User
from campusid.classes.models import ClassStudent, ClassTeacher
from campusid.counts import CountCache, NoCountCache, count_key
from campusid.db import UTCDateTime
from campusid.families.models import ParentLink
from campusid.oneroster import sql
from campusid.oneroster.models import RosterDeletion, RosterGrant
from campusid.oneroster.query import Query
from campusid.org import service as org_service
from campusid.org.models import ClassKind, District, Grade, School, SchoolClass, StageUnit
from campusid.org.schoolyear import (
    Calendar,
    SchoolSystem,
    Stage,
    YearBoundary,
    school_year,
    stage_length,
    year_in_stage,
)

BASE_PATH = "/ims/oneroster/rostering/v1p2"
SCOPE_BASE = "https://purl.imsglobal.org/spec/or/v1p2/scope/"
CORE = SCOPE_BASE + "roster-core.readonly"
ROSTER = SCOPE_BASE + "roster.readonly"
DEMOGRAPHICS = SCOPE_BASE + "roster-demographics.readonly"
READ_SCOPES = (CORE, ROSTER, DEMOGRAPHICS)
# Derived records (sessions, courses) get name-based UUIDs under this namespace: stable, and
# never a database id.
NAMESPACE = uuid.UUID("4f0f4b52-3a0e-4c55-9a0c-0b3f2d6e2c22")

Record = dict[str, Any]


def derived_id(*parts: object) -> str:
    """A stable UUID for a record the platform does not store (a term, a course)."""
    return str(uuid.uuid5(NAMESPACE, ":".join(str(p) for p in parts)))


# What the records read of a school (the schools of a region are read on every call).
_SCHOOL_COLUMNS = (
    School.sourced_id,
    School.updated_at,
    School.name,
    School.code,
    School.district_id,
)
_MAX_RUNS = 4  # `Roster._among`: at most this many ranges, else a list


def stamp(value: datetime | None) -> str:
    """dateLastModified: ISO 8601 in UTC with milliseconds."""
    if value is None:
        return "1970-01-01T00:00:00.000Z"
    # isoformat, not strftime: a page of 1,000 users stamps 1,000 times (strftime: 10 ms).
    return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def ref(base: str, kind: str, sourced_id: str) -> Record:
    """A GUIDRef: the object's URL, its sourcedId and its type."""
    path = {
        "org": "orgs",
        "academicSession": "academicSessions",
        "course": "courses",
        "class": "classes",
        "user": "users",
        "enrollment": "enrollments",
    }[kind]
    return {"href": f"{base}{BASE_PATH}/{path}/{sourced_id}", "sourcedId": sourced_id, "type": kind}


def split_name(name: str) -> tuple[str, str]:
    """(familyName, givenName) of a Chinese name: the first character is the family name (复姓
    such as 欧阳 are not told apart; the full name is in the record's metadata)."""
    name = name.strip()
    if len(name) <= 1:
        return name, name
    return name[0], name[1:]


# ------------------------------------------------------------------------------ grants


def granted_school_ids(db: Session, client_pk: int) -> frozenset[int]:
    """The schools whose rosters the client may read."""
    return frozenset(
        db.scalars(select(RosterGrant.school_id).where(RosterGrant.client_id == client_pk))
    )


def granted_client_ids(db: Session, school_id: int) -> set[int]:
    """The applications (client primary keys) that read this school's roster."""
    return set(db.scalars(select(RosterGrant.client_id).where(RosterGrant.school_id == school_id)))


def grants_of_client(db: Session, client_pk: int) -> list[tuple[RosterGrant, School]]:
    """A client's grants with their schools, by school name."""
    rows = db.execute(
        select(RosterGrant, School)
        .join(School, School.id == RosterGrant.school_id)
        .where(RosterGrant.client_id == client_pk)
        .order_by(School.name)
    ).all()
    return [(grant, school) for grant, school in rows]


def grant(
    db: Session, *, client_pk: int, school_id: int, actor_id: int, now: datetime
) -> RosterGrant | None:
    """Grant a school to a client; None when it already was."""
    exists = db.scalar(
        select(RosterGrant).where(
            RosterGrant.client_id == client_pk, RosterGrant.school_id == school_id
        )
    )
    if exists is not None:
        return None
    row = RosterGrant(
        client_id=client_pk, school_id=school_id, granted_by_id=actor_id, granted_at=now
    )
    db.add(row)
    db.flush()
    return row


def revoke(db: Session, *, client_pk: int, school_id: int) -> bool:
    """Withdraw a school from a client; False when it had no grant."""
    row = db.scalar(
        select(RosterGrant).where(
            RosterGrant.client_id == client_pk, RosterGrant.school_id == school_id
        )
    )
    if row is None:
        return False
    db.delete(row)
    db.flush()
    return True


# ------------------------------------------------------------------------------ sessions


@dataclass(frozen=True)
class Term:
    """A school year or one of its two terms (学期)."""

    sourced_id: str
    title: str
    kind: str  # schoolYear or term
    start: date
    end: date
    school_year: int
    parent: str | None = None
    children: tuple[str, ...] = ()


def _boundary_date(year: int, boundary: YearBoundary) -> date:
    return date(year, boundary.month, boundary.day)


def sessions_of(calendar: Calendar) -> list[Term]:
    """The current school year (from the boundary to the day before the next one) and its two
    terms: the first until the end of January, the second from February."""
    year = calendar.school_year
    start = _boundary_date(year, calendar.boundary)
    end = date.fromordinal(_boundary_date(year + 1, calendar.boundary).toordinal() - 1)
    split = date(year + 1, 2, 1)
    if not start < split <= end:
        split = date.fromordinal(start.toordinal() + (end.toordinal() - start.toordinal()) // 2)
    year_id = derived_id("schoolYear", year)
    first = Term(
        derived_id("term", year, 1),
        f"{year}-{year + 1}学年第一学期",
        "term",
        start,
        date.fromordinal(split.toordinal() - 1),
        year + 1,
        parent=year_id,
    )
    second = Term(
        derived_id("term", year, 2),
        f"{year}-{year + 1}学年第二学期",
        "term",
        split,
        end,
        year + 1,
        parent=year_id,
    )
    whole = Term(
        year_id,
        f"{year}-{year + 1}学年",
        "schoolYear",
        start,
        end,
        year + 1,
        children=(first.sourced_id, second.sourced_id),
    )
    return [whole, first, second]


# ------------------------------------------------------------------------------ the roster


@dataclass
class Roster:
    """The 1.2 records of a set of schools, read once per request (or export)."""

    db: Session
    school_ids: frozenset[int]
    calendar: Calendar
    base: str = ""
    demographics: bool = False
    # issue 22: totals remembered for a while, per client (`counts.py`)
    counts: CountCache = field(default_factory=NoCountCache)
    client_key: str = ""
    _loaded: bool = field(default=False, init=False)
    _orgs_loaded: bool = field(default=False, init=False)
    # The schools read so far (all granted ones once `load_orgs` ran), and their GUIDRefs.
    schools: dict[int, School] = field(default_factory=dict, init=False)
    _org_refs: dict[int, Record] = field(default_factory=dict, init=False)
    _classes_loaded: bool = field(default=False, init=False)
    classes: dict[int, SchoolClass] = field(default_factory=dict, init=False)
    class_names: dict[int, str] = field(default_factory=dict, init=False)

    # -- loading ---------------------------------------------------------------------------

    def load_orgs(self) -> None:
        """Read the schools and their districts (once): all that orgs need."""
        if self._orgs_loaded:
            return
        self._orgs_loaded = True
        db = self.db
        ids = sorted(self.school_ids)
        # Plain rows read as Schools are (a region's thousand ORM objects cost 20 ms a call).
        self.schools = {
            row.id: cast(School, row)
            for row in db.execute(
                select(School.id, *_SCHOOL_COLUMNS).where(self._among(School.id, ids))
            )
        }
        district_ids = {s.district_id for s in self.schools.values() if s.district_id}
        self.districts: dict[int, District] = {
            d.id: d for d in db.scalars(select(District).where(District.id.in_(district_ids)))
        }

    def _read_classes(self, where: ColumnElement[bool]) -> None:
        """The classes `where` names that have not graduated (`org_service.class_graduated`),
        with their grade, stage and display name, and their schools."""
        today, boundary = self.calendar.today, self.calendar.boundary
        found = self.db.scalars(
            select(SchoolClass)
            .options(joinedload(SchoolClass.grade).joinedload(Grade.stage_unit))
            .where(where)
            .order_by(SchoolClass.id)
        ).all()
        self.classes = {
            c.id: c for c in found if not org_service.class_graduated(c, today, boundary)
        }
        self.class_names = {
            c.id: org_service.class_display_name(c, today, boundary) for c in self.classes.values()
        }
        self._load_schools(c.school_id for c in self.classes.values())

    def load_classes(self) -> None:
        """Every class of the granted schools (once): what classes and courses are made of."""
        if self._classes_loaded:
            return
        self._classes_loaded = True
        self.load_orgs()
        self._read_classes(SchoolClass.school_id.in_(sorted(self.school_ids)))

    def _load_schools(self, school_ids: Iterable[int]) -> None:
        """The rows of these granted schools, unless every school was read already: a page of
        users refers to a few schools of the region, not to its thousand (5 ms a page)."""
        if self._orgs_loaded:
            return
        wanted = sorted(set(school_ids) - self.schools.keys())
        if wanted:
            self.schools.update(
                (row.id, cast(School, row))
                for row in self.db.execute(
                    select(School.id, *_SCHOOL_COLUMNS).where(self._among(School.id, wanted))
                )
            )

    def _org_ref(self, school_id: int) -> Record:
        """The GUIDRef of a school, made once (a page of users names the same few schools a
        thousand times)."""
        made = self._org_refs.get(school_id)
        if made is None:
            made = self._org_refs[school_id] = self._ref("org", self.schools[school_id].sourced_id)
        return made

    def load(self) -> None:
        """Read the schools' records (once)."""
        if self._loaded:
            return
        self._loaded = True
        self.load_orgs()
        db = self.db
        ids = sorted(self.school_ids)
        self.load_classes()
        class_ids = list(self.classes)
        self.students: list[ClassStudent] = list(
            db.scalars(
                select(ClassStudent)
                .where(ClassStudent.class_id.in_(class_ids))
                .order_by(ClassStudent.id)
            )
        )
        self.teachers: list[ClassTeacher] = list(
            db.scalars(
                select(ClassTeacher)
                .where(ClassTeacher.class_id.in_(class_ids))
                .order_by(ClassTeacher.id)
            )
        )
        memberships = db.scalars(
            select(SchoolMembership)
            .where(
                SchoolMembership.current(),
                SchoolMembership.school_id.in_(ids),
                SchoolMembership.role.in_([SchoolRole.STUDENT, SchoolRole.TEACHER]),
            )
            .order_by(SchoolMembership.id)
        ).all()
        # user id -> [(role, school id)]
        self.roles: dict[int, list[tuple[str, int]]] = {}
        for m in memberships:
            self._add_role(m.user_id, m.role.value, m.school_id)
        for cs in self.students:
            self._add_role(cs.student_id, "student", self.classes[cs.class_id].school_id)
        for ct in self.teachers:
            self._add_role(ct.teacher_id, "teacher", self.classes[ct.class_id].school_id)
        student_ids = [uid for uid, rs in self.roles.items() if any(r == "student" for r, _ in rs)]
        self.links: list[ParentLink] = list(
            db.scalars(
                select(ParentLink)
                .where(ParentLink.child_id.in_(student_ids))
                .order_by(ParentLink.id)
            )
        )
        self.guardians_of: dict[int, list[int]] = {}
        self.children_of: dict[int, list[int]] = {}
        for link in self.links:
            self.guardians_of.setdefault(link.child_id, []).append(link.parent_id)
            self.children_of.setdefault(link.parent_id, []).append(link.child_id)
            for _, school_id in self.roles.get(link.child_id, []):
                self._add_role(link.parent_id, "guardian", school_id)
        # Only the columns served: no ID card number or 学籍号 is even read, and the encrypted
        # phone and email only with the demographics scope.
        columns = [User.sourced_id, User.updated_at, User.username, User.real_name, User.status]
        if self.demographics:
            columns += [User.email, User.phone]
        self.users: dict[int, User] = {
            u.id: u
            for u in db.scalars(
                select(User).options(load_only(*columns)).where(User.id.in_(list(self.roles)))
            )
        }

    def _add_role(self, user_id: int, role: str, school_id: int) -> None:
        roles = self.roles.setdefault(user_id, [])
        if (role, school_id) not in roles:
            roles.append((role, school_id))

    # -- shaping ---------------------------------------------------------------------------

    def _ref(self, kind: str, sourced_id: str) -> Record:
        return ref(self.base, kind, sourced_id)

    def orgs(self) -> list[Record]:
        """The districts of the granted schools (with only those schools as children) and the
        schools."""
        self.load_orgs()
        out: list[Record] = []
        for district in sorted(self.districts.values(), key=lambda d: d.id):
            children = [s for s in self.schools.values() if s.district_id == district.id]
            out.append(
                {
                    "sourcedId": district.sourced_id,
                    "status": "active",
                    "dateLastModified": stamp(district.updated_at),
                    "name": district.name,
                    "type": "district",
                    "identifier": "",
                    "children": [self._ref("org", s.sourced_id) for s in children],
                }
            )
        out.extend(self.schools_records())
        return out

    def schools_records(self) -> list[Record]:
        """The granted schools as orgs of type school."""
        self.load_orgs()
        out: list[Record] = []
        for school in sorted(self.schools.values(), key=lambda s: s.id):
            record: Record = {
                "sourcedId": school.sourced_id,
                "status": "active",
                "dateLastModified": stamp(school.updated_at),
                "name": school.name,
                "type": "school",
                "identifier": school.code or "",
                "children": [],
            }
            district = self.districts.get(school.district_id or 0)
            if district is not None:
                record["parent"] = self._ref("org", district.sourced_id)
            out.append(record)
        return out

    def academic_sessions(self) -> list[Record]:
        """The current school year and its terms."""
        out: list[Record] = []
        for term in sessions_of(self.calendar):
            record: Record = {
                "sourcedId": term.sourced_id,
                "status": "active",
                "dateLastModified": f"{term.start.isoformat()}T00:00:00.000Z",
                "title": term.title,
                "startDate": term.start.isoformat(),
                "endDate": term.end.isoformat(),
                "type": term.kind,
                "schoolYear": str(term.school_year),
                "children": [self._ref("academicSession", c) for c in term.children],
            }
            if term.parent:
                record["parent"] = self._ref("academicSession", term.parent)
            out.append(record)
        return out

    def _terms(self) -> list[Record]:
        return [
            self._ref("academicSession", t.sourced_id)
            for t in sessions_of(self.calendar)
            if t.kind == "term"
        ]

    def _grade_code(self, school_class: SchoolClass) -> list[str]:
        grade = school_class.grade
        if grade is None:
            return []
        n = year_in_stage(grade.enrollment_year, self.calendar.today, self.calendar.boundary)
        n += grade.year_offset or 0
        stage = grade.stage_unit.stage
        if stage is Stage.JUNIOR:
            n += stage_length(Stage.PRIMARY, grade.school_system)
        elif stage is Stage.SENIOR:
            n += 9
        return [f"{n:02d}"] if 1 <= n <= 12 else []

    def classes_records(self) -> list[Record]:
        """Administrative classes as homeroom classes, teaching classes as scheduled ones."""
        self.load_classes()
        terms = self._terms()
        return [self._class_record(c, terms) for c in self.classes.values()]

    def _class_record(self, c: SchoolClass, terms: list[Record]) -> Record:
        school = self.schools[c.school_id]
        homeroom = c.kind is ClassKind.ADMINISTRATIVE
        subject = c.subject or ""
        course = derived_id("course", school.sourced_id, c.grade_id or 0, subject or "homeroom")
        return {
            "sourcedId": c.sourced_id,
            "status": "active",
            "dateLastModified": stamp(c.updated_at),
            "title": self.class_names[c.id],
            "classCode": c.class_code,
            "classType": "homeroom" if homeroom else "scheduled",
            "location": "",
            "grades": self._grade_code(c),
            "subjects": [subject] if subject else [],
            "course": self._ref("course", course),
            "school": self._org_ref(c.school_id),
            "terms": terms,
            "periods": [],
        }

    def class_fields(self) -> dict[str, sql.Field]:
        """The class fields a filter or sort can use in SQL (the others — the title, grades,
        course, school — fall back to Python)."""
        return {
            "sourcedId": sql.Text(SchoolClass.sourced_id, ascii=True),
            "status": sql.Const("active"),
            "dateLastModified": sql.Stamp(SchoolClass.updated_at),
            "classCode": sql.Text(SchoolClass.class_code),
            "classType": sql.Text(
                case((SchoolClass.kind == ClassKind.ADMINISTRATIVE, "homeroom"), else_="scheduled")
            ),
        }

    def class_statements(
        self, query: Query, *, school: School | None = None
    ) -> tuple[Select[Any], Select[Any]]:
        """The SELECTs of a page of class ids and of its total (`sql.UntranslatableError`
        when the query needs Python)."""
        fields = self.class_fields()
        where = sql.condition(query.where, fields, self.dialect)
        order = sql.order_by(query.sort, query.descending, fields, SchoolClass.id, self.dialect)
        chosen = select(SchoolClass.id).where(
            self.visible_class([school.id] if school else self.school_ids)
        )
        if where is not None:
            chosen = chosen.where(where)
        page = chosen.order_by(*order).limit(query.limit).offset(query.offset)
        return page, select(func.count()).select_from(chosen.subquery())

    def classes_page(
        self, query: Query, *, school: School | None = None, count: bool = True
    ) -> tuple[list[Record], int]:
        """A page of classes (of one school, or of every granted one) filtered, sorted and
        paged in SQL: the Python path reads every class of the grant (25,000 ORM objects for a
        region of 1,000 schools) to answer for 1,000 of them. `sql.UntranslatableError` when
        the query needs Python."""
        self._tune()
        page, counted = self.class_statements(query, school=school)
        total = -1
        if count:
            total = self._total(
                lambda: self.db.scalar(counted) or 0, "classes", school, repr(query.where)
            )
        ids = list(self.db.scalars(page))
        self._read_classes(self._among(SchoolClass.id, ids))
        terms = self._terms()
        records = [self._class_record(self.classes[i], terms) for i in ids if i in self.classes]
        return [query.select(r) for r in records], total

    def courses_records(self) -> list[Record]:
        """A course per school, grade and subject that has classes (班会 for homeroom classes)."""
        year = next(t for t in sessions_of(self.calendar) if t.kind == "schoolYear")
        seen: dict[str, Record] = {}
        for c in self.classes_records():
            course = c["course"]["sourcedId"]
            if course in seen:
                continue
            subject = ",".join(c["subjects"])
            seen[course] = {
                "sourcedId": course,
                "status": "active",
                "dateLastModified": f"{year.start.isoformat()}T00:00:00.000Z",
                "title": subject or ("班会" if c["classType"] == "homeroom" else c["title"]),
                "schoolYear": self._ref("academicSession", year.sourced_id),
                "courseCode": "",
                "grades": c["grades"],
                "subjects": c["subjects"],
                "org": c["school"],
            }
        return list(seen.values())

    def users_records(self) -> list[Record]:
        """Students, teachers and guardians; guardians and children linked by `agents`."""
        self.load()
        out: list[Record] = []
        for uid in sorted(self.users):
            out.append(self._user(self.users[uid]))
        return out

    def _user(self, user: User) -> Record:
        family, given = split_name(user.real_name)
        roles = self.roles.get(user.id, [])
        primary_school = roles[0][1] if roles else None
        agents = self.guardians_of.get(user.id, []) + self.children_of.get(user.id, [])
        record: Record = {
            "sourcedId": user.sourced_id,
            "status": "active",
            "dateLastModified": stamp(user.updated_at),
            "metadata": {"campusid.fullName": user.real_name},
            "userMasterIdentifier": user.sourced_id,
            "username": user.username,
            "userIds": [],
            "enabledUser": "true" if user.status is AccountStatus.ACTIVE else "false",
            "givenName": given,
            "familyName": family,
            "roles": [
                {
                    "roleType": "primary" if i == 0 else "secondary",
                    "role": role,
                    "org": self._org_ref(school_id),
                }
                for i, (role, school_id) in enumerate(roles)
            ],
            "agents": [
                self._ref("user", self.users[a].sourced_id) for a in agents if a in self.users
            ],
            "grades": [],
        }
        if primary_school is not None:
            record["primaryOrg"] = self._org_ref(primary_school)
        if self.demographics:
            record["email"] = user.email or ""
            record["phone"] = user.phone or ""
            record["sms"] = user.phone or ""
        return record

    def enrollments_records(self) -> list[Record]:
        """Students and teachers in classes; the homeroom teacher is the primary teacher."""
        self.load()
        out: list[Record] = []
        for cs in self.students:
            out.append(self._enrollment(cs, cs.student_id, "student", primary=False))
        for ct in self.teachers:
            out.append(self._enrollment(ct, ct.teacher_id, "teacher", primary=ct.is_homeroom))
        out.extend(self.ended_enrollments())
        return out

    def ended_enrollments(self) -> list[Record]:
        """Enrollments that ended, as `tobedeleted` (for applications reading deltas)."""
        self.load()
        rows = self.db.scalars(
            select(RosterDeletion)
            .where(RosterDeletion.school_id.in_(sorted(self.school_ids)))
            .order_by(RosterDeletion.id)
        )
        return [
            {
                "sourcedId": row.sourced_id,
                "status": "tobedeleted",
                "dateLastModified": stamp(row.deleted_at),
                "user": self._ref("user", row.user_sourced_id),
                "class": self._ref("class", row.class_sourced_id),
                "school": self._ref("org", self.schools[row.school_id].sourced_id),
                "role": row.role,
                "primary": "false",
            }
            for row in rows
            if row.school_id in self.schools
        ]

    def _enrollment(
        self, row: ClassStudent | ClassTeacher, user_id: int, role: str, *, primary: bool
    ) -> Record:
        c = self.classes[row.class_id]
        record: Record = {
            "sourcedId": row.sourced_id,
            "status": "active",
            "dateLastModified": stamp(row.updated_at),
            "user": self._ref("user", self.users[user_id].sourced_id),
            "class": self._ref("class", c.sourced_id),
            "school": self._ref("org", self.schools[c.school_id].sourced_id),
            "role": role,
            "primary": "true" if primary else "false",
        }
        if isinstance(row, ClassStudent):
            record["beginDate"] = row.joined_at.date().isoformat()
        return record

    # -- lookups for the nested collections -------------------------------------------------

    def class_by_sourced_id(self, sourced_id: str) -> SchoolClass | None:
        """A visible class by its sourcedId."""
        self.load()
        return next((c for c in self.classes.values() if c.sourced_id == sourced_id), None)

    def class_members(self, school_class: SchoolClass, role: str) -> list[Record]:
        """The students or teachers of a class."""
        self.load()
        rows: Iterable[int] = (
            [cs.student_id for cs in self.students if cs.class_id == school_class.id]
            if role == "student"
            else [ct.teacher_id for ct in self.teachers if ct.class_id == school_class.id]
        )
        return [self._user(self.users[uid]) for uid in sorted(set(rows)) if uid in self.users]

    def school_members(self, school: School, role: str) -> list[Record]:
        """The students or teachers of a school."""
        self.load()
        ids = [uid for uid, rs in self.roles.items() if (role, school.id) in rs]
        return [self._user(self.users[uid]) for uid in sorted(ids) if uid in self.users]

    # -- users paged in SQL -------------------------------------------------------------------

    @property
    def dialect(self) -> str:
        """The database's dialect name (text comparisons differ)."""
        return self.db.get_bind().dialect.name

    @cached_property
    def _current_grade(self) -> ColumnElement[bool]:
        """A grade (joined with its stage) not graduated: `org_service.is_graduated` in SQL
        (built once a request: a page's statements use it six times)."""
        year = school_year(self.calendar.today, self.calendar.boundary)
        return and_(
            Grade.graduated_at.is_(None),
            or_(
                *[
                    and_(
                        StageUnit.stage == stage,
                        Grade.school_system == system,
                        Grade.enrollment_year >= year + 1 - length,
                    )
                    for stage in Stage
                    for system in SchoolSystem
                    for length in [stage_length(stage, system)]
                ]
            ),
        )

    def _current_grade_ids(self) -> Select[Any]:
        """The grades not graduated."""
        return (
            select(Grade.id)
            .join(StageUnit, StageUnit.id == Grade.stage_id)
            .where(self._current_grade)
        )

    def _in_visible_class(self, query: Select[Any], school_ids: list[int]) -> Select[Any]:
        """The query (with SchoolClass joined) limited to visible classes, by joins rather than
        a sub-select: in a per-row EXISTS a sub-select would be rebuilt on every row."""
        return (
            query.outerjoin(Grade, Grade.id == SchoolClass.grade_id)
            .outerjoin(StageUnit, StageUnit.id == Grade.stage_id)
            .where(
                self._among(SchoolClass.school_id, school_ids),
                or_(SchoolClass.grade_id.is_(None), self._current_grade),
            )
        )

    def visible_class(self, school_ids: Iterable[int]) -> ColumnElement[bool]:
        """A class of these schools whose grade has not graduated (what `load` keeps)."""
        return and_(
            self._among(SchoolClass.school_id, sorted(school_ids)),
            or_(
                SchoolClass.grade_id.is_(None), SchoolClass.grade_id.in_(self._current_grade_ids())
            ),
        )

    def _visible_place(
        self, table: type[ClassStudent] | type[ClassTeacher], ids: list[int], probe: bool
    ) -> ColumnElement[bool]:
        """The place (`table`'s row) is in a visible class of these schools; `probe`: checked
        row by row (PostgreSQL underestimates how many classes are visible, and for a page's
        places would hash every class of the region first). The query that names the class's
        own columns joins an alias of it (this looks up `SchoolClass` itself)."""
        return self._exists(
            select(SchoolClass.id).where(SchoolClass.id == table.class_id, self.visible_class(ids)),
            probe,
        )

    @staticmethod
    def _exists(query: Select[Any], probe: bool) -> ColumnElement[bool]:
        """EXISTS; with `probe`, one the planner runs row by row (an index look-up per row,
        for a page) rather than hashing the whole set first (for a count): PostgreSQL does not
        flatten an EXISTS with an OFFSET."""
        return (query.limit(1).offset(0) if probe else query).exists()

    def _is_student(
        self, user_id: Any, school_ids: Iterable[int], probe: bool = False
    ) -> ColumnElement[bool]:
        return self._holds(
            user_id, school_ids, SchoolRole.STUDENT, ClassStudent, ClassStudent.student_id, probe
        )

    def _is_teacher(
        self, user_id: Any, school_ids: Iterable[int], probe: bool = False
    ) -> ColumnElement[bool]:
        return self._holds(
            user_id, school_ids, SchoolRole.TEACHER, ClassTeacher, ClassTeacher.teacher_id, probe
        )

    def _holds(
        self,
        user_id: Any,
        school_ids: Iterable[int],
        role: SchoolRole,
        place: type[ClassStudent] | type[ClassTeacher],
        person: Any,
        probe: bool,
    ) -> ColumnElement[bool]:
        """The person has `role` in one of the schools: a current membership in that role, or
        a place (`place`, whose `person` column names them) in one of their visible classes."""
        ids = sorted(school_ids)
        return or_(
            self._exists(
                select(SchoolMembership.id).where(
                    SchoolMembership.user_id == user_id,
                    SchoolMembership.current(),
                    self._among(SchoolMembership.school_id, ids),
                    SchoolMembership.role == role,
                ),
                probe,
            ),
            self._exists(
                self._in_visible_class(
                    select(place.id)
                    .join(SchoolClass, SchoolClass.id == place.class_id)
                    .where(person == user_id),
                    ids,
                ),
                probe,
            ),
        )

    def user_scope(
        self,
        *,
        role: str | None = None,
        school: School | None = None,
        school_class: SchoolClass | None = None,
        probe: bool = False,
    ) -> ColumnElement[bool]:
        """Which users a collection lists, as a where-clause on `User.id`: every user of the
        granted schools; those with a role; a school's students or teachers; a class's.
        `probe`: checked user by user (a page), else set by set (a count)."""
        if school_class is not None:
            visible = self.db.scalar(
                select(SchoolClass.id).where(
                    SchoolClass.id == school_class.id, self.visible_class(self.school_ids)
                )
            )
            if visible is None:
                return false()
            if role == "student":
                return User.id.in_(
                    select(ClassStudent.student_id).where(ClassStudent.class_id == visible)
                )
            return User.id.in_(
                select(ClassTeacher.teacher_id).where(ClassTeacher.class_id == visible)
            )
        schools = self._in_scope(school)
        if role == "student":
            return self._is_student(User.id, schools, probe)
        if role == "teacher":
            return self._is_teacher(User.id, schools, probe)
        guardian = self._exists(
            select(ParentLink.id).where(
                ParentLink.parent_id == User.id,
                self._is_student(ParentLink.child_id, schools, probe),
            ),
            probe,
        )
        return or_(
            self._is_student(User.id, schools, probe),
            self._is_teacher(User.id, schools, probe),
            guardian,
        )

    def _in_scope(self, school: School | None) -> frozenset[int]:
        """The granted schools a question is about: the one named (if granted), else all."""
        return frozenset({school.id}) & self.school_ids if school is not None else self.school_ids

    @cached_property
    def _region_schools(self) -> int:
        """How many schools the region has (all of them, granted or not)."""
        return int(self.db.scalar(select(func.count()).select_from(School)) or 0)

    def _dense(self, school_ids: Collection[int]) -> bool:
        """Whether these schools hold a good part of the region (a quarter of its schools):
        then a page is found fastest by walking the users in order and checking each, else by
        reading the few schools' ids first."""
        return len(school_ids) * 4 >= self._region_schools

    def user_ids(
        self,
        *,
        role: str | None = None,
        school: School | None = None,
        school_class: SchoolClass | None = None,
    ) -> Select[Any]:
        """The same users as `user_scope`, as a UNION of id sets (what a count reads fastest)."""
        if school_class is not None:
            return select(User.id).where(self.user_scope(role=role, school_class=school_class))
        ids = sorted(self._in_scope(school))
        visible = self.visible_class(ids)

        def members(kind: SchoolRole) -> Select[Any]:
            return select(SchoolMembership.user_id).where(
                SchoolMembership.current(),
                self._among(SchoolMembership.school_id, ids),
                SchoolMembership.role == kind,
            )

        students = [
            members(SchoolRole.STUDENT),
            select(ClassStudent.student_id)
            .join(SchoolClass, SchoolClass.id == ClassStudent.class_id)
            .where(visible),
        ]
        teachers = [
            members(SchoolRole.TEACHER),
            select(ClassTeacher.teacher_id)
            .join(SchoolClass, SchoolClass.id == ClassTeacher.class_id)
            .where(visible),
        ]
        # One flat UNION (SQLite allows no nested one), as a sub-select.
        if role == "student":
            parts = students
        elif role == "teacher":
            parts = teachers
        else:
            guardians = select(ParentLink.parent_id).where(
                ParentLink.child_id.in_(union(*students))
            )
            parts = [*students, *teachers, guardians]
        found = union(*parts).subquery()
        return select(found.c[0])

    def user_fields(self) -> dict[str, sql.Field]:
        """The user fields a filter or sort can use in SQL (the others fall back to Python)."""
        fields: dict[str, sql.Field] = {
            "sourcedId": sql.Text(User.sourced_id, ascii=True),
            "userMasterIdentifier": sql.Text(User.sourced_id, ascii=True),
            "status": sql.Const("active"),
            "dateLastModified": sql.Stamp(User.updated_at),
            "username": sql.Text(User.username),
            "enabledUser": sql.Text(
                case((User.status == AccountStatus.ACTIVE, "true"), else_="false")
            ),
        }
        absent: tuple[str, ...] = (
            "metadata",
            "userIds",
            "roles",
            "agents",
            "grades",
            "primaryOrg",
            "resources",
        )
        absent += ("middleName", "preferredFirstName", "preferredMiddleName")
        absent += ("preferredLastName", "pronouns", "userProfiles", "identifier")
        if not self.demographics:
            absent += ("email", "phone", "sms")
        fields.update({name: sql.Const(None) for name in absent})
        return fields

    def _tune(self) -> None:
        """PostgreSQL settings for this transaction's page statements: no JIT (a page's
        estimated cost, per-row look-ups over the whole table, is far above the real one, and
        compiling would cost a second of the 100 ms), and a plan for each statement's own
        values (the generic plan a prepared statement switches to after five calls guesses
        at the ranges and arrays of ids and chose scans of the region: 20 → 55 ms a page)."""
        if self.dialect == "postgresql":
            self.db.execute(text("SET LOCAL jit = off"))
            self.db.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))

    def users_page(
        self,
        query: Query,
        *,
        role: str | None = None,
        school: School | None = None,
        school_class: SchoolClass | None = None,
        count: bool = True,
    ) -> tuple[list[Record], int]:
        """A page of users filtered, sorted and paged in SQL: (the page, the total matched;
        without `count`, -1: the total is what costs in proportion to the region).
        `sql.UntranslatableError` when the query needs Python (the caller falls back)."""
        self._tune()
        if self.dialect == "postgresql":
            self.db.execute(text("SET LOCAL work_mem = '64MB'"))  # the count's UNION hashes
        scope: dict[str, Any] = {"role": role, "school": school, "school_class": school_class}
        # A walk in the collection's own order (by id) goes on from the last page's last id
        # when this client read it a moment ago: the page is read through the index from
        # there, not counted off from the start (`offset` 2,000,000 of a region: seconds).
        question: tuple[object, ...] = ("users-after", role, school, school_class)
        question += (repr(query.where), query.descending)
        after = self._remembered(*question, query.offset) if query.sort is None else None
        page, counted = self.user_statements(query, after=after, **scope)
        total = -1
        if count:
            total = self._total(
                lambda: self.db.scalar(counted) or 0,
                "users",
                role,
                school,
                school_class,
                repr(query.where),
            )
        ids = list(self.db.scalars(page))
        if query.sort is None and ids:
            self._remember(ids[-1], *question, query.offset + len(ids))
        self.load_people(ids)
        return [query.select(self._user(self.users[uid])) for uid in ids], total

    def _key(self, *question: object) -> str:
        """The cache key of a question asked by this client of these schools today (a school
        or a class in it stands as its id)."""
        return count_key(
            self.client_key,
            sorted(self.school_ids),
            self.calendar.today.isoformat(),
            self.demographics,
            *(q.id if isinstance(q, School | SchoolClass) else q for q in question),
        )

    def _remembered(self, *question: object) -> int | None:
        """A number remembered for this client and question (`campusid.counts`)."""
        return self.counts.get(self._key(*question))

    def _remember(self, value: int, *question: object) -> None:
        self.counts.put(self._key(*question), value)

    def _total(self, count: Callable[[], int], *question: object) -> int:
        """A collection's total: remembered for this client and question, else counted now."""
        remembered = self._remembered(*question)
        if remembered is not None:
            return remembered
        total = count()
        self._remember(total, *question)
        return total

    def enrollment_branches(self, school: School | None = None, probe: bool = False) -> list[Any]:
        """The enrollments `enrollments_records` lists (of one school, if given), as three
        sub-selects of the same columns, in the list's order (`kind`, then `id`): students in
        visible classes, teachers in them, then the ended ones (`tobedeleted`), each with the
        sourcedIds it links to. `probe`: the class is checked row by row (a page walking the
        enrollments in order; PostgreSQL underestimates how many classes are visible and
        would hash and sort the whole region), else set by set (a count)."""
        ids = sorted(self._in_scope(school))
        place_class = aliased(SchoolClass, name="place_class")

        def placed(
            kind: int, table: type[ClassStudent] | type[ClassTeacher], person: Any, role: str
        ) -> Select[Any]:
            primary = (
                case((ClassTeacher.is_homeroom, "true"), else_="false")
                if table is ClassTeacher
                else literal("false")
            )
            begin = (
                ClassStudent.joined_at if table is ClassStudent else sql_cast(null(), UTCDateTime())
            )
            return (
                select(
                    literal(kind).label("kind"),
                    table.id.label("id"),
                    table.sourced_id.label("sourced_id"),
                    literal("active").label("status"),
                    table.updated_at.label("updated_at"),
                    literal(role).label("role"),
                    primary.label("primary_"),
                    begin.label("begin"),
                    User.sourced_id.label("user_sid"),
                    place_class.sourced_id.label("class_sid"),
                    School.sourced_id.label("school_sid"),
                )
                .join(place_class, place_class.id == table.class_id)
                .join(User, User.id == person)
                .join(School, School.id == place_class.school_id)
                .where(self._visible_place(table, ids, probe))
            )

        ended = (
            select(
                literal(2).label("kind"),
                RosterDeletion.id.label("id"),
                RosterDeletion.sourced_id.label("sourced_id"),
                literal("tobedeleted").label("status"),
                RosterDeletion.deleted_at.label("updated_at"),
                RosterDeletion.role.label("role"),
                literal("false").label("primary_"),
                sql_cast(null(), UTCDateTime()).label("begin"),
                RosterDeletion.user_sourced_id.label("user_sid"),
                RosterDeletion.class_sourced_id.label("class_sid"),
                School.sourced_id.label("school_sid"),
            )
            .join(School, School.id == RosterDeletion.school_id)
            .where(self._among(RosterDeletion.school_id, ids))
        )
        return [
            placed(0, ClassStudent, ClassStudent.student_id, "student").subquery("students"),
            placed(1, ClassTeacher, ClassTeacher.teacher_id, "teacher").subquery("teachers"),
            ended.subquery("ended"),
        ]

    @staticmethod
    def enrollment_fields(rows: Any) -> dict[str, sql.Field]:
        """The enrollment fields a filter or sort can use in SQL (`beginDate`, the refs'
        `href`: Python)."""
        fields: dict[str, sql.Field] = {
            "sourcedId": sql.Text(rows.c.sourced_id, ascii=True),
            "status": sql.Text(rows.c.status, ascii=True),
            "dateLastModified": sql.Stamp(rows.c.updated_at),
            "role": sql.Text(rows.c.role, ascii=True),
            "primary": sql.Text(rows.c.primary_, ascii=True),
            "user.sourcedId": sql.Text(rows.c.user_sid, ascii=True),
            "class.sourcedId": sql.Text(rows.c.class_sid, ascii=True),
            "school.sourcedId": sql.Text(rows.c.school_sid, ascii=True),
            "user.type": sql.Const("user"),
            "class.type": sql.Const("class"),
            "school.type": sql.Const("org"),
        }
        for absent in ("metadata", "endDate", "user", "class", "school"):
            fields[absent] = sql.Const(None)
        return fields

    def enrollment_statements(
        self, query: Query, school: School | None = None
    ) -> tuple[Select[Any], Select[Any]]:
        """The SELECTs of a page of enrollments and of its total (`sql.UntranslatableError`
        when the query needs Python).

        Each branch is filtered, sorted and cut at offset + limit in its own index order, then
        the three are merged: PostgreSQL does not merge-append a UNION ALL by a constant
        `kind`, and would otherwise sort the whole region to find the page."""
        chosen, limited = [], []
        for branch in self.enrollment_branches(school):
            own = self.enrollment_fields(branch)
            where = sql.condition(query.where, own, self.dialect)
            chosen.append(select(branch) if where is None else select(branch).where(where))
        # Row by row only where most of the region is in scope (`_dense`): for a few schools
        # of a large region, walking every place in order to find theirs took a second.
        schools = self._in_scope(school)
        for branch in self.enrollment_branches(school, probe=self._dense(schools)):
            own = self.enrollment_fields(branch)
            where = sql.condition(query.where, own, self.dialect)
            part = select(branch) if where is None else select(branch).where(where)
            ties = [branch.c.kind, branch.c.id]
            cut = part.order_by(
                *sql.order_by(query.sort, query.descending, own, ties, self.dialect)
            ).limit(query.offset + query.limit)
            limited.append(select(cut.subquery()))
        rows = union_all(*limited).subquery("page")
        fields = self.enrollment_fields(rows)
        order = sql.order_by(
            query.sort, query.descending, fields, [rows.c.kind, rows.c.id], self.dialect
        )
        page = select(rows).order_by(*order).limit(query.limit).offset(query.offset)
        every = union_all(*chosen).subquery("enrollments")
        return page, select(func.count()).select_from(every)

    def enrollments_page(
        self, query: Query, *, school: School | None = None, count: bool = True
    ) -> tuple[list[Record], int]:
        """A page of enrollments filtered, sorted and paged in SQL, as `users_page`."""
        self._tune()
        chosen, counted = self.enrollment_statements(query, school)
        total = -1
        if count:
            total = self._total(
                lambda: self.db.scalar(counted) or 0, "enrollments", school, repr(query.where)
            )
        found = self.db.execute(chosen)
        page: list[Record] = []
        for row in found:
            record: Record = {
                "sourcedId": row.sourced_id,
                "status": row.status,
                "dateLastModified": stamp(row.updated_at),
                "user": self._ref("user", row.user_sid),
                "class": self._ref("class", row.class_sid),
                "school": self._ref("org", row.school_sid),
                "role": row.role,
                "primary": row.primary_,
            }
            if row.begin is not None:
                record["beginDate"] = row.begin.date().isoformat()
            page.append(query.select(record))
        return page, total

    def user_statements(
        self,
        query: Query,
        *,
        role: str | None = None,
        school: School | None = None,
        school_class: SchoolClass | None = None,
        after: int | None = None,
    ) -> tuple[Select[Any], Select[Any]]:
        """The SELECTs of a page of user ids (from `after` on, in the collection's order,
        when given, else counted off `offset`) and of its total (`sql.UntranslatableError`
        when the query needs Python)."""
        fields = self.user_fields()
        where = sql.condition(query.where, fields, self.dialect)
        order = sql.order_by(query.sort, query.descending, fields, User.id, self.dialect)
        schools = self._in_scope(school)
        if self._dense(schools):
            # Most users of the region are in scope: walk them in order, each checked.
            scope = self.user_scope(role=role, school=school, school_class=school_class, probe=True)
        else:
            # A few schools of a large region (an application one school granted, a school's
            # teachers): walking every user to find them took seconds; read their ids instead.
            scope = User.id.in_(self.user_ids(role=role, school=school, school_class=school_class))
        chosen = select(User.id).where(scope)
        if where is not None:
            chosen = chosen.where(where)
        if after is not None:
            step = User.id < after if query.descending else User.id > after
            page = chosen.where(step).order_by(*order).limit(query.limit)
        else:
            page = chosen.order_by(*order).limit(query.limit).offset(query.offset)
        found = self.user_ids(role=role, school=school, school_class=school_class).subquery()
        if where is None:
            counted = select(func.count()).select_from(found)
        else:
            counted = select(func.count(User.id)).join(found, found.c[0] == User.id).where(where)
        return page, counted

    def load_people(self, user_ids: list[int]) -> None:
        """The roles, links and rows of these users only (as `load` has them for everyone),
        and the schools their roles name."""
        self._loaded = True  # what the page's records need, nothing more
        ids = sorted(self.school_ids)
        self.roles, self.users = {}, {}
        self.guardians_of, self.children_of = {}, {}
        # The links on either side, each side through its own index (an OR of the two is a
        # scan of every link); plain rows, as the users below.
        found = {
            link.id: link
            for side in (ParentLink.child_id, ParentLink.parent_id)
            for link in self.db.execute(
                select(ParentLink.id, ParentLink.parent_id, ParentLink.child_id).where(
                    self._among(side, user_ids)
                )
            )
        }
        links = [found[key] for key in sorted(found)]
        # The roles of the page's users and of the children they are linked to, in one read
        # (a person's roles come from their own rows only).
        self._roles_of(sorted(set(user_ids) | {link.child_id for link in links}), ids)
        wanted = set(user_ids)

        def is_student(uid: int) -> bool:
            return any(r == "student" for r, _ in self.roles.get(uid, []))

        agents: set[int] = set()
        for link in links:
            if not is_student(link.child_id):
                continue
            if link.child_id in wanted:
                self.guardians_of.setdefault(link.child_id, []).append(link.parent_id)
                agents.add(link.parent_id)
            if link.parent_id in wanted:
                self.children_of.setdefault(link.parent_id, []).append(link.child_id)
                agents.add(link.child_id)
                for _, school_id in list(self.roles.get(link.child_id, [])):
                    self._add_role(link.parent_id, "guardian", school_id)
        self._load_schools(s for roles in self.roles.values() for _, s in roles)
        columns = [
            User.id,
            User.sourced_id,
            User.updated_at,
            User.username,
            User.real_name,
            User.status,
        ]
        if self.demographics:
            columns += [User.email, User.phone]
        # Plain rows with the User's column names, read by `_user` as it reads a User: a page or
        # an export chunk makes thousands of records, and an ORM object each (made, tracked,
        # then expunged) cost more than the records themselves (issue 22).
        # The agents beyond the page are only referred to: their sourcedId is enough.
        for wanted_ids, read in (
            (user_ids, columns),
            (sorted(agents - wanted), [User.id, User.sourced_id]),
        ):
            self.users.update(
                (row.id, cast(User, row))
                for row in self.db.execute(select(*read).where(self._among(User.id, wanted_ids)))
            )

    def _among(self, column: Any, ids: Iterable[int]) -> ColumnElement[bool]:
        """`column IN ids`: a few ranges where the ids run consecutively, else on PostgreSQL
        one array parameter (1,000 parameters cost more), on SQLite a list."""
        values = sorted(set(ids))
        # A few runs of consecutive ids (every school of a region granted at once, a page of
        # users in id order) are ranges: exact, and the planner estimates them well.
        runs: list[tuple[int, int]] = []
        for value in values:
            if runs and value == runs[-1][1] + 1:
                runs[-1] = (runs[-1][0], value)
            elif len(runs) == _MAX_RUNS:
                break
            else:
                runs.append((value, value))
        else:
            if not runs:
                return false()
            return or_(*(column.between(a, b) if a < b else column == a for a, b in runs))
        if self.dialect == "postgresql":
            return column == any_(literal(values, ARRAY(Integer)))
        return column.in_(values)

    def _roles_of(self, user_ids: list[int], school_ids: list[int]) -> None:
        """The student and teacher roles of these users, in `load`'s order."""
        if not user_ids:
            return
        for user_id, role, school_id in self.db.execute(
            select(SchoolMembership.user_id, SchoolMembership.role, SchoolMembership.school_id)
            .where(
                self._among(SchoolMembership.user_id, user_ids),
                SchoolMembership.current(),
                self._among(SchoolMembership.school_id, school_ids),
                SchoolMembership.role.in_([SchoolRole.STUDENT, SchoolRole.TEACHER]),
            )
            .order_by(SchoolMembership.id)
        ):
            self._add_role(user_id, role.value, school_id)
        for table, column, role_name in (
            (ClassStudent, ClassStudent.student_id, "student"),
            (ClassTeacher, ClassTeacher.teacher_id, "teacher"),
        ):
            place_class = aliased(SchoolClass)
            for user_id, school_id in self.db.execute(
                select(column, place_class.school_id)
                .join(place_class, place_class.id == table.class_id)
                .where(
                    self._among(column, user_ids),
                    self._visible_place(table, school_ids, probe=True),
                )
                .order_by(table.id)
            ):
                self._add_role(user_id, role_name, school_id)

    # -- streamed in chunks (the CSV export of a region) ---------------------------------------

    def _forget(self, rows: Iterable[object]) -> None:
        """Drop a chunk's rows from the session, so memory holds one chunk at a time."""
        for row in rows:
            if row in self.db:
                self.db.expunge(row)

    def iter_classes(self, batch: int = 500) -> Iterator[Record]:
        """`classes_records`, read `batch` classes at a time."""
        self.load_orgs()
        last = 0
        while True:
            chunk = self.db.scalars(
                select(SchoolClass)
                .options(joinedload(SchoolClass.grade).joinedload(Grade.stage_unit))
                .where(self.visible_class(self.school_ids), SchoolClass.id > last)
                .order_by(SchoolClass.id)
                .limit(batch)
            ).all()
            if not chunk:
                return
            last = chunk[-1].id
            today, boundary = self.calendar.today, self.calendar.boundary
            self.classes = {c.id: c for c in chunk}
            self.class_names = {
                c.id: org_service.class_display_name(c, today, boundary) for c in chunk
            }
            self._loaded = self._classes_loaded = True  # this chunk is the classes
            yield from self.classes_records()
            self._forget([*chunk, *(c.grade for c in chunk if c.grade is not None)])

    def iter_courses(self, batch: int = 500) -> Iterator[Record]:
        """`courses_records`, from the classes read a chunk at a time (only the courses'
        identifiers are remembered)."""
        year = next(t for t in sessions_of(self.calendar) if t.kind == "schoolYear")
        seen: set[str] = set()
        for c in self.iter_classes(batch):
            course = c["course"]["sourcedId"]
            if course in seen:
                continue
            seen.add(course)
            yield {
                "sourcedId": course,
                "status": "active",
                "dateLastModified": f"{year.start.isoformat()}T00:00:00.000Z",
                "title": ",".join(c["subjects"])
                or ("班会" if c["classType"] == "homeroom" else c["title"]),
                "schoolYear": self._ref("academicSession", year.sourced_id),
                "courseCode": "",
                "grades": c["grades"],
                "subjects": c["subjects"],
                "org": c["school"],
            }

    def iter_users(self, batch: int = 1000) -> Iterator[Record]:
        """`users_records`, `batch` users at a time (by id, as there)."""
        last = 0
        while True:
            ids = list(
                self.db.scalars(
                    select(User.id)
                    .where(self.user_scope(probe=True), User.id > last)
                    .order_by(User.id)
                    .limit(batch)
                )
            )
            if not ids:
                return
            last = ids[-1]
            self.load_people(ids)
            for uid in ids:
                yield self._user(self.users[uid])

    def iter_active_enrollments(self, batch: int = 1000) -> Iterator[Record]:
        """The active records of `enrollments_records`, `batch` at a time."""
        self.load_orgs()
        kinds: list[tuple[type[ClassStudent] | type[ClassTeacher], Any, str]] = [
            (ClassStudent, ClassStudent.student_id, "student"),
            (ClassTeacher, ClassTeacher.teacher_id, "teacher"),
        ]
        for table, person, role in kinds:
            last = 0
            while True:
                rows: list[Any] = self.db.execute(  # type: ignore[assignment]
                    select(table, SchoolClass.sourced_id, SchoolClass.school_id, User.sourced_id)
                    .join(SchoolClass, SchoolClass.id == table.class_id)
                    .join(User, User.id == person)
                    .where(self.visible_class(self.school_ids), table.id > last)
                    .order_by(table.id)
                    .limit(batch)
                ).all()
                if not rows:
                    break
                last = rows[-1][0].id
                for row, class_sid, school_id, user_sid in rows:
                    record: Record = {
                        "sourcedId": row.sourced_id,
                        "status": "active",
                        "dateLastModified": stamp(row.updated_at),
                        "user": self._ref("user", user_sid),
                        "class": self._ref("class", class_sid),
                        "school": self._ref("org", self.schools[school_id].sourced_id),
                        "role": role,
                        "primary": "true"
                        if isinstance(row, ClassTeacher) and row.is_homeroom
                        else "false",
                    }
                    if isinstance(row, ClassStudent):
                        record["beginDate"] = row.joined_at.date().isoformat()
                    yield record
                self._forget([r[0] for r in rows])


def all_school_ids(db: Session) -> frozenset[int]:
    """Every school of the region (the CSV export of the whole region)."""
    return frozenset(db.scalars(select(School.id)))


def iter_chunks(records: Iterable[Record], size: int = 500) -> Iterator[list[Record]]:
    """Records in lists of `size` (for streaming)."""
    chunk: list[Record] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

"""Exact member counts of the organisation: teachers, students and parents under a node.

The one place that counts them; the organisation pages (`org.tree`, the district page) only
show what these functions return. Two kinds of reads, both exact, neither a stored tally that a
page could let drift:

* a school's organisation page (the school, its campuses, stages, grades and classes): counted
  live from the membership rows, in one statement of grouped `COUNT(DISTINCT ...)` over the
  school's ~1,000 students and their parents (`school_counts`, which says who counts where);
* a district page (each school, and the district): read from the counts the database triggers
  of migration 0013 keep (`org_school_people`, `org_district_people`, `org_count_deltas`) in
  the same transaction as every membership and parent link change; a district page sums a few
  thousand delta rows instead of counting a million students and a million and a half parent
  links (`district_counts`, `school_total`).

Who counts in the kept totals: a school's teachers and students are its *active* teacher and
student memberships; its parents are the parents linked to those students. A person is counted
once per node however many reasons they have (a parent of two pupils, a teacher of five
classes). Graduation follows the calendar (no row changes when a grade graduates, by hand or at
the school-year boundary, and none when a graduation is undone), so the kept totals still hold
students whose classes have all graduated and whose membership was never ended. Every reader
given a calendar (the district pages, the platform's list of schools) takes those graduates off
with `_alumni`, the one rule of "graduated, so an alumnus, not a student" that the school's own
page (`school_counts`) follows too: the same person counts once, the same way, on every page.

`compact()` folds the delta rows (run it every minute or so: `campusid db compact-counts`);
`rebuild()` recounts everything from the source rows (after a bulk load with triggers off).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.orm import Session, aliased, contains_eager

from campusid.accounts.models import SchoolMembership, SchoolRole
from campusid.classes.models import ClassStudent, ClassTeacher
from campusid.families.models import ParentLink
from campusid.org import service as org
from campusid.org.models import (
    Campus,
    CountDelta,
    CountedDistrictPerson,
    CountedSchoolPerson,
    CountsPause,
    District,
    Grade,
    School,
    SchoolClass,
    StageUnit,
)
from campusid.org.schoolyear import Calendar

ROLES = ("teacher", "student", "parent")
LEVELS = ("class", "grade", "stage", "campus", "school")


@dataclass
class Counts:
    """Distinct teachers, students and parents under a node."""

    teachers: int = 0
    students: int = 0
    parents: int = 0

    def add(self, role: str, number: int) -> None:
        """Set the number of one role (`teacher`, `student`, `parent`)."""
        setattr(self, role + "s", number)

    def __str__(self) -> str:
        return f"{self.teachers}个老师 {self.students}个学生 {self.parents}个家长"


@dataclass
class SchoolCounts:
    """A school's and its nodes' counts, by level (`school` is the school itself), then id."""

    school_id: int
    nodes: dict[str, dict[int, Counts]] = field(default_factory=dict)

    def of(self, level: str, node_id: int) -> Counts:
        """The counts of one node (zero when nobody is there)."""
        return self.nodes.get(level, {}).get(node_id, Counts())


@dataclass
class SchoolLine:
    """A school on its district's page."""

    school_id: int
    name: str
    counts: Counts


@dataclass
class DistrictLine:
    """A district in the list of districts."""

    district_id: int
    name: str
    schools: int
    total: Counts


@dataclass
class DistrictCounts:
    """A district's distinct totals and every school's counts."""

    district_id: int
    name: str
    total: Counts
    schools: list[SchoolLine]


# --------------------------------------------------------------------------- kept counts


def _kept(db: Session, scope: str, scope_ids: ColumnElement[bool]) -> dict[int, Counts]:
    """The trigger-kept counts of schools or districts (summing their delta rows)."""
    found: dict[int, Counts] = defaultdict(Counts)
    rows = db.execute(
        select(CountDelta.scope_id, CountDelta.role, func.sum(CountDelta.delta))
        .where(CountDelta.scope == scope, scope_ids)
        .group_by(CountDelta.scope_id, CountDelta.role)
    )
    for scope_id, role, number in rows:
        found[scope_id].add(role, int(number))
    return found


def school_total(db: Session, *, school_id: int, calendar: Calendar | None = None) -> Counts:
    """The school's teachers, students and parents (kept by the triggers).

    With a calendar, its graduates are alumni, not students (see `_alumni`): the number the
    school's own page and the district page show."""
    return school_totals(db, school_ids=[school_id], calendar=calendar).get(school_id, Counts())


def school_totals(
    db: Session, *, school_ids: list[int], calendar: Calendar | None = None
) -> dict[int, Counts]:
    """Several schools' teachers, students and parents (kept by the triggers), in one query
    (and, with a calendar, less their graduates)."""
    found = dict(_kept(db, "school", CountDelta.scope_id.in_(school_ids)))
    if calendar is not None:
        alumni = _alumni(db, school_ids=school_ids, calendar=calendar)
        for school_id, less in alumni.by_school.items():
            _subtract(found.setdefault(school_id, Counts()), less)
    return found


def district_counts(
    db: Session, *, district_id: int, calendar: Calendar | None = None
) -> DistrictCounts | None:
    """The district page: its distinct totals and each school's counts, in three queries
    (with a calendar, less the graduates, see `_alumni`)."""
    district = db.get(District, district_id)
    if district is None:
        return None
    schools = db.execute(
        select(School.id, School.name)
        .where(School.district_id == district_id)
        .order_by(School.name)
    ).all()
    by_school = _kept(
        db,
        "school",
        CountDelta.scope_id.in_(select(School.id).where(School.district_id == district_id)),
    )
    total = _kept(db, "district", CountDelta.scope_id == district_id).get(district_id, Counts())
    if calendar is not None:
        alumni = _alumni(db, school_ids=[school_id for school_id, _ in schools], calendar=calendar)
        for school_id, less in alumni.by_school.items():
            _subtract(by_school.setdefault(school_id, Counts()), less)
        _subtract(total, alumni.by_district.get(district_id, Counts()))
    return DistrictCounts(
        district_id=district.id,
        name=district.name,
        total=total,
        schools=[
            SchoolLine(school_id, name, by_school.get(school_id, Counts()))
            for school_id, name in schools
        ],
    )


def district_list(db: Session, *, calendar: Calendar | None = None) -> list[DistrictLine]:
    """Every district with its number of schools and its distinct totals, in three queries
    (with a calendar, less the graduates, see `_alumni`)."""
    districts = db.execute(select(District.id, District.name).order_by(District.name)).all()
    schools = dict(
        db.execute(
            select(School.district_id, func.count())
            .where(School.district_id.is_not(None))
            .group_by(School.district_id)
        ).all()
    )
    totals = _kept(db, "district", true())
    if calendar is not None:
        in_districts = list(db.scalars(select(School.id).where(School.district_id.is_not(None))))
        alumni = _alumni(db, school_ids=in_districts, calendar=calendar)
        for district_id, less in alumni.by_district.items():
            _subtract(totals[district_id], less)
    return [
        DistrictLine(district_id, name, int(schools.get(district_id, 0)), totals[district_id])
        for district_id, name in districts
    ]


# --------------------------------------------------------------------------- graduates


@dataclass
class Alumni:
    """What the graduates take off the kept counts: per school, and per district (distinct)."""

    by_school: dict[int, Counts] = field(default_factory=dict)
    by_district: dict[int, Counts] = field(default_factory=dict)


def _subtract(counts: Counts, less: Counts) -> None:
    counts.students -= less.students
    counts.parents -= less.parents


def _graduated_grades(db: Session, *, school_ids: list[int], calendar: Calendar) -> list[int]:
    """The graduated grades (by the calendar or by hand) of these schools."""
    if not school_ids:
        return []
    grades = db.scalars(
        select(Grade)
        .join(Grade.stage_unit)
        .join(StageUnit.campus)
        .where(Campus.school_id.in_(school_ids))
        .options(contains_eager(Grade.stage_unit))
    )
    return [g.id for g in grades if org.is_graduated(g, calendar.today, calendar.boundary)]


def _alumni(db: Session, *, school_ids: list[int], calendar: Calendar) -> Alumni:
    """THE rule of who has graduated, for the kept counts: a student whose membership is still
    active but whose every class at the school belongs to a graduated grade (and who is not
    parked at a campus) is an alumnus, not a student, exactly as on the school's own page
    (`school_counts`). Graduation changes no row (the calendar decides it), so the kept totals
    still hold these people; this takes them off, with the parents who count only through
    them, per school and distinctly per district. Nothing to do (one query) while no school
    has a graduated grade with members still active.
    """
    graduated = _graduated_grades(db, school_ids=school_ids, calendar=calendar)
    if not graduated:
        return Alumni()
    # Driven by the pupils of the graduated classes (class_students by class), not by every
    # membership of the district.
    now_in = aliased(ClassStudent)
    now_class = aliased(SchoolClass)
    in_current = (
        select(now_in.student_id)
        .join(now_class, now_class.id == now_in.class_id)
        .where(
            now_class.school_id == SchoolClass.school_id,
            or_(now_class.grade_id.is_(None), now_class.grade_id.not_in(graduated)),
            now_in.student_id == ClassStudent.student_id,
        )
        .exists()
    )
    gone: set[tuple[int, int]] = {
        (school_id, user_id)
        for school_id, user_id in db.execute(
            select(SchoolClass.school_id, ClassStudent.student_id)
            .distinct()
            .join(SchoolClass, SchoolClass.id == ClassStudent.class_id)
            .join(
                SchoolMembership,
                and_(
                    SchoolMembership.school_id == SchoolClass.school_id,
                    SchoolMembership.user_id == ClassStudent.student_id,
                ),
            )
            .where(
                SchoolClass.grade_id.in_(graduated),
                SchoolMembership.current(role=SchoolRole.STUDENT),
                SchoolMembership.campus_id.is_(None),
                ~in_current,
            )
        )
    }
    if not gone:
        return Alumni()
    district_of: dict[int, int | None] = dict(
        db.execute(select(School.id, School.district_id).where(School.id.in_(school_ids))).all()
    )
    # the parents of the graduates, and every child of theirs that is a student somewhere here
    parents: dict[int, set[int]] = defaultdict(set)
    graduates = sorted({user_id for _, user_id in gone})
    for chunk in range(0, len(graduates), 5000):
        for parent_id, child_id in db.execute(
            select(ParentLink.parent_id, ParentLink.child_id).where(
                ParentLink.parent_id.in_(
                    select(ParentLink.parent_id).where(
                        ParentLink.child_id.in_(graduates[chunk : chunk + 5000])
                    )
                )
            )
        ):
            parents[child_id].add(parent_id)
    children = sorted({*graduates, *parents})
    members: set[tuple[int, int]] = set()
    for chunk in range(0, len(children), 5000):
        members.update(
            (school_id, user_id)
            for school_id, user_id in db.execute(
                select(SchoolMembership.school_id, SchoolMembership.user_id).where(
                    SchoolMembership.current(role=SchoolRole.STUDENT),
                    SchoolMembership.school_id.in_(school_ids),
                    SchoolMembership.user_id.in_(children[chunk : chunk + 5000]),
                )
            )
        )
    staying = members - gone  # (school, child) pairs that still count as a student
    staying_districts = {(district_of.get(s), u) for s, u in staying}
    result = Alumni()
    for scope, key in (("school", lambda s: s), ("district", lambda s: district_of.get(s))):
        counted = staying if scope == "school" else staying_districts
        left_students: set[tuple[int, int]] = set()
        left_parents: set[tuple[int, int]] = set()
        for school_id, user_id in gone:
            node = key(school_id)
            if node is None:
                continue
            if (node, user_id) not in counted:
                left_students.add((node, user_id))
            for parent_id in parents.get(user_id, ()):
                left_parents.add((node, parent_id))
        kept_parents = {
            (node, parent_id)
            for node, child_id in counted
            for parent_id in parents.get(child_id, ())
        }
        target = result.by_school if scope == "school" else result.by_district
        for node, _ in left_students:
            target.setdefault(node, Counts()).students += 1
        for node, _ in left_parents - kept_parents:
            target.setdefault(node, Counts()).parents += 1
    return result


# --------------------------------------------------------------------------- inside a school


def graduated_grade_ids(db: Session, *, school_id: int, calendar: Calendar) -> list[int]:
    """The school's grades that have graduated today (by the calendar or by hand)."""
    return _graduated_grades(db, school_ids=[school_id], calendar=calendar)


def school_counts(
    db: Session, *, school_id: int, calendar: Calendar, graduated: list[int] | None = None
) -> SchoolCounts:
    """The school and every campus, stage, grade and class of it with its counts, live.

    Two queries: the school's graduated grades (graduation follows the calendar, so it is
    decided here, in Python, the same way the tree decides it; `graduated` when the caller
    already decided it, as the tree's outline has), then one statement that lists
    who is where and counts the distinct people per node and role for every level at once:

    * a class: its teachers, its students, and their parents (a graduated class keeps its
      members: the alumni list);
    * a grade: the union of its classes (a graduated grade too, for 毕业班级);
    * a stage and a campus: the people of their current classes. Graduated grades have left
      the active tree and count no more; a campus also counts its teaching classes (教学班)
      and the students parked there (校区存放) with their parents;
    * the school: everyone in a current class or teaching class, parked at one of its
      campuses, or holding an active teacher membership (teachers count before they are given
      a class). Graduates whose membership is still active are not counted here, nor (by
      `_alumni`, the same rule) in `school_total` and the district page given a calendar.
    """
    if graduated is None:
        graduated = graduated_grade_ids(db, school_id=school_id, calendar=calendar)
    rows = db.execute(_people_per_node(), {"school_id": school_id, "graduated": graduated})
    nodes: dict[str, dict[int, Counts]] = {level: defaultdict(Counts) for level in LEVELS}
    for level, node, role, number in rows:
        nodes[level][int(node)].add(role, int(number))
    return SchoolCounts(school_id=school_id, nodes=nodes)


@cache
def _people_per_node() -> CompoundSelect[Any]:
    """The statement of `school_counts`, built once (parameters `school_id`, `graduated`)."""
    school_id = bindparam("school_id", type_=Integer)
    graduated = bindparam("graduated", expanding=True, type_=Integer)
    current = or_(SchoolClass.grade_id.is_(None), SchoolClass.grade_id.not_in(graduated))
    where = (
        select(
            SchoolClass.id.label("class_id"),
            SchoolClass.grade_id.label("grade_id"),
            case((current, Grade.stage_id)).label("stage_id"),
            case((current, SchoolClass.campus_id)).label("campus_id"),
            case((current, school_id)).label("school_id"),
        )
        .outerjoin(Grade, Grade.id == SchoolClass.grade_id)
        .where(SchoolClass.school_id == school_id)
        .subquery("place")
    )
    place = [where.c[f"{level}_id"] for level in LEVELS]
    nowhere = [literal(None).label(f"{level}_id") for level in LEVELS[:3]]
    parked = and_(
        SchoolMembership.current(school_id=school_id, role=SchoolRole.STUDENT),
        SchoolMembership.campus_id.is_not(None),
    )
    at_campus = [*nowhere, SchoolMembership.campus_id, school_id]
    people = union_all(
        select(
            *place, literal("teacher").label("role"), ClassTeacher.teacher_id.label("person")
        ).join(ClassTeacher, ClassTeacher.class_id == where.c.class_id),
        select(*place, literal("student"), ClassStudent.student_id).join(
            ClassStudent, ClassStudent.class_id == where.c.class_id
        ),
        select(*place, literal("parent"), ParentLink.parent_id)
        .join(ClassStudent, ClassStudent.class_id == where.c.class_id)
        .join(ParentLink, ParentLink.child_id == ClassStudent.student_id),
        select(*at_campus, literal("student"), SchoolMembership.user_id).where(parked),
        select(*at_campus, literal("parent"), ParentLink.parent_id)
        .join(ParentLink, ParentLink.child_id == SchoolMembership.user_id)
        .where(parked),
        select(
            *nowhere, literal(None), school_id, literal("teacher"), SchoolMembership.user_id
        ).where(
            SchoolMembership.current(school_id=school_id, role=SchoolRole.TEACHER),
        ),
    ).cte("people")
    return union_all(
        *(
            select(
                literal(level).label("level"),
                people.c[f"{level}_id"].label("node"),
                people.c.role,
                func.count(people.c.person.distinct()).label("n"),
            )
            .where(people.c[f"{level}_id"].is_not(None))
            .group_by(people.c[f"{level}_id"], people.c.role)
            for level in LEVELS
        )
    )


# --------------------------------------------------------------------------- upkeep


def compact(db: Session) -> int:
    """Fold every delta row into one per school/district and role; returns rows removed.

    On PostgreSQL one statement deletes the rows it sums, so deltas committed meanwhile by
    other transactions are neither lost nor counted twice.
    """
    if db.get_bind().dialect.name == "postgresql":
        result = db.execute(
            text(
                "WITH gone AS (DELETE FROM org_count_deltas "
                "RETURNING scope, scope_id, role, delta), "
                "folded AS (INSERT INTO org_count_deltas (scope, scope_id, role, delta) "
                "SELECT scope, scope_id, role, sum(delta) FROM gone "
                "GROUP BY scope, scope_id, role HAVING sum(delta) <> 0 RETURNING 1) "
                "SELECT (SELECT count(*) FROM gone) - (SELECT count(*) FROM folded)"
            )
        )
        return int(result.scalar_one())
    top = db.scalar(select(func.max(CountDelta.id)))
    if top is None:
        return 0
    before = int(db.scalar(select(func.count()).select_from(CountDelta)) or 0)
    sums = (
        select(CountDelta.scope, CountDelta.scope_id, CountDelta.role, func.sum(CountDelta.delta))
        .where(CountDelta.id <= top)
        .group_by(CountDelta.scope, CountDelta.scope_id, CountDelta.role)
        .having(func.sum(CountDelta.delta) != 0)
    )
    folded = db.execute(sums).all()
    db.execute(delete(CountDelta).where(CountDelta.id <= top))
    for scope, scope_id, role, number in folded:
        db.add(CountDelta(scope=scope, scope_id=scope_id, role=role, delta=int(number)))
    db.flush()
    return before - len(folded)


def rebuild(db: Session) -> None:
    """Recount everything from the memberships and parent links (triggers paused meanwhile).

    For after a bulk load that bypassed the triggers; on PostgreSQL the source tables are
    locked against writers until the transaction ends.
    """
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("LOCK TABLE school_memberships, parent_links, schools IN SHARE MODE"))
    db.add(CountsPause(id=1))
    db.flush()
    for model in (CountDelta, CountedDistrictPerson, CountedSchoolPerson):
        db.execute(delete(model))
    db.execute(
        insert(CountedSchoolPerson).from_select(
            ["school_id", "role", "user_id", "refs"],
            select(
                SchoolMembership.school_id,
                SchoolMembership.role,
                SchoolMembership.user_id,
                literal(1),
            ).where(
                SchoolMembership.current(),
                SchoolMembership.role.in_([SchoolRole.STUDENT, SchoolRole.TEACHER]),
            ),
        )
    )
    db.execute(
        insert(CountedSchoolPerson).from_select(
            ["school_id", "role", "user_id", "refs"],
            select(
                SchoolMembership.school_id, literal("parent"), ParentLink.parent_id, func.count()
            )
            .join(ParentLink, ParentLink.child_id == SchoolMembership.user_id)
            .where(SchoolMembership.current(role=SchoolRole.STUDENT))
            .group_by(SchoolMembership.school_id, ParentLink.parent_id),
        )
    )
    db.execute(
        insert(CountedDistrictPerson).from_select(
            ["district_id", "role", "user_id", "refs"],
            select(
                School.district_id,
                CountedSchoolPerson.role,
                CountedSchoolPerson.user_id,
                func.count(),
            )
            .join(School, School.id == CountedSchoolPerson.school_id)
            .where(School.district_id.is_not(None))
            .group_by(School.district_id, CountedSchoolPerson.role, CountedSchoolPerson.user_id),
        )
    )
    for scope, model, key in (
        ("school", CountedSchoolPerson, CountedSchoolPerson.school_id),
        ("district", CountedDistrictPerson, CountedDistrictPerson.district_id),
    ):
        db.execute(
            insert(CountDelta).from_select(
                ["scope", "scope_id", "role", "delta"],
                select(literal(scope), key, model.role, func.count()).group_by(key, model.role),
            )
        )
    db.execute(delete(CountsPause))
    db.flush()

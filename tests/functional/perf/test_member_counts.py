"""The organisation counts: kept by the triggers and counted live, both equal to a recount.

Every change a school goes through (enrolments, leaving, parents linked and unlinked, a parent
of children in two schools, a school moving district) is made through the ORM as the app makes
it; after each, the kept counts of the schools and the districts and the live counts of every
node must equal a brute-force recount from the source rows.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from campusid.accounts import service as accounts
from campusid.accounts.models import SchoolMembership, SchoolRole, User
from campusid.classes import enrolment
from campusid.classes import service as classes
from campusid.classes.models import ClassStudent, ClassTeacher
from campusid.context import Services
from campusid.families import service as families
from campusid.families.models import ParentLink, Relation
from campusid.org import building, counts
from campusid.org import service as org
from campusid.org.models import CountDelta, District, Grade, School, SchoolClass
from campusid.org.schoolyear import Calendar, SchoolSystem, Stage
from campusid.security.passwords import Hasher

CALENDAR = Calendar(today=date(2026, 11, 30), boundary=org.boundary_from(9, 1))


def _recount(db: Session) -> tuple[dict[int, counts.Counts], dict[int, counts.Counts]]:
    """Schools' and districts' counts, recounted from the source rows in Python."""
    people: dict[tuple[str, int], dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    links = db.execute(select(ParentLink.child_id, ParentLink.parent_id)).all()
    district_of: dict[int, int | None] = {}
    for school_id, district_id in db.execute(select(School.id, School.district_id)):
        district_of[school_id] = district_id
    for school_id, user_id, role in db.execute(
        select(SchoolMembership.school_id, SchoolMembership.user_id, SchoolMembership.role).where(
            SchoolMembership.active.is_(True)
        )
    ):
        if role not in (SchoolRole.STUDENT, SchoolRole.TEACHER):
            continue
        found = {user_id: role.value}
        if role is SchoolRole.STUDENT:
            found.update({parent: "parent" for child, parent in links if child == user_id})
        scopes = [("school", school_id)]
        if district_of[school_id] is not None:
            scopes.append(("district", district_of[school_id]))
        for scope in scopes:
            for person, kind in found.items():
                people[scope][kind].add(person)

    def as_counts(scope: str) -> dict[int, counts.Counts]:
        return {
            key: counts.Counts(len(p["teacher"]), len(p["student"]), len(p["parent"]))
            for (kind, key), p in people.items()
            if kind == scope
        }

    return as_counts("school"), as_counts("district")


def _recount_nodes(
    db: Session, school_id: int, calendar: Calendar
) -> dict[str, dict[int, counts.Counts]]:
    """Every node of one school, recounted in Python (see `counts.school_counts`)."""
    sets: dict[tuple[str, int], dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    parents_of: dict[int, set[int]] = defaultdict(set)
    for child, parent in db.execute(select(ParentLink.child_id, ParentLink.parent_id)):
        parents_of[child].add(parent)
    for school_class in db.scalars(select(SchoolClass).where(SchoolClass.school_id == school_id)):
        grade = db.get(Grade, school_class.grade_id) if school_class.grade_id else None
        keys = [("class", school_class.id)]
        if grade is not None:
            keys.append(("grade", grade.id))
        if grade is None or not org.is_graduated(grade, calendar.today, calendar.boundary):
            keys += [("campus", school_class.campus_id), ("school", school_id)]
            if grade is not None:
                keys.append(("stage", grade.stage_id))
        teachers = set(
            db.scalars(
                select(ClassTeacher.teacher_id).where(ClassTeacher.class_id == school_class.id)
            )
        )
        students = set(
            db.scalars(
                select(ClassStudent.student_id).where(ClassStudent.class_id == school_class.id)
            )
        )
        for key in keys:
            sets[key]["teacher"] |= teachers
            sets[key]["student"] |= students
            for student in students:
                sets[key]["parent"] |= parents_of[student]
    for user_id, role, campus_id in db.execute(
        select(SchoolMembership.user_id, SchoolMembership.role, SchoolMembership.campus_id).where(
            SchoolMembership.school_id == school_id, SchoolMembership.active.is_(True)
        )
    ):
        if role is SchoolRole.TEACHER:
            sets[("school", school_id)]["teacher"].add(user_id)
        elif role is SchoolRole.STUDENT and campus_id is not None:
            for key in (("campus", campus_id), ("school", school_id)):
                sets[key]["student"].add(user_id)
                sets[key]["parent"] |= parents_of[user_id]
    found: dict[str, dict[int, counts.Counts]] = defaultdict(dict)
    for (level, key), p in sets.items():
        found[level][key] = counts.Counts(len(p["teacher"]), len(p["student"]), len(p["parent"]))
    return found


def _assert_counts_right(db: Session, calendar: Calendar = CALENDAR) -> None:
    db.flush()
    schools, districts = _recount(db)
    for school_id in db.scalars(select(School.id)):
        assert counts.school_total(db, school_id=school_id) == schools.get(
            school_id, counts.Counts()
        ), f"school {school_id}"
        live = counts.school_counts(db, school_id=school_id, calendar=calendar)
        expected = _recount_nodes(db, school_id, calendar)
        for level in counts.LEVELS:
            shown = {k: v for k, v in live.nodes[level].items() if v != counts.Counts()}
            wanted = {k: v for k, v in expected.get(level, {}).items() if v != counts.Counts()}
            assert shown == wanted, f"{level} of school {school_id}"
    for district_id in db.scalars(select(District.id)):
        page = counts.district_counts(db, district_id=district_id)
        assert page is not None
        assert page.total == districts.get(district_id, counts.Counts()), f"district {district_id}"
        for line in page.schools:
            assert line.counts == schools.get(line.school_id, counts.Counts())


class _Region:
    def __init__(self, db: Session, services: Services, world) -> None:  # type: ignore[no-untyped-def]
        self.db, self.services, self.now = db, services, services.clock.now()
        self.world = world
        self.serial = 0
        school = org.create_school(
            db,
            name="柯桥第二小学",
            district=world.school.district,
            default_password="Kq2x@2468",
            hasher=Hasher(time_cost=1, memory_cost=256),
            now=self.now,
        )
        campus = org.create_campus(db, school=school, name="东校区")
        unit = org.add_stage(
            db, campus=campus, stage=Stage.PRIMARY, school_system=SchoolSystem.SIX_THREE
        )
        grade = org.add_grade(db, stage_unit=unit, enrollment_year=2023)
        self.school = school
        self.campus = campus
        self.classes = [org.add_class(db, grade=grade, number=n, now=self.now) for n in (1, 2)]

    def person(self, name: str) -> User:
        self.serial += 1
        user = accounts.new_user(
            self.db, username=f"cnt_{self.serial}", real_name=f"{name}{self.serial}", now=self.now
        )
        self.db.flush()
        return user

    def student(self, school_class: SchoolClass) -> User:
        user = self.person("学生")
        accounts.join_school(
            self.db,
            user=user,
            school_id=school_class.school_id,
            role=SchoolRole.STUDENT,
            now=self.now,
        )
        enrolment.enrol(self.db, school_class=school_class, student=user, now=self.now)
        return user

    def teacher(self, *taught: SchoolClass) -> User:
        user = self.person("老师")
        accounts.join_school(
            self.db, user=user, school_id=taught[0].school_id, role=SchoolRole.TEACHER, now=self.now
        )
        for school_class in taught:
            classes.assign_teacher(self.db, school_class=school_class, teacher=user)
        return user

    def link(self, parent: User, child: User) -> ParentLink:
        return families.link(
            self.db, parent=parent, child=child, relation=Relation.MOTHER, now=self.now
        )


def test_kept_and_live_counts_follow_every_change(db, services, world):
    region = _Region(db, services, world)
    _assert_counts_right(db)

    one, two = region.classes
    a, b, c = region.student(one), region.student(one), region.student(two)
    region.teacher(one, two)
    mother = region.person("妈妈")
    region.link(mother, a)
    region.link(mother, c)  # two children, two classes, one school: counted once
    father = region.person("爸爸")
    region.link(father, b)
    _assert_counts_right(db)

    # A parent with a child in each of two schools of the district: once in the district.
    region.link(mother, world["lixiaoyao"])
    _assert_counts_right(db)

    # A student leaves the school (membership ended, class row removed): their parent stays
    # counted only while another child of theirs is there.
    membership = db.scalar(
        select(SchoolMembership).where(
            SchoolMembership.user_id == c.id, SchoolMembership.school_id == region.school.id
        )
    )
    assert membership is not None
    membership.active = False
    db.execute(delete(ClassStudent).where(ClassStudent.student_id == c.id))
    _assert_counts_right(db)

    # Parked at the campus (校区存放) again, then back: campus counts include parked students.
    membership.active = True
    membership.campus_id = region.campus.id
    _assert_counts_right(db)

    # A teaching class (教学班) of the campus, with a teacher who teaches nothing else.
    teaching = building.create_teaching_class(
        db, campus=region.campus, name="提高班", subject="数学", now=region.now
    )
    enrolment.enrol(db, school_class=teaching, student=a, now=region.now)
    region.teacher(teaching)
    _assert_counts_right(db)

    # Years later the grade has graduated by the calendar: no row changed, so the kept totals
    # stay; the school's page counts it under 毕业班级 only.
    _assert_counts_right(db, Calendar(today=date(2030, 9, 2), boundary=org.boundary_from(9, 1)))

    # A link removed; a membership deleted outright.
    db.execute(delete(ParentLink).where(ParentLink.parent_id == father.id))
    db.delete(membership)
    _assert_counts_right(db)

    # The school moves to another district; then a school with no district at all.
    region.school.district = org.get_or_create_district(db, "越城区")
    _assert_counts_right(db)
    region.school.district_id = None
    _assert_counts_right(db)


def test_compact_and_rebuild_keep_the_numbers(db, services, world):
    region = _Region(db, services, world)
    for _ in range(3):
        student = region.student(region.classes[0])
        region.link(region.person("家长"), student)
    db.flush()
    before = counts.district_counts(db, district_id=world.school.district_id)
    rows = db.scalar(select(CountDelta.id).order_by(CountDelta.id.desc()).limit(1))
    assert rows is not None
    assert counts.compact(db) > 0
    db.expire_all()
    assert counts.district_counts(db, district_id=world.school.district_id) == before
    assert counts.compact(db) == 0  # already folded

    counts.rebuild(db)
    db.expire_all()
    assert counts.district_counts(db, district_id=world.school.district_id) == before
    _assert_counts_right(db)
    # The triggers run again after a rebuild.
    region.student(region.classes[1])
    _assert_counts_right(db)

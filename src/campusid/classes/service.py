"""Class membership rules: students, teachers and the homeroom teacher of a class."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Row, Select, func, select
from sqlalchemy.orm import Session, contains_eager, joinedload, selectinload

from campusid.accounts.models import SchoolMembership, SchoolRole, User
from campusid.audit.actions import AuditAction
from campusid.audit.service import Route
from campusid.classes.models import (
    CadrePosition,
    ClassParent,
    ClassStudent,
    ClassTeacher,
    GradeLeader,
)
from campusid.identifiers import InvalidIdentifier, birth_date_from_id_card
from campusid.org import service as org_service
from campusid.org.models import ClassKind, Grade, School, SchoolClass
from campusid.org.schoolyear import Calendar
from campusid.security import authz
from campusid.security.permissions import Principal, Role


def assign_teacher(
    db: Session,
    *,
    school_class: SchoolClass,
    teacher: User,
    subject: str | None = None,
    homeroom: bool = False,
) -> ClassTeacher:
    """Make someone a teacher of the class; `homeroom` makes them its 班主任 (only one)."""
    if homeroom:
        for other in db.scalars(
            select(ClassTeacher).where(
                ClassTeacher.class_id == school_class.id,
                ClassTeacher.is_homeroom.is_(True),
            )
        ):
            other.is_homeroom = False
    existing = db.scalar(
        select(ClassTeacher).where(
            ClassTeacher.class_id == school_class.id,
            ClassTeacher.teacher_id == teacher.id,
        )
    )
    if existing is None:
        existing = ClassTeacher(class_id=school_class.id, teacher_id=teacher.id)
        db.add(existing)
    existing.subject = subject
    existing.is_homeroom = homeroom
    db.flush()
    return existing


# families: a child's classes and who heads them (told when a parent links the child).
def classes_of_students(db: Session, *, student_ids: Sequence[int]) -> dict[int, list[SchoolClass]]:
    """The classes each student is in (with grade and stage loaded for their names)."""
    found: dict[int, list[SchoolClass]] = {student_id: [] for student_id in student_ids}
    if not found:
        return found
    rows = db.execute(
        select(ClassStudent.student_id, SchoolClass)
        .join(ClassStudent, ClassStudent.class_id == SchoolClass.id)
        .where(ClassStudent.student_id.in_(found))
        .order_by(SchoolClass.id)
        .options(selectinload(SchoolClass.grade).selectinload(Grade.stage_unit))
    )
    for student_id, school_class in rows:
        found[student_id].append(school_class)
    return found


def homeroom_teacher_ids(db: Session, *, student_id: int) -> list[int]:
    """The homeroom teachers (班主任) of the student's classes."""
    return list(
        db.scalars(
            select(ClassTeacher.teacher_id)
            .join(ClassStudent, ClassStudent.class_id == ClassTeacher.class_id)
            .where(ClassStudent.student_id == student_id, ClassTeacher.is_homeroom.is_(True))
            .distinct()
        )
    )


# ---------------------------------------------------------------------------------------------
# Route 1 (issue 4): who may act on a class and its students, and the class members' pages.
# ---------------------------------------------------------------------------------------------


def is_current(school_class: SchoolClass, cal: Calendar) -> bool:
    """Whether the class is an administrative class that has not graduated."""
    if school_class.kind is not ClassKind.ADMINISTRATIVE or school_class.grade is None:
        return False
    return not org_service.class_graduated(school_class, cal.today, cal.boundary)


def class_name(school_class: SchoolClass, cal: Calendar) -> str:
    """The class's display name today (五年级1班)."""
    return org_service.class_display_name(school_class, cal.today, cal.boundary)


def visible_class(db: Session, *, principal: Principal, class_id: int) -> SchoolClass | None:
    """The class if this person may see it; None otherwise (the page says 'not found')."""
    school_class = db.get(SchoolClass, class_id)
    if school_class is None or not authz.may_view_class(principal, school_class.scope):
        return None
    return school_class


def current_membership(db: Session, *, student_id: int, cal: Calendar) -> ClassStudent | None:
    """The student's place in their current class (administrative, not graduated), if any."""
    rows = db.scalars(
        select(ClassStudent)
        .join(SchoolClass, SchoolClass.id == ClassStudent.class_id)
        .where(
            ClassStudent.student_id == student_id,
            SchoolClass.kind == ClassKind.ADMINISTRATIVE,
        )
        .order_by(ClassStudent.joined_at.desc(), ClassStudent.id.desc())
    )
    for row in rows:
        school_class = db.get(SchoolClass, row.class_id)
        if school_class is not None and is_current(school_class, cal):
            return row
    return None


@dataclass(frozen=True)
class StudentAuthority:
    """Why the actor may act on a student (`authz.student_authority`), with the objects it names."""

    student_id: int
    basis: Role
    school: School
    membership: ClassStudent | None
    school_class: SchoolClass | None

    @property
    def route(self) -> Route:
        """The audit route of a password reset made on this authority."""
        return Route.TEACHER if self.basis is Role.HOMEROOM_TEACHER else Route.ADMIN


def _is_staff(db: Session, *, user_id: int) -> bool:
    """Whether the account holds a staff role anywhere (or no longer exists)."""
    user = db.get(User, user_id)
    if user is None:
        return True
    if user.is_platform_admin or user.is_agent:
        return True
    return (
        db.scalar(
            select(SchoolMembership.id).where(
                SchoolMembership.current(user_id=user_id),
                SchoolMembership.role.in_([SchoolRole.TEACHER, SchoolRole.SCHOOL_ADMIN]),
            )
        )
        is not None
    )


# Which accounts have children linked to them: families (above classes) registers the query
# (campusid.domains), for the attach rule's "is a parent".
ParentsAmong = Callable[[Session, Sequence[int]], set[int]]
_parents_among: list[ParentsAmong] = []


def register_parents_among(query: ParentsAmong) -> None:
    """Set the query of which accounts are linked parents (families registers it)."""
    _parents_among[:] = [query]


def _with_children(db: Session, user_ids: Sequence[int]) -> set[int]:
    if not _parents_among:
        raise RuntimeError("families is not installed: call campusid.domains.install()")
    return _parents_among[0](db, user_ids)


def _is_parent(db: Session, *, user_id: int) -> bool:
    """Whether the account is a parent: children linked, signed up as one, or a parent member."""
    user = db.get(User, user_id)
    if user is None:
        return False
    if user.is_parent:
        return True
    if _with_children(db, [user_id]):
        return True
    return (
        db.scalar(
            select(SchoolMembership.id).where(
                SchoolMembership.user_id == user_id,
                SchoolMembership.active.is_(True),
                SchoolMembership.role == SchoolRole.PARENT,
            )
        )
        is not None
    )


def _age(id_card_number: str | None, today: date) -> int | None:
    """Whole years since the ID card's birth date (None without a readable one)."""
    if not id_card_number:
        return None
    try:
        born = birth_date_from_id_card(id_card_number, today=today)
    except InvalidIdentifier:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def attach_facts(
    db: Session, *, user_ids: Sequence[int], today: date
) -> dict[int, authz.AccountFacts]:
    """What the attach rule (`authz.may_attach`) knows of these accounts, platform-wide."""
    schools: dict[int, dict[SchoolRole, set[int]]] = {}
    for user_id, school_id, role in db.execute(
        select(SchoolMembership.user_id, SchoolMembership.school_id, SchoolMembership.role).where(
            SchoolMembership.user_id.in_(user_ids), SchoolMembership.active.is_(True)
        )
    ):
        schools.setdefault(user_id, {}).setdefault(role, set()).add(school_id)
    parents = _with_children(db, user_ids)
    facts = {}
    for user_id, id_card, is_parent, is_agent, is_admin in db.execute(
        select(
            User.id, User.id_card_number, User.is_parent, User.is_agent, User.is_platform_admin
        ).where(User.id.in_(user_ids))
    ):
        held = schools.get(user_id, {})
        facts[user_id] = authz.AccountFacts(
            account_id=user_id,
            student_school_ids=frozenset(held.get(SchoolRole.STUDENT, set())),
            staff_school_ids=frozenset(
                held.get(SchoolRole.TEACHER, set()) | held.get(SchoolRole.SCHOOL_ADMIN, set())
            ),
            parent_school_ids=frozenset(held.get(SchoolRole.PARENT, set())),
            is_parent=bool(is_parent) or user_id in parents,
            is_platform_staff=bool(is_agent or is_admin),
            age=_age(id_card, today),
        )
    return facts


def standing_of(
    db: Session, *, student_id: int, cal: Calendar
) -> tuple[authz.StudentStanding, ClassStudent | None]:
    """What the authority rule needs to know of a student, and their current class place."""
    membership = current_membership(db, student_id=student_id, cal=cal)
    current = db.get(SchoolClass, membership.class_id) if membership is not None else None
    standing = authz.StudentStanding(
        student_id=student_id,
        is_staff=_is_staff(db, user_id=student_id),
        current_class=current.scope if current is not None else None,
        student_school_ids=frozenset(
            db.scalars(
                select(SchoolMembership.school_id).where(
                    SchoolMembership.current(user_id=student_id, role=SchoolRole.STUDENT)
                )
            )
        ),
        exists=db.get(User, student_id) is not None,
        is_parent=_is_parent(db, user_id=student_id),
    )
    return standing, membership


def _authority(
    db: Session, granted: authz.Authority, student_id: int, membership: ClassStudent | None
) -> StudentAuthority:
    school = db.get(School, granted.school_id)
    assert school is not None
    school_class = db.get(SchoolClass, granted.class_id) if granted.class_id else None
    return StudentAuthority(
        student_id, granted.basis, school, membership if school_class else None, school_class
    )


def authority_over_student(
    db: Session, *, principal: Principal, student_id: int, cal: Calendar, act: authz.StudentAct
) -> StudentAuthority | None:
    """The actor's authority over the student for the act (the rule: `authz.student_authority`),
    to offer the act on a page; the act itself goes through `authorize_students`."""
    standing, membership = standing_of(db, student_id=student_id, cal=cal)
    granted = authz.student_authority(principal, standing, act)
    return None if granted is None else _authority(db, granted, student_id, membership)


def authorize_students(
    db: Session,
    *,
    principal: Principal,
    school_class: SchoolClass | None,
    student_ids: Sequence[int],
    act: authz.StudentAct,
    action: AuditAction,
    cal: Calendar,
    route: Route | None = None,
) -> list[StudentAuthority]:
    """Authority over every named student (in `school_class` when one is given), or none.

    The rule is `authz.check_students`; it raises `authz.Denied` when any student is refused,
    so a bulk act is all or nothing, and the app's handler audits the refusal once.
    """
    loaded = [standing_of(db, student_id=sid, cal=cal) for sid in dict.fromkeys(student_ids)]
    granted = authz.check_students(
        principal,
        [standing for standing, _ in loaded],
        act,
        in_class=school_class.scope if school_class is not None else None,
        action=action,
        route=route,
    )
    return [
        _authority(db, authority, standing.student_id, membership)
        for authority, (standing, membership) in zip(granted, loaded, strict=True)
    ]


@dataclass(frozen=True)
class ClassSummary:
    """A class as its list row and header show it."""

    school_class: SchoolClass
    name: str
    school_name: str
    campus_name: str
    homeroom_name: str
    teacher_count: int
    student_count: int
    parent_count: int


# The parents linked to a class's students: families (above classes) registers the query
# (campusid.domains), a select of their ids for a class id or a correlated class id column.
LinkedParents = Callable[[Any], Select[int]]
_linked_parents: list[LinkedParents] = []


def register_linked_parents(query: LinkedParents) -> None:
    """Set the query of the parents linked to a class's students (families registers it)."""
    _linked_parents[:] = [query]


def _linked_parent_ids(class_id: Any) -> Select[int]:
    if not _linked_parents:
        raise RuntimeError("families is not installed: call campusid.domains.install()")
    return _linked_parents[0](class_id)


def parent_ids_of_class(db: Session, *, school_class: SchoolClass) -> set[int]:
    """Parents of the class: those linked to its students and those who joined it by code."""
    linked = set(db.scalars(_linked_parent_ids(school_class.id).distinct()))
    joined = set(
        db.scalars(select(ClassParent.parent_id).where(ClassParent.class_id == school_class.id))
    )
    return linked | joined


def summaries(
    db: Session, *, school_classes: Sequence[SchoolClass], cal: Calendar
) -> list[ClassSummary]:
    """The summaries of many classes at once: one statement, however many classes.

    Each class's homeroom teacher and counts are correlated subqueries of the row that loads
    the class with its school, campus, grade and stage (joined), so a page with a class header
    spends one query on it, not one per count and relation.
    """
    ids = [c.id for c in school_classes]
    if not ids:
        return []
    of_class = SchoolClass.id
    homeroom = (
        select(User.real_name)
        .join(ClassTeacher, ClassTeacher.teacher_id == User.id)
        .where(ClassTeacher.class_id == of_class, ClassTeacher.is_homeroom.is_(True))
        .order_by(ClassTeacher.id)
        .limit(1)
        .scalar_subquery()
    )
    teachers = select(func.count()).where(ClassTeacher.class_id == of_class).scalar_subquery()
    students = select(func.count()).where(ClassStudent.class_id == of_class).scalar_subquery()
    # Parents: linked to a student of the class, or joined it by its code; each counted once
    # (those who joined by the code and are not also linked, added to the linked ones).
    linked_parents = _linked_parent_ids(of_class)
    linked = linked_parents.with_only_columns(
        func.count(linked_parents.selected_columns[0].distinct())
    ).scalar_subquery()
    joined_only = (
        select(func.count())
        .where(
            ClassParent.class_id == of_class,
            ClassParent.parent_id.not_in(linked_parents),
        )
        .scalar_subquery()
    )
    rows = db.execute(
        select(SchoolClass, homeroom, teachers, students, linked + joined_only)
        .where(SchoolClass.id.in_(ids))
        .options(
            joinedload(SchoolClass.school),
            joinedload(SchoolClass.campus),
            joinedload(SchoolClass.grade).joinedload(Grade.stage_unit),
        )
    ).all()
    found = {row[0].id: row for row in rows}
    summaries = []
    for c in school_classes:
        _loaded, homeroom_name, teacher_count, student_count, parent_count = found[c.id]
        summaries.append(
            ClassSummary(
                school_class=c,
                name=class_name(c, cal),
                school_name=c.school.name,
                campus_name=c.campus.name,
                homeroom_name=homeroom_name or "",
                teacher_count=int(teacher_count),
                student_count=int(student_count),
                parent_count=int(parent_count),
            )
        )
    return summaries


def summarize(db: Session, *, school_class: SchoolClass, cal: Calendar) -> ClassSummary:
    """Name, campus, homeroom teacher and exact member counts (never a stored tally)."""
    return summaries(db, school_classes=[school_class], cal=cal)[0]


def taught_classes(db: Session, *, principal: Principal, cal: Calendar) -> list[ClassSummary]:
    """任教班级: the classes this person teaches, current ones first."""
    if not principal.taught_class_ids:
        return []
    rows = db.scalars(
        select(SchoolClass)
        .where(SchoolClass.id.in_(principal.taught_class_ids))
        .order_by(SchoolClass.school_id, SchoolClass.grade_id, SchoolClass.number)
    )
    found = summaries(db, school_classes=list(rows), cal=cal)
    return sorted(found, key=lambda s: not is_current(s.school_class, cal))


# Any SELECT of class places; the helpers give it back with the same columns.
Chosen = TypeVar("Chosen", bound="Select[*tuple[Any, ...]]")


def students_of(
    db: Session, *, school_class: SchoolClass, name_query: str = ""
) -> list[ClassStudent]:
    """班级学生, by 学号 then name; `name_query` narrows to names containing it."""
    # The rows are shown with their student: loaded by this same join, not one by one.
    chosen = select(ClassStudent).options(contains_eager(ClassStudent.student))
    return list(db.scalars(_in_class(chosen, school_class, name_query)))


def _in_class(statement: Chosen, school_class: SchoolClass, name_query: str) -> Chosen:
    """The class's students (joined with their accounts), by 学号 then name, narrowed to the
    names containing `name_query`: what `students_of` and `student_list` both list."""
    statement = (
        statement.join(User, User.id == ClassStudent.student_id)
        .where(ClassStudent.class_id == school_class.id)
        .order_by(ClassStudent.student_number, User.real_name, User.id)
    )
    query = name_query.strip()
    if query:
        statement = statement.where(User.real_name.contains(query, autoescape=True))
    return statement


def student_list(db: Session, *, school_class: SchoolClass, name_query: str = "") -> list[Row[Any]]:
    """班级学生 as the list shows them: `students_of`'s rows and order, read as plain rows of
    what the list shows (`student_id`, `username`, `real_name`, `gender`, `student_number`,
    `cadre_position`, `class_role`, `status`): no objects to build, no identifier decrypted,
    for the page teachers open most."""
    shown = select(
        ClassStudent.student_id,
        User.username,
        User.real_name,
        User.gender,
        ClassStudent.student_number,
        ClassStudent.cadre_position,
        ClassStudent.class_role,
        ClassStudent.status,
    )
    return list(db.execute(_in_class(shown, school_class, name_query)))


def member_of(db: Session, *, school_class: SchoolClass, student_id: int) -> ClassStudent | None:
    """The student's row in this class, if they are in it."""
    return db.scalar(
        select(ClassStudent).where(
            ClassStudent.class_id == school_class.id, ClassStudent.student_id == student_id
        )
    )


def teachers_of(db: Session, *, school_class: SchoolClass) -> list[ClassTeacher]:
    """班级教师: the homeroom teacher first, then by subject."""
    return list(
        db.scalars(
            select(ClassTeacher)
            .where(ClassTeacher.class_id == school_class.id)
            .order_by(ClassTeacher.is_homeroom.desc(), ClassTeacher.subject, ClassTeacher.id)
            .options(joinedload(ClassTeacher.teacher))
        )
    )


def parents_of_class(db: Session, *, school_class: SchoolClass) -> list[User]:
    """The class's parents, by name."""
    ids = parent_ids_of_class(db, school_class=school_class)
    if not ids:
        return []
    return list(db.scalars(select(User).where(User.id.in_(ids)).order_by(User.real_name)))


def positions_of(db: Session, *, school_class: SchoolClass) -> list[CadrePosition]:
    """班干部职位 defined by the class."""
    return list(
        db.scalars(
            select(CadrePosition)
            .where(CadrePosition.class_id == school_class.id)
            .order_by(CadrePosition.id)
        )
    )


def parked_at_campus(db: Session, *, school_id: int, campus_id: int) -> list[User]:
    """校区存放: the school's active students parked at the campus (in no administrative class)."""
    return list(
        db.scalars(
            select(User)
            .join(SchoolMembership, SchoolMembership.user_id == User.id)
            .where(
                SchoolMembership.current(school_id=school_id, role=SchoolRole.STUDENT),
                SchoolMembership.campus_id == campus_id,
            )
            .order_by(User.real_name)
        )
    )


def parked_students(db: Session, *, school_class: SchoolClass) -> list[User]:
    """Students of the school parked at this class's campus (a homeroom teacher may take them)."""
    return parked_at_campus(db, school_id=school_class.school_id, campus_id=school_class.campus_id)


def load_roles(db: Session, principal: Principal) -> None:
    """The roles a person holds in classes and grades they teach or lead (see campusid.domains)."""
    user_id = principal.user.id
    for class_id, is_homeroom, recovery_on in db.execute(
        select(ClassTeacher.class_id, ClassTeacher.is_homeroom, School.allow_teacher_recovery)
        .join(SchoolClass, SchoolClass.id == ClassTeacher.class_id)
        .join(School, School.id == SchoolClass.school_id)
        .where(ClassTeacher.teacher_id == user_id)
    ):
        principal.roles.add(Role.TEACHER)
        principal.taught_class_ids.add(class_id)
        if is_homeroom:
            principal.roles.add(Role.HOMEROOM_TEACHER)
            principal.homeroom_class_ids.add(class_id)
            if recovery_on:
                principal.recovery_class_ids.add(class_id)
    if Role.STUDENT in principal.roles:  # accounts' loader ran first (campusid.domains)
        principal.student_class_ids = set(
            db.scalars(select(ClassStudent.class_id).where(ClassStudent.student_id == user_id))
        )
    principal.led_grade_ids = set(
        db.scalars(select(GradeLeader.grade_id).where(GradeLeader.teacher_id == user_id))
    )
    if principal.led_grade_ids:
        principal.roles.add(Role.GRADE_LEADER)


# ---------------------------------------------------------------------------------------------
# Issue 23: a pupil's personal space shows their school, class and homeroom teacher.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PupilPlace:
    """Where a pupil is: their school, and their class and its 班主任 when they have one."""

    school_name: str
    class_name: str | None = None
    homeroom_name: str | None = None


def pupil_places(db: Session, *, principal: Principal, cal: Calendar) -> list[PupilPlace]:
    """The pupil's current administrative classes, and the schools they are in without one
    (校区存放). Empty for anyone who is not a pupil."""
    if Role.STUDENT not in principal.roles:
        return []
    places: list[PupilPlace] = []
    seen_schools: set[int] = set()
    classes = [
        c
        for c in db.scalars(
            select(SchoolClass)
            .join(ClassStudent, ClassStudent.class_id == SchoolClass.id)
            .where(ClassStudent.student_id == principal.user.id)
            .options(
                joinedload(SchoolClass.school),
                selectinload(SchoolClass.grade).selectinload(Grade.stage_unit),
            )
            .order_by(SchoolClass.id)
        )
        if is_current(c, cal)
    ]
    rows = db.execute(
        select(ClassTeacher.class_id, User.real_name)
        .join(User, User.id == ClassTeacher.teacher_id)
        .where(
            ClassTeacher.class_id.in_([c.id for c in classes]),
            ClassTeacher.is_homeroom.is_(True),
        )
    )
    heads: dict[int, str] = {row.class_id: row.real_name for row in rows}
    for school_class in classes:
        seen_schools.add(school_class.school_id)
        places.append(
            PupilPlace(
                school_name=school_class.school.name,
                class_name=class_name(school_class, cal),
                homeroom_name=heads.get(school_class.id),
            )
        )
    # Students of a school who sit in no class (校区存放): the school alone.
    for school in db.scalars(
        select(School)
        .join(SchoolMembership, SchoolMembership.school_id == School.id)
        .where(SchoolMembership.current(user_id=principal.user.id, role=SchoolRole.STUDENT))
        .order_by(School.id)
    ):
        if school.id not in seen_schools:
            seen_schools.add(school.id)
            places.append(PupilPlace(school_name=school.name))
    return places

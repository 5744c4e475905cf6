"""Where a student sits: enrol, remove from a class (校区存放), move (换班), leave the school.

Each of these state changes is written once, here, and every way in calls it: the school
console (members.service), the homeroom teacher's class pages and phone pages (classes.members),
a join by the class code (classes.joins) and the roster import (members.batch.apply). So each
act writes one audit action and tells the same people the same thing, whoever does it.

The callers keep their own checks (who may act, which class is valid); these functions only do
the act. Leaving the school lives here too, although it ends a school membership: it must also
end the person's places in the school's current classes (and their teaching and grade-leader
posts), and classes is the lowest domain that knows both memberships (accounts, below it) and
class places. members and roster, above, call it; nothing here imports them.

The roster import keeps its fast path for the accounts it creates (bulk rows in roster.writer):
a new account has no place to move out of and nobody to tell yet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from campusid.accounts import service as accounts
from campusid.accounts.models import SchoolMembership, SchoolRole, User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import ClientInfo
from campusid.classes.models import ClassStudent, ClassTeacher, GradeLeader
from campusid.classes.service import class_name, is_current
from campusid.i18n import N_
from campusid.messaging import service as messaging
from campusid.org.models import ClassKind, School, SchoolClass
from campusid.org.schoolyear import Calendar

# The one audit action of each act. The console's old duplicate for a removal,
# "student_removed_from_class", is written no more; audit/labels.py keeps its label for old rows.
# Enrolling writes none of its own: the act that enrols (添加学生, an approved join, an import)
# is audited once, as that act.
# The parents linked to a child: families (above classes) registers the query (campusid.domains).
ParentsOf = Callable[[Session, int], list[int]]
_parents_registry: list[ParentsOf] = []


def register_parents_of(query: ParentsOf) -> None:
    """Set how the parents linked to a child are found (families registers it)."""
    _parents_registry[:] = [query]


def _parents_of(db: Session, child_id: int) -> list[int]:
    if not _parents_registry:
        raise RuntimeError("families is not installed: call campusid.domains.install()")
    return _parents_registry[0](db, child_id)


REMOVED_FROM_CLASS = AuditAction.CLASS_STUDENT_REMOVED
MOVED = AuditAction.STUDENT_MOVED
LEFT_SCHOOL = AuditAction.MEMBER_LEFT_SCHOOL

# The notice kinds (messaging.service.NOTICE_KINDS gives their tags).
NOTICE_REMOVED = "class_removed"
NOTICE_MOVED = "class_moved"
NOTICE_LEFT = "school_left"


@dataclass(frozen=True)
class Act:
    """Who acts, in which role, from where and when; the calendar names the classes."""

    actor_id: int | None
    actor_role: str | None
    client: ClientInfo
    now: datetime
    cal: Calendar


def _actor_name(db: Session, act: Act) -> str:
    actor = db.get(User, act.actor_id) if act.actor_id is not None else None
    return actor.real_name if actor is not None else "学校"


def _tell(
    db: Session,
    *,
    act: Act,
    person: User,
    kind: str,
    title: str,
    body: str,
    parent_title: str,
    parent_body: str,
    parents: bool = True,
) -> None:
    """The person, and the parents linked to them, are told (the same notice from every way in)."""
    messaging.notify(
        db,
        user_id=person.id,
        kind=kind,
        now=act.now,
        actor_id=act.actor_id,
        title=title,
        body=body,
    )
    if not parents:
        return
    for parent_id in _parents_of(db, person.id):
        messaging.notify(
            db,
            user_id=parent_id,
            kind=kind,
            now=act.now,
            actor_id=act.actor_id,
            title=parent_title,
            body=parent_body,
        )


def _unpark(db: Session, *, school_id: int, student_id: int) -> None:
    """In an administrative class, so no longer parked at a campus (校区存放)."""
    db.execute(
        update(SchoolMembership)
        .where(
            SchoolMembership.school_id == school_id,
            SchoolMembership.user_id == student_id,
            SchoolMembership.role == SchoolRole.STUDENT,
        )
        .values(campus_id=None)
    )


# --- enrol ---------------------------------------------------------------------------------


def enrol(
    db: Session,
    *,
    school_class: SchoolClass,
    student: User,
    now: datetime,
    student_number: str | None = None,
) -> ClassStudent:
    """Put a student in a class (adds them to the class's student list).

    In an administrative class a student is no longer parked at a campus (校区存放): this is the
    one place that says so, whoever enrols them (administrator, homeroom teacher, a join by the
    class code, the import). A teaching class (教学班) leaves their administrative place as it
    was. The act that brings the student in (添加学生, an approved join, an import) is audited
    by its caller, as that act.
    """
    member = ClassStudent(
        class_id=school_class.id,
        student_id=student.id,
        student_number=student_number,
        joined_at=now,
    )
    db.add(member)
    if school_class.kind is ClassKind.ADMINISTRATIVE:
        _unpark(db, school_id=school_class.school_id, student_id=student.id)
    db.flush()
    return member


# --- remove from a class (校区存放) -----------------------------------------------------------


def remove_from_class(db: Session, *, membership: ClassStudent, act: Act) -> SchoolClass:
    """退出班级 / 移出班级: the student leaves the class and is parked at its campus (校区存放).

    The school relationship and the account stay; only the class place ends. Returns the class.
    """
    school_class = db.get(SchoolClass, membership.class_id)
    student = db.get(User, membership.student_id)
    assert school_class is not None and student is not None
    name = class_name(school_class, act.cal)
    db.delete(membership)
    accounts.join_school(
        db,
        user=student,
        school_id=school_class.school_id,
        role=SchoolRole.STUDENT,
        now=act.now,
        campus_id=school_class.campus_id,
    )
    audit.record(
        db,
        now=act.now,
        action=REMOVED_FROM_CLASS,
        actor_id=act.actor_id,
        actor_role=act.actor_role,
        target_user_id=student.id,
        school_id=school_class.school_id,
        client=act.client,
        detail={"class_id": school_class.id, "parked_campus_id": school_class.campus_id},
    )
    actor = _actor_name(db, act)
    _tell(
        db,
        act=act,
        person=student,
        kind=NOTICE_REMOVED,
        title=N_("您已退出班级"),
        body=N_("%(actor)s已将您移出%(place)s，您的账号和密码不受影响。", actor=actor, place=name),
        parent_title=N_("孩子已退出班级"),
        parent_body=N_(
            "%(actor)s已将%(child)s移出%(place)s，孩子的账号和密码不受影响。",
            actor=actor,
            child=student.real_name,
            place=name,
        ),
    )
    db.flush()
    return school_class


# --- move (换班) -----------------------------------------------------------------------------


def current_place(
    db: Session, *, school_id: int, student_id: int, cal: Calendar
) -> ClassStudent | None:
    """The student's place in a current (not graduated) administrative class of the school."""
    rows = db.scalars(
        select(ClassStudent)
        .join(SchoolClass, SchoolClass.id == ClassStudent.class_id)
        .where(
            ClassStudent.student_id == student_id,
            SchoolClass.school_id == school_id,
            SchoolClass.kind == ClassKind.ADMINISTRATIVE,
        )
        .order_by(ClassStudent.joined_at.desc(), ClassStudent.id.desc())
    )
    for row in rows:
        school_class = db.get(SchoolClass, row.class_id)
        if school_class is not None and is_current(school_class, cal):
            return row
    return None


def move(
    db: Session,
    *,
    student: User,
    school_class: SchoolClass,
    act: Act,
    student_number: str | None = None,
) -> ClassStudent:
    """换班 into this administrative class (or 分班 out of 校区存放 into it).

    The student's place in their current class moves (keeping its 学号 unless a new one is
    given); a student in no current class is enrolled. Graduated classes keep them.
    """
    row = current_place(db, school_id=school_class.school_id, student_id=student.id, cal=act.cal)
    if row is None:
        row = enrol(
            db,
            school_class=school_class,
            student=student,
            now=act.now,
            student_number=student_number,
        )
    else:
        row.class_id = school_class.id
        row.joined_at = act.now
        if student_number is not None:
            row.student_number = student_number
        _unpark(db, school_id=school_class.school_id, student_id=student.id)
    audit.record(
        db,
        now=act.now,
        action=MOVED,
        actor_id=act.actor_id,
        actor_role=act.actor_role,
        target_user_id=student.id,
        school_id=school_class.school_id,
        client=act.client,
        detail={"class_id": school_class.id},
    )
    name = class_name(school_class, act.cal)
    actor = _actor_name(db, act)
    _tell(
        db,
        act=act,
        person=student,
        kind=NOTICE_MOVED,
        title=N_("您的班级已变更"),
        body=N_("%(actor)s已将您编入%(place)s，您的账号和密码不受影响。", actor=actor, place=name),
        parent_title=N_("孩子的班级已变更"),
        parent_body=N_(
            "%(actor)s已将%(child)s编入%(place)s，孩子的账号和密码不受影响。",
            actor=actor,
            child=student.real_name,
            place=name,
        ),
    )
    db.flush()
    return row


# --- leave the school (移出学校) --------------------------------------------------------------


def leave_school(
    db: Session,
    *,
    school: School,
    person: User,
    memberships: Sequence[SchoolMembership],
    act: Act,
) -> None:
    """移出学校: the person's relationships with this school end; the account stays.

    They leave the school's current classes (as student or teacher) and its grade-leader posts;
    graduated classes keep them for the alumni list.
    """
    left = [
        c.id
        for c in db.scalars(select(SchoolClass).where(SchoolClass.school_id == school.id))
        if c.kind is ClassKind.TEACHING or is_current(c, act.cal)
    ]
    db.execute(
        delete(ClassStudent).where(
            ClassStudent.student_id == person.id, ClassStudent.class_id.in_(left)
        )
    )
    db.execute(
        delete(ClassTeacher).where(
            ClassTeacher.teacher_id == person.id, ClassTeacher.class_id.in_(left)
        )
    )
    grades = [g.id for c in school.campuses for u in c.stages for g in u.grades]
    if grades:
        db.execute(
            delete(GradeLeader).where(
                GradeLeader.teacher_id == person.id, GradeLeader.grade_id.in_(grades)
            )
        )
    for membership in memberships:
        membership.active = False
        membership.left_at = act.now
        membership.campus_id = None
    db.flush()
    audit.record(
        db,
        now=act.now,
        action=LEFT_SCHOOL,
        actor_id=act.actor_id,
        actor_role=act.actor_role,
        target_user_id=person.id,
        school_id=school.id,
        client=act.client,
        detail={"roles": [m.role.value for m in memberships]},
    )
    actor = _actor_name(db, act)
    _tell(
        db,
        act=act,
        person=person,
        kind=NOTICE_LEFT,
        title=N_("您已离开学校"),
        body=N_(
            "%(actor)s已将您移出%(place)s，您的账号和密码不受影响。", actor=actor, place=school.name
        ),
        parent_title=N_("孩子已离开学校"),
        parent_body=N_(
            "%(actor)s已将%(child)s移出%(place)s，孩子的账号和密码不受影响。",
            actor=actor,
            child=person.real_name,
            place=school.name,
        ),
        parents=any(m.role is SchoolRole.STUDENT for m in memberships),
    )
    db.flush()

"""Teachers of a school: adding them, 任教, 班主任, 年级组长, 批量设置任教, 快速设置老师."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload, load_only
from sqlalchemy.orm.interfaces import ORMOption

from campusid.accounts.models import SchoolMembership, SchoolRole, User
from campusid.audit.actions import AuditAction
from campusid.audit.service import Actor
from campusid.classes import service as classes
from campusid.classes.models import ClassTeacher, GradeLeader
from campusid.i18n import N_
from campusid.members import service
from campusid.members.batch import Account, MemberError, Person
from campusid.members.service import Added, is_member, school_class
from campusid.org import service as org
from campusid.org.models import ClassKind, Grade, School, SchoolClass, StageUnit
from campusid.org.schoolyear import Calendar

# The subjects 快速设置老师 offers, one row each.
SUBJECTS = ("语文", "数学", "英语", "科学", "物理", "化学", "生物", "历史", "地理", "道德与法治",
            "音乐", "体育", "美术", "信息技术")  # fmt: skip


def add_teacher(
    db: Session,
    *,
    school: School,
    calendar: Calendar,
    teacher: Person,
    class_id: int | None,
    subject: str | None,
    homeroom: bool,
    now: datetime,
    actor: Actor,
    guard: service.AttachGuard | None = None,
) -> Added:
    """添加老师, optionally with a first class to teach (never a child's account)."""
    target = school_class(db, school, class_id) if class_id else None
    if class_id and target is None:
        raise MemberError(N_("班级不存在"))
    builder = service.builder_for(db, school, calendar)

    def plan() -> Account:
        builder.preload([teacher])
        return builder.add_teacher(teacher)

    account = service.guarded(
        guard, school=school, actor=actor, persons=[teacher], now=now, act=plan
    )
    added = service.finish(
        db, builder, account, school=school, now=now, actor=actor, action=AuditAction.TEACHER_ADDED
    )
    if target is not None:
        assign(
            db,
            school=school,
            teacher=added.user,
            school_class=target,
            subject=subject,
            homeroom=homeroom,
            now=now,
            actor=actor,
        )
    return added


# --------------------------------------------------------------------------- teachers


def teachers(db: Session, school: School, *options: ORMOption) -> list[User]:
    """The school's current teachers, by name (`options`: which of their columns to load)."""
    return list(
        db.scalars(
            select(User)
            .join(SchoolMembership, SchoolMembership.user_id == User.id)
            .where(
                SchoolMembership.current(school_id=school.id, role=SchoolRole.TEACHER),
            )
            .order_by(User.real_name, User.id)
            .options(*options)
        )
    )


def _teacher(db: Session, school: School, teacher_id: int) -> User:
    if not is_member(db, school, teacher_id, SchoolRole.TEACHER):
        raise MemberError(N_("请选择本校的老师"))
    user = db.get(User, teacher_id)
    assert user is not None
    return user


def _subject(value: str | None) -> str | None:
    text = " ".join((value or "").split())
    if len(text) > 32:
        raise MemberError(N_("学科名称过长"))
    return text or None


def assign(
    db: Session,
    *,
    school: School,
    teacher: User,
    school_class: SchoolClass,
    subject: str | None,
    homeroom: bool,
    now: datetime,
    actor: Actor,
) -> None:
    """任教: a teacher of the school teaches a class (as its 班主任 if `homeroom`)."""
    _teacher(db, school, teacher.id)
    if school_class.school_id != school.id:
        raise MemberError(N_("班级不存在"))
    if homeroom and school_class.kind is ClassKind.TEACHING:
        raise MemberError(N_("教学班没有班主任"))
    classes.assign_teacher(
        db, school_class=school_class, teacher=teacher, subject=_subject(subject), homeroom=homeroom
    )
    service.record(
        db,
        actor=actor,
        school=school,
        action=AuditAction.TEACHER_ASSIGNED,
        now=now,
        target_user_id=teacher.id,
        detail={"class_id": school_class.id, "homeroom": homeroom},
    )


def assign_by_id(
    db: Session,
    *,
    school: School,
    teacher_id: int,
    class_id: int,
    subject: str | None,
    homeroom: bool,
    now: datetime,
    actor: Actor,
) -> None:
    """`assign` for ids from a form."""
    target = school_class(db, school, class_id)
    if target is None:
        raise MemberError(N_("班级不存在"))
    assign(
        db,
        school=school,
        teacher=_teacher(db, school, teacher_id),
        school_class=target,
        subject=subject,
        homeroom=homeroom,
        now=now,
        actor=actor,
    )


def unassign(
    db: Session, *, school: School, teacher_id: int, class_id: int, now: datetime, actor: Actor
) -> None:
    """Stop a teacher teaching a class."""
    target = school_class(db, school, class_id)
    if target is None:
        raise MemberError(N_("班级不存在"))
    db.execute(
        delete(ClassTeacher).where(
            ClassTeacher.class_id == class_id, ClassTeacher.teacher_id == teacher_id
        )
    )
    service.record(
        db,
        actor=actor,
        school=school,
        action=AuditAction.TEACHER_UNASSIGNED,
        now=now,
        target_user_id=teacher_id,
        detail={"class_id": class_id},
    )


def batch_assign(
    db: Session,
    *,
    school: School,
    teacher_id: int,
    class_ids: list[int],
    subject: str | None,
    now: datetime,
    actor: Actor,
) -> int:
    """批量设置任教: one teacher, one subject, many classes at once."""
    teacher = _teacher(db, school, teacher_id)
    if not class_ids:
        raise MemberError(N_("请至少选择一个班级"))
    targets = [school_class(db, school, class_id) for class_id in class_ids]
    if any(t is None for t in targets):
        raise MemberError(N_("班级不存在"))
    clean = _subject(subject)
    if clean is None:
        raise MemberError(N_("请填写任教学科"))
    for target in targets:
        assert target is not None
        existing = db.scalar(
            select(ClassTeacher).where(
                ClassTeacher.class_id == target.id, ClassTeacher.teacher_id == teacher.id
            )
        )
        classes.assign_teacher(
            db,
            school_class=target,
            teacher=teacher,
            subject=clean,
            homeroom=bool(existing and existing.is_homeroom),
        )
    service.record(
        db,
        actor=actor,
        school=school,
        action=AuditAction.TEACHER_ASSIGNED,
        now=now,
        target_user_id=teacher.id,
        detail={"class_ids": sorted(class_ids)},
    )
    return len(targets)


def quick_set_teachers(
    db: Session,
    *,
    school: School,
    school_class: SchoolClass,
    homeroom_id: int | None,
    subjects: dict[str, int | None],
    now: datetime,
    actor: Actor,
) -> None:
    """快速设置老师: the class's 班主任 and one teacher per subject, in one form."""
    if school_class.school_id != school.id:
        raise MemberError(N_("班级不存在"))
    chosen = {s: t for s, t in subjects.items() if t}
    for teacher_id in {*chosen.values(), *([homeroom_id] if homeroom_id else [])}:
        _teacher(db, school, teacher_id)
    current = list(db.scalars(select(ClassTeacher).where(ClassTeacher.class_id == school_class.id)))
    by_teacher = {row.teacher_id: row for row in current}
    # Teachers of the subjects on the form who are no longer chosen stop teaching the class.
    for row in current:
        if row.subject in subjects and chosen.get(row.subject) != row.teacher_id:
            if row.teacher_id == homeroom_id:
                row.subject = None
            else:
                db.delete(row)
                by_teacher.pop(row.teacher_id)
    db.flush()

    def row_of(teacher_id: int) -> ClassTeacher:
        found = by_teacher.get(teacher_id)
        if found is None:
            found = ClassTeacher(class_id=school_class.id, teacher_id=teacher_id, is_homeroom=False)
            db.add(found)
            by_teacher[teacher_id] = found
        return found

    for subject, teacher_id in chosen.items():
        assert teacher_id is not None
        row_of(teacher_id).subject = subject
    for row in by_teacher.values():
        row.is_homeroom = False
    if homeroom_id:
        row_of(homeroom_id).is_homeroom = True
    db.flush()
    service.record(
        db,
        actor=actor,
        school=school,
        action=AuditAction.TEACHERS_QUICK_SET,
        now=now,
        detail={"class_id": school_class.id},
    )


def set_grade_leader(
    db: Session, *, school: School, grade: Grade, teacher_id: int, now: datetime, actor: Actor
) -> None:
    """年级组长: a teacher of the school leads the grade."""
    _teacher(db, school, teacher_id)
    if db.scalar(
        select(GradeLeader.id).where(
            GradeLeader.grade_id == grade.id, GradeLeader.teacher_id == teacher_id
        )
    ):
        raise MemberError(N_("该老师已是本年级的年级组长"))
    db.add(GradeLeader(grade_id=grade.id, teacher_id=teacher_id))
    db.flush()
    service.record(
        db,
        actor=actor,
        school=school,
        action=AuditAction.GRADE_LEADER_SET,
        now=now,
        target_user_id=teacher_id,
        detail={"grade_id": grade.id},
    )


def remove_grade_leader(
    db: Session, *, school: School, grade: Grade, teacher_id: int, now: datetime, actor: Actor
) -> None:
    """Stop a teacher leading the grade."""
    db.execute(
        delete(GradeLeader).where(
            GradeLeader.grade_id == grade.id, GradeLeader.teacher_id == teacher_id
        )
    )
    service.record(
        db,
        actor=actor,
        school=school,
        action=AuditAction.GRADE_LEADER_REMOVED,
        now=now,
        target_user_id=teacher_id,
        detail={"grade_id": grade.id},
    )


def grade_leaders(db: Session, grade: Grade) -> list[User]:
    """The grade's leaders."""
    return list(
        db.scalars(
            select(User)
            .join(GradeLeader, GradeLeader.teacher_id == User.id)
            .where(GradeLeader.grade_id == grade.id)
            .order_by(User.real_name)
        )
    )


@dataclass
class TeacherRow:
    """A teacher with what they teach, for the teacher list and its export."""

    user: User
    assignments: list[tuple[SchoolClass, str, str | None, bool]]  # class, name, subject, homeroom
    led_grades: list[str]


def teacher_rows(
    db: Session, *, school: School, calendar: Calendar, only: list[User] | None = None
) -> list[TeacherRow]:
    """Every current teacher of the school (or `only` these) with classes, subjects, grades led.

    Of each teacher only what the list and the export show is loaded (a teacher's other
    identifiers are not decrypted for a list of names)."""
    people = teachers(db, school, load_only(User.real_name, User.username, User.phone))
    if only is not None:
        wanted = {u.id for u in only}
        people = [u for u in people if u.id in wanted]
    ids = [u.id for u in people]
    assignments: dict[int, list[tuple[SchoolClass, str, str | None, bool]]] = {}
    led: dict[int, list[str]] = {}
    if ids:
        for teacher_id, class_obj, subject, homeroom in db.execute(
            select(
                ClassTeacher.teacher_id, SchoolClass, ClassTeacher.subject, ClassTeacher.is_homeroom
            )
            .join(SchoolClass, SchoolClass.id == ClassTeacher.class_id)
            .where(SchoolClass.school_id == school.id, ClassTeacher.teacher_id.in_(ids))
            .order_by(SchoolClass.grade_id, SchoolClass.number)
            # the class's name reads its grade and stage: loaded here, not one by one
            .options(joinedload(SchoolClass.grade).joinedload(Grade.stage_unit))
        ):
            name = org.class_display_name(class_obj, calendar.today, calendar.boundary)
            assignments.setdefault(teacher_id, []).append((class_obj, name, subject, homeroom))
        for teacher_id, grade in db.execute(
            select(GradeLeader.teacher_id, Grade)
            .join(Grade, Grade.id == GradeLeader.grade_id)
            .where(GradeLeader.teacher_id.in_(ids))
            .options(joinedload(Grade.stage_unit).joinedload(StageUnit.campus))
        ):
            if grade.stage_unit.campus.school_id == school.id:
                label = org.grade_name(grade, calendar.today, calendar.boundary)
                led.setdefault(teacher_id, []).append(label)
    return [TeacherRow(u, assignments.get(u.id, []), led.get(u.id, [])) for u in people]

"""Class membership rules: students, teachers and the homeroom teacher of a class."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pypinyin import lazy_pinyin
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campusid.accounts import service as accounts
from campusid.accounts.identifiers import InvalidIdentifier, validate_username
from campusid.accounts.models import Gender, SchoolMembership, SchoolRole, User
from campusid.audit import service as audit
from campusid.audit.service import ClientInfo, Outcome, Route
from campusid.classes.models import (
    CadrePosition,
    ClassParent,
    ClassRole,
    ClassStudent,
    ClassTeacher,
    MemberStatus,
)
from campusid.clock import local_today
from campusid.context import Services
from campusid.families import service as families
from campusid.messaging import service as messaging
from campusid.messaging.models import Notice
from campusid.org import service as org_service
from campusid.org.models import ClassKind, School, SchoolClass
from campusid.org.schoolyear import YearBoundary
from campusid.security.permissions import Principal, Role


def enroll_student(
    db: Session,
    *,
    school_class: SchoolClass,
    student: User,
    now: datetime,
    student_number: str | None = None,
) -> ClassStudent:
    """Put a student in a class (adds them to the class's student list)."""
    member = ClassStudent(
        class_id=school_class.id,
        student_id=student.id,
        student_number=student_number,
        joined_at=now,
    )
    db.add(member)
    db.flush()
    return member


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


# ---------------------------------------------------------------------------------------------
# Route 1 (issue 4): who may act on a class and its students, and the class members' pages.
# ---------------------------------------------------------------------------------------------

STUDENT_NUMBER_PATTERN = re.compile(r"[0-9A-Za-z-]{1,32}")
MESSAGE_MAX = 200


class ActionDenied(Exception):  # noqa: N818 - flow control; the denial is already audited
    """The actor may not do this to these students (recorded in the audit trail)."""


@dataclass(frozen=True)
class Calendar:
    """Today in China and the school-year boundary: what a class's name and state follow from."""

    today: date
    boundary: YearBoundary


def calendar_of(services: Services) -> Calendar:
    """The calendar the services' clock and settings give."""
    settings = services.settings
    return Calendar(
        today=local_today(services.clock),
        boundary=org_service.boundary_from(
            settings.school_year_boundary_month, settings.school_year_boundary_day
        ),
    )


def is_current(school_class: SchoolClass, cal: Calendar) -> bool:
    """Whether the class is an administrative class that has not graduated."""
    if school_class.kind is not ClassKind.ADMINISTRATIVE or school_class.grade is None:
        return False
    return not org_service.is_graduated(school_class.grade, cal.today, cal.boundary)


def class_name(school_class: SchoolClass, cal: Calendar) -> str:
    """The class's display name today (五年级1班)."""
    return org_service.class_display_name(school_class, cal.today, cal.boundary)


def may_view_class(principal: Principal, school_class: SchoolClass) -> bool:
    """Teachers of the class and the administrators of its school see it (default deny)."""
    return (
        school_class.id in principal.taught_class_ids
        or school_class.school_id in principal.admin_school_ids
    )


def _is_homeroom_teacher(principal: Principal, school_class: SchoolClass) -> bool:
    """The class's homeroom teacher, still a member of the class's school."""
    return (
        school_class.id in principal.homeroom_class_ids
        and school_class.school_id in principal.member_school_ids
    )


def manages_class(principal: Principal, school_class: SchoolClass) -> bool:
    """The class's homeroom teacher or an administrator of its school."""
    return (
        _is_homeroom_teacher(principal, school_class)
        or school_class.school_id in principal.admin_school_ids
    )


def visible_class(db: Session, *, principal: Principal, class_id: int) -> SchoolClass | None:
    """The class if this person may see it; None otherwise (the page says 'not found')."""
    school_class = db.get(SchoolClass, class_id)
    if school_class is None or not may_view_class(principal, school_class):
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
    """Why the actor may act on a student: as homeroom teacher or as school administrator."""

    student_id: int
    basis: Role
    school: School
    membership: ClassStudent | None
    school_class: SchoolClass | None

    @property
    def route(self) -> Route:
        """The audit route of a password reset made on this authority."""
        return Route.TEACHER if self.basis is Role.HOMEROOM_TEACHER else Route.ADMIN


def authority_over_student(
    db: Session, *, principal: Principal, student_id: int, cal: Calendar
) -> StudentAuthority | None:
    """THE object-level check for resetting, removing and editing a student (default deny).

    Allowed: the homeroom teacher of the student's CURRENT class (who is still a member of that
    class's school), and the administrators of a school the student belongs to. Not a subject
    teacher, not the homeroom teacher of a former or another class, not another school, never
    oneself (one's own password has its own route).
    """
    if student_id == principal.user.id:
        return None
    membership = current_membership(db, student_id=student_id, cal=cal)
    if membership is not None:
        school_class = db.get(SchoolClass, membership.class_id)
        assert school_class is not None
        if manages_class(principal, school_class):
            basis = (
                Role.HOMEROOM_TEACHER
                if _is_homeroom_teacher(principal, school_class)
                else Role.SCHOOL_ADMIN
            )
            return StudentAuthority(
                student_id, basis, school_class.school, membership, school_class
            )
    student_schools = set(
        db.scalars(
            select(SchoolMembership.school_id).where(
                SchoolMembership.user_id == student_id,
                SchoolMembership.role == SchoolRole.STUDENT,
                SchoolMembership.active.is_(True),
            )
        )
    )
    shared = sorted(student_schools & principal.admin_school_ids)
    school = db.get(School, shared[0]) if shared else None
    if school is not None:
        return StudentAuthority(student_id, Role.SCHOOL_ADMIN, school, None, None)
    return None


def authorize_students(
    db: Session,
    *,
    principal: Principal,
    school_class: SchoolClass | None,
    student_ids: Sequence[int],
    action: str,
    cal: Calendar,
    now: datetime,
    client: ClientInfo,
    route: Route | None = None,
) -> list[StudentAuthority]:
    """Authority over every named student (in `school_class` when one is given), or none.

    Raises `ActionDenied` after auditing each refusal when any student is refused, so a bulk
    action is all or nothing.
    """
    granted: list[StudentAuthority] = []
    refused: list[int] = []
    for student_id in dict.fromkeys(student_ids):
        authority = authority_over_student(db, principal=principal, student_id=student_id, cal=cal)
        if authority is None or (
            school_class is not None
            and (authority.school_class is None or authority.school_class.id != school_class.id)
        ):
            refused.append(student_id)
        else:
            granted.append(authority)
    if refused or not granted:
        targets: list[int | None] = [*refused] or [None]
        for target in targets:
            known = target is not None and db.get(User, target) is not None
            audit.record(
                db,
                now=now,
                action=action,
                outcome=Outcome.DENIED,
                actor_id=principal.user.id,
                actor_role=principal.main_role.value if principal.main_role else None,
                target_user_id=target if known else None,
                school_id=school_class.school_id if school_class else None,
                route=route,
                client=client,
                detail={
                    "class_id": school_class.id if school_class else None,
                    "reason": "no_authority",
                },
            )
        raise ActionDenied
    return granted


# --- what the pages show -----------------------------------------------------------------


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


def _count(db: Session, statement: Any) -> int:
    return int(db.scalar(select(func.count()).select_from(statement.subquery())) or 0)


def parent_ids_of_class(db: Session, *, school_class: SchoolClass) -> set[int]:
    """Parents of the class: those linked to its students and those who joined it by code."""
    student_ids = select(ClassStudent.student_id).where(ClassStudent.class_id == school_class.id)
    linked = set(families.parent_ids_of_children(db, child_ids=student_ids))
    joined = set(
        db.scalars(select(ClassParent.parent_id).where(ClassParent.class_id == school_class.id))
    )
    return linked | joined


def summarize(db: Session, *, school_class: SchoolClass, cal: Calendar) -> ClassSummary:
    """Name, campus, homeroom teacher and exact member counts (never a stored tally)."""
    homeroom = db.scalar(
        select(User)
        .join(ClassTeacher, ClassTeacher.teacher_id == User.id)
        .where(ClassTeacher.class_id == school_class.id, ClassTeacher.is_homeroom.is_(True))
    )
    return ClassSummary(
        school_class=school_class,
        name=class_name(school_class, cal),
        school_name=school_class.school.name,
        campus_name=school_class.campus.name,
        homeroom_name=homeroom.real_name if homeroom else "",
        teacher_count=_count(
            db, select(ClassTeacher.id).where(ClassTeacher.class_id == school_class.id)
        ),
        student_count=_count(
            db, select(ClassStudent.id).where(ClassStudent.class_id == school_class.id)
        ),
        parent_count=len(parent_ids_of_class(db, school_class=school_class)),
    )


def taught_classes(db: Session, *, principal: Principal, cal: Calendar) -> list[ClassSummary]:
    """任教班级: the classes this person teaches, current ones first."""
    if not principal.taught_class_ids:
        return []
    rows = db.scalars(
        select(SchoolClass)
        .where(SchoolClass.id.in_(principal.taught_class_ids))
        .order_by(SchoolClass.school_id, SchoolClass.grade_id, SchoolClass.number)
    )
    summaries = [summarize(db, school_class=c, cal=cal) for c in rows]
    return sorted(summaries, key=lambda s: not is_current(s.school_class, cal))


def students_of(
    db: Session, *, school_class: SchoolClass, name_query: str = ""
) -> list[ClassStudent]:
    """班级学生, by 学号 then name; `name_query` narrows to names containing it."""
    statement = (
        select(ClassStudent)
        .join(User, User.id == ClassStudent.student_id)
        .where(ClassStudent.class_id == school_class.id)
        .order_by(ClassStudent.student_number, User.real_name, User.id)
    )
    query = name_query.strip()
    if query:
        statement = statement.where(User.real_name.contains(query, autoescape=True))
    return list(db.scalars(statement))


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


def _manager_or_denied(
    db: Session,
    *,
    principal: Principal,
    school_class: SchoolClass,
    action: str,
    now: datetime,
    client: ClientInfo,
) -> None:
    if not manages_class(principal, school_class):
        audit.record(
            db,
            now=now,
            action=action,
            outcome=Outcome.DENIED,
            actor_id=principal.user.id,
            school_id=school_class.school_id,
            client=client,
            detail={"class_id": school_class.id, "reason": "not_class_manager"},
        )
        raise ActionDenied


# --- acting on students ------------------------------------------------------------------


def remove_students(
    db: Session,
    *,
    services: Services,
    principal: Principal,
    school_class: SchoolClass,
    student_ids: Sequence[int],
    client: ClientInfo,
) -> int:
    """退出班级 / 请出班级: the students leave the class and are parked at its campus (校区存放).

    The school relationship and the account stay; only the class membership ends.
    """
    now = services.clock.now()
    cal = calendar_of(services)
    granted = authorize_students(
        db,
        principal=principal,
        school_class=school_class,
        student_ids=student_ids,
        action="class_student_removed",
        cal=cal,
        now=now,
        client=client,
    )
    name = class_name(school_class, cal)
    for authority in granted:
        membership = authority.membership
        assert membership is not None
        student_id = membership.student_id
        db.delete(membership)
        student = db.get(User, student_id)
        assert student is not None
        accounts.join_school(
            db,
            user=student,
            school_id=school_class.school_id,
            role=SchoolRole.STUDENT,
            now=now,
            campus_id=school_class.campus_id,
        )
        audit.record(
            db,
            now=now,
            action="class_student_removed",
            actor_id=principal.user.id,
            actor_role=authority.basis.value,
            target_user_id=student_id,
            school_id=school_class.school_id,
            client=client,
            detail={"class_id": school_class.id, "parked_campus_id": school_class.campus_id},
        )
        messaging.notify(
            db,
            user_id=student_id,
            kind="class_removed",
            now=now,
            actor_id=principal.user.id,
            title="您已退出班级",
            body=f"{principal.user.real_name}已将您移出{name},您的账号和密码不受影响。",
        )
    db.flush()
    return len(granted)


@dataclass
class MemberChanges:
    """What an edit changes; None leaves a field as it is."""

    student_number: str | None = None
    class_role: str | None = None
    cadre_position: str | None = None
    real_name: str | None = None
    gender: str | None = None
    status: str | None = None


def _member_problems(
    db: Session, *, school_class: SchoolClass, member: ClassStudent, changes: MemberChanges
) -> list[str]:
    problems = []
    number = changes.student_number
    if number is not None and number.strip():
        if not STUDENT_NUMBER_PATTERN.fullmatch(number.strip()):
            problems.append("学号只能是1-32位数字、字母或短横线")
        elif db.scalar(
            select(ClassStudent.id).where(
                ClassStudent.class_id == school_class.id,
                ClassStudent.student_number == number.strip(),
                ClassStudent.id != member.id,
            )
        ):
            problems.append("学号已被本班其他学生使用")
    if changes.class_role is not None and changes.class_role not in {r.value for r in ClassRole}:
        problems.append("请选择有效的角色")
    position = changes.cadre_position
    if position and position not in {p.name for p in positions_of(db, school_class=school_class)}:
        problems.append("请选择本班已设置的班干部职位")
    if changes.real_name is not None and not 1 <= len(changes.real_name.strip()) <= 32:
        problems.append("学生姓名须为1-32个字")
    if changes.gender is not None and changes.gender not in {"", *(g.value for g in Gender)}:
        problems.append("请选择性别")
    if changes.status is not None and changes.status not in {m.value for m in MemberStatus}:
        problems.append("请选择有效的状态")
    return problems


def edit_member(
    db: Session,
    *,
    services: Services,
    principal: Principal,
    school_class: SchoolClass,
    student_id: int,
    changes: MemberChanges,
    client: ClientInfo,
) -> list[str]:
    """编辑学号 / 设置角色 / 设置职位 / 编辑: returns the problems, empty when saved."""
    now = services.clock.now()
    (authority,) = authorize_students(
        db,
        principal=principal,
        school_class=school_class,
        student_ids=[student_id],
        action="class_member_edited",
        cal=calendar_of(services),
        now=now,
        client=client,
    )
    member = authority.membership
    assert member is not None
    problems = _member_problems(db, school_class=school_class, member=member, changes=changes)
    if problems:
        return problems
    student = member.student
    changed: list[str] = []
    if changes.student_number is not None:
        member.student_number = changes.student_number.strip() or None
        changed.append("student_number")
    if changes.class_role is not None:
        member.class_role = ClassRole(changes.class_role)
        changed.append("class_role")
    if changes.cadre_position is not None:
        member.cadre_position = changes.cadre_position or None
        changed.append("cadre_position")
    if changes.real_name is not None:
        student.real_name = changes.real_name.strip()
        changed.append("real_name")
    if changes.gender is not None:
        student.gender = Gender(changes.gender) if changes.gender else None
        changed.append("gender")
    if changes.status is not None:
        member.status = MemberStatus(changes.status)
        changed.append("status")
    audit.record(
        db,
        now=now,
        action="class_member_edited",
        actor_id=principal.user.id,
        actor_role=authority.basis.value,
        target_user_id=student.id,
        school_id=school_class.school_id,
        client=client,
        detail={"class_id": school_class.id, "fields": changed},
    )
    db.flush()
    return []


def send_message(
    db: Session,
    *,
    services: Services,
    principal: Principal,
    school_class: SchoolClass,
    student_id: int,
    text: str,
) -> list[str]:
    """发消息: a teacher of the class writes to one of its students (a notice in their inbox)."""
    if not may_view_class(principal, school_class) or (
        member_of(db, school_class=school_class, student_id=student_id) is None
    ):
        raise ActionDenied
    body = text.strip()
    if not 1 <= len(body) <= MESSAGE_MAX:
        return [f"消息内容须为1-{MESSAGE_MAX}个字"]
    messaging.notify(
        db,
        user_id=student_id,
        kind="class_message",
        now=services.clock.now(),
        actor_id=principal.user.id,
        title=f"{principal.user.real_name}老师({class_name(school_class, calendar_of(services))})",
        body=body,
    )
    return []


def sent_messages(db: Session, *, principal: Principal, school_class: SchoolClass) -> list[Notice]:
    """消息 tab: what this teacher wrote to the class's students."""
    student_ids = [m.student_id for m in students_of(db, school_class=school_class)]
    return messaging.sent_by(
        db, actor_id=principal.user.id, kind="class_message", user_ids=student_ids
    )


# --- adding students ---------------------------------------------------------------------


def _free_username(db: Session, real_name: str) -> str:
    base = "".join(s for s in lazy_pinyin(real_name) if s.isascii()).lower()
    base = re.sub(r"[^a-z0-9_]", "", base)[:24]
    if len(base) < 4 or not base[0].isalpha():
        base = ("s_" + base)[:24]
    candidate = base if len(base) >= 4 else base + "001"
    for _ in range(30):
        if accounts.find_by_login(db, candidate) is None:
            return candidate
        candidate = f"{base}{secrets.randbelow(1000):03d}"
    raise RuntimeError("could not find a free username")


def add_new_student(
    db: Session,
    *,
    services: Services,
    principal: Principal,
    school_class: SchoolClass,
    real_name: str,
    gender: str,
    student_number: str,
    username: str,
    client: ClientInfo,
) -> tuple[User | None, list[str]]:
    """添加学生: a new account on the school's default password, in this class.

    An existing account is never pulled into the class here: that would hand its password to
    whoever manages the class. Existing students come through 成员审核 or from the campus.
    """
    now = services.clock.now()
    _manager_or_denied(
        db,
        principal=principal,
        school_class=school_class,
        action="class_student_added",
        now=now,
        client=client,
    )
    problems = []
    name = real_name.strip()
    if not 1 <= len(name) <= 32:
        problems.append("学生姓名须为1-32个字")
    if gender not in {"", *(g.value for g in Gender)}:
        problems.append("请选择性别")
    number = student_number.strip()
    if number and not STUDENT_NUMBER_PATTERN.fullmatch(number):
        problems.append("学号只能是1-32位数字、字母或短横线")
    elif number and db.scalar(
        select(ClassStudent.id).where(
            ClassStudent.class_id == school_class.id, ClassStudent.student_number == number
        )
    ):
        problems.append("学号已被本班其他学生使用")
    login = username.strip()
    if login:
        try:
            login = validate_username(login)
        except InvalidIdentifier as exc:
            problems.append(exc.message)
        else:
            if accounts.find_by_login(db, login) is not None:
                problems.append("该用户名已被使用,请换一个")
    school = school_class.school
    if school.default_credential_id is None:
        problems.append("学校尚未设置学生默认密码,请联系学校管理员")
    if problems:
        return None, problems
    student = accounts.new_user(
        db,
        username=login or _free_username(db, name),
        real_name=name,
        now=now,
        gender=Gender(gender) if gender else None,
        default_credential_id=school.default_credential_id,
        must_change_password=True,
    )
    db.flush()
    accounts.join_school(
        db,
        user=student,
        school_id=school.id,
        role=SchoolRole.STUDENT,
        now=now,
        campus_id=school_class.campus_id,
    )
    enroll_student(
        db, school_class=school_class, student=student, now=now, student_number=number or None
    )
    audit.record(
        db,
        now=now,
        action="class_student_added",
        actor_id=principal.user.id,
        target_user_id=student.id,
        school_id=school.id,
        client=client,
        detail={"class_id": school_class.id, "new_account": True},
    )
    return student, []


def parked_students(db: Session, *, school_class: SchoolClass, cal: Calendar) -> list[User]:
    """Students of the school parked at this class's campus, in no current class."""
    rows = db.scalars(
        select(User)
        .join(SchoolMembership, SchoolMembership.user_id == User.id)
        .where(
            SchoolMembership.school_id == school_class.school_id,
            SchoolMembership.role == SchoolRole.STUDENT,
            SchoolMembership.active.is_(True),
            SchoolMembership.campus_id == school_class.campus_id,
        )
        .order_by(User.real_name)
    )
    return [u for u in rows if current_membership(db, student_id=u.id, cal=cal) is None]


def add_parked_student(
    db: Session,
    *,
    services: Services,
    principal: Principal,
    school_class: SchoolClass,
    student_id: int,
    client: ClientInfo,
) -> list[str]:
    """Bring a student parked at the campus back into a class."""
    now = services.clock.now()
    _manager_or_denied(
        db,
        principal=principal,
        school_class=school_class,
        action="class_student_added",
        now=now,
        client=client,
    )
    cal = calendar_of(services)
    student = next(
        (s for s in parked_students(db, school_class=school_class, cal=cal) if s.id == student_id),
        None,
    )
    if student is None:
        return ["该学生不在本校区存放名单中"]
    enroll_student(db, school_class=school_class, student=student, now=now)
    audit.record(
        db,
        now=now,
        action="class_student_added",
        actor_id=principal.user.id,
        target_user_id=student.id,
        school_id=school_class.school_id,
        client=client,
        detail={"class_id": school_class.id, "from_campus": school_class.campus_id},
    )
    return []


# --- cadre positions ---------------------------------------------------------------------


def add_position(
    db: Session,
    *,
    services: Services,
    principal: Principal,
    school_class: SchoolClass,
    name: str,
    client: ClientInfo,
) -> list[str]:
    """Define a 班干部职位 (班长, 学习委员, ...)."""
    _manager_or_denied(
        db,
        principal=principal,
        school_class=school_class,
        action="cadre_position_added",
        now=services.clock.now(),
        client=client,
    )
    title = name.strip()
    if not 1 <= len(title) <= 16:
        return ["职位名称须为1-16个字"]
    if title in {p.name for p in positions_of(db, school_class=school_class)}:
        return ["该职位已存在"]
    db.add(CadrePosition(class_id=school_class.id, name=title))
    db.flush()
    return []


def delete_position(
    db: Session,
    *,
    services: Services,
    principal: Principal,
    school_class: SchoolClass,
    position_id: int,
    client: ClientInfo,
) -> None:
    """Remove a position; students who held it hold none."""
    _manager_or_denied(
        db,
        principal=principal,
        school_class=school_class,
        action="cadre_position_deleted",
        now=services.clock.now(),
        client=client,
    )
    position = db.get(CadrePosition, position_id)
    if position is None or position.class_id != school_class.id:
        return
    for member in students_of(db, school_class=school_class):
        if member.cadre_position == position.name:
            member.cadre_position = None
    db.delete(position)
    db.flush()

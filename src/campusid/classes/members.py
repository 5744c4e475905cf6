"""Acting on a class's members: 退出班级, 编辑, 添加学生, 班干部职位, 发消息.

Every act on a student goes through `service.authorize_students` (the rule:
`security.authz.student_authority`); every act on the class through `authz.check_class_manager`.
Refusals raise `authz.Denied`, audited once by the app's handler.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from pypinyin import lazy_pinyin
from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid.accounts import service as accounts
from campusid.accounts.models import Gender, SchoolRole, User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import ClientInfo
from campusid.classes import enrolment
from campusid.classes.models import CadrePosition, ClassRole, ClassStudent, MemberStatus
from campusid.classes.service import (
    authorize_students,
    class_name,
    member_of,
    parked_students,
    positions_of,
    students_of,
)
from campusid.context import Services
from campusid.i18n import N_
from campusid.identifiers import InvalidIdentifier, name_problem, validate_username
from campusid.messaging import service as messaging
from campusid.messaging.models import Notice
from campusid.org.models import SchoolClass
from campusid.org.schoolyear import calendar_for
from campusid.security import authz
from campusid.security.permissions import Principal

STUDENT_NUMBER_PATTERN = re.compile(r"[0-9A-Za-z-]{1,32}")
MESSAGE_MAX = 200


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
    cal = calendar_for(services.settings, services.clock)
    granted = authorize_students(
        db,
        principal=principal,
        school_class=school_class,
        student_ids=student_ids,
        act=authz.StudentAct.MANAGE,
        action=enrolment.REMOVED_FROM_CLASS,
        cal=cal,
    )
    for authority in granted:
        membership = authority.membership
        assert membership is not None
        enrolment.remove_from_class(
            db,
            membership=membership,
            act=enrolment.Act(
                actor_id=principal.user.id,
                actor_role=authority.basis.value,
                client=client,
                now=now,
                cal=cal,
            ),
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
            problems.append(N_("学号只能是1-32位数字、字母或短横线"))
        elif db.scalar(
            select(ClassStudent.id).where(
                ClassStudent.class_id == school_class.id,
                ClassStudent.student_number == number.strip(),
                ClassStudent.id != member.id,
            )
        ):
            problems.append(N_("学号已被本班其他学生使用"))
    if changes.class_role is not None and changes.class_role not in {r.value for r in ClassRole}:
        problems.append(N_("请选择有效的角色"))
    position = changes.cadre_position
    if position and position not in {p.name for p in positions_of(db, school_class=school_class)}:
        problems.append(N_("请选择本班已设置的班干部职位"))
    if changes.real_name is not None and not 1 <= len(changes.real_name.strip()) <= 32:
        problems.append(N_("学生姓名须为1-32个字"))
    elif changes.real_name is not None and (problem := name_problem(changes.real_name)):
        problems.append(problem)
    if changes.gender is not None and changes.gender not in {"", *(g.value for g in Gender)}:
        problems.append(N_("请选择性别"))
    if changes.status is not None and changes.status not in {m.value for m in MemberStatus}:
        problems.append(N_("请选择有效的状态"))
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
        act=authz.StudentAct.MANAGE,
        action=AuditAction.CLASS_MEMBER_EDITED,
        cal=calendar_for(services.settings, services.clock),
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
        action=AuditAction.CLASS_MEMBER_EDITED,
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
    authz.check_class_messenger(
        principal,
        school_class.scope,
        student_id=student_id,
        in_class=member_of(db, school_class=school_class, student_id=student_id) is not None,
    )
    body = text.strip()
    if not 1 <= len(body) <= MESSAGE_MAX:
        return [N_("消息内容须为1-%(most)s个字", most=MESSAGE_MAX)]
    cal = calendar_for(services.settings, services.clock)
    messaging.notify(
        db,
        user_id=student_id,
        kind="class_message",
        now=services.clock.now(),
        actor_id=principal.user.id,
        title=N_(
            "%(teacher)s老师（%(class_name)s）",
            teacher=principal.user.real_name,
            class_name=class_name(school_class, cal),
        ),
        body=body,
        body_as_written=True,
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
    authz.check_class_manager(principal, school_class.scope, action=AuditAction.CLASS_STUDENT_ADDED)
    problems = []
    name = real_name.strip()
    if not 1 <= len(name) <= 32:
        problems.append(N_("学生姓名须为1-32个字"))
    elif (problem := name_problem(name)) is not None:
        problems.append(problem)
    if gender not in {"", *(g.value for g in Gender)}:
        problems.append(N_("请选择性别"))
    number = student_number.strip()
    if number and not STUDENT_NUMBER_PATTERN.fullmatch(number):
        problems.append(N_("学号只能是1-32位数字、字母或短横线"))
    elif number and db.scalar(
        select(ClassStudent.id).where(
            ClassStudent.class_id == school_class.id, ClassStudent.student_number == number
        )
    ):
        problems.append(N_("学号已被本班其他学生使用"))
    login = username.strip()
    if login:
        try:
            login = validate_username(login)
        except InvalidIdentifier as exc:
            problems.append(exc.message)
        else:
            if accounts.find_by_login(db, login) is not None:
                problems.append(N_("该用户名已被使用，请换一个"))
    school = school_class.school
    if school.default_credential_id is None:
        problems.append(N_("学校尚未设置学生默认密码，请联系学校管理员"))
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
    )
    enrolment.enrol(
        db, school_class=school_class, student=student, now=now, student_number=number or None
    )
    audit.record(
        db,
        now=now,
        action=AuditAction.CLASS_STUDENT_ADDED,
        actor_id=principal.user.id,
        target_user_id=student.id,
        school_id=school.id,
        client=client,
        detail={"class_id": school_class.id, "new_account": True},
    )
    return student, []


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
    authz.check_class_manager(principal, school_class.scope, action=AuditAction.CLASS_STUDENT_ADDED)
    student = next(
        (s for s in parked_students(db, school_class=school_class) if s.id == student_id),
        None,
    )
    if student is None:
        return [N_("该学生不在本校区存放名单中")]
    enrolment.enrol(db, school_class=school_class, student=student, now=now)
    audit.record(
        db,
        now=now,
        action=AuditAction.CLASS_STUDENT_ADDED,
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
    authz.check_class_manager(
        principal, school_class.scope, action=AuditAction.CADRE_POSITION_ADDED
    )
    title = name.strip()
    if not 1 <= len(title) <= 16:
        return [N_("职位名称须为1-16个字")]
    if title in {p.name for p in positions_of(db, school_class=school_class)}:
        return [N_("该职位已存在")]
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
    authz.check_class_manager(
        principal, school_class.scope, action=AuditAction.CADRE_POSITION_DELETED
    )
    position = db.get(CadrePosition, position_id)
    if position is None or position.class_id != school_class.id:
        return
    for member in students_of(db, school_class=school_class):
        if member.cadre_position == position.name:
            member.cadre_position = None
    db.delete(position)
    db.flush()

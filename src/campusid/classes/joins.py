"""Joining a class by its class code (班级编码): the request, 成员审核, 全网搜索班级."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from campusid.accounts import service as accounts
from campusid.accounts.models import SchoolRole, User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import ClientInfo
from campusid.classes import enrolment
from campusid.classes import service as classes
from campusid.classes.models import ClassParent, JoinRequest, JoinRequestStatus
from campusid.context import Services
from campusid.i18n import N_
from campusid.messaging import service as messaging
from campusid.org import service as org_service
from campusid.org.models import SchoolClass
from campusid.org.schoolyear import calendar_for
from campusid.security import authz
from campusid.security.permissions import Principal, Role

JOIN_ROLES = {SchoolRole.STUDENT.value: N_("学生"), SchoolRole.PARENT.value: N_("家长")}
# Accounts that may not ask to be a *student*: it would give a class's homeroom teacher the
# power to reset a staff account's password.
STAFF_ROLES = {
    Role.TEACHER,
    Role.HOMEROOM_TEACHER,
    Role.GRADE_LEADER,
    Role.SCHOOL_ADMIN,
    Role.AGENT,
    Role.PLATFORM_ADMIN,
}
NOT_FOUND = N_("未找到该班级，请核对班级编码")
TOO_MANY = N_("操作过于频繁，请稍后再试")


def _limited(services: Services, name: str, count: int, window: int, key: str) -> bool:
    """Count one attempt; True when the person has used up the window's attempts."""
    limiter = services.limits.named(name, count, window)
    if limiter.exceeded(key):
        return True
    limiter.hit(key)
    return False


def find_by_code(
    db: Session, *, services: Services, principal: Principal, code: str
) -> tuple[classes.ClassSummary | None, list[str]]:
    """全网搜索班级: a current class by its code (rate-limited against guessing codes)."""
    if not code.strip():
        return None, [N_("请输入班级编码")]
    if _limited(services, "classes.search", 30, 600, str(principal.user.id)):
        return None, [TOO_MANY]
    school_class = org_service.find_class_by_code(db, code[:16])
    cal = calendar_for(services.settings, services.clock)
    if school_class is None or not classes.is_current(school_class, cal):
        return None, [NOT_FOUND]
    return classes.summarize(db, school_class=school_class, cal=cal), []


def _is_member(db: Session, *, school_class: SchoolClass, user: User, role: str) -> bool:
    if role == SchoolRole.STUDENT:
        return classes.member_of(db, school_class=school_class, student_id=user.id) is not None
    return user.id in classes.parent_ids_of_class(db, school_class=school_class)


def request_to_join(
    db: Session,
    *,
    services: Services,
    principal: Principal,
    class_code: str,
    role: str,
    message: str,
    client: ClientInfo,
) -> list[str]:
    """A student or a parent asks to join a class; its homeroom teacher is told."""
    user = principal.user
    now = services.clock.now()
    summary, problems = find_by_code(db, services=services, principal=principal, code=class_code)
    if summary is None:
        return problems
    school_class = summary.school_class
    if role not in JOIN_ROLES:
        return [N_("请选择以学生或家长身份加入")]
    if role == SchoolRole.STUDENT and principal.roles & STAFF_ROLES:
        return [N_("教师或管理员账号不能以学生身份加入班级")]
    if len(message.strip()) > 100:
        return [N_("留言不能超过100个字")]
    if _is_member(db, school_class=school_class, user=user, role=role):
        return [N_("您已是该班级成员")]
    pending = db.scalar(
        select(JoinRequest.id).where(
            JoinRequest.class_id == school_class.id,
            JoinRequest.user_id == user.id,
            JoinRequest.status == JoinRequestStatus.PENDING,
        )
    )
    if pending is not None:
        return [N_("您已提交过申请，请等待班主任审核")]
    db.add(
        JoinRequest(
            class_id=school_class.id,
            user_id=user.id,
            role=role,
            message=message.strip() or None,
            status=JoinRequestStatus.PENDING,
            created_at=now,
        )
    )
    for teacher in classes.teachers_of(db, school_class=school_class):
        if teacher.is_homeroom:
            messaging.notify(
                db,
                user_id=teacher.teacher_id,
                kind="join_request",
                now=now,
                actor_id=user.id,
                title=N_("新的入班申请"),
                body=N_(
                    "%(name)s申请以%(role)s身份加入%(class_name)s，"
                    "请在「班级管理 → 班级成员 → 成员审核」中处理。",
                    name=user.real_name,
                    role=JOIN_ROLES[role],
                    class_name=summary.name,
                ),
            )
    audit.record(
        db,
        now=now,
        action=AuditAction.JOIN_REQUESTED,
        actor_id=user.id,
        target_user_id=user.id,
        school_id=school_class.school_id,
        client=client,
        detail={"class_id": school_class.id, "role": role},
    )
    db.flush()
    return []


@dataclass(frozen=True)
class PendingRequest:
    """A join request as 成员审核 lists it."""

    request: JoinRequest
    user: User
    role_label: str


# Any SELECT of join requests; `_pending` gives it back with the same columns.
Chosen = TypeVar("Chosen", bound="Select[*tuple[Any, ...]]")


def pending_requests(db: Session, *, school_class: SchoolClass) -> list[PendingRequest]:
    """成员审核: the class's pending join requests, oldest first."""
    rows = db.execute(
        _pending(select(JoinRequest, User), school_class).order_by(
            JoinRequest.created_at, JoinRequest.id
        )
    )
    return [PendingRequest(req, user, JOIN_ROLES.get(req.role, req.role)) for req, user in rows]


def pending_count(db: Session, *, school_class: SchoolClass) -> int:
    """How many join requests `pending_requests` lists (成员审核's badge)."""
    return db.scalar(_pending(select(func.count()).select_from(JoinRequest), school_class)) or 0


def _pending(statement: Chosen, school_class: SchoolClass) -> Chosen:
    """The class's pending requests, each with its asker's account."""
    return statement.join(User, User.id == JoinRequest.user_id).where(
        JoinRequest.class_id == school_class.id,
        JoinRequest.status == JoinRequestStatus.PENDING,
    )


def _admit(
    db: Session,
    *,
    services: Services,
    school_class: SchoolClass,
    user: User,
    role: str,
    now: datetime,
) -> list[str]:
    # The attach rule (`authz.may_attach`) holds for a join by class code as for 添加学生: no
    # second school by this way, no adult made a student, no child made a parent.
    wanted = Role.STUDENT if role == SchoolRole.STUDENT else Role.PARENT
    facts = classes.attach_facts(
        db, user_ids=[user.id], today=calendar_for(services.settings, services.clock).today
    )
    decision = authz.may_attach(wanted, facts[user.id], school_class.school_id)
    if decision is authz.AttachDecision.TRANSFER:
        return [authz.STUDENT_ELSEWHERE]
    if decision is authz.AttachDecision.REFUSE_ADULT:
        return [authz.ADULT_NOT_STUDENT]
    if decision is authz.AttachDecision.REFUSE_CHILD:
        return [authz.CHILD_NOT_ADULT]
    if role == SchoolRole.STUDENT:
        current = classes.current_membership(
            db, student_id=user.id, cal=calendar_for(services.settings, services.clock)
        )
        if current is not None and current.class_id != school_class.id:
            # Moving a student in would take them from their homeroom teacher: that one acts.
            return [N_("该学生已在其他班级，须由原班主任先将其请出班级")]
        accounts.join_school(
            db,
            user=user,
            school_id=school_class.school_id,
            role=SchoolRole.STUDENT,
            now=now,
        )
        if current is None:
            enrolment.enrol(db, school_class=school_class, student=user, now=now)
        return []
    accounts.join_school(
        db, user=user, school_id=school_class.school_id, role=SchoolRole.PARENT, now=now
    )
    if not _is_member(db, school_class=school_class, user=user, role=role):
        db.add(ClassParent(class_id=school_class.id, parent_id=user.id, joined_at=now))
    return []


def decide(
    db: Session,
    *,
    services: Services,
    principal: Principal,
    school_class: SchoolClass,
    request_id: int,
    approve: bool,
    client: ClientInfo,
) -> list[str]:
    """The homeroom teacher (or a school administrator) approves or refuses; the asker is told."""
    now = services.clock.now()
    authz.check_class_manager(
        principal, school_class.scope, action=AuditAction.JOIN_REQUEST_DECIDED
    )
    request = db.get(JoinRequest, request_id)
    if (
        request is None
        or request.class_id != school_class.id
        or request.status is not JoinRequestStatus.PENDING
    ):
        return [N_("该申请已处理或不存在")]
    user = db.get(User, request.user_id)
    assert user is not None
    if approve:
        problems = _admit(
            db, services=services, school_class=school_class, user=user, role=request.role, now=now
        )
        if problems:
            return problems
    request.status = JoinRequestStatus.APPROVED if approve else JoinRequestStatus.REFUSED
    request.decided_by_id = principal.user.id
    request.decided_at = now
    name = classes.class_name(school_class, calendar_for(services.settings, services.clock))
    place = {"school": school_class.school.name, "class_name": name}
    messaging.notify(
        db,
        user_id=user.id,
        kind="join_request_decided",
        now=now,
        actor_id=principal.user.id,
        title=N_("入班申请已通过") if approve else N_("入班申请未通过"),
        body=N_("您申请加入%(school)s%(class_name)s的请求已通过审核。", **place)
        if approve
        else N_("您申请加入%(school)s%(class_name)s的请求未通过审核。", **place),
    )
    audit.record(
        db,
        now=now,
        action=AuditAction.JOIN_REQUEST_APPROVED if approve else AuditAction.JOIN_REQUEST_REFUSED,
        actor_id=principal.user.id,
        target_user_id=user.id,
        school_id=school_class.school_id,
        client=client,
        detail={"class_id": school_class.id, "role": request.role},
    )
    db.flush()
    return []

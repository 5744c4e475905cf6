"""The teacher way of 通过关联信息: a request the homeroom teacher approves (找回密码审核).

Another domain (the class's 成员审核 tab) lists and decides these through `pending_requests`
and `decide_request`; both apply the one object check, `_decidable`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid.accounts.models import User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import ClientInfo, Route
from campusid.classes.models import ClassStudent, ClassTeacher
from campusid.context import Services
from campusid.i18n import N_
from campusid.messaging import service as messaging
from campusid.org import service as org
from campusid.org.models import ClassKind, School, SchoolClass
from campusid.org.schoolyear import calendar_for
from campusid.recovery.models import (
    ApprovalStatus,
    FlowStep,
    RecoveryFlow,
    RecoveryMethod,
    TeacherRecoveryRequest,
)
from campusid.recovery.service import (
    AFTER_APPROVAL_TTL,
    APPROVAL_TTL,
    MSG_NO_STUDENT_YET,
    MSG_TEACHER_OFF,
    REQUESTED,
    SendResult,
    active,
    message_gate,
    void_code,
)
from campusid.security.permissions import Principal


def teacher_recovery_allowed(db: Session, *, flow: RecoveryFlow | None) -> bool:
    """Whether the flow's school lets the homeroom teacher approve (a school-wide setting)."""
    if flow is None or flow.school_id is None:
        return False
    school = db.get(School, flow.school_id)
    return bool(school and school.allow_teacher_recovery)


def _current_class(db: Session, *, student_id: int, school_id: int) -> SchoolClass | None:
    """The student's administrative class in the school, as it stands today."""
    return db.scalar(
        select(SchoolClass)
        .join(ClassStudent, ClassStudent.class_id == SchoolClass.id)
        .where(
            ClassStudent.student_id == student_id,
            SchoolClass.school_id == school_id,
            SchoolClass.kind == ClassKind.ADMINISTRATIVE,
        )
        .order_by(ClassStudent.joined_at.desc(), ClassStudent.id.desc())
        .limit(1)
    )


def _homeroom_teacher_id(db: Session, *, class_id: int) -> int | None:
    return db.scalar(
        select(ClassTeacher.teacher_id).where(
            ClassTeacher.class_id == class_id, ClassTeacher.is_homeroom.is_(True)
        )
    )


def request_teacher_approval(
    db: Session,
    *,
    services: Services,
    flow: RecoveryFlow,
    captcha_answer: str,
    client: ClientInfo,
) -> SendResult:
    """其他方式: ask the homeroom teacher to confirm; the same answer whatever was matched."""
    now = services.clock.now()
    if flow.step not in (FlowStep.IDENTIFIED, FlowStep.CODE_SENT) or flow.school_id is None:
        return SendResult(error=MSG_NO_STUDENT_YET)
    if not teacher_recovery_allowed(db, flow=flow):
        return SendResult(error=MSG_TEACHER_OFF)
    refused = message_gate(flow, services=services, captcha_answer=captcha_answer, client=client)
    if refused:
        return SendResult(error=refused)
    student = active(db.get(User, flow.user_id)) if flow.user_id else None
    school_class = (
        _current_class(db, student_id=student.id, school_id=flow.school_id) if student else None
    )
    teacher_id = _homeroom_teacher_id(db, class_id=school_class.id) if school_class else None
    void_code(db, services=services, flow=flow)
    flow.method = RecoveryMethod.TEACHER
    flow.step = FlowStep.AWAITING_APPROVAL
    flow.expires_at = now + APPROVAL_TTL
    if student is not None and school_class is not None and teacher_id is not None:
        for older in db.scalars(
            select(TeacherRecoveryRequest).where(
                TeacherRecoveryRequest.student_id == student.id,
                TeacherRecoveryRequest.status == ApprovalStatus.PENDING,
            )
        ):
            older.status = ApprovalStatus.WITHDRAWN
        db.add(
            TeacherRecoveryRequest(
                flow_id=flow.id,
                student_id=student.id,
                school_id=flow.school_id,
                class_id=school_class.id,
                status=ApprovalStatus.PENDING,
                client_address=client.address,
                created_at=now,
                expires_at=now + APPROVAL_TTL,
            )
        )
        messaging.notify(
            db,
            user_id=teacher_id,
            kind="recovery_request",
            now=now,
            title=N_("学生找回密码申请"),
            body=N_(
                "学生%(name)s申请找回密码，请核实是本人后在「找回密码审核」中处理。",
                name=student.real_name,
            ),
        )
    audit.record(
        db,
        now=now,
        action=AuditAction.RECOVERY_TEACHER_REQUESTED,
        target_user_id=student.id if student else None,
        school_id=flow.school_id,
        route=Route.SELF_SERVICE,
        client=client,
        detail={"known": teacher_id is not None},
    )
    return SendResult(message=REQUESTED)


# --------------------------------------------------------------------------- teacher approvals


@dataclass(frozen=True)
class PendingRequest:
    """A request as the approving teacher sees it."""

    id: int
    student_name: str
    username: str
    class_name: str
    created_at: datetime
    client_address: str | None


def _decidable(
    db: Session, *, principal: Principal, request: TeacherRecoveryRequest, now: datetime
) -> bool:
    """The one object check: the actor is the homeroom teacher of the student's current class.

    Default deny: a pending, unexpired request, the actor heads the class named in it, and the
    student still sits in that class today.
    """
    if request.status is not ApprovalStatus.PENDING or now >= request.expires_at:
        return False
    if request.class_id not in principal.homeroom_class_ids:
        return False
    current = _current_class(db, student_id=request.student_id, school_id=request.school_id)
    return current is not None and current.id == request.class_id


def pending_requests(
    db: Session, *, services: Services, principal: Principal
) -> list[PendingRequest]:
    """The requests this person may decide (成员审核 lists these too)."""
    if not principal.homeroom_class_ids:
        return []
    now = services.clock.now()
    cal = calendar_for(services.settings, services.clock)
    boundary, today = cal.boundary, cal.today
    rows = db.scalars(
        select(TeacherRecoveryRequest)
        .where(
            TeacherRecoveryRequest.class_id.in_(principal.homeroom_class_ids),
            TeacherRecoveryRequest.status == ApprovalStatus.PENDING,
            TeacherRecoveryRequest.expires_at > now,
        )
        .order_by(TeacherRecoveryRequest.created_at)
    )
    result = []
    for request in rows:
        if not _decidable(db, principal=principal, request=request, now=now):
            continue
        student = db.get(User, request.student_id)
        school_class = db.get(SchoolClass, request.class_id)
        assert student is not None and school_class is not None
        result.append(
            PendingRequest(
                id=request.id,
                student_name=student.real_name,
                username=student.username,
                class_name=org.class_display_name(school_class, today, boundary),
                created_at=request.created_at,
                client_address=request.client_address,
            )
        )
    return result


def decide_request(
    db: Session,
    *,
    services: Services,
    principal: Principal,
    request_id: int,
    approve: bool,
    client: ClientInfo,
) -> bool:
    """Approve or refuse a request; False when there is none this person may decide."""
    now = services.clock.now()
    request = db.get(TeacherRecoveryRequest, request_id)
    if request is None or not _decidable(db, principal=principal, request=request, now=now):
        return False
    flow = db.get(RecoveryFlow, request.flow_id)
    student = db.get(User, request.student_id)
    assert flow is not None and student is not None
    request.decided_by_id = principal.user.id
    request.decided_at = now
    live = flow.step is FlowStep.AWAITING_APPROVAL and now < flow.expires_at
    if approve and live:
        request.status = ApprovalStatus.APPROVED
        flow.step = FlowStep.VERIFIED
        flow.verified_at = now
        flow.password_version = student.password_version
        flow.expires_at = now + AFTER_APPROVAL_TTL
    else:
        request.status = ApprovalStatus.REFUSED if live else ApprovalStatus.WITHDRAWN
        if live:
            flow.step = FlowStep.DEAD
            flow.finished_at = now
    audit.record(
        db,
        now=now,
        action=AuditAction.RECOVERY_APPROVED
        if request.status is ApprovalStatus.APPROVED
        else AuditAction.RECOVERY_REFUSED,
        actor_id=principal.user.id,
        actor_role="homeroom_teacher",
        target_user_id=student.id,
        school_id=request.school_id,
        route=Route.SELF_SERVICE,
        client=client,
        detail={"method": RecoveryMethod.TEACHER.value, "request_id": request.id},
    )
    messaging.notify(
        db,
        user_id=student.id,
        kind="recovery_request_decided",
        now=now,
        actor_id=principal.user.id,
        title=N_("找回密码申请已处理"),
        body=N_("班主任已通过您的找回密码申请，请在提交申请的浏览器中回到找回密码页面设置新密码。")
        if request.status is ApprovalStatus.APPROVED
        else N_("您的找回密码申请未获通过，如有疑问请联系班主任。"),
    )
    return True

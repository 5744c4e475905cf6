"""转学申请: file a transfer request, list them, approve or refuse one.

A school may not attach a student of another school (`authz.may_attach` answers TRANSFER): a
student's credentials belong to their current school, and attaching would hand them to a
stranger. The receiving school's administrator files a request instead, naming the student by
real name and ID card number (or 学籍号); the sending school's administrator (or, where the
region allows it, a linked parent: `authz.check_transfer_decider`) approves or refuses. On
approval the membership moves with the services that leave a school and enrol in a class;
the account, its password and its parent links are untouched; both schools are audited and
the family is told.

What a filing tells the receiving school is no more than 添加学生 already told it: a request
is filed only for a full match (the name and the ID card number or 学籍号 of one account, a
student elsewhere); any other answer is the add page's own, and refused attempts count
against the same limits (`members.service.AttachGuard`). The sending school's name is not
shown to the receiving school before the request is approved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from campusid.accounts import service as accounts
from campusid.accounts.models import SchoolMembership, SchoolRole, User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import Actor, ClientInfo
from campusid.classes import enrolment
from campusid.classes import service as classes
from campusid.families import service as families
from campusid.i18n import N_
from campusid.members import service as members
from campusid.members.batch import ADULT_NOT_STUDENT, MemberError, Person
from campusid.messaging import service as messaging
from campusid.org.models import School, SchoolClass
from campusid.org.schoolyear import Calendar
from campusid.security import authz
from campusid.security.permissions import Principal, Role
from campusid.transfers.models import TransferRequest, TransferStatus

NEEDS_STRONG_ID = N_("提交转学申请须填写学生的身份证号或学籍号")
NOT_NEEDED = N_("该学生无需转学，请直接添加")
ALREADY_FILED = N_("已提交过该学生的转学申请，请等待对方学校确认")
ALREADY_DECIDED = N_("该转学申请已处理")


def request_transfer(
    db: Session,
    *,
    school: School,
    calendar: Calendar,
    student: Person,
    class_id: int,
    student_number: str | None,
    now: datetime,
    actor: Actor,
    guard: members.AttachGuard | None,
) -> TransferRequest:
    """File a 转学申请 for a student of another school, into one of this school's classes."""

    def plan() -> int:
        builder = members.builder_for(db, school, calendar)
        if class_id not in builder.class_names:
            raise MemberError(N_("班级不存在或已毕业"))
        # A phone may be a parent's: a request needs what names the pupil alone.
        if not (student.id_card_number or student.registration_number):
            raise MemberError(NEEDS_STRONG_ID)
        builder.preload([student])
        account = builder.index.match(student)  # a mismatch: the add page's own answer
        if account is None:
            raise MemberError(NOT_NEEDED)
        facts = builder.facts_of(account.id)
        if authz.may_attach(Role.STUDENT, facts, school.id) is authz.AttachDecision.TRANSFER:
            return account.id
        builder.check_attach(account, Role.STUDENT)  # the refusal, as 添加学生 words it
        raise MemberError(NOT_NEEDED)

    student_id = members.guarded(
        guard, school=school, actor=actor, persons=[student], now=now, act=plan
    )
    from_school_id = _home_school(db, student_id=student_id, calendar=calendar, not_=school.id)
    if from_school_id is None:
        raise MemberError(NOT_NEEDED)
    if db.scalar(
        select(TransferRequest.id).where(
            TransferRequest.student_id == student_id,
            TransferRequest.to_school_id == school.id,
            TransferRequest.status == TransferStatus.PENDING,
        )
    ):
        raise MemberError(ALREADY_FILED)
    request = TransferRequest(
        student_id=student_id,
        from_school_id=from_school_id,
        to_school_id=school.id,
        to_class_id=class_id,
        student_number=(student_number or "").strip()[:32] or None,
        status=TransferStatus.PENDING,
        requested_by_id=actor.user_id,
        requested_at=now,
    )
    db.add(request)
    db.flush()
    for school_id in (school.id, from_school_id):
        _record(
            db, request, AuditAction.TRANSFER_REQUESTED, school_id, now, actor, Role.SCHOOL_ADMIN
        )
    for admin_id in _admin_ids(db, from_school_id):
        messaging.notify(
            db,
            user_id=admin_id,
            kind="transfer_requested",
            title=N_("转学申请"),
            body=N_(
                "%(school)s申请转入贵校学生%(name)s，请在学校管理的「转学申请」中确认。",
                school=school.name,
                name=student.real_name,
            ),
            now=now,
            actor_id=actor.user_id,
        )
    return request


def _home_school(db: Session, *, student_id: int, calendar: Calendar, not_: int) -> int | None:
    """The school the student would leave: their current school (`StudentStanding`)."""
    standing, _ = classes.standing_of(
        db,
        student_id=student_id,
        cal=calendar,
    )
    home = standing.home_school_id
    if home is None:
        others = sorted(standing.student_school_ids - {not_})
        home = others[0] if others else None
    return home if home != not_ else None


def _admin_ids(db: Session, school_id: int) -> list[int]:
    return list(
        db.scalars(
            select(SchoolMembership.user_id).where(
                SchoolMembership.school_id == school_id,
                SchoolMembership.role == SchoolRole.SCHOOL_ADMIN,
                SchoolMembership.active.is_(True),
            )
        )
    )


def _record(
    db: Session,
    request: TransferRequest,
    action: AuditAction,
    school_id: int,
    now: datetime,
    actor: Actor,
    role: Role,
) -> None:
    audit.record(
        db,
        now=now,
        action=action,
        actor_id=actor.user_id,
        actor_role=role.value,
        target_user_id=request.student_id,
        school_id=school_id,
        client=actor.client,
        detail={
            "transfer_id": request.id,
            "from_school_id": request.from_school_id,
            "to_school_id": request.to_school_id,
        },
    )


# --------------------------------------------------------------------------- lists


@dataclass(frozen=True)
class TransferRow:
    """A request as a list shows it."""

    request: TransferRequest
    student_name: str
    other_school: str  # the other school's name ("" where it must not be shown)
    class_name: str


def _rows(
    db: Session, requests: list[TransferRequest], calendar: Calendar, *, show_from: bool
) -> list[TransferRow]:
    # One query each for the students, the other schools and the classes (not one a row).
    names: dict[int, str] = dict(
        db.execute(
            select(User.id, User.real_name).where(User.id.in_({r.student_id for r in requests}))
        ).all()
    )
    other_ids = {r.to_school_id if show_from else r.from_school_id for r in requests}
    schools: dict[int, str] = dict(
        db.execute(select(School.id, School.name).where(School.id.in_(other_ids))).all()
    )
    class_ids = {r.to_class_id for r in requests if r.to_class_id}
    targets = {
        c.id: c
        for c in db.scalars(
            select(SchoolClass)
            .where(SchoolClass.id.in_(class_ids))
            .options(selectinload(SchoolClass.grade))
        )
    }
    rows = []
    for request in requests:
        other_id = request.to_school_id if show_from else request.from_school_id
        # The receiving school learns where the pupil comes from once the move is made.
        named = show_from or request.status is TransferStatus.APPROVED
        target = targets.get(request.to_class_id) if request.to_class_id else None
        rows.append(
            TransferRow(
                request,
                names.get(request.student_id, ""),
                schools.get(other_id, "") if named else "",
                classes.class_name(target, calendar) if target else "",
            )
        )
    return rows


def incoming(db: Session, *, school: School, calendar: Calendar) -> list[TransferRow]:
    """Requests to take this school's students away, pending first, newest first."""
    found = db.scalars(
        select(TransferRequest)
        .where(TransferRequest.from_school_id == school.id)
        .order_by(TransferRequest.requested_at.desc(), TransferRequest.id.desc())
        .limit(100)
    ).all()
    ordered = sorted(found, key=lambda r: r.status is not TransferStatus.PENDING)
    return _rows(db, ordered, calendar, show_from=True)


def outgoing(db: Session, *, school: School, calendar: Calendar) -> list[TransferRow]:
    """The requests this school filed, newest first."""
    found = db.scalars(
        select(TransferRequest)
        .where(TransferRequest.to_school_id == school.id)
        .order_by(TransferRequest.requested_at.desc(), TransferRequest.id.desc())
        .limit(100)
    ).all()
    return _rows(db, list(found), calendar, show_from=False)


def for_parent(db: Session, *, principal: Principal, calendar: Calendar) -> list[TransferRow]:
    """Pending requests for the children this parent is linked to."""
    if not principal.child_ids:
        return []
    found = db.scalars(
        select(TransferRequest)
        .where(
            TransferRequest.student_id.in_(principal.child_ids),
            TransferRequest.status == TransferStatus.PENDING,
        )
        .order_by(TransferRequest.requested_at.desc())
    ).all()
    return _rows(db, list(found), calendar, show_from=True)


# --------------------------------------------------------------------------- deciding


def decide(
    db: Session,
    *,
    request_id: int,
    approve: bool,
    principal: Principal,
    calendar: Calendar,
    parent_may_approve: bool,
    from_school_id: int | None,
    now: datetime,
    client: ClientInfo,
) -> TransferRequest | None:
    """Approve or refuse a request (None: no such request here). The rule is
    `authz.check_transfer_decider`; `from_school_id` is the console's school, None from 我的孩子."""
    request = db.get(TransferRequest, request_id)
    if request is None or (from_school_id is not None and request.from_school_id != from_school_id):
        return None
    role = authz.check_transfer_decider(
        principal,
        from_school_id=request.from_school_id,
        student_id=request.student_id,
        parent_may_approve=parent_may_approve,
        action=AuditAction.TRANSFER_DECIDED,
    )
    if request.status is not TransferStatus.PENDING:
        raise MemberError(ALREADY_DECIDED)
    actor = Actor(user_id=principal.user.id, client=client)
    request.decided_by_id = principal.user.id
    request.decided_as = role.value
    request.decided_at = now
    if not approve:
        request.status = TransferStatus.REFUSED
        for school_id in (request.from_school_id, request.to_school_id):
            _record(db, request, AuditAction.TRANSFER_REFUSED, school_id, now, actor, role)
        _tell_requester(db, request, now, approved=False)
        db.flush()
        return request
    _move(db, request, calendar=calendar, now=now, actor=actor)
    request.status = TransferStatus.APPROVED
    for school_id in (request.from_school_id, request.to_school_id):
        _record(db, request, AuditAction.TRANSFER_APPROVED, school_id, now, actor, role)
    _tell_family(db, request, now)
    _tell_requester(db, request, now, approved=True)
    db.flush()
    return request


def _move(
    db: Session,
    request: TransferRequest,
    *,
    calendar: Calendar,
    now: datetime,
    actor: Actor,
) -> None:
    """The membership moves: out of the old school (its current classes left, history kept),
    into the new one, in the class asked for, or parked at its campus if that class is gone."""
    student = db.get(User, request.student_id)
    old = db.get(School, request.from_school_id)
    new = db.get(School, request.to_school_id)
    assert student is not None and old is not None and new is not None
    # Still nobody's adult account: a parent or staff role taken up since is not moved.
    builder = members.builder_for(db, new, calendar)
    facts = builder.facts_of(student.id)
    if authz.may_attach(Role.STUDENT, facts, new.id) is authz.AttachDecision.REFUSE_ADULT:
        raise MemberError(ADULT_NOT_STUDENT)
    members.leave_school(
        db, school=old, calendar=calendar, user_id=student.id, now=now, actor=actor
    )
    membership = accounts.join_school(
        db, user=student, school_id=new.id, role=SchoolRole.STUDENT, now=now
    )
    target = members.school_class(db, new, request.to_class_id) if request.to_class_id else None
    if target is not None and target.id in builder.class_names:
        enrolment.enrol(
            db, school_class=target, student=student, now=now, student_number=request.student_number
        )
        return
    campus_id = target.campus_id if target is not None else min(c.id for c in new.campuses)
    membership.campus_id = campus_id
    db.flush()


def _tell_family(db: Session, request: TransferRequest, now: datetime) -> None:
    old = db.get(School, request.from_school_id)
    new = db.get(School, request.to_school_id)
    student = db.get(User, request.student_id)
    assert old is not None and new is not None and student is not None
    family = [student.id, *families.parent_ids_of_children(db, child_ids=[student.id])]
    for user_id in family:
        messaging.notify(
            db,
            user_id=user_id,
            kind="transfer_approved",
            title=N_("转学完成"),
            body=N_(
                "%(name)s已从%(old)s转入%(new)s，账号、密码和家长关联不变。",
                name=student.real_name,
                old=old.name,
                new=new.name,
            ),
            now=now,
            actor_id=request.decided_by_id,
        )


def _tell_requester(
    db: Session, request: TransferRequest, now: datetime, *, approved: bool
) -> None:
    student = db.get(User, request.student_id)
    name = student.real_name if student else ""
    messaging.notify(
        db,
        user_id=request.requested_by_id,
        kind="transfer_approved" if approved else "transfer_refused",
        title=N_("转学申请已同意") if approved else N_("转学申请未获同意"),
        body=(
            N_("%(name)s的转学申请已同意，已转入本校。", name=name)
            if approved
            else N_("%(name)s的转学申请未获对方同意。", name=name)
        ),
        now=now,
        actor_id=request.decided_by_id,
    )

"""Authority: who may act on what. Every refusal of the platform is decided here.

Each rule is a plain function of the signed-in person (`Principal`: their roles and where they
hold them) and the facts about the object in the URL (a school id, a class's scope, a student's
standing), loaded by the object's domain. A rule first asks the role table for the permission
(`permissions.ROLE_PERMISSIONS`), then the object's scope. Nothing here reads the database, so a
reviewer can check a rule by reading it, and a unit test can walk its cases.

`check_*` functions raise `Denied`; `may_*` functions answer yes or no (to show or hide an action,
never instead of the check). One exception handler (`campusid.app`) audits each refusal once and
answers 403 (or the JSON error of the API).

Who may reset this student's password? Read `student_authority`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from campusid.i18n import N_
from campusid.security.permissions import Permission, Principal, Role

NOT_ALLOWED = N_("您没有权限执行此操作")
NOT_YOUR_SCHOOL = N_("您不是该学校的管理员，无权管理该学校")
NOT_A_SCHOOL_ADMIN = N_("您不是学校管理员")
NOT_YOUR_GRADE = N_("您无权查看该年级")
NOT_YOUR_DISTRICT = N_("您无权查看区县组织")
NOT_A_GRADE_LEADER = N_("您不是年级组长，没有可查看的年级。")
TEACHER_RECOVERY_OFF = N_(
    "您所在学校未开启「找回密码时允许由班主任确认身份」，没有需要您审核的找回密码申请。"
    "如需开启，请联系学校管理员。"
)
SCHOOL_SUSPENDED = N_(
    "该学校已停用：学校管理员和老师暂时不能使用学校管理和班级管理，学生和家长仍可正常登录。"
    "如需恢复，请联系平台管理员。"
)
# The generic audit action of a refusal whose act has no action of its own.
ACCESS_DENIED = "access_denied"


class Denied(Exception):  # noqa: N818 - flow control: the one refusal of the platform
    """The signed-in person may not do this here (answered 403, audited once by the handler).

    `action` is the audit action of the act that was refused (a refused reset is recorded as a
    refused `password_reset`); `reason` is a machine code for the audit trail; `target_user_id`
    and `school_id` say whose account and which school it concerned, where known.
    """

    def __init__(
        self,
        message: str = NOT_ALLOWED,
        *,
        reason: str = "not_allowed",
        action: str = ACCESS_DENIED,
        target_user_id: int | None = None,
        school_id: int | None = None,
        route: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.action = action
        self.target_user_id = target_user_id
        self.school_id = school_id
        self.route = route
        self.detail = dict(detail or {})


def check_permission(principal: Principal, permission: Permission) -> None:
    """Refuse anyone whose roles do not grant the permission (the object check comes after)."""
    if not principal.has(permission):
        raise Denied(reason="missing_permission", detail={"permission": permission.value})


# --------------------------------------------------------------------------- schools and districts


def may_manage_school(principal: Principal, school_id: int) -> bool:
    """An administrator of this school (for showing or hiding actions; the check is below)."""
    return principal.has(Permission.SCHOOL_MANAGE) and school_id in principal.admin_school_ids


def check_school_admin(principal: Principal, school_id: int, *, exists: bool = True) -> None:
    """学校管理: only the school's own administrators manage a school, whatever the URL says.

    A suspended school's administrators are told so (`principal_for` gave them no role there).
    """
    if exists and school_id in principal.suspended_school_ids:
        raise Denied(SCHOOL_SUSPENDED, reason="school_suspended", school_id=school_id)
    if not exists or not may_manage_school(principal, school_id):
        raise Denied(NOT_YOUR_SCHOOL, reason="not_school_admin", detail={"school_id": school_id})


def check_administers_a_school(principal: Principal) -> int:
    """The first school the person administers (the console's entry); refuse everyone else."""
    if not principal.has(Permission.SCHOOL_MANAGE) or not principal.admin_school_ids:
        if principal.suspended_school_ids:
            raise Denied(SCHOOL_SUSPENDED, reason="school_suspended")
        raise Denied(NOT_A_SCHOOL_ADMIN, reason="not_school_admin")
    return min(principal.admin_school_ids)


def check_members_manager(principal: Principal) -> None:
    """A page over the members of the schools one administers (each row is scoped by its query)."""
    if not principal.has(Permission.SCHOOL_MEMBERS_MANAGE) or not principal.admin_school_ids:
        raise Denied(NOT_A_SCHOOL_ADMIN, reason="not_school_admin")


def check_district_view(principal: Principal) -> None:
    """A district's page (its schools and their counts): platform administrators only.

    No district-level role exists, and a school's administrator has no business with the other
    schools' figures.
    """
    if not principal.has(Permission.DISTRICT_VIEW):
        raise Denied(NOT_YOUR_DISTRICT, reason="not_platform_admin")


def check_platform_admin(principal: Principal) -> None:
    """平台管理's index: platform administrators (each page behind it checks its own permission)."""
    if Role.PLATFORM_ADMIN not in principal.roles:
        raise Denied(reason="not_platform_admin")


# --------------------------------------------------------------------------- grades and classes


@dataclass(frozen=True)
class ClassScope:
    """Where a class sits: what the class rules need to know of it."""

    id: int
    school_id: int
    grade_id: int | None = None


def check_grade_view(
    principal: Principal, *, url_school_id: int, grade_school_id: int, grade_id: int
) -> None:
    """A grade in the console: its school's administrators, and its grade leaders (read-only)."""
    if grade_school_id == url_school_id:
        if may_manage_school(principal, url_school_id):
            return
        if principal.has(Permission.GRADE_VIEW) and grade_id in principal.led_grade_ids:
            return
    raise Denied(NOT_YOUR_GRADE, reason="not_grade_viewer", school_id=grade_school_id)


def check_leads_a_grade(principal: Principal) -> set[int]:
    """年级 (issue 23): the grades the person leads (年级组长); refuse everyone else."""
    if not principal.has(Permission.GRADE_VIEW) or not principal.led_grade_ids:
        raise Denied(NOT_A_GRADE_LEADER, reason="not_grade_leader")
    return set(principal.led_grade_ids)


def check_org_class_view(
    principal: Principal, *, url_school_id: int, school_class: ClassScope
) -> None:
    """A class in the console: its school's administrators, and the leaders of its grade."""
    if school_class.school_id == url_school_id:
        if may_manage_school(principal, url_school_id):
            return
        if (
            school_class.grade_id is not None
            and principal.has(Permission.GRADE_VIEW)
            and school_class.grade_id in principal.led_grade_ids
        ):
            return
    raise Denied(NOT_YOUR_GRADE, reason="not_grade_viewer", school_id=school_class.school_id)


def may_approve_recoveries(principal: Principal) -> bool:
    """找回密码审核 is offered: a homeroom teacher of a class whose school lets the homeroom
    teacher approve 找回密码 (a school-wide setting, off by default)."""
    return principal.has(Permission.RECOVERY_APPROVE) and bool(
        principal.homeroom_class_ids & principal.recovery_class_ids
    )


def check_recovery_approver(principal: Principal) -> None:
    """找回密码审核: a homeroom teacher; told plainly when their school has the setting off."""
    check_permission(principal, Permission.RECOVERY_APPROVE)
    if not may_approve_recoveries(principal):
        raise Denied(TEACHER_RECOVERY_OFF, reason="teacher_recovery_off")


def may_view_class(principal: Principal, school_class: ClassScope) -> bool:
    """The class pages: the class's teachers and the administrators of its school (default deny).

    A class one may not see is answered as not found, not as refused.
    """
    return (
        principal.has(Permission.CLASS_VIEW) and school_class.id in principal.taught_class_ids
    ) or may_manage_school(principal, school_class.school_id)


def is_homeroom_teacher(principal: Principal, school_class: ClassScope) -> bool:
    """The class's homeroom teacher, still a member of the class's school."""
    return (
        school_class.id in principal.homeroom_class_ids
        and school_class.school_id in principal.member_school_ids
    )


def may_manage_class(principal: Principal, school_class: ClassScope) -> bool:
    """班级管理: the class's homeroom teacher, or an administrator of its school."""
    return (
        principal.has(Permission.CLASS_MANAGE) and is_homeroom_teacher(principal, school_class)
    ) or (
        principal.has(Permission.SCHOOL_MEMBERS_MANAGE)
        and may_manage_school(principal, school_class.school_id)
    )


def check_class_manager(principal: Principal, school_class: ClassScope, *, action: str) -> None:
    """Refuse an act on the class (its positions, join requests, members) to anyone else."""
    if not may_manage_class(principal, school_class):
        raise Denied(
            reason="not_class_manager",
            action=action,
            school_id=school_class.school_id,
            detail={"class_id": school_class.id},
        )


def check_class_messenger(
    principal: Principal, school_class: ClassScope, *, student_id: int, in_class: bool
) -> None:
    """发消息: whoever sees the class (its teachers, its school's administrators) writes to a
    student who is in it."""
    if not (in_class and may_view_class(principal, school_class)):
        raise Denied(
            reason="not_in_class",
            target_user_id=student_id,
            school_id=school_class.school_id,
            detail={"class_id": school_class.id},
        )


# --------------------------------------------------------------------------- a student's account


class StudentAct(StrEnum):
    """What a class's or school's staff may do to a student's account."""

    RESET_PASSWORD = "reset_password"
    # remove from the class (校区存放), edit the student's name, number, role and position
    MANAGE = "manage"


# The permission each basis needs for each act: the role table decides, not the caller.
_ACT_PERMISSIONS: dict[tuple[Role, StudentAct], Permission] = {
    (Role.HOMEROOM_TEACHER, StudentAct.RESET_PASSWORD): Permission.CLASS_RESET_PASSWORD,
    (Role.HOMEROOM_TEACHER, StudentAct.MANAGE): Permission.CLASS_MANAGE,
    (Role.SCHOOL_ADMIN, StudentAct.RESET_PASSWORD): Permission.SCHOOL_RESET_PASSWORD,
    (Role.SCHOOL_ADMIN, StudentAct.MANAGE): Permission.SCHOOL_MEMBERS_MANAGE,
}


@dataclass(frozen=True)
class StudentStanding:
    """What the rules need to know of the student an act is aimed at (loaded by `classes`)."""

    student_id: int
    # Holds a staff role anywhere (teacher, school administrator, agent, platform administrator).
    is_staff: bool
    # The student's current administrative class (not graduated), if any.
    current_class: ClassScope | None
    # The schools where the account is an active student.
    student_school_ids: frozenset[int] = field(default_factory=frozenset)
    # False for an id that names no account (refused, and not named in the audit row).
    exists: bool = True
    # A parent (children linked, or signed up as one): an adult's account, its holder's alone.
    is_parent: bool = False

    @property
    def home_school_id(self) -> int | None:
        """The student's CURRENT school: the one school where the account is an active student
        (its current class, if any, in that school). None when that is not one school (data
        from before transfers existed, a pupil attached twice): no school may claim the
        account then, its holder, parents or the hotline change its password."""
        if len(self.student_school_ids) != 1:
            return None
        (school_id,) = self.student_school_ids
        if self.current_class is not None and self.current_class.school_id != school_id:
            return None
        return school_id


@dataclass(frozen=True)
class Authority:
    """Why the person may act on the student: as homeroom teacher, or as school administrator."""

    basis: Role
    school_id: int
    # The class the authority comes through (None: the school's administrator, no current class).
    class_id: int | None


def student_authority(
    principal: Principal, student: StudentStanding, act: StudentAct
) -> Authority | None:
    """THE rule for resetting a student's password, removing them from a class or editing them.

    Credentials belong to the account's home school only: the student's CURRENT school, the
    one school where the account is an active student (`StudentStanding.home_school_id`).
    Allowed:
    - the homeroom teacher of the student's CURRENT class, who is still a member of that class's
      school (not a subject teacher, not the homeroom teacher of a former or another class);
    - an administrator of the student's current school (whether or not the student is in a
      class: parked, graduated).
    An administrator of another school where the account merely has some membership gets
    nothing. Each basis also needs the act's permission in the role table (`_ACT_PERMISSIONS`).
    Never oneself (one's own password has its own route), never an adult's account (staff or
    parent: changed by its holder or the hotline). Default deny.
    """
    if student.student_id == principal.user.id or student.is_staff or student.is_parent:
        return None
    home = student.home_school_id
    if home is None:
        return None
    current = student.current_class
    if (
        current is not None
        and is_homeroom_teacher(principal, current)
        and principal.has(_ACT_PERMISSIONS[(Role.HOMEROOM_TEACHER, act)])
    ):
        return Authority(Role.HOMEROOM_TEACHER, current.school_id, current.id)
    if may_manage_school(principal, home) and principal.has(
        _ACT_PERMISSIONS[(Role.SCHOOL_ADMIN, act)]
    ):
        return Authority(Role.SCHOOL_ADMIN, home, current.id if current is not None else None)
    return None


@dataclass(frozen=True)
class StaffStanding:
    """What the credential rule needs to know of an adult's account (a teacher's, say)."""

    account_id: int
    # Every school where the account holds an active membership, in any role.
    school_ids: frozenset[int]
    # The schools where it is an administrator.
    admin_school_ids: frozenset[int] = frozenset()
    # A parent (children linked, or signed up as one).
    is_parent: bool = False
    # A customer-service agent or a platform administrator.
    is_platform_staff: bool = False


def staff_authority(principal: Principal, staff: StaffStanding) -> int | None:
    """THE rule for resetting a teacher's (any adult's) credentials from a school's console.

    Only an administrator of the account's one school, when that school is the only one the
    account belongs to, and the account is a plain teacher: not a school's administrator (the
    administrators of a school are peers), not a parent (a parent's account controls children
    through route 2: a school that could reset it would control them), not an agent or a
    platform administrator. An account in several schools is reset by its holder (route 3) or
    the hotline (route 4), never by one of the schools. Never oneself. Returns the school.
    """
    if (
        staff.account_id == principal.user.id
        or staff.is_parent
        or staff.is_platform_staff
        or staff.admin_school_ids
        or len(staff.school_ids) != 1
    ):
        return None
    (school_id,) = staff.school_ids
    if may_manage_school(principal, school_id) and principal.has(Permission.SCHOOL_RESET_PASSWORD):
        return school_id
    return None


# --------------------------------------------------------------------------- attaching an account


ADULT_AGE = 18
ADULT_NOT_STUDENT = N_("该账号属于成年人（家长、教职工或已满18周岁），不能作为学生加入。")
CHILD_NOT_ADULT = N_("该账号属于学生或未满18周岁的孩子，不能作为老师或家长加入。")
STUDENT_ELSEWHERE = N_(
    "该学生已在其他学校就读，不能直接加入本校。可提交转学申请，由其所在学校确认后转入。"
)


@dataclass(frozen=True)
class AccountFacts:
    """What the attach rule needs to know of an EXISTING account a school names (by its
    real name and an identifier): loaded by `members`, from the whole platform."""

    account_id: int
    # Schools where the account is an active student, a teacher or administrator, a parent.
    student_school_ids: frozenset[int] = frozenset()
    staff_school_ids: frozenset[int] = frozenset()
    parent_school_ids: frozenset[int] = frozenset()
    # Children linked, or signed up as a parent.
    is_parent: bool = False
    # A customer-service agent or a platform administrator.
    is_platform_staff: bool = False
    # Whole years since the birth date of the account's ID card (None: no ID card).
    age: int | None = None

    @property
    def is_adult(self) -> bool:
        """A parent, teacher or any staff role anywhere, or 18 years old by the ID card."""
        return bool(
            self.staff_school_ids
            or self.parent_school_ids
            or self.is_parent
            or self.is_platform_staff
            or (self.age is not None and self.age >= ADULT_AGE)
        )

    @property
    def is_child(self) -> bool:
        """A student anywhere, or under 18 by the ID card."""
        return bool(self.student_school_ids or (self.age is not None and self.age < ADULT_AGE))


def is_home_school(account: AccountFacts, school_id: int) -> bool:
    """Whether a school's console may edit the account's identifiers (绑身份证 and the like):
    only as its home school, the rule of `student_authority` and `staff_authority` in facts —
    for a student, the one school where it is an active student; for a teacher, their only
    school. Never an account with a parent role or a platform role (its holder's alone)."""
    if account.parent_school_ids or account.is_parent or account.is_platform_staff:
        return False
    if account.student_school_ids:
        return account.student_school_ids == {school_id} and not account.staff_school_ids
    return account.staff_school_ids == {school_id}


class AttachDecision(StrEnum):
    """What a school may do with an existing account it names."""

    ATTACH = "attach"
    # A student of another school: the receiving school files a transfer request (转学申请).
    TRANSFER = "transfer"
    REFUSE_ADULT = "adult_not_student"
    REFUSE_CHILD = "child_not_adult"


def may_attach(role: Role, account: AccountFacts, receiving_school_id: int) -> AttachDecision:
    """THE rule for attaching an existing account to a school (添加学生/家长/老师, 批量导入).

    Attaching never changes who controls an account:
    - as a STUDENT: never an adult's account (parent, teacher or staff anywhere, agent, platform
      administrator; or 18+ by the ID card, unless it is already a student, see below); a
      student of another school is not attached but transferred (a request the sending
      school approves), because a student's credentials belong to their current school;
    - as a TEACHER or PARENT: never a child's account (a student anywhere, or under 18);
      an adult is attached (a parent or teacher role gives a school no authority over the
      account's credentials: `staff_authority`).
    An account already a student of the receiving school (parked, say) is attached again.
    """
    if role is Role.STUDENT:
        if (
            account.staff_school_ids
            or account.parent_school_ids
            or account.is_parent
            or account.is_platform_staff
        ):
            return AttachDecision.REFUSE_ADULT
        if receiving_school_id in account.student_school_ids:
            return AttachDecision.ATTACH
        if account.student_school_ids:
            # Already a pupil: the membership moves (even at 18, in 高三), it is not made.
            return AttachDecision.TRANSFER
        if account.is_adult:
            return AttachDecision.REFUSE_ADULT
        return AttachDecision.ATTACH
    if account.is_child:
        return AttachDecision.REFUSE_CHILD
    return AttachDecision.ATTACH


def check_transfer_decider(
    principal: Principal,
    *,
    from_school_id: int,
    student_id: int,
    parent_may_approve: bool,
    action: str,
) -> Role:
    """A transfer request (转学申请) is decided by the SENDING school's administrator, or, where
    the region allows it (`parent_may_approve`), by a parent linked to the student.
    Returns the role the decision is made in."""
    if may_manage_school(principal, from_school_id) and principal.has(
        Permission.SCHOOL_MEMBERS_MANAGE
    ):
        return Role.SCHOOL_ADMIN
    if (
        parent_may_approve
        and principal.has(Permission.CHILD_LINK)
        and student_id in principal.child_ids
    ):
        return Role.PARENT
    raise Denied(
        reason="not_transfer_decider",
        action=action,
        target_user_id=student_id,
        school_id=from_school_id,
    )


def check_students(
    principal: Principal,
    students: list[StudentStanding],
    act: StudentAct,
    *,
    in_class: ClassScope | None,
    action: str,
    route: str | None = None,
) -> list[Authority]:
    """Authority over every student of a (bulk) act, or a refusal: all or nothing.

    With `in_class` (the class page the act came from), each student must be reached through
    that very class: a homeroom teacher cannot act on another class's pupil by naming them.
    """
    granted: list[Authority] = []
    refused: list[StudentStanding] = []
    for student in students:
        authority = student_authority(principal, student, act)
        if authority is None or (in_class is not None and authority.class_id != in_class.id):
            refused.append(student)
        else:
            granted.append(authority)
    if refused or not granted:
        known = [s.student_id for s in refused if s.exists]
        raise Denied(
            reason="no_authority",
            action=action,
            target_user_id=known[0] if len(known) == 1 else None,
            school_id=in_class.school_id if in_class else None,
            route=route,
            detail={
                "class_id": in_class.id if in_class else None,
                "refused_count": len(refused),
            },
        )
    return granted


# --------------------------------------------------------------------------- families


def may_have_children(principal: Principal) -> bool:
    """我的孩子: a parent, or any adult account (not a student) that may link a first child.

    A teacher who is also a parent uses one account; linking a first child makes them a parent.
    """
    return principal.has(Permission.CHILD_LINK) or Role.STUDENT not in principal.roles


def check_may_have_children(principal: Principal) -> None:
    """Refuse 我的孩子 to a student."""
    if not may_have_children(principal):
        raise Denied(reason="not_a_parent")


def may_open_child(principal: Principal, child_id: int, *, act: Permission) -> bool:
    """A child's pages: only a parent holding a link to exactly this child (404 otherwise, after
    `check_permission(act)` has refused everyone who is no parent)."""
    return principal.has(act) and child_id in principal.child_ids


NOT_GUARDIAN = N_("只有已关联该孩子的家长可以代孩子同意隐私政策。")


def check_guardian_consent(principal: Principal, child_id: int, *, action: str) -> None:
    """A guardian's consent for a child (PIPL art. 31, issue 23): only a parent holding a link to
    exactly this child gives it. Refused with 403 (not 404), audited as a refused consent: a
    consent is a legal act, and a refused attempt at one is worth seeing in the trail."""
    if not (principal.has(Permission.CHILD_LINK) and child_id in principal.child_ids):
        raise Denied(NOT_GUARDIAN, reason="not_guardian", action=action, target_user_id=child_id)


# --------------------------------------------------------------------------- the audit trail


@dataclass(frozen=True)
class AuditScope:
    """Which events a reader of the audit trail may see."""

    all_schools: bool
    school_ids: frozenset[int] = frozenset()

    @property
    def actor_role(self) -> str:
        """The role the reader acts in, for the export's own audit event."""
        return Role.PLATFORM_ADMIN.value if self.all_schools else Role.SCHOOL_ADMIN.value

    @property
    def school_id(self) -> int | None:
        """The one school a school administrator reads, if just one."""
        if not self.all_schools and len(self.school_ids) == 1:
            return next(iter(self.school_ids))
        return None


def audit_scope(principal: Principal) -> AuditScope:
    """审计日志: the platform's administrators read everything, a school's its own school."""
    if principal.has(Permission.PLATFORM_AUDIT_VIEW):
        return AuditScope(all_schools=True)
    if principal.has(Permission.SCHOOL_AUDIT_VIEW) and principal.admin_school_ids:
        return AuditScope(all_schools=False, school_ids=frozenset(principal.admin_school_ids))
    raise Denied(reason="not_audit_reader")


# --------------------------------------------------------------------------- staff (issue 18)

PRIVILEGED_FAMILY = N_(
    "客服和平台管理员账号不能关联孩子，也不能为孩子修改密码。请用您本人的家长账号（非工作账号）操作。"
)


def check_family_act_by_staff(principal: Principal) -> None:
    """Agents and platform administrators neither link a child nor change a child's password
    with their privileged account: it would reach a child's account outside the hotline's
    checklist, hours and supervision. (Seeing and unlinking their links stays open.)"""
    if principal.user.is_agent or principal.user.is_platform_admin:
        raise Denied(PRIVILEGED_FAMILY, reason="privileged_family")


@dataclass(frozen=True)
class AgentCandidate:
    """What the platform knows of an account a platform administrator would make an agent."""

    is_pupil: bool  # a student somewhere, a linked child, or under 18 by the ID card
    other_roles: frozenset[Role] = frozenset()  # school roles, parent, platform administrator


def may_become_agent(candidate: AgentCandidate) -> bool:
    """客服: only an adult's account. A pupil's never; any other role only after the platform
    administrator has read the warning and confirmed (`needs_confirmation`)."""
    return not candidate.is_pupil


def agent_needs_confirmation(candidate: AgentCandidate) -> bool:
    """Whether appointing this account must be confirmed (it holds another role)."""
    return bool(candidate.other_roles)


def may_link_children(principal: Principal) -> bool:
    """Whether to offer 关联孩子 (agents and platform administrators: no; see above)."""
    return not (principal.user.is_agent or principal.user.is_platform_admin)


# -- two-step verification (issue 19) ---------------------------------------------------------


class FactorNeed(StrEnum):
    """Whether a person must, may, or may not hold a second factor."""

    REQUIRED = "required"
    OPTIONAL = "optional"
    NOT_OFFERED = "not_offered"


# The groups of roles the policy is set for (平台管理 → 两步验证策略), strongest first.
POLICY_GROUPS: dict[str, frozenset[Role]] = {
    "platform_admin": frozenset({Role.PLATFORM_ADMIN}),
    "agent": frozenset({Role.AGENT}),
    "school_admin": frozenset({Role.SCHOOL_ADMIN}),
    "teacher": frozenset({Role.TEACHER, Role.HOMEROOM_TEACHER, Role.GRADE_LEADER}),
    "parent": frozenset({Role.PARENT}),
    "student": frozenset({Role.STUDENT}),
}
# What no setting changes: administrators and agents must, pupils are not offered a factor.
FIXED_NEED: dict[str, FactorNeed] = {
    "platform_admin": FactorNeed.REQUIRED,
    "agent": FactorNeed.REQUIRED,
    "school_admin": FactorNeed.REQUIRED,
    "student": FactorNeed.NOT_OFFERED,
}
# The groups whose need the platform administrator chooses (必须 or 可选).
CHOSEN_NEED = ("teacher",)
# Groups never remembered nor sent a code by SMS, whatever is saved.
NO_REMEMBER_NO_SMS = frozenset({"platform_admin"})
_STRENGTH = [FactorNeed.NOT_OFFERED, FactorNeed.OPTIONAL, FactorNeed.REQUIRED]


@dataclass(frozen=True)
class RoleFactorRule:
    """What the policy says of one group of roles (saved, or from the settings)."""

    need: FactorNeed
    grace_days: int = 0
    remember_days: int = 0
    sms: bool = False


@dataclass(frozen=True)
class FactorPolicy:
    """What the policy says of one person."""

    need: FactorNeed
    grace_days: int = 0
    remember_days: int = 0  # 0: no 记住此设备
    sms: bool = False  # the second step may send a code to the bound phone


def second_factor_policy(
    roles: set[Role] | frozenset[Role],
    *,
    rules: dict[str, RoleFactorRule],
    school_requires_teachers: bool = False,
) -> FactorPolicy:
    """THE rule: does this person need, or may they have, a second factor, and how?

    Each group of roles the person holds (POLICY_GROUPS) has its rule: the platform's saved
    policy, else the environment settings (`rules`). Platform administrators, agents and
    school administrators are always required and pupils never offered one (FIXED_NEED); a
    teacher of a school that requires it (`school_requires_teachers`) is required even where
    the platform leaves it optional: a school tightens, never loosens.

    The strongest need decides (a school administrator who is also a parent is required);
    the grace period is the shortest of the requiring groups'; 记住此设备 and the SMS fallback
    need every offered group to allow them, and are never allowed a platform administrator.
    """
    held = [group for group, members in POLICY_GROUPS.items() if roles & members]
    needs: dict[str, FactorNeed] = {}
    for group in held:
        need = FIXED_NEED.get(group) or rules[group].need
        if group == "teacher" and school_requires_teachers:
            need = FactorNeed.REQUIRED
        needs[group] = need
    need = max(needs.values(), key=_STRENGTH.index, default=FactorNeed.NOT_OFFERED)
    if need is FactorNeed.NOT_OFFERED:
        return FactorPolicy(FactorNeed.NOT_OFFERED)
    offered = [group for group in held if needs[group] is not FactorNeed.NOT_OFFERED]
    requiring = [group for group in held if needs[group] is FactorNeed.REQUIRED]
    barred = bool(NO_REMEMBER_NO_SMS & set(held))
    return FactorPolicy(
        need,
        grace_days=min((rules[g].grace_days for g in requiring), default=0),
        remember_days=0 if barred else min(rules[g].remember_days for g in offered),
        sms=not barred and all(rules[g].sms for g in offered),
    )


FACTOR_RESET_DENIED = N_("您无权重置该账号的两步验证")


def may_reset_factors(principal: Principal, target: Principal) -> bool:
    """Who resets a lost second factor: the next authority up, never oneself.

    A platform administrator resets anyone's but their own (another platform administrator
    resets theirs); a school administrator resets a teacher's of a school they administer, when
    the teacher holds no administrative role (an administrator's goes to the platform).
    """
    if principal.user.id == target.user.id:
        return False
    if Role.PLATFORM_ADMIN in principal.roles:
        return True
    if Role.SCHOOL_ADMIN not in principal.roles:
        return False
    if target.roles & {Role.SCHOOL_ADMIN, Role.AGENT, Role.PLATFORM_ADMIN}:
        return False
    return Role.TEACHER in target.roles and bool(
        principal.admin_school_ids & target.member_school_ids
    )


def check_factor_reset(principal: Principal, target: Principal, *, action: str) -> None:
    """Refuse a second-factor reset that `may_reset_factors` does not allow (audited as a
    refused `action`, the caller's AuditAction.FACTOR_RESET)."""
    if not may_reset_factors(principal, target):
        raise Denied(
            FACTOR_RESET_DENIED,
            reason="factor_reset",
            action=action,
            target_user_id=target.user.id,
        )


# ------------------------------------------------------ authorised applications (issue 21)


class GrantAccess(StrEnum):
    """What a person may do with someone's authorised applications (授权管理)."""

    MANAGE = "manage"  # see them and withdraw them
    READ = "read"  # see them only


@dataclass(frozen=True)
class GrantOwner:
    """The facts about the person whose grants are asked for."""

    user_id: int
    is_student: bool
    school_ids: frozenset[int]
    under_14: bool


GRANTS_DENIED = N_("您无权查看该账号的应用授权")


def grants_access(principal: Principal, owner: GrantOwner) -> GrantAccess | None:
    """Who sees and withdraws the applications a person authorised.

    The person themselves manages their own. For a child under 14 a linked parent manages the
    child's too (PIPL art. 31: a minor under 14's personal information is handled with the
    guardian's consent, so the guardian can also withdraw it). A school administrator reads,
    never withdraws, the grants of a pupil of a school they administer. Nobody else.
    """
    if principal.user.id == owner.user_id:
        return GrantAccess.MANAGE
    if owner.under_14 and owner.user_id in principal.child_ids:
        return GrantAccess.MANAGE
    if owner.is_student and principal.admin_school_ids & owner.school_ids:
        return GrantAccess.READ
    return None


def check_grants(principal: Principal, owner: GrantOwner, *, manage: bool) -> GrantAccess:
    """Refuse 授权管理 of someone else's account beyond `grants_access` (audited)."""
    access = grants_access(principal, owner)
    if access is None or (manage and access is not GrantAccess.MANAGE):
        raise Denied(
            GRANTS_DENIED,
            reason="oidc_grants",
            action=ACCESS_DENIED,
            target_user_id=owner.user_id,
        )
    return access


# ------------------------------------------------------------------ 扫码登录卡 (badges, issue 24)

BADGES_DENIED = N_("您无权管理该班级的扫码登录卡")


def may_print_badges(principal: Principal, school_class: ClassScope) -> bool:
    """打印、挂失扫码登录卡: the class's homeroom teacher, or an administrator of its school
    (who manage the class); the badge itself is for a pupil in the class (the caller checks)."""
    return may_manage_class(principal, school_class)


def check_badge_printer(principal: Principal, school_class: ClassScope, *, action: str) -> None:
    """Refuse printing or revoking a class's badges to anyone `may_print_badges` does not
    allow (audited as the refused `action`)."""
    if not may_print_badges(principal, school_class):
        raise Denied(
            BADGES_DENIED,
            reason="not_badge_printer",
            action=action,
            school_id=school_class.school_id,
            detail={"class_id": school_class.id},
        )


def may_sign_in_with_badge(account: AccountFacts, roles: set[Role]) -> bool:
    """Whom a badge signs in: a pupil only — an active student somewhere, with no adult role
    (parent, teacher, administrator, agent; nor 18 by the ID card). An adult's account is
    never opened by a card anyone can pick up."""
    return account.is_child and not account.is_adult and roles <= {Role.STUDENT}


# ------------------------------------------------------- OneRoster rostering (issue 22)

ROSTER_NOT_GRANTED = N_("该应用未获准读取这所学校的名册")
ROSTER_GRANTER_DENIED = N_("您无权管理应用读取这所学校名册的授权")


def check_roster_school(granted: frozenset[int], school_id: int, *, client_id: str) -> None:
    """OneRoster: an application reads a school's roster (its org, classes, people and
    enrollments) only if the school was granted to it; every collection is limited to the
    granted schools, and a school or class named in the URL outside them is refused."""
    if school_id not in granted:
        raise Denied(
            ROSTER_NOT_GRANTED,
            reason="oneroster_not_granted",
            school_id=school_id,
            detail={"client_id": client_id},
        )


def may_grant_roster(principal: Principal, school_id: int) -> bool:
    """Who decides which applications read a school's roster: a platform administrator (on
    the application's page) or the school's own administrator (from its console)."""
    return principal.has(Permission.PLATFORM_CLIENTS_MANAGE) or may_manage_school(
        principal, school_id
    )


def check_roster_granter(principal: Principal, school_id: int) -> None:
    """Refuse granting or withdrawing a school's roster beyond `may_grant_roster`."""
    if not may_grant_roster(principal, school_id):
        raise Denied(ROSTER_GRANTER_DENIED, reason="oneroster_granter", school_id=school_id)

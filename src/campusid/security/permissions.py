"""Who may do what: permissions, the roles that hold them, and a person's roles.

Permissions are named `<scope>:<resource>:<action>`; roles map to permissions in one table.
Object-level checks (is this the homeroom teacher of *this* student's class?) live in
`security.authz`, which asks this table first and the object's scope second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid.accounts.models import SchoolMembership, SchoolRole, User
from campusid.classes.models import ClassTeacher, GradeLeader
from campusid.families.models import ParentLink
from campusid.i18n import N_


class Role(StrEnum):
    """Every role a person can hold."""

    STUDENT = "student"
    PARENT = "parent"
    TEACHER = "teacher"
    HOMEROOM_TEACHER = "homeroom_teacher"
    GRADE_LEADER = "grade_leader"
    SCHOOL_ADMIN = "school_admin"
    AGENT = "agent"
    PLATFORM_ADMIN = "platform_admin"

    @property
    def label(self) -> str:
        """The Chinese label."""
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.STUDENT: N_("学生"),
    Role.PARENT: N_("家长"),
    Role.TEACHER: N_("教师"),
    Role.HOMEROOM_TEACHER: N_("班主任"),
    Role.GRADE_LEADER: N_("年级组长"),
    Role.SCHOOL_ADMIN: N_("学校管理员"),
    Role.AGENT: N_("客服"),
    Role.PLATFORM_ADMIN: N_("平台管理员"),
}


class Permission(StrEnum):
    """Every permission of the platform."""

    CLASS_VIEW = "class:members:view"
    CLASS_MANAGE = "class:members:manage"
    CLASS_RESET_PASSWORD = "class:password:reset"
    CHILD_LINK = "family:child:link"
    CHILD_PASSWORD_CHANGE = "family:password:change"
    GRADE_VIEW = "grade:classes:view"
    SCHOOL_MANAGE = "school:organisation:manage"
    SCHOOL_MEMBERS_MANAGE = "school:members:manage"
    SCHOOL_AUDIT_VIEW = "school:audit:view"
    SCHOOL_RESET_PASSWORD = "school:password:reset"
    SERVICEDESK_LOOKUP = "servicedesk:account:lookup"
    SERVICEDESK_RESET = "servicedesk:password:reset"
    SERVICEDESK_SUPERVISE = "servicedesk:tickets:supervise"  # servicedesk: supervisor view
    PLATFORM_AGENTS_MANAGE = "platform:agents:manage"
    PLATFORM_AUDIT_VIEW = "platform:audit:view"
    # oidc: the registry of applications that sign people in through campusid
    PLATFORM_CLIENTS_MANAGE = "platform:clients:manage"
    # recovery: the homeroom teacher approves a student's 找回密码 request
    RECOVERY_APPROVE = "class:recovery:approve"
    # org counts: a district's organisation page (its schools and their counts)
    DISTRICT_VIEW = "platform:districts:view"
    # onboarding (issue 16): districts, schools, their administrators, suspending a school
    PLATFORM_SCHOOLS_MANAGE = "platform:schools:manage"


# What every signed-in person may do (their own password, profile and sign-in history) needs
# no permission: those pages act only on the signed-in account itself.
_EVERYONE: frozenset[Permission] = frozenset()

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.STUDENT: frozenset(_EVERYONE),
    Role.PARENT: frozenset(_EVERYONE | {Permission.CHILD_LINK, Permission.CHILD_PASSWORD_CHANGE}),
    Role.TEACHER: frozenset(_EVERYONE | {Permission.CLASS_VIEW}),
    Role.HOMEROOM_TEACHER: frozenset(
        _EVERYONE
        | {
            Permission.CLASS_VIEW,
            Permission.CLASS_MANAGE,
            Permission.CLASS_RESET_PASSWORD,
            Permission.RECOVERY_APPROVE,  # recovery
        }
    ),
    Role.GRADE_LEADER: frozenset(_EVERYONE | {Permission.CLASS_VIEW, Permission.GRADE_VIEW}),
    Role.SCHOOL_ADMIN: frozenset(
        _EVERYONE
        | {
            Permission.CLASS_VIEW,
            Permission.CLASS_MANAGE,
            Permission.CLASS_RESET_PASSWORD,
            Permission.GRADE_VIEW,
            Permission.SCHOOL_MANAGE,
            Permission.SCHOOL_MEMBERS_MANAGE,
            Permission.SCHOOL_AUDIT_VIEW,
            Permission.SCHOOL_RESET_PASSWORD,
        }
    ),
    Role.AGENT: frozenset(
        _EVERYONE
        | {
            Permission.SERVICEDESK_LOOKUP,
            Permission.SERVICEDESK_RESET,
        }
    ),
    Role.PLATFORM_ADMIN: frozenset(
        _EVERYONE
        | {
            Permission.PLATFORM_AGENTS_MANAGE,
            Permission.PLATFORM_AUDIT_VIEW,
            Permission.SERVICEDESK_SUPERVISE,  # servicedesk
            Permission.PLATFORM_CLIENTS_MANAGE,  # oidc
            Permission.DISTRICT_VIEW,  # org counts: district pages
            Permission.PLATFORM_SCHOOLS_MANAGE,  # onboarding: 平台管理 → 学校
        }
    ),
}


@dataclass
class Principal:
    """A signed-in person with the roles they hold and where they hold them."""

    user: User
    roles: set[Role] = field(default_factory=set)
    admin_school_ids: set[int] = field(default_factory=set)
    member_school_ids: set[int] = field(default_factory=set)
    taught_class_ids: set[int] = field(default_factory=set)
    homeroom_class_ids: set[int] = field(default_factory=set)
    led_grade_ids: set[int] = field(default_factory=set)
    child_ids: set[int] = field(default_factory=set)
    # Schools where the person is an administrator or teacher but the school is suspended (停用):
    # those memberships give no role, class or grade here (see `principal_for`).
    suspended_school_ids: set[int] = field(default_factory=set)

    @property
    def permissions(self) -> frozenset[Permission]:
        """The union of the permissions of every role held."""
        held: set[Permission] = set(_EVERYONE)
        for role in self.roles:
            held |= ROLE_PERMISSIONS[role]
        return frozenset(held)

    def has(self, permission: Permission) -> bool:
        """Whether any held role grants the permission (the object check comes after)."""
        return permission in self.permissions

    @property
    def main_role(self) -> Role | None:
        """The role shown beside the name: the highest held."""
        for role in (
            Role.PLATFORM_ADMIN,
            Role.AGENT,
            Role.SCHOOL_ADMIN,
            Role.GRADE_LEADER,
            Role.HOMEROOM_TEACHER,
            Role.TEACHER,
            Role.PARENT,
            Role.STUDENT,
        ):
            if role in self.roles:
                return role
        return None


def principal_for(db: Session, user: User) -> Principal:
    """Load a person's roles (a handful of indexed queries, once per request).

    A suspended school (停用) gives its administrators and teachers nothing: no admin role, no
    class, no grade. Its students and parents keep theirs, so pupils still sign in and use
    their accounts; the school's staff are told why the console refuses them.
    """
    # Imported here: org's models import the authority module, which imports this one.
    from campusid.org.models import Campus, Grade, School, SchoolClass, StageUnit

    principal = Principal(user=user)
    if user.is_platform_admin:
        principal.roles.add(Role.PLATFORM_ADMIN)
    if user.is_agent:
        principal.roles.add(Role.AGENT)
    staff_roles = {SchoolRole.SCHOOL_ADMIN, SchoolRole.TEACHER}
    for membership, suspended_at in db.execute(
        select(SchoolMembership, School.suspended_at)
        .join(School, School.id == SchoolMembership.school_id)
        .where(
            SchoolMembership.user_id == user.id,
            SchoolMembership.active.is_(True),
        )
    ):
        if suspended_at is not None and membership.role in staff_roles:
            principal.suspended_school_ids.add(membership.school_id)
            continue
        principal.member_school_ids.add(membership.school_id)
        if membership.role is SchoolRole.SCHOOL_ADMIN:
            principal.roles.add(Role.SCHOOL_ADMIN)
            principal.admin_school_ids.add(membership.school_id)
        elif membership.role is SchoolRole.STUDENT:
            principal.roles.add(Role.STUDENT)
        elif membership.role is SchoolRole.TEACHER:
            principal.roles.add(Role.TEACHER)
        elif membership.role is SchoolRole.PARENT:
            principal.roles.add(Role.PARENT)
    for class_id, is_homeroom in db.execute(
        select(ClassTeacher.class_id, ClassTeacher.is_homeroom)
        .join(SchoolClass, SchoolClass.id == ClassTeacher.class_id)
        .join(School, School.id == SchoolClass.school_id)
        .where(ClassTeacher.teacher_id == user.id, School.suspended_at.is_(None))
    ):
        principal.roles.add(Role.TEACHER)
        principal.taught_class_ids.add(class_id)
        if is_homeroom:
            principal.roles.add(Role.HOMEROOM_TEACHER)
            principal.homeroom_class_ids.add(class_id)
    principal.led_grade_ids = set(
        db.scalars(
            select(GradeLeader.grade_id)
            .join(Grade, Grade.id == GradeLeader.grade_id)
            .join(StageUnit, StageUnit.id == Grade.stage_id)
            .join(Campus, Campus.id == StageUnit.campus_id)
            .join(School, School.id == Campus.school_id)
            .where(GradeLeader.teacher_id == user.id, School.suspended_at.is_(None))
        )
    )
    if principal.led_grade_ids:
        principal.roles.add(Role.GRADE_LEADER)
    principal.child_ids = set(
        db.scalars(select(ParentLink.child_id).where(ParentLink.parent_id == user.id))
    )
    # families: a parent is one with a child linked, or one who signed up (or declared) as a parent.
    if principal.child_ids or user.is_parent:
        principal.roles.add(Role.PARENT)
    return principal

"""Who may do what: permissions, the roles that hold them, and a person's roles.

Permissions are named `<scope>:<resource>:<action>`; roles map to permissions in one table.
Object-level checks (is this the homeroom teacher of *this* student's class?) live in
`security.authz`, which asks this table first and the object's scope second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from campusid.i18n import N_

if TYPE_CHECKING:
    # The type only: the base names the signed-in person's class, it does not import accounts.
    from campusid.accounts.models import User


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
    # issue 20: the hotline's service calendar (holidays and 调休 days per year)
    PLATFORM_CALENDAR_MANAGE = "platform:calendar:manage"
    # issue 20: the outbox's dead letters, seen and retried
    PLATFORM_OUTBOX_MANAGE = "platform:outbox:manage"
    # issue 19: 平台管理 → 两步验证策略 (the second-factor policy per role)
    PLATFORM_TWO_STEP_MANAGE = "platform:two_step:manage"
    # issue 23: 平台管理 → 用户协议和隐私政策 (publishing a new version of either text)
    PLATFORM_LEGAL_MANAGE = "platform:legal:manage"


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
            Permission.PLATFORM_CALENDAR_MANAGE,  # issue 20: 平台管理 → 服务日历
            Permission.PLATFORM_OUTBOX_MANAGE,  # issue 20: 消息投递
            Permission.PLATFORM_TWO_STEP_MANAGE,  # issue 19: 两步验证策略
            Permission.PLATFORM_LEGAL_MANAGE,  # issue 23: 用户协议和隐私政策
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
    # issue 23: the homeroom classes whose school lets the homeroom teacher approve 找回密码
    # (学校设置 → 找回密码时允许由班主任确认身份), and the classes a pupil is in.
    recovery_class_ids: set[int] = field(default_factory=set)
    student_class_ids: set[int] = field(default_factory=set)
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


# A domain that holds roles registers how it loads them (accounts: school memberships;
# classes: taught and homeroom classes, led grades; families: children). See campusid.domains.
RoleLoader = Callable[[Session, "Principal"], None]
_role_loaders: dict[str, RoleLoader] = {}


def register_role_loader(name: str, loader: RoleLoader) -> None:
    """Add (or replace) the loader of one domain's roles; they run in the order registered."""
    _role_loaders[name] = loader


def principal_for(db: Session, user: User) -> Principal:
    """Load a person's roles (a handful of indexed queries, once per request), through the
    loaders the domains register (campusid.domains), in the order registered.

    The last one, org's, takes away what a suspended school (停用) gave its administrators and
    teachers: no admin role, no class, no grade there. Its students and parents keep theirs.
    """
    principal = Principal(user=user)
    if user.is_platform_admin:
        principal.roles.add(Role.PLATFORM_ADMIN)
    if user.is_agent:
        principal.roles.add(Role.AGENT)
    for loader in _role_loaders.values():
        loader(db, principal)
    # families: a parent is one with a child linked, or one who signed up (or declared) as a parent.
    if principal.child_ids or user.is_parent:
        principal.roles.add(Role.PARENT)
    return principal

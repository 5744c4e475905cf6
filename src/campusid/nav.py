"""The navigation: each entry shown to those whose roles reach it, once its page exists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from campusid.i18n import N_
from campusid.security.permissions import Principal, Role


@dataclass(frozen=True)
class NavItem:
    """A link in the top navigation and on the personal space."""

    label: str
    url: str
    shown_to: Callable[[Principal], bool]


NAV: list[NavItem] = [
    NavItem(N_("任教班级"), "/teaching", lambda p: bool(p.taught_class_ids)),
    NavItem(N_("班级"), "/m/classes", lambda p: bool(p.taught_class_ids)),
    NavItem(N_("我的孩子"), "/me/children", lambda p: Role.PARENT in p.roles),
    # classes (issue 4): students and parents ask to join a class by its code.
    NavItem(
        N_("加入班级"),
        "/join",
        lambda p: (
            not p.taught_class_ids
            and not p.admin_school_ids
            and not {Role.AGENT, Role.PLATFORM_ADMIN} & p.roles
        ),  # issue 9: not for platform staff
    ),
    NavItem(N_("学校管理"), "/school", lambda p: Role.SCHOOL_ADMIN in p.roles),
    NavItem(
        N_("审计日志"), "/audit", lambda p: bool({Role.SCHOOL_ADMIN, Role.PLATFORM_ADMIN} & p.roles)
    ),
    NavItem(N_("客服工作台"), "/servicedesk", lambda p: Role.AGENT in p.roles),
    NavItem(N_("平台管理"), "/platform", lambda p: Role.PLATFORM_ADMIN in p.roles),
    NavItem(N_("账号安全"), "/account/security", lambda p: True),
    NavItem(N_("我"), "/me", lambda p: True),  # families: the app's 我 page
    # recovery: students' 找回密码 requests awaiting their homeroom teacher
    NavItem(N_("找回密码审核"), "/recovery/approvals", lambda p: bool(p.homeroom_class_ids)),
]


def items_for(principal: Principal | None, existing_paths: set[str]) -> list[NavItem]:
    """The entries this person may see, among the pages the app serves."""
    if principal is None:
        return []
    return [item for item in NAV if item.url in existing_paths and item.shown_to(principal)]

"""The navigation (issue 23): one list of entries, drawn three ways.

- the desktop's top navigation (`desktop`): the role's console pages, never a phone page;
- the phone's tab bar (`phone`): 首页, the role's phone pages, 消息, 我 (at most five tabs);
- the personal space's 常用功能 (`tile`): every page of the role, so a phone reaches the
  desktop entries from 首页.

Each entry is shown to those whose roles reach it (`shown_to`, asking `security.authz` where a
rule decides), once its page exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from campusid.i18n import N_
from campusid.security import authz
from campusid.security.permissions import Principal, Role


@dataclass(frozen=True)
class NavItem:
    """A link of the navigation: where it is drawn, and to whom."""

    label: str
    url: str
    shown_to: Callable[[Principal], bool]
    desktop: bool = True  # in the desktop's top navigation
    phone: bool = False  # a tab of the phone's tab bar
    tile: bool = True  # among the personal space's 常用功能
    phone_label: str = ""  # the tab's word, where it differs (个人空间 → 首页)
    icon: str = ""  # its Lucide icon (static/vendor/lucide/icons.svg, scripts/build_icons.py)
    hint: str = ""  # one line under the tile

    @property
    def tab_label(self) -> str:
        """The word under the tab."""
        return self.phone_label or self.label


def _teaches(p: Principal) -> bool:
    return bool(p.taught_class_ids)


def _may_join_a_class(p: Principal) -> bool:
    """加入班级 (issue 4) where it makes sense: a parent, or a pupil in no class yet; never
    staff (issue 9) nor a teacher (their classes come from the school)."""
    if {Role.AGENT, Role.PLATFORM_ADMIN} & p.roles:
        return False
    if Role.PARENT in p.roles:
        return True  # a parent asks to join their child's class
    staff = {Role.TEACHER, Role.HOMEROOM_TEACHER, Role.GRADE_LEADER, Role.SCHOOL_ADMIN}
    if staff & p.roles or p.taught_class_ids or p.admin_school_ids:
        return False
    if Role.STUDENT in p.roles:
        return not p.student_class_ids
    return True  # a newcomer with no role yet


NAV: list[NavItem] = [
    NavItem(
        N_("个人空间"),
        "/",
        lambda p: True,
        phone=True,
        tile=False,
        phone_label=N_("首页"),
        icon="house",
    ),
    NavItem(N_("任教班级"), "/teaching", _teaches, icon="book-open"),
    # The phone's class pages: a tab, never on the desktop (任教班级 is the desktop's).
    NavItem(
        N_("班级"), "/m/classes", _teaches, desktop=False, phone=True, tile=False, icon="users"
    ),
    NavItem(
        N_("我的孩子"),
        "/me/children",
        lambda p: Role.PARENT in p.roles,
        phone=True,
        icon="baby",
    ),
    NavItem(
        N_("加入班级"),
        "/join",
        _may_join_a_class,
        icon="user-plus",
        hint=N_("班级编码由班主任提供，输入后申请加入，班主任审核通过即可。"),
    ),
    NavItem(N_("年级"), "/grade", lambda p: bool(p.led_grade_ids), icon="layers"),
    NavItem(N_("学校管理"), "/school", lambda p: Role.SCHOOL_ADMIN in p.roles, icon="school"),
    NavItem(
        N_("审计日志"),
        "/audit",
        lambda p: bool({Role.SCHOOL_ADMIN, Role.PLATFORM_ADMIN} & p.roles),
        icon="scroll-text",
    ),
    NavItem(N_("客服工作台"), "/servicedesk", lambda p: Role.AGENT in p.roles, icon="headset"),
    NavItem(
        N_("平台管理"), "/platform", lambda p: Role.PLATFORM_ADMIN in p.roles, icon="building-2"
    ),
    # recovery: students' 找回密码 requests awaiting their homeroom teacher, where the school
    # lets the homeroom teacher approve them
    NavItem(
        N_("找回密码审核"),
        "/recovery/approvals",
        authz.may_approve_recoveries,
        icon="user-round-check",
    ),
    NavItem(N_("账号安全"), "/account/security", lambda p: True, icon="shield-check"),
    # The desktop shows 消息 (with its badge) at the right of the header, and 我's links
    # (修改密码, 账号安全, 退出登录) in the header and on the personal space.
    NavItem(
        N_("消息"),
        "/notices",
        lambda p: True,
        desktop=False,
        phone=True,
        tile=False,
        icon="message-square",
    ),
    NavItem(N_("我"), "/me", lambda p: True, desktop=False, phone=True, tile=False, icon="user"),
]


def items_for(principal: Principal | None, existing_paths: set[str]) -> list[NavItem]:
    """The entries this person may see, among the pages the app serves."""
    if principal is None:
        return []
    return [item for item in NAV if item.url in existing_paths and item.shown_to(principal)]


def desktop_items(items: list[NavItem]) -> list[NavItem]:
    """The desktop's top navigation."""
    return [item for item in items if item.desktop]


def phone_items(items: list[NavItem]) -> list[NavItem]:
    """The phone's tab bar."""
    return [item for item in items if item.phone]


def tile_items(items: list[NavItem]) -> list[NavItem]:
    """The personal space's 常用功能."""
    return [item for item in items if item.tile]


def current(items: list[NavItem], path: str) -> str:
    """The entry the page belongs to: the longest url that is the path or a folder of it."""
    if path == "/":
        return "/"
    found = ""
    for item in items:
        inside = path == item.url or path.startswith(item.url + "/")
        if item.url != "/" and inside and len(item.url) > len(found):
            found = item.url
    return found

"""The navigation of every role (issue 23): what the desktop's top navigation and the phone's
tab bar show, what they must not show, the pupil's card, 年级 and 找回密码审核."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from sqlalchemy import delete, select
from tests.support.http import post_form, sign_in

from campusid.audit.models import AuditEvent
from campusid.classes.models import ClassStudent, GradeLeader

# Every entry the navigation can hold, by its link.
DESKTOP_URLS = {
    "/",
    "/teaching",
    "/me/children",
    "/join",
    "/grade",
    "/school",
    "/audit",
    "/servicedesk",
    "/platform",
    "/recovery/approvals",
    "/account/security",
}
PHONE_URLS = {"/", "/m/classes", "/me/children", "/notices", "/me"}


class _Links(HTMLParser):
    """The links of the top navigation, the tab bar, the tiles and the tree, with their text."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, list[tuple[str, str]]] = {
            "topnav": [],
            "tabbar": [],
            "tiles": [],
            "summary": [],
        }
        self._open: list[str] = []  # the enclosing areas we track
        self._depth: list[tuple[str, str]] = []  # (tag, area) of every open tracked element
        self._link: tuple[str, str] | None = None  # (area, href)
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        classes = (values.get("class") or "").split()
        area = next((name for name in ("topnav", "tabbar", "tiles") if name in classes), None)
        if tag == "summary":
            area = "summary"
        if area:
            self._depth.append((tag, area))
        if tag == "a" and self._depth:
            self._link = (self._depth[-1][1], values.get("href") or "")
            self._text = ""

    def handle_data(self, data: str) -> None:
        if self._link:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._link:
            area, href = self._link
            self.found[area].append((href, " ".join(self._text.split())))
            self._link = None
        elif self._depth and self._depth[-1][0] == tag:
            self._depth.pop()


def links(html: str) -> dict[str, list[tuple[str, str]]]:
    parser = _Links()
    parser.feed(html)
    return parser.found


def _home(client) -> dict[str, list[tuple[str, str]]]:  # type: ignore[no-untyped-def]
    page = client.get("/")
    assert page.status_code == 200
    return links(page.text)


# login -> (desktop labels in order, phone tab labels in order)
EXPECTED = {
    "lixiaoyao": (["个人空间", "账号安全"], ["首页", "消息", "我"]),
    "p_lidaniang": (
        ["个人空间", "我的孩子", "加入班级", "账号安全"],
        ["首页", "我的孩子", "消息", "我"],
    ),
    "zhaoshuxue": (["个人空间", "任教班级", "账号安全"], ["首页", "班级", "消息", "我"]),
    "chenxiaokai": (["个人空间", "任教班级", "账号安全"], ["首页", "班级", "消息", "我"]),
    "xx_admin": (["个人空间", "学校管理", "审计日志", "账号安全"], ["首页", "消息", "我"]),
    "kefu01": (["个人空间", "客服工作台", "账号安全"], ["首页", "消息", "我"]),
    "pt_admin": (["个人空间", "审计日志", "平台管理", "账号安全"], ["首页", "消息", "我"]),
}


@pytest.mark.parametrize("login", list(EXPECTED))
def test_each_role_has_its_desktop_and_phone_navigation(client, world, login) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, login)
    found = _home(client)
    desktop, phone = EXPECTED[login]
    assert [text for _, text in found["topnav"]] == desktop
    assert [text for _, text in found["tabbar"]] == phone
    # The desktop never shows a phone page nor the phone's 我; the tab bar never a console.
    desktop_urls = {href for href, _ in found["topnav"]}
    assert desktop_urls <= DESKTOP_URLS
    assert not desktop_urls & {"/m/classes", "/me", "/notices"}
    assert {href for href, _ in found["tabbar"]} <= PHONE_URLS
    # A phone reaches every desktop entry from 首页 (the tiles), and each link opens.
    tiles = {href for href, _ in found["tiles"]}
    assert desktop_urls - {"/"} <= tiles
    for href in desktop_urls | {href for href, _ in found["tabbar"]}:
        assert client.get(href, follow_redirects=True).status_code == 200, href


def test_a_pupil_sees_their_school_class_and_homeroom_teacher(client, world) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, "lixiaoyao")
    page = client.get("/").text
    assert "我的学校和班级" in page
    assert "之江汇学校" in page and "五年级1班" in page and "陈小凯" in page
    # In a class already: no 加入班级 anywhere.
    assert "/join" not in {href for area in links(page).values() for href, _ in area}


def test_a_pupil_in_no_class_is_offered_to_join_one_with_a_hint(client, db, world) -> None:  # type: ignore[no-untyped-def]
    db.execute(delete(ClassStudent).where(ClassStudent.student_id == world["zhoubotong"].id))
    db.commit()
    sign_in(client, "zhoubotong")
    page = client.get("/").text
    found = links(page)
    assert ("/join", "加入班级") in found["topnav"]
    assert ("/join", "加入班级") in found["tiles"]
    assert "班级编码由班主任提供" in page  # what a class code is, under the tile
    assert "之江汇学校" in page and "尚未分班" in page
    join = client.get("/join")
    assert join.status_code == 200 and "班级编码由班主任提供" in join.text


def test_staff_are_not_offered_to_join_a_class(client, world) -> None:  # type: ignore[no-untyped-def]
    for login in ("zhaoshuxue", "xx_admin", "kefu01", "pt_admin"):
        fresh = client
        fresh.cookies.clear()
        sign_in(fresh, login)
        found = _home(fresh)
        assert "/join" not in {href for area in found.values() for href, _ in area}, login


def test_approvals_are_hidden_and_refused_while_the_school_has_them_off(client, db, world) -> None:  # type: ignore[no-untyped-def]
    assert not world.school.allow_teacher_recovery  # the demo school's default
    sign_in(client, "chenxiaokai")
    found = _home(client)
    assert "/recovery/approvals" not in {href for area in found.values() for href, _ in area}
    refused = client.get("/recovery/approvals")
    assert refused.status_code == 403
    assert "未开启「找回密码时允许由班主任确认身份」" in refused.text
    assert post_form(client, "/recovery/approvals/1/approve").status_code == 403
    db.expire_all()
    refusals = db.scalars(
        select(AuditEvent).where(
            AuditEvent.actor_id == world["chenxiaokai"].id, AuditEvent.outcome == "denied"
        )
    )
    assert [e.detail.get("reason") for e in refusals] == ["teacher_recovery_off"] * 2


def test_approvals_are_linked_once_the_school_turns_them_on(client, db, world) -> None:  # type: ignore[no-untyped-def]
    world.school.allow_teacher_recovery = True
    db.commit()
    sign_in(client, "chenxiaokai")
    found = _home(client)
    assert ("/recovery/approvals", "找回密码审核") in found["topnav"]
    assert "/recovery/approvals" not in {href for href, _ in found["tabbar"]}
    assert client.get("/recovery/approvals").status_code == 200
    # A subject teacher of the same school has no such link: they head no class.
    client.cookies.clear()
    sign_in(client, "zhaoshuxue")
    assert "/recovery/approvals" not in {href for href, _ in _home(client)["topnav"]}
    assert client.get("/recovery/approvals").status_code == 403


def test_a_grade_leader_reaches_their_grade_and_its_classes(client, db, world) -> None:  # type: ignore[no-untyped-def]
    db.add(GradeLeader(grade_id=world.class51.grade_id, teacher_id=world["zhaoshuxue"].id))
    db.commit()
    sign_in(client, "zhaoshuxue")
    found = _home(client)
    assert [text for _, text in found["topnav"]] == ["个人空间", "任教班级", "年级", "账号安全"]
    grade = client.get("/grade")
    assert grade.status_code == 200
    school_id = world.school.id
    for school_class in (world.class51, world.class52):
        url = f"/school/{school_id}/classes/{school_class.id}"
        assert f'href="{url}"' in grade.text
        assert client.get(url).status_code == 200
    grade_url = f"/school/{school_id}/grades/{world.class51.grade_id}"
    assert f'href="{grade_url}"' in grade.text
    assert client.get(grade_url).status_code == 200


@pytest.mark.parametrize("login", ["lixiaoyao", "chenxiaokai", "xx_admin", "pt_admin"])
def test_who_leads_no_grade_is_refused_the_grade_page(client, world, login) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, login)
    refused = client.get("/grade")
    assert refused.status_code == 403
    assert "您不是年级组长" in refused.text
    assert "/grade" not in {href for href, _ in _home(client)["topnav"]}


def test_the_platform_home_links_the_applications(client, world) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, "pt_admin")
    page = client.get("/platform")
    assert page.status_code == 200
    assert 'href="/platform/clients"' in page.text and "应用接入" in page.text


def test_each_class_of_the_school_tree_links_its_management_and_resets(client, world) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, "xx_admin")
    page = client.get(f"/school/{world.school.id}")
    assert page.status_code == 200
    found = links(page.text)
    for school_class in (world.class51, world.class52):
        manage = f"/classes/{school_class.id}/manage"
        reset = f"/classes/{school_class.id}/manage/students"
        assert f'href="{manage}"' in page.text and f'href="{reset}"' in page.text
        assert manage not in {href for href, _ in found["summary"]}
        assert client.get(manage, follow_redirects=True).status_code == 200
        assert "重置密码" in client.get(reset).text

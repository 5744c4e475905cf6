"""Every page, as each kind of user opens it, on a desktop and on a phone.

Not a scenario: a walk through the pages that nothing changes, so a reviewer sees the whole
product in artifacts/e2e/ (each page on a desktop and a phone, in Chinese and in English) and
every page passes the checks in `shots` (labelled fields, named controls, no style attributes,
no sideways scrolling on a phone, no CSP violation, no serious or critical axe-core violation).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from campusid.accounts.models import User
from campusid.demo import DEMO_PASSWORD
from campusid.i18n import COOKIE_NAME
from campusid.org.models import SchoolClass
from tests.e2e.conftest import DESKTOP, PHONE, new_page, sign_in


def _ids(live_server: Any) -> dict[str, int]:
    with live_server.session() as db:
        users = {row.username: row.id for row in db.execute(select(User.username, User.id))}
        class51 = db.scalar(select(SchoolClass.id).where(SchoolClass.class_code == "gu22cm"))
    return {"class": int(class51 or 0), **users}


def _tour(live_server, browser, shots, login, table) -> None:  # type: ignore[no-untyped-def]
    """Each page of the table ("name path" lines) on a desktop and on a phone, in Chinese and
    in English (issue 23), signed in once as `login` (None: signed out)."""
    desktop = new_page(browser, DESKTOP)
    if login:
        sign_in(desktop, live_server.url, login, DEMO_PASSWORD)
    phone = new_page(browser, PHONE, storage_state=desktop.context.storage_state())
    host = urlsplit(live_server.url).hostname
    pages = [line.split() for line in table.strip().splitlines()]
    for language in ("zh_CN", "en"):
        cookie = {"name": COOKIE_NAME, "value": language, "domain": host, "path": "/"}
        for page in (desktop, phone):
            page.context.add_cookies([cookie])
        for name, path in pages:
            for page, suffix in ((desktop, "desktop"), (phone, "phone")):
                response = page.goto(live_server.url + path)
                assert response is not None and response.status < 500, path
                assert page.locator("html").get_attribute("lang") == language.replace("_", "-")
                shots(page, f"{name}-{suffix}-{language}")
    desktop.context.close()
    phone.context.close()


def test_pages_before_sign_in(live_server, browser, shots):
    _tour(
        live_server,
        browser,
        shots,
        None,
        """
        login                /login
        recovery-phone       /recovery?way=phone
        recovery-email       /recovery?way=email
        recovery-relation    /recovery?way=relation
        signup               /signup
        terms                /terms
        privacy              /privacy
        not-found            /no-such-page
        """,
    )


def test_pages_of_a_homeroom_teacher(live_server, browser, shots):
    ids = _ids(live_server)
    web = f"/classes/{ids['class']}"
    app = f"/m/classes/{ids['class']}"
    student = f"{app}/students/{ids['lixiaoyao']}"
    _tour(
        live_server,
        browser,
        shots,
        "chenxiaokai",
        f"""
        space                /
        teaching             /teaching
        class-home           {web}
        manage-students      {web}/manage/students
        manage-teachers      {web}/manage/teachers
        manage-requests      {web}/manage/requests
        manage-search        {web}/manage/search?code=gu22cm
        manage-positions     {web}/manage/positions
        student-add          {web}/manage/students/add
        student-edit         {web}/manage/students/{ids["lixiaoyao"]}/edit
        app-classes          /m/classes
        app-class            {app}
        app-members          {app}/members
        app-invite           {app}/invite
        app-student          {student}
        app-reset-confirm    {student}/reset
        app-remove-confirm   {student}/remove
        app-message          {student}/message
        recovery-approvals   /recovery/approvals
        me                   /me
        notices              /notices
        password             /account/password
        security             /account/security
        """,
    )


def test_pages_of_a_parent_and_a_student(live_server, browser, shots):
    child = f"/me/children/{_ids(live_server)['lixiaoyao']}"
    _tour(
        live_server,
        browser,
        shots,
        "p_lidaniang",
        f"""
        space-consent        /
        consent              /consent
        me                   /me
        children             /me/children
        child                {child}
        child-password       {child}/password
        link                 /me/children/link
        join                 /join
        """,
    )
    _tour(live_server, browser, shots, "p_zhoujia", "no-children /me/children")
    _tour(
        live_server,
        browser,
        shots,
        "lixiaoyao",
        """
        student-space        /
        student-me           /me
        join-code            /join?code=gu22cm
        """,
    )


def test_pages_of_administrators_and_agents(live_server, browser, shots):
    _tour(
        live_server,
        browser,
        shots,
        "pt_admin",
        """
        platform             /platform
        agents               /platform/agents
        clients              /platform/clients
        client-new           /platform/clients/new
        supervision          /servicedesk/supervision
        calendar             /platform/calendar
        legal                /platform/legal
        legal-edit           /platform/legal/privacy
        """,
    )
    _tour(live_server, browser, shots, "kefu01", "servicedesk /servicedesk\noutbox /dev/outbox")
    ids = _ids(live_server)
    pupil = ids["lixiaoyao"]
    _tour(
        live_server,
        browser,
        shots,
        "xx_admin",
        f"""
        school               /school
        school-class         /school/1/classes/{ids["class"]}
        student-member       /school/1/members/{pupil}
        quick-create         /school/1/quick-create
        members              /school/1/teachers
        roster               /school/1/roster
        teaching-classes     /school/1/teaching
        graduated            /school/1/graduated
        settings             /school/1/settings
        school-links         /school/links
        audit                /audit
        """,
    )


def test_the_navigation_of_a_teacher_on_a_desktop_and_a_phone(live_server, browser, shots):
    """Issue 23: the desktop's top navigation holds no phone page and no 我; the phone's tab
    bar holds the phone pages, and the top navigation is hidden there."""
    desktop = new_page(browser, DESKTOP)
    sign_in(desktop, live_server.url, "chenxiaokai", DEMO_PASSWORD)
    desktop.goto(live_server.url + "/")
    top = desktop.locator("nav.topnav a")
    assert top.all_inner_texts() == ["个人空间", "任教班级", "账号安全"]
    assert not desktop.locator("nav.tabbar").is_visible()
    phone = new_page(browser, PHONE, storage_state=desktop.context.storage_state())
    phone.goto(live_server.url + "/")
    assert not phone.locator("nav.topnav").is_visible()
    tabs = [" ".join(t.split()) for t in phone.locator("nav.tabbar a").all_inner_texts()]
    assert tabs == ["首页", "班级", "消息", "我"]
    phone.locator("nav.tabbar").get_by_role("link", name="班级", exact=True).click()
    phone.wait_for_url("**/m/classes")
    shots(phone, "nav-teacher-classes-phone")
    desktop.context.close()
    phone.context.close()

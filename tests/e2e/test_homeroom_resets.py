"""Scenarios 2 and 3: the homeroom teacher resets students' passwords, on the web and in the app."""

from __future__ import annotations

from campusid.demo import DEMO_PASSWORD, SCHOOL_DEFAULT_PASSWORD
from tests.e2e.conftest import DESKTOP, PHONE, fill_secret, new_page, sign_in


def test_homeroom_teacher_resets_two_students_on_the_web(live_server, browser, shots):
    """任教班级 → 前往班级 → 班级管理 → 班级成员, search, tick two, 重置密码; one signs in."""
    page = new_page(browser, DESKTOP)
    sign_in(page, live_server.url, "chenxiaokai", DEMO_PASSWORD)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="任教班级").click()
    page.get_by_role("heading", name="任教班级").wait_for()
    shots(page, "teaching")
    page.get_by_role("row", name="五年级1班").get_by_role("link", name="前往班级").click()
    page.get_by_role("heading", name="五年级1班").wait_for()
    page.get_by_role("link", name="班级管理").click()
    assert page.get_by_role("link", name="班级学生").get_attribute("aria-current") == "page"
    shots(page, "class-members")

    # The search narrows the list to one pupil; clearing it brings the class back.
    page.get_by_label("学生姓名").fill("魏璎珞")
    page.get_by_role("button", name="搜索").click()
    rows = page.locator("table.members tbody tr")
    assert rows.count() == 1 and "魏璎珞" in rows.first.inner_text()
    shots(page, "searched")
    page.get_by_label("学生姓名").fill("不存在的学生")
    page.get_by_role("button", name="搜索").click()
    assert "没有找到姓名包含「不存在的学生」的学生" in page.locator(".empty").inner_text()
    page.get_by_role("link", name="查看全部学生").click()
    assert rows.count() == 6

    # Nothing ticked: the button says what to do and nothing is sent.
    toolbar = page.locator(".toolbar")
    toolbar.get_by_role("button", name="重置密码").click()
    assert page.locator(".toast").inner_text() == "请先勾选要重置密码的学生"

    page.get_by_label("选择 魏璎珞").check()
    page.get_by_label("选择 林依萍").check()
    toolbar.get_by_role("button", name="重置密码").click()
    dialog = page.get_by_role("dialog")
    assert "确定重置所选 2 名学生的密码吗" in dialog.inner_text()
    shots(page, "confirm")
    page.keyboard.press("Escape")  # the dialog is keyboard-operable: Esc cancels
    assert page.get_by_role("dialog").count() == 0 and page.get_by_label("选择 魏璎珞").is_checked()

    toolbar.get_by_role("button", name="重置密码").click()
    with page.expect_navigation():
        page.get_by_role("dialog").get_by_role("button", name="重置密码").click()
    assert "密码重置成功" in page.get_by_role("status").first.inner_text()
    passwords = {
        row.locator("td").nth(0).inner_text(): row.locator("td").nth(2).inner_text()
        for row in page.locator("table.password-list tbody tr").all()
    }
    # The demo school resets to its default student password (学生默认密码).
    assert passwords == {"魏璎珞": SCHOOL_DEFAULT_PASSWORD, "林依萍": SCHOOL_DEFAULT_PASSWORD}
    assert page.get_by_role("link", name="下载Excel").get_attribute("href").startswith("data:")
    shots(page, "new-passwords")
    page.context.close()

    # 林依萍 signs in with the password on the list and must choose her own at once.
    pupil = new_page(browser, PHONE)
    sign_in(pupil, live_server.url, "linyiping", passwords["林依萍"])
    assert pupil.url.endswith("/password/change-required")
    shots(pupil, "pupil-must-change")
    fill_secret(pupil, "新密码", "Qingshan#2026")
    fill_secret(pupil, "确认密码", "Qingshan#2026")
    with pupil.expect_navigation():
        pupil.get_by_role("button", name="确定").click()
    assert pupil.get_by_text("密码已修改，欢迎回来").is_visible()
    shots(pupil, "pupil-changed")
    pupil.context.close()


def test_homeroom_teacher_resets_a_student_in_the_app(live_server, browser, shots):
    """班级 → 成员 → a student → 重置密码 → confirm → 复制密码 (the clipboard holds it)."""
    page = new_page(browser, PHONE, clipboard=True)
    sign_in(page, live_server.url, "chenxiaokai", DEMO_PASSWORD)
    page.get_by_role("navigation", name="应用导航").get_by_role("link", name="班级").click()
    page.get_by_role("heading", name="班级").wait_for()
    shots(page, "classes")
    page.get_by_role("link", name="五年级1班").click()
    assert "教师2人 学生6人" in page.locator(".m-counts").inner_text()
    shots(page, "class")
    page.get_by_role("link", name="成员", exact=True).click()
    shots(page, "members")
    page.get_by_role("link", name="周伯通").click()
    page.get_by_role("heading", name="个人信息").wait_for()
    assert "账号：zhoubotong" in page.locator(".m-profile").inner_text()
    shots(page, "student")
    page.get_by_role("link", name="重置密码").click()
    dialog = page.get_by_role("dialog")
    assert dialog.get_by_role("heading").inner_text() == "确定要重置周伯通的密码吗？"
    shots(page, "confirm")
    with page.expect_navigation():
        dialog.get_by_role("button", name="确定").click()
    done = page.get_by_role("dialog")
    assert "密码重置成功，新密码为：" in done.inner_text()
    password = done.locator(".secret").inner_text()
    assert password == SCHOOL_DEFAULT_PASSWORD
    done.get_by_role("button", name="复制密码").click()
    assert page.locator(".toast").inner_text() == "密码已复制"
    assert page.evaluate("navigator.clipboard.readText()") == password
    shots(page, "copied")
    done.get_by_role("link", name="知道了").click()
    page.get_by_role("heading", name="个人信息").wait_for()
    assert page.get_by_role("dialog").count() == 0
    page.context.close()

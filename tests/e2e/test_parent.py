"""Scenario 4: a parent links a child in the app and changes the child's password."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from campusid.accounts.models import User
from campusid.demo import DEMO_PASSWORD
from tests.e2e.conftest import PHONE, fill_secret, new_page, sign_in
from tests.support.secrets import remember


def _id_card_of(live_server, username: str) -> str:  # type: ignore[no-untyped-def]
    """The child's ID card number as the parent knows it (encrypted at rest: read via the model)."""
    with live_server.session() as db:
        number = db.scalar(select(User.id_card_number).where(User.username == username))
    assert number
    remember(number)
    return str(number)


def _link(page: Any, name: str, id_card: str) -> None:
    """关联孩子 as the child's father."""
    page.get_by_label("孩子真实姓名").fill(name)
    page.get_by_label("身份证号").fill(id_card)
    page.get_by_label("父亲").check()
    with page.expect_navigation():
        page.get_by_role("button", name="关联").click()


def test_parent_links_a_child_and_changes_the_childs_password(live_server, browser, shots):
    """我 → 我的孩子 → 关联孩子 → 修改孩子密码; the child signs in with the new password."""
    id_card = _id_card_of(live_server, "heshuhuan")
    page = new_page(browser, PHONE)
    sign_in(page, live_server.url, "p_zhoujia", DEMO_PASSWORD)
    tabs = page.get_by_role("navigation", name="应用导航")
    tabs.get_by_role("link", name="我", exact=True).click()
    page.get_by_role("heading", name="周家长").wait_for()
    shots(page, "me")
    page.get_by_role("main").get_by_role("link", name="我的孩子").click()
    assert "您还没有关联孩子" in page.locator(".empty").inner_text()
    shots(page, "no-children")
    page.locator(".empty").get_by_role("link", name="关联孩子").click()

    # Empty fields are caught in the page, each said under its field.
    page.get_by_role("button", name="关联").click()
    assert page.locator("#real_name-error").inner_text() == "请填写孩子真实姓名"
    assert page.get_by_label("孩子真实姓名").get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "real_name"
    shots(page, "link-inline-errors")

    # A name that does not match the number: refused, without saying which one was wrong.
    _link(page, "何书环", id_card)
    refusal = page.get_by_role("alert").inner_text()
    assert "姓名" in refusal and "身份证号" in refusal, refusal
    shots(page, "link-refused")

    _link(page, "何书桓", id_card)
    # issue 23: a child under 14 without a guardian's consent: the child's page asks first.
    page.get_by_role("heading", name="编辑孩子资料").wait_for()
    assert page.get_by_role("status").first.inner_text().startswith("关联成功")
    consent = page.locator(".consent-card")
    assert "孩子未满十四周岁" in consent.inner_text()
    shots(page, "linked-consent")
    with page.expect_navigation():
        consent.get_by_role("button", name="同意").click()
    assert "已记录您代孩子作出的同意" in page.get_by_role("status").first.inner_text()
    assert "监护人已于" in page.locator(".consent-card").inner_text()
    shots(page, "consented")
    page.goto(f"{live_server.url}/me/children")
    child = page.get_by_role("link", name="何书桓")
    assert "父亲" in child.inner_text() and "五年级1班" in child.inner_text()
    shots(page, "linked")

    child.click()
    page.get_by_role("heading", name="编辑孩子资料").wait_for()
    shots(page, "child")
    page.get_by_role("link", name="修改孩子密码").click()
    fill_secret(page, "新密码", "Lanhua#2027")
    fill_secret(page, "确认密码", "Lanhua#2072")
    with page.expect_navigation():
        page.get_by_role("button", name="确定").click()
    assert "两次输入的密码不一致" in page.get_by_role("alert").inner_text()
    shots(page, "password-mismatch")
    fill_secret(page, "新密码", "Lanhua#2027")
    fill_secret(page, "确认密码", "Lanhua#2027")
    with page.expect_navigation():
        page.get_by_role("button", name="确定").click()
    assert "孩子的密码已修改" in page.get_by_role("status").first.inner_text()
    shots(page, "password-changed")
    page.context.close()

    # The child signs in with it (the demo school does not force another change afterwards).
    pupil = new_page(browser, PHONE)
    sign_in(pupil, live_server.url, "heshuhuan", "Lanhua#2027")
    pupil.get_by_role("heading", name="何书桓").wait_for()
    pupil.get_by_role("link", name="消息").first.click()
    assert "修改" in pupil.locator(".notice-list").inner_text()
    shots(pupil, "child-signed-in")
    pupil.context.close()

"""Scenario (issue 19): a teacher adds an authenticator in 账号安全 and signs in with its code."""

from __future__ import annotations

from sqlalchemy import delete, select

from campusid.accounts.models import SecondFactor, User
from campusid.demo import DEMO_PASSWORD
from tests.e2e.conftest import DESKTOP, PHONE, new_page, sign_in
from tests.support.factors import code_for_secret
from tests.support.secrets import remember


def test_teacher_enrols_an_authenticator_and_signs_in_with_a_code(live_server, browser, shots):
    login = "wulaoshi"  # no other scenario signs in as her
    with live_server.session() as db:
        user_id = db.scalar(select(User.id).where(User.username == login))
        db.execute(delete(SecondFactor).where(SecondFactor.user_id == user_id))
    page = new_page(browser, DESKTOP)
    sign_in(page, live_server.url, login, DEMO_PASSWORD)  # a teacher: the password alone
    page.goto(live_server.url + "/account/security")
    assert page.get_by_text("尚未启用两步验证").is_visible()
    with page.expect_navigation():
        page.get_by_role("link", name="添加身份验证器").click()
    assert page.get_by_role("heading", name="设置两步验证").is_visible()
    assert page.locator(".totp-qr svg").is_visible()
    shots(page, "setup")
    secret = page.locator(".totp-secret").inner_text().replace(" ", "")
    remember(secret)
    code = code_for_secret(secret, live_server.now())
    remember(code)
    page.get_by_label("动态验证码").fill(code)
    with page.expect_navigation():
        page.get_by_role("button", name="完成设置").click()
    assert page.get_by_role("heading", name="请保存您的恢复码").is_visible()
    assert page.locator(".recovery-codes li").count() == 10
    shots(page, "recovery-codes")
    with page.expect_navigation():
        page.get_by_role("link", name="我已保存，继续").click()
    assert "身份验证器" in page.content()
    page.context.close()

    # Next time, the password leads to 两步验证, and the authenticator's code signs her in.
    phone = new_page(browser, PHONE)
    phone.goto(live_server.url + "/login")
    phone.get_by_label("账号").fill(login)
    phone.get_by_label("密码").fill(DEMO_PASSWORD)
    with phone.expect_navigation():
        phone.get_by_role("button", name="登录").click()
    assert phone.get_by_role("heading", name="两步验证").is_visible()
    shots(phone, "two-step")
    phone.get_by_label("动态验证码").fill("000000")
    with phone.expect_navigation():
        phone.get_by_role("button", name="验证").click()
    assert "验证码不正确" in phone.get_by_role("alert").inner_text()
    from tests.e2e.conftest import second_step

    second_step(phone, login)
    assert phone.get_by_role("heading", name="吴老师").is_visible()
    shots(phone, "signed-in")
    phone.context.close()

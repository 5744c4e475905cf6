"""Scenario 5: a student recovers a forgotten password (找回密码) three ways, on a phone.

The image captcha is read through the test's own hook (its answer can only be found with the
server's secret key), the SMS code from the development outbox (the `outbox_messages` table),
and the mail from the real SMTP server the session started.
"""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from campusid.accounts.models import User
from campusid.recovery import captcha
from campusid.recovery.models import RecoveryFlow
from campusid.recovery.service import FLOW_COOKIE
from campusid.security.sessions import hash_token
from campusid.senders import OutboxMessage
from tests.e2e.conftest import CODE, PHONE, fill_secret, new_page, sign_in
from tests.support.secrets import remember

WAIT_SECONDS = 10  # for the message, which the server sends after answering


def _bind(live_server: Any, username: str, **identifiers: str) -> None:
    """Give a demo student a phone or email (the demo has none), through the app's model."""
    with live_server.session() as db:
        user = db.scalar(select(User).where(User.username == username))
        assert user is not None
        for name, value in identifiers.items():
            setattr(user, name, value)


def _solve_captcha(live_server: Any, page: Any) -> None:
    """Type the answer of the image on the page, found through the test hook."""
    page.wait_for_function(
        "() => { const i = document.querySelector('#captcha-box img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    token = next(c["value"] for c in page.context.cookies() if c["name"] == FLOW_COOKIE)
    with live_server.session() as db:
        flow = db.scalar(select(RecoveryFlow).where(RecoveryFlow.token_digest == hash_token(token)))
        assert flow is not None
        answer = captcha.answer_for_tests(flow, secret_key=live_server.secret_key)
    assert answer is not None
    page.get_by_label("图片验证码").fill(str(answer))


def _sms_code(live_server: Any, phone: str, after: int) -> str:
    """The code in the newest SMS to the phone (the development outbox), once it is there."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        with live_server.session() as db:
            body = db.scalar(
                select(OutboxMessage.body)
                .where(OutboxMessage.recipient == phone, OutboxMessage.id > after)
                .order_by(OutboxMessage.id.desc())
            )
        if body:
            match = CODE.search(body)
            assert match is not None, body
            remember(match.group(1))
            return match.group(1)
        time.sleep(0.1)  # the server sends after answering; waiting for delivery, not an expiry
    raise AssertionError(f"no SMS reached {phone}")


def _last_outbox_id(live_server: Any) -> int:
    with live_server.session() as db:
        return int(db.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc())) or 0)


def _mail_code(live_server: Any, address: str) -> str:
    """The code in the newest mail the SMTP server received for the address."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        mails = live_server.inbox.to(address)
        if mails:
            body = mails[-1].get_content()
            match = CODE.search(body)
            assert match is not None, body
            remember(match.group(1))
            return match.group(1)
        time.sleep(0.1)  # waiting for delivery over SMTP, not for an expiry
    raise AssertionError(f"no mail reached {address}")


def _ask_for_code(page: Any) -> None:
    """获取: the answer comes back in place (htmx), the same whoever the target is."""
    page.get_by_role("button", name="获取").click()
    page.locator("#send-status .alert").wait_for()


def _set_new_password(page: Any, shots: Any, password: str) -> None:
    """下一步 → 设置新密码 → 完成."""
    with page.expect_navigation():
        page.get_by_role("button", name="下一步").click()
    assert page.locator(".steps li.current").inner_text().endswith("设置新密码")
    shots(page, "new-password")
    fill_secret(page, "新密码", password)
    fill_secret(page, "确认密码", password)
    with page.expect_navigation():
        page.get_by_role("button", name="确定").click()
    assert page.locator(".alert-error").count() == 0, page.locator(".alert-error").inner_text()
    assert "密码已重新设置" in page.locator(".alert-success").inner_text()
    shots(page, "done")


def _signs_in(browser: Any, live_server: Any, login: str, password: str, name: str) -> None:
    page = new_page(browser, PHONE)
    sign_in(page, live_server.url, login, password)
    page.get_by_role("heading", name=name).wait_for()
    page.context.close()


def test_student_recovers_by_phone(live_server, browser, shots):
    _bind(live_server, "weiyingluo", phone="13700000031")
    page = new_page(browser, PHONE)
    page.goto(live_server.url + "/login")
    page.get_by_role("link", name="忘记密码").click()
    page.get_by_role("heading", name="找回密码").wait_for()
    page.get_by_label("手机号").fill("13700000031")
    _solve_captcha(live_server, page)
    shots(page, "choose-way")
    before = _last_outbox_id(live_server)
    _ask_for_code(page)
    expect(page.locator("#send-button")).to_be_disabled()  # it counts down to the next send
    expect(page.locator("#send-button")).to_contain_text("秒后重新获取")
    shots(page, "code-sent")
    code = _sms_code(live_server, "13700000031", before)

    # A wrong code is refused inline; the right one opens 设置新密码.
    page.get_by_label("短信验证码").fill("000000" if code != "000000" else "111111")
    with page.expect_navigation():
        page.get_by_role("button", name="下一步").click()
    assert page.get_by_role("alert").is_visible()
    shots(page, "wrong-code")
    page.get_by_label("短信验证码").fill(code)
    _set_new_password(page, shots, "Autumn#Leaf26")
    page.get_by_role("link", name="登录", exact=True).click()
    page.context.close()
    _signs_in(browser, live_server, "13700000031", "Autumn#Leaf26", "魏璎珞")


def test_student_recovers_by_email(live_server, browser, shots):
    address = "zhoubotong@example.edu.cn"
    _bind(live_server, "zhoubotong", email=address)
    page = new_page(browser, PHONE)
    page.goto(live_server.url + "/recovery")
    page.get_by_role("link", name="通过邮箱找回密码").click()
    page.get_by_label("邮箱", exact=True).fill(address)
    _solve_captcha(live_server, page)
    _ask_for_code(page)
    shots(page, "code-sent")
    page.get_by_label("邮箱验证码").fill(_mail_code(live_server, address))
    _set_new_password(page, shots, "Spring#Rain27")
    page.context.close()
    _signs_in(browser, live_server, "zhoubotong", "Spring#Rain27", "周伯通")


def test_student_recovers_by_associated_info(live_server, browser, shots):
    """Name, ID card number and school; then a code to the linked parent's phone."""
    with live_server.session() as db:
        id_card = db.scalar(select(User.id_card_number).where(User.username == "lixiaoyao"))
    assert id_card
    remember(id_card)
    page = new_page(browser, PHONE)
    page.goto(live_server.url + "/recovery?way=relation")
    page.get_by_label("学生姓名").fill("李逍遥")
    page.get_by_label("身份证号").fill(id_card)
    page.get_by_label("学校").fill("之江汇")  # the list of schools follows as one types
    page.get_by_label("之江汇学校").wait_for()
    page.get_by_label("之江汇学校").check()
    shots(page, "student")
    with page.expect_navigation():
        page.get_by_role("button", name="下一步").click()
    parent = page.get_by_role("radio", name="139****0011")
    assert parent.is_checked()
    _solve_captcha(live_server, page)
    before = _last_outbox_id(live_server)
    _ask_for_code(page)
    shots(page, "parent-code-sent")
    page.get_by_label("短信验证码").fill(_sms_code(live_server, "13900000011", before))
    _set_new_password(page, shots, "Winter#Snow28")
    page.context.close()
    _signs_in(browser, live_server, "lixiaoyao", "Winter#Snow28", "李逍遥")

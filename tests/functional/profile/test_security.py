"""账号安全 over HTTP: binding a phone or email by a code to the new target and the password."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from campusid.audit.models import AuditEvent
from campusid.demo import DEMO_PASSWORD
from campusid.messaging.models import Notice
from campusid.senders import SmtpMailSender
from tests.support.captcha import solve as solve_captcha
from tests.support.http import post_form, sign_in
from tests.support.recovery import last_code, messages_to
from tests.support.smtp import Inbox, smtp_server

NEW_PHONE = "13612345678"


def _send(client, kind, value, **headers):  # type: ignore[no-untyped-def]
    captcha = solve_captcha(client, f"bind_{kind}")
    return post_form(
        client,
        f"/account/security/{kind}/code",
        {"value": value, "captcha": captcha},
        headers=headers,
    )


def _confirm(client, kind, value, code, password=DEMO_PASSWORD):  # type: ignore[no-untyped-def]
    return post_form(
        client,
        f"/account/security/{kind}",
        {"value": value, "code": code, "current_password": password},
    )


def test_the_page_needs_a_sign_in(client, world):
    assert client.get("/account/security").status_code == 303
    sign_in(client, "lixiaoyao")
    page = client.get("/account/security").text
    for words in ("账号安全", "手机号", "邮箱", "最近登录", "账号变更记录", "未绑定"):
        assert words in page


def test_bind_a_phone_with_a_code_to_it_and_the_password(client, make_client, db, world, services):
    student = world["lixiaoyao"]
    elsewhere = make_client()
    sign_in(elsewhere, "lixiaoyao")
    sign_in(client, "lixiaoyao")
    sent = _send(client, "phone", NEW_PHONE, **{"HX-Request": "true"})
    assert sent.status_code == 200
    assert "验证码已发送至 136****5678" in sent.text
    assert 'data-countdown="60"' in sent.text
    code = last_code(db, NEW_PHONE)
    assert messages_to(db, NEW_PHONE)[-1].template == "bind_code"

    wrong_password = _confirm(client, "phone", NEW_PHONE, code, password="Wrong#Pass1")
    assert wrong_password.status_code == 400
    assert "当前密码不正确" in wrong_password.text
    wrong_code = _confirm(client, "phone", NEW_PHONE, "000000" if code != "000000" else "111111")
    assert "验证码不正确" in wrong_code.text
    # A code for one number does not bind another.
    assert "验证码已失效" in _confirm(client, "phone", "13612345670", code).text

    done = _confirm(client, "phone", NEW_PHONE, code)
    assert done.status_code == 303
    page = client.get(done.headers["location"]).text
    assert "手机号已更换" in page and "136****5678" in page
    assert NEW_PHONE not in page
    db.expire_all()
    assert db.get(type(student), student.id).phone == NEW_PHONE
    assert elsewhere.get("/").status_code == 303  # other sessions ended
    assert client.get("/").status_code == 200  # this one kept
    event = db.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "phone_changed", AuditEvent.outcome == "success"
        )
    )
    assert event.detail == {"old": None, "new": "136****5678"}
    # The wrong current password is on record as a failed attempt (accounts.throttle).
    failed = db.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "phone_changed", AuditEvent.outcome == "failure"
        )
    )
    assert failed is not None and failed.detail["reason"] == "bad_password"
    assert db.scalar(select(Notice).where(Notice.kind == "phone_changed")) is not None
    assert "更换手机号" in page
    # The new phone signs in; the code was single use.
    assert "验证码已失效" in _confirm(client, "phone", NEW_PHONE, code).text
    sign_in(make_client(), NEW_PHONE)


def test_a_phone_of_another_account_is_refused_only_after_the_code(client, db, world, services):
    sign_in(client, "lixiaoyao")
    taken = world["chenxiaokai"].phone
    sent = _send(client, "phone", taken)
    assert "验证码已发送" in sent.text  # no hint at this point
    refused = _confirm(client, "phone", taken, last_code(db, taken))
    assert refused.status_code == 400
    assert "该手机号已绑定其他账号" in refused.text


def test_resend_waits_and_sends_are_limited(client, db, world, services, clock):
    sign_in(client, "lixiaoyao")
    _send(client, "phone", NEW_PHONE)
    assert "秒后再获取" in _send(client, "phone", NEW_PHONE).text
    assert len(messages_to(db, NEW_PHONE)) == 1
    for n in range(9):
        clock.advance(seconds=61)
        _send(client, "phone", f"1361234{n:04d}")
    clock.advance(seconds=61)
    assert "操作过于频繁" in _send(client, "phone", "13699999999").text


def test_password_tries_are_limited(client, db, world, services):
    sign_in(client, "lixiaoyao")
    _send(client, "phone", NEW_PHONE)
    code = last_code(db, NEW_PHONE)
    # Counted per session and with the sign-in's (accounts.throttle): the third ends the session.
    for _ in range(services.settings.password_change_max_failures - 1):
        assert (
            "当前密码不正确"
            in _confirm(client, "phone", NEW_PHONE, code, password="Bad#Pass11").text
        )
    ended = _confirm(client, "phone", NEW_PHONE, code, password="Bad#Pass11")
    assert "已退出登录" in ended.text
    assert client.get("/account/security").status_code == 303
    assert services.limits["login.account"].count(str(world["lixiaoyao"].id)) == 3


@pytest.fixture
def inbox(services) -> Iterator[Inbox]:  # type: ignore[no-untyped-def]
    with smtp_server() as (inbox, port):
        # issue 20: the mail is an outbox row, delivered over SMTP right after the commit.
        services.mail.transport = SmtpMailSender(
            "127.0.0.1", port, "campusid <no-reply@campusid.local>"
        )
        yield inbox


def test_bind_an_email_over_smtp_and_see_the_history(client, db, world, services, inbox):
    sign_in(client, "chenxiaokai")
    post_form(client, "/login", {"login": "chenxiaokai", "password": "Wrong#Pass1"})
    sign_in(client, "chenxiaokai")
    assert "验证码已发送至 c***@example.com" in _send(client, "email", "chen@example.com").text
    mail = inbox.to("chen@example.com")[-1]
    assert mail["Subject"] == "之江汇 绑定邮箱验证码"
    code = re.search(r"验证码为 (\d{6})", mail.get_content()).group(1)
    assert _confirm(client, "email", "chen@example.com", code).status_code == 303
    page = client.get("/account/security").text
    assert "c***@example.com" in page
    assert "更换邮箱" in page
    assert "登录成功" in page and "登录失败" in page
    sign_in(client, "chen@example.com")


def test_bad_input_is_told(client, world):
    sign_in(client, "lixiaoyao")
    assert "手机号格式不正确" in _send(client, "phone", "123").text
    assert "邮箱格式不正确" in _send(client, "email", "nope").text
    assert client.post("/account/security/fax/code", data={}).status_code in (403, 404)


def test_no_code_is_sent_to_bind_without_a_solved_captcha(client, db, world, clock):
    sign_in(client, "lixiaoyao")
    url = "/account/security/phone/code"
    missing = post_form(client, url, {"value": NEW_PHONE}, headers={"HX-Request": "true"})
    assert "请输入图片验证码" in missing.text
    # Nothing used the image shown: it stays, and so does what else was typed.
    assert 'id="captcha-row-bind_phone"' not in missing.text
    answer = solve_captcha(client, "bind_phone")
    wrong = "2222" if answer != "2222" else "3333"
    renewed = post_form(
        client, url, {"value": NEW_PHONE, "captcha": wrong}, headers={"HX-Request": "true"}
    )
    # A wrong answer uses the image up: a new one comes, with an empty answer field.
    assert 'id="captcha-row-bind_phone" class="captcha-row" hx-swap-oob="true"' in renewed.text
    assert re.search(r'<input id="captcha-bind_phone" name="captcha"(?![^>]*value=)', renewed.text)
    answer = solve_captcha(client, "bind_phone")
    wrong = "2222" if answer != "2222" else "3333"
    assert "图片验证码不正确" in post_form(client, url, {"value": NEW_PHONE, "captcha": wrong}).text
    assert (
        "图片验证码不正确" in post_form(client, url, {"value": NEW_PHONE, "captcha": answer}).text
    )
    # The image of the phone form does not open the email form.
    phone_answer = solve_captcha(client, "bind_phone")
    email = post_form(
        client,
        "/account/security/email/code",
        {"value": "chen@example.com", "captcha": phone_answer},
    )
    assert "图片验证码不正确" in email.text
    late = solve_captcha(client, "bind_phone")
    clock.advance(minutes=5)
    assert "图片验证码不正确" in post_form(client, url, {"value": NEW_PHONE, "captcha": late}).text
    assert messages_to(db, NEW_PHONE) == []
    assert messages_to(db, "chen@example.com") == []
    # Solved: the code goes.
    assert "验证码已发送" in _send(client, "phone", NEW_PHONE).text
    assert len(messages_to(db, NEW_PHONE)) == 1

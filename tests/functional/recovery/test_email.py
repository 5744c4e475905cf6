"""找回密码 by email, against a real SMTP server on loopback."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from campusid.audit.models import AuditEvent
from campusid.senders import SmtpMailSender
from tests.support.http import post_form, sign_in
from tests.support.recovery import (
    NEW_PASSWORD,
    normalised,
    request_code,
    set_new_password,
    verify,
)
from tests.support.smtp import Inbox, smtp_server

EMAIL = "chen@example.com"


@pytest.fixture
def inbox(services) -> Iterator[Inbox]:  # type: ignore[no-untyped-def]
    """Mail goes over SMTP to a real server on 127.0.0.1."""
    with smtp_server() as (inbox, port):
        # issue 20: the mail is an outbox row, delivered over SMTP right after the commit.
        services.mail.transport = SmtpMailSender(
            "127.0.0.1", port, "campusid <no-reply@campusid.local>"
        )
        yield inbox


@pytest.fixture
def with_email(db, world):  # type: ignore[no-untyped-def]
    world["chenxiaokai"].email = EMAIL
    db.commit()
    return world


def _code(inbox: Inbox, address: str) -> str:
    mails = inbox.to(address)
    assert mails, f"no mail to {address}"
    match = re.search(r"验证码为 (\d{6})", mails[-1].get_content())
    assert match is not None
    return match.group(1)


def test_email_recovery_end_to_end(client, db, with_email, services, inbox):
    page = client.get("/recovery?way=email").text
    assert "请输入您与平台绑定的邮箱" in page and "邮箱验证码" in page
    response = request_code(client, db, services, way="email", email="Chen@EXAMPLE.com")
    assert response.status_code == 200
    assert "验证码已发送至该邮箱" in response.text
    mails = inbox.to(EMAIL)
    assert len(mails) == 1
    assert mails[0]["Subject"] == "之江汇 找回密码验证码"
    assert verify(client, _code(inbox, EMAIL), way="email").status_code == 303
    assert "完成" in set_new_password(client).text
    sign_in(client, EMAIL, NEW_PASSWORD)
    db.expire_all()
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "password_reset"))
    assert event is not None and event.detail == {"method": "email"}


def test_unknown_email_gets_the_same_answer_and_no_mail(
    make_client, db, with_email, services, inbox
):
    answers = {}
    for address in (EMAIL, "nobody@example.com"):
        browser = make_client()
        response = request_code(browser, db, services, way="email", email=address)
        answers[address] = normalised(response.text.replace(address, "<email>"))
    assert answers[EMAIL] == answers["nobody@example.com"]
    assert len(inbox.messages) == 1
    assert inbox.to("nobody@example.com") == []


def test_limit_per_email(client, db, with_email, services, inbox, clock):
    for _ in range(services.settings.recovery_target_limit):
        request_code(client, db, services, way="email", email=EMAIL)
        clock.advance(seconds=61)
    assert "操作过于频繁" in request_code(client, db, services, way="email", email=EMAIL).text
    assert len(inbox.to(EMAIL)) == services.settings.recovery_target_limit


def test_bad_email_format(client, db, with_email, services, inbox):
    response = request_code(client, db, services, way="email", email="not-an-email")
    assert "邮箱格式不正确" in response.text
    assert post_form(client, "/recovery/verify", {"code": "123456"}).status_code == 400
    assert inbox.messages == []

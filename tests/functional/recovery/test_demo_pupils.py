"""The demo's pupils with a bound phone and a bound email (issue 23): 找回密码 both ways at once."""

from __future__ import annotations

from campusid.demo import DEMO_ACCOUNTS, DEMO_PUPIL_EMAIL, DEMO_PUPIL_PHONE
from tests.support.recovery import (
    last_code,
    messages_to,
    request_code,
    set_new_password,
    verify,
)


def test_one_pupil_has_a_bound_phone_and_another_a_bound_email(world):
    assert world["weiyingluo"].phone == DEMO_PUPIL_PHONE
    assert world["weiyingluo"].phone_verified_at is not None
    assert world["zhoubotong"].email == DEMO_PUPIL_EMAIL
    assert world["zhoubotong"].email_verified_at is not None
    notes = {account.username: account.note for account in DEMO_ACCOUNTS}
    assert DEMO_PUPIL_PHONE in notes["weiyingluo"]
    assert DEMO_PUPIL_EMAIL in notes["zhoubotong"]


def test_the_phone_pupil_recovers_by_phone(client, db, world, services):
    sent = request_code(client, db, services, way="phone", phone=DEMO_PUPIL_PHONE)
    assert "验证码已发送" in sent.text
    assert verify(client, last_code(db, DEMO_PUPIL_PHONE)).status_code == 303
    assert set_new_password(client).status_code == 200


def test_the_email_pupil_recovers_by_email(client, db, world, services):
    sent = request_code(client, db, services, way="email", email=DEMO_PUPIL_EMAIL)
    assert "验证码已发送" in sent.text
    assert messages_to(db, DEMO_PUPIL_EMAIL)
    code = last_code(db, DEMO_PUPIL_EMAIL)
    assert verify(client, code, way="email").status_code == 303
    assert set_new_password(client).status_code == 200

"""issue 21: `phone_number_verified` / `email_verified` tell the truth: a phone bound at 账号安全
with a code sent to it is verified; one an administrator typed in is not, and a verified one
that is changed by anything but a code stops being verified."""

from __future__ import annotations

from tests.support.captcha import solve as solve_captcha
from tests.support.http import post_form, sign_in
from tests.support.oidc import register
from tests.support.rawrp import code_flow, http
from tests.support.recovery import last_code

from campusid.demo import DEMO_PASSWORD

NEW_PHONE = "13612345678"
SCOPE = "openid identifiers.full"


def _userinfo(server, token: str) -> dict:  # type: ignore[no-untyped-def]
    response = server.get("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_phone_bound_by_a_code_is_verified_and_a_typed_one_is_not(
    client, make_client, db, world, clock
):
    row, secret = register(db, world["pt_admin"], clock.now(), scopes=SCOPE)
    server = http(client)

    # The teacher's phone was entered by an administrator: not verified.
    teacher = code_flow(
        make_client(),
        server,
        client_id=row.client_id,
        secret=secret,
        login="chenxiaokai",
        scope=SCOPE,
    )
    info = _userinfo(server, teacher["access_token"])
    assert info["phone_number"] == "13800000001" and info["phone_number_verified"] is False
    assert info["email_verified"] is False

    # The pupil binds a phone with the code sent to it (and the password).
    pupil = make_client()
    sign_in(pupil, "lixiaoyao")
    captcha = solve_captcha(pupil, "bind_phone")
    sent = post_form(
        pupil, "/account/security/phone/code", {"value": NEW_PHONE, "captcha": captcha}
    )
    assert sent.status_code == 200
    done = post_form(
        pupil,
        "/account/security/phone",
        {"value": NEW_PHONE, "code": last_code(db, NEW_PHONE), "current_password": DEMO_PASSWORD},
    )
    assert done.status_code == 303
    tokens = code_flow(
        pupil, server, client_id=row.client_id, secret=secret, login=None, scope=SCOPE
    )
    info = _userinfo(server, tokens["access_token"])
    assert info["phone_number"] == NEW_PHONE and info["phone_number_verified"] is True

    # Another number put in without a code (as an administrator's edit does): not verified.
    db.expire_all()
    student = db.get(type(world["lixiaoyao"]), world["lixiaoyao"].id)
    student.phone = "13612345670"
    db.commit()
    info = _userinfo(server, tokens["access_token"])
    assert info["phone_number"] == "13612345670" and info["phone_number_verified"] is False

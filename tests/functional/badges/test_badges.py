"""扫码登录卡 (issue 24): print, 挂失, reprint, sign in, and every refusal, over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from campusid.accounts.models import User
from campusid.badges import service as badges
from campusid.badges.models import Badge
from campusid.oidc import service as oidc
from campusid.org.models import SchoolClass, StageUnit
from campusid.org.schoolyear import calendar_for
from campusid.security.models import SessionRecord
from campusid.security.sessions import hash_token
from tests.support.badges import enable_for_class, print_badges, scan
from tests.support.classes import audit_rows
from tests.support.http import post_form, sign_in
from tests.support.login import browser


def _teacher_prints(client, db, world, *student_ids):
    enable_for_class(db, world.class51)
    sign_in(client, "chenxiaokai")
    return print_badges(client, world.class51.id, *student_ids)


def _signed_in_as(client) -> str:
    home = client.get("/")
    assert home.status_code == 200, home.headers.get("location")
    return home.text


def test_default_years_are_primary_one_and_two(db, world, services):
    units = list(db.scalars(select(StageUnit)))
    by_stage = {u.stage.value: badges.enabled_years(db, u) for u in units}
    assert by_stage["primary"] == {1, 2}
    assert by_stage["junior"] == set()
    # the demo's 五年级 is not among them: printing is refused until the school turns it on
    cal = calendar_for(services.settings, services.clock)
    assert not badges.class_enabled(db, db.get(SchoolClass, world.class51.id), cal)


def test_print_refused_while_the_year_is_off(client, world):
    sign_in(client, "chenxiaokai")
    page = client.get(f"/classes/{world.class51.id}/badges")
    assert page.status_code == 200
    assert "该班级所在年级未启用扫码登录" in page.text
    refused = post_form(client, f"/classes/{world.class51.id}/badges/print")
    assert refused.status_code == 400
    assert "未启用扫码登录" in refused.text


def test_teacher_prints_the_class_and_a_pupil_signs_in(client, make_client, db, world):
    codes = _teacher_prints(client, db, world)
    pupils = {world[name].id for name in ("lixiaoyao", "heshuhuan", "weiyingluo")}
    assert pupils <= set(codes)
    page = client.get(f"/classes/{world.class51.id}/badges")
    assert "有效期至2027-09-01" in page.text and "挂失" in page.text
    # stored hashed, never the secret
    db.expire_all()
    rows = list(db.scalars(select(Badge)))
    assert len(rows) == len(codes)
    stored = {row.secret_hash for row in rows}
    assert all(code not in stored for code in codes.values())
    assert {badges.hash_secret(c.removeprefix(badges.PREFIX)) for c in codes.values()} == stored
    assert rows[0].expires_at == datetime(2027, 8, 31, 16, 0, tzinfo=UTC)
    assert len(audit_rows(db, "badge_printed")) == len(codes)

    pupil = make_client()
    response = scan(pupil, codes[world["lixiaoyao"].id])
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert "李逍遥" in _signed_in_as(pupil)
    db.expire_all()
    session = db.get(SessionRecord, hash_token(pupil.cookies["campusid_session"]))
    assert session is not None and session.amr == "qr" and session.second_factor_at is None
    event = audit_rows(db, "sign_in")[-1]
    assert event.target_user_id == world["lixiaoyao"].id and event.detail == {"factor": "qr"}


def test_reprint_revokes_the_old_badge(client, make_client, db, world):
    uid = world["lixiaoyao"].id
    old = _teacher_prints(client, db, world, uid)[uid]
    new = print_badges(client, world.class51.id, uid)[uid]
    assert new != old
    refused = scan(make_client(), old)
    assert refused.status_code == 400
    assert "该登录卡已挂失，请联系班主任重新打印。" in refused.text
    assert "李逍遥" not in refused.text  # never whose badge it was
    assert scan(make_client(), new).status_code == 303
    assert audit_rows(db, "badge_printed")[-1].detail["replaced"] == 1


def test_revoke_is_immediate_and_converges(client, make_client, db, world):
    uid = world["heshuhuan"].id
    code = _teacher_prints(client, db, world, uid)[uid]
    pupil = make_client()
    assert scan(pupil, code).status_code == 303
    url = f"/classes/{world.class51.id}/badges/{uid}/revoke"
    done = post_form(client, url)
    assert done.status_code == 303 and done.headers["location"].endswith("msg=revoked")
    assert "已挂失" in client.get(done.headers["location"]).text
    again = post_form(client, url)
    assert again.headers["location"].endswith("msg=none")
    assert len(audit_rows(db, "badge_revoked")) == 1
    refused = scan(make_client(), code)
    assert refused.status_code == 400 and "已挂失" in refused.text


def test_expired_badge_by_the_clock(client, make_client, db, world, services):
    uid = world["weiyingluo"].id
    code = _teacher_prints(client, db, world, uid)[uid]
    services.clock.set(datetime(2027, 8, 31, 15, 59, tzinfo=UTC))
    assert scan(make_client(), code).status_code == 303
    services.clock.set(datetime(2027, 8, 31, 16, 0, tzinfo=UTC))  # 1 September in China
    refused = scan(make_client(), code)
    assert refused.status_code == 400
    assert "该登录卡已过期，请联系班主任重新打印。" in refused.text


def test_an_adult_account_is_refused(client, make_client, db, world):
    uid = world["linyiping"].id
    code = _teacher_prints(client, db, world, uid)[uid]
    # the pupil's account becomes a parent's (an adult role): the badge no longer opens it
    user = db.get(User, uid)
    user.is_parent = True
    db.commit()
    refused = scan(make_client(), code)
    assert refused.status_code == 400
    assert "该账号不能使用扫码登录，请用密码登录。" in refused.text
    # a badge bound to a teacher's account (made directly: no page prints one) opens nothing
    token = "t" * 32
    db.add(
        Badge(
            user_id=world["chenxiaokai"].id,
            secret_hash=badges.hash_secret(token),
            created_at=datetime(2026, 11, 1, tzinfo=UTC),
            expires_at=datetime(2027, 8, 31, 16, 0, tzinfo=UTC),
        )
    )
    db.commit()
    refused = scan(make_client(), badges.PREFIX + token)
    assert refused.status_code == 400 and "该账号不能使用扫码登录" in refused.text
    assert audit_rows(db, "sign_in")[-1].detail["reason"] == "adult_account"


def test_teachers_are_not_printable(client, db, world):
    _teacher_prints(client, db, world)
    refused = post_form(
        client,
        f"/classes/{world.class51.id}/badges/print",
        {"student_id": [str(world["chenxiaokai"].id)]},
    )
    assert refused.status_code == 400 and "该学生不在本班" in refused.text


def test_networks_of_the_school(client, app, db, world):
    uid = world["zhoubotong"].id
    code = _teacher_prints(client, db, world, uid)[uid]
    admin = browser(app)
    sign_in(admin, "xx_admin")
    unit_id = db.get(SchoolClass, world.class51.id).grade.stage_id
    url = f"/school/{world.school.id}/stages/{unit_id}/badges"
    assert admin.get(url).status_code == 200
    bad = post_form(admin, url, {"year": ["1", "2", "5"], "networks": "10.20.0.0/16\n300.1.1.1/8"})
    assert bad.status_code == 400
    assert "网络地址「300.1.1.1/8」格式不正确" in bad.text
    assert "10.20.0.0/16" in bad.text  # the form keeps what was typed
    assert badges.networks_of(db, world.school.id) == []  # nothing half-written
    saved = post_form(admin, url, {"year": ["1", "2", "5"], "networks": "10.20.0.0/16"})
    assert saved.status_code == 303
    assert badges.networks_of(db, world.school.id) == ["10.20.0.0/16"]
    assert audit_rows(db, "badge_settings_changed")

    outside = scan(browser(app, "192.168.1.5"), code)
    assert outside.status_code == 400
    assert "扫码登录只能在学校的网络中使用。" in outside.text
    inside = browser(app, "10.20.3.4")
    assert scan(inside, code).status_code == 303
    assert "周伯通" in _signed_in_as(inside)


def test_failures_are_rate_limited_per_address(client, app, db, world):
    uid = world["lixiaoyao"].id
    code = _teacher_prints(client, db, world, uid)[uid]
    robot = browser(app, "203.0.113.9")
    for _ in range(badges.FAILURES_PER_ADDRESS):
        assert "无法识别该登录卡" in scan(robot, badges.PREFIX + "x" * 32).text
    blocked = scan(robot, code)
    assert blocked.status_code == 400 and "尝试次数过多，请稍后再试。" in blocked.text
    assert scan(browser(app, "203.0.113.10"), code).status_code == 303


def test_badge_session_needs_the_password_for_credentials(client, make_client, db, world):
    student = world["s_xuesheng008"]  # on the default password: must change it at sign-in
    code = _teacher_prints(client, db, world, student.id)[student.id]
    pupil = make_client()
    assert scan(pupil, code).headers["location"] == "/"
    assert "学生八" in _signed_in_as(pupil)  # not sent to the forced change
    page = pupil.get("/account/password")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?prompt=login&next=/account/password"
    before = db.get(User, student.id).password_hash
    refused = post_form(
        pupil,
        "/account/password",
        {
            "current_password": "Zjh13579",
            "new_password": "Abc12345x",
            "confirm_password": "Abc12345x",
        },
    )
    assert refused.status_code == 403 and "需要先用密码登录" in refused.text
    forced = post_form(
        pupil,
        "/password/change-required",
        {"new_password": "Abc12345x", "confirm_password": "Abc12345x"},
    )
    assert forced.status_code == 403
    bind = post_form(pupil, "/account/security/phone/code", {"value": "13800009999"})
    assert bind.status_code == 403
    db.expire_all()
    assert db.get(User, student.id).password_hash == before
    assert not audit_rows(db, "password_changed")


def test_parent_sees_the_badge_sign_in(client, make_client, db, world):
    uid = world["lixiaoyao"].id
    code = _teacher_prints(client, db, world, uid)[uid]
    assert scan(make_client(), code).status_code == 303
    parent = make_client()
    sign_in(parent, "p_lidaniang")
    page = parent.get(f"/me/children/{uid}")
    assert page.status_code == 200
    assert "登录成功（扫码登录卡）" in page.text


def test_only_the_class_managers_print_and_revoke(app, db, world):
    enable_for_class(db, world.class51)
    base = f"/classes/{world.class51.id}/badges"
    for login in ("zhaoshuxue", "kq_admin", "lixiaoyao", "p_lidaniang"):
        other = browser(app)
        sign_in(other, login)
        assert post_form(other, f"{base}/print").status_code in {403, 404}, login
        assert post_form(other, f"{base}/{world['lixiaoyao'].id}/revoke").status_code in {403, 404}
    printed = audit_rows(db, "badge_printed")
    # each refusal is audited as a refused print (or 挂失); nothing was printed
    assert printed and {row.outcome for row in printed} == {"denied"}
    assert not db.scalars(select(Badge)).first()
    admin = browser(app)
    sign_in(admin, "xx_admin")
    assert post_form(admin, f"{base}/print").status_code == 200
    assert admin.get(f"/m/classes/{world.class51.id}/badges").status_code == 200


def test_oidc_reports_qr():
    amr = oidc.amr_of("qr", False)
    assert amr == ["qr"]
    assert oidc.acr_of(amr, None) == oidc.ACR_BADGE
    assert oidc.wants_password("urn:campusid:pwd") and not oidc.wants_password(None)
    assert oidc.ACR_BADGE in oidc.ACR_VALUES

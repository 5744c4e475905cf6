"""Two-step verification (issue 19): the policy per role set on 平台管理 → 两步验证策略, a school
tightening it for its teachers, 记住此设备, and the SMS fallback, against the real app with the
injected clock."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from tests.support.http import post_form, sign_in
from tests.support.recovery import last_code, messages_to

from campusid.accounts import factors
from campusid.accounts.models import RememberedDevice, SecondFactor, TwoStepRolePolicy
from campusid.audit.models import AuditEvent
from campusid.demo import DEMO_PASSWORD, demo_totp_secret
from campusid.security.models import SessionRecord

NEW_PASSWORD = "Xin#Mima2027"


def _password(client, login):  # type: ignore[no-untyped-def]
    response = post_form(client, "/login", {"login": login, "password": DEMO_PASSWORD})
    assert response.status_code == 303, response.text[:300]
    return response


def _code(services, login, offset=0):  # type: ignore[no-untyped-def]
    step = factors.time_step(services.clock.now()) + offset
    return factors.code_at(demo_totp_secret(login), step)


def _no_factor(db, world, *logins):  # type: ignore[no-untyped-def]
    for login in logins:
        db.execute(delete(SecondFactor).where(SecondFactor.user_id == world[login].id))
    db.commit()


def _events(db, action):  # type: ignore[no-untyped-def]
    db.expire_all()
    return db.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def _latest_session(db, user_id):  # type: ignore[no-untyped-def]
    db.expire_all()
    return db.scalar(
        select(SessionRecord)
        .where(SessionRecord.user_id == user_id)
        .order_by(SessionRecord.created_at.desc())
        .limit(1)
    )


# -- 平台管理 → 两步验证策略 -----------------------------------------------------------------------


def test_the_platform_policy_decides_who_enrols_at_the_next_sign_in(  # type: ignore[no-untyped-def]
    client, make_client, db, services, world
):
    _no_factor(db, world, "zhaoshuxue")
    teacher = make_client()
    assert _password(teacher, "zhaoshuxue").headers["location"] == "/"  # optional: no factor
    sign_in(client, "pt_admin")
    page = client.get("/platform/two-step")
    assert page.status_code == 200 and "两步验证策略" in page.text
    assert "按环境配置的默认值" in page.text
    # Administrators and agents are shown fixed (必须), pupils 不提供; only teachers choose.
    assert page.text.count('name="teacher_need"') == 2
    assert "platform_admin_remember" not in page.text and "platform_admin_sms" not in page.text
    assert "/platform/two-step" in client.get("/platform").text

    # Bad input: refused as a whole, with the words, the form keeps what was typed.
    bad = post_form(
        client,
        "/platform/two-step",
        {"teacher_need": "required", "teacher_grace": "abc", "parent_remember": "7"},
    )
    assert bad.status_code == 400
    assert "「教师（含班主任、年级组长）」的宽限期须为 0 到 90 之间的整数（天）" in bad.text
    assert 'value="abc"' in bad.text
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(TwoStepRolePolicy)) == 0

    saved = post_form(
        client,
        "/platform/two-step",
        {"teacher_need": "required", "teacher_grace": "0", "parent_remember": "0"},
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/platform/two-step?saved=1"
    assert "两步验证策略已保存" in client.get(saved.headers["location"]).text
    db.expire_all()
    row = db.get(TwoStepRolePolicy, "teacher")
    assert row is not None and row.need == "required"
    changed = _events(db, "two_step_policy_changed")
    assert [e.detail["role"] for e in changed] == ["teacher"]
    assert changed[0].actor_id == world["pt_admin"].id
    # Saving the same again changes nothing (no new event).
    again = post_form(client, "/platform/two-step", {"teacher_need": "required"})
    assert again.status_code == 303
    assert len(_events(db, "two_step_policy_changed")) == 1

    # The teacher now enrols before reaching any page.
    later = make_client()
    response = _password(later, "zhaoshuxue")
    assert response.headers["location"].startswith("/account/two-step/setup")
    assert later.get("/").headers["location"] == "/account/two-step/setup"


def test_changing_the_policy_needs_a_fresh_second_factor(  # type: ignore[no-untyped-def]
    client, db, services, world
):
    sign_in(client, "pt_admin")
    services.clock.advance(minutes=services.settings.mfa_step_up_minutes, seconds=1)
    refused = post_form(client, "/platform/two-step", {"teacher_need": "required"})
    assert refused.status_code == 403 and "/account/verify?next=" in refused.text
    db.expire_all()
    assert db.get(TwoStepRolePolicy, "teacher") is None
    assert not _events(db, "two_step_policy_changed")


def test_a_school_requires_its_teachers_and_cannot_loosen_the_platform(  # type: ignore[no-untyped-def]
    client, make_client, db, services, world
):
    _no_factor(db, world, "zhaoshuxue", "wulaoshi")
    sign_in(client, "xx_admin")
    settings_page = f"/school/{world.school.id}/settings"
    assert "本校老师必须启用两步验证" in client.get(settings_page).text
    done = post_form(client, f"{settings_page}/two-step", {"teachers_required": "true"})
    assert done.status_code == 303
    event = _events(db, "school_settings_changed")[-1]
    assert event.detail == {"teachers_two_step_required": True}
    # This school's teacher enrols at the next sign-in; the other school's does not.
    ours = make_client()
    assert _password(ours, "zhaoshuxue").headers["location"].startswith("/account/two-step/setup")
    theirs = make_client()
    assert _password(theirs, "wulaoshi").headers["location"] == "/"

    # The platform requires every teacher: the school cannot make it optional for its own.
    admin = make_client()
    sign_in(admin, "pt_admin")
    assert post_form(admin, "/platform/two-step", {"teacher_need": "required"}).status_code == 303
    page = client.get(settings_page).text
    assert "平台已要求所有教师启用两步验证" in page and "teachers_required" not in page
    assert post_form(client, f"{settings_page}/two-step", {}).status_code == 303
    again = make_client()
    assert _password(again, "zhaoshuxue").headers["location"].startswith("/account/two-step/setup")
    elsewhere = make_client()
    assert (
        _password(elsewhere, "wulaoshi").headers["location"].startswith("/account/two-step/setup")
    )


# -- 记住此设备 ----------------------------------------------------------------------------------


def test_a_remembered_browser_skips_the_second_step_until_it_expires(  # type: ignore[no-untyped-def]
    client, make_client, db, services, world
):
    services.settings.mfa_remember_device_days = 7
    teacher = world["chenxiaokai"]
    _password(client, "chenxiaokai")
    page = client.get("/login/two-step")
    assert "记住此设备 7 天" in page.text
    done = post_form(
        client, "/login/two-step", {"code": _code(services, "chenxiaokai"), "remember": "true"}
    )
    assert done.status_code == 303
    token = client.cookies.get(factors.REMEMBER_COOKIE)
    header = next(h for h in done.headers.get_list("set-cookie") if "campusid_remember" in h)
    assert "HttpOnly" in header and "Path=/login" in header
    db.expire_all()
    row = db.scalar(select(RememberedDevice).where(RememberedDevice.user_id == teacher.id))
    assert row is not None and token and row.token_hash != token  # stored hashed
    assert "已记住的设备" in client.get("/account/security").text

    # The next sign-in from this browser: the password alone, and the session says so.
    post_form(client, "/logout")
    again = _password(client, "chenxiaokai")
    assert again.headers["location"] == "/"
    session = _latest_session(db, teacher.id)
    assert session.amr == "pwd remembered" and session.second_factor_at is None
    assert "登录成功（密码，已记住的设备）" in client.get("/account/security").text
    # A sensitive act still asks for the factor (nothing was checked in this session).
    factor_id = db.scalar(select(SecondFactor.id).where(SecondFactor.user_id == teacher.id))
    refused = post_form(client, f"/account/two-step/{factor_id}/remove")
    assert refused.status_code == 403 and "/account/verify?next=" in refused.text
    # Another browser is asked, with the same password.
    other = make_client()
    assert _password(other, "chenxiaokai").headers["location"] == "/login/two-step"

    # Past the days the policy allowed: the second step again.
    services.clock.advance(days=7, seconds=1)
    post_form(client, "/logout")
    assert _password(client, "chenxiaokai").headers["location"] == "/login/two-step"


def test_a_password_change_and_全部移除_end_remembered_browsers(  # type: ignore[no-untyped-def]
    client, make_client, db, services, world
):
    services.settings.mfa_remember_device_days = 30
    teacher = world["chenxiaokai"]
    _password(client, "chenxiaokai")
    remember = {"code": _code(services, "chenxiaokai"), "remember": "true"}
    assert post_form(client, "/login/two-step", remember).status_code == 303
    other = make_client()
    _password(other, "chenxiaokai")
    services.clock.advance(seconds=30)
    remember = {"code": _code(services, "chenxiaokai"), "remember": "true"}
    assert post_form(other, "/login/two-step", remember).status_code == 303
    db.expire_all()
    assert db.scalar(select(func.count()).where(RememberedDevice.user_id == teacher.id)) == 2

    # 全部移除 on 账号安全: audited, and the other browser is asked again.
    removed = post_form(other, "/account/two-step/remembered/remove")
    assert removed.status_code == 303
    assert "已移除全部记住的设备" in other.get(removed.headers["location"]).text
    assert _events(db, "remembered_devices_removed")[-1].detail == {"devices": 2}
    post_form(other, "/logout")
    assert _password(other, "chenxiaokai").headers["location"] == "/login/two-step"

    # Remembered again, then the password changes: the browser is asked again.
    services.clock.advance(seconds=30)
    assert (
        post_form(
            other, "/login/two-step", {"code": _code(services, "chenxiaokai"), "remember": "true"}
        ).status_code
        == 303
    )
    changed = post_form(
        other,
        "/account/password",
        {
            "current_password": DEMO_PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert changed.status_code == 200
    db.expire_all()
    assert db.scalar(select(func.count()).where(RememberedDevice.user_id == teacher.id)) == 0
    post_form(other, "/logout")
    response = post_form(other, "/login", {"login": "chenxiaokai", "password": NEW_PASSWORD})
    assert response.headers["location"] == "/login/two-step"


# -- the SMS fallback -----------------------------------------------------------------------------


def test_an_sms_code_works_once_and_expires(client, make_client, db, services, world):  # type: ignore[no-untyped-def]
    services.settings.mfa_sms_roles = ["teacher", "homeroom_teacher", "grade_leader"]
    services.settings.mfa_pending_minutes = 15
    teacher = world["chenxiaokai"]
    _password(client, "chenxiaokai")
    page = client.get("/login/two-step")
    assert "发送短信验证码" in page.text and "138****0001" in page.text
    assert teacher.phone not in page.text
    sent = post_form(client, "/login/two-step/sms")
    assert sent.status_code == 200 and "验证码已发送至 138****0001" in sent.text
    assert len(messages_to(db, teacher.phone)) == 1
    code = last_code(db, teacher.phone)
    # A second one within the minute: refused, nothing sent.
    assert "秒后再获取" in post_form(client, "/login/two-step/sms").text
    assert len(messages_to(db, teacher.phone)) == 1
    wrong = post_form(client, "/login/two-step", {"code": f"{(int(code) + 1) % 10**6:06d}"})
    assert wrong.status_code == 400 and "验证码不正确或已使用" in wrong.text
    services.clock.advance(seconds=2)  # the wrong answer's wait (accounts.throttle)
    ok = post_form(client, "/login/two-step", {"code": code})
    assert ok.status_code == 303
    assert _latest_session(db, teacher.id).amr == "pwd sms"
    assert "登录成功（密码 + 短信验证码）" in client.get("/account/security").text
    # Single use: the same code in another browser is refused.
    other = make_client()
    _password(other, "chenxiaokai")
    assert post_form(other, "/login/two-step", {"code": code}).status_code == 400

    # A fresh code five minutes and a second later: expired.
    services.clock.advance(minutes=2)
    post_form(other, "/login/two-step/sms")
    late = last_code(db, teacher.phone)
    services.clock.advance(minutes=5, seconds=1)
    answer = post_form(other, "/login/two-step", {"code": late})
    assert answer.status_code == 400 and "验证码不正确或已使用" in answer.text


def test_wrong_sms_codes_are_counted_like_the_authenticators(  # type: ignore[no-untyped-def]
    client, db, services, world
):
    services.settings.mfa_sms_roles = ["teacher", "homeroom_teacher"]
    teacher = world["chenxiaokai"]
    _password(client, "chenxiaokai")
    post_form(client, "/login/two-step/sms")
    code = last_code(db, teacher.phone)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(services.settings.mfa_pending_max_failures - 1):
        assert post_form(client, "/login/two-step", {"code": wrong}).status_code == 400
    last = post_form(client, "/login/two-step", {"code": wrong})
    assert last.status_code == 400 and "请重新登录" in last.text
    failures = [
        e
        for e in _events(db, "sign_in")
        if e.target_user_id == teacher.id and e.outcome == "failure"
    ]
    assert len(failures) == services.settings.mfa_pending_max_failures
    assert all(e.detail["reason"] == "bad_second_factor" for e in failures)


def test_a_platform_administrator_is_never_remembered_nor_sent_a_code(  # type: ignore[no-untyped-def]
    client, make_client, db, services, world
):
    services.settings.mfa_remember_device_days = 30
    services.settings.mfa_sms_roles = ["platform_admin", "agent", "school_admin", "teacher"]
    admin = world["pt_admin"]
    admin.phone = "13800000099"
    db.commit()
    _password(client, "pt_admin")
    page = client.get("/login/two-step")
    assert page.status_code == 200
    assert "记住此设备" not in page.text and "发送短信验证码" not in page.text
    assert post_form(client, "/login/two-step/sms").status_code == 404
    assert messages_to(db, "13800000099") == []
    done = post_form(
        client, "/login/two-step", {"code": _code(services, "pt_admin"), "remember": "true"}
    )
    assert done.status_code == 303
    assert client.cookies.get(factors.REMEMBER_COOKIE) is None
    db.expire_all()
    assert db.scalar(select(func.count()).where(RememberedDevice.user_id == admin.id)) == 0
    # A school administrator, with the same settings, is offered both.
    other = make_client()
    _password(other, "xx_admin")
    offered = other.get("/login/two-step").text
    assert "记住此设备 30 天" in offered and "发送短信验证码" in offered


# -- the sign-in's shortcut agrees with the rule ----------------------------------------------


def test_the_sign_in_shortcut_never_skips_someone_the_rule_requires(  # type: ignore[no-untyped-def]
    db, services, world
):
    """`factors._may_be_required` lets a pupil's or a parent's sign-in skip loading every role;
    for every demo account, under the default policy, with teachers required by the platform,
    with parents required by the settings and with a school requiring its teachers, it is
    False only where the one rule (`authz.second_factor_policy`) does not require a factor."""
    from dataclasses import replace

    from campusid.accounts.models import TwoStepSchoolPolicy
    from campusid.security import authz
    from campusid.security.permissions import principal_for

    def required(user, rules) -> bool:  # type: ignore[no-untyped-def]
        policy = authz.second_factor_policy(
            principal_for(db, user).roles,
            rules=rules,
            school_requires_teachers=factors.school_requires_teachers(db, user.id),
        )
        return policy.need is authz.FactorNeed.REQUIRED

    base = factors.policy_rules(db, services.settings)
    need = authz.FactorNeed.REQUIRED
    variants = {
        "default": base,
        "teachers": {**base, "teacher": replace(base["teacher"], need=need)},
        "parents": {**base, "parent": replace(base["parent"], need=need)},
    }
    skipped = 0
    for school_requires in (False, True):
        if school_requires:
            db.add(
                TwoStepSchoolPolicy(
                    school_id=world.school.id,
                    teachers_required=True,
                    updated_at=services.clock.now(),
                )
            )
            db.flush()
        for name, rules in variants.items():
            for user in world.users.values():
                admin, requires = factors.sign_in_facts(db, user.id)
                assert requires == factors.school_requires_teachers(db, user.id)
                if not factors._may_be_required(
                    user, rules, school_admin=admin, school_requires=requires
                ):
                    skipped += 1
                    assert not required(user, rules), (name, school_requires, user.username)
    assert skipped > 10  # the shortcut is taken (pupils, parents, under most policies)

"""Two-step verification (issue 19): enrolment, the sign-in's second step, replay, recovery
codes, the second step's throttle, step-up and the lost-factor reset, against the real app with
the injected clock."""

from __future__ import annotations

import re

from sqlalchemy import delete, func, select
from tests.support.factors import code_for_secret
from tests.support.http import enrol_totp, post_form, sign_in

from campusid.accounts import factors
from campusid.accounts.models import FactorRecoveryCode, PendingSignIn, SecondFactor
from campusid.audit.models import AuditEvent
from campusid.demo import DEMO_PASSWORD, demo_totp_secret
from campusid.members.service import default_password
from campusid.messaging.models import Notice
from campusid.org.models import School
from campusid.security.models import SessionRecord

RECOVERY = re.compile(r"<code>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</code>")


def _password(client, login="xx_admin"):  # type: ignore[no-untyped-def]
    response = post_form(client, "/login", {"login": login, "password": DEMO_PASSWORD})
    assert response.status_code == 303
    return response


def _code(services, login="xx_admin", offset=0):  # type: ignore[no-untyped-def]
    step = factors.time_step(services.clock.now()) + offset
    return factors.code_at(demo_totp_secret(login), step)


def test_the_password_alone_opens_no_page(client, db, world):  # type: ignore[no-untyped-def]
    response = _password(client)
    assert response.headers["location"] == "/login/two-step"
    assert "campusid_session" not in response.cookies
    assert client.cookies.get(factors.PENDING_COOKIE)
    # Every later address answers as to a stranger: no session exists yet.
    for url in ("/", "/account/security", "/school", "/account/two-step/setup", "/account/verify"):
        answer = client.get(url)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), url
    assert client.get("/api/me").status_code in (401, 404)
    page = client.get("/login/two-step")
    assert page.status_code == 200 and "两步验证" in page.text
    # The pending sign-in is stored hashed, never as the cookie's token.
    db.expire_all()
    stored = db.scalars(select(PendingSignIn.token_hash)).all()
    assert stored and client.cookies.get(factors.PENDING_COOKIE) not in stored


def test_sign_in_with_a_code_opens_a_session_that_knows_its_factor(  # type: ignore[no-untyped-def]
    client, db, services, world
):
    _password(client)
    response = post_form(client, "/login/two-step", {"code": _code(services)})
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert client.get("/").status_code == 200
    db.expire_all()
    session = db.scalar(select(SessionRecord).where(SessionRecord.user_id == world["xx_admin"].id))
    assert session is not None
    assert session.amr == "pwd otp" and session.second_factor_at == services.clock.now()
    # Single-use: the pending sign-in is gone.
    assert db.scalar(select(func.count()).select_from(PendingSignIn)) == 0
    # The form sent again (a double click): the sign-in is done, neither expired nor doubled.
    again = post_form(client, "/login/two-step", {"code": _code(services)})
    assert again.status_code == 303 and again.headers["location"] == "/"
    db.expire_all()
    assert (
        db.scalar(
            select(func.count())
            .select_from(SessionRecord)
            .where(SessionRecord.user_id == world["xx_admin"].id)
        )
        == 1
    )
    history = client.get("/account/security").text
    assert "登录成功（密码 + 动态验证码）" in history


def test_a_wrong_code_and_a_replayed_code_get_the_same_answer(  # type: ignore[no-untyped-def]
    client, make_client, db, services, world
):
    _password(client)
    wrong = post_form(client, "/login/two-step", {"code": "000000"})
    assert wrong.status_code == 400 and "验证码不正确或已使用" in wrong.text
    code = _code(services)
    assert post_form(client, "/login/two-step", {"code": code}).status_code == 303
    # The same code again, from another browser with the right password: refused, same words.
    other = make_client()
    _password(other)
    replay = post_form(other, "/login/two-step", {"code": code})
    assert replay.status_code == 400
    assert replay.text.count("验证码不正确或已使用") == wrong.text.count("验证码不正确或已使用")
    # An older step than the last accepted one is refused too; the next step works.
    assert (
        post_form(other, "/login/two-step", {"code": _code(services, offset=-1)}).status_code == 400
    )
    services.clock.advance(seconds=30)
    assert post_form(other, "/login/two-step", {"code": _code(services)}).status_code == 303


def test_a_recovery_code_works_once(client, make_client, db, services, world):  # type: ignore[no-untyped-def]
    user = world["xx_admin"]
    db.execute(delete(SecondFactor).where(SecondFactor.user_id == user.id))
    db.commit()
    # Enrolment: the role requires it, so the password leads to the setup page only.
    response = _password(client)
    assert response.headers["location"].startswith("/account/two-step/setup")
    page = client.get("/account/two-step/setup")
    assert "<svg" in page.text and "totp-secret" in page.text
    secret = re.search(r'<code class="totp-secret">([A-Z2-7 ]+)</code>', page.text)
    assert secret
    bad = post_form(client, "/account/two-step/setup", {"code": "123456", "next": "/"})
    assert bad.status_code == 400 and "验证码不正确" in bad.text
    code = code_for_secret(secret.group(1).replace(" ", ""), services.clock.now())
    done = post_form(client, "/account/two-step/setup", {"code": code, "next": "/"})
    assert done.status_code == 200
    codes = RECOVERY.findall(done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    db.expire_all()
    stored = db.scalars(
        select(FactorRecoveryCode.code_hash).where(FactorRecoveryCode.user_id == user.id)
    ).all()
    assert len(stored) == 10 and not set(codes) & set(stored)  # hashed, never the codes
    # The form sent again (a double click, a reload): done already; no new secret, no new codes.
    again = post_form(client, "/account/two-step/setup", {"code": code, "next": "/"})
    assert again.status_code == 303
    assert again.headers["location"] == "/account/security?factor=added"
    db.expire_all()
    held = db.scalars(select(SecondFactor).where(SecondFactor.user_id == user.id)).all()
    assert len(held) == 1 and held[0].confirmed_at is not None
    assert sorted(
        db.scalars(
            select(FactorRecoveryCode.code_hash).where(FactorRecoveryCode.user_id == user.id)
        ).all()
    ) == sorted(stored)
    assert "已添加身份验证器" in client.get(again.headers["location"]).text
    assert client.get("/").status_code == 200
    # A recovery code signs in once; the second time it is refused.
    first = make_client()
    _password(first)
    assert post_form(first, "/login/two-step", {"code": codes[0].lower()}).status_code == 303
    security = first.get("/account/security").text
    assert "登录成功（密码 + 恢复码）" in security and "剩余恢复码：9 个" in security
    second = make_client()
    _password(second)
    assert post_form(second, "/login/two-step", {"code": codes[0]}).status_code == 400
    db.expire_all()
    notices = db.scalars(select(Notice.kind).where(Notice.user_id == user.id)).all()
    assert "second_factor_changed" in notices and "factor_recovery_code_used" in notices
    added = db.scalar(
        select(func.count()).where(
            AuditEvent.action == "factor_added", AuditEvent.target_user_id == user.id
        )
    )
    assert added == 1


def test_the_second_step_is_throttled_by_the_injected_clock(  # type: ignore[no-untyped-def]
    client, make_client, db, services, world
):
    # A few wrong codes end the pending sign-in: the password again.
    _password(client)
    for _ in range(services.settings.mfa_pending_max_failures - 1):
        assert post_form(client, "/login/two-step", {"code": "111111"}).status_code == 400
    last = post_form(client, "/login/two-step", {"code": "111111"})
    assert last.status_code == 400 and "请重新登录" in last.text
    assert client.get("/login/two-step").headers["location"] == "/login"
    # Past the policy's delay, this client and account wait, even with the right code.
    _password(client)
    waiting = post_form(client, "/login/two-step", {"code": _code(services)})
    assert waiting.status_code == 400 and "秒后再试" in waiting.text
    # The holder at another address is not slowed by it.
    from tests.support.login import browser

    elsewhere = browser(client.app, "10.9.8.7")
    assert (
        post_form(elsewhere, "/login", {"login": "xx_admin", "password": DEMO_PASSWORD}).status_code
        == 303
    )
    assert post_form(elsewhere, "/login/two-step", {"code": _code(services)}).status_code == 303
    elsewhere.close()
    # The wait ends by the clock, never by sleeping.
    services.clock.advance(seconds=services.settings.login_delay_max_seconds + 31)
    _password(client)
    assert post_form(client, "/login/two-step", {"code": _code(services)}).status_code == 303


def test_a_pending_sign_in_expires(client, services, world):  # type: ignore[no-untyped-def]
    _password(client)
    services.clock.advance(minutes=services.settings.mfa_pending_minutes, seconds=1)
    late = post_form(client, "/login/two-step", {"code": _code(services)})
    assert late.status_code == 400 and "验证已超时" in late.text
    assert client.get("/").status_code == 303


def test_step_up_after_the_window(client, db, services, world):  # type: ignore[no-untyped-def]
    sign_in(client, "xx_admin")
    school_id = world.school.id
    export = f"/school/{school_id}/roster/students.xlsx"
    assert client.get(export).status_code == 200
    services.clock.advance(minutes=services.settings.mfa_step_up_minutes, seconds=1)
    asked = client.get(export)
    assert asked.status_code == 303
    assert asked.headers["location"].startswith("/account/verify?next=")
    page = client.get(asked.headers["location"])
    assert page.status_code == 200 and "请再次验证" in page.text
    # A form is refused with a link, and nothing is done.
    db.expire_all()
    before = default_password(db, db.get(School, school_id))
    refused = post_form(
        client,
        f"/school/{school_id}/settings/default-password",
        {"new_password": "Xyz@2468", "confirm_password": "Xyz@2468"},
    )
    assert refused.status_code == 403 and "/account/verify?next=" in refused.text
    db.expire_all()
    assert default_password(db, db.get(School, school_id)) == before != "Xyz@2468"
    wrong = post_form(client, "/account/verify", {"code": "000000", "next": export})
    assert wrong.status_code == 400
    ok = post_form(client, "/account/verify", {"code": _code(services), "next": export})
    assert ok.status_code == 303 and ok.headers["location"] == export
    assert client.get(export).status_code == 200


def test_removing_a_factor_needs_a_fresh_check_and_ends_other_sessions(  # type: ignore[no-untyped-def]
    client, make_client, db, services, world
):
    user = world["chenxiaokai"]  # a teacher: a factor is optional
    other = make_client()
    sign_in(other, "chenxiaokai")
    services.clock.advance(seconds=30)
    sign_in(client, "chenxiaokai")
    factor_id = db.scalar(select(SecondFactor.id).where(SecondFactor.user_id == user.id))
    services.clock.advance(minutes=services.settings.mfa_step_up_minutes + 1)
    refused = post_form(client, f"/account/two-step/{factor_id}/remove")
    assert refused.status_code == 403
    db.expire_all()
    assert db.get(SecondFactor, factor_id) is not None
    assert (
        post_form(
            client, "/account/verify", {"code": _code(services, "chenxiaokai"), "next": "/"}
        ).status_code
        == 303
    )
    removed = post_form(client, f"/account/two-step/{factor_id}/remove")
    assert removed.status_code == 303
    db.expire_all()
    assert db.get(SecondFactor, factor_id) is None
    assert db.scalar(
        select(func.count()).where(
            AuditEvent.action == "factor_removed", AuditEvent.target_user_id == user.id
        )
    )
    assert db.scalar(
        select(func.count()).where(
            Notice.user_id == user.id, Notice.kind == "second_factor_changed"
        )
    )
    assert other.get("/").status_code == 303  # the other session ended
    assert client.get("/").status_code == 200
    # Now the password alone signs the teacher in.
    third = make_client()
    response = post_form(third, "/login", {"login": "chenxiaokai", "password": DEMO_PASSWORD})
    assert response.headers["location"] == "/"


def test_a_pupil_is_offered_no_factor(client, world):  # type: ignore[no-untyped-def]
    sign_in(client, "lixiaoyao")
    assert client.get("/account/two-step/setup").status_code == 404
    assert "两步验证" not in client.get("/account/security").text


def test_the_platform_resets_a_lost_factor(  # type: ignore[no-untyped-def]
    client, make_client, db, services, world
):
    holder = make_client()
    sign_in(holder, "xx_admin")
    admin = world["xx_admin"]
    # A school administrator may not reset another administrator's (nor their own).
    peer = make_client()
    sign_in(peer, "kq_admin")
    assert post_form(peer, f"/people/{admin.id}/two-step/reset").status_code == 403
    db.expire_all()
    assert db.scalar(select(func.count()).where(SecondFactor.user_id == admin.id)) == 1
    assert holder.get("/").status_code == 200
    sign_in(client, "pt_admin")
    done = post_form(
        client,
        f"/people/{admin.id}/two-step/reset",
        {"back": f"/platform/schools/{world.school.id}"},
    )
    assert done.status_code == 200 and "已重置" in done.text
    db.expire_all()
    assert db.scalar(select(func.count()).where(SecondFactor.user_id == admin.id)) == 0
    assert holder.get("/").status_code == 303  # every session of theirs ended
    assert db.scalar(
        select(func.count()).where(
            AuditEvent.action == "factor_reset", AuditEvent.target_user_id == admin.id
        )
    )
    assert db.scalar(
        select(func.count()).where(
            Notice.user_id == admin.id, Notice.kind == "second_factor_changed"
        )
    )
    # At the next sign-in the administrator enrols again before anything else.
    again = make_client()
    response = post_form(again, "/login", {"login": "xx_admin", "password": DEMO_PASSWORD})
    assert response.headers["location"].startswith("/account/two-step/setup")
    assert again.get("/school").headers["location"] == "/account/two-step/setup"
    enrol_totp(again)
    assert again.get("/").status_code == 200


def test_a_grace_period_lets_pages_open_with_a_banner(  # type: ignore[no-untyped-def]
    client, db, services, world
):
    services.settings.mfa_grace_days = 7
    db.execute(delete(SecondFactor).where(SecondFactor.user_id == world["kefu01"].id))
    db.commit()
    response = post_form(client, "/login", {"login": "kefu01", "password": DEMO_PASSWORD})
    assert response.headers["location"] == "/"
    home = client.get("/")
    assert home.status_code == 200 and "宽限期" in home.text
    services.clock.advance(days=8)
    late = post_form(client, "/login", {"login": "kefu01", "password": DEMO_PASSWORD})
    assert late.headers["location"].startswith("/account/two-step/setup")


def test_a_school_administrator_resets_a_teachers_factor(  # type: ignore[no-untyped-def]
    client, make_client, db, world
):
    teacher = world["zhaoshuxue"]
    sign_in(client, "xx_admin")
    member_page = client.get(f"/school/{world.school.id}/members/{teacher.id}")
    assert f"/people/{teacher.id}/two-step/reset" in member_page.text
    done = post_form(client, f"/people/{teacher.id}/two-step/reset")
    assert done.status_code == 200
    db.expire_all()
    assert db.scalar(select(func.count()).where(SecondFactor.user_id == teacher.id)) == 0
    # Another school's administrator may not; nor may a teacher reset anyone's.
    peer = make_client()
    sign_in(peer, "kq_admin")
    assert post_form(peer, f"/people/{world['wulaoshi'].id}/two-step/reset").status_code == 200
    assert post_form(peer, f"/people/{world['chenxiaokai'].id}/two-step/reset").status_code == 403
    homeroom = make_client()
    sign_in(homeroom, "chenxiaokai")
    assert post_form(homeroom, f"/people/{teacher.id}/two-step/reset").status_code == 403
    assert post_form(homeroom, f"/people/{world['xx_admin'].id}/two-step/reset").status_code == 403
    db.expire_all()

    def held(login: str) -> int:
        return db.scalar(select(func.count()).where(SecondFactor.user_id == world[login].id)) or 0

    assert held("wulaoshi") == 0
    assert held("chenxiaokai") == 1 and held("xx_admin") == 1


def test_the_demo_prints_the_secrets_and_the_cli_reads_a_code(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from campusid import cli, migrate

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    migrate.upgrade(url)
    clock_file = tmp_path / "clock"
    clock_file.write_text("2026-12-01T08:00:10+08:00", encoding="utf-8")
    monkeypatch.setenv("CAMPUSID_DATABASE_URL", url)
    monkeypatch.setenv("CAMPUSID_CLOCK_FILE", str(clock_file))
    monkeypatch.setenv("COLUMNS", "220")
    cli.get_settings.cache_clear()
    try:
        runner = CliRunner()
        demo = runner.invoke(cli.app, ["demo"])
        code = runner.invoke(cli.app, ["totp-code", "xx_admin"])
        pupil = runner.invoke(cli.app, ["totp-code", "lixiaoyao"])
        monkeypatch.setenv("CAMPUSID_ENVIRONMENT", "production")
        monkeypatch.setenv("CAMPUSID_DATA_KEY", "unused-here")
        cli.get_settings.cache_clear()
        production = runner.invoke(cli.app, ["totp-code", "xx_admin"])
    finally:
        cli.get_settings.cache_clear()
    assert demo.exit_code == 0, demo.output
    assert demo_totp_secret("pt_admin") in demo.output
    from datetime import datetime

    at = datetime.fromisoformat("2026-12-01T08:00:10+08:00")
    expected = factors.code_at(demo_totp_secret("xx_admin"), factors.time_step(at))
    assert code.exit_code == 0 and code.output.splitlines()[0] == expected
    assert pupil.exit_code == 1
    assert production.exit_code == 1 and "仅限开发和演示环境" in production.output


def test_the_redis_session_store_keeps_the_amr_and_the_step_up_time(  # type: ignore[no-untyped-def]
    settings, clock, engine, services, hasher, world
):
    import json
    import secrets

    import pytest
    import redis
    from fastapi.testclient import TestClient
    from tests.functional.security.test_redis import REDIS_URL, _redis_available

    from campusid.app import create_app
    from campusid.context import build_services

    if not _redis_available():
        pytest.skip(f"no Redis at {REDIS_URL}")
    prefix = "campusid-test-" + secrets.token_hex(4)
    configured = settings.model_copy(update={"redis_url": REDIS_URL, "redis_prefix": prefix})
    built = build_services(configured, clock=clock, engine=engine, hasher=hasher)
    built.session_factory = services.session_factory
    store: redis.Redis = built.redis
    try:
        browser = TestClient(
            create_app(configured, built), base_url="http://testserver", follow_redirects=False
        )
        sign_in(browser, "xx_admin")
        (key,) = list(store.scan_iter(f"{prefix}:session:*"))
        data = json.loads(store.get(key))
        assert data["amr"] == "pwd otp" and data["second_factor_at"]
        export = f"/school/{world.school.id}/roster/teachers.xlsx"
        clock.advance(minutes=configured.mfa_step_up_minutes + 1)
        assert browser.get(export).headers["location"].startswith("/account/verify")
        code = factors.code_at(demo_totp_secret("xx_admin"), factors.time_step(clock.now()))
        assert (
            post_form(browser, "/account/verify", {"code": code, "next": export}).status_code == 303
        )
        assert json.loads(store.get(key))["second_factor_at"] == clock.now().isoformat()
        assert browser.get(export).status_code == 200
    finally:
        for leftover in store.scan_iter(f"*{prefix}:*"):
            store.delete(leftover)


def test_new_recovery_codes_need_a_fresh_check_and_void_the_old_ones(  # type: ignore[no-untyped-def]
    client, make_client, db, services, world
):
    user = world["xx_admin"]
    old_codes = factors.new_recovery_codes(db, user_id=user.id, now=services.clock.now())
    db.commit()
    other = make_client()
    sign_in(other, "xx_admin")
    services.clock.advance(seconds=30)
    sign_in(client, "xx_admin")
    db.expire_all()
    old = sorted(
        db.scalars(
            select(FactorRecoveryCode.code_hash).where(FactorRecoveryCode.user_id == user.id)
        ).all()
    )
    services.clock.advance(minutes=services.settings.mfa_step_up_minutes + 1)
    refused = post_form(client, "/account/two-step/recovery-codes")
    assert refused.status_code == 403 and "/account/verify?next=" in refused.text
    db.expire_all()
    assert (
        sorted(
            db.scalars(
                select(FactorRecoveryCode.code_hash).where(FactorRecoveryCode.user_id == user.id)
            ).all()
        )
        == old
    )
    assert other.get("/").status_code == 200
    verified = post_form(client, "/account/verify", {"code": _code(services), "next": "/"})
    assert verified.status_code == 303
    done = post_form(client, "/account/two-step/recovery-codes")
    assert done.status_code == 200
    codes = RECOVERY.findall(done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    db.expire_all()
    new = db.scalars(
        select(FactorRecoveryCode.code_hash).where(
            FactorRecoveryCode.user_id == user.id, FactorRecoveryCode.used_at.is_(None)
        )
    ).all()
    assert (
        len(old) == 10 and len(new) == 10 and not set(new) & set(old) and not set(codes) & set(new)
    )
    assert db.scalar(
        select(func.count()).where(
            AuditEvent.action == "factor_recovery_codes", AuditEvent.target_user_id == user.id
        )
    )
    assert other.get("/").status_code == 303  # the other session ended
    assert client.get("/").status_code == 200
    # An old code no longer signs in; a new one does.
    third = make_client()
    _password(third)
    assert post_form(third, "/login/two-step", {"code": old_codes[0]}).status_code == 400
    assert post_form(third, "/login/two-step", {"code": codes[3]}).status_code == 303


def test_one_code_answered_twice_at_once_counts_once(db, services, world):  # type: ignore[no-untyped-def]
    """PostgreSQL: the second answer read the factor before the first committed; the step is
    claimed in the UPDATE itself, so the replay is refused. (SQLite runs writers one at a time.)"""
    import pytest

    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    user = world["xx_admin"]
    now = services.clock.now()
    code = _code(services)
    first, second = services.session_factory(), services.session_factory()
    try:
        read = factors.factors_of(second, user.id)  # the second answer has read the factor
        assert read
        assert factors.check_code(first, user_id=user.id, code=code, now=now) == "totp"
        first.commit()
        assert factors.check_code(second, user_id=user.id, code=code, now=now) is None
        second.commit()
        del read
    finally:
        first.close()
        second.close()
    db.expire_all()
    factor = db.scalar(select(SecondFactor).where(SecondFactor.user_id == user.id))
    assert factor is not None and factor.last_used_step == factors.time_step(now)


def test_the_reset_button_follows_the_one_rule(client, db, services, world):  # type: ignore[no-untyped-def]
    """A teacher who is also the school's administrator: their factor goes to the platform, so
    the school's other administrator is offered no 重置两步验证 (the rule would refuse it)."""
    from campusid.platform.schools import Actor, appoint_admin
    from campusid.types import ClientInfo

    teacher = world["zhaoshuxue"]
    sign_in(client, "xx_admin")
    page = f"/school/{world.school.id}/members/{teacher.id}"
    assert f"/people/{teacher.id}/two-step/reset" in client.get(page).text
    appoint_admin(
        db,
        school=db.get(School, world.school.id),
        login=teacher.username,
        actor=Actor(user_id=None, client=ClientInfo(address="127.0.0.1", user_agent="test")),
        now=services.clock.now(),
    )
    db.commit()
    answer = client.get(page)
    assert answer.status_code == 200 and "/two-step/reset" not in answer.text
    assert post_form(client, f"/people/{teacher.id}/two-step/reset").status_code == 403
    db.expire_all()
    assert db.scalar(select(func.count()).where(SecondFactor.user_id == teacher.id)) == 1

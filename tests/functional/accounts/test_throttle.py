"""Throttling without lockout-DoS (issue 18, findings 2 and 5): guessers are slowed where they
guess; the account holder on a browser they signed in from before is not; nobody is locked out
by someone else's failures, and 找回密码 stays open."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from tests.support.http import finish_sign_in, post_form, sign_in
from tests.support.login import asks_for_captcha, browser, solve_login_captcha, try_sign_in

from campusid.accounts.throttle import DEVICE_COOKIE
from campusid.audit.models import AuditEvent
from campusid.demo import DEMO_PASSWORD

GENERIC = "账号或密码错误"
WRONG = "Wrong#Pass1"


def _wait_of(response) -> int | None:
    found = re.search(r"请 (\d+) 秒后再试", response.text)
    return int(found.group(1)) if found else None


def _fail_as_a_bot(client, services, clock, login: str, times: int) -> None:
    """Wrong passwords, each one waiting out the pair's delay and solving the captcha if asked."""
    needs_captcha = False
    for _ in range(times):
        answer = solve_login_captcha(client, services) if needs_captcha else None
        response = try_sign_in(client, login, WRONG, captcha=answer)
        wait = _wait_of(response)
        if wait is not None:  # refused unchecked: wait it out and try again
            clock.advance(seconds=wait)
            answer = solve_login_captcha(client, services)
            response = try_sign_in(client, login, WRONG, captcha=answer)
        assert response.status_code == 200 and GENERIC in response.text, response.text[-3000:]
        needs_captcha = asks_for_captcha(response)
        clock.advance(seconds=services.throttle.policy.delay_for(100))


def test_a_classmate_cannot_lock_out_a_teacher(app, services, clock, world):
    # The teacher signed in from her own browser before: it holds a device cookie for her.
    teacher = browser(app)
    sign_in(teacher, "chenxiaokai")
    assert teacher.cookies.get(DEVICE_COOKIE)
    post_form(teacher, "/logout")
    # A classmate (another browser, another address) fails 100 times, captcha and waits solved.
    classmate = browser(app, "10.20.30.40")
    _fail_as_a_bot(classmate, services, clock, "chenxiaokai", 100)
    assert services.limits["login.account"].count(str(world["chenxiaokai"].id)) >= 100
    # Over the hard limit: strangers are refused even with the right password and a captcha,
    # with the words of a wrong password ...
    stranger = browser(app, "10.20.30.41")
    refused = try_sign_in(stranger, "chenxiaokai", DEMO_PASSWORD, services=services)
    assert refused.status_code == 200 and GENERIC in refused.text
    # ... but the teacher's own browser signs her in at once: no captcha, no wait.
    answer = try_sign_in(teacher, "chenxiaokai", DEMO_PASSWORD)
    assert answer.status_code == 303
    finish_sign_in(teacher, answer, "chenxiaokai")  # issue 19: her second step is not limited
    assert teacher.get("/").status_code == 200
    # And 找回密码 (route 3) stays open to anyone.
    assert stranger.get("/recovery").status_code == 200


def test_the_same_classmate_behind_the_school_address_cannot_either(app, services, clock, world):
    # Same NAT address for both: the teacher's known browser still goes through.
    teacher = browser(app)
    sign_in(teacher, "chenxiaokai")
    post_form(teacher, "/logout")
    classmate = browser(app)
    _fail_as_a_bot(classmate, services, clock, "chenxiaokai", 30)
    assert try_sign_in(teacher, "chenxiaokai", DEMO_PASSWORD).status_code == 303


def test_one_address_cannot_lock_out_a_school(app, services, clock, world, hasher):
    # A pupil of the school signed in from this (school) browser before.
    known = browser(app)
    sign_in(known, "heshuhuan")
    post_form(known, "/logout")
    # Hundreds of failures from the school's one address, spread over many logins.
    bot = browser(app)
    limit = services.settings.login_address_limit
    for i in range(limit + 20):
        login = f"nobody{i:03d}"
        answer = solve_login_captcha(bot, services) if i >= limit else None
        response = try_sign_in(bot, login, WRONG, captcha=answer)
        assert response.status_code == 200 and GENERIC in response.text
    # The known browser signs in with the right password, no captcha asked.
    assert try_sign_in(known, "heshuhuan", DEMO_PASSWORD).status_code == 303
    # A new browser at the same address sees the captcha at once ...
    newcomer = browser(app)
    assert asks_for_captcha(newcomer.get("/login"))
    before = hasher.verify_calls
    asked = try_sign_in(newcomer, "lixiaoyao", DEMO_PASSWORD)
    assert asked.status_code == 200 and "请输入图片验证码" in asked.text
    assert "过于频繁" not in asked.text
    assert hasher.verify_calls == before  # not checked, not counted
    # ... and with it solved, the right password signs in.
    assert try_sign_in(newcomer, "lixiaoyao", DEMO_PASSWORD, services=services).status_code == 303
    # Another address never noticed.
    elsewhere = browser(app, "192.0.2.7")
    assert not asks_for_captcha(elsewhere.get("/login"))
    assert try_sign_in(elsewhere, "weiyingluo", DEMO_PASSWORD).status_code == 303


@pytest.mark.parametrize("login", ["heshuhuan", "nobody_here"])
def test_captcha_step_up_then_growing_delays(app, services, clock, world, hasher, login):
    """The same steps for an account that exists and one that does not (no enumeration)."""
    policy = services.throttle.policy
    client = browser(app)
    for attempt in range(1, policy.captcha_after + 1):
        response = try_sign_in(client, login, WRONG)
        assert GENERIC in response.text
        assert asks_for_captcha(response) is (attempt >= policy.captcha_after)
    # Without the captcha: asked for it, the password unchecked and the failure uncounted.
    before = hasher.verify_calls
    response = try_sign_in(client, login, DEMO_PASSWORD)
    assert "请输入图片验证码" in response.text and asks_for_captcha(response)
    response = try_sign_in(client, login, DEMO_PASSWORD, captcha="999")
    assert "图片验证码不正确" in response.text
    assert hasher.verify_calls == before
    # With it, failures go on until the waits begin.
    for _ in range(policy.captcha_after, policy.delay_after):
        response = try_sign_in(client, login, WRONG, services=services)
        assert GENERIC in response.text
    # A wait: the next attempt is refused unchecked until it ends, even the right password.
    first_wait = policy.delay_for(policy.delay_after)
    assert first_wait == services.settings.login_delay_base_seconds
    clock.advance(seconds=first_wait - 1)
    before = hasher.verify_calls
    early = try_sign_in(client, login, DEMO_PASSWORD, services=services)
    assert _wait_of(early) == 1 and hasher.verify_calls == before
    clock.advance(seconds=1)
    response = try_sign_in(client, login, WRONG, services=services)
    assert GENERIC in response.text
    # The wait doubles.
    assert _wait_of(try_sign_in(client, login, WRONG, services=services)) == 2 * first_wait
    clock.advance(seconds=2 * first_wait)
    final = try_sign_in(client, login, DEMO_PASSWORD, services=services)
    if login == "heshuhuan":
        assert final.status_code == 303
    else:
        assert final.status_code == 200 and GENERIC in final.text


def test_the_waits_are_capped_and_forgotten(services):
    policy = services.throttle.policy
    assert policy.delay_for(policy.delay_after - 1) == 0
    assert policy.delay_for(1000) == services.settings.login_delay_max_seconds


def test_a_captcha_answer_is_used_once(app, services, world):
    client = browser(app)
    for _ in range(services.throttle.policy.captcha_after):
        try_sign_in(client, "heshuhuan", WRONG)
    answer = solve_login_captcha(client, services)
    assert GENERIC in try_sign_in(client, "heshuhuan", WRONG, captcha=answer).text
    again = try_sign_in(client, "heshuhuan", DEMO_PASSWORD, captcha=answer)
    assert "图片验证码不正确" in again.text


def test_a_known_browser_guessing_becomes_a_stranger(app, services, clock, world):
    # A known browser's own failures are limited too: past the distrust count it is a stranger,
    # and the account's hard limit for strangers applies to it.
    client = browser(app)
    sign_in(client, "heshuhuan")
    post_form(client, "/logout")
    _fail_as_a_bot(client, services, clock, "heshuhuan", services.throttle.device_distrust_after)
    services.limits.define("login.account", 5, 86400)  # already far over
    clock.advance(seconds=services.settings.login_delay_max_seconds)
    refused = try_sign_in(client, "heshuhuan", DEMO_PASSWORD, services=services)
    assert refused.status_code == 200 and GENERIC in refused.text


def test_waits_and_captchas_are_audited_without_the_password(app, services, db, world):
    client = browser(app)
    for _ in range(services.throttle.policy.captcha_after):
        try_sign_in(client, "heshuhuan", WRONG)
    try_sign_in(client, "heshuhuan", DEMO_PASSWORD)
    db.expire_all()
    events = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "sign_in").order_by(AuditEvent.id)
    ).all()
    assert [e.detail["reason"] for e in events][-2:] == ["bad_password", "captcha"]
    assert events[-1].outcome == "denied"
    assert DEMO_PASSWORD not in str([e.detail for e in events])


CHANGE = {"new_password": "Chen#2027ab", "confirm_password": "Chen#2027ab"}


def test_password_change_tries_are_limited_and_counted_with_sign_ins(client, services, db, world):
    """Finding 5: a hijacked session cannot try current passwords without limit."""
    teacher = world["chenxiaokai"]
    sign_in(client, "chenxiaokai")
    tries = services.settings.password_change_max_failures
    for _ in range(tries - 1):
        wrong = post_form(client, "/account/password", {"current_password": WRONG, **CHANGE})
        assert wrong.status_code == 400 and "当前密码不正确" in wrong.text
    ended = post_form(client, "/account/password", {"current_password": WRONG, **CHANGE})
    assert ended.status_code == 400 and "已退出登录" in ended.text
    # The session is over: no more guesses from it, even the right password.
    assert client.get("/").status_code == 303
    assert client.get("/account/password").status_code == 303
    # Counted with the sign-in's failures of the account.
    assert services.limits["login.account"].count(str(teacher.id)) == tries
    db.expire_all()
    failures = db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "password_changed", AuditEvent.outcome == "failure"
        )
    ).all()
    assert len(failures) == tries and all(e.target_user_id == teacher.id for e in failures)
    assert [e.detail["reason"] for e in failures][-2:] == ["bad_password", "password_tries"]
    # The password did not change: it still signs in (the browser is known, no captcha).
    assert try_sign_in(client, "chenxiaokai", DEMO_PASSWORD).status_code == 303


def test_right_current_password_still_changes_it_after_a_slip(client, services, world):
    sign_in(client, "chenxiaokai")
    post_form(client, "/account/password", {"current_password": WRONG, **CHANGE})
    ok = post_form(client, "/account/password", {"current_password": DEMO_PASSWORD, **CHANGE})
    assert ok.status_code == 200 and "密码修改成功" in ok.text
    # The browser stays known for the new password: the device cookie was renewed.
    post_form(client, "/logout")
    services.limits.define("login.account", 0, 86400)  # strangers all refused
    assert try_sign_in(client, "chenxiaokai", "Chen#2027ab").status_code == 303

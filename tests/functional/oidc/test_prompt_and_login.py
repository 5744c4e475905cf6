"""Issue 21: what an application asks of the sign-in (prompt, max_age, login_hint, ui_locales,
acr_values), and interrupted sign-ins coming back to the application.

Driven by a hand-written relying party (tests/support/rp.py: plain HTTP and joserfc).
"""

from __future__ import annotations

import pytest
from tests.support.http import post_form
from tests.support.oidc import register
from tests.support.rp import (
    HandRP,
    browse_to_callback,
    callback_query,
    login_redirect,
    password_sign_in,
    through_continue,
)

from campusid.demo import SCHOOL_DEFAULT_PASSWORD


@pytest.fixture
def rp(client, make_client, db, world, clock):
    """班级圈, first-party and confidential, as a hand-written application."""
    row, secret = register(db, world["pt_admin"], clock.now())
    return HandRP(make_client(), row.client_id, secret)


def _now(clock) -> int:  # type: ignore[no-untyped-def]
    return int(clock.now().timestamp())


def test_auth_time_is_the_sign_in_not_the_code(client, rp, clock):
    first = rp.authorization()
    signed_in_at = _now(clock)
    tokens = rp.redeem(browse_to_callback(client, first, "lixiaoyao"), first)
    assert rp.id_token(tokens["id_token"], first, _now(clock))["auth_time"] == signed_in_at

    clock.advance(minutes=30)
    second = rp.authorization()
    tokens = rp.redeem(browse_to_callback(client, second, None), second)
    claims = rp.id_token(tokens["id_token"], second, _now(clock))
    assert claims["auth_time"] == signed_in_at  # the session's sign-in, not now


def test_prompt_login_asks_for_the_password_again(client, rp, clock):
    req = rp.authorization()
    rp.redeem(browse_to_callback(client, req, "lixiaoyao"), req)
    clock.advance(minutes=5)

    again = rp.authorization(prompt="login")
    next_path, params = login_redirect(client.get(again.url))
    assert params["prompt"] == "login"
    page = client.get("/login", params={"next": next_path, "prompt": "login"})
    assert page.status_code == 200 and 'name="password"' in page.text
    assert "当前已登录" in page.text and "李逍遥" in page.text
    # On a shared classroom computer the next pupil signs in here as themselves.
    signed_in = password_sign_in(client, next_path, "chenxiaokai")
    callback = through_continue(client, signed_in.headers["location"])
    tokens = rp.redeem(callback.headers["location"], again)
    claims = rp.id_token(tokens["id_token"], again, _now(clock))
    assert claims["auth_time"] == _now(clock)
    assert rp.userinfo().json()["name"] == "陈小凯"


def test_max_age_sends_an_old_session_back_to_the_login_page(client, rp, clock):
    req = rp.authorization()
    rp.redeem(browse_to_callback(client, req, "lixiaoyao"), req)
    clock.advance(minutes=10)

    fresh_enough = rp.authorization(max_age="3600")
    tokens = rp.redeem(browse_to_callback(client, fresh_enough, None), fresh_enough)
    assert rp.id_token(tokens["id_token"], fresh_enough, _now(clock))["auth_time"] < _now(clock)

    too_old = rp.authorization(max_age="300")
    next_path, _ = login_redirect(client.get(too_old.url))
    signed_in = password_sign_in(client, next_path, "lixiaoyao")
    callback = through_continue(client, signed_in.headers["location"])
    tokens = rp.redeem(callback.headers["location"], too_old)
    claims = rp.id_token(tokens["id_token"], too_old, _now(clock))
    assert _now(clock) - claims["auth_time"] <= 300

    silent = rp.authorization(max_age="0", prompt="none")
    clock.advance(seconds=1)
    answer = callback_query(client.get(silent.url).headers["location"])
    assert answer["error"] == "login_required" and answer["state"] == silent.state


@pytest.mark.parametrize("bad", ["-1", "soon", "1e9"])
def test_a_malformed_max_age_is_refused(client, rp, bad):
    req = rp.authorization(max_age=bad)
    answer = callback_query(client.get(req.url).headers["location"])
    assert answer["error"] == "invalid_request"


def test_prompt_none_errors(client, make_client, db, world, clock, rp):
    # No session: login_required.
    req = rp.authorization(prompt="none")
    assert callback_query(client.get(req.url).headers["location"])["error"] == "login_required"

    # A third-party application not yet consented: consent_required.
    row, secret = register(db, world["pt_admin"], clock.now(), name="作业帮手", first_party=False)
    third = HandRP(make_client(), row.client_id, secret)
    req = rp.authorization()
    rp.redeem(browse_to_callback(client, req, "lixiaoyao"), req)
    silent = third.authorization(prompt="none")
    answer = callback_query(client.get(silent.url).headers["location"])
    assert answer["error"] == "consent_required" and answer["state"] == silent.state

    # prompt=select_account cannot be answered silently either.
    silent = rp.authorization(prompt="none select_account")
    assert callback_query(client.get(silent.url).headers["location"])["error"] == (
        "invalid_request"
    )


def test_prompt_none_for_a_pupil_who_must_change_the_password(client, rp):
    req = rp.authorization()
    next_path, _ = login_redirect(client.get(req.url))
    password_sign_in(client, next_path, "s_xuesheng008", SCHOOL_DEFAULT_PASSWORD)
    silent = rp.authorization(prompt="none")
    answer = callback_query(client.get(silent.url).headers["location"])
    assert answer["error"] == "interaction_required"


def test_prompt_consent_asks_again_even_after_consent(client, make_client, db, world, clock):
    row, secret = register(db, world["pt_admin"], clock.now(), name="作业帮手", first_party=False)
    third = HandRP(make_client(), row.client_id, secret)
    req = third.authorization()
    next_path, _ = login_redirect(client.get(req.url))
    signed_in = password_sign_in(client, next_path, "lixiaoyao")
    page = through_continue(client, signed_in.headers["location"])
    assert page.status_code == 200 and "作业帮手" in page.text
    query = page.text.split('name="query" value="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    allowed = post_form(client, "/oauth/authorize/consent", {"query": query, "decision": "allow"})
    third.redeem(allowed.headers["location"], req)

    quiet = third.authorization()
    assert client.get(quiet.url).status_code == 302  # consented: no page
    asked = third.authorization(prompt="consent")
    page = client.get(asked.url)
    assert page.status_code == 200 and "作业帮手" in page.text


def test_select_account_offers_to_continue_or_switch(client, rp, clock):
    req = rp.authorization()
    rp.redeem(browse_to_callback(client, req, "lixiaoyao"), req)
    chooser = rp.authorization(prompt="select_account")
    next_path, params = login_redirect(client.get(chooser.url))
    assert params["prompt"] == "select_account"
    page = client.get("/login", params={"next": next_path, "prompt": "select_account"})
    assert "继续使用此账号" in page.text and "李逍遥" in page.text
    # 继续使用此账号: straight on to the application as the same person.
    callback = through_continue(client, next_path)
    tokens = rp.redeem(callback.headers["location"], chooser)
    assert rp.id_token(tokens["id_token"], chooser, _now(clock))["sub"]


def test_the_login_page_names_the_app_and_takes_the_hint_and_language(client, rp):
    req = rp.authorization(login_hint="lixiaoyao")
    next_path, _ = login_redirect(client.get(req.url))
    page = client.get("/login", params={"next": next_path})
    assert "「班级圈」应用请求登录" in page.text
    assert 'value="lixiaoyao"' in page.text

    english = rp.authorization(ui_locales="en-GB zh-CN")
    location = client.get(english.url).headers["location"]
    assert "ui_locales=en-GB" in location
    page = client.get(location)
    assert '<html lang="en"' in page.text or "Sign in" in page.text
    assert "统一认证登录" not in page.text


def test_an_unknown_app_is_not_named(client):
    page = client.get(
        "/login", params={"next": "/oauth/authorize/continue?client_id=nobody&login_hint=x"}
    )
    assert "应用请求登录" not in page.text and 'value="x"' not in page.text


def test_acr_values_are_recorded_in_the_id_token(client, rp, clock):
    req = rp.authorization(acr_values="urn:campusid:pwd")
    tokens = rp.redeem(browse_to_callback(client, req, "lixiaoyao"), req)
    claims = rp.id_token(tokens["id_token"], req, _now(clock))
    assert claims["acr"] == "urn:campusid:pwd" and claims["amr"] == ["pwd"]


def test_a_new_pupil_returns_to_the_app_after_the_forced_change(client, rp, clock):
    """Issue 21: a pupil's first app sign-in goes through the forced password change and
    lands back in the application with a code, not on 个人空间."""
    req = rp.authorization()
    next_path, _ = login_redirect(client.get(req.url))
    signed_in = password_sign_in(client, next_path, "s_xuesheng008", SCHOOL_DEFAULT_PASSWORD)
    location = signed_in.headers["location"]
    assert location.startswith("/password/change-required?next=")
    page = client.get(location)
    assert page.status_code == 200 and 'name="next"' in page.text
    changed = post_form(
        client,
        "/password/change-required",
        {
            "new_password": "Xin#Mima2027",
            "confirm_password": "Xin#Mima2027",
            "next": next_path,
        },
    )
    assert changed.status_code == 303
    callback = through_continue(client, changed.headers["location"])
    tokens = rp.redeem(callback.headers["location"], req)
    assert rp.id_token(tokens["id_token"], req, _now(clock))["sub"]
    # Starting from the app with a session that still must change: the change, then the app.
    assert client.get("/").status_code == 200


def test_an_unfinished_forced_change_comes_back_to_the_app(client, rp):
    req = rp.authorization()
    next_path, _ = login_redirect(client.get(req.url))
    password_sign_in(client, next_path, "s_xuesheng008", SCHOOL_DEFAULT_PASSWORD)
    again = client.get(req.url)
    assert again.status_code == 303
    assert again.headers["location"].startswith("/password/change-required?next=")
    assert "%2Foauth%2Fauthorize%2Fcontinue" in again.headers["location"] or (
        "/oauth/authorize/continue" in again.headers["location"]
    )


def test_request_objects_and_other_response_modes_are_refused(client, rp):
    for extra, error in [
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://bjq.example/r/1"}, "request_uri_not_supported"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"response_mode": "form_post"}, "invalid_request"),
    ]:
        req = rp.authorization(**extra)
        response = client.get(req.url)
        assert response.status_code == 302, extra
        location = response.headers["location"]
        assert "#" not in location
        answer = callback_query(location)
        assert answer["error"] == error and answer["state"] == req.state
    req = rp.authorization(response_mode="query")
    assert login_redirect(client.get(req.url))


def test_a_required_enrolment_comes_back_to_the_app(client, rp, db, world, clock):
    """A school administrator whose factor was reset enrols again, then lands in the app."""
    from sqlalchemy import delete
    from tests.support.factors import code_for_secret
    from tests.support.http import TOTP_SECRET

    from campusid.accounts.models import FactorRecoveryCode, SecondFactor

    admin = world["xx_admin"]
    db.execute(delete(FactorRecoveryCode).where(FactorRecoveryCode.user_id == admin.id))
    db.execute(delete(SecondFactor).where(SecondFactor.user_id == admin.id))
    db.commit()
    req = rp.authorization()
    next_path, _ = login_redirect(client.get(req.url))
    signed_in = password_sign_in(client, next_path, "xx_admin")
    location = signed_in.headers["location"]
    assert location.startswith("/account/two-step/setup?next=")
    again = client.get(req.url)  # straight back to the app before enrolling: enrol first
    assert again.headers["location"].startswith("/account/two-step/setup?next=")
    setup = client.get(location)
    secret = TOTP_SECRET.search(setup.text).group(1).replace(" ", "")
    codes = post_form(
        client,
        "/account/two-step/setup",
        {"code": code_for_secret(secret, clock.now()), "next": next_path},
    )
    assert codes.status_code == 200
    callback = through_continue(client, next_path)
    tokens = rp.redeem(callback.headers["location"], req)
    assert rp.id_token(tokens["id_token"], req, _now(clock))["sub"] == str(admin.id)

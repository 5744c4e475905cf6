"""issue 19: the ID token says how the person signed in (`amr`, `acr`), and an application can
demand a second factor (`acr_values`): the person is stepped up, then sent back to it."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from tests.support.factors import code_for_secret, usable_code
from tests.support.http import post_form
from tests.support.http import sign_in as sign_in_page
from tests.support.oidc import (
    CALLBACK,
    CONTINUE,
    ISSUER,
    Flow,
    callback_params,
    follow_to_callback,
    register,
    relying_party,
    sign_in,
    verify_id_token,
)
from tests.support.passkeys import register as add_passkey
from tests.support.passkeys import sign_in_with_passkey
from tests.support.webauthn import SoftAuthenticator

from campusid.accounts.models import FactorKind, SecondFactor
from campusid.demo import DEMO_PASSWORD

MFA = "urn:campusid:mfa"


@pytest.fixture
def banjiquan(db, world, clock):
    """班级圈: a first-party, confidential client."""
    return register(db, world["pt_admin"], clock.now())


def _claims(rp, token, flow, clock):  # type: ignore[no-untyped-def]
    return verify_id_token(
        rp, token["id_token"], nonce=flow.nonce, clock=clock, access_token=token["access_token"]
    )


def _finish(rp, browser, flow, location):  # type: ignore[no-untyped-def]
    """From a page of ours back through the continuation page to the callback, then tokens."""
    interstitial = browser.get(location)
    assert interstitial.status_code == 200, interstitial.text[:300]
    target = CONTINUE.search(interstitial.text).group(1).replace("&amp;", "&")
    callback = browser.get(target)
    assert callback.status_code == 302, callback.text[:300]
    assert callback.headers["location"].startswith(CALLBACK)
    return rp.fetch_token(
        f"{ISSUER}/oauth/token",
        authorization_response=callback.headers["location"],
        state=flow.state,
        code_verifier=flow.verifier,
    )


def test_discovery_lists_the_context_classes(client):
    meta = client.get("/.well-known/openid-configuration").json()
    assert MFA in meta["acr_values_supported"] and "mfa" in meta["acr_values_supported"]
    assert {"acr", "amr"} <= set(meta["claims_supported"])


def test_a_password_alone(client, make_client, world, banjiquan, clock):
    row, secret = banjiquan
    rp = relying_party(make_client(), row, secret)
    token, flow = sign_in(rp, client, login="p_lidaniang")
    claims = _claims(rp, token, flow, clock)
    assert claims["amr"] == ["pwd"]
    assert claims["acr"] == "urn:campusid:pwd"


def test_a_password_and_an_authenticator_code(client, make_client, world, banjiquan, clock):
    row, secret = banjiquan
    rp = relying_party(make_client(), row, secret)
    token, flow = sign_in(rp, client, login="chenxiaokai")  # staff: the second step
    claims = _claims(rp, token, flow, clock)
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["acr"] == MFA


def test_a_password_and_a_security_key(client, make_client, world, banjiquan, clock):
    row, secret = banjiquan
    key = SoftAuthenticator()
    sign_in_page(client, "p_lidaniang")
    assert add_passkey(client, key).status_code == 200
    browser = make_client()
    rp = relying_party(make_client(), row, secret)
    flow = Flow(rp, acr_values=MFA)
    login = browser.get(flow.url)
    next_path = parse_qs(urlsplit(login.headers["location"]).query)["next"][0]
    first = post_form(
        browser, "/login", {"login": "p_lidaniang", "password": DEMO_PASSWORD, "next": next_path}
    )
    assert first.headers["location"] == "/login/two-step"
    second = sign_in_with_passkey(browser, key)
    assert second.status_code == 303
    claims = _claims(rp, _finish(rp, browser, flow, second.headers["location"]), flow, clock)
    assert claims["amr"] == ["pwd", "hwk", "mfa"]
    assert claims["acr"] == MFA


def test_an_app_demanding_a_second_factor_gets_the_person_to_enrol_one(
    client, make_client, db, world, banjiquan, clock
):
    row, secret = banjiquan
    rp = relying_party(make_client(), row, secret)
    sign_in_page(client, "p_lidaniang")  # a parent: a second factor is optional, she has none
    flow = Flow(rp, acr_values="mfa")
    asked = client.get(flow.url)
    assert asked.status_code == 303
    location = asked.headers["location"]
    assert location.startswith("/account/two-step/setup?next=")
    back = unquote(location.split("next=", 1)[1])
    assert back.startswith("/oauth/authorize/continue?")
    setup = client.get(location)
    found = re.search(r'<code class="totp-secret">([A-Z2-7 ]+)</code>', setup.text)
    code = code_for_secret(found.group(1).replace(" ", ""), clock.now())
    codes = post_form(client, "/account/two-step/setup", {"code": code, "next": back})
    assert codes.status_code == 200 and "请保存您的恢复码" in codes.text
    assert f'href="{back}"'.replace("&", "&amp;") in codes.text
    claims = _claims(rp, _finish(rp, client, flow, back), flow, clock)
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["acr"] == "mfa"  # the value asked for, met


def test_a_session_without_its_factor_is_stepped_up(
    client, make_client, db, world, banjiquan, clock
):
    row, secret = banjiquan
    rp = relying_party(make_client(), row, secret)
    parent = world["p_lidaniang"]
    sign_in_page(client, "p_lidaniang")
    # An authenticator that this session has not used (enrolled where the session lived on).
    db.add(
        SecondFactor(
            user_id=parent.id,
            kind=FactorKind.TOTP.value,
            label="身份验证器",
            secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
            created_at=clock.now(),
            confirmed_at=clock.now(),
        )
    )
    db.commit()
    # Without acr_values the app gets its code at once, and the token says "pwd".
    token, flow = sign_in(rp, client, login=None)
    assert _claims(rp, token, flow, clock)["amr"] == ["pwd"]

    flow = Flow(rp, acr_values=MFA)
    asked = client.get(flow.url)
    assert asked.headers["location"].startswith("/account/verify?next=")
    back = unquote(asked.headers["location"].split("next=", 1)[1])
    page = client.get(asked.headers["location"])
    assert page.status_code == 200 and "请再次验证" in page.text
    with db.begin_nested():
        code = usable_code(db, "p_lidaniang", clock.now())
    db.commit()
    verified = post_form(client, "/account/verify", {"code": code, "next": back})
    assert verified.status_code == 303 and verified.headers["location"] == back
    claims = _claims(rp, _finish(rp, client, flow, back), flow, clock)
    assert claims["amr"] == ["pwd", "otp", "mfa"] and claims["acr"] == MFA


def test_a_demand_that_cannot_be_met_or_needs_a_page(client, make_client, world, banjiquan):
    row, secret = banjiquan
    rp = relying_party(make_client(), row, secret)
    # A pupil is offered no second factor: the app is told, on its own redirect URI.
    sign_in_page(client, "lixiaoyao")
    flow = Flow(rp, acr_values=MFA)
    refused = client.get(flow.url)
    assert refused.status_code == 302 and refused.headers["location"].startswith(CALLBACK)
    params = callback_params(refused.headers["location"])
    assert params["error"] == "unmet_authentication_requirements"
    assert params["state"] == flow.state

    # prompt=none: the step-up would need a page, so the app is told instead.
    other = make_client()
    sign_in_page(other, "p_lidaniang")
    flow = Flow(rp, acr_values=MFA, prompt="none")
    silent = other.get(flow.url)
    assert silent.status_code == 302
    assert callback_params(silent.headers["location"])["error"] == "interaction_required"
    # An unknown class asks nothing more: a password is what it gets, and the token says so.
    assert follow_to_callback(other, Flow(rp, acr_values="urn:other:loa3").url).startswith(CALLBACK)


def test_a_remembered_browser_claims_no_second_factor(  # type: ignore[no-untyped-def]
    client, make_client, db, services, world, banjiquan, clock
):
    """记住此设备: the sign-in that skipped the second step says `pwd` only, and an app that
    demands a second factor gets the person stepped up."""
    services.settings.mfa_remember_device_days = 7
    row, secret = banjiquan
    rp = relying_party(make_client(), row, secret)
    first = post_form(client, "/login", {"login": "chenxiaokai", "password": DEMO_PASSWORD})
    assert first.headers["location"] == "/login/two-step"
    with db.begin_nested():
        code = usable_code(db, "chenxiaokai", clock.now())
    db.commit()
    kept = post_form(client, "/login/two-step", {"code": code, "remember": "true"})
    assert kept.status_code == 303
    post_form(client, "/logout")
    # Signed in again through the app: the password alone, the browser remembered.
    token, flow = sign_in(rp, client, login="chenxiaokai")
    claims = _claims(rp, token, flow, clock)
    assert claims["amr"] == ["pwd"] and claims["acr"] == "urn:campusid:pwd"
    flow = Flow(rp, acr_values=MFA)
    asked = client.get(flow.url)
    assert asked.headers["location"].startswith("/account/verify?next=")

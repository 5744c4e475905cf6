"""A relying party (Authlib's client) signs people in through the login page, end to end."""

from __future__ import annotations

import hashlib

import pytest
from authlib.integrations.base_client.errors import OAuthError
from tests.support.http import post_form
from tests.support.oidc import (
    AFTER_LOGOUT,
    CALLBACK,
    ISSUER,
    Flow,
    callback_params,
    change_own_password,
    follow_to_callback,
    register,
    relying_party,
    sign_in,
    verify_id_token,
)


@pytest.fixture
def banjiquan(db, world, clock):
    """班级圈: a first-party, confidential client."""
    return register(db, world["pt_admin"], clock.now())


def test_discovery_names_every_endpoint(client):
    meta = client.get("/.well-known/openid-configuration").json()
    assert meta["issuer"] == ISSUER
    for key, path in {
        "authorization_endpoint": "/oauth/authorize",
        "token_endpoint": "/oauth/token",
        "userinfo_endpoint": "/oauth/userinfo",
        "jwks_uri": "/oauth/jwks",
        "revocation_endpoint": "/oauth/revoke",
        "end_session_endpoint": "/oauth/logout",
    }.items():
        assert meta[key] == ISSUER + path
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert {"openid", "profile", "school", "family"} <= set(meta["scopes_supported"])


def test_jwks_serves_only_public_keys(client):
    keys = client.get("/oauth/jwks").json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA" and keys[0]["kid"] and keys[0]["use"] == "sig"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0])


def test_sign_in_end_to_end_then_refused_after_a_password_reset(
    client, make_client, world, banjiquan, clock
):
    row, secret = banjiquan
    rp = relying_party(make_client(), row, secret)

    token, flow = sign_in(rp, client, login="chenxiaokai")
    assert {"access_token", "refresh_token", "id_token"} <= set(token)
    assert token["token_type"].lower() == "bearer"

    claims = verify_id_token(
        rp, token["id_token"], nonce=flow.nonce, clock=clock, access_token=token["access_token"]
    )
    assert claims["sub"] == str(world["chenxiaokai"].id)
    assert claims["name"] == "陈小凯"
    assert claims["aud"] == [row.client_id]

    info = rp.get(f"{ISSUER}/oauth/userinfo").json()
    assert info["sub"] == str(world["chenxiaokai"].id)
    assert info["name"] == "陈小凯"
    homeroom = [c for c in info["classes"] if c["class_code"] == "gu22cm"]
    assert homeroom and homeroom[0]["role"] == "homeroom_teacher"
    assert homeroom[0]["name"] == "五年级1班" and homeroom[0]["grade"] == "五年级"
    assert homeroom[0]["school"]["name"] == "之江汇学校"
    assert info["schools"][0]["name"] == "之江汇学校"
    # No personal identifiers without a scope that asks for them.
    assert not {"phone_number", "id_card_number", "phone_number_masked"} & set(info)

    refreshed = rp.refresh_token(f"{ISSUER}/oauth/token")
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert rp.get(f"{ISSUER}/oauth/userinfo").status_code == 200

    # The teacher changes the password (any route goes through set_password).
    change_own_password(client)
    assert rp.get(f"{ISSUER}/oauth/userinfo").status_code == 401
    with pytest.raises(OAuthError) as refused:
        rp.refresh_token(f"{ISSUER}/oauth/token")
    assert refused.value.error == "invalid_grant"


def test_client_secrets_and_tokens_are_stored_hashed(db, world, banjiquan):
    row, secret = banjiquan
    assert secret and row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()


def test_unregistered_redirect_uri_is_refused_without_redirecting(client, world, banjiquan):
    row, secret = banjiquan
    rp = relying_party(client, row, secret, redirect_uri="https://evil.example/callback")
    response = client.get(Flow(rp).url)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "登录请求无效" in response.text


def test_redirect_uri_must_match_exactly(client, world, banjiquan):
    row, secret = banjiquan
    rp = relying_party(client, row, secret, redirect_uri=CALLBACK + "/../x")
    assert client.get(Flow(rp).url).status_code == 400
    rp = relying_party(client, row, secret, redirect_uri=CALLBACK + "?next=1")
    assert client.get(Flow(rp).url).status_code == 400


def test_token_request_with_another_redirect_uri_is_refused(client, make_client, world, banjiquan):
    row, secret = banjiquan
    rp = relying_party(make_client(), row, secret)
    flow = Flow(rp)
    code = callback_params(follow_to_callback(client, flow.url, "chenxiaokai"))["code"]
    with pytest.raises(OAuthError) as refused:
        rp.fetch_token(
            f"{ISSUER}/oauth/token",
            code=code,
            code_verifier=flow.verifier,
            redirect_uri="https://bjq.example/other",
        )
    assert refused.value.error == "invalid_grant"


def test_public_client_must_use_pkce(client, make_client, db, world, clock):
    row, _ = register(db, world["pt_admin"], clock.now(), name="掌上班级", confidential=False)
    assert row.secret_hash is None
    rp = relying_party(make_client(), row, None)
    url, _state = rp.create_authorization_url(f"{ISSUER}/oauth/authorize")  # no code_verifier
    # Refused before anyone signs in: the request itself is bad.
    location = follow_to_callback(client, url)
    params = callback_params(location)
    assert location.startswith(CALLBACK)
    assert params["error"] == "invalid_request" and "code" not in params

    # With PKCE the public client signs in without any secret.
    token, _ = sign_in(rp, client, login="chenxiaokai")
    assert token["id_token"] and token["refresh_token"]


def test_public_client_cannot_redeem_a_code_without_the_verifier(
    client, make_client, db, world, clock
):
    row, _ = register(db, world["pt_admin"], clock.now(), name="掌上班级", confidential=False)
    rp = relying_party(make_client(), row, None)
    flow = Flow(rp)
    code = callback_params(follow_to_callback(client, flow.url, "chenxiaokai"))["code"]
    with pytest.raises(OAuthError) as refused:
        rp.fetch_token(f"{ISSUER}/oauth/token", code=code)
    assert refused.value.error == "invalid_request"
    with pytest.raises(OAuthError) as wrong:
        rp.fetch_token(f"{ISSUER}/oauth/token", code=code, code_verifier="x" * 50)
    assert wrong.value.error == "invalid_grant"


def test_plain_pkce_is_refused(client, world, banjiquan):
    row, secret = banjiquan
    rp = relying_party(client, row, secret)
    url, _ = rp.create_authorization_url(
        f"{ISSUER}/oauth/authorize", code_challenge="a" * 43, code_challenge_method="plain"
    )
    location = follow_to_callback(client, url)
    assert callback_params(location)["error"] == "invalid_request"


def test_a_reused_code_is_refused_and_revokes_its_tokens(client, make_client, world, banjiquan):
    row, secret = banjiquan
    rp = relying_party(make_client(), row, secret)
    flow = Flow(rp)
    code = callback_params(follow_to_callback(client, flow.url, "chenxiaokai"))["code"]
    rp.fetch_token(f"{ISSUER}/oauth/token", code=code, code_verifier=flow.verifier)
    assert rp.get(f"{ISSUER}/oauth/userinfo").status_code == 200
    thief = relying_party(make_client(), row, secret)
    with pytest.raises(OAuthError) as refused:
        thief.fetch_token(f"{ISSUER}/oauth/token", code=code, code_verifier=flow.verifier)
    assert refused.value.error == "invalid_grant"
    assert rp.get(f"{ISSUER}/oauth/userinfo").status_code == 401


def test_a_reused_refresh_token_revokes_the_family(client, make_client, world, banjiquan):
    row, secret = banjiquan
    rp = relying_party(make_client(), row, secret)
    first, _ = sign_in(rp, client, login="chenxiaokai")
    second = rp.refresh_token(f"{ISSUER}/oauth/token")
    assert second["refresh_token"] != first["refresh_token"]

    attacker = relying_party(make_client(), row, secret)
    with pytest.raises(OAuthError) as refused:
        attacker.refresh_token(f"{ISSUER}/oauth/token", refresh_token=first["refresh_token"])
    assert refused.value.error == "invalid_grant"
    # The legitimate holder's newer tokens die with the family.
    assert rp.get(f"{ISSUER}/oauth/userinfo").status_code == 401
    with pytest.raises(OAuthError):
        rp.refresh_token(f"{ISSUER}/oauth/token")


def test_expired_access_token_and_code_are_refused(
    client, make_client, world, banjiquan, clock, services
):
    row, secret = banjiquan
    rp = relying_party(make_client(), row, secret)
    sign_in(rp, client, login="chenxiaokai")
    clock.advance(seconds=services.settings.oidc_access_token_seconds + 1)
    response = rp.get(f"{ISSUER}/oauth/userinfo")
    assert response.status_code == 401
    assert "invalid_token" in response.headers.get("www-authenticate", "")
    # A refresh still works, and the new access token does.
    rp.refresh_token(f"{ISSUER}/oauth/token")
    assert rp.get(f"{ISSUER}/oauth/userinfo").status_code == 200

    flow = Flow(rp)
    code = callback_params(follow_to_callback(client, flow.url))["code"]
    clock.advance(seconds=services.settings.oidc_code_seconds + 1)
    with pytest.raises(OAuthError) as refused:
        rp.fetch_token(f"{ISSUER}/oauth/token", code=code, code_verifier=flow.verifier)
    assert refused.value.error == "invalid_grant"


def test_expired_refresh_token_is_refused(client, make_client, world, banjiquan, clock, services):
    row, secret = banjiquan
    rp = relying_party(make_client(), row, secret)
    sign_in(rp, client, login="chenxiaokai")
    clock.advance(days=services.settings.oidc_refresh_token_days, seconds=1)
    with pytest.raises(OAuthError) as refused:
        rp.refresh_token(f"{ISSUER}/oauth/token")
    assert refused.value.error == "invalid_grant"


def test_wrong_client_secret_is_refused(client, make_client, world, banjiquan):
    row, _ = banjiquan
    rp = relying_party(make_client(), row, "not-the-secret")
    flow = Flow(rp)
    code = callback_params(follow_to_callback(client, flow.url, "chenxiaokai"))["code"]
    with pytest.raises(OAuthError) as refused:
        rp.fetch_token(f"{ISSUER}/oauth/token", code=code, code_verifier=flow.verifier)
    assert refused.value.error == "invalid_client"


def test_revoked_refresh_token_stops_working(client, make_client, world, banjiquan):
    row, secret = banjiquan
    rp = relying_party(make_client(), row, secret)
    token, _ = sign_in(rp, client, login="chenxiaokai")
    response = rp.revoke_token(
        f"{ISSUER}/oauth/revoke", token=token["refresh_token"], token_type_hint="refresh_token"
    )
    assert response.status_code == 200
    with pytest.raises(OAuthError):
        rp.refresh_token(f"{ISSUER}/oauth/token")
    assert rp.get(f"{ISSUER}/oauth/userinfo").status_code == 401


def test_forced_password_change_comes_first(client, world, banjiquan):
    row, secret = banjiquan
    rp = relying_party(client, row, secret)
    response = client.get(Flow(rp).url)
    next_path = response.headers["location"].split("next=", 1)[1]
    signed_in = post_form(
        client,
        "/login",
        {"login": "s_xuesheng008", "password": "Zjh13579", "next": next_path},
    )
    assert signed_in.headers["location"].startswith("/password/change-required")
    response = client.get(Flow(rp).url)
    assert response.status_code == 303
    # issue 21: and back to the authorization afterwards (tests/functional/oidc/test_prompt...)
    assert response.headers["location"].startswith("/password/change-required?next=")


def test_prompt_none_without_a_session_answers_login_required(client, world, banjiquan):
    row, secret = banjiquan
    rp = relying_party(client, row, secret)
    response = client.get(Flow(rp, prompt="none").url)
    assert response.status_code == 302
    assert callback_params(response.headers["location"])["error"] == "login_required"


def test_rp_initiated_logout_ends_the_session_and_the_clients_tokens(
    client, make_client, world, banjiquan
):
    row, secret = banjiquan
    rp = relying_party(make_client(), row, secret)
    token, _ = sign_in(rp, client, login="chenxiaokai")
    response = client.get(
        "/oauth/logout",
        params={
            "id_token_hint": token["id_token"],
            "post_logout_redirect_uri": AFTER_LOGOUT,
            "state": "s1",
        },
    )
    assert response.status_code == 302, response.text[-1500:]
    assert response.headers["location"] == AFTER_LOGOUT + "?state=s1"
    assert client.get("/").status_code == 303  # signed out here too
    assert rp.get(f"{ISSUER}/oauth/userinfo").status_code == 401


def test_logout_without_id_token_asks_first(client, world, banjiquan):
    from tests.support.http import sign_in as browser_sign_in

    browser_sign_in(client, "chenxiaokai")
    page = client.get("/oauth/logout", params={"post_logout_redirect_uri": AFTER_LOGOUT})
    assert page.status_code == 200 and "确认退出" in page.text
    assert client.get("/").status_code == 200  # still signed in
    done = post_form(client, "/oauth/logout/confirm")
    assert done.status_code == 200 and "已退出登录" in done.text
    assert client.get("/").status_code == 303


def test_a_confirmed_logout_ends_the_persons_app_tokens(client, make_client, world, banjiquan):
    """Issue 21: signing out after the confirmation page is 退出登录: the applications'
    tokens of the person end too."""
    row, secret = banjiquan
    rp = relying_party(make_client(), row, secret)
    sign_in(rp, client, login="chenxiaokai")
    assert rp.get(f"{ISSUER}/oauth/userinfo").status_code == 200
    page = client.get("/oauth/logout", params={"post_logout_redirect_uri": AFTER_LOGOUT})
    assert "确认退出" in page.text
    done = post_form(client, "/oauth/logout/confirm")
    assert done.status_code == 200 and "已退出登录" in done.text
    assert client.get("/").status_code == 303
    assert rp.get(f"{ISSUER}/oauth/userinfo").status_code == 401


def test_logout_with_another_users_hint_asks_and_ends_nothing(
    client, make_client, world, banjiquan
):
    """Issue 18 finding 7: a logout link carrying someone else's ID token signs no one out."""
    from tests.support.http import sign_in as browser_sign_in

    row, secret = banjiquan
    # 陈小凯 signs in to 班级圈 in his own browser; his ID token is the "other user's" hint.
    other_browser = make_client()
    rp = relying_party(make_client(), row, secret)
    token, _ = sign_in(rp, other_browser, login="chenxiaokai")

    browser_sign_in(client, "lixiaoyao")
    page = client.get(
        "/oauth/logout",
        params={"id_token_hint": token["id_token"], "post_logout_redirect_uri": AFTER_LOGOUT},
    )
    assert page.status_code == 200
    assert "确认退出" in page.text and "另一个账号" in page.text
    assert client.get("/").status_code == 200  # 李逍遥 is still signed in
    assert other_browser.get("/").status_code == 200  # and so is 陈小凯
    assert rp.get(f"{ISSUER}/oauth/userinfo").status_code == 200  # his tokens live on
    # Confirming signs out only the person at this browser.
    done = post_form(client, "/oauth/logout/confirm")
    assert done.status_code == 200 and "已退出登录" in done.text
    assert client.get("/").status_code == 303
    assert other_browser.get("/").status_code == 200
    assert rp.get(f"{ISSUER}/oauth/userinfo").status_code == 200

"""Issue 21: standard claims, the family claim with names, and pairwise `sub` for third-party
clients. A hand-written client (tests/support/rp.py)."""

from __future__ import annotations

from sqlalchemy import select
from tests.support.http import post_form
from tests.support.oidc import AFTER_LOGOUT, register
from tests.support.rp import (
    HandRP,
    browse_to_callback,
    login_redirect,
    password_sign_in,
    through_continue,
)

from campusid.classes.models import ClassStudent

ALL = "openid profile school family identifiers identifiers.full"


def _signed_in(client, http, row, secret, login, scope, clock):  # type: ignore[no-untyped-def]
    rp = HandRP(http, row.client_id, secret, scope=scope)
    req = rp.authorization()
    tokens = rp.redeem(browse_to_callback(client, req, login), req)
    return rp, rp.id_token(tokens["id_token"], req, int(clock.now().timestamp()))


def test_profile_and_school_claims(client, make_client, db, world, clock):
    row, secret = register(db, world["pt_admin"], clock.now(), scopes=ALL)
    rp, id_claims = _signed_in(
        client, make_client(), row, secret, "lixiaoyao", "openid profile school", clock
    )
    pupil = world["lixiaoyao"]
    assert id_claims["sub"] == str(pupil.id)  # first-party: the public sub, unchanged
    assert id_claims["preferred_username"] == "lixiaoyao"
    info = rp.userinfo().json()
    assert info["preferred_username"] == "lixiaoyao" and info["gender"] == "male"
    assert "picture" not in info  # no avatar, no claim
    number = db.scalar(
        select(ClassStudent.student_number).where(ClassStudent.student_id == pupil.id)
    )
    assert number and info["student_number"] == number

    meta = client.get("/.well-known/openid-configuration").json()
    assert set(info) <= set(meta["claims_supported"])
    assert set(id_claims) <= set(meta["claims_supported"])
    assert meta["subject_types_supported"] == ["public", "pairwise"]


def test_picture_only_with_an_avatar_and_a_token(client, make_client, db, world, clock):
    pupil = world["lixiaoyao"]
    pupil.avatar = b"\xff\xd8\xff\xe0 a tiny jpeg"
    db.commit()
    row, secret = register(db, world["pt_admin"], clock.now(), scopes=ALL)
    rp, _ = _signed_in(client, make_client(), row, secret, "lixiaoyao", "openid profile", clock)
    info = rp.userinfo().json()
    assert info["picture"] == "http://testserver/oauth/picture"
    image = rp.http.get(
        info["picture"], headers={"Authorization": "Bearer " + rp.tokens["access_token"]}
    )
    assert image.status_code == 200 and image.content.startswith(b"\xff\xd8")
    assert rp.http.get(info["picture"]).status_code == 401


def test_family_claim_names_each_child(client, make_client, db, world, clock):
    row, secret = register(db, world["pt_admin"], clock.now(), scopes=ALL)
    rp, _ = _signed_in(client, make_client(), row, secret, "p_lidaniang", "openid family", clock)
    children = rp.userinfo().json()["children"]
    assert [(c["name"], c["sub"]) for c in children] == [("李逍遥", str(world["lixiaoyao"].id))]


def test_identifiers_are_standard_when_full_and_masked_otherwise(
    client, make_client, db, world, clock
):
    row, secret = register(db, world["pt_admin"], clock.now(), scopes=ALL)
    full, _ = _signed_in(
        client, make_client(), row, secret, "chenxiaokai", "openid identifiers.full", clock
    )
    info = full.userinfo().json()
    assert info["phone_number"] == "13800000001"
    assert info["phone_number_verified"] is False
    assert "email_verified" in info and "phone_number_masked" not in info
    masked, _ = _signed_in(client, make_client(), row, secret, None, "openid identifiers", clock)
    info = masked.userinfo().json()
    assert "phone_number" not in info and "phone_number_verified" not in info
    assert info["phone_number_masked"] != "13800000001" and "****" in info["phone_number_masked"]


def test_third_party_clients_get_a_pairwise_sub(client, make_client, db, world, clock):
    reading, reading_secret = register(
        db, world["pt_admin"], clock.now(), name="阅读打卡", first_party=False, scopes=ALL
    )
    homework, homework_secret = register(
        db, world["pt_admin"], clock.now(), name="作业帮手", first_party=False, scopes=ALL
    )
    assert reading.pairwise_subject and homework.pairwise_subject
    parent = world["p_lidaniang"]
    subs = {}
    for row, secret in ((reading, reading_secret), (homework, homework_secret)):
        rp = HandRP(make_client(), row.client_id, secret, scope="openid family")
        req = rp.authorization()
        response = client.get(req.url)
        if response.status_code == 303 and response.headers["location"].startswith("/login"):
            next_path, _ = login_redirect(response)
            post_form(
                client,
                "/login",
                {"login": "p_lidaniang", "password": "Zjer@2026", "next": next_path},
            )
            response = through_continue(client, next_path)
        query = response.text.split('name="query" value="', 1)[1].split('"', 1)[0]
        allowed = post_form(
            client,
            "/oauth/authorize/consent",
            {"query": query.replace("&amp;", "&"), "decision": "allow"},
        )
        tokens = rp.redeem(allowed.headers["location"], req)
        claims = rp.id_token(tokens["id_token"], req, int(clock.now().timestamp()))
        info = rp.userinfo().json()
        assert claims["sub"] == info["sub"] != str(parent.id)
        assert info["children"][0]["sub"] != str(world["lixiaoyao"].id)
        subs[row.name] = (claims["sub"], tokens, rp)
        # Stable: the same person gets the same sub from this client next time.
        again = rp.authorization()
        tokens2 = rp.redeem(browse_to_callback(client, again, None), again)
        assert (
            rp.id_token(tokens2["id_token"], again, int(clock.now().timestamp()))["sub"]
            == (claims["sub"])
        )
    assert subs["阅读打卡"][0] != subs["作业帮手"][0]

    # RP-initiated logout with a pairwise id_token_hint ends the session and that app's tokens.
    _sub, tokens, rp = subs["作业帮手"]
    response = client.get(
        "/oauth/logout",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": AFTER_LOGOUT},
    )
    assert response.status_code == 302, response.text[:300]
    assert rp.userinfo().status_code == 401
    # Single logout (issue 21): signing out of campusid ends the other app's tokens too.
    assert subs["阅读打卡"][2].userinfo().status_code == 401


def test_a_pairwise_hint_without_a_session_ends_only_that_persons_tokens(
    client, make_client, db, world, clock
):
    """RP-initiated logout from a browser with no campusid session (already signed out, or
    another device): the pairwise `sub` of the hint finds the person among the client's live
    tokens; another person's tokens of the same client stay."""
    row, secret = register(
        db, world["pt_admin"], clock.now(), name="阅读打卡", first_party=False, scopes=ALL
    )
    assert row.pairwise_subject
    signed = {}
    for login in ("p_lidaniang", "chenxiaokai"):
        browser = make_client()
        rp = HandRP(make_client(), row.client_id, secret, scope="openid")
        req = rp.authorization()
        next_path, _ = login_redirect(browser.get(req.url))
        signed_in = password_sign_in(browser, next_path, login)
        page = through_continue(browser, signed_in.headers["location"])
        query = page.text.split('name="query" value="', 1)[1].split('"', 1)[0]
        allowed = post_form(
            browser,
            "/oauth/authorize/consent",
            {"query": query.replace("&amp;", "&"), "decision": "allow"},
        )
        signed[login] = (rp.redeem(allowed.headers["location"], req), rp)
    tokens, rp = signed["p_lidaniang"]
    response = make_client().get(
        "/oauth/logout",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": AFTER_LOGOUT},
    )
    assert response.status_code == 302, response.text[:300]
    assert rp.userinfo().status_code == 401
    assert signed["chenxiaokai"][1].userinfo().status_code == 200

"""issue 21: single logout. 退出登录 at campusid, a password change and an administrator's reset
revoke the person's application tokens and POST a signed logout token (Back-Channel Logout 1.0)
to a real HTTP server on loopback; front-channel URIs are framed on the signed-out page. The
application is hand-written (httpx + joserfc), not Authlib."""

from __future__ import annotations

from dataclasses import replace

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select
from tests.support.backchannel import backchannel_endpoint
from tests.support.http import post_form
from tests.support.oidc import ISSUER, change_own_password, register
from tests.support.rawrp import code_flow, http

from campusid.audit.models import AuditEvent
from campusid.audit.service import ClientInfo
from campusid.oidc import service as oidc
from campusid.oidc.logout import BACKCHANNEL_EVENT

FRONT = "https://bjq.example/frontchannel"


def _with_logout_uris(db, world, clock, row, *, back: str = "", front: str = ""):
    form = replace(
        oidc.ClientForm.of(row), backchannel_logout_uri=back, frontchannel_logout_uri=front
    )
    oidc.update_client(
        db, row=row, form=form, actor=world["pt_admin"], now=clock.now(), client=ClientInfo()
    )
    db.commit()


def _verify(server, token: str, *, client_id: str, sub: str, clock) -> dict:
    """What the application must check (Back-Channel Logout 1.0, section 2.6)."""
    published = KeySet.import_key_set(server.get("/oauth/jwks").json())
    decoded = jwt.decode(token, published, algorithms=["RS256"])
    assert decoded.header["typ"] == "logout+jwt" and decoded.header["kid"]
    claims = dict(decoded.claims)
    jwt.JWTClaimsRegistry(
        now=int(clock.now().timestamp()),
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": client_id},
        iat={"essential": True},
        jti={"essential": True},
    ).validate(claims)
    assert claims["events"] == {BACKCHANNEL_EVENT: {}}
    assert claims["sub"] == sub and "nonce" not in claims
    return claims


def _userinfo(server, token: str) -> int:
    return server.get("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code


def test_discovery_says_back_and_front_channel_logout(client):
    meta = client.get("/.well-known/openid-configuration").json()
    assert meta["backchannel_logout_supported"] is True
    assert meta["frontchannel_logout_supported"] is True


def test_signing_out_of_campusid_tells_the_app_and_ends_its_tokens(
    client, make_client, db, world, clock
):
    row, secret = register(db, world["pt_admin"], clock.now())
    server = http(client)
    with backchannel_endpoint() as endpoint:
        _with_logout_uris(db, world, clock, row, back=endpoint.uri, front=FRONT)
        browser = make_client()
        tokens = code_flow(
            browser, server, client_id=row.client_id, secret=secret, login="chenxiaokai"
        )
        assert _userinfo(server, tokens["access_token"]) == 200

        out = post_form(browser, "/logout")
        assert out.status_code == 200
        assert f'src="{FRONT}?iss=http%3A%2F%2Ftestserver"' in out.text
        assert "frame-src https://bjq.example" in out.headers["content-security-policy"]

        assert len(endpoint.tokens) == 1
        assert endpoint.content_types[0] == "application/x-www-form-urlencoded"
        claims = _verify(
            server,
            endpoint.tokens[0],
            client_id=row.client_id,
            sub=str(world["chenxiaokai"].id),
            clock=clock,
        )
        assert claims["exp"] > claims["iat"]

    assert _userinfo(server, tokens["access_token"]) == 401
    refreshed = server.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(row.client_id, secret),
    )
    assert refreshed.json()["error"] == "invalid_grant"
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "oidc.backchannel_logout"))
    assert event is not None and event.detail["client_id"] == row.client_id


def test_a_signed_out_person_without_apps_goes_to_the_login_page(client, make_client, world):
    browser = make_client()
    from tests.support.http import sign_in

    sign_in(browser, "chenxiaokai")
    out = post_form(browser, "/logout")
    assert out.status_code == 303 and out.headers["location"] == "/login"


@pytest.mark.parametrize("how", ["own_change", "admin_reset"])
def test_a_password_change_or_reset_logs_the_person_out_of_apps(
    client, make_client, db, world, clock, services, how
):
    row, secret = register(db, world["pt_admin"], clock.now())
    server = http(client)
    with backchannel_endpoint() as endpoint:
        endpoint.fail_first = 1  # the first delivery fails: it is retried
        _with_logout_uris(db, world, clock, row, back=endpoint.uri)
        browser = make_client()
        tokens = code_flow(
            browser, server, client_id=row.client_id, secret=secret, login="chenxiaokai"
        )
        if how == "own_change":
            change_own_password(browser)
        else:
            from campusid.accounts import service as accounts
            from campusid.accounts.service import Route

            with services.session_factory() as session:
                session.info["services"] = services
                session.info["base_url"] = ISSUER
                accounts.set_password(
                    session,
                    services=services,
                    user=session.get(type(world["chenxiaokai"]), world["chenxiaokai"].id),
                    new_password="Chong#Zhi2027",
                    actor=session.get(type(world["pt_admin"]), world["pt_admin"].id),
                    route=Route.ADMIN,
                    must_change=True,
                    client=ClientInfo(),
                )
                session.commit()
        assert endpoint.statuses[:2] == [503, 200]
        assert len(endpoint.tokens) == 1
        _verify(
            server,
            endpoint.tokens[0],
            client_id=row.client_id,
            sub=str(world["chenxiaokai"].id),
            clock=clock,
        )
    assert _userinfo(server, tokens["access_token"]) == 401


def test_nothing_is_sent_when_the_change_rolls_back(
    client, make_client, db, world, clock, services
):
    row, secret = register(db, world["pt_admin"], clock.now())
    server = http(client)
    with backchannel_endpoint() as endpoint:
        _with_logout_uris(db, world, clock, row, back=endpoint.uri)
        code_flow(
            make_client(), server, client_id=row.client_id, secret=secret, login="chenxiaokai"
        )
        from campusid.oidc.logout import end_app_sessions

        with services.session_factory() as session:
            session.info["services"] = services
            user = session.get(type(world["chenxiaokai"]), world["chenxiaokai"].id)
            end_app_sessions(session, user, clock.now())
            session.rollback()
        assert endpoint.statuses == []

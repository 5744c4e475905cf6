"""issue 21: client_credentials for server-to-server calls and RFC 7662 introspection, driven
by a hand-written client (tests.support.rawrp), not Authlib's."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select
from tests.support.http import post_form, sign_in
from tests.support.oidc import ISSUER, change_own_password, register
from tests.support.rawrp import code_flow, http, introspect, service_token

from campusid.audit.service import ClientInfo
from campusid.oidc import service as oidc
from campusid.oidc.models import OAuthClient, OAuthToken

CORE = oidc.ONEROSTER_SCOPE_BASE + "roster-core.readonly"
FULL = oidc.ONEROSTER_SCOPE_BASE + "roster.readonly"


def _give_service_scopes(db, world, clock, row: OAuthClient, *scopes: str) -> None:
    form = replace(oidc.ClientForm.of(row), service_scopes=list(scopes))
    oidc.update_client(
        db, row=row, form=form, actor=world["pt_admin"], now=clock.now(), client=ClientInfo()
    )
    db.commit()


@pytest.fixture
def roster_app(db, world, clock):
    """A confidential client allowed the OneRoster core scope for its own calls."""
    row, secret = register(db, world["pt_admin"], clock.now(), name="名册同步")
    _give_service_scopes(db, world, clock, row, CORE)
    return row, secret


def test_discovery_names_introspection_and_client_credentials(client):
    meta = client.get("/.well-known/openid-configuration").json()
    assert meta["introspection_endpoint"] == ISSUER + "/oauth/introspect"
    assert "client_credentials" in meta["grant_types_supported"]
    assert CORE in meta["scopes_supported"]
    assert meta["introspection_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]


def test_client_credentials_gives_a_service_token_and_introspection_describes_it(
    client, db, clock, roster_app
):
    row, secret = roster_app
    server = http(client)
    issued = service_token(server, row.client_id, secret)
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["scope"] == CORE and body["token_type"].lower() == "bearer"
    assert "refresh_token" not in body and "id_token" not in body

    stored = db.scalar(select(OAuthToken).where(OAuthToken.client_id == row.id))
    assert stored is not None and stored.user_id is None
    assert stored.access_token_hash != body["access_token"]  # hashed at rest

    seen = introspect(server, row.client_id, secret, body["access_token"]).json()
    assert seen["active"] is True
    assert seen["client_id"] == row.client_id and seen["sub"] == row.client_id
    assert seen["scope"] == CORE and seen["iss"] == ISSUER
    assert seen["exp"] == int(clock.now().timestamp()) + body["expires_in"]
    assert oidc.find_service_token(
        db, access_token=body["access_token"], scope=CORE, now=clock.now()
    )
    assert not oidc.find_service_token(
        db, access_token=body["access_token"], scope=FULL, now=clock.now()
    )

    # Expired by the injected clock: inactive, and nothing else said.
    clock.advance(seconds=body["expires_in"] + 1)
    assert introspect(server, row.client_id, secret, body["access_token"]).json() == {
        "active": False
    }


def test_service_scopes_are_what_the_client_was_given(client, db, world, clock, roster_app):
    row, secret = roster_app
    server = http(client)
    asked_more = service_token(server, row.client_id, secret, scope=f"{CORE} {FULL}")
    assert asked_more.status_code == 400 and asked_more.json()["error"] == "invalid_scope"
    # Sign-in scopes are not service scopes.
    asked_profile = service_token(server, row.client_id, secret, scope="openid profile")
    assert asked_profile.json()["error"] == "invalid_scope"
    wrong_secret = service_token(server, row.client_id, "not-the-secret")
    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"

    plain, plain_secret = register(db, world["pt_admin"], clock.now(), name="无服务权限")
    refused = service_token(server, plain.client_id, plain_secret)
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"
    assert db.scalar(select(OAuthToken).where(OAuthToken.client_id == plain.id)) is None


def test_public_clients_may_not_have_service_scopes(db, world, clock):
    form = oidc.ClientForm(
        name="浏览器应用",
        redirect_uris=["https://spa.example/cb"],
        scopes=["openid"],
        is_confidential=False,
        service_scopes=[CORE],
    )
    with pytest.raises(oidc.ClientFormError) as refused:
        oidc.create_client(
            db, form=form, actor=world["pt_admin"], now=clock.now(), client=ClientInfo()
        )
    assert any("只有机密客户端" in p for p in refused.value.problems)


def test_introspection_of_a_persons_token_ends_with_revocation_and_password_change(
    client, make_client, db, world, clock, roster_app
):
    row, secret = register(db, world["pt_admin"], clock.now())
    server = http(client)
    browser = make_client()
    tokens = code_flow(browser, server, client_id=row.client_id, secret=secret, login="chenxiaokai")
    seen = introspect(server, row.client_id, secret, tokens["access_token"]).json()
    assert seen["active"] is True and seen["sub"] == str(world["chenxiaokai"].id)
    assert seen["scope"] == "openid profile" and seen["token_type"] == "Bearer"
    refresh = introspect(server, row.client_id, secret, tokens["refresh_token"], "refresh_token")
    assert refresh.json()["active"] is True

    # Another application may not learn about this token.
    other, other_secret = roster_app
    assert introspect(server, other.client_id, other_secret, tokens["access_token"]).json() == {
        "active": False
    }
    # No client authentication, no answer.
    anonymous = server.post("/oauth/introspect", data={"token": tokens["access_token"]})
    assert anonymous.status_code == 401

    change_own_password(browser)
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert introspect(server, row.client_id, secret, token).json() == {"active": False}


def test_registry_form_saves_service_scopes_and_logout_uris(client, db, world):
    sign_in(client, "pt_admin")
    created = post_form(
        client,
        "/platform/clients",
        {
            "name": "名册同步",
            "redirect_uris": "https://sync.example/cb",
            "scopes": ["openid"],
            "client_type": "confidential",
            "service_scopes": [CORE],
            "backchannel_logout_uri": "https://sync.example/backchannel",
            "frontchannel_logout_uri": "https://sync.example/frontchannel",
        },
    )
    assert created.status_code == 200, created.text[:500]
    row = db.scalar(select(OAuthClient).where(OAuthClient.name == "名册同步"))
    assert row is not None and row.service_scopes == CORE
    assert row.backchannel_logout_uri == "https://sync.example/backchannel"
    assert row.frontchannel_logout_uri == "https://sync.example/frontchannel"
    page = client.get(f"/platform/clients/{row.id}").text
    assert "https://sync.example/backchannel" in page

    bad = post_form(
        client,
        f"/platform/clients/{row.id}",
        {
            "name": "名册同步",
            "redirect_uris": "https://sync.example/cb",
            "scopes": ["openid"],
            "backchannel_logout_uri": "http://sync.example/backchannel",
        },
    )
    assert bad.status_code == 400 and "退出通知地址不合规" in bad.text
    assert 'value="http://sync.example/backchannel"' in bad.text

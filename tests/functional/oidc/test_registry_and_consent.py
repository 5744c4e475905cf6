"""The client registry (platform administrators), the consent page, and the CSRF exemption."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote

import pytest
from sqlalchemy import select
from tests.support.http import post_form, sign_in
from tests.support.oidc import (
    CALLBACK,
    ISSUER,
    Flow,
    callback_params,
    follow_to_callback,
    register,
    relying_party,
)

from campusid.audit.models import AuditEvent
from campusid.oidc.models import OAuthClient

SECRET = re.compile(r'<span class="secret" id="client-secret">([^<]+)</span>')
NEW_CLIENT = {
    "name": "班级圈",
    "redirect_uris": "https://bjq.example/callback\nhttp://127.0.0.1:8001/callback",
    "post_logout_redirect_uris": "https://bjq.example/bye",
    "scopes": ["openid", "profile", "school"],
    "client_type": "confidential",
}


def test_platform_admin_registers_a_client_and_sees_the_secret_once(client, db, world):
    sign_in(client, "pt_admin")
    assert client.get("/platform/clients").status_code == 200
    assert "登记应用" in client.get("/platform/clients/new").text
    created = post_form(client, "/platform/clients", NEW_CLIENT)
    assert created.status_code == 200
    secret = SECRET.search(created.text).group(1)
    assert "只显示这一次" in created.text

    row = db.scalar(select(OAuthClient).where(OAuthClient.name == "班级圈"))
    assert row is not None and row.is_confidential and not row.is_first_party
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert row.redirect_uris == ["https://bjq.example/callback", "http://127.0.0.1:8001/callback"]
    assert row.allowed_scopes == "openid profile school"

    page = client.get(f"/platform/clients/{row.id}").text
    assert row.client_id in page and secret not in page
    assert client.get("/platform/clients").text.count(row.client_id) == 1
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "oidc.client_created"))
    assert event is not None and secret not in str(event.detail)

    reset = post_form(client, f"/platform/clients/{row.id}/secret")
    new_secret = SECRET.search(reset.text).group(1)
    db.refresh(row)
    assert new_secret != secret
    assert row.secret_hash == hashlib.sha256(new_secret.encode()).hexdigest()


def test_bad_client_forms_are_refused_in_chinese(client, db, world):
    sign_in(client, "pt_admin")
    bad = dict(NEW_CLIENT, redirect_uris="http://bjq.example/callback\nhttps://x.example/#frag")
    page = post_form(client, "/platform/clients", bad)
    assert page.status_code == 400
    assert "地址不合规" in page.text
    no_openid = dict(NEW_CLIENT, scopes=["profile"])
    assert "必须包含 openid" in post_form(client, "/platform/clients", no_openid).text
    assert db.scalar(select(OAuthClient)) is None


@pytest.mark.parametrize("login", ["chenxiaokai", "xx_admin", "kefu01", "p_lidaniang"])
def test_only_platform_admins_reach_the_registry(client, db, world, clock, login):
    row, _ = register(db, world["pt_admin"], clock.now())
    sign_in(client, login)
    assert client.get("/platform/clients").status_code == 403
    assert client.get(f"/platform/clients/{row.id}").status_code == 403
    assert post_form(client, "/platform/clients", NEW_CLIENT).status_code == 403
    assert post_form(client, f"/platform/clients/{row.id}/secret").status_code == 403


def test_registry_requires_sign_in(client):
    response = client.get("/platform/clients")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_disabling_a_client_ends_its_tokens(client, make_client, db, world, clock):
    row, secret = register(db, world["pt_admin"], clock.now())
    rp = relying_party(make_client(), row, secret)
    flow = Flow(rp)
    code = callback_params(follow_to_callback(client, flow.url, "chenxiaokai"))["code"]
    rp.fetch_token(f"{ISSUER}/oauth/token", code=code, code_verifier=flow.verifier)
    admin = make_client()
    sign_in(admin, "pt_admin")
    post_form(admin, f"/platform/clients/{row.id}/enabled", {"enabled": "0"})
    assert rp.get(f"{ISSUER}/oauth/userinfo").status_code == 401
    assert client.get(Flow(rp).url).status_code == 400


def test_third_party_client_asks_for_consent_once(client, make_client, db, world, clock):
    row, secret = register(db, world["pt_admin"], clock.now(), name="阅读打卡", first_party=False)
    rp = relying_party(make_client(), row, secret, scope="openid profile school")
    flow = Flow(rp)
    first = client.get(flow.url)
    sign_in_page = first.headers["location"]
    next_path = sign_in_page.split("next=", 1)[1]
    post_form(
        client,
        "/login",
        {"login": "lixiaoyao", "password": "Zjer@2026", "next": unquote(next_path)},
    )
    page = client.get(flow.url)
    assert page.status_code == 200
    for words in ("授权确认", "阅读打卡", "您的姓名", "同意授权", "拒绝"):
        assert words in page.text
    assert "form-action 'self' https://bjq.example" in page.headers["content-security-policy"]
    query = re.search(r'name="query" value="([^"]+)"', page.text).group(1).replace("&amp;", "&")

    denied = post_form(client, "/oauth/authorize/consent", {"query": query, "decision": "deny"})
    assert denied.status_code == 302
    assert callback_params(denied.headers["location"])["error"] == "access_denied"

    allowed = post_form(client, "/oauth/authorize/consent", {"query": query, "decision": "allow"})
    assert allowed.status_code == 302 and allowed.headers["location"].startswith(CALLBACK)
    assert "code" in callback_params(allowed.headers["location"])

    again = client.get(Flow(rp).url)
    assert again.status_code == 302  # remembered: no page this time
    more = relying_party(make_client(), row, secret, scope="openid profile school family")
    assert client.get(Flow(more).url).status_code == 200  # a new scope asks again


def test_consent_page_cannot_be_posted_cross_site(client, db, world, clock):
    register(db, world["pt_admin"], clock.now(), first_party=False)
    sign_in(client, "lixiaoyao")
    response = client.post(
        "/oauth/authorize/consent", data={"query": "client_id=x", "decision": "allow"}
    )
    assert response.status_code == 403
    assert "页面已过期" in response.text


def test_ordinary_forms_stay_csrf_protected_while_oauth_endpoints_are_exempt(client, world):
    sign_in(client, "chenxiaokai")
    refused = client.post(
        "/account/password",
        data={"current_password": "x", "new_password": "y", "confirm_password": "y"},
    )
    assert refused.status_code == 403
    assert client.post("/logout").status_code == 403
    token = client.post("/oauth/token", data={"grant_type": "authorization_code", "code": "x"})
    assert token.status_code in {400, 401}
    assert token.json()["error"] == "invalid_client"
    revoke = client.post("/oauth/revoke", data={"token": "x"})
    assert revoke.json()["error"] == "invalid_client"
    userinfo = client.post("/oauth/userinfo")
    assert userinfo.status_code == 401

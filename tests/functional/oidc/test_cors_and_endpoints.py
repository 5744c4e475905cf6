"""Issue 21: CORS for browser applications, RFC 6750 form-body tokens and errors at userinfo,
cacheable discovery and JWKS. A hand-written client (tests/support/rp.py)."""

from __future__ import annotations

import pytest
from tests.support.oidc import register
from tests.support.rp import HandRP, browse_to_callback

SPA = "https://spa.school.example"
SPA_CALLBACK = SPA + "/callback"
OPENID_PATHS = [
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/oauth/jwks"),
    ("POST", "/oauth/token"),
    ("GET", "/oauth/userinfo"),
    ("POST", "/oauth/revoke"),
]


@pytest.fixture
def spa(client, make_client, db, world, clock):
    """掌上班级: a public client (a single-page app) at https://spa.school.example."""
    row, _ = register(
        db,
        world["pt_admin"],
        clock.now(),
        name="掌上班级",
        confidential=False,
        redirect_uri=SPA_CALLBACK,
    )
    return HandRP(make_client(), row.client_id, None, redirect_uri=SPA_CALLBACK)


def _preflight(http, path, origin, method="POST"):  # type: ignore[no-untyped-def]
    return http.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


@pytest.mark.parametrize(("method", "path"), OPENID_PATHS)
def test_a_public_clients_origin_gets_cors_on_the_openid_endpoints(spa, method, path):
    preflight = _preflight(spa.http, path, SPA, method)
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == SPA
    assert method in preflight.headers["access-control-allow-methods"]
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in preflight.headers


@pytest.mark.parametrize(("method", "path"), OPENID_PATHS)
def test_an_unregistered_origin_gets_no_cors(spa, method, path):
    preflight = _preflight(spa.http, path, "https://evil.example", method)
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    if method == "GET":
        plain = spa.http.get(path, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in plain.headers


def test_a_confidential_clients_origin_gets_no_cors(client, db, world, clock):
    register(db, world["pt_admin"], clock.now(), redirect_uri="https://server.example/cb")
    response = client.get("/oauth/jwks", headers={"Origin": "https://server.example"})
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    "path", ["/", "/login", "/oauth/authorize", "/account/security", "/api/openapi.json"]
)
def test_other_routes_never_get_cors(spa, path):
    for response in (
        spa.http.get(path, headers={"Origin": SPA}),
        _preflight(spa.http, path, SPA, "GET"),
    ):
        assert "access-control-allow-origin" not in response.headers


def test_the_browser_app_signs_in_across_origins(client, spa, clock):
    """The SPA's whole flow with Origin headers, as a browser sends them."""
    meta = spa.http.get("/.well-known/openid-configuration", headers={"Origin": SPA})
    assert meta.headers["access-control-allow-origin"] == SPA
    req = spa.authorization()
    callback = browse_to_callback(client, req, "lixiaoyao")
    spa.http.headers["Origin"] = SPA
    tokens = spa.redeem(callback, req)
    assert tokens["id_token"]
    info = spa.userinfo()
    assert info.status_code == 200 and info.headers["access-control-allow-origin"] == SPA


def test_a_token_post_from_another_origin_does_not_spend_the_code(client, spa):
    req = spa.authorization()
    callback = browse_to_callback(client, req, "lixiaoyao")
    spa.http.headers["Origin"] = "https://evil.example"
    code = callback.split("code=", 1)[1].split("&", 1)[0]
    refused = spa.http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": SPA_CALLBACK,
            "code_verifier": req.verifier,
            "client_id": spa.client_id,
        },
    )
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers
    spa.http.headers["Origin"] = SPA
    assert spa.redeem(callback, req)["access_token"]  # the code was not spent


def test_discovery_and_jwks_are_cacheable(client):
    for path in ("/.well-known/openid-configuration", "/oauth/jwks"):
        cache = client.get(path).headers["cache-control"]
        assert cache.startswith("public, max-age=") and "no-store" not in cache
    meta = client.get("/.well-known/openid-configuration").json()
    assert meta["request_parameter_supported"] is False
    assert meta["request_uri_parameter_supported"] is False
    assert meta["response_modes_supported"] == ["query"]
    assert {"login", "none", "consent"} <= set(meta["prompt_values_supported"])


def test_userinfo_takes_a_token_in_a_form_body(client, spa):
    req = spa.authorization()
    tokens = spa.redeem(browse_to_callback(client, req, "lixiaoyao"), req)
    by_form = spa.http.post("/oauth/userinfo", data={"access_token": tokens["access_token"]})
    assert by_form.status_code == 200 and by_form.json()["sub"]

    both = spa.http.post(
        "/oauth/userinfo",
        data={"access_token": tokens["access_token"]},
        headers={"Authorization": "Bearer " + tokens["access_token"]},
    )
    assert both.status_code == 400 and both.json()["error"] == "invalid_request"
    in_query = spa.http.get("/oauth/userinfo", params={"access_token": tokens["access_token"]})
    assert in_query.status_code == 400


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic eDp5"}]
)
def test_userinfo_errors_are_rfc6750(client, headers):
    response = client.get("/oauth/userinfo", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer") and 'error="invalid_token"' in challenge

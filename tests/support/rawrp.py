"""A relying party written by hand (httpx and joserfc, no Authlib client), as issue 21 asks:
PKCE, the code exchange, client_credentials and introspection requests, logout-token checks."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi.testclient import TestClient

from tests.support.http import post_form
from tests.support.oidc import CALLBACK, ISSUER, callback_params, follow_to_callback


def basic(client_id: str, secret: str) -> dict[str, str]:
    """HTTP Basic client authentication (RFC 6749 2.3.1: form-encoded id and secret)."""
    pair = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}


def pkce() -> tuple[str, str]:
    """A code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def http(browser: TestClient) -> httpx.Client:
    """A server-side HTTP client on the app's transport (no cookies of the browser)."""
    return httpx.Client(base_url=ISSUER, transport=browser._transport)


def code_flow(
    browser: TestClient,
    server: httpx.Client,
    *,
    client_id: str,
    secret: str | None,
    login: str | None,
    scope: str = "openid profile",
    redirect_uri: str = CALLBACK,
) -> dict[str, Any]:
    """The authorization code flow, by hand; returns the token response."""
    query, verifier = authorize_query(client_id, scope, redirect_uri)
    location = follow_to_callback(browser, f"{ISSUER}/oauth/authorize?{query}", login)
    return exchange(server, location, verifier, client_id, secret, redirect_uri=redirect_uri)


def service_token(
    server: httpx.Client, client_id: str, secret: str, scope: str | None = None
) -> httpx.Response:
    """A client_credentials request."""
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    return server.post("/oauth/token", data=data, headers=basic(client_id, secret))


def introspect(
    server: httpx.Client, client_id: str, secret: str, token: str, hint: str | None = None
) -> httpx.Response:
    """An RFC 7662 request."""
    data = {"token": token}
    if hint:
        data["token_type_hint"] = hint
    return server.post("/oauth/introspect", data=data, headers=basic(client_id, secret))


CONSENT_QUERY = re.compile(r'name="query" value="([^"]+)"')


def authorize_query(client_id: str, scope: str, redirect_uri: str = CALLBACK) -> tuple[str, str]:
    """An authorization request's query (PKCE S256) and its code verifier."""
    verifier, challenge = pkce()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return query, verifier


def exchange(
    server: httpx.Client,
    location: str,
    verifier: str,
    client_id: str,
    secret: str | None,
    *,
    redirect_uri: str = CALLBACK,
) -> dict[str, Any]:
    """Trade the code of a callback for tokens (a public client names itself, no secret)."""
    data = {
        "grant_type": "authorization_code",
        "code": callback_params(location)["code"],
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    headers = basic(client_id, secret) if secret else {}
    if not secret:
        data["client_id"] = client_id
    response = server.post("/oauth/token", data=data, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def consent_and_sign_in(
    browser: TestClient, server: httpx.Client, *, client_id: str, secret: str, scope: str
) -> dict[str, Any]:
    """A signed-in browser meets the consent page, allows, and the app gets tokens."""
    query, verifier = authorize_query(client_id, scope)
    page = browser.get(f"/oauth/authorize?{query}")
    assert page.status_code == 200 and "同意授权" in page.text, page.text[:300]
    carried = CONSENT_QUERY.search(page.text).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    allowed = post_form(
        browser, "/oauth/authorize/consent", {"query": carried, "decision": "allow"}
    )
    assert allowed.status_code == 302
    return exchange(server, allowed.headers["location"], verifier, client_id, secret)

"""A relying party written by hand (issue 21): plain HTTP requests and joserfc, no Authlib.

What an application developer without an OpenID library would write: build the authorization
URL (PKCE S256, state, nonce), drive a browser to the callback, redeem the code with HTTP Basic
client authentication, and check the ID token's signature and claims against the published
JWKS. Every request goes through the app's test transport.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi.testclient import TestClient
from httpx import Response
from joserfc import jwt
from joserfc.jwk import KeySet

from campusid.demo import DEMO_PASSWORD
from tests.support.http import post_form, second_step
from tests.support.oidc import CALLBACK, CONTINUE, ISSUER


@dataclass
class Request:
    """One authorization request and what the application must remember of it."""

    url: str
    state: str
    nonce: str
    verifier: str


@dataclass
class HandRP:
    """The application: its credentials and an HTTP client of its own (not the browser)."""

    http: TestClient
    client_id: str
    secret: str | None
    redirect_uri: str = CALLBACK
    scope: str = "openid profile"
    tokens: dict[str, Any] = field(default_factory=dict)

    def authorization(self, **extra: str) -> Request:
        verifier = secrets.token_urlsafe(48)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **extra,
        }
        return Request(f"{ISSUER}/oauth/authorize?{urlencode(params)}", state, nonce, verifier)

    def redeem(self, callback: str, req: Request) -> dict[str, Any]:
        """The code at the callback for tokens; checks the state first, as an RP must."""
        params = callback_query(callback, self.redirect_uri)
        assert params.get("state") == req.state, params
        assert "code" in params, params
        data = {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": self.redirect_uri,
            "code_verifier": req.verifier,
        }
        auth = None
        if self.secret is None:
            data["client_id"] = self.client_id
        else:
            auth = (self.client_id, self.secret)
        response = self.http.post(f"{ISSUER}/oauth/token", data=data, auth=auth)
        assert response.status_code == 200, response.text
        self.tokens = response.json()
        return self.tokens

    def id_token(self, token: str, req: Request, now: int) -> dict[str, Any]:
        """The ID token's claims, after checking signature, iss, aud, exp and nonce."""
        keyset = KeySet.import_key_set(self.http.get(f"{ISSUER}/oauth/jwks").json())
        claims = dict(jwt.decode(token, keyset, algorithms=["RS256"]).claims)
        jwt.JWTClaimsRegistry(
            now=now,
            iss={"essential": True, "value": ISSUER},
            aud={"essential": True, "value": self.client_id},
            nonce={"essential": True, "value": req.nonce},
            exp={"essential": True},
        ).validate(claims)
        return claims

    def userinfo(self, access_token: str | None = None) -> Response:
        token = access_token or self.tokens["access_token"]
        return self.http.get(
            f"{ISSUER}/oauth/userinfo", headers={"Authorization": f"Bearer {token}"}
        )


def callback_query(location: str, redirect_uri: str = CALLBACK) -> dict[str, str]:
    """The parameters the provider put on the redirect to the application."""
    assert location.startswith(redirect_uri + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def login_redirect(response: Response) -> tuple[str, dict[str, str]]:
    """From a redirect to the login page: where it comes back to, and its other parameters."""
    assert response.status_code == 303, response.text[:300]
    location = response.headers["location"]
    assert location.startswith("/login?"), location
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return params.pop("next"), params


def through_continue(browser: TestClient, location: str) -> Response:
    """A page of ours that leads on through the continuation page (a fresh navigation)."""
    page = browser.get(location)
    assert page.status_code == 200, page.text[:300]
    match = CONTINUE.search(page.text)
    assert match, page.text[:500]
    return browser.get(match.group(1).replace("&amp;", "&"))


def password_sign_in(
    browser: TestClient, next_path: str, login: str, password: str = DEMO_PASSWORD
) -> Response:
    """The login form, submitted with the page's `next` (and staff's second step)."""
    response = post_form(
        browser, "/login", {"login": login, "password": password, "next": next_path}
    )
    assert response.status_code == 303, response.text[:300]
    if response.headers["location"] == "/login/two-step":
        response = second_step(browser, login)
    return response


def browse_to_callback(browser: TestClient, req: Request, login: str | None) -> str:
    """The browser from the authorization URL to the application's callback."""
    response = browser.get(req.url)
    if login is not None:
        next_path, _ = login_redirect(response)
        signed_in = password_sign_in(browser, next_path, login)
        response = through_continue(browser, signed_in.headers["location"])
    assert response.status_code == 302, response.text[:500]
    return str(response.headers["location"])

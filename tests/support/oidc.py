"""A relying party written with Authlib's client, talking to the app over the test transport."""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

from authlib.integrations.httpx_client import OAuth2Client
from authlib.oidc.core import CodeIDToken
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy.orm import Session

from campusid.audit.service import ClientInfo
from campusid.clock import FixedClock
from campusid.demo import DEMO_PASSWORD
from campusid.oidc import service as oidc
from campusid.oidc.models import OAuthClient
from tests.support.http import finish_sign_in, post_form

ISSUER = "http://testserver"
CONTINUE = re.compile(r'<meta http-equiv="refresh" content="0;url=([^"]+)">')
CALLBACK = "https://bjq.example/callback"
AFTER_LOGOUT = "https://bjq.example/bye"


def register(
    db: Session,
    admin: Any,
    now: Any,
    *,
    name: str = "班级圈",
    confidential: bool = True,
    first_party: bool = True,
    scopes: str = "openid profile school family",
    redirect_uri: str = CALLBACK,
) -> tuple[OAuthClient, str | None]:
    """A client registered by a platform administrator (through the service)."""
    form = oidc.ClientForm(
        name=name,
        redirect_uris=[redirect_uri],
        post_logout_redirect_uris=[AFTER_LOGOUT],
        scopes=scopes.split(),
        is_confidential=confidential,
        is_first_party=first_party,
    )
    row, secret = oidc.create_client(db, form=form, actor=admin, now=now, client=ClientInfo())
    db.commit()
    return row, secret


def relying_party(
    browser: TestClient,
    row: OAuthClient,
    secret: str | None,
    *,
    scope: str = "openid profile school family",
    redirect_uri: str = CALLBACK,
) -> OAuth2Client:
    """Authlib's OAuth 2 client, PKCE on, sending its requests through the app's transport."""
    return OAuth2Client(
        client_id=row.client_id,
        client_secret=secret,
        scope=scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        base_url=ISSUER,
        transport=browser._transport,
        token_endpoint=f"{ISSUER}/oauth/token",
    )


class Flow:
    """One sign-in: the URL the RP sends the browser to, and what it must remember."""

    def __init__(self, rp: OAuth2Client, **params: Any) -> None:
        self.verifier = secrets.token_urlsafe(48)
        self.nonce = secrets.token_urlsafe(16)
        self.url, self.state = rp.create_authorization_url(
            f"{ISSUER}/oauth/authorize", code_verifier=self.verifier, nonce=self.nonce, **params
        )


def follow_to_callback(browser: TestClient, url: str, login: str | None = None) -> str:
    """Drive the browser from the authorization URL to the client's callback, signing in."""
    response = browser.get(url)
    if login is not None:
        assert response.status_code == 303, response.text[:300]
        assert response.headers["location"].startswith("/login?next=")
        next_path = parse_qs(urlsplit(response.headers["location"]).query)["next"][0]
        signed_in = post_form(
            browser, "/login", {"login": login, "password": "Zjer@2026", "next": next_path}
        )
        assert signed_in.status_code == 303
        signed_in = finish_sign_in(browser, signed_in, login)  # issue 19: staff's second step
        interstitial = browser.get(signed_in.headers["location"])
        assert interstitial.status_code == 200
        target = CONTINUE.search(interstitial.text).group(1).replace("&amp;", "&")
        response = browser.get(target)
    assert response.status_code == 302, response.text[:500]
    return str(response.headers["location"])


def sign_in(rp: OAuth2Client, browser: TestClient, login: str | None, **params: Any) -> Any:
    """The whole code flow; returns the token response and the flow."""
    flow = Flow(rp, **params)
    callback = follow_to_callback(browser, flow.url, login)
    token = rp.fetch_token(
        f"{ISSUER}/oauth/token",
        authorization_response=callback,
        state=flow.state,
        code_verifier=flow.verifier,
    )
    return token, flow


def verify_id_token(
    rp: OAuth2Client, id_token: str, *, nonce: str, clock: FixedClock, access_token: str
) -> CodeIDToken:
    """Check the signature against the published JWKS and the claims as an RP must."""
    published = rp.request("GET", f"{ISSUER}/oauth/jwks", withhold_token=True).json()
    keyset = KeySet.import_key_set(published)
    decoded = jwt.decode(id_token, keyset, algorithms=["RS256"])
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {"iss": {"essential": True, "values": [ISSUER]}},
        {"nonce": nonce, "client_id": rp.client_id, "access_token": access_token},
    )
    claims.validate(now=int(clock.now().timestamp()), leeway=0)
    return claims


def callback_params(location: str) -> dict[str, str]:
    """The query of a redirect to the client."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def change_own_password(browser: TestClient, new_password: str = "Xin#Mima2027") -> None:
    """The signed-in person changes their password (账号安全): every route of set_password
    ends the applications' hold on the account."""
    changed = post_form(
        browser,
        "/account/password",
        {
            "current_password": DEMO_PASSWORD,
            "new_password": new_password,
            "confirm_password": new_password,
        },
    )
    assert changed.status_code == 200, changed.text[:300]

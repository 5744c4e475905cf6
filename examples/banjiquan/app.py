"""班级圈 (a stub): an application that signs people in with campusid and shows their classes.

A relying party written the way an integrator would: Authlib's OAuth 2 client, the provider's
discovery document, the authorization code flow with PKCE, the ID token checked against the
published keys, then the userinfo endpoint for the `school` and `family` claims.

Single logout (issue 21): campusid POSTs a signed logout token to /backchannel-logout when the
person signs out there (or changes or has reset their password); this app verifies it (OpenID
Connect Back-Channel Logout 1.0, section 2.6) and ends its own sessions of that person that came
from the campusid session the token names (`sid`, also in the ID token).

    make example        # from the repository root: campusid on :8000, this app on :8001

Settings (environment): BJQ_ISSUER (default http://127.0.0.1:8000), BJQ_BASE_URL (default
http://127.0.0.1:8001), BJQ_CLIENT_ID and BJQ_CLIENT_SECRET, or a client.json beside this file
as written by `campusid oidc register-client --write`.
"""

from __future__ import annotations

import html
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oidc.core import CodeIDToken
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

HERE = Path(__file__).resolve().parent
ISSUER = os.environ.get("BJQ_ISSUER", "http://127.0.0.1:8000").rstrip("/")
BASE_URL = os.environ.get("BJQ_BASE_URL", "http://127.0.0.1:8001").rstrip("/")
COOKIE = "bjq_session"
# A stub keeps its sessions in memory; a real application keeps them in its own store.
SESSIONS: dict[str, dict[str, Any]] = {}

app = FastAPI(title="班级圈 (example relying party)")


def credentials() -> tuple[str, str | None]:
    """The client_id and secret a platform administrator registered for this app."""
    if os.environ.get("BJQ_CLIENT_ID"):
        return os.environ["BJQ_CLIENT_ID"], os.environ.get("BJQ_CLIENT_SECRET")
    saved = json.loads((HERE / "client.json").read_text())
    return saved["client_id"], saved.get("client_secret")


def fetch_json(url: str) -> dict[str, Any]:
    """GET a JSON document from the provider (discovery, the JWKS)."""
    response = httpx.get(url, timeout=10)
    response.raise_for_status()
    return dict(response.json())


def provider() -> dict[str, Any]:
    """The provider's metadata (OpenID Connect Discovery)."""
    return fetch_json(f"{ISSUER}/.well-known/openid-configuration")


def oauth_client(meta: dict[str, Any], token: dict[str, Any] | None = None) -> OAuth2Client:
    client_id, secret = credentials()
    return OAuth2Client(
        client_id=client_id,
        client_secret=secret,
        scope="openid profile school family",
        redirect_uri=f"{BASE_URL}/callback",
        code_challenge_method="S256",
        token_endpoint=meta["token_endpoint"],
        token=token,
    )


def page(body: str) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>班级圈</title>"
        "<style>body{font-family:sans-serif;max-width:720px;margin:2rem auto}"
        "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.4rem}"
        f"</style></head><body><h1>班级圈</h1>{body}</body></html>"
    )


def session_of(request: Request) -> dict[str, Any] | None:
    return SESSIONS.get(request.cookies.get(COOKIE, ""))


def classes_table(classes: list[dict[str, Any]]) -> str:
    if not classes:
        return "<p>暂无班级</p>"
    rows = "".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>".format(
            html.escape(c["name"]),
            html.escape(c["school"]["name"]),
            html.escape(c["campus"]["name"]),
            html.escape(c["role_name"] + (f"({c['subject']})" if c.get("subject") else "")),
        )
        for c in classes
    )
    return f"<table><tr><th>班级</th><th>学校</th><th>校区</th><th>身份</th></tr>{rows}</table>"


@app.get("/")
def home(request: Request) -> Response:
    """Who is signed in, and their classes (and their children's)."""
    session = session_of(request)
    if session is None or "user" not in session:
        return page('<p>欢迎来到班级圈。</p><p><a href="/login">使用之江汇账号登录</a></p>')
    info = session["user"]
    parts = [
        f"<p>{html.escape(info.get('name', ''))},您好! <a href='/logout'>退出登录</a></p>",
        "<h2>我的班级</h2>",
        classes_table(info.get("classes", [])),
    ]
    for child in info.get("children", []):
        # The family claim names each child (issue 21); an older provider gave only the sub.
        name = child.get("name") or child.get("real_name")
        title = f"{name}的班级" if name else f"孩子（账号 {child.get('sub', '')}）的班级"
        parts.append(f"<h2>{html.escape(str(title))}</h2>")
        parts.append(classes_table(child.get("classes", [])))
    return page("".join(parts))


@app.get("/login")
def login() -> Response:
    """Send the browser to campusid's authorization endpoint."""
    meta = provider()
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    url, state = oauth_client(meta).create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    sid = secrets.token_urlsafe(32)
    SESSIONS[sid] = {"state": state, "verifier": verifier, "nonce": nonce}
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(COOKIE, sid, httponly=True, samesite="lax")
    return response


@app.get("/callback")
def callback(request: Request) -> Response:
    """Exchange the code, check the ID token, read userinfo."""
    session = session_of(request)
    if session is None or request.query_params.get("state") != session.get("state"):
        return page("<p>登录已过期,请<a href='/login'>重新登录</a>。</p>")
    if "error" in request.query_params:
        return page(f"<p>登录未完成:{html.escape(request.query_params['error'])}</p>")
    meta = provider()
    client = oauth_client(meta)
    token = client.fetch_token(
        authorization_response=str(request.url),
        state=session["state"],
        code_verifier=session["verifier"],
    )
    keyset = KeySet.import_key_set(fetch_json(meta["jwks_uri"]))
    decoded = jwt.decode(token["id_token"], keyset, algorithms=["RS256"])
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {"iss": {"essential": True, "values": [meta["issuer"]]}},
        {
            "nonce": session["nonce"],
            "client_id": client.client_id,
            "access_token": token["access_token"],
        },
    )
    claims.validate(leeway=120)
    userinfo = client.get(meta["userinfo_endpoint"]).json()
    if userinfo.get("sub") != claims["sub"]:
        return page("<p>身份信息不一致,请重新登录。</p>")
    session.clear()
    # `sid`: campusid's browser session, which a logout token may name (issue 21).
    session.update(
        {"user": userinfo, "token": dict(token), "sub": claims["sub"], "op_sid": claims.get("sid")}
    )
    return RedirectResponse("/", status_code=303)


@app.get("/logout")
def logout(request: Request) -> Response:
    """Sign out here and at campusid (RP-initiated logout)."""
    session = SESSIONS.pop(request.cookies.get(COOKIE, ""), None) or {}
    meta = provider()
    token = session.get("token") or {}
    if token.get("refresh_token"):
        oauth_client(meta).revoke_token(
            meta["revocation_endpoint"],
            token=token["refresh_token"],
            token_type_hint="refresh_token",  # noqa: S106 - a hint, not a secret
        )
    params = httpx.QueryParams(
        {"id_token_hint": token.get("id_token", ""), "post_logout_redirect_uri": f"{BASE_URL}/"}
    )
    target = f"{meta['end_session_endpoint']}?{params}"
    response = RedirectResponse(target, status_code=302)
    response.delete_cookie(COOKIE)
    return response


BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
SEEN_JTI: set[str] = set()  # a stub's replay memory; a real app keeps it until the token's exp
clock = time.time  # the app's clock (the tests give it theirs)


def verify_logout_token(logout_token: str, meta: dict[str, Any]) -> dict[str, Any]:
    """Back-Channel Logout 1.0, 2.6: signature by the provider's keys, iss, aud, iat, the
    logout event, no nonce, a sub (or sid), not seen before. Raises ValueError otherwise."""
    keyset = KeySet.import_key_set(fetch_json(meta["jwks_uri"]))
    try:
        decoded = jwt.decode(logout_token, keyset, algorithms=["RS256"])
        jwt.JWTClaimsRegistry(
            now=int(clock()),
            leeway=120,
            iss={"essential": True, "value": meta["issuer"]},
            aud={"essential": True, "value": credentials()[0]},
            iat={"essential": True},
            jti={"essential": True},
        ).validate(decoded.claims)
    except JoseError as exc:
        raise ValueError(str(exc)) from exc
    claims = dict(decoded.claims)
    if BACKCHANNEL_EVENT not in (claims.get("events") or {}) or "nonce" in claims:
        raise ValueError("not a logout token")
    if not claims.get("sub") and not claims.get("sid"):
        raise ValueError("no sub or sid")
    if claims["jti"] in SEEN_JTI:
        raise ValueError("replayed")
    SEEN_JTI.add(claims["jti"])
    return claims


@app.post("/backchannel-logout")
async def backchannel_logout(request: Request) -> Response:
    """campusid says the person signed out: end the sessions it names here (those that came
    from its browser session `sid`; with no sid, every session of the person `sub`)."""
    form = await request.form()
    token = form.get("logout_token")
    if not isinstance(token, str):
        return Response(status_code=400)
    try:
        claims = verify_logout_token(token, provider())
    except ValueError:
        return Response(status_code=400, headers={"Cache-Control": "no-store"})
    ended = [
        key
        for key, kept in SESSIONS.items()
        if (not claims.get("sub") or kept.get("sub") == claims["sub"])
        and (not claims.get("sid") or kept.get("op_sid") == claims["sid"])
    ]
    for key in ended:
        SESSIONS.pop(key, None)
    return Response(status_code=200, headers={"Cache-Control": "no-store"})


if __name__ == "__main__":
    port = int(BASE_URL.rsplit(":", 1)[-1]) if BASE_URL.count(":") == 2 else 8001
    uvicorn.run(app, host="127.0.0.1", port=port)

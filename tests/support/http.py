"""Driving the app as a browser does: forms with their CSRF token."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from campusid.demo import DEMO_PASSWORD
from tests.support.factors import code_for_secret, usable_code
from tests.support.secrets import SECRET_FIELD, remember

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: TestClient) -> str:
    """The browser's CSRF token (fetching a page first if it has none yet)."""
    token = client.cookies.get("campusid_csrf")
    if token is None:
        client.get("/login")
        token = client.cookies.get("campusid_csrf")
    assert token, "no CSRF cookie"
    return str(token)


def post_form(
    client: TestClient, url: str, data: dict[str, Any] | None = None, **kwargs: Any
) -> Response:
    """Submit a form the way the page's form would, token included."""
    payload = dict(data or {})
    for name, value in payload.items():
        if SECRET_FIELD.search(name):
            remember(value)
    payload.setdefault("csrf_token", csrf_token(client))
    return client.post(url, data=payload, **kwargs)


TOTP_SECRET = re.compile(r'<code class="totp-secret">([A-Z2-7 ]+)</code>')


def sign_in(client: TestClient, login: str, password: str = DEMO_PASSWORD) -> Response:
    """Sign in through the login page; asserts it worked.

    Issue 19: a person with a second factor completes the second step with a code computed
    from their factor (tests/support/factors.py); a person whose role requires one and who has
    none enrols an authenticator through its pages first. Either way the browser ends signed in.
    """
    response = post_form(client, "/login", {"login": login, "password": password})
    assert response.status_code == 303, response.text[:500]
    location = response.headers.get("location", "")
    if location == "/login/two-step":
        response = second_step(client, login)
    elif location.startswith("/account/two-step/setup"):
        remember(response.cookies.get("campusid_session"))
        enrol_totp(client)
        return response
    remember(response.cookies.get("campusid_session"))
    return response


def finish_sign_in(client: TestClient, response: Response, login: str) -> Response:
    """After a test posts the login form itself: the second step, when the app asks for it."""
    if response.status_code == 303 and response.headers.get("location") == "/login/two-step":
        return second_step(client, login)
    return response


def second_step(client: TestClient, login: str) -> Response:
    """Answer 两步验证 with a code the app accepts now; asserts a session started."""
    services = client.app.state.services  # type: ignore[attr-defined]
    with services.session_factory() as db, db.begin():
        code = usable_code(db, login, services.clock.now())
    remember(code)
    response = post_form(client, "/login/two-step", {"code": code})
    assert response.status_code == 303, response.text[:500]
    return response


def enrol_totp(client: TestClient, next_path: str = "/") -> str:
    """Enrol an authenticator through 设置两步验证 as a person would; returns its secret."""
    services = client.app.state.services  # type: ignore[attr-defined]
    page = client.get("/account/two-step/setup")
    assert page.status_code == 200, page.text[:500]
    found = TOTP_SECRET.search(page.text)
    assert found, "no secret on the setup page"
    secret = found.group(1).replace(" ", "")
    remember(secret)
    code = code_for_secret(secret, services.clock.now())
    done = post_form(client, "/account/two-step/setup", {"code": code, "next": next_path})
    assert done.status_code in (200, 303), done.text[:500]
    return secret


def page_text(response: Response) -> str:
    """The response body as text."""
    return response.text

"""Driving the app as a browser does: forms with their CSRF token."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from campusid.demo import DEMO_PASSWORD
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


def sign_in(client: TestClient, login: str, password: str = DEMO_PASSWORD) -> Response:
    """Sign in through the login page; asserts it worked."""
    response = post_form(client, "/login", {"login": login, "password": password})
    assert response.status_code == 303, response.text[:500]
    remember(response.cookies.get("campusid_session"))
    return response


def page_text(response: Response) -> str:
    """The response body as text."""
    return response.text

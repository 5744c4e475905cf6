"""Driving the login page under the throttle: solving its captcha, other clients' browsers."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from campusid.accounts import throttle
from campusid.context import Services
from campusid.recovery import login_captcha
from tests.support.http import post_form

CAPTCHA_FIELD = 'name="captcha"'


def browser(app: Any, address: str = "testclient") -> TestClient:
    """A new browser (no cookies) at a client address."""
    return TestClient(
        app, base_url="http://testserver", follow_redirects=False, client=(address, 50000)
    )


def solve_login_captcha(client: TestClient, services: Services) -> str:
    """Load the login captcha image (as the page does) and read its answer by the test hook."""
    image = client.get("/login/captcha")
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    challenge = client.cookies.get(throttle.CAPTCHA_COOKIE)
    assert challenge
    state = throttle.captcha_state_for_tests(services, challenge)
    assert state is not None
    binding, digest, _ = state
    answer = login_captcha.answer_for_tests(services, binding, digest)
    assert answer is not None
    return str(answer)


def try_sign_in(
    client: TestClient,
    login: str,
    password: str,
    *,
    services: Services | None = None,
    captcha: str | None = None,
) -> Response:
    """Post the login form; with `services`, solve the captcha first (as a person would)."""
    data = {"login": login, "password": password}
    if captcha is not None:
        data["captcha"] = captcha
    elif services is not None:
        data["captcha"] = solve_login_captcha(client, services)
    return post_form(client, "/login", data)


def asks_for_captcha(response: Response) -> bool:
    """Whether the login page shows the captcha field."""
    return CAPTCHA_FIELD in response.text

"""Driving the passkey pages as the browser's script does (static/passkeys.js), with the
software authenticator of tests/support/webauthn.py."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from campusid.demo import DEMO_PASSWORD
from tests.support.http import csrf_token, post_form
from tests.support.webauthn import SoftAuthenticator

ORIGIN = "http://testserver"


def options(client: TestClient, url: str) -> dict[str, Any]:
    """A ceremony's options, asked for as the script does (POST, CSRF header, JSON back)."""
    answer = client.post(url, headers={"X-CSRF-Token": csrf_token(client)})
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-type"].startswith("application/json")
    return dict(answer.json())


def register(
    client: TestClient,
    authenticator: SoftAuthenticator,
    *,
    label: str = "我的安全密钥",
    origin: str = ORIGIN,
    password: str = DEMO_PASSWORD,
    next_path: str = "/account/security",
) -> Response:
    """添加通行密钥: the options, the authenticator's attestation, the form."""
    response = authenticator.create(options(client, "/account/passkeys/options"), origin=origin)
    return post_form(
        client,
        "/account/passkeys",
        {
            "credential": json.dumps(response),
            "label": label,
            "current_password": password,
            "next": next_path,
        },
    )


def _assertion(
    client: TestClient, authenticator: SoftAuthenticator, url: str, **kwargs: Any
) -> str:
    origin = kwargs.pop("origin", ORIGIN)
    return json.dumps(authenticator.get(options(client, f"{url}/options"), origin=origin, **kwargs))


def sign_in_with_passkey(
    client: TestClient, authenticator: SoftAuthenticator, **kwargs: Any
) -> Response:
    """使用通行密钥 at the second step of a pending sign-in."""
    credential = _assertion(client, authenticator, "/login/two-step/passkey", **kwargs)
    return post_form(client, "/login/two-step/passkey", {"credential": credential})


def step_up(
    client: TestClient, authenticator: SoftAuthenticator, next_path: str = "/", **kwargs: Any
) -> Response:
    """请再次验证 with a passkey."""
    credential = _assertion(client, authenticator, "/account/verify/passkey", **kwargs)
    return post_form(
        client, "/account/verify/passkey", {"credential": credential, "next": next_path}
    )

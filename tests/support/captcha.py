"""Solving a form's image captcha as a browser does: load the image, read the answer by the hook."""

from __future__ import annotations

from fastapi.testclient import TestClient

from campusid.context import Services
from campusid.security import captcha


def solve(client: TestClient, form: str) -> str:
    """Load the form's captcha image (as the page does) and read its answer through the hook.

    The hook needs the secret key: it tries every answer against the stored keyed hash.
    """
    response = client.get(f"/captcha/{form}")
    assert response.status_code == 200, response.status_code
    assert response.headers["content-type"] == "image/png"
    token = client.cookies.get(captcha.COOKIE)
    assert token is not None
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    db = services.session_factory()
    try:
        answer = captcha.answer_of(db, services=services, form=form, token=token)
    finally:
        db.close()
    assert answer is not None
    return answer

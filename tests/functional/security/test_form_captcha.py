"""The image captcha of any form over HTTP: one live image per browser and form, single use,
five minutes, its answer only hashed, and the limits per address."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import select
from tests.support.captcha import solve
from tests.support.http import sign_in

from campusid.security import captcha
from campusid.security.captcha import CaptchaChallenge


def _verify(client, services, db, form, answer):  # type: ignore[no-untyped-def]
    ok = captcha.verify(
        db,
        services=services,
        form=form,
        token=client.cookies.get(captcha.COOKIE),
        answer=answer,
        address="testclient",
    )
    db.commit()
    return ok


def test_the_image_is_a_png_for_known_forms_only_and_the_cookie_is_httponly(client):
    response = client.get("/captcha/signup")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "no-store"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG" and image.size == (captcha.WIDTH, captcha.HEIGHT)
    cookie = response.headers["set-cookie"]
    assert f"{captcha.COOKIE}=" in cookie and "HttpOnly" in cookie and "Path=/" in cookie
    assert "samesite=lax" in cookie.lower()
    assert client.get("/captcha/nonsense").status_code == 404
    box = client.get("/captcha/signup/box", headers={"HX-Request": "true"}).text
    assert 'id="captcha-box-signup"' in box and "/captcha/signup?n=" in box


def test_the_answer_is_stored_only_as_a_keyed_hash(client, db, services):
    answer = solve(client, "signup")
    db.expire_all()
    rows = list(db.scalars(select(CaptchaChallenge)))
    assert len(rows) == 1
    row = rows[0]
    token = client.cookies.get(captcha.COOKIE)
    assert answer not in (row.captcha_digest or "") and token not in row.token_digest
    assert row.form == "signup"


def test_an_answer_works_once(client, db, services):
    answer = solve(client, "signup")
    assert _verify(client, services, db, "signup", answer)
    assert not _verify(client, services, db, "signup", answer)
    db.expire_all()
    assert db.scalar(select(CaptchaChallenge)) is None  # used up: the row is gone


def test_a_wrong_answer_uses_the_image_up(client, db, services):
    answer = solve(client, "signup")
    wrong = "2222" if answer != "2222" else "3333"
    assert not _verify(client, services, db, "signup", wrong)
    assert not _verify(client, services, db, "signup", answer)


def test_an_answer_expires_after_five_minutes(client, db, services, clock):
    answer = solve(client, "signup")
    clock.advance(minutes=4, seconds=59)
    assert _verify(client, services, db, "signup", answer)
    answer = solve(client, "signup")
    clock.advance(minutes=5)
    assert not _verify(client, services, db, "signup", answer)


def test_a_new_image_replaces_the_old_and_forms_and_browsers_are_apart(
    client, make_client, db, services
):
    first = solve(client, "signup")
    second = solve(client, "signup")
    if first != second:
        assert not _verify(client, services, db, "signup", first)
    phone = solve(client, "bind_phone")
    assert not _verify(client, services, db, "bind_email", phone)
    other = make_client()
    mine = solve(client, "signup")
    other.get("/captcha/signup")
    assert not _verify(other, services, db, "signup", mine)
    assert _verify(client, services, db, "signup", mine)


def test_images_and_wrong_answers_are_limited_per_address(client, db, services, settings, clock):
    settings.captcha_image_limit = 3
    settings.captcha_failure_limit = 2
    for _ in range(3):
        assert client.get("/captcha/signup").status_code == 200
    assert client.get("/captcha/signup").status_code == 429
    clock.advance(seconds=settings.captcha_window_seconds)  # a new window
    settings.captcha_image_limit = 600
    for _ in range(2):
        solve(client, "signup")
        assert not _verify(client, services, db, "signup", "9999x")
    answer = solve(client, "signup")
    assert not _verify(client, services, db, "signup", answer)  # past the limit: all wrong


def test_a_page_gives_its_captcha_id_before_its_images_load(client, db, services, world):
    assert f"{captcha.COOKIE}=" in client.get("/signup").headers["set-cookie"]
    client.cookies.clear()
    sign_in(client, "lixiaoyao")
    page = client.get("/account/security")
    assert f"{captcha.COOKIE}=" in page.headers["set-cookie"]
    token = client.cookies.get(captcha.COOKIE)
    assert 'src="/captcha/bind_phone?n=' in page.text
    assert 'src="/captcha/bind_email?n=' in page.text
    # Both images (loaded at once by a browser) hang on the same id, and both can be solved.
    phone = client.get("/captcha/bind_phone")
    email = client.get("/captcha/bind_email")
    assert "set-cookie" not in phone.headers and "set-cookie" not in email.headers
    answers = {
        form: captcha.answer_of(db, services=services, form=form, token=token)
        for form in ("bind_phone", "bind_email")
    }
    for form, answer in answers.items():
        assert answer is not None
        assert _verify(client, services, db, form, answer)

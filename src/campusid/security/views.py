"""图片验证码 for any form: `/captcha/{form}` draws a new image for this browser and form."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import Response

from campusid.security import captcha
from campusid.web import Client, DbSession, NotFound, Svc, cookie_secure, redirect, render

router = APIRouter()


def token_of(request: Request) -> str | None:
    """The browser's captcha id (from its cookie), if it has one."""
    return request.cookies.get(captcha.COOKIE)


def _form(form: str) -> str:
    if form not in captcha.FORMS:
        raise NotFound
    return form


@router.get("/captcha/{form}")
def captcha_image(
    form: str, request: Request, db: DbSession, services: Svc, client: Client
) -> Response:
    """A new image for this browser on this form (the earlier one stops counting), as a PNG."""
    form = _form(form)
    if not captcha.image_allowed(services, address=client.address):
        return Response(status_code=429, headers={"Cache-Control": "no-store"})
    token = token_of(request)
    fresh = token is None
    if token is None:
        token = captcha.new_token()
    text = captcha.issue(db, services=services, form=form, token=token)
    response = Response(
        captcha.render_png(text), media_type="image/png", headers={"Cache-Control": "no-store"}
    )
    if fresh:
        _set_cookie(request, response, token)
    return response


def _set_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        captcha.COOKIE,
        token,
        httponly=True,
        samesite="lax",
        path="/",
        secure=cookie_secure(request),
        max_age=captcha.COOKIE_MAX_AGE,
    )


def ensure_cookie(request: Request, response: Response) -> Response:
    """Give the browser its captcha id with the page, before it loads the page's images.

    A page with two images (账号安全: phone and email) would otherwise get two ids at once, one
    per image, and keep only the last.
    """
    if token_of(request) is None:
        _set_cookie(request, response, captcha.new_token())
    return response


# The page of each form, where 看不清？换一张 leads without script.
FORM_PAGES = {
    "signup": "/signup",
    "bind_phone": "/account/security",
    "bind_email": "/account/security",
    "login": "/login",
}


@router.get("/captcha/{form}/box")
def captcha_box(form: str, request: Request) -> Response:
    """看不清？换一张 (htmx): the captcha row with an empty answer and a fresh image address;
    without script, the form's whole page again (with a fresh image)."""
    form = _form(form)
    if request.headers.get("hx-request") != "true":
        return redirect(FORM_PAGES[form])
    return render(request, "captcha/_row.html", box_context(form))


def box_context(form: str) -> dict[str, str]:
    """What `captcha/_box.html` and `captcha/_field.html` need for the form."""
    return {"captcha_form": form, "captcha_nonce": secrets.token_hex(6)}

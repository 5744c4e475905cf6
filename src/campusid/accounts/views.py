"""Sign-in, sign-out, the personal space and the person's own password."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from campusid.accounts import service, throttle
from campusid.accounts.models import User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.context import Services
from campusid.i18n import COOKIE_NAME as LANG_COOKIE
from campusid.i18n import LANGUAGES, N_
from campusid.messaging import service as messaging
from campusid.security.policy import RULE_TEXT
from campusid.security.sessions import COOKIE_NAME as SESSION_COOKIE
from campusid.web import (
    Client,
    CurrentPrincipal,
    DbSession,
    OptionalUser,
    PendingUser,
    Svc,
    cookie_secure,
    redirect,
    render,
    safe_next,
    session_token,
)

router = APIRouter()


def _login_page(
    request: Request,
    *,
    next: str,
    login: str,
    captcha: bool,
    error: str | None = None,
) -> Response:
    return render(
        request,
        "accounts/login.html",
        {
            "next": next,
            "login": login,
            "error": error,
            "captcha": captcha,
            "captcha_nonce": secrets.token_hex(6),
        },
    )


def _set_device_cookie(
    request: Request, response: Response, services: Services, value: str
) -> None:
    """The signed list of accounts that signed in from this browser (accounts.throttle)."""
    response.set_cookie(
        throttle.DEVICE_COOKIE,
        value,
        httponly=True,
        samesite="lax",
        path="/",
        secure=cookie_secure(request),
        max_age=services.throttle.device_cookie_days * 24 * 3600,
    )


@router.get("/login")
def login_page(
    request: Request, services: Svc, client: Client, user: OptionalUser, next: str | None = None
) -> Response:
    """统一认证登录: one field for any identifier, and the password (and a captcha when the
    network has failed too often)."""
    if user is not None:
        return redirect(safe_next(next))
    captcha = throttle.captcha_on_arrival(
        services, client=client, device_cookie=request.cookies.get(throttle.DEVICE_COOKIE)
    )
    return _login_page(request, next=safe_next(next), login="", captcha=captcha)


@router.get("/login/captcha")
def login_captcha(request: Request, services: Svc) -> Response:
    """图片验证码 of the sign-in: a new image, its challenge in a short-lived cookie."""
    challenge, png = throttle.new_captcha(services)
    response = Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})
    response.set_cookie(
        throttle.CAPTCHA_COOKIE,
        challenge,
        httponly=True,
        samesite="lax",
        path="/login",
        secure=cookie_secure(request),
        max_age=throttle.CAPTCHA_TTL_SECONDS,
    )
    return response


@router.get("/login/captcha-box")
def login_captcha_box(request: Request) -> Response:
    """看不清?换一张 (htmx): the image box with a fresh image address."""
    return render(request, "accounts/_captcha.html", {"captcha_nonce": secrets.token_hex(6)})


@router.post("/login")
def login_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    client: Client,
    login: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=128)] = "",
    captcha: Annotated[str, Form(max_length=16)] = "",
    next: Annotated[str, Form(max_length=512)] = "/",
) -> Response:
    """Check the sign-in; on success start a fresh session (a new id, never the old one)."""
    result = service.authenticate(
        db,
        services=services,
        login=login,
        password=password,
        client=client,
        device_cookie=request.cookies.get(throttle.DEVICE_COOKIE),
        captcha_challenge=request.cookies.get(throttle.CAPTCHA_COOKIE),
        captcha_answer=captcha,
    )
    if result.user is None:
        return _login_page(
            request,
            next=safe_next(next),
            login=login,
            captcha=result.captcha,
            error=result.message,
        )
    old = session_token(request)
    if old:
        services.sessions.delete(db, old)
    token = services.sessions.create(
        db,
        user_id=result.user.id,
        now=services.clock.now(),
        client_address=client.address,
        user_agent=client.user_agent,
    )
    target = "/password/change-required" if result.user.must_change_password else safe_next(next)
    response = redirect(target)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        path="/",
        secure=cookie_secure(request),
        max_age=services.settings.session_absolute_hours * 3600,
    )
    if result.device_cookie:
        _set_device_cookie(request, response, services, result.device_cookie)
    return response


@router.post("/logout")
def logout(
    request: Request, db: DbSession, services: Svc, user: OptionalUser, client: Client
) -> Response:
    """退出登录: end the session on the server too."""
    token = session_token(request)
    if token:
        services.sessions.delete(db, token)
        if user is not None:
            audit.record(
                db,
                now=services.clock.now(),
                action=AuditAction.SIGN_OUT,
                actor_id=user.id,
                target_user_id=user.id,
                client=client,
            )
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _renew_device_cookie(
    request: Request, response: Response, services: Services, user: User
) -> None:
    """After a password change on this browser: its device tag for the new password."""
    value = throttle.device_cookie_for(services, request.cookies.get(throttle.DEVICE_COOKIE), user)
    _set_device_cookie(request, response, services, value)


@router.get("/password/change-required")
def forced_change_page(request: Request, user: PendingUser) -> Response:
    """The forced-change page; nothing else is reachable while the change is pending."""
    if not user.must_change_password:
        return redirect("/")
    return render(request, "accounts/forced_change.html", {"rule": RULE_TEXT})


@router.post("/password/change-required")
def forced_change_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    user: PendingUser,
    client: Client,
    new_password: Annotated[str, Form(max_length=128)] = "",
    confirm_password: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Set the person's own password after a reset or at first sign-in."""
    if not user.must_change_password:
        return redirect("/")
    problems = service.change_own_password(
        db,
        services=services,
        user=user,
        current_password=None,
        new_password=new_password,
        confirm=confirm_password,
        client=client,
        session_token=session_token(request),
    )
    if problems:
        return render(
            request,
            "accounts/forced_change.html",
            {"rule": RULE_TEXT, "errors": problems},
            status_code=400,
        )
    response = redirect("/?changed=1")
    _renew_device_cookie(request, response, services, user)
    return response


@router.get("/account/password")
def change_password_page(request: Request, principal: CurrentPrincipal) -> Response:
    """修改密码."""
    return render(request, "accounts/change_password.html", {"rule": RULE_TEXT})


@router.post("/account/password")
def change_password_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
    current_password: Annotated[str, Form(max_length=128)] = "",
    new_password: Annotated[str, Form(max_length=128)] = "",
    confirm_password: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Change one's own password; every other session of the account ends."""
    problems = service.change_own_password(
        db,
        services=services,
        user=principal.user,
        current_password=current_password,
        new_password=new_password,
        confirm=confirm_password,
        client=client,
        session_token=session_token(request),
    )
    if problems:
        response = render(
            request,
            "accounts/change_password.html",
            {"rule": RULE_TEXT, "errors": problems},
            status_code=400,
        )
        if throttle.CHANGE_SIGNED_OUT in problems:  # the throttle ended this session
            response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    response = render(
        request,
        "accounts/change_password.html",
        {"rule": RULE_TEXT, "success": N_("密码修改成功,其他设备上的登录已退出")},
    )
    _renew_device_cookie(request, response, services, principal.user)
    return response


@router.get("/")
def space(
    request: Request, db: DbSession, principal: CurrentPrincipal, changed: int | None = None
) -> Response:
    """个人空间: who I am, my roles, and where I can go from here."""
    return render(
        request,
        "accounts/space.html",
        {
            "unread": messaging.unread_count(db, user_id=principal.user.id),
            "changed": bool(changed),
        },
    )


@router.get("/lang/{code}")
def switch_language(code: str, next: str | None = None) -> Response:
    """Switch the page language (zh_CN or en)."""
    response = redirect(safe_next(next), 303)
    if code in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax", httponly=True, path="/"
        )
    return response

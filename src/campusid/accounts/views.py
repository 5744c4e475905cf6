"""Sign-in, sign-out, the personal space and the person's own password."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from campusid.accounts import factors, service, throttle
from campusid.accounts.models import AccountStatus, PendingSignIn, User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import Route
from campusid.context import Services
from campusid.i18n import COOKIE_NAME as LANG_COOKIE
from campusid.i18n import LANGUAGES, N_
from campusid.security import authz
from campusid.security.permissions import Principal, principal_for
from campusid.security.policy import RULE_TEXT
from campusid.security.sessions import COOKIE_NAME as SESSION_COOKIE
from campusid.types import ClientInfo
from campusid.web import (
    AMR_BADGE,
    CONTENT_SECURITY_POLICY,
    Client,
    CurrentPrincipal,
    CurrentUser,
    DbSession,
    EnrollingUser,
    Id,
    NotFound,
    OptionalUser,
    PendingUser,
    Refused,
    Svc,
    cookie_secure,
    get_services,
    redirect,
    render,
    require_password_session,
    require_step_up,
    safe_next,
    session_token,
)

router = APIRouter()


def login_form(
    request: Request,
    *,
    next: str,
    login: str,
    captcha: bool,
    error: str | None = None,
    prompt: str | None = None,
) -> Response:
    # issue 21: the page names the application that asked (a provider registered by oidc
    # reads the authorization request out of `next`, see domains.install).
    request.state.login_next = next
    return render(
        request,
        "accounts/login.html",
        {
            "next": next,
            "prompt": prompt,
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
    request: Request,
    services: Svc,
    client: Client,
    user: OptionalUser,
    next: str | None = None,
    prompt: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """统一认证登录: one field for any identifier, and the password (and a captcha when the
    network has failed too often).

    A signed-in person goes straight on, unless an application asked for a fresh sign-in
    (issue 21: `prompt=login`, `max_age`) or a choice of account (`prompt=select_account`).
    """
    fresh = prompt if prompt in {"login", "select_account"} else None
    if user is not None and fresh is None:
        return redirect(safe_next(next))
    captcha = throttle.captcha_on_arrival(
        services, client=client, device_cookie=request.cookies.get(throttle.DEVICE_COOKIE)
    )
    return login_form(request, next=safe_next(next), login="", captcha=captcha, prompt=fresh)


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
    """看不清？换一张 (htmx): the captcha row with an empty answer and a fresh image address;
    without script, the whole sign-in page with a fresh image."""
    if request.headers.get("hx-request") != "true":
        next_path = safe_next(request.query_params.get("next"))
        return login_form(request, next=next_path, login="", captcha=True)
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
        captcha_shown = result.captcha
        if result.error is service.SignInError.EMPTY:
            # No attempt was made: the captcha stays if the network needs it anyway.
            captcha_shown = bool(captcha.strip()) or throttle.captcha_on_arrival(
                services, client=client, device_cookie=request.cookies.get(throttle.DEVICE_COOKIE)
            )
        return login_form(
            request,
            next=safe_next(next),
            login=login,
            captcha=captcha_shown,
            error=result.message,
        )
    if result.second_step:
        device = factors.remembered(
            db,
            services=services,
            user=result.user,
            token=request.cookies.get(factors.REMEMBER_COOKIE),
        )
        if device is not None:
            # issue 19: 记住此设备: this browser skips the second step; the session says no
            # factor was proven in it (amr), so step-up and an application's acr still ask.
            audit.record(
                db,
                now=services.clock.now(),
                action=AuditAction.SIGN_IN,
                route=Route.SIGN_IN,
                actor_id=result.user.id,
                target_user_id=result.user.id,
                client=client,
                detail={"factor": "remembered"},
            )
            response = open_session(
                request,
                db,
                services,
                client,
                result.user,
                next_path=safe_next(next),
                amr=factors.AMR_REMEMBERED,
            )
            if result.device_cookie:
                _set_device_cookie(request, response, services, result.device_cookie)
            return response
        # issue 19: the password was right; the session comes after the second factor.
        pending, _expires = factors.start_pending(
            db, services=services, user=result.user, next_path=safe_next(next)
        )
        second: Response = redirect("/login/two-step")
        _set_pending_cookie(request, second, services, pending)
        if result.device_cookie:
            _set_device_cookie(request, second, services, result.device_cookie)
        return second
    response = open_session(
        request,
        db,
        services,
        client,
        result.user,
        next_path=safe_next(next),
        enrolment=factors.enrolment_due(db, services=services, user=result.user),
    )
    if result.device_cookie:
        _set_device_cookie(request, response, services, result.device_cookie)
    return response


def _set_pending_cookie(
    request: Request, response: Response, services: Services, token: str
) -> None:
    response.set_cookie(
        factors.PENDING_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        path="/login",
        secure=cookie_secure(request),
        max_age=services.settings.mfa_pending_minutes * 60,
    )


def open_session(
    request: Request,
    db: DbSession,
    services: Services,
    client: ClientInfo,
    user: User,
    *,
    next_path: str,
    amr: str = factors.AMR_PASSWORD,
    enrolment: str | None = None,
) -> Response:
    """Start a fresh session (a new id, never the old one) and go where the person goes next:
    the forced password change, the second-factor enrolment their role requires, or `next`."""
    now = services.clock.now()
    old = session_token(request)
    if old:
        services.sessions.delete(db, old)
    token = services.sessions.create(
        db,
        user_id=user.id,
        now=now,
        client_address=client.address,
        user_agent=client.user_agent,
        amr=amr,
        second_factor_at=now if amr in factors.AMR_BY_FACTOR.values() else None,
        factor_enrolment=enrolment,
    )
    if user.must_change_password and amr != AMR_BADGE:
        # (issue 24: a badge session is not sent there; it changes no credential.)
        # issue 21: the change comes first, then back to what the sign-in was for (an
        # application's authorization request, say).
        target = "/password/change-required" + (
            "?next=" + quote(next_path, safe="/") if next_path != "/" else ""
        )
    elif enrolment == "required":
        target = "/account/two-step/setup?next=" + quote(next_path, safe="/")
    else:
        target = next_path
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
    return response


def _factor_kinds(db: DbSession, user_id: int) -> set[str]:
    """The kinds of factor the person holds (the pages offer a passkey button to its holders)."""
    return {factor.kind for factor in factors.factors_of(db, user_id)}


def two_step_form(
    request: Request,
    db: DbSession,
    user_id: int,
    *,
    error: str | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    services = get_services(request)
    user = service.get_user(db, user_id)
    policy = factors.policy_of(db, services, principal_for(db, user)) if user else None
    return render(
        request,
        "accounts/two_step.html",
        {
            "error": error,
            "message": message,
            "kinds": _factor_kinds(db, user_id),
            # issue 19: what the policy allows this person (never a platform administrator)
            "remember_days": policy.remember_days if policy else 0,
            "sms_phone": factors.sms_phone(db, services, user) if user else None,
        },
        status_code=status_code,
    )


def finish_second_step(
    request: Request,
    db: DbSession,
    services: Services,
    client: ClientInfo,
    user: User,
    pending: PendingSignIn,
    *,
    factor: str,
    remember: bool,
) -> Response:
    """The second step was answered (a code, an SMS code, a passkey): the pending sign-in is
    used up, the session opens, and this browser is remembered when asked and allowed."""
    next_path = pending.next_path
    factors.finish_pending(db, pending)
    response = open_session(
        request,
        db,
        services,
        client,
        user,
        next_path=safe_next(next_path),
        amr=factors.AMR_BY_FACTOR[factor],
    )
    response.delete_cookie(factors.PENDING_COOKIE, path="/login")
    kept = (
        factors.remember_device(db, services=services, user=user, factor=factor, client=client)
        if remember
        else None
    )
    if kept is not None:
        token, days = kept
        response.set_cookie(
            factors.REMEMBER_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            path="/login",
            secure=cookie_secure(request),
            max_age=days * 24 * 3600,
        )
    return response


def live_pending(
    request: Request, db: DbSession, services: Services
) -> tuple[PendingSignIn | None, User | None]:
    """The browser's pending sign-in and its (active) person, if any."""
    pending = factors.load_pending(
        db, services=services, token=request.cookies.get(factors.PENDING_COOKIE)
    )
    user = service.get_user(db, pending.user_id) if pending is not None else None
    if user is not None and user.status is not AccountStatus.ACTIVE:
        user = None
    return pending, user


def pending_expired(request: Request, next_path: str, message: str | None) -> Response:
    """The sign-in page again: the pending sign-in is gone (expired, or too many tries)."""
    response = login_form(request, next=next_path, login="", captcha=False, error=message)
    response.status_code = 400
    response.delete_cookie(factors.PENDING_COOKIE, path="/login")
    return response


@router.get("/login/two-step")
def two_step_page(request: Request, db: DbSession, services: Svc) -> Response:
    """两步验证: the second step of a sign-in whose password was right (no session yet)."""
    pending = factors.load_pending(
        db, services=services, token=request.cookies.get(factors.PENDING_COOKIE)
    )
    if pending is None:
        return redirect("/login")
    return two_step_form(request, db, pending.user_id)


@router.post("/login/two-step")
def two_step_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    client: Client,
    signed_in: OptionalUser,
    code: Annotated[str, Form(max_length=64)] = "",
    remember: Annotated[bool, Form()] = False,
) -> Response:
    """Check the code (an authenticator's, an SMS code, or a recovery code); only then is a
    session created (and, when asked and the policy allows it, this browser remembered)."""
    pending, user = live_pending(request, db, services)
    if pending is None and signed_in is not None:
        # The form sent again (a double click, a reload) after its first answer opened the
        # session: the sign-in is done, not expired.
        return redirect("/")
    if pending is None or user is None:
        return pending_expired(request, "/", factors.PENDING_EXPIRED)
    result = factors.verify(
        db, services=services, user=user, code=code, client=client, pending=pending
    )
    if result.factor is None:
        if result.start_over:
            return pending_expired(request, pending.next_path, result.message)
        return two_step_form(request, db, user.id, error=result.message, status_code=400)
    return finish_second_step(
        request, db, services, client, user, pending, factor=result.factor, remember=remember
    )


@router.post("/login/two-step/sms")
def two_step_sms(request: Request, db: DbSession, services: Svc, client: Client) -> Response:
    """发送短信验证码: the SMS fallback of the second step, where the policy allows it."""
    pending, user = live_pending(request, db, services)
    if pending is None or user is None:
        return pending_expired(request, "/", factors.PENDING_EXPIRED)
    if factors.sms_phone(db, services, user) is None:
        raise NotFound
    sent = factors.send_sms_code(db, services=services, user=user, client=client)
    return two_step_form(
        request,
        db,
        user.id,
        error=sent.error,
        message=sent.message,
        status_code=400 if sent.error else 200,
    )


@router.post("/logout")
def logout(
    request: Request, db: DbSession, services: Svc, user: OptionalUser, client: Client
) -> Response:
    """退出登录: end the session on the server too."""
    token = session_token(request)
    frontchannel: list[str] = []
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
            # issue 21: the applications' sessions end too (back- and front-channel logout).
            for listener in service.sign_out_listeners:
                frontchannel += listener(db, user, services.clock.now())
    response = redirect("/login") if not frontchannel else signed_out_page(request, frontchannel)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def signed_out_page(
    request: Request, frontchannel: list[str], *, continue_to: str | None = None
) -> Response:
    """The signed-out page loading each application's front-channel logout URI in a hidden
    iframe (Front-Channel Logout 1.0); the policy lets exactly those origins be framed. After
    an RP-initiated logout, `continue_to` (the application's post-logout URI) follows."""
    request.state.viewer = None
    response = render(
        request,
        "oidc/logged_out.html",
        {"frontchannel": frontchannel, "continue_to": continue_to},
    )
    origins = sorted({"{0.scheme}://{0.netloc}".format(urlsplit(uri)) for uri in frontchannel})
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "default-src 'self';", f"default-src 'self'; frame-src {' '.join(origins)};"
    )
    return response


def _renew_device_cookie(
    request: Request, response: Response, services: Services, user: User
) -> None:
    """After a password change on this browser: its device tag for the new password."""
    value = throttle.device_cookie_for(services, request.cookies.get(throttle.DEVICE_COOKIE), user)
    _set_device_cookie(request, response, services, value)


@router.get("/password/change-required")
def forced_change_page(request: Request, user: PendingUser, next: str | None = None) -> Response:
    """The forced-change page; nothing else is reachable while the change is pending."""
    if not user.must_change_password:
        return redirect(safe_next(next))
    return render(
        request, "accounts/forced_change.html", {"rule": RULE_TEXT, "next": safe_next(next)}
    )


@router.post("/password/change-required")
def forced_change_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    user: PendingUser,
    client: Client,
    new_password: Annotated[str, Form(max_length=128)] = "",
    confirm_password: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=512)] = "/",
) -> Response:
    """Set the person's own password after a reset or at first sign-in, then go on to what
    the sign-in was for (issue 21), else 个人空间."""
    next_path = safe_next(next)
    if not user.must_change_password:
        return redirect(next_path)
    require_password_session(request)
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
            {"rule": RULE_TEXT, "errors": problems, "next": next_path},
            status_code=400,
        )
    response = redirect(next_path if next_path != "/" else "/?changed=1")
    _renew_device_cookie(request, response, services, user)
    return response


@router.get("/account/password")
def change_password_page(request: Request, principal: CurrentPrincipal) -> Response:
    """修改密码 (issue 24: not from a badge session; the password sign-in comes first)."""
    require_password_session(request)
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
    require_password_session(request)
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
        {"rule": RULE_TEXT, "success": N_("密码修改成功，其他设备上的登录已退出")},
    )
    _renew_device_cookie(request, response, services, principal.user)
    return response


# What a domain above accounts adds to the personal space (issue 23: classes, a pupil's school,
# class and homeroom teacher), registered by campusid.domains: name -> provider.
SpaceSection = Callable[[Session, Services, Principal], Any]
_space_sections: dict[str, SpaceSection] = {}


def register_space_section(name: str, provider: SpaceSection) -> None:
    """Add (or replace) one part of the personal space, given to its template under `name`."""
    _space_sections[name] = provider


@router.get("/")
def space(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    changed: int | None = None,
) -> Response:
    """个人空间: who I am, my roles, and where I can go from here."""
    return render(
        request,
        "accounts/space.html",
        {
            "unread": request.state.viewer.counts["unread_notices"],  # counted once a request
            "changed": bool(changed),
            **{name: provide(db, services, principal) for name, provide in _space_sections.items()},
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


# -- two-step verification: enrolment, recovery codes, removal, step-up, reset (issue 19) --------


def _setup_page(
    request: Request,
    db: DbSession,
    services: Services,
    user: User,
    *,
    next_path: str,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    factor = factors.begin_totp(db, user=user, now=services.clock.now())
    secret = factor.secret or ""
    info = getattr(request.state, "session_info", None)
    return render(
        request,
        "accounts/two_step_setup.html",
        {
            "qr_svg": factors.qr_svg(factors.provisioning_uri(secret, user.username)),
            "secret_groups": factors.grouped(secret),
            "issuer": factors.ISSUER,
            "next": next_path,
            "error": error,
            "required": info is not None and info.factor_enrolment == "required",
            "grace": info is not None and info.factor_enrolment == "grace",
        },
        status_code=status_code,
    )


def _check_offered(db: DbSession, services: Services, user: User) -> None:
    """Pupils (a role the policy offers no factor) have no enrolment page."""
    need = factors.need_of(services, principal_for(db, user))
    if need is authz.FactorNeed.NOT_OFFERED:
        raise NotFound


@router.get("/account/two-step/setup")
def two_step_setup_page(
    request: Request, db: DbSession, services: Svc, user: EnrollingUser, next: str | None = None
) -> Response:
    """设置两步验证: scan the QR code (or type the secret), confirm with a code."""
    _check_offered(db, services, user)
    return _setup_page(request, db, services, user, next_path=safe_next(next))


@router.post("/account/two-step/setup")
def two_step_setup_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    user: EnrollingUser,
    client: Client,
    code: Annotated[str, Form(max_length=16)] = "",
    next: Annotated[str, Form(max_length=512)] = "/",
) -> Response:
    """Confirm the authenticator with its first code; show the recovery codes once."""
    _check_offered(db, services, user)
    codes = factors.confirm_totp(
        db,
        services=services,
        user=user,
        code=code,
        client=client,
        session_token=session_token(request),
    )
    if codes is None:
        if factors.totp_in_progress(db, user.id) is None and "totp" in _factor_kinds(db, user.id):
            # The form sent again (a double click, a reload) after the enrolment it confirmed:
            # what was asked is done; no fresh secret, no "wrong code".
            return redirect("/account/security?factor=added")
        return _setup_page(
            request,
            db,
            services,
            user,
            next_path=safe_next(next),
            error=factors.WRONG_CODE,
            status_code=400,
        )
    if not codes:
        return redirect("/account/security?factor=added")
    return render(
        request, "accounts/recovery_codes.html", {"codes": codes, "next": safe_next(next)}
    )


@router.post("/account/two-step/recovery-codes")
def regenerate_recovery_codes(
    request: Request, db: DbSession, services: Svc, principal: CurrentPrincipal, client: Client
) -> Response:
    """重新生成恢复码 (a fresh second-factor check first)."""
    if not factors.has_factor(db, principal.user.id):
        raise NotFound
    require_step_up(request, back="/account/security")
    codes = factors.regenerate_recovery_codes(
        db,
        services=services,
        user=principal.user,
        client=client,
        session_token=session_token(request),
    )
    return render(
        request, "accounts/recovery_codes.html", {"codes": codes, "next": "/account/security"}
    )


@router.post("/account/two-step/remembered/remove")
def forget_remembered_devices(
    request: Request, db: DbSession, services: Svc, principal: CurrentPrincipal, client: Client
) -> Response:
    """已记住的设备 → 全部移除: every remembered browser asks for the second step again."""
    removed = factors.forget_devices(db, principal.user.id)
    if removed:
        audit.record(
            db,
            now=services.clock.now(),
            action=AuditAction.REMEMBERED_DEVICES_REMOVED,
            actor_id=principal.user.id,
            target_user_id=principal.user.id,
            route=Route.OWN,
            client=client,
            detail={"devices": removed},
        )
    return redirect("/account/security?factor=forgotten")


LAST_FACTOR_REQUIRED = N_("您的角色必须启用两步验证，不能删除唯一的验证方式；请先添加另一种方式。")


@router.post("/account/two-step/{factor_id}/remove")
def remove_factor(
    factor_id: Id,
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
) -> Response:
    """删除 a factor: needs a fresh second-factor check; a required role keeps at least one."""
    require_step_up(request, back="/account/security")
    held = factors.factors_of(db, principal.user.id)
    if factor_id not in {f.id for f in held}:
        raise NotFound
    if len(held) == 1 and factors.need_of(services, principal) is authz.FactorNeed.REQUIRED:
        raise Refused(LAST_FACTOR_REQUIRED)
    factors.remove_factor(
        db,
        services=services,
        user=principal.user,
        factor_id=factor_id,
        client=client,
        session_token=session_token(request),
    )
    return redirect("/account/security?factor=removed")


def verify_form(
    request: Request,
    db: DbSession,
    user_id: int,
    *,
    next_path: str,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "accounts/step_up.html",
        {"next": next_path, "error": error, "kinds": _factor_kinds(db, user_id)},
        status_code=status_code,
    )


@router.get("/account/verify")
def step_up_page(
    request: Request, db: DbSession, user: CurrentUser, next: str | None = None
) -> Response:
    """请再次验证: a fresh second-factor check for a sensitive act (step-up)."""
    if not factors.has_factor(db, user.id):
        return redirect("/account/two-step/setup?next=" + quote(safe_next(next), safe="/"))
    return verify_form(request, db, user.id, next_path=safe_next(next))


@router.post("/account/verify")
def step_up_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    user: CurrentUser,
    client: Client,
    code: Annotated[str, Form(max_length=64)] = "",
    next: Annotated[str, Form(max_length=512)] = "/",
) -> Response:
    """Check the code; the session then counts as freshly verified for the step-up window."""
    result = factors.verify(
        db, services=services, user=user, code=code, client=client, purpose="step_up"
    )
    if result.factor is None:
        return verify_form(
            request, db, user.id, next_path=safe_next(next), error=result.message, status_code=400
        )
    token = session_token(request)
    if token:
        services.sessions.mark_second_factor(
            db, token, now=services.clock.now(), amr=factors.AMR_BY_FACTOR[result.factor]
        )
    return redirect(safe_next(next))


@router.post("/people/{user_id}/two-step/reset")
def reset_factors(
    user_id: Id,
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
    back: Annotated[str, Form(max_length=512)] = "/",
) -> Response:
    """重置两步验证 of a person who lost their factor: by the next authority up
    (security.authz.may_reset_factors), after a fresh second-factor check of their own."""
    target = service.get_user(db, user_id)
    if target is None:
        raise NotFound
    authz.check_factor_reset(principal, principal_for(db, target), action=AuditAction.FACTOR_RESET)
    require_step_up(request, back=safe_next(back))
    factors.reset_factors(db, services=services, actor=principal, target=target, client=client)
    return render(
        request,
        "accounts/factor_reset_done.html",
        {"target": target, "back": safe_next(back)},
    )

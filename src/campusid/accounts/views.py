"""Sign-in, sign-out, the personal space and the person's own password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from campusid.accounts import service
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
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


@router.get("/login")
def login_page(request: Request, user: OptionalUser, next: str | None = None) -> Response:
    """统一认证登录: one field for any identifier, and the password."""
    if user is not None:
        return redirect(safe_next(next))
    return render(request, "accounts/login.html", {"next": safe_next(next), "login": ""})


@router.post("/login")
def login_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    client: Client,
    login: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=512)] = "/",
) -> Response:
    """Check the sign-in; on success start a fresh session (a new id, never the old one)."""
    result = service.authenticate(
        db,
        services=services,
        login=login,
        password=password,
        client=client,
    )
    if result.user is None:
        return render(
            request,
            "accounts/login.html",
            {
                "next": safe_next(next),
                "login": login,
                "error": result.message,
            },
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
    return redirect("/?changed=1")


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
        return render(
            request,
            "accounts/change_password.html",
            {"rule": RULE_TEXT, "errors": problems},
            status_code=400,
        )
    return render(
        request,
        "accounts/change_password.html",
        {"rule": RULE_TEXT, "success": N_("密码修改成功,其他设备上的登录已退出")},
    )


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

"""账号安全: bind or change phone and email; recent sign-ins and credential changes."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import Response

from campusid.accounts import factors
from campusid.i18n import N_
from campusid.profile import service
from campusid.profile.service import Channel
from campusid.recovery.service import deliver
from campusid.security import views as captcha_views
from campusid.web import (
    Client,
    CurrentPrincipal,
    DbSession,
    NotFound,
    Svc,
    get_services,
    redirect,
    render,
    require_password_session,
    session_token,
)

router = APIRouter()

FACTOR_DONE = {
    "added": N_("已添加身份验证器"),
    "removed": N_("已删除该两步验证方式"),
    "forgotten": N_("已移除全部记住的设备，下次登录时需要两步验证"),
}


def _channel(kind: str) -> Channel:
    try:
        return Channel(kind)
    except ValueError:
        raise NotFound from None


def _page(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    sign_ins, changes = service.security_history(db, user=principal.user)
    ctx: dict[str, Any] = {
        # issue 19: the person's second factors
        "factors": factors.factors_of(db, principal.user.id),
        "recovery_left": factors.recovery_codes_left(db, principal.user.id),
        "factor_need": factors.need_of(get_services(request), principal).value,
        "remembered": factors.remembered_devices(
            db, user=principal.user, now=get_services(request).clock.now()
        ),
        "account": principal.user,
        "sign_ins": sign_ins,
        "changes": changes,
        "channels": list(Channel),
        "values": {},
        "errors": {},
        "status": {},
        "waits": {},
        "nonce": secrets.token_hex(4),
        "captcha_nonce": secrets.token_hex(6),
    }
    ctx.update(extra)
    response = render(request, "profile/security.html", ctx, status_code=status_code)
    return captcha_views.ensure_cookie(request, response)


@router.get("/account/security")
def security_page(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    changed: str | None = None,
    factor: str | None = None,
) -> Response:
    """账号安全."""
    done = (
        N_("%(channel)s已更换", channel=Channel(changed).label)
        if changed in {c.value for c in Channel}
        else FACTOR_DONE.get(factor or "")
    )
    return _page(request, db, principal, done=done)


@router.post("/account/security/{kind}/code")
def send_code(
    kind: str,
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    background: BackgroundTasks,
    client: Client,
    value: Annotated[str, Form(max_length=254)] = "",
    captcha: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """获取: a code to the new phone or email, once the image captcha is solved (issue 24:
    not from a badge session)."""
    channel = _channel(kind)
    require_password_session(request, back="/account/security")
    result = service.send_bind_code(
        db,
        services=services,
        user=principal.user,
        channel=channel,
        value=value,
        captcha_token=captcha_views.token_of(request),
        captcha_answer=captcha,
        client=client,
    )
    background.add_task(deliver, services, result.delivery)
    if request.headers.get("hx-request") == "true":
        return render(
            request,
            "profile/_code_response.html",
            {
                "channel": channel,
                "wait": result.wait_seconds,
                "message": result.message,
                "error": result.error,
                "captcha_kept": result.captcha_kept,
                **captcha_views.box_context(service.captcha_form(channel)),
            },
        )
    return _page(
        request,
        db,
        principal,
        status_code=200 if result.error is None else 400,
        values={channel.value: value},
        status={channel.value: result.message},
        errors={channel.value: [result.error] if result.error else []},
        waits={channel.value: result.wait_seconds},
    )


@router.post("/account/security/{kind}")
def confirm(
    kind: str,
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
    value: Annotated[str, Form(max_length=254)] = "",
    code: Annotated[str, Form(max_length=16)] = "",
    current_password: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """确认绑定: the code and the current password (issue 24: not from a badge session)."""
    channel = _channel(kind)
    require_password_session(request, back="/account/security")
    problems = service.confirm_binding(
        db,
        services=services,
        user=principal.user,
        channel=channel,
        value=value,
        code=code,
        current_password=current_password,
        client=client,
        session_token=session_token(request),
    )
    if problems:
        return _page(
            request,
            db,
            principal,
            status_code=400,
            values={channel.value: value},
            errors={channel.value: problems},
        )
    return redirect(f"/account/security?changed={channel.value}")

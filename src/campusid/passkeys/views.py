"""通行密钥: add, list and remove passkeys; the ceremonies' JSON endpoints.

The page works as forms: a small script (static/passkeys.js) asks for the ceremony's options
(JSON, with the CSRF header), lets the browser talk to the authenticator, puts its answer in the
form's hidden `credential` field and submits the form; the answer is checked on the server and
the page drawn again with the outcome, like any other form.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response

from campusid.accounts import service as accounts
from campusid.accounts import throttle as sign_in_throttle
from campusid.audit.actions import AuditAction
from campusid.i18n import N_
from campusid.passkeys import service
from campusid.passkeys.service import PasskeyError
from campusid.web import (
    Client,
    CurrentPrincipal,
    DbSession,
    Id,
    Svc,
    redirect,
    render,
    session_token,
)

router = APIRouter()

CREDENTIAL_MAX = 64 * 1024  # an attestation with a certificate chain is a few kilobytes


def _rp(request: Request, services: Any) -> service.RelyingParty:
    return service.relying_party(services.settings, str(request.base_url))


def _json_refusal(error: PasskeyError) -> JSONResponse:
    return JSONResponse({"error": {"code": "passkey", "message": error.message}}, status_code=400)


def _page(
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    ctx: dict[str, Any] = {
        "passkeys": service.passkeys_of(db, user_id=principal.user.id),
        "label": "",
        "errors": [],
        "done": None,
    }
    ctx.update(extra)
    return render(request, "passkeys/passkeys.html", ctx, status_code=status_code)


@router.get("/account/passkeys")
def passkeys_page(
    request: Request, db: DbSession, principal: CurrentPrincipal, done: str | None = None
) -> Response:
    """通行密钥: the person's passkeys and security keys."""
    message = {"added": N_("通行密钥已添加"), "removed": N_("通行密钥已删除")}.get(done or "")
    return _page(request, db, principal, done=message)


@router.post("/account/passkeys/options")
def registration_options(
    request: Request, db: DbSession, services: Svc, principal: CurrentPrincipal
) -> Response:
    """The options of navigator.credentials.create() (JSON); its challenge is bound to this
    session."""
    try:
        options = service.registration_options(
            db,
            services=services,
            rp=_rp(request, services),
            user=principal.user,
            binding=session_token(request) or "",
        )
    except PasskeyError as error:
        return _json_refusal(error)
    return Response(options, media_type="application/json")


@router.post("/account/passkeys")
def register(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
    credential: Annotated[str, Form(max_length=CREDENTIAL_MAX)] = "",
    label: Annotated[str, Form(max_length=128)] = "",
    current_password: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """添加通行密钥: the current password, then the browser's attestation."""
    user = principal.user
    wrong = sign_in_throttle.check_current_password(
        db,
        services=services,
        user=user,
        password=current_password,
        stored_hash=accounts.password_hash_of(db, user),
        client=client,
        session_token=session_token(request),
        action=AuditAction.FACTOR_ADDED,
    )
    if wrong is None and not credential:
        wrong = N_("浏览器没有完成通行密钥的创建，请重试。")
    if wrong is None:
        try:
            service.register(
                db,
                services=services,
                rp=_rp(request, services),
                user=user,
                binding=session_token(request) or "",
                response_json=credential,
                label=label,
                client=client,
                session_token=session_token(request),
            )
        except PasskeyError as error:
            wrong = error.message
    if wrong is not None:
        return _page(request, db, principal, status_code=400, label=label, errors=[wrong])
    return redirect("/account/passkeys?done=added")


@router.post("/account/passkeys/{passkey_id}/delete")
def remove(
    passkey_id: Id,
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
    current_password: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """删除通行密钥: with the current password."""
    user = principal.user
    wrong = sign_in_throttle.check_current_password(
        db,
        services=services,
        user=user,
        password=current_password,
        stored_hash=accounts.password_hash_of(db, user),
        client=client,
        session_token=session_token(request),
        action=AuditAction.FACTOR_REMOVED,
    )
    if wrong is not None:
        return _page(request, db, principal, status_code=400, errors=[wrong])
    removed = service.remove(
        db,
        services=services,
        user=user,
        passkey_id=passkey_id,
        client=client,
        session_token=session_token(request),
    )
    if removed is None:
        return _page(request, db, principal, status_code=404, errors=[N_("没有找到这个通行密钥。")])
    return redirect("/account/passkeys?done=removed")


@router.post("/account/passkeys/verify/options")
def authentication_options(
    request: Request, db: DbSession, services: Svc, principal: CurrentPrincipal
) -> Response:
    """The options of navigator.credentials.get() for the signed-in person (JSON)."""
    try:
        options = service.authentication_options(
            db,
            services=services,
            rp=_rp(request, services),
            user=principal.user,
            binding=session_token(request) or "",
        )
    except PasskeyError as error:
        return _json_refusal(error)
    return Response(options, media_type="application/json")


@router.post("/account/passkeys/verify")
def verify(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    credential: Annotated[str, Form(max_length=CREDENTIAL_MAX)] = "",
) -> Response:
    """Check a passkey of the signed-in person (JSON: who was verified and how)."""
    try:
        row = service.authenticate(
            db,
            services=services,
            rp=_rp(request, services),
            user=principal.user,
            binding=session_token(request) or "",
            response_json=credential,
        )
    except PasskeyError as error:
        return _json_refusal(error)
    return JSONResponse({"user": principal.user.id, "passkey": row.id, "amr": row.amr})

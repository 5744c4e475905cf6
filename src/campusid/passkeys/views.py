"""通行密钥: add and list passkeys; use one at the sign-in's second step (两步验证) and for a
step-up (请再次验证).

The pages work as forms: a small script (static/passkeys.js) asks for the ceremony's options
(JSON, with the CSRF header), lets the browser talk to the authenticator, puts its answer in the
form's hidden `credential` field and submits the form; the answer is checked on the server and
answered like any other form. Removing a passkey is removing a second factor
(`/account/two-step/{factor_id}/remove`, accounts.views: a fresh second factor first).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response

from campusid.accounts import factors
from campusid.accounts import service as accounts
from campusid.accounts import throttle as sign_in_throttle
from campusid.accounts import views as sign_in
from campusid.accounts.models import User
from campusid.audit.actions import AuditAction
from campusid.context import Services
from campusid.i18n import N_
from campusid.passkeys import service
from campusid.passkeys.service import PasskeyError
from campusid.security import authz
from campusid.security.permissions import principal_for
from campusid.web import (
    Client,
    CurrentUser,
    DbSession,
    EnrollingUser,
    NotFound,
    Svc,
    redirect,
    render,
    require_step_up,
    safe_next,
    session_token,
)

router = APIRouter()

CREDENTIAL_MAX = 64 * 1024  # an attestation with a certificate chain is a few kilobytes
PAGE = "/account/passkeys"


def _rp(request: Request, services: Services) -> service.RelyingParty:
    return service.relying_party(services.settings, str(request.base_url))


def _json_refusal(message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": "passkey", "message": message}}, status_code=400)


def _json_options(
    make: Callable[..., str],
    request: Request,
    db: DbSession,
    services: Services,
    user: User,
    binding: str,
) -> Response:
    """A ceremony's options (`service.registration_options` or `authentication_options`) as
    JSON, or the reason there are none."""
    try:
        options = make(db, services=services, rp=_rp(request, services), user=user, binding=binding)
    except PasskeyError as error:
        return _json_refusal(error.message)
    return Response(options, media_type="application/json")


def _check_offered(db: DbSession, services: Services, user: User) -> None:
    """Pupils (a role the policy offers no second factor) have no passkeys."""
    if factors.need_of(services, principal_for(db, user)) is authz.FactorNeed.NOT_OFFERED:
        raise NotFound


def _page(
    request: Request,
    db: DbSession,
    user: User,
    *,
    next_path: str = "/account/security",
    status_code: int = 200,
    **extra: Any,
) -> Response:
    info = getattr(request.state, "session_info", None)
    ctx: dict[str, Any] = {
        "passkeys": service.passkeys_of(db, user_id=user.id),
        "label": "",
        "errors": [],
        "done": None,
        "next": next_path,
        "required": info is not None and info.factor_enrolment == "required",
    }
    ctx.update(extra)
    return render(request, "passkeys/passkeys.html", ctx, status_code=status_code)


@router.get(PAGE)
def passkeys_page(
    request: Request,
    db: DbSession,
    services: Svc,
    user: EnrollingUser,
    done: str | None = None,
    next: str | None = None,
) -> Response:
    """通行密钥: the person's passkeys and security keys, and adding one (a fresh second-factor
    check first when they hold a factor already; the enrolment a role requires otherwise)."""
    _check_offered(db, services, user)
    if factors.has_factor(db, user.id):
        require_step_up(request)
    message = N_("通行密钥已添加") if done == "added" else None
    return _page(request, db, user, next_path=safe_next(next or "/account/security"), done=message)


@router.post(f"{PAGE}/options")
def registration_options(
    request: Request, db: DbSession, services: Svc, user: EnrollingUser
) -> Response:
    """The options of navigator.credentials.create() (JSON); the challenge is bound to this
    session."""
    _check_offered(db, services, user)
    return _json_options(
        service.registration_options, request, db, services, user, session_token(request) or ""
    )


@router.post(PAGE)
def register(
    request: Request,
    db: DbSession,
    services: Svc,
    user: EnrollingUser,
    client: Client,
    credential: Annotated[str, Form(max_length=CREDENTIAL_MAX)] = "",
    label: Annotated[str, Form(max_length=128)] = "",
    current_password: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=512)] = "/account/security",
) -> Response:
    """添加通行密钥: the current password, then the browser's attestation; the recovery codes
    once when it is the person's first factor."""
    _check_offered(db, services, user)
    if factors.has_factor(db, user.id):
        require_step_up(request, back=PAGE)
    next_path = safe_next(next)
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
    codes: list[str] = []
    if wrong is None:
        try:
            _row, codes = service.register(
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
        return _page(
            request, db, user, next_path=next_path, status_code=400, label=label, errors=[wrong]
        )
    if codes:
        return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": next_path})
    return redirect(f"{PAGE}?done=added")


# -- the sign-in's second step (两步验证) ----------------------------------------------------------


@router.post("/login/two-step/passkey/options")
def second_step_options(request: Request, db: DbSession, services: Svc) -> Response:
    """The options of navigator.credentials.get() for the pending sign-in (JSON), bound to it."""
    pending, user = sign_in.live_pending(request, db, services)
    if pending is None or user is None:
        return _json_refusal(factors.PENDING_EXPIRED)
    return _json_options(
        service.authentication_options,
        request,
        db,
        services,
        user,
        request.cookies.get(factors.PENDING_COOKIE) or "",
    )


def _prover(
    request: Request, db: DbSession, services: Services, user: User, binding: str, credential: str
) -> tuple[Any, list[str]]:
    """The check `factors.verify` runs (after its throttle): "hwk" or "swk", or None, with the
    ceremony's own reason kept for the page."""
    reasons: list[str] = []

    def prove() -> str | None:
        try:
            row = service.authenticate(
                db,
                services=services,
                rp=_rp(request, services),
                user=user,
                binding=binding,
                response_json=credential,
            )
        except PasskeyError as error:
            reasons.append(error.message)
            return None
        return row.amr

    return prove, reasons


def _reason(message: str | None, reasons: list[str]) -> str | None:
    """What to say of a refused passkey: the code field's wording does not fit it."""
    if message == factors.WRONG_CODE:
        return reasons[0] if reasons else service.FAILED
    return message


@router.post("/login/two-step/passkey")
def second_step(
    request: Request,
    db: DbSession,
    services: Svc,
    client: Client,
    credential: Annotated[str, Form(max_length=CREDENTIAL_MAX)] = "",
    remember: Annotated[bool, Form()] = False,
) -> Response:
    """使用通行密钥 at the second step: counted like a code; only then is a session created."""
    pending, user = sign_in.live_pending(request, db, services)
    if pending is None or user is None:
        return sign_in.pending_expired(request, "/", factors.PENDING_EXPIRED)
    next_path = pending.next_path
    binding = request.cookies.get(factors.PENDING_COOKIE) or ""
    prove, reasons = _prover(request, db, services, user, binding, credential)
    result = factors.verify(
        db, services=services, user=user, code="", client=client, pending=pending, prove=prove
    )
    if result.factor is None:
        message = _reason(result.message, reasons)
        if result.start_over:
            return sign_in.pending_expired(request, next_path, message)
        return sign_in.two_step_form(request, db, user.id, error=message, status_code=400)
    return sign_in.finish_second_step(
        request, db, services, client, user, pending, factor=result.factor, remember=remember
    )


# -- step-up (请再次验证) --------------------------------------------------------------------------


@router.post("/account/verify/passkey/options")
def step_up_options(request: Request, db: DbSession, services: Svc, user: CurrentUser) -> Response:
    """The options of navigator.credentials.get() for a step-up (JSON), bound to this session."""
    return _json_options(
        service.authentication_options, request, db, services, user, session_token(request) or ""
    )


@router.post("/account/verify/passkey")
def step_up(
    request: Request,
    db: DbSession,
    services: Svc,
    user: CurrentUser,
    client: Client,
    credential: Annotated[str, Form(max_length=CREDENTIAL_MAX)] = "",
    next: Annotated[str, Form(max_length=512)] = "/",
) -> Response:
    """A passkey for a step-up: the session then counts as freshly verified."""
    token = session_token(request)
    prove, reasons = _prover(request, db, services, user, token or "", credential)
    result = factors.verify(
        db, services=services, user=user, code="", client=client, purpose="step_up", prove=prove
    )
    if result.factor is None:
        return sign_in.verify_form(
            request,
            db,
            user.id,
            next_path=safe_next(next),
            error=_reason(result.message, reasons),
            status_code=400,
        )
    if token:
        services.sessions.mark_second_factor(
            db, token, now=services.clock.now(), amr=factors.AMR_BY_FACTOR[result.factor]
        )
    return redirect(safe_next(next))

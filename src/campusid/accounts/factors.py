"""Two-step verification (issue 19): a person's second factors, recovery codes, the sign-in's
second step, and what a session must do about a missing factor.

- **TOTP** (RFC 6238) with `pyotp`: 30-second steps, six digits, SHA-1 (what every
  authenticator app reads from an otpauth:// QR code, drawn by `segno`). A code is accepted for
  the current step and one either side (`valid_window` 1), never for a step at or before the
  last one accepted (a replayed or older code is refused).
- **Recovery codes**: ten at a time, 80 random bits each (16 Crockford base-32 characters),
  stored as SHA-256 (a slow hash adds nothing to 80 bits); shown once; each works once.
- **The second step** of a sign-in is a `PendingSignIn`: a random token in a cookie of the
  browser that typed the password, stored hashed, five minutes, single-use. It opens no page.
  Wrong codes are counted per pending sign-in (a few, then the password again) and per
  account and client address (waits, as the password's: accounts.throttle). Every wrong answer
  reads the same.
- Who must, may or may not hold a factor is one rule: `security.authz.second_factor_need`.

Passkeys (WebAuthn) and SMS codes are kinds of the same `SecondFactor` table, to come.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import segno
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from campusid.accounts import throttle as sign_in_throttle
from campusid.accounts.models import (
    FactorGrace,
    FactorKind,
    FactorRecoveryCode,
    PendingSignIn,
    SecondFactor,
    User,
)
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import ClientInfo, Outcome, Route
from campusid.clock import SHANGHAI
from campusid.context import Services
from campusid.i18n import N_
from campusid.messaging import service as messaging
from campusid.security import authz
from campusid.security.permissions import Principal, principal_for
from campusid.security.throttle import address_key

ISSUER = "campusid"
STEP_SECONDS = 30
DIGITS = 6
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32
_RECOVERY_LENGTH = 16
PENDING_COOKIE = "campusid_pending"

WRONG_CODE = N_("验证码不正确或已使用，请重新输入。")
PENDING_EXPIRED = N_("验证已超时或尝试次数过多，请重新登录。")

# What a session's amr says of how the person proved who they are (OIDC amr values, RFC 8176;
# "recovery" is campusid's own for a recovery code).
AMR_PASSWORD = "pwd"
# A passkey (campusid.passkeys) proves "hwk" (a device-bound key) or "swk" (a synced passkey).
AMR_BY_FACTOR = {
    "totp": "pwd otp",
    "recovery": "pwd recovery",
    "hwk": "pwd hwk",
    "swk": "pwd swk",
}
FACTOR_LABELS = {
    "totp": N_("动态验证码"),
    "recovery": N_("恢复码"),
    "hwk": N_("安全密钥"),
    "swk": N_("通行密钥"),
}


# -- the policy -------------------------------------------------------------------------------


def need_of(services: Services, principal: Principal) -> authz.FactorNeed:
    """What the one rule (security.authz.second_factor_need) says of this person."""
    settings = services.settings
    return authz.second_factor_need(
        principal.roles,
        required_roles=settings.mfa_required_roles,
        optional_roles=settings.mfa_optional_roles,
    )


def factors_of(db: Session, user_id: int) -> list[SecondFactor]:
    """A person's confirmed second factors, oldest first."""
    return list(
        db.scalars(
            select(SecondFactor)
            .where(SecondFactor.user_id == user_id, SecondFactor.confirmed_at.is_not(None))
            .order_by(SecondFactor.id)
        )
    )


def has_factor(db: Session, user_id: int) -> bool:
    """Whether the person holds a confirmed second factor."""
    return (
        db.scalar(
            select(SecondFactor.id)
            .where(SecondFactor.user_id == user_id, SecondFactor.confirmed_at.is_not(None))
            .limit(1)
        )
        is not None
    )


def enrolment_due(db: Session, *, services: Services, user: User) -> str | None:
    """For a session opened with a password alone: "required" (no page but the enrolment),
    "grace" (pages open, a banner asks) or None (nothing asked).

    The grace period (`CAMPUSID_MFA_GRACE_DAYS`) runs from the first sign-in at which the
    person's role required a factor they did not have.
    """
    if need_of(services, principal_for(db, user)) is not authz.FactorNeed.REQUIRED:
        return None
    days = services.settings.mfa_grace_days
    if days <= 0:
        return "required"
    now = services.clock.now()
    grace = db.get(FactorGrace, user.id)
    if grace is None:
        grace = FactorGrace(user_id=user.id, due_at=now + timedelta(days=days))
        db.add(grace)
    return "required" if now >= grace.due_at else "grace"


def grace_due_at(db: Session, user_id: int) -> datetime | None:
    """When the person's grace period ends, if one runs."""
    grace = db.get(FactorGrace, user_id)
    return grace.due_at if grace else None


# -- TOTP ---------------------------------------------------------------------------------------


def new_totp_secret() -> str:
    """A fresh shared secret: 160 random bits, base 32 (RFC 4226's recommended length)."""
    return pyotp.random_base32()


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(secret: str, account: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=ISSUER
    )


def qr_svg(uri: str) -> str:
    """The QR code of the address as an inline SVG (no script, no image request)."""
    return str(segno.make(uri, error="m").svg_inline(scale=5, border=2, omitsize=False))


def time_step(now: datetime) -> int:
    """The TOTP time step of an instant."""
    return int(now.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    """The TOTP code of a step (the demo's CLI and the tests read codes through this)."""
    return str(pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step))


def _normalise_code(code: str) -> str:
    return "".join(code.split())


def match_totp(factor: SecondFactor, code: str, now: datetime) -> int | None:
    """The step the code is right for (current, one before or one after) and not yet used."""
    code = _normalise_code(code)
    if not factor.secret or len(code) != DIGITS or not code.isdigit():
        return None
    current = time_step(now)
    for step in (current - 1, current, current + 1):
        if factor.last_used_step is not None and step <= factor.last_used_step:
            continue
        if hmac.compare_digest(code_at(factor.secret, step), code):
            return step
    return None


# -- recovery codes -----------------------------------------------------------------------------


def _recovery_digest(code: str) -> str:
    canonical = code.upper().replace("-", "").replace(" ", "")
    canonical = canonical.translate(str.maketrans("OIL", "011"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_recovery_codes(db: Session, *, user_id: int, now: datetime) -> list[str]:
    """Ten fresh recovery codes (the old ones stop working); shown once, stored hashed."""
    db.execute(delete(FactorRecoveryCode).where(FactorRecoveryCode.user_id == user_id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4)))
        db.add(FactorRecoveryCode(user_id=user_id, code_hash=_recovery_digest(raw), created_at=now))
    return codes


def recovery_codes_left(db: Session, user_id: int) -> int:
    """How many unused recovery codes the person has."""
    return (
        db.scalar(
            select(func.count()).where(
                FactorRecoveryCode.user_id == user_id, FactorRecoveryCode.used_at.is_(None)
            )
        )
        or 0
    )


def _use_recovery_code(db: Session, user_id: int, code: str, now: datetime) -> bool:
    # One conditional UPDATE: of two answers with the same code at once, one wins (PostgreSQL
    # re-checks `used_at` once the first commits; SQLite runs writers one at a time).
    used = db.execute(
        update(FactorRecoveryCode)
        .where(
            FactorRecoveryCode.user_id == user_id,
            FactorRecoveryCode.code_hash == _recovery_digest(code),
            FactorRecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(used.rowcount)  # type: ignore[attr-defined]


def _claim_step(db: Session, factor: SecondFactor, step: int, now: datetime) -> bool:
    """Record `step` as the factor's last accepted one, unless another answer already used it
    or a later one (checked in the UPDATE itself, not on the possibly stale loaded row)."""
    claimed = db.execute(
        update(SecondFactor)
        .where(
            SecondFactor.id == factor.id,
            or_(SecondFactor.last_used_step.is_(None), SecondFactor.last_used_step < step),
        )
        .values(last_used_step=step, last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.refresh(factor)
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


# -- checking a code ----------------------------------------------------------------------------


def check_code(db: Session, *, user_id: int, code: str, now: datetime) -> str | None:
    """Which factor the code proves ("totp" or "recovery"), used up; None if it proves none."""
    code = code.strip()[:64]
    if not code:
        return None
    for factor in factors_of(db, user_id):
        if factor.kind == FactorKind.TOTP.value:
            step = match_totp(factor, code, now)
            if step is not None and _claim_step(db, factor, step, now):
                return "totp"
    if len(_normalise_code(code)) > DIGITS and _use_recovery_code(db, user_id, code, now):
        return "recovery"
    return None


@dataclass
class StepResult:
    """The outcome of a second-step answer: the factor used, or what to say."""

    factor: str | None = None
    message: str | None = None
    start_over: bool = False  # the pending sign-in is gone: back to the password


def _throttle_key(user_id: int, client: ClientInfo) -> str:
    return f"second-step:{user_id}:{address_key(client.address)}"


def verify(
    db: Session,
    *,
    services: Services,
    user: User,
    code: str,
    client: ClientInfo,
    pending: PendingSignIn | None = None,
    purpose: str = "sign_in",
    prove: Callable[[], str | None] | None = None,
) -> StepResult:
    """Check a second-factor answer under the throttle, audited.

    Failures wait like the password's (per account and client address: a stranger elsewhere
    never slows the holder); on a pending sign-in, `mfa_pending_max_failures` wrong answers end
    it (the password must be typed again). Every wrong answer reads the same.
    """
    now = services.clock.now()
    throttle = services.throttle
    key = _throttle_key(user.id, client)
    wait = throttle.policy.wait(throttle.store.get(key, now=now.timestamp()), now.timestamp())
    if wait:
        return StepResult(message=sign_in_throttle.wait_message(wait))
    # `prove`: another kind of answer (a passkey's assertion), checked only once the wait is
    # over and counted like a code; it names the factor it proves ("hwk", "swk") or None.
    factor = prove() if prove is not None else check_code(db, user_id=user.id, code=code, now=now)
    action = AuditAction.SIGN_IN if purpose == "sign_in" else AuditAction.SECOND_FACTOR_CHECKED
    if factor is None:
        throttle.store.fail(key, now=now.timestamp())
        services.limits["login.account"].hit(str(user.id))
        start_over = False
        if pending is not None:
            pending.failures += 1
            if pending.failures >= services.settings.mfa_pending_max_failures:
                db.delete(pending)
                start_over = True
        audit.record(
            db,
            now=now,
            action=action,
            outcome=Outcome.FAILURE,
            route=Route.SIGN_IN if purpose == "sign_in" else None,
            actor_id=user.id,
            target_user_id=user.id,
            client=client,
            detail={"reason": "bad_second_factor", "step": "second_factor"},
        )
        return StepResult(
            message=PENDING_EXPIRED if start_over else WRONG_CODE, start_over=start_over
        )
    throttle.store.clear(key)
    audit.record(
        db,
        now=now,
        action=action,
        route=Route.SIGN_IN if purpose == "sign_in" else None,
        actor_id=user.id,
        target_user_id=user.id,
        client=client,
        detail={"factor": factor},
    )
    if factor == "recovery":
        left = recovery_codes_left(db, user.id)
        messaging.notify(
            db,
            user_id=user.id,
            kind="factor_recovery_code_used",
            now=now,
            title=N_("您使用了一个恢复码"),
            body=N_(
                "您的账号于 %(when)s 使用恢复码完成了两步验证，还剩 %(left)s 个恢复码。"
                "如非本人操作，请立即修改密码并联系管理员。",
                when=now.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
                left=left,
            ),
        )
    return StepResult(factor=factor)


# -- the pending sign-in ------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_pending(
    db: Session, *, services: Services, user: User, next_path: str
) -> tuple[str, datetime]:
    """A pending sign-in for the person (their password was right): the cookie's token."""
    now = services.clock.now()
    db.execute(delete(PendingSignIn).where(PendingSignIn.expires_at <= now))
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(minutes=services.settings.mfa_pending_minutes)
    db.add(
        PendingSignIn(
            token_hash=_digest(token),
            user_id=user.id,
            created_at=now,
            expires_at=expires,
            failures=0,
            next_path=next_path[:512],
        )
    )
    return token, expires


def load_pending(db: Session, *, services: Services, token: str | None) -> PendingSignIn | None:
    """The live pending sign-in of the browser's cookie, or None."""
    if not token or len(token) > 128:
        return None
    pending = db.get(PendingSignIn, _digest(token))
    if pending is None or pending.expires_at <= services.clock.now():
        return None
    return pending


def finish_pending(db: Session, pending: PendingSignIn) -> None:
    """The pending sign-in is used up (single-use)."""
    db.delete(pending)


# -- changes to a person's factors ---------------------------------------------------------------


def totp_in_progress(db: Session, user_id: int) -> SecondFactor | None:
    """The person's TOTP enrolment in progress (not yet confirmed), if any."""
    return db.scalar(
        select(SecondFactor).where(
            SecondFactor.user_id == user_id,
            SecondFactor.kind == FactorKind.TOTP.value,
            SecondFactor.confirmed_at.is_(None),
        )
    )


def begin_totp(db: Session, *, user: User, now: datetime) -> SecondFactor:
    """The TOTP enrolment in progress (its secret), started afresh if none is."""
    pending = totp_in_progress(db, user.id)
    if pending is None:
        pending = SecondFactor(
            user_id=user.id,
            kind=FactorKind.TOTP.value,
            label=N_("身份验证器"),
            secret=new_totp_secret(),
            created_at=now,
        )
        db.add(pending)
        db.flush()
    return pending


def _changed(
    db: Session,
    *,
    services: Services,
    user: User,
    actor: User,
    action: AuditAction,
    what: str,
    client: ClientInfo,
    keep_token: str | None,
    detail: dict[str, object] | None = None,
) -> None:
    """What every change to a person's factors does: their other sessions end (all of them when
    `keep_token` is None), the change is audited and the holder told."""
    now = services.clock.now()
    services.sessions.delete_for_user(db, user.id, keep_token=keep_token)
    audit.record(
        db,
        now=now,
        action=action,
        actor_id=actor.id,
        target_user_id=user.id,
        client=client,
        detail=detail,
    )
    messaging.notify(
        db,
        user_id=user.id,
        kind="second_factor_changed",
        now=now,
        actor_id=actor.id,
        title=N_("您的两步验证设置已变更"),
        body=N_(
            "您的账号于 %(when)s 由%(who)s%(what)s。如非本人知情，请立即联系管理员或客服热线。",
            when=now.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
            who=N_("您本人") if actor.id == user.id else actor.real_name,
            what=what,
        ),
    )


def confirm_totp(
    db: Session,
    *,
    services: Services,
    user: User,
    code: str,
    client: ClientInfo,
    session_token: str | None,
) -> list[str] | None:
    """Confirm the enrolment in progress with its first code: the new recovery codes when the
    person had none (shown once), [] when they keep theirs; None when the code is wrong."""
    now = services.clock.now()
    factor = totp_in_progress(db, user.id)
    if factor is None:
        return None
    step = match_totp(factor, code, now)
    if step is None:
        return None
    first = not has_factor(db, user.id)
    # Confirmed once: of two confirmations at once (a double click), the second finds none.
    confirmed = db.execute(
        update(SecondFactor)
        .where(SecondFactor.id == factor.id, SecondFactor.confirmed_at.is_(None))
        .values(confirmed_at=now, last_used_step=step, last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    db.refresh(factor)
    if not confirmed.rowcount:  # type: ignore[attr-defined]
        return None
    codes = new_recovery_codes(db, user_id=user.id, now=now) if first else []
    db.execute(delete(FactorGrace).where(FactorGrace.user_id == user.id))
    _changed(
        db,
        services=services,
        user=user,
        actor=user,
        action=AuditAction.FACTOR_ADDED,
        what=N_("添加了身份验证器（动态验证码）"),
        client=client,
        keep_token=session_token,
        detail={"kind": FactorKind.TOTP.value},
    )
    if session_token:
        services.sessions.mark_second_factor(db, session_token, now=now, amr=AMR_BY_FACTOR["totp"])
    return codes


def regenerate_recovery_codes(
    db: Session,
    *,
    services: Services,
    user: User,
    client: ClientInfo,
    session_token: str | None,
) -> list[str]:
    """Ten new recovery codes; the old ones stop working."""
    codes = new_recovery_codes(db, user_id=user.id, now=services.clock.now())
    _changed(
        db,
        services=services,
        user=user,
        actor=user,
        action=AuditAction.FACTOR_RECOVERY_CODES,
        what=N_("重新生成了恢复码"),
        client=client,
        keep_token=session_token,
    )
    return codes


def remove_factor(
    db: Session,
    *,
    services: Services,
    user: User,
    factor_id: int,
    client: ClientInfo,
    session_token: str | None,
) -> bool:
    """Remove one of the person's own factors (the caller has checked a fresh second factor);
    with the last one go the recovery codes. False if no such factor of theirs."""
    factor = db.get(SecondFactor, factor_id)
    if factor is None or factor.user_id != user.id or factor.confirmed_at is None:
        return False
    db.delete(factor)
    db.flush()
    if not has_factor(db, user.id):
        db.execute(delete(FactorRecoveryCode).where(FactorRecoveryCode.user_id == user.id))
    _changed(
        db,
        services=services,
        user=user,
        actor=user,
        action=AuditAction.FACTOR_REMOVED,
        what=N_("删除了一种两步验证方式"),
        client=client,
        keep_token=session_token,
        detail={"kind": factor.kind},
    )
    return True


def reset_factors(
    db: Session,
    *,
    services: Services,
    actor: Principal,
    target: User,
    client: ClientInfo,
) -> int:
    """A lost factor: the next authority up removes every factor and recovery code of the
    person (the rule: security.authz.check_factor_reset), audited, the holder told, every
    session of theirs ended. The person enrols again at their next sign-in. Returns how many
    factors went."""
    authz.check_factor_reset(actor, principal_for(db, target), action=AuditAction.FACTOR_RESET)
    result = db.execute(delete(SecondFactor).where(SecondFactor.user_id == target.id))
    removed = int(result.rowcount or 0)  # type: ignore[attr-defined]
    db.execute(delete(FactorRecoveryCode).where(FactorRecoveryCode.user_id == target.id))
    db.execute(delete(PendingSignIn).where(PendingSignIn.user_id == target.id))
    db.execute(delete(FactorGrace).where(FactorGrace.user_id == target.id))
    _changed(
        db,
        services=services,
        user=target,
        actor=actor.user,
        action=AuditAction.FACTOR_RESET,
        what=N_("重置了两步验证（下次登录时需重新设置）"),
        client=client,
        keep_token=None,
        detail={"factors": removed},
    )
    return removed

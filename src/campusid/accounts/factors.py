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
- **The policy** per group of roles is set on 平台管理 → 两步验证策略 (a `TwoStepRolePolicy`
  row per group; the environment settings until saved) and tightened by a school for its
  teachers (`TwoStepSchoolPolicy`). Who must, may or may not hold a factor, and whether a
  browser may be remembered or a code sent by SMS, is one rule:
  `security.authz.second_factor_policy`.
- **记住此设备**: after a second step, a random token in a cookie (HttpOnly, path /login),
  stored hashed with the password version; a sign-in from that browser skips the second step
  until it expires, the password changes, or the person's factors change. The session it
  opens says so in its amr ("pwd remembered": no factor proven in this sign-in, so OIDC
  reports amr ["pwd"] and an application asking for a second factor steps the person up;
  step-up asks as if the window had passed).
- **SMS fallback**: where the policy allows it, the second step sends a 6-digit code to the
  bound phone (security.onetime: keyed hash, 5 minutes, single use, rate limited), counted
  like a wrong TOTP code.

Passkeys (WebAuthn) are a kind of the same `SecondFactor` table (campusid.passkeys).
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
from sqlalchemy import Exists, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session, object_session

from campusid.accounts import throttle as sign_in_throttle
from campusid.accounts.models import (
    FactorGrace,
    FactorKind,
    FactorRecoveryCode,
    PendingSignIn,
    RememberedDevice,
    SchoolMembership,
    SchoolRole,
    SecondFactor,
    TwoStepRolePolicy,
    TwoStepSchoolPolicy,
    User,
)
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import ClientInfo, Outcome, Route
from campusid.clock import SHANGHAI
from campusid.config import Settings
from campusid.context import Services
from campusid.i18n import N_
from campusid.identifiers import mask_phone
from campusid.messaging import service as messaging
from campusid.security import authz, onetime
from campusid.security.onetime import CodeCheck
from campusid.security.permissions import Principal, principal_for
from campusid.security.throttle import address_key

ISSUER = "campusid"
STEP_SECONDS = 30
DIGITS = 6
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32
_RECOVERY_LENGTH = 16
PENDING_COOKIE = "campusid_pending"
REMEMBER_COOKIE = "campusid_remember"
SMS_PURPOSE = "two_step.sms"
SMS_TTL = timedelta(minutes=5)

WRONG_CODE = N_("验证码不正确或已使用，请重新输入。")
PENDING_EXPIRED = N_("验证已超时或尝试次数过多，请重新登录。")

# What a session's amr says of how the person proved who they are (OIDC amr values, RFC 8176;
# "recovery" is campusid's own for a recovery code).
AMR_PASSWORD = "pwd"
# A sign-in that skipped the second step on a remembered browser: no factor was proven in it
# (OIDC reports amr ["pwd"]; "remembered" is campusid's own word, dropped from the ID token).
AMR_REMEMBERED = "pwd remembered"
# A passkey (campusid.passkeys) proves "hwk" (a device-bound key) or "swk" (a synced passkey).
AMR_BY_FACTOR = {
    "totp": "pwd otp",
    "recovery": "pwd recovery",
    "hwk": "pwd hwk",
    "swk": "pwd swk",
    "sms": "pwd sms",
}
FACTOR_LABELS = {
    "totp": N_("动态验证码"),
    "recovery": N_("恢复码"),
    "hwk": N_("安全密钥"),
    "swk": N_("通行密钥"),
    "sms": N_("短信验证码"),
}


# -- the policy -------------------------------------------------------------------------------


def default_rule(settings: Settings, group: str) -> authz.RoleFactorRule:
    """A group's rule from the environment settings (the policy until it is saved)."""
    roles = {role.value for role in authz.POLICY_GROUPS[group]}
    if roles & set(settings.mfa_required_roles):
        need = authz.FactorNeed.REQUIRED
    elif roles & set(settings.mfa_optional_roles):
        need = authz.FactorNeed.OPTIONAL
    else:
        need = authz.FactorNeed.NOT_OFFERED
    barred = group in authz.NO_REMEMBER_NO_SMS
    return authz.RoleFactorRule(
        authz.FIXED_NEED.get(group, need),
        grace_days=settings.mfa_grace_days,
        remember_days=0 if barred else settings.mfa_remember_device_days,
        sms=not barred and bool(roles & set(settings.mfa_sms_roles)),
    )


def policy_rules(db: Session, settings: Settings) -> dict[str, authz.RoleFactorRule]:
    """Every group's rule: 平台管理 → 两步验证策略 as saved, else the settings'."""
    rules = {group: default_rule(settings, group) for group in authz.POLICY_GROUPS}
    for row in db.scalars(select(TwoStepRolePolicy)):
        base = rules.get(row.role_group)
        if base is None:
            continue
        need = base.need
        if row.role_group in authz.CHOSEN_NEED and row.need in _CHOOSABLE:
            need = authz.FactorNeed(row.need)
        rules[row.role_group] = authz.RoleFactorRule(
            need, grace_days=row.grace_days, remember_days=row.remember_days, sms=row.allow_sms
        )
    return rules


_CHOOSABLE = {authz.FactorNeed.REQUIRED.value, authz.FactorNeed.OPTIONAL.value}


def _requiring_school(user_id: int) -> Exists:
    """EXISTS a school the person currently teaches at that requires its teachers' factor."""
    return exists().where(
        TwoStepSchoolPolicy.school_id == SchoolMembership.school_id,
        TwoStepSchoolPolicy.teachers_required.is_(True),
        SchoolMembership.current(user_id=user_id, role=SchoolRole.TEACHER),
    )


def school_requires_teachers(db: Session, user_id: int) -> bool:
    """Whether a school the person currently teaches at requires its teachers' second factor."""
    return bool(db.scalar(select(_requiring_school(user_id))))


def policy_of(db: Session, services: Services, principal: Principal) -> authz.FactorPolicy:
    """What the one rule (security.authz.second_factor_policy) says of this person."""
    return authz.second_factor_policy(
        principal.roles,
        rules=policy_rules(db, services.settings),
        school_requires_teachers=school_requires_teachers(db, principal.user.id),
    )


def need_of(services: Services, principal: Principal) -> authz.FactorNeed:
    """Whether the person must, may or may not hold a second factor (`policy_of`, read in the
    session the person was loaded in: the request's)."""
    db = object_session(principal.user)
    assert db is not None, "the person was loaded outside a session"
    return policy_of(db, services, principal).need


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


def sign_in_facts(db: Session, user_id: int) -> tuple[bool, bool]:
    """Whether the person administers a school now, and whether a school they teach at
    requires its teachers' factor: what `_may_be_required` reads, in one statement."""
    admin, requiring = db.execute(
        select(SchoolMembership.held(user_id, SchoolRole.SCHOOL_ADMIN), _requiring_school(user_id))
    ).one()
    return bool(admin), bool(requiring)


def _may_be_required(
    user: User,
    rules: dict[str, authz.RoleFactorRule],
    *,
    school_admin: bool,
    school_requires: bool,
) -> bool:
    """False only when the rule (`authz.second_factor_policy`) cannot require this person a
    factor, found without loading their roles: no group they could hold is required. Any
    doubt is True (the caller then asks the rule with every role loaded).

    Required groups: platform administrators and agents (flags on the account), school
    administrators (`school_admin`: a current 学校管理员 membership, the only source of that
    role), teachers and parents where the policy or a school requires them (then: True,
    whoever it is).
    """
    required = {
        group
        for group in authz.POLICY_GROUPS
        if (authz.FIXED_NEED.get(group) or rules[group].need) is authz.FactorNeed.REQUIRED
    }
    if required & {"teacher", "parent"} or school_requires:
        return True
    return user.is_platform_admin or user.is_agent or school_admin


def enrolment_due(db: Session, *, services: Services, user: User) -> str | None:
    """For a session opened with a password alone: "required" (no page but the enrolment),
    "grace" (pages open, a banner asks) or None (nothing asked).

    The grace period (the policy's; `CAMPUSID_MFA_GRACE_DAYS` until it is saved) runs from the
    first sign-in at which the person's role required a factor they did not have.
    """
    rules = policy_rules(db, services.settings)
    school_admin, school_requires = sign_in_facts(db, user.id)
    if not _may_be_required(
        user, rules, school_admin=school_admin, school_requires=school_requires
    ):
        return None  # a pupil's or a parent's sign-in: no need to load every role
    policy = authz.second_factor_policy(
        principal_for(db, user).roles, rules=rules, school_requires_teachers=school_requires
    )
    if policy.need is not authz.FactorNeed.REQUIRED:
        return None
    days = policy.grace_days
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


def check_code(
    db: Session,
    *,
    user_id: int,
    code: str,
    now: datetime,
    sms_key: str | None = None,
    password_version: int | None = None,
) -> str | None:
    """Which factor the code proves ("totp", "sms" or "recovery"), used up; None if it proves
    none. A code sent by SMS is checked only with `sms_key` (the policy allows the fallback)."""
    code = code.strip()[:64]
    if not code:
        return None
    for factor in factors_of(db, user_id):
        if factor.kind == FactorKind.TOTP.value:
            step = match_totp(factor, code, now)
            if step is not None and _claim_step(db, factor, step, now):
                return "totp"
    digits = _normalise_code(code)
    if sms_key and len(digits) == DIGITS and digits.isdigit():
        checked = onetime.check(
            db,
            secret_key=sms_key,
            now=now,
            purpose=SMS_PURPOSE,
            target=_sms_target(user_id),
            code=digits,
            password_version=password_version,
        )
        if checked is CodeCheck.OK:
            return "sms"
    if len(digits) > DIGITS and _use_recovery_code(db, user_id, code, now):
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
    if prove is None:
        sms = policy_of(db, services, principal_for(db, user)).sms
        factor = check_code(
            db,
            user_id=user.id,
            code=code,
            now=now,
            sms_key=services.settings.secret_key if sms else None,
            password_version=user.password_version,
        )
    else:
        factor = prove()
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


# -- the SMS fallback ---------------------------------------------------------------------------

SMS_SENT = N_("验证码已发送至 %(phone)s，5 分钟内有效。")
SMS_TOO_MANY = N_("短信验证码发送次数过多，请稍后再试或改用其他验证方式。")
SMS_WAIT = N_("验证码发送过于频繁，请 %(seconds)s 秒后再获取。")


def _sms_target(user_id: int) -> str:
    return f"user:{user_id}"


def sms_phone(db: Session, services: Services, user: User) -> str | None:
    """The masked phone the second step may send a code to: None unless the policy allows the
    SMS fallback for the person (never a platform administrator) and a phone is bound."""
    if not user.phone or not policy_of(db, services, principal_for(db, user)).sms:
        return None
    return mask_phone(user.phone)


@dataclass
class SmsResult:
    """What 发送短信验证码 says: sent (to the masked phone), or why not."""

    message: str | None = None
    error: str | None = None


def send_sms_code(db: Session, *, services: Services, user: User, client: ClientInfo) -> SmsResult:
    """A fresh 6-digit code to the person's bound phone, through the outbox (the previous one
    stops working): 5 minutes, single use, stored keyed-hashed; a minute between two, a few
    an hour (`CAMPUSID_MFA_SMS_HOURLY_LIMIT`). Audited; the phone is never logged."""
    masked = sms_phone(db, services, user)
    if masked is None or not user.phone:
        return SmsResult(error=SMS_TOO_MANY)
    now = services.clock.now()
    hourly = services.limits.named("two_step.sms", services.settings.mfa_sms_hourly_limit, 3600)
    if hourly.count(str(user.id)) >= services.settings.mfa_sms_hourly_limit:
        return SmsResult(error=SMS_TOO_MANY)
    issued = onetime.issue(
        db,
        secret_key=services.settings.secret_key,
        now=now,
        purpose=SMS_PURPOSE,
        target=_sms_target(user.id),
        user_id=user.id,
        password_version=user.password_version,
        ttl=SMS_TTL,
    )
    if issued.code is None:
        return SmsResult(error=N_(SMS_WAIT, seconds=issued.wait_seconds))
    hourly.hit(str(user.id))
    services.sms.send(db, user.phone, "two_step_code", {"code": issued.code})
    audit.record(
        db,
        now=now,
        action=AuditAction.TWO_STEP_SMS_SENT,
        route=Route.SIGN_IN,
        actor_id=user.id,
        target_user_id=user.id,
        client=client,
    )
    return SmsResult(message=N_(SMS_SENT, phone=masked))


# -- 记住此设备 -----------------------------------------------------------------------------------


def remember_device(
    db: Session, *, services: Services, user: User, factor: str, client: ClientInfo
) -> tuple[str, int] | None:
    """Remember this browser after a second step, when the policy allows it for the person:
    the cookie's token and its days; None when it does not."""
    days = policy_of(db, services, principal_for(db, user)).remember_days
    if days <= 0:
        return None
    now = services.clock.now()
    db.execute(delete(RememberedDevice).where(RememberedDevice.expires_at <= now))
    token = secrets.token_urlsafe(32)
    db.add(
        RememberedDevice(
            token_hash=_digest(token),
            user_id=user.id,
            password_version=user.password_version,
            factor=factor,
            user_agent=(client.user_agent or "")[:255] or None,
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
    )
    return token, days


def remembered(
    db: Session, *, services: Services, user: User, token: str | None
) -> RememberedDevice | None:
    """The person's remembered browser of the cookie, if it still skips the second step: not
    expired, the same password, and the policy (as it is now) still allowing it for that long."""
    if not token or len(token) > 128:
        return None
    row = db.scalar(
        select(RememberedDevice).where(
            RememberedDevice.token_hash == _digest(token), RememberedDevice.user_id == user.id
        )
    )
    if row is None or row.password_version != user.password_version:
        return None
    now = services.clock.now()
    days = policy_of(db, services, principal_for(db, user)).remember_days
    if days <= 0 or now >= row.expires_at or now >= row.created_at + timedelta(days=days):
        return None
    row.last_used_at = now
    return row


def remembered_devices(db: Session, *, user: User, now: datetime) -> list[RememberedDevice]:
    """The person's remembered browsers still in force (账号安全 → 已记住的设备), newest first."""
    return list(
        db.scalars(
            select(RememberedDevice)
            .where(
                RememberedDevice.user_id == user.id,
                RememberedDevice.expires_at > now,
                RememberedDevice.password_version == user.password_version,
            )
            .order_by(RememberedDevice.created_at.desc(), RememberedDevice.id.desc())
        )
    )


def forget_devices(db: Session, user_id: int) -> int:
    """Every remembered browser of the person stops skipping the second step."""
    result = db.execute(delete(RememberedDevice).where(RememberedDevice.user_id == user_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


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
    `keep_token` is None) and their remembered browsers are forgotten, the change is audited
    and the holder told."""
    now = services.clock.now()
    services.sessions.delete_for_user(db, user.id, keep_token=keep_token)
    forget_devices(db, user.id)
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
    return enrolled(
        db,
        services=services,
        user=user,
        first=first,
        factor="totp",
        what=N_("添加了身份验证器（动态验证码）"),
        client=client,
        session_token=session_token,
        detail={"kind": FactorKind.TOTP.value},
    )


def enrolled(
    db: Session,
    *,
    services: Services,
    user: User,
    first: bool,
    factor: str,
    what: str,
    client: ClientInfo,
    session_token: str | None,
    detail: dict[str, object],
) -> list[str]:
    """What adding a factor does, whatever its kind (an authenticator app, a passkey): the
    first one brings ten recovery codes (returned, shown once; else []), the grace period
    ends, the change is audited and the holder told, their other sessions end, and this
    session counts as checked with the new factor (`factor`: "totp", "hwk" or "swk")."""
    now = services.clock.now()
    codes = new_recovery_codes(db, user_id=user.id, now=now) if first else []
    db.execute(delete(FactorGrace).where(FactorGrace.user_id == user.id))
    _changed(
        db,
        services=services,
        user=user,
        actor=user,
        action=AuditAction.FACTOR_ADDED,
        what=what,
        client=client,
        keep_token=session_token,
        detail=detail,
    )
    if session_token:
        services.sessions.mark_second_factor(db, session_token, now=now, amr=AMR_BY_FACTOR[factor])
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

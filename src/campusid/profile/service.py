"""账号安全: binding a phone or email (a code to the new target and the current password), and
the person's own recent sign-ins and credential changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid.accounts import service as accounts
from campusid.accounts import throttle as sign_in_throttle
from campusid.accounts.models import User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import ClientInfo, Outcome, Route
from campusid.audit.signins import SignInEntry, recent_sign_ins
from campusid.context import Services
from campusid.i18n import N_
from campusid.identifiers import (
    InvalidIdentifier,
    mask_email,
    mask_phone,
    normalize_email,
    normalize_phone,
)
from campusid.messaging import service as messaging
from campusid.recovery.service import Delivery, SendResult
from campusid.security import captcha, onetime
from campusid.security.onetime import CodeCheck

SENDS_PER_HOUR = 10


class Channel(StrEnum):
    """What is being bound."""

    PHONE = "phone"
    EMAIL = "email"

    @property
    def label(self) -> str:
        """The Chinese label."""
        return {"phone": N_("手机号"), "email": N_("邮箱")}[self.value]


def _normalise(channel: Channel, value: str) -> str:
    return normalize_phone(value) if channel is Channel.PHONE else normalize_email(value)


def _mask(channel: Channel, value: str | None) -> str:
    return mask_phone(value) if channel is Channel.PHONE else mask_email(value)


def _current(user: User, channel: Channel) -> str | None:
    return user.phone if channel is Channel.PHONE else user.email


def _code_target(user: User, value: str) -> str:
    return f"{user.id}:{value.lower()}"


def captcha_form(channel: Channel) -> str:
    """The name of the channel's image captcha (`/captcha/bind_phone`, `/captcha/bind_email`)."""
    return f"bind_{channel.value}"


def send_bind_code(
    db: Session,
    *,
    services: Services,
    user: User,
    channel: Channel,
    value: str,
    captcha_token: str | None,
    captcha_answer: str,
    client: ClientInfo,
) -> SendResult:
    """A code to the NEW phone or email (bound to the account and its password version).

    Only once the channel's image captcha is solved (used up by a wrong answer and by a sent
    code; a refusal for a limit gives a rightly solved image back). What is wrong with the value
    typed is said before the captcha is looked at.
    """
    try:
        target = _normalise(channel, value)
    except InvalidIdentifier as exc:
        return SendResult(error=exc.message, captcha_kept=True)
    current = _current(user, channel)
    if current is not None and current.lower() == target.lower():
        return SendResult(
            error=N_("该%(channel)s已是您当前绑定的%(channel)s", channel=channel.label),
            captcha_kept=True,
        )
    if not captcha_answer.strip():
        return SendResult(error=captcha.MSG_CAPTCHA_MISSING, captcha_kept=True)
    solved = captcha.verify(
        db,
        services=services,
        form=captcha_form(channel),
        token=captcha_token,
        answer=captcha_answer,
        address=client.address,
    )
    if solved is None:
        return SendResult(error=captcha.MSG_CAPTCHA)
    limiter = services.limits.named("profile.bind", SENDS_PER_HOUR, 3600)
    if not limiter.hit(str(user.id)):
        captcha.give_back(db, solved)
        return SendResult(error=N_("操作过于频繁，请稍后再试"), captcha_kept=True)
    issued = onetime.issue(
        db,
        secret_key=services.settings.secret_key,
        now=services.clock.now(),
        purpose=f"bind.{channel.value}",
        target=_code_target(user, target),
        user_id=user.id,
        password_version=user.password_version,
    )
    if issued.code is None:
        captcha.give_back(db, solved)
        return SendResult(
            error=N_("验证码发送过于频繁，请%(seconds)s秒后再获取", seconds=issued.wait_seconds),
            wait_seconds=issued.wait_seconds,
            captcha_kept=True,
        )
    return SendResult(
        message=N_("验证码已发送至 %(target)s，10分钟内有效", target=_mask(channel, target)),
        wait_seconds=int(onetime.RESEND_AFTER.total_seconds()),
        delivery=Delivery(
            "sms" if channel is Channel.PHONE else "mail",
            target,
            "bind_code",
            {"code": issued.code},
        ),
    )


def _taken(db: Session, *, user: User, channel: Channel, value: str) -> bool:
    # Both are stored encrypted in their normalised form: an exact comparison finds them.
    column = User.phone if channel is Channel.PHONE else User.email
    other = db.scalar(select(User.id).where(column == value, User.id != user.id).limit(1))
    return other is not None


def confirm_binding(
    db: Session,
    *,
    services: Services,
    user: User,
    channel: Channel,
    value: str,
    code: str,
    current_password: str,
    client: ClientInfo,
    session_token: str | None,
) -> list[str]:
    """Bind the new phone or email: the code sent to it and the current password, both right.

    Other sessions end (a recovery channel is a credential); audited; the holder is told.
    """
    try:
        target = _normalise(channel, value)
    except InvalidIdentifier as exc:
        return [exc.message]
    # Limited per session and counted with the sign-in's failures, like 修改密码's.
    wrong = sign_in_throttle.check_current_password(
        db,
        services=services,
        user=user,
        password=current_password,
        stored_hash=accounts.password_hash_of(db, user),
        client=client,
        session_token=session_token,
        action=AuditAction.PHONE_CHANGED if channel is Channel.PHONE else AuditAction.EMAIL_CHANGED,
    )
    if wrong is not None:
        return [wrong]
    code = code.strip()
    if len(code) != 6 or not code.isdigit():
        return [N_("请输入6位数字验证码")]
    now = services.clock.now()
    result = onetime.check(
        db,
        secret_key=services.settings.secret_key,
        now=now,
        purpose=f"bind.{channel.value}",
        target=_code_target(user, target),
        code=code,
        password_version=user.password_version,
    )
    if result is CodeCheck.WRONG:
        return [N_("验证码不正确，请重新输入")]
    if result is not CodeCheck.OK:
        return [N_("验证码已失效，请重新获取")]
    # Only now, with the new target proven to be theirs, may they learn it is taken.
    if _taken(db, user=user, channel=channel, value=target):
        return [N_("该%(channel)s已绑定其他账号", channel=channel.label)]
    old = _current(user, channel)
    if channel is Channel.PHONE:
        user.phone = target
        user.phone_verified_at = now  # proved by the code just checked (issue 21)
    else:
        user.email = target
        user.email_verified_at = now
    services.sessions.delete_for_user(db, user.id, keep_token=session_token)
    audit.record(
        db,
        now=now,
        action=AuditAction.PHONE_CHANGED if channel is Channel.PHONE else AuditAction.EMAIL_CHANGED,
        actor_id=user.id,
        target_user_id=user.id,
        route=Route.OWN,
        client=client,
        detail={"old": _mask(channel, old) or None, "new": _mask(channel, target)},
    )
    messaging.notify(
        db,
        user_id=user.id,
        kind=f"{channel.value}_changed",
        now=now,
        title=N_("%(channel)s已更换", channel=channel.label),
        body=N_(
            "您的账号已绑定新%(channel)s %(value)s，其他设备上的登录已退出。"
            "如非本人操作，请立即修改密码并联系客服热线。",
            channel=channel.label,
            value=_mask(channel, target),
        ),
    )
    return []


@dataclass(frozen=True)
class HistoryEntry:
    """One line of the sign-in or change history."""

    at: datetime
    what: str
    ok: bool
    address: str | None
    user_agent: str | None


_CHANGES = {
    "password_changed": N_("修改密码"),
    "password_reset": N_("重置密码"),
    "phone_changed": N_("更换手机号"),
    "email_changed": N_("更换邮箱"),
}


def security_history(
    db: Session, *, user: User, limit: int = 20
) -> tuple[list[SignInEntry], list[HistoryEntry]]:
    """The person's recent sign-ins, and changes to their credentials, newest first."""
    changes: list[HistoryEntry] = []
    for event in audit.events_for(db, target_user_id=user.id, limit=200):
        if event.action in _CHANGES and len(changes) < limit:
            ok = event.outcome == Outcome.SUCCESS.value
            what = _CHANGES[event.action]
            if event.route and event.action == "password_reset":
                what += f"({accounts.ROUTE_LABELS.get(Route(event.route), event.route)})"
            changes.append(
                HistoryEntry(event.occurred_at, what, ok, event.client_address, event.user_agent)
            )
    return recent_sign_ins(db, user_id=user.id, limit=limit), changes

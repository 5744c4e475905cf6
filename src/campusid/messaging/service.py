"""Notices in the platform inbox."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campusid.messaging.models import Notice
from campusid.security.onetime import target_digest
from campusid.security.ratelimit import RateLimiter
from campusid.senders import OutboxMessage

if TYPE_CHECKING:
    from campusid.context import Services


# What each kind of notice is about, shown as a tag in the inbox (消息).
NOTICE_KINDS: dict[str, str] = {
    "password_changed": "密码变更",
    "child_password_reset": "孩子密码",
    "child_password_recovered": "孩子密码",
    "child_linked": "孩子关联",
    "child_unlinked": "孩子关联",
    "join_request": "入班申请",
    "join_request_decided": "入班审核",
    "class_message": "老师消息",
    "class_removed": "班级变动",
    "class_moved": "班级变动",
    "school_left": "学校变动",
    "recovery_request": "找回密码",
    "recovery_request_decided": "找回密码",
    "phone_changed": "账号绑定",
    "email_changed": "账号绑定",
    "agent_role": "客服身份",
}


def kind_label(kind: str) -> str:
    """The tag of a notice kind (通知 for a kind not listed)."""
    return NOTICE_KINDS.get(kind, "通知")


def notify(
    db: Session,
    *,
    user_id: int,
    kind: str,
    title: str,
    body: str,
    now: datetime,
    actor_id: int | None = None,
) -> Notice:
    """Put a notice in a person's inbox. Never put a password or code in it."""
    notice = Notice(
        user_id=user_id,
        kind=kind,
        title=title,
        body=body,
        actor_id=actor_id,
        created_at=now,
    )
    db.add(notice)
    return notice


def inbox(db: Session, *, user_id: int, limit: int = 100) -> list[Notice]:
    """A person's notices, newest first."""
    return list(
        db.scalars(
            select(Notice)
            .where(Notice.user_id == user_id)
            .order_by(Notice.created_at.desc(), Notice.id.desc())
            .limit(limit)
        )
    )


def unread_count(db: Session, *, user_id: int) -> int:
    """How many notices are unread."""
    return (
        db.scalar(
            select(func.count())
            .select_from(Notice)
            .where(Notice.user_id == user_id, Notice.read_at.is_(None))
        )
        or 0
    )


def mark_all_read(db: Session, *, user_id: int, now: datetime) -> None:
    """Mark every notice read."""
    for notice in db.scalars(
        select(Notice).where(Notice.user_id == user_id, Notice.read_at.is_(None))
    ):
        notice.read_at = now


def _sms_limiters(services: Services) -> tuple[RateLimiter, RateLimiter]:
    settings = services.settings
    return (
        services.limits.named(
            "sms.phone", settings.sms_phone_limit, settings.sms_phone_window_seconds
        ),
        services.limits.named(
            "sms.address", settings.sms_address_limit, settings.sms_address_window_seconds
        ),
    )


def _phone_key(services: Services, phone: str) -> str:
    # A keyed digest, so the limiter storage (Redis) never holds phone numbers.
    return target_digest(services.settings.secret_key, "sms.limit", phone)


def sms_allowed(services: Services, *, phone: str, address: str | None) -> bool:
    """Whether another SMS may go to this phone, asked from this client address."""
    by_phone, by_address = _sms_limiters(services)
    return not (
        by_phone.exceeded(_phone_key(services, phone)) or by_address.exceeded(address or "unknown")
    )


def send_sms(
    db: Session,
    *,
    services: Services,
    phone: str,
    template: str,
    params: Mapping[str, str],
    address: str | None,
) -> bool:
    """Send an SMS through the configured sender, counted per phone and per client address.

    Returns False (and sends nothing) once either has had its fill for the window: SMS cost
    money and annoy their recipients, so an address cannot spray codes at many phones.
    """
    if not sms_allowed(services, phone=phone, address=address):
        return False
    by_phone, by_address = _sms_limiters(services)
    by_phone.hit(_phone_key(services, phone))
    by_address.hit(address or "unknown")
    services.sms.send(db, phone, template, params)
    return True


def outbox(db: Session, *, limit: int = 100) -> list[OutboxMessage]:
    """The development outbox, newest first."""
    return list(
        db.scalars(
            select(OutboxMessage)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def sent_by(
    db: Session, *, actor_id: int, kind: str, user_ids: list[int], limit: int = 50
) -> list[Notice]:
    """Notices of one kind that a person sent to any of these people, newest first."""
    if not user_ids:
        return []
    return list(
        db.scalars(
            select(Notice)
            .where(Notice.actor_id == actor_id, Notice.kind == kind, Notice.user_id.in_(user_ids))
            .order_by(Notice.created_at.desc(), Notice.id.desc())
            .limit(limit)
        )
    )

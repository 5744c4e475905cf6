"""Notices in the platform inbox."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campusid.i18n import N_, Text, translate, translations
from campusid.messaging.models import Notice
from campusid.security.onetime import target_digest
from campusid.security.ratelimit import RateLimiter
from campusid.senders import OutboxMessage, forget_delivered_secrets

if TYPE_CHECKING:
    from campusid.context import Services


# What each kind of notice is about, shown as a tag in the inbox (消息).
NOTICE_KINDS: dict[str, str] = {
    "password_changed": N_("密码变更"),
    "child_password_reset": N_("孩子密码"),
    "child_password_recovered": N_("孩子密码"),
    "child_linked": N_("孩子关联"),
    "child_unlinked": N_("孩子关联"),
    "join_request": N_("入班申请"),
    "join_request_decided": N_("入班审核"),
    "class_message": N_("老师消息"),
    "class_removed": N_("班级变动"),
    "class_moved": N_("班级变动"),
    "school_left": N_("学校变动"),
    "recovery_request": N_("找回密码"),
    "recovery_request_decided": N_("找回密码"),
    "phone_changed": N_("账号绑定"),
    "email_changed": N_("账号绑定"),
    "agent_role": N_("客服身份"),
}


def kind_label(kind: str) -> str:
    """The tag of a notice kind (通知 for a kind not listed)."""
    return NOTICE_KINDS.get(kind, N_("通知"))


def _entry(text: str) -> list[object]:
    """A marked text as stored: its pattern and its values (names, times, labels)."""
    if isinstance(text, Text):
        values = {
            key: value if isinstance(value, int | float) else str(value)
            for key, value in text.params.items()
        }
        return [text.pattern, values]
    return [text, {}]


def notify(
    db: Session,
    *,
    user_id: int,
    kind: str,
    title: str,
    body: str,
    now: datetime,
    actor_id: int | None = None,
    body_as_written: bool = False,
) -> Notice:
    """Put a notice in a person's inbox. Never put a password or code in it.

    The title and body are marked texts (``N_("…%(name)s…", name=…)``), kept with their values
    so that the inbox shows them in the reader's language; `body_as_written` is for a body
    someone typed (a teacher's message), shown as it is.
    """
    notice = Notice(
        user_id=user_id,
        kind=kind,
        title=str(title),
        body=str(body),
        message={"title": _entry(title), "body": None if body_as_written else _entry(body)},
        actor_id=actor_id,
        created_at=now,
    )
    db.add(notice)
    return notice


def shown(notice: Notice, language: str) -> tuple[str, str]:
    """A notice's title and body in the reader's language (older notices: as stored)."""
    catalog = translations(language)
    entries = notice.message or {}

    def one(stored: str, entry: list[Any] | None) -> str:
        if not entry:
            return stored
        pattern, values = entry
        return translate(catalog, Text(pattern, **values) if values else pattern)

    title_entry = entries.get("title") or [notice.title, {}]  # an older title may be known
    return one(notice.title, title_entry), one(notice.body, entries.get("body"))


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


def outbox(db: Session, *, now: datetime, limit: int = 100) -> list[OutboxMessage]:
    """The development outbox, newest first (a code past its time shows masked)."""
    forget_delivered_secrets(db, now)
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

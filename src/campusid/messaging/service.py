"""Notices in the platform inbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campusid.messaging.models import Notice


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

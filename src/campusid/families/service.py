"""Parent-child links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid.accounts.models import User
from campusid.families.models import ParentLink, Relation


def link(
    db: Session, *, parent: User, child: User, relation: Relation, now: datetime
) -> ParentLink:
    """Link a parent to a child."""
    row = ParentLink(parent_id=parent.id, child_id=child.id, relation=relation, created_at=now)
    db.add(row)
    db.flush()
    return row


def parent_ids_of_children(db: Session, *, child_ids: Any) -> list[int]:
    """The distinct parents linked to any of these children (a list or a subquery of ids)."""
    return list(
        db.scalars(
            select(ParentLink.parent_id).where(ParentLink.child_id.in_(child_ids)).distinct()
        )
    )


def parents_of(db: Session, *, child: User) -> list[User]:
    """The parents linked to a child."""
    return list(
        db.scalars(
            select(User)
            .join(ParentLink, ParentLink.parent_id == User.id)
            .where(ParentLink.child_id == child.id)
            .order_by(ParentLink.id)
        )
    )

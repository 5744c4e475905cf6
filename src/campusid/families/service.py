"""Parent-child links."""

from __future__ import annotations

from datetime import datetime

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

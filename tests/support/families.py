"""Route 2 test helpers: linking a child over HTTP, reading notices and audit events."""

from __future__ import annotations

import re

from sqlalchemy import select

from campusid.audit.models import AuditEvent
from campusid.messaging.models import Notice
from tests.support.http import post_form

ERROR_BOX = re.compile(r'<div class="alert alert-error" role="alert">.*?</div>', re.S)


def error_box(html: str) -> str:
    """The page's error box (the whole of what the person is told went wrong)."""
    found = ERROR_BOX.search(html)
    return found.group(0) if found else ""


def link(client, real_name: str, id_card_number: str, relation: str = "mother"):
    """Submit 关联孩子."""
    return post_form(
        client,
        "/me/children/link",
        {"real_name": real_name, "id_card_number": id_card_number, "relation": relation},
    )


def notices(db, user) -> list[Notice]:
    """The person's notices, newest first."""
    db.expire_all()
    return list(
        db.scalars(select(Notice).where(Notice.user_id == user.id).order_by(Notice.id.desc()))
    )


def events(db, action: str) -> list[AuditEvent]:
    """Audit events of one action, oldest first."""
    db.expire_all()
    return list(
        db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
    )

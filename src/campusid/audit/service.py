"""Write audit events, in the same transaction as the change they record."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Required, TypedDict, Unpack

from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid import metrics
from campusid.audit.actions import AuditAction
from campusid.audit.models import AuditEvent
from campusid.types import ClientInfo as ClientInfo  # defined in the base: web builds it


class Route(StrEnum):
    """How a credential changed hands."""

    SIGN_IN = "sign-in"
    OWN = "own"
    TEACHER = "teacher"
    PARENT = "parent"
    SELF_SERVICE = "self-service"
    AGENT = "agent"
    ADMIN = "admin"


class Outcome(StrEnum):
    """What came of the act."""

    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


@dataclass(frozen=True)
class Actor:
    """Who acts, from where: for the audit trail."""

    user_id: int | None
    client: ClientInfo = field(default_factory=ClientInfo)


class Fields(TypedDict, total=False):
    """What an audit event says, named once for `event` and `record`."""

    now: Required[datetime]
    action: Required[AuditAction]
    outcome: Outcome  # SUCCESS unless given
    actor_id: int | None
    actor_role: str | None
    target_user_id: int | None
    school_id: int | None
    route: Route | None
    client: ClientInfo | None
    detail: dict[str, Any] | None


def event(**fields: Unpack[Fields]) -> AuditEvent:
    """One audit event, not yet in a session: `record` adds it to the change's transaction; a
    refusal carries it (`web.Refused.keep`) to be written after the request is rolled back."""
    client = fields.get("client") or ClientInfo()
    route = fields.get("route")
    return AuditEvent(
        occurred_at=fields["now"],
        actor_id=fields.get("actor_id"),
        actor_role=fields.get("actor_role"),
        target_user_id=fields.get("target_user_id"),
        school_id=fields.get("school_id"),
        action=fields["action"].value,
        outcome=fields.get("outcome", Outcome.SUCCESS).value,
        route=route.value if route else None,
        client_address=client.address,
        user_agent=(client.user_agent or "")[:256] or None,
        detail=fields.get("detail") or {},
    )


def record(db: Session, /, **fields: Unpack[Fields]) -> AuditEvent:
    """Add one audit event to the session (flushed with the change it records)."""
    added = event(**fields)
    db.add(added)
    # issue 20: sign-ins, throttle steps and resets for /metrics, counted when this commits.
    metrics.audit_event(
        db,
        action=added.action,
        outcome=added.outcome,
        route=added.route,
        detail=added.detail,
    )
    return added


def events_for(db: Session, *, target_user_id: int, limit: int = 50) -> list[AuditEvent]:
    """A person's recent events (sign-ins, credential changes), newest first."""
    return list(
        db.scalars(
            select(AuditEvent)
            .where(AuditEvent.target_user_id == target_user_id)
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
            .limit(limit)
        )
    )

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


def event(
    *,
    now: datetime,
    action: AuditAction,
    outcome: Outcome = Outcome.SUCCESS,
    actor_id: int | None = None,
    actor_role: str | None = None,
    target_user_id: int | None = None,
    school_id: int | None = None,
    route: Route | None = None,
    client: ClientInfo | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """One audit event, not yet in a session: `record` adds it to the change's transaction; a
    refusal carries it (`web.Refused.keep`) to be written after the request is rolled back."""
    client = client or ClientInfo()
    return AuditEvent(
        occurred_at=now,
        actor_id=actor_id,
        actor_role=actor_role,
        action=action.value,
        target_user_id=target_user_id,
        school_id=school_id,
        route=route.value if route else None,
        outcome=outcome.value,
        client_address=client.address,
        user_agent=(client.user_agent or "")[:256] or None,
        detail=detail or {},
    )


class Fields(TypedDict, total=False):
    """`event`'s arguments, for `record` to pass on (an unknown one still fails in `event`)."""

    now: Required[datetime]
    action: Required[AuditAction]
    outcome: Outcome
    actor_id: int | None
    actor_role: str | None
    target_user_id: int | None
    school_id: int | None
    route: Route | None
    client: ClientInfo | None
    detail: dict[str, Any] | None


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

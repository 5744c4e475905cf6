"""Audit events: who did what to whose credentials, when, from where, by which route."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from campusid.db import Base, UTCDateTime
from campusid.types import json_default


class AuditEvent(Base):
    """One audited act. Never holds a secret, a code or a whole ID card number."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))
    route: Mapped[str | None] = mapped_column(
        String(32),
        comment="teacher, parent, self-service, agent, admin, sign-in",
    )
    outcome: Mapped[str] = mapped_column(String(16), comment="success, failure, denied")
    client_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(256))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=json_default)

    # 审计日志 reads newest first, (occurred_at, id) descending, through one of these (see
    # audit/trail.py): every event (a platform administrator), a school's events (school_id
    # equal), and the events recorded without a school (a school administrator's members).
    __table_args__ = (
        Index("ix_audit_events_time_id", "occurred_at", "id"),
        Index("ix_audit_events_school_time_id", "school_id", "occurred_at", "id"),
        Index(
            "ix_audit_events_schoolless_time_id",
            "occurred_at",
            "id",
            postgresql_where=text("school_id IS NULL"),
            sqlite_where=text("school_id IS NULL"),
        ),
    )

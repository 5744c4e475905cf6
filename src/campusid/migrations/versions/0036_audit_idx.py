"""审计日志 newest first through an index (issue 25): (occurred_at, id) for every event,
(school_id, occurred_at, id) for a school's, and (occurred_at, id) of the events recorded
without a school; the single-column occurred_at and school_id indexes they cover are dropped.

Revision ID: 0036_audit_idx
Revises: 0035_roster_idx
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0036_audit_idx"
down_revision: str | Sequence[str] | None = "0035_roster_idx"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHOOLLESS = sa.text("school_id IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_time_id", ["occurred_at", "id"], unique=False)
        batch_op.create_index(
            "ix_audit_events_school_time_id", ["school_id", "occurred_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_audit_events_schoolless_time_id",
            ["occurred_at", "id"],
            unique=False,
            postgresql_where=SCHOOLLESS,
            sqlite_where=SCHOOLLESS,
        )
        batch_op.drop_index("ix_audit_events_school_time")
        batch_op.drop_index(batch_op.f("ix_audit_events_school_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_occurred_at"))


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_events_occurred_at"), ["occurred_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_events_school_id"), ["school_id"], unique=False)
        batch_op.create_index(
            "ix_audit_events_school_time", ["school_id", "occurred_at"], unique=False
        )
        batch_op.drop_index("ix_audit_events_schoolless_time_id")
        batch_op.drop_index("ix_audit_events_school_time_id")
        batch_op.drop_index("ix_audit_events_time_id")

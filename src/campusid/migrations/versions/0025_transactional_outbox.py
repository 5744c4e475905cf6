"""issue 20: the transactional outbox (delivery state of outbox_messages)

Revision ID: 0025
Revises: 0019
Create Date: 2026-12-06

Every SMS and mail is an `outbox_messages` row written in the transaction of the change; with a
gateway configured the dispatcher delivers it after the commit. The rows kept so far were shown
in the development outbox and are `sent` already.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import campusid.db

revision: str = "0025"
down_revision: str | Sequence[str] | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "status",
                sa.String(length=8),
                server_default="sent",
                nullable=False,
                comment="pending, sent or dead",
            )
        )
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("next_attempt_at", campusid.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", campusid.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("claim_token", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("payload", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("sent_at", campusid.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint("uq_outbox_messages_idempotency_key", ["idempotency_key"])
        batch_op.create_index("ix_outbox_messages_due", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_messages_due")
        batch_op.drop_constraint("uq_outbox_messages_idempotency_key", type_="unique")
        for column in (
            "last_error",
            "sent_at",
            "payload",
            "idempotency_key",
            "claim_token",
            "claimed_until",
            "next_attempt_at",
            "attempts",
            "status",
        ):
            batch_op.drop_column(column)

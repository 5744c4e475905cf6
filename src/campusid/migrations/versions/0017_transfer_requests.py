"""transfer requests (转学申请, issue 16)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import campusid.db

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transfer_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column(
            "from_school_id",
            sa.Integer(),
            nullable=False,
            comment="the school the student leaves",
        ),
        sa.Column("to_school_id", sa.Integer(), nullable=False, comment="the school that asked"),
        sa.Column(
            "to_class_id",
            sa.Integer(),
            nullable=True,
            comment="the class asked for (parked if gone by then)",
        ),
        sa.Column(
            "student_number", sa.String(length=32), nullable=True, comment="学号 in the new class"
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "refused",
                name="transferstatus",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", campusid.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "decided_as",
            sa.String(length=16),
            nullable=True,
            comment="school_admin, or parent where the region allows it",
        ),
        sa.Column("decided_at", campusid.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["student_id"], ["users.id"], name=op.f("fk_transfer_requests_student_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["from_school_id"],
            ["schools.id"],
            name=op.f("fk_transfer_requests_from_school_id_schools"),
        ),
        sa.ForeignKeyConstraint(
            ["to_school_id"], ["schools.id"], name=op.f("fk_transfer_requests_to_school_id_schools")
        ),
        sa.ForeignKeyConstraint(
            ["to_class_id"],
            ["school_classes.id"],
            name=op.f("fk_transfer_requests_to_class_id_school_classes"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_transfer_requests_requested_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_transfer_requests_decided_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_requests")),
    )
    with op.batch_alter_table("transfer_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transfer_requests_student_id"), ["student_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_transfer_requests_from_school_id"), ["from_school_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_transfer_requests_to_school_id"), ["to_school_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("transfer_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfer_requests_to_school_id"))
        batch_op.drop_index(batch_op.f("ix_transfer_requests_from_school_id"))
        batch_op.drop_index(batch_op.f("ix_transfer_requests_student_id"))
    op.drop_table("transfer_requests")

"""two-step verification: the policy per role and per school, remembered devices (issue 19)

Revision ID: 0030_h19c
Revises: 0029
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import campusid.db

revision: str = "0030_h19c"
down_revision: str | Sequence[str] | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "two_step_role_policies",
        sa.Column("role_group", sa.String(length=32), nullable=False),
        sa.Column("need", sa.String(length=16), nullable=True, comment="required or optional"),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("remember_days", sa.Integer(), nullable=False),
        sa.Column("allow_sms", sa.Boolean(), nullable=False),
        sa.Column("updated_at", campusid.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_two_step_role_policies_updated_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("role_group", name=op.f("pk_two_step_role_policies")),
    )
    op.create_table(
        "two_step_school_policies",
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("teachers_required", sa.Boolean(), nullable=False),
        sa.Column("updated_at", campusid.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_two_step_school_policies_school_id_schools"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_two_step_school_policies_updated_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("school_id", name=op.f("pk_two_step_school_policies")),
    )
    op.create_table(
        "remembered_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_version", sa.Integer(), nullable=False),
        sa.Column(
            "factor",
            sa.String(length=16),
            nullable=False,
            comment="the factor used when remembered",
        ),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.Column("created_at", campusid.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", campusid.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", campusid.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_remembered_devices_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remembered_devices")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_remembered_devices_token_hash")),
    )
    op.create_index(op.f("ix_remembered_devices_user_id"), "remembered_devices", ["user_id"])
    op.create_index(op.f("ix_remembered_devices_expires_at"), "remembered_devices", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_remembered_devices_expires_at"), table_name="remembered_devices")
    op.drop_index(op.f("ix_remembered_devices_user_id"), table_name="remembered_devices")
    op.drop_table("remembered_devices")
    op.drop_table("two_step_school_policies")
    op.drop_table("two_step_role_policies")

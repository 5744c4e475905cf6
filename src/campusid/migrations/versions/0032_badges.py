"""扫码登录卡: badges, the stages and networks they work for (issue 24)

Revision ID: 0032
Revises: 0031_h21c
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import campusid.db

revision: str = "0032"
down_revision: str | Sequence[str] | None = "0031_h21c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "badges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False, comment="SHA-256, hex"),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", campusid.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "expires_at",
            campusid.db.UTCDateTime(timezone=True),
            nullable=False,
            comment="end of the school year",
        ),
        sa.Column("revoked_at", campusid.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", campusid.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_badges_created_by_users")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_badges_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_badges")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_badges_secret_hash")),
    )
    op.create_index(op.f("ix_badges_user_id"), "badges", ["user_id"], unique=False)
    op.create_table(
        "badge_stage_settings",
        sa.Column("stage_id", sa.Integer(), nullable=False),
        sa.Column("years", sa.JSON(), nullable=False, comment="years within the stage, 1 = first"),
        sa.ForeignKeyConstraint(
            ["stage_id"], ["stages.id"], name=op.f("fk_badge_stage_settings_stage_id_stages")
        ),
        sa.PrimaryKeyConstraint("stage_id", name=op.f("pk_badge_stage_settings")),
    )
    op.create_table(
        "badge_school_settings",
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("networks", sa.Text(), nullable=False, comment="one CIDR range a line"),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_badge_school_settings_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", name=op.f("pk_badge_school_settings")),
    )


def downgrade() -> None:
    op.drop_table("badge_school_settings")
    op.drop_table("badge_stage_settings")
    op.drop_index(op.f("ix_badges_user_id"), table_name="badges")
    op.drop_table("badges")

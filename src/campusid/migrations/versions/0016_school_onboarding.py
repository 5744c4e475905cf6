"""school onboarding: a school's code, default school system and suspension

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import campusid.db

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, no batch mode: a batch copy of `schools` on SQLite would drop the
    # member-count triggers of 0013 that hang on it.
    op.add_column(
        "schools",
        sa.Column(
            "code", sa.String(length=16), nullable=True, comment="学校编码, unique on the platform"
        ),
    )
    op.add_column(
        "schools",
        sa.Column(
            "school_system",
            sa.Enum(
                "6-3",
                "5-4",
                name="schoolsystem",
                native_enum=False,
                length=32,
                create_constraint=False,
            ),
            nullable=False,
            server_default="6-3",
            comment="the school system a new campus is offered first (六三制/五四制)",
        ),
    )
    op.add_column(
        "schools",
        sa.Column(
            "suspended_at",
            campusid.db.UTCDateTime(timezone=True),
            nullable=True,
            comment="停用: its administrators and teachers cannot use the console while set",
        ),
    )
    op.create_index(op.f("ix_schools_code"), "schools", ["code"], unique=True)
    if op.get_bind().dialect.name != "sqlite":
        # SQLite cannot add a CHECK to an existing table without copying it (see above).
        op.create_check_constraint(
            op.f("ck_schools_schoolsystem"), "schools", "school_system IN ('6-3', '5-4')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f("ck_schools_schoolsystem"), "schools", type_="check")
    op.drop_index(op.f("ix_schools_code"), table_name="schools")
    op.drop_column("schools", "suspended_at")
    op.drop_column("schools", "school_system")
    op.drop_column("schools", "code")

"""the service calendar in the database: years and days a platform administrator entered (issue 20)

Revision ID: 0026
Revises: 0019
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import campusid.db

revision: str = "0026"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "servicedesk_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("updated_at", campusid.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["users.id"], name=op.f("fk_servicedesk_years_updated_by_id_users")
        ),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_servicedesk_years")),
    )
    op.create_table(
        "servicedesk_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["year"],
            ["servicedesk_years.year"],
            name=op.f("fk_servicedesk_days_year_servicedesk_years"),
        ),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_servicedesk_days")),
    )
    with op.batch_alter_table("servicedesk_days", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_servicedesk_days_year"), ["year"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("servicedesk_days", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_servicedesk_days_year"))
    op.drop_table("servicedesk_days")
    op.drop_table("servicedesk_years")

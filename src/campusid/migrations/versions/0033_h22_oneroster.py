"""OneRoster 1.2 (issue 22): sourcedId and dateLastModified on rostered tables, school grants

Revision ID: 0033_h22
Revises: 0032
Create Date: 2026-12-06
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import campusid.db

revision: str = "0033_h22"
down_revision: str | Sequence[str] | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> the column an existing row's dateLastModified starts from (None: the migration's time)
ROSTERED = {
    "districts": None,
    "schools": "created_at",
    "school_classes": "created_at",
    "users": "created_at",
    "class_students": "joined_at",
    "class_teachers": None,
    "parent_links": "created_at",
}


def upgrade() -> None:
    op.create_table(
        "oneroster_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("granted_by_id", sa.Integer(), nullable=True),
        sa.Column("granted_at", campusid.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oidc_clients.id"],
            name=op.f("fk_oneroster_grants_client_id_oidc_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["granted_by_id"], ["users.id"], name=op.f("fk_oneroster_grants_granted_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_oneroster_grants_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oneroster_grants")),
        sa.UniqueConstraint(
            "client_id", "school_id", name=op.f("uq_oneroster_grants_client_id_school_id")
        ),
    )
    op.create_index(
        op.f("ix_oneroster_grants_client_id"), "oneroster_grants", ["client_id"], unique=False
    )
    op.create_index(
        op.f("ix_oneroster_grants_school_id"), "oneroster_grants", ["school_id"], unique=False
    )
    op.create_table(
        "oneroster_deletions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sourced_id", sa.String(length=36), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False, comment="no key: it outlives rows"),
        sa.Column("class_sourced_id", sa.String(length=36), nullable=False),
        sa.Column("user_sourced_id", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False, comment="student or teacher"),
        sa.Column("deleted_at", campusid.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oneroster_deletions")),
    )
    op.create_index(
        op.f("ix_oneroster_deletions_school_id"), "oneroster_deletions", ["school_id"], unique=False
    )
    op.create_index(
        op.f("ix_oneroster_deletions_sourced_id"),
        "oneroster_deletions",
        ["sourced_id"],
        unique=False,
    )
    bind = op.get_bind()
    now = datetime.now(UTC)
    for table, since in ROSTERED.items():
        op.add_column(
            table,
            sa.Column(
                "sourced_id",
                sa.String(length=36),
                nullable=True,
                comment="OneRoster sourcedId (UUID)",
            ),
        )
        op.add_column(
            table,
            sa.Column(
                "updated_at",
                campusid.db.UTCDateTime(timezone=True),
                nullable=True,
                comment="OneRoster dateLastModified: set by the ORM on every change",
            ),
        )
        rows = sa.table(
            table,
            sa.column("id", sa.Integer()),
            sa.column("sourced_id", sa.String()),
            sa.column("updated_at", campusid.db.UTCDateTime(timezone=True)),
            *([sa.column(since, campusid.db.UTCDateTime(timezone=True))] if since else []),
        )
        columns = [rows.c.id] + ([rows.c[since]] if since else [])
        for row in bind.execute(sa.select(*columns)).all():
            stamp = row[1] if since and row[1] is not None else now
            bind.execute(
                rows.update()
                .where(rows.c.id == row[0])
                .values(sourced_id=str(uuid.uuid4()), updated_at=stamp)
            )
        op.create_index(op.f(f"ix_{table}_sourced_id"), table, ["sourced_id"], unique=True)


def downgrade() -> None:
    for table in ROSTERED:
        op.drop_index(op.f(f"ix_{table}_sourced_id"), table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("updated_at")
            batch.drop_column("sourced_id")
    op.drop_index(op.f("ix_oneroster_deletions_sourced_id"), table_name="oneroster_deletions")
    op.drop_index(op.f("ix_oneroster_deletions_school_id"), table_name="oneroster_deletions")
    op.drop_table("oneroster_deletions")
    op.drop_index(op.f("ix_oneroster_grants_school_id"), table_name="oneroster_grants")
    op.drop_index(op.f("ix_oneroster_grants_client_id"), table_name="oneroster_grants")
    op.drop_table("oneroster_grants")

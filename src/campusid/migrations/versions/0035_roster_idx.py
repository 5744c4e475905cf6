"""OneRoster 1.2 paging in SQL (issue 22): users by sourcedId in code-point order

`GET /users?sort=sourcedId` orders by `sourced_id COLLATE "C"` (Python's string order) and
pages with LIMIT/OFFSET: on PostgreSQL an index in that collation serves it without sorting
the region. SQLite's default collation already is code-point order (the same index, plainly).

Revision ID: 0035_roster_idx
Revises: 0034_consent
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0035_roster_idx"
down_revision: str | Sequence[str] | None = "0034_consent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_users_sourced_id_c",
        "users",
        ["sourced_id", "id"],
        postgresql_ops={"sourced_id": 'COLLATE "C"'},
    )


def downgrade() -> None:
    op.drop_index("ix_users_sourced_id_c", table_name="users")

"""Merge the school-administration branch with the rest of the schema

Revision ID: 0014
Revises: 0003, 0013
Create Date: 2026-11-29
"""

from collections.abc import Sequence

revision: str = "0014"
down_revision: str | Sequence[str] | None = ("0003", "0013")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""parent accounts and child avatars

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-29 16:21:27.301799
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "is_parent",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
                comment="家长: signed up or declared as a parent (linked children give the role too)",
            )
        )
        batch_op.add_column(
            sa.Column(
                "avatar",
                sa.LargeBinary(),
                nullable=True,
                comment="头像: a re-encoded JPEG, at most 256x256",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("avatar")
        batch_op.drop_column("is_parent")

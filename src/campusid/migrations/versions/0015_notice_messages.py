"""notices keep the pattern and values of their title and body, to be shown in any language

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05

A notice is shown in the reader's language, which is known only when it is read: `message`
holds the marked Chinese texts and the values filled into them. `title` and `body` keep the
Chinese text as before (older notices have no `message` and are shown as stored).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.add_column(sa.Column("message", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("message")

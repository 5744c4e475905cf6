"""pairwise subject identifiers for third-party OIDC clients (issue 21)

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | Sequence[str] | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing clients keep the public `sub` they already rely on; new third-party clients
    # default to pairwise (oidc.service.ClientForm).
    with op.batch_alter_table("oidc_clients") as batch:
        batch.add_column(
            sa.Column(
                "pairwise_subject",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
                comment="sub differs per client (third-party apps cannot link people)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("oidc_clients") as batch:
        batch.drop_column("pairwise_subject")

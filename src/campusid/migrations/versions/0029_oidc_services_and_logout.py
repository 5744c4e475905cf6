"""OIDC: service scopes (client_credentials), back- and front-channel logout URIs, tokens
without a person (issue 21)

Revision ID: 0029
Revises: 0027
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | Sequence[str] | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("oidc_clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "service_scopes",
                sa.String(length=255),
                server_default="",
                nullable=False,
                comment="space-separated; client_credentials",
            )
        )
        batch_op.add_column(
            sa.Column("backchannel_logout_uri", sa.String(length=512), nullable=True)
        )
        batch_op.add_column(
            sa.Column("frontchannel_logout_uri", sa.String(length=512), nullable=True)
        )
    with op.batch_alter_table("oidc_tokens", schema=None) as batch_op:
        batch_op.alter_column(
            "user_id",
            existing_type=sa.Integer(),
            nullable=True,
            comment="NULL for a client_credentials token",
        )


def downgrade() -> None:
    op.execute("DELETE FROM oidc_tokens WHERE user_id IS NULL")
    with op.batch_alter_table("oidc_tokens", schema=None) as batch_op:
        batch_op.alter_column(
            "user_id",
            existing_type=sa.Integer(),
            nullable=False,
            comment=None,
            existing_comment="NULL for a client_credentials token",
        )
    with op.batch_alter_table("oidc_clients", schema=None) as batch_op:
        batch_op.drop_column("frontchannel_logout_uri")
        batch_op.drop_column("backchannel_logout_uri")
        batch_op.drop_column("service_scopes")

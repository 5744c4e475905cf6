"""OIDC: the browser session (`sid`) of codes and tokens, front-channel logout with session,
verified phone and email (issues 21 and 20)

Revision ID: 0031_h21c
Revises: 0030_h19c
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import campusid.db

revision: str = "0031_h21c"
down_revision: str | Sequence[str] | None = "0030_h19c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("oidc_authorization_codes", "oidc_tokens"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(
                    "sid",
                    sa.String(length=64),
                    nullable=True,
                    comment="the browser session it came from (keyed digest, never the cookie)",
                )
            )
    with op.batch_alter_table("oidc_clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "frontchannel_logout_session_required",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
                comment="front-channel logout URI gets iss and sid",
            )
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "phone_verified_at",
                campusid.db.UTCDateTime(),
                nullable=True,
                comment="the phone proved by a code sent to it; cleared when it changes",
            )
        )
        batch_op.add_column(
            sa.Column(
                "email_verified_at",
                campusid.db.UTCDateTime(),
                nullable=True,
                comment="the email proved by a code sent to it; cleared when it changes",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email_verified_at")
        batch_op.drop_column("phone_verified_at")
    with op.batch_alter_table("oidc_clients", schema=None) as batch_op:
        batch_op.drop_column("frontchannel_logout_session_required")
    for table in ("oidc_tokens", "oidc_authorization_codes"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("sid")

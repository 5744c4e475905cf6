"""captcha challenges: the live image captcha of a browser on a form (issue 18)

Revision ID: 0022
Revises: 0017
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import campusid.db

revision: str = "0022"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "captcha_challenges",
        sa.Column(
            "token_digest",
            sa.String(length=64),
            nullable=False,
            comment="HMAC of the form and the browser's captcha cookie",
        ),
        sa.Column("form", sa.String(length=32), nullable=False),
        sa.Column("captcha_digest", sa.String(length=64), nullable=True),
        sa.Column("captcha_expires_at", campusid.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_digest", name=op.f("pk_captcha_challenges")),
    )
    with op.batch_alter_table("captcha_challenges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_captcha_challenges_captcha_expires_at"),
            ["captcha_expires_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("captcha_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_captcha_challenges_captcha_expires_at"))
    op.drop_table("captcha_challenges")

"""passkeys and security keys (WebAuthn); amr and acr of OIDC codes (issue 19)

Revision ID: 0027
Revises: 0024
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import campusid.db

revision: str = "0027"
down_revision: str | Sequence[str] | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "passkey_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("factor_id", sa.Integer(), nullable=False),
        sa.Column(
            "credential_id",
            sa.String(length=1400),
            nullable=False,
            comment="base64url of the authenticator's credential id",
        ),
        sa.Column("public_key", sa.LargeBinary(), nullable=False, comment="COSE_Key"),
        sa.Column(
            "sign_count",
            sa.BigInteger(),
            nullable=False,
            comment="the authenticator's counter; a lower one is a clone",
        ),
        sa.Column("transports", sa.String(length=128), nullable=False, comment="space-separated"),
        sa.Column("aaguid", sa.String(length=36), nullable=False),
        sa.Column(
            "attachment", sa.String(length=16), nullable=True, comment="platform, cross-platform"
        ),
        sa.Column("backup_eligible", sa.Boolean(), nullable=False),
        sa.Column("backed_up", sa.Boolean(), nullable=False),
        sa.Column("created_at", campusid.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["factor_id"],
            ["second_factors.id"],
            name=op.f("fk_passkey_credentials_factor_id_second_factors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_passkey_credentials_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkey_credentials")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_passkey_credentials_credential_id")),
        sa.UniqueConstraint("factor_id", name=op.f("uq_passkey_credentials_factor_id")),
    )
    with op.batch_alter_table("passkey_credentials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_passkey_credentials_user_id"), ["user_id"], unique=False
        )
    op.create_table(
        "passkey_challenges",
        sa.Column("challenge_digest", sa.String(length=64), nullable=False),
        sa.Column(
            "purpose", sa.String(length=16), nullable=False, comment="register or authenticate"
        ),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "binding_digest",
            sa.String(length=64),
            nullable=False,
            comment="HMAC of the session (or pending sign-in) that asked for it",
        ),
        sa.Column("expires_at", campusid.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_passkey_challenges_user_id_users")
        ),
        sa.PrimaryKeyConstraint("challenge_digest", name=op.f("pk_passkey_challenges")),
    )
    with op.batch_alter_table("passkey_challenges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_passkey_challenges_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_passkey_challenges_user_id"), ["user_id"], unique=False
        )
    with op.batch_alter_table("oidc_authorization_codes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("amr", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("acr", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oidc_authorization_codes", schema=None) as batch_op:
        batch_op.drop_column("acr")
        batch_op.drop_column("amr")
    with op.batch_alter_table("passkey_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_passkey_challenges_user_id"))
        batch_op.drop_index(batch_op.f("ix_passkey_challenges_expires_at"))
    op.drop_table("passkey_challenges")
    with op.batch_alter_table("passkey_credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_passkey_credentials_user_id"))
    op.drop_table("passkey_credentials")

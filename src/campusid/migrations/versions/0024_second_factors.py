"""second factors: TOTP factors, recovery codes, pending sign-ins, the session's amr (issue 19)

Revision ID: 0024
Revises: 0019
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import campusid.db

revision: str = "0024"
down_revision: str | Sequence[str] | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "second_factors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.String(length=16),
            nullable=False,
            comment="totp, webauthn or sms (FactorKind)",
        ),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column(
            "secret",
            sa.String(length=255),
            nullable=True,
            comment="TOTP shared secret (AES-SIV ciphertext, security/crypto.py)",
        ),
        sa.Column(
            "last_used_step",
            sa.Integer(),
            nullable=True,
            comment="TOTP: the last accepted time step (a replayed code is refused)",
        ),
        sa.Column("created_at", campusid.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", campusid.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", campusid.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_second_factors_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_second_factors")),
    )
    op.create_index(op.f("ix_second_factors_user_id"), "second_factors", ["user_id"])
    op.create_table(
        "factor_recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", campusid.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", campusid.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_factor_recovery_codes_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_factor_recovery_codes")),
    )
    op.create_index(op.f("ix_factor_recovery_codes_user_id"), "factor_recovery_codes", ["user_id"])
    op.create_table(
        "pending_sign_ins",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", campusid.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", campusid.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_path", sa.String(length=512), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_pending_sign_ins_user_id_users")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_pending_sign_ins")),
    )
    op.create_index(op.f("ix_pending_sign_ins_user_id"), "pending_sign_ins", ["user_id"])
    op.create_index(op.f("ix_pending_sign_ins_expires_at"), "pending_sign_ins", ["expires_at"])
    op.create_table(
        "factor_grace",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("due_at", campusid.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_factor_grace_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_factor_grace")),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("amr", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("second_factor_at", campusid.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("factor_enrolment", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("factor_enrolment")
        batch_op.drop_column("second_factor_at")
        batch_op.drop_column("amr")
    op.drop_table("factor_grace")
    op.drop_index(op.f("ix_pending_sign_ins_expires_at"), table_name="pending_sign_ins")
    op.drop_index(op.f("ix_pending_sign_ins_user_id"), table_name="pending_sign_ins")
    op.drop_table("pending_sign_ins")
    op.drop_index(op.f("ix_factor_recovery_codes_user_id"), table_name="factor_recovery_codes")
    op.drop_table("factor_recovery_codes")
    op.drop_index(op.f("ix_second_factors_user_id"), table_name="second_factors")
    op.drop_table("second_factors")

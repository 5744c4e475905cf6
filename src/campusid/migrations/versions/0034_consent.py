"""用户协议 and 隐私政策 (issue 23): versioned texts, and the consents given to them

Revision ID: 0034_consent
Revises: 0033_h22
Create Date: 2026-12-06
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import campusid.db
from campusid.legal.defaults import DEFAULTS

revision: str = "0034_consent"
down_revision: str | Sequence[str] | None = "0033_h22"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _kind() -> sa.Enum:
    return sa.Enum(
        "terms",
        "privacy",
        name="documentkind",
        native_enum=False,
        create_constraint=True,
        length=16,
    )


def upgrade() -> None:
    documents = op.create_table(
        "legal_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _kind(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, comment="1, 2, … per kind"),
        sa.Column("body_zh", sa.Text(), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        sa.Column("published_at", campusid.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "published_by_id",
            sa.Integer(),
            nullable=True,
            comment="NULL: the default text the migration shipped",
        ),
        sa.ForeignKeyConstraint(
            ["published_by_id"], ["users.id"], name=op.f("fk_legal_documents_published_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_documents")),
        sa.UniqueConstraint("kind", "version", name=op.f("uq_legal_documents_kind_version")),
    )
    op.create_table(
        "legal_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False, comment="who agreed"),
        sa.Column(
            "subject_id",
            sa.Integer(),
            nullable=False,
            comment="for whom: themselves, or their child",
        ),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("kind", _kind(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "via",
            sa.Enum(
                "sign_up",
                "later",
                "guardian",
                name="consentvia",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("agreed_at", campusid.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["legal_documents.id"],
            name=op.f("fk_legal_consents_document_id_legal_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["users.id"], name=op.f("fk_legal_consents_subject_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_legal_consents_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_consents")),
    )
    op.create_index(
        op.f("ix_legal_consents_subject_id"), "legal_consents", ["subject_id"], unique=False
    )
    op.create_index(op.f("ix_legal_consents_user_id"), "legal_consents", ["user_id"], unique=False)
    # Version 1 of each text: the shipped template, to be adapted by the platform.
    now = datetime.now(UTC)
    op.bulk_insert(
        documents,
        [
            {
                "kind": kind,
                "version": 1,
                "body_zh": zh,
                "body_en": en,
                "published_at": now,
                "published_by_id": None,
            }
            for kind, (zh, en) in DEFAULTS.items()
        ],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_legal_consents_user_id"), table_name="legal_consents")
    op.drop_index(op.f("ix_legal_consents_subject_id"), table_name="legal_consents")
    op.drop_table("legal_consents")
    op.drop_table("legal_documents")

"""A person agrees to one version of a text, for one person, once (issue 23): duplicate consent
rows (a double submit of 家长注册 or of the banner, two requests at once) are removed, keeping
the first, and a unique key keeps it so.

Revision ID: 0037_consent_once
Revises: 0036_audit_idx
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0037_consent_once"
down_revision: str | Sequence[str] | None = "0036_audit_idx"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "uq_legal_consents_user_id_subject_id_document_id"


def upgrade() -> None:
    op.execute(
        sa.text(
            "DELETE FROM legal_consents WHERE id NOT IN ("
            " SELECT min(id) FROM legal_consents GROUP BY user_id, subject_id, document_id)"
        )
    )
    with op.batch_alter_table("legal_consents", schema=None) as batch_op:
        batch_op.create_unique_constraint(NAME, ["user_id", "subject_id", "document_id"])


def downgrade() -> None:
    with op.batch_alter_table("legal_consents", schema=None) as batch_op:
        batch_op.drop_constraint(NAME, type_="unique")

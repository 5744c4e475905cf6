"""Encrypt phone, ID card and registration numbers at rest (AES-SIV, see security/crypto.py)

Revision ID: 0008
Revises: 0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from campusid.security.crypto import PREFIX, cipher

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = {"phone": 16, "id_card_number": 18, "registration_number": 32}


def _convert(encrypt: bool) -> None:
    conn = op.get_bind()
    users = sa.table(
        "users", sa.column("id", sa.Integer), *(sa.column(name, sa.String) for name in COLUMNS)
    )
    rows = conn.execute(sa.select(users)).mappings().all()
    for row in rows:
        values = {}
        for name in COLUMNS:
            value = row[name]
            if value is None:
                continue
            context = f"users.{name}"
            if encrypt and not value.startswith(PREFIX):
                values[name] = cipher().encrypt(value, context)
            elif not encrypt and value.startswith(PREFIX):
                values[name] = cipher().decrypt(value, context)
        if values:
            conn.execute(users.update().where(users.c.id == row["id"]).values(**values))


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        for name, length in COLUMNS.items():
            batch_op.alter_column(name, existing_type=sa.String(length), type_=sa.String(96))
    _convert(encrypt=True)


def downgrade() -> None:
    _convert(encrypt=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        for name, length in COLUMNS.items():
            batch_op.alter_column(name, existing_type=sa.String(96), type_=sa.String(length))

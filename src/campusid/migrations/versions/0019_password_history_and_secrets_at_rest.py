"""issue 18: password history; emails encrypted at rest; no codes kept in the outbox

Revision ID: 0019
Revises: 0022
Create Date: 2026-12-06

- `password_history`: the argon2id hashes of an account's earlier passwords.
- `users.email`: stored as its AES-SIV ciphertext like the phone (security/crypto.py), in its
  normalised form (trimmed, lower-case), so equality look-ups and the unique constraint work.
- `outbox_messages`: `masked_body` and `secret_until`; the codes and temporary passwords that
  older rows still show are masked now.
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import campusid.db
from campusid.security.crypto import PREFIX, cipher

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EMAIL = "users.email"
_CODE = re.compile(r"(?<![0-9])[0-9]{6}(?![0-9])")
_TEMPORARY = re.compile(r"(临时密码为)[^,,。\s]+")


def _convert_emails(encrypt: bool) -> None:
    conn = op.get_bind()
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("email", sa.String))
    rows = conn.execute(sa.select(users).where(users.c.email.is_not(None))).all()
    for user_id, value in rows:
        if encrypt and not value.startswith(PREFIX):
            new = cipher().encrypt(value.strip().lower(), EMAIL)
        elif not encrypt and value.startswith(PREFIX):
            new = cipher().decrypt(value, EMAIL)
        else:
            continue
        conn.execute(users.update().where(users.c.id == user_id).values(email=new))


def _mask_outbox() -> None:
    conn = op.get_bind()
    outbox = sa.table("outbox_messages", sa.column("id", sa.Integer), sa.column("body", sa.Text))
    for message_id, body in conn.execute(sa.select(outbox)).all():
        masked = _TEMPORARY.sub(r"\1******", _CODE.sub("******", body))
        if masked != body:
            conn.execute(outbox.update().where(outbox.c.id == message_id).values(body=masked))


def upgrade() -> None:
    op.create_table(
        "password_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False, comment="argon2id"),
        sa.Column("replaced_at", campusid.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_password_history_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_history")),
    )
    with op.batch_alter_table("password_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_history_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("email", existing_type=sa.String(254), type_=sa.String(400))
    _convert_emails(encrypt=True)

    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("masked_body", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("secret_until", campusid.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_messages_secret_until"), ["secret_until"], unique=False
        )
    _mask_outbox()


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_messages_secret_until"))
        batch_op.drop_column("secret_until")
        batch_op.drop_column("masked_body")

    _convert_emails(encrypt=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("email", existing_type=sa.String(400), type_=sa.String(254))

    with op.batch_alter_table("password_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_history_user_id"))
    op.drop_table("password_history")

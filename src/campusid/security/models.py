"""Server-side sessions (when Redis is not configured)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from campusid.db import Base, UTCDateTime


class SessionRecord(Base):
    """A signed-in browser. The id is stored only as a SHA-256, so a dump gives no live session."""

    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    client_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(256))
    # issue 19: how the person proved who they are ("pwd", "pwd otp", "pwd recovery"), when the
    # last second-factor check was (step-up), and whether a second factor must still be enrolled
    # ("required": no page but the enrolment; "grace": pages open, a banner asks).
    amr: Mapped[str | None] = mapped_column(String(32))
    second_factor_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    factor_enrolment: Mapped[str | None] = mapped_column(String(16))

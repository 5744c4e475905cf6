"""Error files of refused imports, and uploads awaiting 确认导入 after their preview, kept
briefly for the administrator who uploaded them (a pending upload: filename 待确认导入)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from campusid.db import Base, UTCDateTime


class ImportErrorFile(Base):
    """The uploaded workbook with each bad row's reason, downloadable once by its uploader.

    It holds the personal data the administrator uploaded, so it lives minutes, not days, and
    only the uploader can fetch it (by a random token, stored hashed).
    """

    __tablename__ = "roster_error_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    filename: Mapped[str] = mapped_column(String(128))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

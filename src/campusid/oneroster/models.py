"""Which schools' rosters an application may read (issue 22)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from campusid.db import Base, UTCDateTime


class RosterGrant(Base):
    """A school granted to an application: the school's rosters are visible to the client's
    OneRoster calls. Granted by a platform administrator or the school's administrator."""

    __tablename__ = "oneroster_grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("oidc_clients.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("client_id", "school_id"),)

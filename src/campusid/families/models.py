"""Parent-child links (家长关联孩子)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campusid.accounts.models import User
from campusid.db import Base, Rostered, UTCDateTime
from campusid.i18n import N_
from campusid.types import enum_by_value


class Relation(StrEnum):
    """The parent's relation to the child."""

    FATHER = "father"
    MOTHER = "mother"
    OTHER = "other"

    @property
    def label(self) -> str:
        """The Chinese label."""
        return {"father": N_("父亲"), "mother": N_("母亲"), "other": N_("其他监护人")}[self.value]


class ParentLink(Rostered, Base):
    """A parent linked to a child."""

    __tablename__ = "parent_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    relation: Mapped[Relation] = mapped_column(enum_by_value(Relation))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    parent: Mapped[User] = relationship(foreign_keys=[parent_id])
    child: Mapped[User] = relationship(foreign_keys=[child_id])

    __table_args__ = (UniqueConstraint("parent_id", "child_id"),)

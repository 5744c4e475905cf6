"""Transfer requests (转学申请)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from campusid.db import Base, UTCDateTime
from campusid.i18n import N_
from campusid.types import enum_by_value


class TransferStatus(StrEnum):
    """Where a transfer request stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"

    @property
    def label(self) -> str:
        """The Chinese label."""
        return {
            "pending": N_("待确认"),
            "approved": N_("已同意"),
            "refused": N_("已拒绝"),
        }[self.value]


class TransferRequest(Base):
    """A receiving school asks to take a student of another school (转学申请).

    Filed by an administrator of the receiving school who named the student by real name and
    ID card number (or 学籍号); decided by an administrator of the sending school (or, where the
    region allows it, a linked parent). On approval the membership moves; the account, its
    password and its parent links are untouched.
    """

    __tablename__ = "transfer_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    from_school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id"), index=True, comment="the school the student leaves"
    )
    to_school_id: Mapped[int] = mapped_column(
        ForeignKey("schools.id"), index=True, comment="the school that asked"
    )
    to_class_id: Mapped[int | None] = mapped_column(
        ForeignKey("school_classes.id"), comment="the class asked for (parked if gone by then)"
    )
    student_number: Mapped[str | None] = mapped_column(String(32), comment="学号 in the new class")
    status: Mapped[TransferStatus] = mapped_column(
        enum_by_value(TransferStatus), default=TransferStatus.PENDING
    )
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_as: Mapped[str | None] = mapped_column(
        String(16), comment="school_admin, or parent where the region allows it"
    )
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

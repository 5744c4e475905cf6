"""The platform's legal texts, versioned, and the consents given to them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from campusid.db import Base, UTCDateTime
from campusid.i18n import N_
from campusid.types import enum_by_value


class DocumentKind(StrEnum):
    """Which text: 用户协议 or 隐私政策 (also the page's path, /terms and /privacy)."""

    TERMS = "terms"
    PRIVACY = "privacy"

    @property
    def label(self) -> str:
        """The Chinese title."""
        return {"terms": N_("用户协议"), "privacy": N_("隐私政策")}[self.value]


class LegalDocument(Base):
    """One published version of a text. Never edited in place: an edit publishes a new row, so
    what a person agreed to stays readable as it was."""

    __tablename__ = "legal_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DocumentKind] = mapped_column(enum_by_value(DocumentKind, length=16))
    version: Mapped[int] = mapped_column(Integer, comment="1, 2, … per kind")
    body_zh: Mapped[str] = mapped_column(Text)
    body_en: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"), comment="NULL: the default text the migration shipped"
    )

    __table_args__ = (UniqueConstraint("kind", "version"),)

    def body(self, language: str) -> str:
        """The text in the page's language."""
        return self.body_en if language == "en" else self.body_zh


class ConsentVia(StrEnum):
    """How a consent was given."""

    SIGN_UP = "sign_up"  # 家长注册's checkbox
    LATER = "later"  # a parent who signed up before, from the banner on their home
    GUARDIAN = "guardian"  # a parent for their child under 14 (PIPL art. 31)


class LegalConsent(Base):
    """Someone agreed to one version of a text, for themselves or (a guardian) for a child."""

    __tablename__ = "legal_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True, comment="who agreed")
    subject_id: Mapped[int] = mapped_column(
        ForeignKey("users.id"), index=True, comment="for whom: themselves, or their child"
    )
    document_id: Mapped[int] = mapped_column(ForeignKey("legal_documents.id"))
    kind: Mapped[DocumentKind] = mapped_column(enum_by_value(DocumentKind, length=16))
    version: Mapped[int] = mapped_column(Integer)
    via: Mapped[ConsentVia] = mapped_column(enum_by_value(ConsentVia, length=16))
    agreed_at: Mapped[datetime] = mapped_column(UTCDateTime())

    # Once per person, version and subject: a double submit or two requests at once record
    # the first (`service.agree`, `service.consent_for_child`).
    __table_args__ = (UniqueConstraint("user_id", "subject_id", "document_id"),)

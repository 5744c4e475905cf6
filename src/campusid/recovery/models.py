"""Recovery flows (one per browser, stored by the hash of its cookie) and teacher approvals."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from campusid.db import Base, UTCDateTime
from campusid.i18n import N_
from campusid.types import enum_by_value


class RecoveryMethod(StrEnum):
    """找回方式."""

    PHONE = "phone"
    EMAIL = "email"
    PARENT = "parent"  # 通过关联信息: a code to a linked parent's phone
    TEACHER = "teacher"  # 通过关联信息: the homeroom teacher approves

    @property
    def label(self) -> str:
        """The Chinese label."""
        return {
            "phone": N_("通过手机找回密码"),
            "email": N_("通过邮箱找回密码"),
            "parent": N_("通过家长手机验证"),
            "teacher": N_("班主任审核"),
        }[self.value]


class FlowStep(StrEnum):
    """Where a flow stands; each step is reached only from the one before it."""

    CHOOSING = "choosing"  # 选择找回方式: nothing bound yet
    IDENTIFIED = "identified"  # relation way: name, ID card number and school given
    CODE_SENT = "code_sent"  # bound to one target, a code issued
    AWAITING_APPROVAL = "awaiting_approval"  # a request lies with the homeroom teacher
    VERIFIED = "verified"  # 设置新密码 is open
    DONE = "done"
    DEAD = "dead"  # too many wrong codes, refused, or given up


class RecoveryFlow(Base):
    """One browser's attempt to recover one account.

    The browser holds a random id in an HttpOnly cookie; only its SHA-256 is stored. The target
    typed (phone, email, the student's identity) is kept only as a keyed hash, and the account
    it named (if any) as `user_id`, so the flow is bound to one account and one browser.
    """

    __tablename__ = "recovery_flows"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    step: Mapped[FlowStep] = mapped_column(enum_by_value(FlowStep), default=FlowStep.CHOOSING)
    method: Mapped[RecoveryMethod | None] = mapped_column(enum_by_value(RecoveryMethod))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"),
        index=True,
        comment="the account the typed target named; NULL when it named none (same answers)",
    )
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))
    subject_digest: Mapped[str | None] = mapped_column(
        String(64), comment="keyed hash of name + ID card number + school (relation way)"
    )
    destination_digest: Mapped[str | None] = mapped_column(
        String(64), index=True, comment="keyed hash of where the code went"
    )
    recipient_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"), comment="the parent who got the code (relation way)"
    )
    code_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    password_version: Mapped[int | None] = mapped_column(
        Integer, comment="the account's password version when verified; a change kills the flow"
    )
    captcha_digest: Mapped[str | None] = mapped_column(String(64))
    captcha_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApprovalStatus(StrEnum):
    """Where a teacher approval request stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"  # superseded by a newer request, or the flow ended

    @property
    def label(self) -> str:
        """The Chinese label."""
        return {
            "pending": N_("待审核"),
            "approved": N_("已通过"),
            "refused": N_("已拒绝"),
            "withdrawn": N_("已失效"),
        }[self.value]


class TeacherRecoveryRequest(Base):
    """A student's request that their homeroom teacher confirm a password recovery."""

    __tablename__ = "teacher_recovery_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("recovery_flows.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("school_classes.id"), index=True)
    status: Mapped[ApprovalStatus] = mapped_column(
        enum_by_value(ApprovalStatus), default=ApprovalStatus.PENDING
    )
    client_address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

"""Tickets (工单) of the service hotline: who called about which account, what was checked, done."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from campusid.db import Base, UTCDateTime
from campusid.i18n import N_
from campusid.types import enum_by_value, json_default


class CallerRelation(StrEnum):
    """Who the caller says they are, to the account."""

    STUDENT = "student"
    PARENT = "parent"
    TEACHER = "teacher"

    @property
    def label(self) -> str:
        """The Chinese label."""
        return {"student": N_("学生本人"), "parent": N_("家长"), "teacher": N_("教师")}[self.value]


class TicketStatus(StrEnum):
    """Whether the ticket is still being worked on."""

    OPEN = "open"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        """The Chinese label."""
        return {"open": N_("处理中"), "closed": N_("已关闭")}[self.value]


class TicketOutcome(StrEnum):
    """What came of the call."""

    RESET_SMS = "reset_sms"
    RESET_SHOWN = "reset_shown"
    NOT_VERIFIED = "not_verified"
    NO_RESET = "no_reset"

    @property
    def label(self) -> str:
        """The Chinese label."""
        return {
            "reset_sms": N_("已重置（短信发送）"),
            "reset_shown": N_("已重置（电话读出临时密码）"),
            "not_verified": N_("核验未通过"),
            "no_reset": N_("未重置"),
        }[self.value]


class Fact(StrEnum):
    """A fact on the verification checklist."""

    REAL_NAME = "real_name"
    SCHOOL_CLASS = "school_class"
    ID_CARD_TAIL = "id_card_tail"
    PARENT_NAME = "parent_name"
    PHONE_CODE = "phone_code"

    @property
    def label(self) -> str:
        """The Chinese label."""
        return {
            "real_name": N_("真实姓名"),
            "school_class": N_("学校和班级"),
            "id_card_tail": N_("身份证号后4位"),
            "parent_name": N_("关联家长姓名"),
            "phone_code": N_("绑定手机验证码"),
        }[self.value]

    def label_for(self, linked_are_children: bool) -> str:
        """The label as the caller is asked: about a parent's account, the linked people are
        the children (关联孩子姓名); about anyone else's, the parents."""
        if self is Fact.PARENT_NAME and linked_are_children:
            return N_("关联孩子姓名")
        return self.label

    @property
    def is_strong(self) -> bool:
        """A fact a classmate would not know: a code read back from a bound phone, or the ID
        card's last 4. A name, a school and class, a parent's name are all known in class."""
        return self in (Fact.ID_CARD_TAIL, Fact.PHONE_CODE)


class Ticket(Base):
    """One call about one account, worked by one agent."""

    __tablename__ = "servicedesk_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    target_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    caller_relation: Mapped[CallerRelation] = mapped_column(enum_by_value(CallerRelation))
    status: Mapped[TicketStatus] = mapped_column(
        enum_by_value(TicketStatus), default=TicketStatus.OPEN
    )
    outcome: Mapped[TicketOutcome | None] = mapped_column(enum_by_value(TicketOutcome))
    note: Mapped[str | None] = mapped_column(String(200), comment="the agent's closing note")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TicketCheck(Base):
    """One answered fact of a ticket's checklist; final once recorded (no guessing loops)."""

    __tablename__ = "servicedesk_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("servicedesk_tickets.id"), index=True)
    fact: Mapped[Fact] = mapped_column(enum_by_value(Fact))
    matched: Mapped[bool] = mapped_column(Boolean)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("ticket_id", "fact"),)


class DeskActivity(Base):
    """What an agent looked at or did (searches too), for the supervisor; never a secret."""

    __tablename__ = "servicedesk_activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("servicedesk_tickets.id"), index=True, comment="NULL for a search"
    )
    target_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32), comment="search, open, check, code_sent, ...")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=json_default)

    __table_args__ = (Index("ix_servicedesk_activity_agent_time", "agent_id", "occurred_at"),)


# --- the service calendar in the database (issue 20) -----------------------------------------
class ServiceYear(Base):
    """A year whose holidays and 调休 days a platform administrator has entered (平台管理 →
    服务日历). For such a year only its rows below count, on top of Monday to Friday."""

    __tablename__ = "servicedesk_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ServiceDay(Base):
    """A day that differs from Monday to Friday: a holiday (closed) or a 调休 working day."""

    __tablename__ = "servicedesk_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, ForeignKey("servicedesk_years.year"), index=True)
    is_open: Mapped[bool] = mapped_column(Boolean)

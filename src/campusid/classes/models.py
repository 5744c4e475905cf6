"""Class membership: students and teachers of a class, grade leaders, join requests."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campusid.accounts.models import User
from campusid.db import Base, Rostered, UTCDateTime
from campusid.i18n import N_
from campusid.types import enum_by_value


class MemberStatus(StrEnum):
    """状态 of a student in a class."""

    NORMAL = "normal"
    SUSPENDED = "suspended"

    @property
    def label(self) -> str:
        """The Chinese label."""
        return {"normal": N_("正常"), "suspended": N_("停用")}[self.value]


class ClassRole(StrEnum):
    """角色 of a student in a class: descriptive only, it grants no permission."""

    MEMBER = "member"
    GROUP_LEADER = "group_leader"
    SUBJECT_REPRESENTATIVE = "subject_representative"

    @property
    def label(self) -> str:
        """The Chinese label."""
        return CLASS_ROLE_LABELS[self]


CLASS_ROLE_LABELS = {
    ClassRole.MEMBER: N_("普通成员"),
    ClassRole.GROUP_LEADER: N_("小组长"),
    ClassRole.SUBJECT_REPRESENTATIVE: N_("课代表"),
}


class JoinRequestStatus(StrEnum):
    """成员审核 outcome."""

    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class ClassStudent(Rostered, Base):
    """A student in a class, with 学号 and 班干部职位."""

    __tablename__ = "class_students"

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("school_classes.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    student_number: Mapped[str | None] = mapped_column(String(32), comment="学号")
    cadre_position: Mapped[str | None] = mapped_column(String(32), comment="班干部职位")
    class_role: Mapped[ClassRole] = mapped_column(
        enum_by_value(ClassRole),
        default=ClassRole.MEMBER,
        server_default=ClassRole.MEMBER.value,
        comment="角色 in the class; descriptive, grants nothing",
    )
    status: Mapped[MemberStatus] = mapped_column(
        enum_by_value(MemberStatus),
        default=MemberStatus.NORMAL,
    )
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())

    student: Mapped[User] = relationship()

    __table_args__ = (UniqueConstraint("class_id", "student_id"),)


class ClassTeacher(Rostered, Base):
    """A teacher of a class (任教), with subject; at most one homeroom teacher (班主任) a class."""

    __tablename__ = "class_teachers"

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("school_classes.id"), index=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    subject: Mapped[str | None] = mapped_column(String(32))
    is_homeroom: Mapped[bool] = mapped_column(Boolean, default=False)

    teacher: Mapped[User] = relationship()

    __table_args__ = (UniqueConstraint("class_id", "teacher_id"),)


class ClassParent(Base):
    """A parent who joined the class by its class code (成员审核 approved); no link to a child."""

    __tablename__ = "class_parents"

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("school_classes.id"), index=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("class_id", "parent_id"),)


class GradeLeader(Base):
    """A grade leader (年级组长) of one grade."""

    __tablename__ = "grade_leaders"

    id: Mapped[int] = mapped_column(primary_key=True)
    grade_id: Mapped[int] = mapped_column(ForeignKey("grades.id"), index=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)

    __table_args__ = (UniqueConstraint("grade_id", "teacher_id"),)


class CadrePosition(Base):
    """A class cadre position (班干部职位) a class defines, e.g. 班长."""

    __tablename__ = "cadre_positions"

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("school_classes.id"), index=True)
    name: Mapped[str] = mapped_column(String(32))

    __table_args__ = (UniqueConstraint("class_id", "name"),)


class JoinRequest(Base):
    """A request to join a class by its class code, reviewed by the homeroom teacher."""

    __tablename__ = "join_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("school_classes.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(16), comment="student or parent")
    message: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[JoinRequestStatus] = mapped_column(
        enum_by_value(JoinRequestStatus),
        default=JoinRequestStatus.PENDING,
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

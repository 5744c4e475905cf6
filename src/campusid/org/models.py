"""The school organisation: district > school > campus > stage > grade > class."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campusid.db import Base, Rostered, UTCDateTime
from campusid.org.schoolyear import SchoolSystem, Stage
from campusid.security.authz import ClassScope
from campusid.types import enum_by_value, json_default


class ResetMode(StrEnum):
    """What a homeroom teacher's reset sets the password to."""

    DEFAULT_PASSWORD = "default_password"
    RANDOM = "random"


class ClassKind(StrEnum):
    """Administrative class (行政班级) or teaching class (教学班)."""

    ADMINISTRATIVE = "administrative"
    TEACHING = "teaching"


class District(Rostered, Base):
    """A district (区) groups schools."""

    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class School(Rostered, Base):
    """A school (学校) and its account settings."""

    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    reset_mode: Mapped[ResetMode] = mapped_column(
        enum_by_value(ResetMode),
        default=ResetMode.RANDOM,
        comment="what a homeroom teacher's reset sets: the default password or a random one",
    )
    default_credential_id: Mapped[int | None] = mapped_column(
        ForeignKey("default_credentials.id", use_alter=True),
        comment="the current 学生默认密码",
    )
    allow_teacher_recovery: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        comment="route 3 may ask the homeroom teacher to approve",
    )
    force_change_after_parent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # onboarding (issue 16): set by the platform's administrators when they create the school
    code: Mapped[str | None] = mapped_column(
        String(16), unique=True, index=True, comment="学校编码, unique on the platform"
    )
    school_system: Mapped[SchoolSystem] = mapped_column(
        enum_by_value(SchoolSystem),
        default=SchoolSystem.SIX_THREE,
        comment="the school system a new campus is offered first (六三制/五四制)",
    )
    suspended_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(),
        comment="停用: its administrators and teachers cannot use the console while set",
    )

    district: Mapped[District | None] = relationship()
    campuses: Mapped[list[Campus]] = relationship(
        back_populates="school",
        order_by="Campus.id",
        cascade="all, delete-orphan",
    )

    __table_args__ = (UniqueConstraint("district_id", "name"),)


class Campus(Base):
    """A campus (校区) of a school."""

    __tablename__ = "campuses"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(16), unique=True, comment="校区编码")

    school: Mapped[School] = relationship(back_populates="campuses")
    stages: Mapped[list[StageUnit]] = relationship(
        back_populates="campus",
        order_by="StageUnit.id",
        cascade="all, delete-orphan",
    )

    __table_args__ = (UniqueConstraint("school_id", "name"),)


class StageUnit(Base):
    """A stage (学段) of a campus: primary, junior or senior."""

    __tablename__ = "stages"

    id: Mapped[int] = mapped_column(primary_key=True)
    campus_id: Mapped[int] = mapped_column(ForeignKey("campuses.id"), index=True)
    stage: Mapped[Stage] = mapped_column(enum_by_value(Stage))
    school_system: Mapped[SchoolSystem] = mapped_column(enum_by_value(SchoolSystem))
    grade_name_overrides: Mapped[dict[str, Any]] = mapped_column(
        JSON,
        default=json_default,
        comment="年级命名: year-in-stage -> custom grade name",
    )

    campus: Mapped[Campus] = relationship(back_populates="stages")
    grades: Mapped[list[Grade]] = relationship(
        back_populates="stage_unit",
        order_by="Grade.enrollment_year.desc()",
        cascade="all, delete-orphan",
    )

    __table_args__ = (UniqueConstraint("campus_id", "stage"),)


class Grade(Base):
    """A grade (年级), identified by its enrollment year; its name is derived, never stored."""

    __tablename__ = "grades"

    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"), index=True)
    enrollment_year: Mapped[int] = mapped_column(Integer)
    school_system: Mapped[SchoolSystem] = mapped_column(enum_by_value(SchoolSystem))
    year_offset: Mapped[int] = mapped_column(
        Integer,
        default=0,
        comment="years promoted by hand ahead of the school-year boundary",
    )
    promoted_school_year: Mapped[int | None] = mapped_column(
        Integer,
        comment="the school year in which year_offset was set; it lapses at the next boundary",
    )
    graduated_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(),
        comment="set when graduated by hand before the boundary",
    )

    stage_unit: Mapped[StageUnit] = relationship(back_populates="grades")
    classes: Mapped[list[SchoolClass]] = relationship(
        back_populates="grade",
        order_by="SchoolClass.number",
    )

    __table_args__ = (UniqueConstraint("stage_id", "enrollment_year"),)


class SchoolClass(Rostered, Base):
    """A class (班级): administrative (in a grade) or teaching (教学班)."""

    __tablename__ = "school_classes"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    campus_id: Mapped[int] = mapped_column(ForeignKey("campuses.id"), index=True)
    grade_id: Mapped[int | None] = mapped_column(ForeignKey("grades.id"), index=True)
    kind: Mapped[ClassKind] = mapped_column(
        enum_by_value(ClassKind), default=ClassKind.ADMINISTRATIVE
    )
    number: Mapped[int | None] = mapped_column(Integer, comment="n in 三年级n班")
    name: Mapped[str | None] = mapped_column(String(64), comment="teaching classes only")
    subject: Mapped[str | None] = mapped_column(String(32), comment="teaching classes only")
    class_code: Mapped[str] = mapped_column(String(6), unique=True, comment="班级编码, e.g. gu22cm")
    graduation_year: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    grade: Mapped[Grade | None] = relationship(back_populates="classes")
    school: Mapped[School] = relationship()
    campus: Mapped[Campus] = relationship()

    __table_args__ = (UniqueConstraint("grade_id", "number"),)

    @property
    def scope(self) -> ClassScope:
        """Where the class sits, as the authority rules read it."""
        return ClassScope(id=self.id, school_id=self.school_id, grade_id=self.grade_id)


# --- performance (issue 10): member counts kept up to date by database triggers --------------
# Derived rows, written only by the triggers of migration 0013 and by `org.counts.rebuild`;
# `org.counts` reads them. No foreign keys: they follow the rows they are derived from.


class _CountedPerson:
    """Who is counted, as what, and for how many reasons (rows with none are deleted)."""

    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    refs: Mapped[int] = mapped_column(Integer)


class CountedSchoolPerson(_CountedPerson, Base):
    """A person counted in a school: teacher, student, or parent of an active student.

    `refs` is why they count (an active membership; for a parent, each child studying there).
    """

    __tablename__ = "org_school_people"

    school_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class CountedDistrictPerson(_CountedPerson, Base):
    """A person counted in a district; `refs` is the number of its schools they count in."""

    __tablename__ = "org_district_people"

    district_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class CountDelta(Base):
    """+1/-1 on a school's or district's count of a role; summed to read, compacted often.

    Appending instead of updating one counter row means concurrent writers never wait on, or
    deadlock over, a school's or a district's counter.
    """

    __tablename__ = "org_count_deltas"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(8), comment="school or district")
    scope_id: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    delta: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_org_count_deltas_scope", "scope", "scope_id", "role", "delta"),)


class CountsPause(Base):
    """While a row is here (inside `org.counts.rebuild`'s own transaction) the triggers rest."""

    __tablename__ = "org_counts_pause"

    id: Mapped[int] = mapped_column(primary_key=True)

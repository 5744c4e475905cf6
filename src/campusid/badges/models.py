"""Badges (扫码登录卡) and where a school allows them: by stage and year, from which networks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from campusid.db import Base, UTCDateTime


class Badge(Base):
    """One printed badge of one pupil: the QR code carries a random secret, only its SHA-256 is
    kept. A new badge revokes the pupil's earlier one; it lapses at the end of the school year."""

    __tablename__ = "badges"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True, comment="SHA-256, hex")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), comment="end of the school year")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class BadgeStageSetting(Base):
    """学段设置 · 启用扫码登录: the years of a stage whose pupils may use badges (no row: the
    default, 一、二年级 of a primary stage)."""

    __tablename__ = "badge_stage_settings"

    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"), primary_key=True)
    years: Mapped[list[Any]] = mapped_column(JSON, comment="years within the stage, 1 = first")


class BadgeSchoolSetting(Base):
    """The networks (CIDR ranges) a school's badges work from; none listed: any network."""

    __tablename__ = "badge_school_settings"

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), primary_key=True)
    networks: Mapped[str] = mapped_column(Text, default="", comment="one CIDR range a line")

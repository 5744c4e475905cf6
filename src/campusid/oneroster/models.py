"""Which schools' rosters an application may read (issue 22)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, event, inspect, select
from sqlalchemy.orm import InstanceState, Mapped, ORMExecuteState, Session, mapped_column

from campusid.accounts.models import User
from campusid.classes.models import ClassStudent, ClassTeacher
from campusid.db import Base, UTCDateTime, new_sourced_id
from campusid.org.models import SchoolClass


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


class RosterDeletion(Base):
    """An enrollment that ended (a student or teacher left a class): served as `tobedeleted`
    so that an application reading deltas (`dateLastModified>…`) learns of it."""

    __tablename__ = "oneroster_deletions"

    id: Mapped[int] = mapped_column(primary_key=True)
    sourced_id: Mapped[str] = mapped_column(String(36), index=True)
    school_id: Mapped[int] = mapped_column(Integer, index=True, comment="no key: it outlives rows")
    class_sourced_id: Mapped[str] = mapped_column(String(36))
    user_sourced_id: Mapped[str] = mapped_column(String(36))
    role: Mapped[str] = mapped_column(String(16), comment="student or teacher")
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime())


def _now(session: Session) -> datetime:
    clock = session.info.get("clock")
    return clock.now() if clock is not None else datetime.now(UTC)


def _remember(
    session: Session,
    rows: list[ClassStudent | ClassTeacher],
    *,
    class_ids: dict[int, int] | None = None,
) -> None:
    """A deletion row for each enrollment about to go (`class_ids`: the class each row was in,
    by `id(row)`, where it is not the row's class any more)."""
    now = _now(session)
    with session.no_autoflush:
        for row in rows:
            school_class = session.get(SchoolClass, (class_ids or {}).get(id(row), row.class_id))
            user_id = row.student_id if isinstance(row, ClassStudent) else row.teacher_id
            user = session.get(User, user_id)
            if school_class is None or user is None or not row.sourced_id:
                continue
            session.add(
                RosterDeletion(
                    sourced_id=row.sourced_id,
                    school_id=school_class.school_id,
                    class_sourced_id=school_class.sourced_id,
                    user_sourced_id=user.sourced_id,
                    role="student" if isinstance(row, ClassStudent) else "teacher",
                    deleted_at=now,
                )
            )


@event.listens_for(Session, "before_flush")
def _deleted_enrollments(session: Session, _context: Any, _instances: Any) -> None:
    """Enrollments deleted through the ORM (`db.delete(membership)`)."""
    rows = [o for o in session.deleted if isinstance(o, ClassStudent | ClassTeacher)]
    if rows:
        _remember(session, rows)


@event.listens_for(Session, "before_flush")
def _moved_enrollments(session: Session, _context: Any, _instances: Any) -> None:
    """换班 moves a pupil's place to another class in place (`classes.enrolment.move`); to an
    application the enrollment in the old class ended and one in the new class began: the old
    sourcedId is served as `tobedeleted` with its old class, the place gets a new sourcedId."""
    moved: list[ClassStudent | ClassTeacher] = []
    old_classes: dict[int, int] = {}
    for row in session.dirty:
        if not isinstance(row, ClassStudent | ClassTeacher) or not row.sourced_id:
            continue
        state: InstanceState[Any] = inspect(row)
        before = state.attrs.class_id.history.deleted
        if before and before[0] is not None and before[0] != row.class_id:
            moved.append(row)
            old_classes[id(row)] = before[0]
    if moved:
        _remember(session, moved, class_ids=old_classes)
        for row in moved:
            row.sourced_id = new_sourced_id()


@event.listens_for(Session, "do_orm_execute")
def _bulk_deleted_enrollments(state: ORMExecuteState) -> None:
    """Enrollments deleted by a statement (`delete(ClassStudent).where(...)`)."""
    if not state.is_delete or state.bind_mapper is None:
        return
    entity = state.bind_mapper.class_
    if entity not in (ClassStudent, ClassTeacher):
        return
    where = state.statement.whereclause  # type: ignore[attr-defined]
    query = select(entity) if where is None else select(entity).where(where)
    _remember(state.session, list(state.session.scalars(query)))

"""Engine, declarative base and the per-request session (one transaction per request)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, String, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from campusid.clock import Clock, as_utc

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware in UTC, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


class Base(DeclarativeBase):
    """The declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def new_sourced_id() -> str:
    """A fresh OneRoster `sourcedId` (issue 22): a random UUID, never the database id."""
    return str(uuid.uuid4())


class Rostered:
    """A record the OneRoster API serves (issue 22): a stable `sourcedId` of its own and the time
    it last changed (`dateLastModified`), stamped by the ORM on every insert or change (see
    `_stamp_rostered`), so `filter=dateLastModified>…` gives an application its deltas."""

    # Nullable in the schema only so that the migration adds them without rebuilding tables that
    # carry triggers (SQLite); the ORM always sets both and the migration filled existing rows.
    sourced_id: Mapped[str] = mapped_column(
        String(36),
        nullable=True,
        unique=True,
        index=True,
        default=new_sourced_id,
        comment="OneRoster sourcedId (UUID)",
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(),
        nullable=True,
        comment="OneRoster dateLastModified: set by the ORM on every change",
    )


@event.listens_for(Session, "before_flush")
def _stamp_rostered(session: Session, _context: Any, _instances: Any) -> None:
    """Stamp new and changed `Rostered` rows with the session's clock (the injected one, put in
    `session.info` by the session factory) before they are written."""
    clock: Clock | None = session.info.get("clock")
    now = clock.now() if clock is not None else datetime.now(UTC)
    for item in session.new:
        if isinstance(item, Rostered):
            if not item.sourced_id:
                item.sourced_id = new_sourced_id()
            item.updated_at = now
    for item in session.dirty:
        if isinstance(item, Rostered) and session.is_modified(item, include_collections=False):
            item.updated_at = now


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for the URL; SQLite gets real transactions, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy own BEGIN so SAVEPOINTs work (pysqlite's own handling breaks them).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front: a deferred transaction that read first
            # and writes later fails at once with "database is locked" when another wrote in
            # between (WAL snapshots cannot be upgraded); this way it waits its turn instead.
            # A transaction started by `begin_reading` is deferred: it reads a snapshot and
            # runs alongside every other reader and the one writer.
            if conn.get_execution_options().get(READING):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


# The execution option that marks a transaction as a reader (see `begin_reading`).
READING = "campusid_reading"

# SQLite's "database is locked" family: SQLITE_BUSY and its extended codes (5 + n * 256),
# SQLITE_BUSY_SNAPSHOT among them — a reader that tried to write after another connection did.
_SQLITE_BUSY = 5


def begin_reading(session: Session) -> None:
    """Start the session's transaction as a reader (SQLite: deferred, without the write lock).

    For work that is not expected to write: a page view, the account lookup of a sign-in. On
    SQLite every other transaction takes the write lock when it begins, so readers would queue
    behind each other; a deferred one reads its snapshot beside them. Should it write after all
    and find that another connection wrote since its snapshot, SQLite refuses at once
    (`is_write_conflict`); the web layer then runs the request again as a writer. Nothing to do on
    PostgreSQL, whose transactions never take a lock up front. Call it before the session's first
    statement.
    """
    if session.get_bind().dialect.name == "sqlite" and not session.in_transaction():
        session.connection(execution_options={READING: True})


def is_write_conflict(error: BaseException) -> bool:
    """Whether SQLite refused a write because the database was locked or the snapshot stale."""
    original = getattr(error, "orig", None)
    code = getattr(original, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == _SQLITE_BUSY


def make_session_factory(engine: Engine, clock: Clock | None = None) -> sessionmaker[Session]:
    """The factory the app uses for each request's session; its sessions know the clock (the
    ORM stamps `Rostered.updated_at` with it)."""
    info = {"clock": clock} if clock is not None else None
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True, info=info)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for a `with` block: committed when the block ends, however it ends, unless it
    raises, which rolls it back (`with transaction(factory) as db: ...`; a `return` inside the
    block commits too)."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()

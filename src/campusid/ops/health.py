"""/healthz and /readyz: is the process alive; can it serve (database, Redis, schema at head)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from campusid import migrate
from campusid.context import Services
from campusid.db import begin_reading

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    """One readiness check: its name, whether it passed, and a short reason (no secrets)."""

    name: str
    ok: bool
    detail: str = ""


@cache
def script_heads() -> frozenset[str]:
    """The newest revisions the packaged migrations define."""
    return frozenset(ScriptDirectory.from_config(migrate.alembic_config()).get_heads())


def database_heads(connection: Connection) -> frozenset[str]:
    """The revisions the database says it is at, read from Alembic's version table itself (a
    MigrationContext would log two info lines on every probe)."""
    if not inspect(connection).has_table("alembic_version"):  # Alembic's default name
        return frozenset()
    return frozenset(connection.scalars(text("SELECT version_num FROM alembic_version")))


def migrations_check(connection: Connection) -> Check:
    """Whether the database's schema is at the migrations' head."""
    current, wanted = database_heads(connection), script_heads()
    if current == wanted:
        return Check("migrations", True)
    return Check(
        "migrations",
        False,
        f"database at {','.join(sorted(current)) or 'nothing'}, code at {','.join(sorted(wanted))}",
    )


def readiness(services: Services) -> list[Check]:
    """Every check, in order: the database (and its schema), then Redis when configured."""
    checks: list[Check] = []
    try:
        # The app's own sessions (a reader: on SQLite it takes no write lock).
        with services.session_factory() as session:
            begin_reading(session)
            connection = session.connection()
            connection.execute(text("SELECT 1"))
            checks.append(Check("database", True))
            checks.append(migrations_check(connection))
    except Exception as exc:  # any failure is "not ready", named, never a trace to the client
        log.warning("readiness: database unreachable (%s)", type(exc).__name__)
        checks.append(Check("database", False, type(exc).__name__))
    if services.settings.redis_url:
        try:
            services.redis.ping()
            checks.append(Check("redis", True))
        except Exception as exc:
            log.warning("readiness: redis unreachable (%s)", type(exc).__name__)
            checks.append(Check("redis", False, type(exc).__name__))
    return checks

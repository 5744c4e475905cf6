"""`campusid db check`: is this database one the app can serve from (e.g. after a restore)?

Three checks: the schema is at the migrations' head; the tables match the models (Alembic's
comparison, as tests/functional/test_schema.py does); every table can be counted. The row
counts are printed (and written as JSON on request) so a restore can be compared with its
source.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from campusid.models import Base
from campusid.ops.health import migrations_check


@dataclass
class Report:
    """What `db check` found."""

    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems


def _differences(connection: object) -> list[str]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})  # type: ignore[arg-type]
    found = []
    for diff in compare_metadata(context, Base.metadata):
        # SQLite keeps no column comments; comments are no reason to refuse a restore.
        if isinstance(diff, list) and diff and diff[0][0] == "modify_comment":
            continue
        found.append(str(diff)[:200])
    return found


def check(engine: Engine) -> Report:
    """Check the database behind `engine` (read only)."""
    report = Report()
    with engine.connect() as connection:
        heads = migrations_check(connection)
        if not heads.ok:
            report.problems.append(f"migrations: {heads.detail}")
            return report
        report.problems.extend(f"schema: {d}" for d in _differences(connection))
        for table in sorted(Base.metadata.tables.values(), key=lambda t: t.name):
            try:
                count = connection.execute(select(func.count()).select_from(table)).scalar_one()
            except Exception as exc:
                report.problems.append(f"{table.name}: cannot be read ({type(exc).__name__})")
                continue
            report.counts[table.name] = int(count)
    return report


def compare_counts(report: Report, expected: dict[str, int]) -> None:
    """Add a problem for every table whose count differs from `expected` (a source's counts)."""
    for table, count in sorted(expected.items()):
        found = report.counts.get(table)
        if found != count:
            report.problems.append(f"{table}: {found} rows, expected {count}")

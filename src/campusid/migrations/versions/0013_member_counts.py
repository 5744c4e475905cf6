"""member counts kept by triggers (the district page reads them; issue 10)

Revision ID: 0013
Revises: 0004, 0005, 0006, 0007, 0008, 0011
Create Date: 2026-11-30 17:10:00

A school's and a district's teachers, students and parents, counted exactly and kept up to date
by row triggers on school_memberships, parent_links and schools (the same statements on SQLite
and PostgreSQL), so the district page reads a few thousand rows instead of counting a million
students and their parents on every view. See src/campusid/org/counts.py.
"""

# ruff: noqa: S608 - trigger DDL assembled from constants, never from input

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = ("0004", "0005", "0006", "0007", "0008", "0011")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAUSED = "EXISTS (SELECT 1 FROM org_counts_pause)"


def _add(table: str, key: dict[str, str], select_from: str = "", where: str = "true") -> list[str]:
    """Count one more reason for each matching key row (created with refs 0 when missing)."""
    columns = ", ".join(key)
    values = ", ".join(key.values())
    match = " AND ".join(f"{column} = {value}" for column, value in key.items())
    return [
        f"INSERT INTO {table} ({columns}, refs) SELECT {values}, 0 {select_from} "
        f"WHERE {where} ON CONFLICT DO NOTHING",
        f"UPDATE {table} SET refs = refs + 1 WHERE ({match_in(key, select_from, where)})"
        if select_from
        else f"UPDATE {table} SET refs = refs + 1 WHERE {match} AND {where}",
    ]


def _remove(
    table: str, key: dict[str, str], select_from: str = "", where: str = "true"
) -> list[str]:
    """Count one reason less; rows left with none are deleted (their delete triggers follow)."""
    match = (
        match_in(key, select_from, where)
        if select_from
        else " AND ".join(f"{column} = {value}" for column, value in key.items()) + f" AND {where}"
    )
    return [
        f"UPDATE {table} SET refs = refs - 1 WHERE {match}",
        f"DELETE FROM {table} WHERE refs <= 0 AND {match}",
    ]


def match_in(key: dict[str, str], select_from: str, where: str) -> str:
    """`(columns) IN (SELECT values FROM ... WHERE ...)` for keys drawn from another table."""
    columns = ", ".join(key)
    values = ", ".join(key.values())
    return f"({columns}) IN (SELECT {values} {select_from} WHERE {where})"


def _person(row: str) -> dict[str, str]:
    return {"school_id": f"{row}.school_id", "role": f"{row}.role", "user_id": f"{row}.user_id"}


def _membership(row: str, add: bool) -> list[str]:
    """A membership counted (active teacher or student) adds/removes the person, and a
    student's linked parents."""
    change = _add if add else _remove
    counted = f"{row}.active AND {row}.role IN ('student', 'teacher')"
    student = f"{row}.active AND {row}.role = 'student'"
    parents = {"school_id": f"{row}.school_id", "role": "'parent'", "user_id": "pl.parent_id"}
    return [
        *change("org_school_people", _person(row), where=counted),
        *change(
            "org_school_people",
            parents,
            select_from="FROM parent_links pl",
            where=f"pl.child_id = {row}.user_id AND {student}",
        ),
    ]


def _link(row: str, add: bool) -> list[str]:
    """A parent link counts the parent in every school where the child is an active student."""
    change = _add if add else _remove
    key = {"school_id": "m.school_id", "role": "'parent'", "user_id": f"{row}.parent_id"}
    return change(
        "org_school_people",
        key,
        select_from="FROM school_memberships m",
        where=f"m.user_id = {row}.child_id AND m.role = 'student' AND m.active",
    )


def _school_person(row: str, add: bool) -> list[str]:
    """A person counted in a school: +-1 on the school's count and a reason in its district."""
    change = _add if add else _remove
    key = {"district_id": "s.district_id", "role": f"{row}.role", "user_id": f"{row}.user_id"}
    return [
        "INSERT INTO org_count_deltas (scope, scope_id, role, delta) "
        f"VALUES ('school', {row}.school_id, {row}.role, {1 if add else -1})",
        *change(
            "org_district_people",
            key,
            select_from="FROM schools s",
            where=f"s.id = {row}.school_id AND s.district_id IS NOT NULL",
        ),
    ]


def _district_person(row: str, add: bool) -> list[str]:
    return [
        "INSERT INTO org_count_deltas (scope, scope_id, role, delta) "
        f"VALUES ('district', {row}.district_id, {row}.role, {1 if add else -1})"
    ]


def _school_moved(distinct: str) -> list[str]:
    """A school moved to another district: its people leave the old one and join the new."""
    moved = f"OLD.district_id {distinct} NEW.district_id"
    people = "FROM org_school_people p"
    return [
        *_remove(
            "org_district_people",
            {"district_id": "OLD.district_id", "role": "p.role", "user_id": "p.user_id"},
            select_from=people,
            where=f"p.school_id = NEW.id AND OLD.district_id IS NOT NULL AND {moved}",
        ),
        *_add(
            "org_district_people",
            {"district_id": "NEW.district_id", "role": "p.role", "user_id": "p.user_id"},
            select_from=people,
            where=f"p.school_id = NEW.id AND NEW.district_id IS NOT NULL AND {moved}",
        ),
    ]


def _triggers(distinct: str) -> list[tuple[str, str, str, list[str]]]:
    """(name, event, table, statements) of every trigger."""
    return [
        ("org_counts_m_ins", "INSERT", "school_memberships", _membership("NEW", True)),
        ("org_counts_m_del", "DELETE", "school_memberships", _membership("OLD", False)),
        (
            "org_counts_m_upd",
            "UPDATE OF school_id, user_id, role, active",
            "school_memberships",
            [*_membership("OLD", False), *_membership("NEW", True)],
        ),
        ("org_counts_l_ins", "INSERT", "parent_links", _link("NEW", True)),
        ("org_counts_l_del", "DELETE", "parent_links", _link("OLD", False)),
        (
            "org_counts_l_upd",
            "UPDATE OF parent_id, child_id",
            "parent_links",
            [*_link("OLD", False), *_link("NEW", True)],
        ),
        ("org_counts_sp_ins", "INSERT", "org_school_people", _school_person("NEW", True)),
        ("org_counts_sp_del", "DELETE", "org_school_people", _school_person("OLD", False)),
        ("org_counts_dp_ins", "INSERT", "org_district_people", _district_person("NEW", True)),
        ("org_counts_dp_del", "DELETE", "org_district_people", _district_person("OLD", False)),
        ("org_counts_s_upd", "UPDATE OF district_id", "schools", _school_moved(distinct)),
    ]


def upgrade() -> None:
    op.create_table(
        "org_school_people",
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("refs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("school_id", "role", "user_id", name=op.f("pk_org_school_people")),
    )
    op.create_table(
        "org_district_people",
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("refs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "district_id", "role", "user_id", name=op.f("pk_org_district_people")
        ),
    )
    op.create_table(
        "org_count_deltas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False, comment="school or district"),
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_count_deltas")),
    )
    op.create_index(
        "ix_org_count_deltas_scope",
        "org_count_deltas",
        ["scope", "scope_id", "role", "delta"],
        unique=False,
    )
    op.create_table(
        "org_counts_pause",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_counts_pause")),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, event, table, statements in _triggers("IS DISTINCT FROM" if postgres else "IS NOT"):
        body = ";\n  ".join(statements)
        if postgres:
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                f"BEGIN\n  IF {PAUSED} THEN RETURN NULL; END IF;\n  {body};\n"
                "  RETURN NULL;\nEND $$"
            )
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {name}()"
            )
        else:
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW "
                f"WHEN NOT {PAUSED}\nBEGIN\n  {body};\nEND"
            )
    # Count what is already there; the triggers of org_school_people fill in the rest.
    op.execute(
        "INSERT INTO org_school_people (school_id, role, user_id, refs) "
        "SELECT school_id, role, user_id, 1 FROM school_memberships "
        "WHERE active AND role IN ('student', 'teacher')"
    )
    op.execute(
        "INSERT INTO org_school_people (school_id, role, user_id, refs) "
        "SELECT m.school_id, 'parent', pl.parent_id, count(*) FROM school_memberships m "
        "JOIN parent_links pl ON pl.child_id = m.user_id "
        "WHERE m.active AND m.role = 'student' GROUP BY m.school_id, pl.parent_id"
    )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, _event, table, _statements in _triggers(""):
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgres else ""))
        if postgres:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table("org_counts_pause")
    op.drop_index("ix_org_count_deltas_scope", table_name="org_count_deltas")
    op.drop_table("org_count_deltas")
    op.drop_table("org_district_people")
    op.drop_table("org_school_people")

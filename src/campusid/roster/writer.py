"""Writing a checked import plan quickly: new accounts and everything only they touch, in bulk.

`members.batch.apply` writes any plan with multi-row INSERTs through SQLAlchemy; for an import
of 100,000 new students that costs more than reading and checking the file (per-row parameter
processing, and on PostgreSQL three row triggers a membership keeping the organisation counts).
This module writes the part of a plan that concerns only the accounts it creates — the accounts,
their memberships, class places and the parent links between two of them — with COPY on
PostgreSQL and `executemany` on SQLite, in the caller's transaction, and then hands the rest
(existing accounts attached, moved, bound, linked) to `apply` unchanged, which enrols and moves
existing students through `classes.enrolment`, as every other way in does.

The identifiers are encrypted exactly as the ORM would (the columns' own bind processing, so
AES-SIV under the column's context). The count triggers are paused (`org_counts_pause`, a row
only this transaction sees until it commits) while the new accounts' rows go in, and their
counted rows are added directly: a new account has no other school, membership or link, so
each is counted once, in this school and its district, exactly what the triggers would have
added one row at a time. Everything else is written with the triggers on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, text
from sqlalchemy.orm import Session

from campusid.accounts.models import SchoolMembership, SchoolRole, User
from campusid.classes.enrolment import Act
from campusid.classes.models import ClassStudent
from campusid.families.models import ParentLink
from campusid.members.batch import Plan, apply, assign_usernames, new_account_row
from campusid.org.models import (
    CountDelta,
    CountedDistrictPerson,
    CountedSchoolPerson,
    CountsPause,
    School,
)

COUNTED = (SchoolRole.STUDENT, SchoolRole.TEACHER)


def write_plan(
    db: Session, *, plan: Plan, school: School, now: datetime, act: Act | None = None
) -> dict[str, int]:
    """Write a checked plan in the current transaction; returns the summary counts.

    Existing students are enrolled and moved by `apply`, that is by `classes.enrolment` (`act`
    is who acts, for its audit row and notices): this module has no rules of its own for them.
    """
    if not plan.new_accounts:
        return apply(db, plan=plan, school=school, now=now, act=act)
    fresh = {id(a) for a in plan.new_accounts}
    assign_usernames(db, plan.new_accounts)
    conn = db.connection()
    db.add(CountsPause(id=1))
    db.flush()
    ids = _insert_accounts(
        conn,
        [new_account_row(a, school.default_credential_id, now) for a in plan.new_accounts],
        sealed=plan.sealed,
    )
    for account, user_id in zip(plan.new_accounts, ids, strict=True):
        account.user_id = user_id

    joins = [(a.id, r) for a, r in plan.joins if id(a) in fresh]
    _bulk_insert(
        conn,
        SchoolMembership,
        (
            {
                "school_id": school.id,
                "user_id": user_id,
                "role": role,
                "campus_id": None,
                "active": True,
                "joined_at": now,
            }
            for user_id, role in joins
        ),
    )
    _bulk_insert(
        conn,
        ClassStudent,
        (
            {
                "class_id": class_id,
                "student_id": a.id,
                "student_number": number,
                "joined_at": now,
                "updated_at": now,  # OneRoster dateLastModified (issue 22)
            }
            for a, class_id, number in plan.placements
            if id(a) in fresh
        ),
    )
    links = [(p.id, c.id, r) for p, c, r in plan.links if id(p) in fresh and id(c) in fresh]
    _bulk_insert(
        conn,
        ParentLink,
        (
            {
                "parent_id": parent,
                "child_id": child,
                "relation": relation,
                "created_at": now,
                "updated_at": now,
            }
            for parent, child, relation in links
        ),
    )
    _count_fresh(conn, school, joins, [(parent, child) for parent, child, _ in links])
    db.execute(delete(CountsPause))

    rest = Plan(
        joins=[(a, r) for a, r in plan.joins if id(a) not in fresh],
        placements=[p for p in plan.placements if id(p[0]) not in fresh],
        moves=list(plan.moves),
        binds=list(plan.binds),
        links=[link for link in plan.links if id(link[0]) not in fresh or id(link[1]) not in fresh],
    )
    apply(db, plan=rest, school=school, now=now, act=act)
    db.expire_all()
    return plan.summary()


def _count_fresh(
    conn: Connection,
    school: School,
    joins: list[tuple[int, SchoolRole]],
    links: list[tuple[int, int]],
) -> None:
    """What the count triggers add for accounts that exist nowhere else (see the module doc)."""
    people = [(role.value, user_id, 1) for user_id, role in joins if role in COUNTED]
    students = {user_id for user_id, role in joins if role is SchoolRole.STUDENT}
    parents = Counter(parent for parent, child in links if child in students)
    people += [("parent", parent, refs) for parent, refs in parents.items()]
    _bulk_insert(
        conn,
        CountedSchoolPerson,
        ({"school_id": school.id, "role": r, "user_id": u, "refs": n} for r, u, n in people),
    )
    deltas = [
        ("school", school.id, role, n) for role, n in Counter(r for r, _, _ in people).items()
    ]
    if school.district_id is not None:
        _bulk_insert(
            conn,
            CountedDistrictPerson,
            (
                {"district_id": school.district_id, "role": r, "user_id": u, "refs": 1}
                for r, u, _ in people
            ),
        )
        deltas += [("district", school.district_id, role, n) for _, _, role, n in deltas]
    if deltas:
        conn.execute(
            insert(CountDelta),
            [{"scope": s, "scope_id": i, "role": r, "delta": n} for s, i, r, n in deltas],
        )


def _prepared(
    conn: Connection,
    table: Table,
    rows: Iterable[dict[str, Any]],
    *,
    with_id: bool = False,
    known: dict[str, dict[str, Any]] | None = None,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The columns and the rows' values as the driver gets them (defaults applied, encrypted).

    `known` holds values some columns' processing already gave (by column name, then value:
    the identifiers encrypted for the look-ups, `Plan.sealed`); they are not computed again.
    """
    generated = len(table.primary_key.columns) == 1 and not with_id  # an id the database picks
    columns = [c for c in table.columns if not (generated and c.primary_key)]
    for column in columns:
        default = column.default
        if default is not None and not (default.is_scalar or default.is_callable):
            raise ValueError(f"{table.name}.{column.name}: only scalar or callable defaults")
    processors = [c.type.dialect_impl(conn.dialect).bind_processor(conn.dialect) for c in columns]
    defaults = [
        c.default.arg if c.default is not None else None  # type: ignore[attr-defined]
        for c in columns
    ]
    names = [c.name for c in columns]
    rows = list(rows)
    # Column by column: one pass of the rows each, and a value the column holds on many rows
    # (the import's one `now`, a school id, a role) converted once.
    values: list[list[Any]] = []
    for column, name, default, process in zip(columns, names, defaults, processors, strict=True):
        if column.default is not None and column.default.is_callable:
            # a fresh value a row (a OneRoster sourcedId): SQLAlchemy's wrapper takes a context
            make = column.default.arg  # type: ignore[attr-defined]
            cells = [row[name] if name in row else make(None) for row in rows]
        else:
            cells = [row.get(name, default) for row in rows]
        if process is not None:
            cells = _converted(cells, process, (known or {}).get(name, {}))
        values.append(cells)
    return names, list(zip(*values, strict=True))


class _Memo(dict[Any, Any]):
    """One column's values converted by its processing, each distinct value once (None stays
    None); a value not met before is converted when first asked for."""

    def __init__(self, process: Callable[[Any], Any], known: dict[Any, Any]) -> None:
        super().__init__(known)
        self[None] = None
        self.process = process

    def __missing__(self, value: Any) -> Any:
        converted = self[value] = self.process(value)
        return converted


def _converted(cells: list[Any], process: Callable[[Any], Any], known: dict[Any, Any]) -> list[Any]:
    """`process` of every cell, through a `_Memo` seeded with `known`: a value met before is
    looked up at the speed of `map`, not of a Python loop (a column of 100,000 rows holds the
    import's one `now` 100,000 times)."""
    memo = _Memo(process, known)
    try:
        return list(map(memo.__getitem__, cells))
    except TypeError:  # a value that is not hashable: those converted one by one
        return [memo[value] if _hashable(value) else process(value) for value in cells]


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _bulk_insert(
    conn: Connection,
    model: Any,
    rows: Iterable[dict[str, Any]],
    *,
    with_id: bool = False,
    known: dict[str, dict[str, Any]] | None = None,
) -> None:
    """COPY on PostgreSQL, executemany on SQLite, into a model's table; in the transaction."""
    table: Table = model.__table__
    names, values = _prepared(conn, table, rows, with_id=with_id, known=known)
    if values:
        _write(conn, table.name, names, values)


def _write(
    conn: Connection, table: str, names: list[str], values: Sequence[tuple[Any, ...]]
) -> None:
    raw: Any = conn.connection.dbapi_connection
    columns = ", ".join(names)
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
    else:
        marks = ", ".join("?" * len(names))
        cursor = raw.cursor()
        try:
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)  # noqa: S608
        finally:
            cursor.close()


def _insert_accounts(
    conn: Connection, rows: list[dict[str, Any]], *, sealed: dict[str, dict[str, Any]]
) -> list[int]:
    """Insert the new accounts with ids taken up front; returns the ids in order (`sealed`:
    identifiers already encrypted, see `_prepared`)."""
    if conn.dialect.name == "postgresql":
        ids = sorted(
            conn.scalars(
                text(
                    "SELECT nextval(pg_get_serial_sequence('users', 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"n": len(rows)},
            )
        )
        rest = 0
    else:
        # The first row takes the next rowid the usual way, and with it the database's write
        # lock: nobody else inserts until we commit, and every id above it is free.
        first = conn.execute(insert(User), rows[:1]).inserted_primary_key
        assert first is not None
        ids = [int(first[0]) + offset for offset in range(len(rows))]
        rest = 1  # that first row is in already
    if rows[rest:]:
        _bulk_insert(
            conn,
            User,
            (dict(r, id=i) for r, i in zip(rows[rest:], ids[rest:], strict=True)),
            with_id=True,
            known=sealed,
        )
    return [int(i) for i in ids]

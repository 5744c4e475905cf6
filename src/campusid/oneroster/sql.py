"""The binding's `filter` and `sort` translated to SQL (issue 22), exactly as `query.py` applies
them to records, so that a collection pages in the database.

A collection maps the fields it can translate to `Text` (a column or expression served as is),
`Stamp` (a timestamp served as `dateLastModified`) or `Const` (the same value, or no value, on
every record). Anything else (a field only Python computes, `~` on text that may not be ASCII,
a sort on a timestamp) raises `UntranslatableError`, and the caller falls back to filtering the
records in Python: slower, never different.

Text compares as Python compares `str` (by code point): PostgreSQL with the "C" collation,
SQLite with its default BINARY one. `dateLastModified` compares as a string in Python; as
`stamp()` is monotonic, `stamp(t) > v` is `t >= T` for the first millisecond T whose stamp is
greater than v, found by bisection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, literal, or_, true
from sqlalchemy.sql.elements import UnaryExpression

from campusid.oneroster.query import Clause, Filter


class UntranslatableError(Exception):
    """The filter or sort needs Python (the caller falls back to it)."""


@dataclass(frozen=True)
class Text:
    """A text field served as the expression's value (NULL: the field is absent)."""

    expr: Any  # a column or SQL expression
    ascii: bool = False  # only ASCII values ever: `~` (case-insensitive) can be done in SQL


@dataclass(frozen=True)
class Stamp:
    """A field served as `stamp(expr)` (dateLastModified)."""

    expr: Any  # a timestamp column


@dataclass(frozen=True)
class Const:
    """A field with the same value on every record (None: absent, a list or an object)."""

    value: str | None


Field = Text | Stamp | Const

_FIRST = datetime(1000, 1, 1, tzinfo=UTC)
_LAST = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _first_ms(holds: Any) -> datetime | None:
    """The first millisecond t (years 1000-9999) for which the monotonic `holds(t)` is true."""
    from campusid.oneroster.service import stamp

    if not holds(stamp(_LAST)):
        return None
    lo, hi = 0, int((_LAST - _FIRST) / timedelta(milliseconds=1))
    while lo < hi:
        mid = (lo + hi) // 2
        if holds(stamp(_FIRST + timedelta(milliseconds=mid))):
            hi = mid
        else:
            lo = mid + 1
    return _FIRST + timedelta(milliseconds=lo)


def _stamp_clause(expr: ColumnElement[Any], op: str, value: str) -> ColumnElement[bool]:
    if op == "~":
        raise UntranslatableError(op)
    column = func.coalesce(expr, literal(_EPOCH, expr.type))  # stamp(None) is 1970
    after = _first_ms(lambda s: s > value)  # stamp(t) > value  <=>  t >= after
    from_ = _first_ms(lambda s: s >= value)  # stamp(t) >= value  <=>  t >= from_

    def at_least(t: datetime | None) -> ColumnElement[bool]:
        return false() if t is None else column >= literal(t, expr.type)

    def below(t: datetime | None) -> ColumnElement[bool]:
        return true() if t is None else column < literal(t, expr.type)

    return {
        ">": lambda: at_least(after),
        ">=": lambda: at_least(from_),
        "<": lambda: below(from_),
        "<=": lambda: below(after),
        "=": lambda: and_(at_least(from_), below(after)),
        "!=": lambda: or_(below(from_), at_least(after)),
    }[op]()


def _text(expr: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    return expr.collate("C") if dialect == "postgresql" else expr


def _text_clause(field: Text, op: str, value: str, dialect: str) -> ColumnElement[bool]:
    expr = field.expr
    if op == "=":
        return expr == value
    if op == "!=":
        return or_(expr.is_(None), expr != value)
    if op == "~":
        if not (field.ascii and value.isascii()):
            raise UntranslatableError(op)
        return func.lower(expr).contains(value.lower(), autoescape=True)
    ordered = _text(expr, dialect)
    return {
        ">": ordered > value,
        ">=": ordered >= value,
        "<": ordered < value,
        "<=": ordered <= value,
    }[op]


def _clause(clause: Clause, fields: Mapping[str, Field], dialect: str) -> ColumnElement[bool]:
    field = fields.get(clause.field)
    if field is None:
        raise UntranslatableError(clause.field)
    if isinstance(field, Const):
        probe = Clause("value", clause.op, clause.value)
        return true() if probe.test({"value": field.value}) else false()
    if isinstance(field, Stamp):
        return _stamp_clause(field.expr, clause.op, clause.value)
    return _text_clause(field, clause.op, clause.value, dialect)


def condition(
    where: Filter | None, fields: Mapping[str, Field], dialect: str
) -> ColumnElement[bool] | None:
    """The filter as a where-clause (None without a filter)."""
    if where is None:
        return None
    parts = [_clause(c, fields, dialect) for c in where.clauses]
    return or_(*parts) if where.join == "OR" else and_(*parts)


def order_by(
    sort: str | None,
    descending: bool,
    fields: Mapping[str, Field],
    tiebreak: Any,
    dialect: str,
) -> list[ColumnElement[Any] | UnaryExpression[Any]]:
    """ORDER BY as `Query.apply` sorts: without `sort` the collection's own order (`tiebreak`,
    an expression or a list of them); with it, absent values last, ties in the collection's
    order; `desc` reverses all of it."""
    ties = list(tiebreak) if isinstance(tiebreak, list | tuple) else [tiebreak]
    if sort is None:
        return ties
    field = fields.get(sort)
    if field is None or isinstance(field, Stamp):
        raise UntranslatableError(sort)
    if isinstance(field, Const):
        return [t.desc() if descending else t.asc() for t in ties]
    key = _text(field.expr, dialect)
    if descending:
        return [key.desc().nulls_first(), *(t.desc() for t in ties)]
    return [key.asc().nulls_last(), *(t.asc() for t in ties)]

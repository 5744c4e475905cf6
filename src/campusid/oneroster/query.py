"""The binding's query parameters (issue 22): `filter`, `sort`/`orderBy`, `fields`, `limit` and
`offset`, applied to a collection of 1.2 records.

`filter` is `field<op>'value'` with `=`, `!=`, `>`, `>=`, `<`, `<=` or `~` (contains), joined
by ` AND ` or ` OR ` (one kind of join per filter, as the binding allows); values compare as
strings, which orders ISO 8601 dates and times correctly (`dateLastModified>'2026-09-01'`).
A bad parameter is a `QueryError` with the binding's code minor (answered 400).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Record = dict[str, Any]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

_CLAUSE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_.]*)\s*(!=|>=|<=|=|>|<|~)\s*'((?:[^']|'')*)'\s*$")
_JOIN = re.compile(r"\s+(AND|OR)\s+")


class QueryError(Exception):
    """A query parameter the binding refuses (400 with `code_minor`)."""

    def __init__(self, code_minor: str, description: str) -> None:
        super().__init__(description)
        self.code_minor = code_minor
        self.description = description


@dataclass(frozen=True)
class Clause:
    """One comparison of a filter."""

    field: str
    op: str
    value: str

    def test(self, record: Record) -> bool:
        """Whether the record's field satisfies it (an absent field satisfies only `!=`)."""
        actual = _scalar(record, self.field)
        if actual is None:
            return self.op == "!="
        text = actual if isinstance(actual, str) else str(actual)
        compare: dict[str, Callable[[str, str], bool]] = {
            "=": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
            "~": lambda a, b: b.lower() in a.lower(),
        }
        return compare[self.op](text, self.value)


def _scalar(record: Record, path: str) -> Any:
    """A scalar field, or a GUIDRef's member by a dotted path (`school.sourcedId`)."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value if not isinstance(value, dict | list) else None


@dataclass(frozen=True)
class Filter:
    """A parsed filter: its clauses and how they join (`AND` or `OR`); called on a record, it
    tells whether the record matches (the SQL translation in `sql.py` must agree with it)."""

    clauses: tuple[Clause, ...]
    join: str = "AND"

    def __call__(self, record: Record) -> bool:
        if self.join == "OR":
            return any(c.test(record) for c in self.clauses)
        return all(c.test(record) for c in self.clauses)


def parse_filter(text: str | None, fields: frozenset[str]) -> Filter | None:
    """The filter as a predicate, or None without one; unknown fields and bad syntax refused."""
    if text is None or not text.strip():
        return None
    parts = _JOIN.split(text.strip())
    clauses = [parts[i] for i in range(0, len(parts), 2)]
    joins = {parts[i] for i in range(1, len(parts), 2)}
    if len(joins) > 1:
        raise QueryError("invalid_filter_field", "A filter may join with AND or with OR, not both.")
    parsed: list[Clause] = []
    for clause in clauses:
        match = _CLAUSE.match(clause)
        if match is None:
            raise QueryError("invalid_filter_field", f"Cannot read the filter clause: {clause!r}.")
        name, op, value = match.groups()
        if name.split(".")[0] not in fields:
            raise QueryError("invalid_filter_field", f"Unknown filter field: {name}.")
        parsed.append(Clause(name, op, value.replace("''", "'")))
    return Filter(tuple(parsed), "OR" if joins == {"OR"} else "AND")


def parse_fields(text: str | None, fields: frozenset[str]) -> list[str] | None:
    """The fields asked for, or None for all; unknown ones refused."""
    if text is None or not text.strip():
        return None
    asked = [f.strip() for f in text.split(",") if f.strip()]
    unknown = [f for f in asked if f not in fields]
    if unknown:
        raise QueryError("invalid_selection_field", f"Unknown field: {', '.join(unknown)}.")
    return asked


def parse_paging(limit: str | None, offset: str | None) -> tuple[int, int]:
    """(limit, offset): limit 1..1000 (100 unless asked), offset from 0."""
    try:
        n = DEFAULT_LIMIT if limit in (None, "") else int(limit)
        start = 0 if offset in (None, "") else int(offset)
    except ValueError as exc:
        raise QueryError("invaliddata", "limit and offset must be whole numbers.") from exc
    if n < 1 or start < 0:
        raise QueryError("invaliddata", "limit must be at least 1 and offset at least 0.")
    return min(n, MAX_LIMIT), start


@dataclass(frozen=True)
class Query:
    """The parsed query parameters of one collection request."""

    where: Filter | None
    sort: str | None
    descending: bool
    fields: list[str] | None
    limit: int
    offset: int

    @classmethod
    def parse(cls, params: dict[str, str], fields: frozenset[str]) -> Query:
        """Read the parameters against the collection's fields."""
        sort = params.get("sort") or None
        if sort is not None and sort.split(".")[0] not in fields:
            raise QueryError("invalid_sort_field", f"Unknown sort field: {sort}.")
        order = (params.get("orderBy") or "asc").lower()
        if order not in ("asc", "desc"):
            raise QueryError("invalid_sort_field", "orderBy must be asc or desc.")
        limit, offset = parse_paging(params.get("limit"), params.get("offset"))
        return cls(
            where=parse_filter(params.get("filter"), fields),
            sort=sort,
            descending=order == "desc",
            fields=parse_fields(params.get("fields"), fields),
            limit=limit,
            offset=offset,
        )

    def apply(self, records: list[Record]) -> tuple[list[Record], int]:
        """(the page, the total that matched the filter)."""
        rows = [r for r in records if self.where(r)] if self.where else list(records)
        if self.sort:
            key = self.sort
            rows.sort(key=lambda r: (_scalar(r, key) is None, str(_scalar(r, key) or "")))
            if self.descending:
                rows.reverse()
        page = rows[self.offset : self.offset + self.limit]
        return [self.select(r) for r in page], len(rows)

    def select(self, record: Record) -> Record:
        """The record with only the fields asked for."""
        if self.fields is None:
            return record
        return {k: record[k] for k in self.fields if k in record}

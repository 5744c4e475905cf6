"""审计日志: who may read which audit events, the filters, the pages and the export.

Scope (default deny):
- a platform administrator reads every event;
- a school administrator reads the events of the schools they administer: events recorded with
  one of those schools (`school_id`), and events recorded without a school (sign-ins, own
  password and phone changes, refused requests) whose target is a *current* member of one of
  those schools. An event recorded for another school stays with that school, even when its
  target is also a member here; a former member's school-less events leave with them;
- nobody else reads the trail (their own sign-ins and changes are on 账号安全).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import ColumnElement, and_, false, func, or_, select, true, union_all
from sqlalchemy.orm import Session

from campusid.accounts import service as accounts
from campusid.accounts.models import User
from campusid.audit import details, labels
from campusid.audit.actions import AuditAction
from campusid.audit.models import AuditEvent
from campusid.audit.service import ClientInfo, record
from campusid.clock import SHANGHAI
from campusid.i18n import N_, translations
from campusid.identifiers import mask_login
from campusid.security.authz import AuditScope

PAGE_SIZE = 50
# The page counts at most this many matching events (a count of everything grows with the
# trail); past it, it says "more than" and pages through the newest COUNT_CAP.
COUNT_CAP = 10_000
EXPORT_LIMIT = 10_000
MAX_PERSONS = 50
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _visible_parts(scope: AuditScope) -> list[ColumnElement[bool]]:
    """The reader's scope as disjoint conditions, each of which an index reads newest first:
    every event; or each administered school's events, and the school-less events of the
    schools' current members (no part at all: nothing is visible)."""
    if scope.all_schools:
        return [true()]
    if not scope.school_ids:
        return []
    members = accounts.current_member_ids(school_ids=scope.school_ids)
    return [
        *(AuditEvent.school_id == school_id for school_id in sorted(scope.school_ids)),
        and_(AuditEvent.school_id.is_(None), AuditEvent.target_user_id.in_(members)),
    ]


def _visible(scope: AuditScope) -> ColumnElement[bool]:
    parts = _visible_parts(scope)
    return or_(*parts) if parts else false()


@dataclass(frozen=True)
class AuditFilter:
    """What the reader asked for; every field optional."""

    person_ids: tuple[int, ...] = ()
    action: str = ""
    route: str = ""
    outcome: str = ""
    since: date | None = None
    until: date | None = None

    def query_params(self) -> dict[str, str]:
        """The filter as URL parameters (person ids only: identifiers never go in URLs)."""
        params = {
            "who": ",".join(str(i) for i in self.person_ids),
            "action": self.action,
            "route": self.route,
            "outcome": self.outcome,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {k: v for k, v in params.items() if v}

    def describe(self) -> dict[str, Any]:
        """What the filter held, for the export's audit event (no identifier, no name)."""
        return {"filter": self.query_params()}


MAX_ID = 2**31 - 1


def parse_filter(
    *,
    who: str | None,
    action: str | None,
    route: str | None,
    outcome: str | None,
    since: str | None,
    until: str | None,
) -> tuple[AuditFilter, list[str]]:
    """Read a filter from form or URL values; returns it and what was wrong (in Chinese)."""
    problems: list[str] = []
    person_ids: list[int] = []
    for part in (who or "").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or not 0 < int(part) <= MAX_ID or len(person_ids) >= MAX_PERSONS:
            problems.append(N_("人员参数不正确"))
            person_ids = []
            break
        person_ids.append(int(part))
    action = (action or "").strip()
    if action and action not in labels.ACTION_LABELS:
        problems.append(N_("没有这种操作"))
        action = ""
    route = (route or "").strip()
    if route and route not in labels.ROUTE_LABELS:
        problems.append(N_("没有这种途径"))
        route = ""
    outcome = (outcome or "").strip()
    if outcome and outcome not in labels.OUTCOME_LABELS:
        problems.append(N_("没有这种结果"))
        outcome = ""
    days: list[date | None] = []
    for value in (since, until):
        value = (value or "").strip()
        try:
            days.append(date.fromisoformat(value) if value else None)
        except ValueError:
            problems.append(N_("日期格式不正确，请按 年-月-日 填写"))
            days.append(None)
    start, end = days
    if start and end and start > end:
        problems.append(N_("开始日期不能晚于结束日期"))
        start = end = None
    return (
        AuditFilter(
            person_ids=tuple(person_ids),
            action=action,
            route=route,
            outcome=outcome,
            since=start,
            until=end,
        ),
        problems,
    )


def _local_midnight(day: date) -> datetime:
    """The UTC instant a Shanghai day starts (events are stored in UTC)."""
    return datetime.combine(day, time.min, tzinfo=SHANGHAI).astimezone(UTC)


def _conditions(scope: AuditScope, wanted: AuditFilter) -> list[ColumnElement[bool]]:
    return [_visible(scope), *_filter_conditions(wanted)]


def _filter_conditions(wanted: AuditFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if wanted.person_ids:
        conditions.append(
            or_(
                AuditEvent.actor_id.in_(wanted.person_ids),
                AuditEvent.target_user_id.in_(wanted.person_ids),
            )
        )
    if wanted.action:
        conditions.append(AuditEvent.action == wanted.action)
    if wanted.route:
        conditions.append(AuditEvent.route == wanted.route)
    if wanted.outcome:
        conditions.append(AuditEvent.outcome == wanted.outcome)
    if wanted.since:
        conditions.append(AuditEvent.occurred_at >= _local_midnight(wanted.since))
    if wanted.until:
        conditions.append(AuditEvent.occurred_at < _local_midnight(wanted.until + timedelta(1)))
    return conditions


def find_persons(db: Session, *, scope: AuditScope, query: str) -> list[int]:
    """People the reader may filter by: matched by any identifier or exact name.

    Only people who appear in an event the reader may see are returned, so the search tells a
    school administrator nothing about accounts outside their trail.
    """
    text = query.strip()[:64]
    if not text:
        return []
    candidates: set[int] = set()
    user = accounts.find_by_login(db, text)
    if user is not None:
        candidates.add(user.id)
    candidates.update(db.scalars(select(User.id).where(User.real_name == text).limit(MAX_PERSONS)))
    if not candidates:
        return []
    ids = sorted(candidates)
    seen = select(AuditEvent.id).where(
        _visible(scope),
        or_(AuditEvent.actor_id == User.id, AuditEvent.target_user_id == User.id),
    )
    return list(
        db.scalars(select(User.id).where(User.id.in_(ids), seen.exists()).order_by(User.id))
    )


@dataclass(frozen=True)
class Person:
    """A person as a row of the trail shows them."""

    id: int
    real_name: str
    username: str


@dataclass
class EventRow:
    """One event, ready for the page or the export: labels in Chinese (translated where
    shown), the detail as sentences in the reader's language, made safe."""

    event: AuditEvent
    actor: Person | None
    target: Person | None
    action_label: str
    route_label: str
    outcome_label: str
    role_label: str
    detail: list[str]


@dataclass
class TrailPage:
    """One page of events. `total` is counted up to a cap: when more events match (`capped`),
    it is the cap, and only the newest `total` events can be paged through."""

    rows: list[EventRow]
    total: int
    page: int
    pages: int
    persons: list[Person] = field(default_factory=list)
    capped: bool = False


def _persons(db: Session, ids: set[int]) -> dict[int, Person]:
    if not ids:
        return {}
    return {
        uid: Person(uid, name, username)
        for uid, name, username in db.execute(
            select(User.id, User.real_name, User.username).where(User.id.in_(ids))
        )
    }


def _rows(db: Session, events: list[AuditEvent], language: str) -> list[EventRow]:
    catalog = translations(language)
    ids = {e.actor_id for e in events if e.actor_id} | {
        e.target_user_id for e in events if e.target_user_id
    }
    people = _persons(db, ids)
    return [
        EventRow(
            event=e,
            actor=people.get(e.actor_id) if e.actor_id else None,
            target=people.get(e.target_user_id) if e.target_user_id else None,
            action_label=labels.action_label(e.action),
            route_label=labels.route_label(e.route),
            outcome_label=labels.outcome_label(e.outcome),
            role_label=labels.role_label(e.actor_role),
            detail=details.describe(e.detail, catalog),
        )
        for e in events
    ]


def _count(
    db: Session, parts: list[ColumnElement[bool]], filters: list[ColumnElement[bool]], cap: int
) -> tuple[int, list[ColumnElement[bool]]]:
    """How many events match, counted part by part (each through its index) until more than
    `cap` are found; and the parts that may hold a match (a part found empty is not read for
    the page, which would otherwise look through all of it again)."""
    counted = 0
    holding: list[ColumnElement[bool]] = []
    for index, part in enumerate(parts):
        if counted > cap:
            holding.extend(parts[index:])
            break
        matching = select(AuditEvent.id).where(part, *filters).limit(cap + 1 - counted)
        found = db.scalar(select(func.count()).select_from(matching.subquery())) or 0
        counted += found
        if found:
            holding.append(part)
    return counted, holding


def _newest(
    db: Session,
    parts: list[ColumnElement[bool]],
    filters: list[ColumnElement[bool]],
    *,
    offset: int,
    limit: int,
) -> list[AuditEvent]:
    """The matching events from `offset` on, newest first: each part read newest first and
    cut at offset + limit (its index gives that order without sorting all it holds), then
    the parts merged in the same order (one statement)."""
    newest_first = (AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    if not parts or limit <= 0:
        return []
    if len(parts) == 1:
        query = select(AuditEvent).where(parts[0], *filters).order_by(*newest_first)
        return list(db.scalars(query.offset(offset).limit(limit)))
    each = []
    for part in parts:
        branch = (
            select(AuditEvent.id, AuditEvent.occurred_at)
            .where(part, *filters)
            .order_by(*newest_first)
            .limit(offset + limit)
            .subquery()
        )
        each.append(select(branch.c.id, branch.c.occurred_at))
    merged = union_all(*each).subquery()
    wanted = (
        select(merged.c.id, merged.c.occurred_at)
        .order_by(merged.c.occurred_at.desc(), merged.c.id.desc())
        .offset(offset)
        .limit(limit)
        .subquery()
    )
    return list(
        db.scalars(
            select(AuditEvent)
            .join(wanted, AuditEvent.id == wanted.c.id)
            .order_by(wanted.c.occurred_at.desc(), wanted.c.id.desc())
        )
    )


def page_of_events(
    db: Session,
    *,
    scope: AuditScope,
    wanted: AuditFilter,
    language: str,
    page: int = 1,
    count_cap: int | None = None,
) -> TrailPage:
    """The events the reader may see that match the filter, newest first, one page (the
    detail in the page's language). The total is counted up to `count_cap` (COUNT_CAP): past
    it the page says so, and a page past the cap shows the last one within it."""
    cap = COUNT_CAP if count_cap is None else count_cap
    parts = _visible_parts(scope)
    filters = _filter_conditions(wanted)
    counted, parts = _count(db, parts, filters, cap)
    capped = counted > cap
    total = min(counted, cap)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    offset = (page - 1) * PAGE_SIZE
    limit = min(PAGE_SIZE, total - offset)  # never past the cap
    events = _newest(db, parts, filters, offset=offset, limit=limit)
    persons = list(_persons(db, set(wanted.person_ids)).values())
    return TrailPage(_rows(db, events, language), total, page, pages, persons, capped)


# --------------------------------------------------------------------------- the .xlsx export

# A spreadsheet runs a cell that starts with one of these as a formula (=, +, -, @) or may
# treat it so after a tab or carriage return; a leading apostrophe keeps it plain text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

EXPORT_COLUMNS = [
    N_("时间"),
    N_("操作人"),
    N_("操作人账号"),
    N_("操作人角色"),
    N_("操作"),
    N_("操作代码"),
    N_("对象"),
    N_("对象账号"),
    N_("学校编号"),
    N_("途径"),
    N_("结果"),
    N_("来源地址"),
    N_("浏览器"),
    N_("详情"),
]


def safe_cell(value: object) -> str:
    """A cell's text that no spreadsheet runs as a formula, without characters XML refuses."""
    text = "" if value is None else str(value)
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _export_line(row: EventRow, language: str) -> list[str]:
    e = row.event
    gettext = translations(language).gettext
    return [
        e.occurred_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
        row.actor.real_name if row.actor else "",
        row.actor.username if row.actor else "",
        gettext(row.role_label),
        gettext(row.action_label),
        e.action,
        row.target.real_name if row.target else "",
        row.target.username if row.target else "",
        str(e.school_id or ""),
        gettext(row.route_label),
        gettext(row.outcome_label),
        e.client_address or "",
        e.user_agent or "",
        gettext(details.LINE_SEPARATOR).join(row.detail),
    ]


def export_events(
    db: Session,
    *,
    scope: AuditScope,
    wanted: AuditFilter,
    reader: User,
    now: datetime,
    client: ClientInfo,
    language: str,
) -> bytes:
    """The filtered events as an .xlsx (at most EXPORT_LIMIT rows) in the reader's language,
    with the page's sentences; the export is audited."""
    events = list(
        db.scalars(
            select(AuditEvent)
            .where(*_conditions(scope, wanted))
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
            .limit(EXPORT_LIMIT)
        )
    )
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    gettext = translations(language).gettext
    sheet.title = gettext(N_("审计日志"))
    sheet.append([gettext(column) for column in EXPORT_COLUMNS])
    for row in _rows(db, events, language):
        sheet.append([safe_cell(value) for value in _export_line(row, language)])
    for cells in sheet.iter_rows():
        for cell in cells:
            cell.data_type = "s"  # text, whatever it looks like
    buffer = io.BytesIO()
    book.save(buffer)
    record(
        db,
        now=now,
        action=AuditAction.AUDIT_EXPORTED,
        actor_id=reader.id,
        actor_role=scope.actor_role,
        target_user_id=None,
        school_id=scope.school_id,
        client=client,
        detail={**wanted.describe(), "rows": len(events)},
    )
    return buffer.getvalue()


def masked_query(query: str) -> str:
    """What the reader typed to find a person, as the page may echo it."""
    return mask_login(query.strip()[:64]) if query.strip() else ""

"""审计日志 read through its indexes (issue 25): the same events in the same order as the plain
query, for every reader and filter, page after page; the total counted up to a cap; the
export still exports everything matching."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from openpyxl import load_workbook
from sqlalchemy import ColumnElement, and_, or_, select, true
from sqlalchemy.orm import Session

from campusid.accounts.models import SchoolMembership
from campusid.audit import service as audit
from campusid.audit import trail
from campusid.audit.actions import AuditAction
from campusid.audit.models import AuditEvent
from campusid.audit.service import ClientInfo, Outcome, Route
from campusid.clock import SHANGHAI
from campusid.security.authz import AuditScope
from tests.support.http import post_form, sign_in

START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
KINDS = [
    (AuditAction.SIGN_IN, Route.SIGN_IN, Outcome.SUCCESS),
    (AuditAction.SIGN_IN, Route.SIGN_IN, Outcome.FAILURE),
    (AuditAction.PASSWORD_RESET, Route.TEACHER, Outcome.SUCCESS),
    (AuditAction.CLASS_MEMBER_EDITED, Route.ADMIN, Outcome.DENIED),
]


@pytest.fixture
def busy(db, world, other_school):  # type: ignore[no-untyped-def]
    """About 170 events over ten days, many sharing an instant (the id breaks the tie): the
    school's, another school's, school-less ones of members, of a former member and of
    outsiders, and the platform's."""
    school = world.school.id
    others = other_school.school_class.school_id
    member, teacher = world["lixiaoyao"].id, world["chenxiaokai"].id
    former, outsider = world["heshuhuan"].id, world["p_zhoujia"].id
    # A former member: their school-less events leave the school's trail with them.
    for membership in db.scalars(
        select(SchoolMembership).where(SchoolMembership.user_id == former)
    ):
        membership.active = False
    placements = [
        (school, teacher, member),
        (None, member, member),
        (None, former, former),
        (None, outsider, outsider),
        (others, other_school.teacher.id, other_school.student.id),
        (None, other_school.student.id, other_school.student.id),
        (None, world["pt_admin"].id, world["kefu01"].id),
        (school, teacher, None),
    ]
    for n in range(170):
        school_id, actor, target = placements[n % len(placements)]
        action, route, outcome = KINDS[(n // len(placements)) % len(KINDS)]
        audit.record(
            db,
            # Three events an instant, half a day apart: ties across the parts too.
            now=START + timedelta(hours=12 * (n // 3)),
            action=action,
            actor_id=actor,
            target_user_id=target,
            school_id=school_id,
            route=route,
            outcome=outcome,
            client=ClientInfo("10.0.0.9", "pytest"),
        )
    db.commit()


def _reference(db: Session, scope: AuditScope, wanted: trail.AuditFilter) -> list[int]:
    """The plain query the page answered with before issue 25: one condition, one sort."""
    visible: ColumnElement[bool] = true()
    if not scope.all_schools:
        members = select(SchoolMembership.user_id).where(
            SchoolMembership.active.is_(True), SchoolMembership.school_id.in_(scope.school_ids)
        )
        visible = or_(
            AuditEvent.school_id.in_(scope.school_ids),
            and_(AuditEvent.school_id.is_(None), AuditEvent.target_user_id.in_(members)),
        )
    conditions = [visible]
    if wanted.person_ids:
        conditions.append(
            or_(
                AuditEvent.actor_id.in_(wanted.person_ids),
                AuditEvent.target_user_id.in_(wanted.person_ids),
            )
        )
    for column, value in (
        (AuditEvent.action, wanted.action),
        (AuditEvent.route, wanted.route),
        (AuditEvent.outcome, wanted.outcome),
    ):
        if value:
            conditions.append(column == value)
    if wanted.since:
        start = datetime.combine(wanted.since, datetime.min.time(), tzinfo=SHANGHAI)
        conditions.append(AuditEvent.occurred_at >= start)
    if wanted.until:
        end = datetime.combine(wanted.until + timedelta(1), datetime.min.time(), tzinfo=SHANGHAI)
        conditions.append(AuditEvent.occurred_at < end)
    return list(
        db.scalars(
            select(AuditEvent.id)
            .where(*conditions)
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        )
    )


def _shown(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-event="(\d+)"', html)]


def _every_page(client, query: dict[str, str]) -> tuple[list[int], str]:  # type: ignore[no-untyped-def]
    first = client.get("/audit?" + urlencode(query))
    assert first.status_code == 200
    match = re.search(r"第 1 / (\d+) 页", first.text)
    pages = int(match.group(1)) if match else 1
    shown = _shown(first.text)
    for page in range(2, pages + 1):
        shown += _shown(client.get("/audit?" + urlencode({**query, "page": str(page)})).text)
    return shown, first.text


FILTERS = [
    {},
    {"action": "sign_in"},
    {"outcome": "failure"},
    {"route": "teacher", "outcome": "success"},
    {"since": "2026-11-23", "until": "2026-12-02"},
    {"until": "2026-11-25", "action": "password_reset"},
]


@pytest.mark.parametrize("login", ["xx_admin", "pt_admin"])
@pytest.mark.parametrize("query", FILTERS, ids=lambda q: urlencode(q) or "everything")
def test_every_page_shows_what_the_plain_query_finds_in_its_order(
    client, db, world, busy, login, query
):  # type: ignore[no-untyped-def]
    sign_in(client, login)
    scope = (
        AuditScope(all_schools=True)
        if login == "pt_admin"
        else AuditScope(all_schools=False, school_ids=frozenset({world.school.id}))
    )
    wanted, problems = trail.parse_filter(
        who=None,
        action=query.get("action"),
        route=query.get("route"),
        outcome=query.get("outcome"),
        since=query.get("since"),
        until=query.get("until"),
    )
    assert problems == []
    expected = _reference(db, scope, wanted)
    shown, first = _every_page(client, query)
    assert shown == expected
    assert f"共 {len(expected)} 条" in first
    assert len(expected) > (50 if not query else 0)


def test_the_person_filter_keeps_its_order_across_pages(client, db, world, busy):
    sign_in(client, "xx_admin")
    who = [world["lixiaoyao"].id, world["heshuhuan"].id]
    location = post_form(client, "/audit", {"person": "lixiaoyao"}).headers["location"]
    assert location == f"/audit?who={who[0]}"
    scope = AuditScope(all_schools=False, school_ids=frozenset({world.school.id}))
    for ids in ([who[0]], who):
        query = {"who": ",".join(map(str, ids))}
        expected = _reference(db, scope, trail.AuditFilter(person_ids=tuple(ids)))
        assert expected and _every_page(client, query)[0] == expected


def test_an_administrator_of_two_schools_reads_both_in_one_order(db, world, other_school, busy):
    scope = AuditScope(
        all_schools=False,
        school_ids=frozenset({world.school.id, other_school.school_class.school_id}),
    )
    for wanted in (trail.AuditFilter(), trail.AuditFilter(action="sign_in")):
        expected = _reference(db, scope, wanted)
        shown: list[int] = []
        for page in range(1, 6):
            result = trail.page_of_events(
                db, scope=scope, wanted=wanted, language="zh_CN", page=page
            )
            assert result.total == len(expected) and not result.capped
            if result.page == page:
                shown += [row.event.id for row in result.rows]
        assert shown == expected


def test_the_total_is_counted_up_to_a_cap(client, db, world, busy, monkeypatch):
    sign_in(client, "xx_admin")
    scope = AuditScope(all_schools=False, school_ids=frozenset({world.school.id}))
    expected = _reference(db, scope, trail.AuditFilter())
    assert len(expected) > 60
    monkeypatch.setattr(trail, "COUNT_CAP", 60)
    first = client.get("/audit")
    assert "超过 60 条" in first.text and "共 " not in first.text
    assert "第 1 / 2 页" in first.text
    assert "只能翻看最新的 60 条记录，请用筛选条件缩小范围。" in first.text
    assert _shown(first.text) == expected[:50]
    second = client.get("/audit?page=2")
    assert _shown(second.text) == expected[50:60]
    # A page past the cap shows the last page within it, saying why.
    past = client.get("/audit?page=3")
    assert past.status_code == 200 and "第 2 / 2 页" in past.text
    assert _shown(past.text) == expected[50:60] and "只能翻看最新的" in past.text
    # Exactly the cap is not "more than" it.
    monkeypatch.setattr(trail, "COUNT_CAP", len(expected))
    page = client.get("/audit").text
    assert f"共 {len(expected)} 条" in page and "超过" not in page and "只能翻看" not in page


def test_the_cap_is_given_to_the_service(db, world, busy):
    scope = AuditScope(all_schools=True)
    result = trail.page_of_events(
        db, scope=scope, wanted=trail.AuditFilter(), language="en", count_cap=20
    )
    assert result.capped and result.total == 20 and result.pages == 1
    assert [row.event.id for row in result.rows] == _reference(db, scope, trail.AuditFilter())[:20]


def test_the_export_is_not_capped(client, db, world, busy, monkeypatch):
    monkeypatch.setattr(trail, "COUNT_CAP", 10)
    sign_in(client, "xx_admin")
    scope = AuditScope(all_schools=False, school_ids=frozenset({world.school.id}))
    expected = _reference(db, scope, trail.AuditFilter())
    response = post_form(client, "/audit/export", {})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    assert sheet.max_row == 1 + len(expected) > 11

"""审计日志: who reads which events, the filters, pages, safe rendering and the .xlsx export."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.models import AuditEvent
from campusid.audit.service import ClientInfo, Outcome, Route
from tests.support.classes import audit_rows
from tests.support.http import post_form, sign_in


def _event(db, *, action=AuditAction.PASSWORD_RESET, at=None, **fields):  # type: ignore[no-untyped-def]
    event = audit.record(
        db,
        now=at or datetime(2026, 11, 30, 1, 0, tzinfo=UTC),
        action=action,
        client=fields.pop("client", ClientInfo("10.0.0.9", "pytest")),
        **fields,
    )
    db.commit()
    return event


@pytest.fixture
def trail(db, world, other_school):  # type: ignore[no-untyped-def]
    """Events of both schools, of members without a school, and of the platform."""
    school = world.school
    return {
        "school_reset": _event(
            db,
            actor_id=world["chenxiaokai"].id,
            actor_role="homeroom_teacher",
            target_user_id=world["lixiaoyao"].id,
            school_id=school.id,
            route=Route.TEACHER,
            detail={"mode": "default_password"},
        ),
        "member_sign_in": _event(
            db,
            action=AuditAction.SIGN_IN,
            actor_id=world["heshuhuan"].id,
            target_user_id=world["heshuhuan"].id,
            route=Route.SIGN_IN,
        ),
        "outsider_sign_in": _event(
            db,
            action=AuditAction.SIGN_IN,
            actor_id=world["p_zhoujia"].id,
            target_user_id=world["p_zhoujia"].id,
            route=Route.SIGN_IN,
        ),
        "other_school": _event(
            db,
            actor_id=other_school.teacher.id,
            target_user_id=other_school.student.id,
            school_id=other_school.school_class.school_id,
            route=Route.TEACHER,
        ),
        "platform": _event(
            db,
            action=AuditAction.AGENT_APPOINTED,
            actor_id=world["pt_admin"].id,
            target_user_id=world["kefu01"].id,
        ),
    }


def _ids_on_page(html: str, trail: dict[str, AuditEvent]) -> set[str]:
    # Every row carries its time; the fixture's events all share one, so look at the people.
    return {name for name, event in trail.items() if f'data-event="{event.id}"' in html}


def test_a_school_administrator_reads_their_school_and_its_members(client, world, trail):
    sign_in(client, "xx_admin")
    page = client.get("/audit")
    assert page.status_code == 200
    assert _ids_on_page(page.text, trail) == {"school_reset", "member_sign_in"}
    assert "重置密码" in page.text and "班主任" in page.text
    assert "2026-11-30 09:00:00" in page.text  # stored 01:00 UTC, shown in Shanghai


def test_another_schools_administrator_reads_only_their_own(client, trail):
    sign_in(client, "qt_admin")
    assert _ids_on_page(client.get("/audit").text, trail) == {"other_school"}


def test_the_platform_administrator_reads_everything(client, trail):
    sign_in(client, "pt_admin")
    assert _ids_on_page(client.get("/audit").text, trail) == set(trail)


@pytest.mark.parametrize(
    "login", ["chenxiaokai", "zhaoshuxue", "lixiaoyao", "p_lidaniang", "kefu01"]
)
def test_nobody_else_reads_or_exports_the_trail(client, db, world, trail, login):
    sign_in(client, login)
    assert client.get("/audit").status_code == 403
    before = len(audit_rows(db, "audit_exported"))
    assert post_form(client, "/audit/export", {}).status_code == 403
    assert post_form(client, "/audit", {"person": "lixiaoyao"}).status_code == 403
    assert len(audit_rows(db, "audit_exported")) == before


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/audit")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_filter_by_phone_number_keeps_it_out_of_the_url(client, world, trail):
    sign_in(client, "xx_admin")
    response = post_form(client, "/audit", {"person": "13800000001"})
    assert response.status_code == 303
    location = response.headers["location"]
    assert "13800000001" not in location
    assert parse_qs(urlsplit(location).query)["who"] == [str(world["chenxiaokai"].id)]
    page = client.get(location)
    assert _ids_on_page(page.text, trail) == {"school_reset"}
    assert "陈小凯（chenxiaokai）" in page.text
    assert "13800000001" not in page.text


def test_filter_by_name_and_by_id_card_number(client, world, trail):
    sign_in(client, "xx_admin")
    by_name = client.get(post_form(client, "/audit", {"person": "何书桓"}).headers["location"])
    assert _ids_on_page(by_name.text, trail) == {"member_sign_in"}
    number = world["lixiaoyao"].id_card_number
    response = post_form(client, "/audit", {"person": number})
    assert number not in response.headers["location"]
    page = client.get(response.headers["location"])
    assert _ids_on_page(page.text, trail) == {"school_reset"}
    assert number not in page.text


def test_a_person_outside_the_trail_is_not_found(client, world, trail, other_school):
    sign_in(client, "xx_admin")
    for person in ("周家长", "qt_student", "nobody_here"):
        response = post_form(client, "/audit", {"person": person})
        assert response.status_code == 200
        assert "未找到此人" in response.text


def test_filter_by_action_route_and_outcome(client, world, trail):
    sign_in(client, "pt_admin")
    response = post_form(
        client, "/audit", {"action": "password_reset", "route": "teacher", "outcome": "success"}
    )
    page = client.get(response.headers["location"])
    assert _ids_on_page(page.text, trail) == {"school_reset", "other_school"}
    page = client.get("/audit?action=sign_in")
    assert _ids_on_page(page.text, trail) == {"member_sign_in", "outsider_sign_in"}
    assert _ids_on_page(client.get("/audit?outcome=denied").text, trail) == set()


def test_the_date_range_is_in_shanghai_days(client, db, world):
    sign_in(client, "xx_admin")
    late = _event(  # 2026-11-30 23:30 in Shanghai
        db, school_id=world.school.id, at=datetime(2026, 11, 30, 15, 30, tzinfo=UTC)
    )
    next_day = _event(  # 2026-12-01 00:10 in Shanghai, still 30 November in UTC
        db, school_id=world.school.id, at=datetime(2026, 11, 30, 16, 10, tzinfo=UTC)
    )
    page = client.get("/audit?since=2026-11-30&until=2026-11-30&action=password_reset").text
    assert f'data-event="{late.id}"' in page and f'data-event="{next_day.id}"' not in page
    page = client.get("/audit?since=2026-12-01&action=password_reset").text
    assert f'data-event="{late.id}"' not in page and f'data-event="{next_day.id}"' in page


@pytest.mark.parametrize(
    "query",
    [
        "since=2026-13-01",
        "until=yesterday",
        "since=2026-12-02&until=2026-12-01",
        "who=abc",
        "action=drop_table",
        "route=nowhere",
        "outcome=maybe",
        "who=99999999999999999999",
    ],
)
def test_bad_filters_get_a_clear_message(client, world, query):
    sign_in(client, "xx_admin")
    response = client.get(f"/audit?{query}")
    assert response.status_code == 400
    assert 'class="alert alert-error"' in response.text


def test_pages_of_fifty(client, db, world):
    start = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    for n in range(120):
        audit.record(
            db,
            now=start + timedelta(minutes=n),
            action=AuditAction.CLASS_MEMBER_EDITED,
            school_id=world.school.id,
            actor_id=world["chenxiaokai"].id,
        )
    db.commit()
    sign_in(client, "xx_admin")
    first = client.get("/audit?action=class_member_edited")
    assert "共 120 条" in first.text and "第 1 / 3 页" in first.text
    assert first.text.count("data-event=") == 50
    assert 'href="/audit?action=class_member_edited&amp;page=2"' in first.text
    last = client.get("/audit?action=class_member_edited&page=3")
    assert last.text.count("data-event=") == 20
    # A page past the end shows the last one.
    assert client.get("/audit?action=class_member_edited&page=9").text.count("data-event=") == 20


def test_detail_is_shown_safely(client, db, world):
    event = _event(
        db,
        action=AuditAction.CLASS_MEMBER_EDITED,
        school_id=world.school.id,
        detail={
            "note": "<script>alert(1)</script>",
            "password": "Leaked#2026",
            "phone": "13912345678",
            "id": world["lixiaoyao"].id_card_number,
        },
        client=ClientInfo("10.0.0.9", "<b>agent</b>"),
    )
    sign_in(client, "xx_admin")
    page = client.get("/audit").text
    assert f'data-event="{event.id}"' in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Leaked#2026" not in page and "******" in page
    assert "13912345678" not in page and "139****5678" in page
    assert world["lixiaoyao"].id_card_number not in page


def test_export_escapes_every_cell_and_is_audited(client, db, world):
    evil = world["lixiaoyao"]
    evil.real_name = '=HYPERLINK("http://evil.example","点我")'
    db.commit()
    _event(
        db,
        action=AuditAction.PASSWORD_RESET,
        actor_id=world["chenxiaokai"].id,
        target_user_id=evil.id,
        school_id=world.school.id,
        route=Route.TEACHER,
        detail={"note": "+cmd|' /C calc'!A0", "password": "Leaked#2026"},
        client=ClientInfo("@10.0.0.1", "-2+3\x01"),
    )
    sign_in(client, "xx_admin")
    response = post_form(client, "/audit/export", {"action": "password_reset"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response.headers["content-disposition"].startswith('attachment; filename="audit-')
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][0] == "时间" and len(rows) == 2
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", (cell.coordinate, cell.value)
            text = str(cell.value or "")
            assert not text.startswith(("=", "+", "-", "@")), (cell.coordinate, text)
    line = rows[1]
    assert line[6] == '\'=HYPERLINK("http://evil.example","点我")'
    assert line[11] == "'@10.0.0.1" and line[12] == "'-2+3"
    assert "Leaked#2026" not in str(rows) and "其他信息：******" in line[13]
    exported = audit_rows(db, "audit_exported")[-1]
    assert exported.actor_id == world["xx_admin"].id
    assert exported.school_id == world.school.id
    assert exported.detail == {"filter": {"action": "password_reset"}, "rows": 1}


def test_export_by_person_carries_ids_not_identifiers(client, db, world, trail):
    sign_in(client, "xx_admin")
    location = post_form(client, "/audit", {"person": "13800000001"}).headers["location"]
    page = client.get(location).text
    assert f'name="who" value="{world["chenxiaokai"].id}"' in page
    response = post_form(client, "/audit/export", {"who": str(world["chenxiaokai"].id)})
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet.max_row == 2  # the header and the one reset
    event = db.scalar(
        select(AuditEvent)
        .where(AuditEvent.action == "audit_exported")
        .order_by(AuditEvent.id.desc())
    )
    assert event is not None and "13800000001" not in str(event.detail)
    assert event.outcome == Outcome.SUCCESS.value

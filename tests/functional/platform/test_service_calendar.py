"""平台管理 → 服务日历 (issue 20): holidays and 调休 days in the database, on the injected clock."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from tests.support.http import post_form, sign_in

from campusid.audit.models import AuditEvent
from campusid.clock import SHANGHAI
from campusid.servicedesk.models import ServiceDay, ServiceYear

OPEN, CLOSED = "服务中", "当前不在服务时间"
MISSING_2027 = "2027年的节假日和调休安排尚未录入"


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)


def test_new_years_day_2027_is_closed_once_the_administrator_entered_it(client, clock, db, world):
    clock.set(local(2027, 1, 1, 10, 0))  # a Friday, 元旦: chinesecalendar knows 2026 only
    page = client.get("/login").text
    assert OPEN in page and CLOSED not in page  # nobody has entered 2027: Monday to Friday

    sign_in(client, "pt_admin")
    form = client.get("/platform/calendar?year=2027")
    assert form.status_code == 200
    assert "本年度的节假日安排尚未录入" in form.text
    saved = post_form(
        client,
        "/platform/calendar",
        {"year": "2027", "closed_days": "2027-01-01\n2027-02-10, 2027-02-11", "open_days": ""},
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/platform/calendar?year=2027&saved=1"

    client.cookies.clear()
    page = client.get("/login").text
    assert CLOSED in page and OPEN not in page
    assert "下次开放：1月4日（周一） 8:30" in page

    db.expire_all()
    assert db.get(ServiceYear, 2027) is not None
    days = db.scalars(select(ServiceDay.day).where(ServiceDay.year == 2027)).all()
    assert sorted(days) == [date(2027, 1, 1), date(2027, 2, 10), date(2027, 2, 11)]
    row = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "service_calendar_changed")
    ).one()
    assert row.actor_id == world["pt_admin"].id
    assert row.detail == {"year": 2027, "holidays": 3, "workdays": 0}


def test_an_agent_cannot_reset_on_an_entered_holiday(client, clock, db, world, services):
    from campusid.servicedesk import calendar as service_calendar
    from campusid.types import ClientInfo

    service_calendar.save_year(
        db,
        services=services,
        year=2027,
        closed_text="2027-01-01",
        open_text="",
        actor_id=world["pt_admin"].id,
        client=ClientInfo(),
        now=clock.now(),
    )
    db.commit()
    clock.set(local(2027, 1, 1, 10, 0))
    sign_in(client, "kefu01")
    console = client.get("/servicedesk").text
    assert CLOSED in console
    assert "不在服务时间内只能查看账号" in console


def test_the_page_is_prefilled_from_chinesecalendar_for_a_year_it_knows(client, clock, world):
    sign_in(client, "pt_admin")
    page = client.get("/platform/calendar?year=2026").text
    assert "已按国务院公布的安排" in page
    assert "2026-10-01" in page  # National Day, a Thursday
    assert "2026-10-10" in page  # the Saturday made a working day (调休)


def test_bad_dates_are_refused_in_chinese_and_the_form_keeps_them(client, db, world):
    sign_in(client, "pt_admin")
    typed = "2027-01-01\n2027-13-01\n2028-01-01\nabc"
    refused = post_form(
        client,
        "/platform/calendar",
        {"year": "2027", "closed_days": typed, "open_days": "2027-01-01"},
    )
    assert refused.status_code == 400
    text = refused.text
    assert "「2027-13-01」不是日期" in text
    assert "2028-01-01 不在 2027 年" in text
    assert "「abc」不是日期" in text
    assert "不能既是节假日又是调休上班日" in text
    assert "2028-01-01\nabc</textarea>" in text
    db.expire_all()
    assert db.get(ServiceYear, 2027) is None  # nothing half-written
    assert post_form(client, "/platform/calendar", {"year": "1999"}).status_code == 400


def test_a_missing_next_year_is_announced_from_december_first(client, clock, world):
    clock.set(local(2026, 11, 30, 10, 0))
    sign_in(client, "pt_admin")
    assert MISSING_2027 not in client.get("/platform").text
    clock.set(local(2026, 12, 1, 10, 0))
    sign_in(client, "pt_admin")
    home = client.get("/platform").text
    assert MISSING_2027 in home
    assert 'href="/platform/calendar"' in home
    client.cookies.clear()
    sign_in(client, "kefu01")
    assert MISSING_2027 in client.get("/servicedesk").text

    client.cookies.clear()
    sign_in(client, "pt_admin")
    post_form(client, "/platform/calendar", {"year": "2027", "closed_days": "2027-01-01"})
    assert MISSING_2027 not in client.get("/platform").text


def test_only_platform_admins_reach_the_calendar(client, world):
    for login in ("kefu01", "xx_admin"):
        client.cookies.clear()
        sign_in(client, login)
        assert client.get("/platform/calendar").status_code == 403
        assert post_form(client, "/platform/calendar", {"year": "2027"}).status_code == 403

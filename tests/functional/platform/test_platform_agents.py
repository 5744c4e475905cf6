"""平台管理: the index of links, appointing and removing agents."""

from __future__ import annotations

from sqlalchemy import select
from tests.support.http import post_form, sign_in

from campusid.audit.models import AuditEvent
from campusid.identifiers import id_card_check_digit
from campusid.messaging.models import Notice


def test_platform_index_lists_its_pages(client, world):
    sign_in(client, "pt_admin")
    assert 'href="/platform"' in client.get("/").text
    page = client.get("/platform")
    assert page.status_code == 200
    assert 'href="/platform/agents"' in page.text
    assert 'href="/servicedesk/supervision"' in page.text


def test_only_platform_admins_reach_platform_pages(client, world):
    assert client.get("/platform").status_code == 303
    for login in ("kefu01", "xx_admin", "lixiaoyao"):
        client.cookies.clear()
        sign_in(client, login)
        assert client.get("/platform").status_code == 403
        assert client.get("/platform/agents").status_code == 403
        assert post_form(client, "/platform/agents", {"login": "p_zhoujia"}).status_code == 403


def test_appoint_and_remove_an_agent(client, make_client, db, world):
    person = world["p_zhoujia"]
    candidate = make_client()
    sign_in(candidate, "p_zhoujia")
    assert candidate.get("/servicedesk").status_code == 403

    sign_in(client, "pt_admin")
    page = client.get("/platform/agents").text
    assert "刘客服" in page
    # 周家长 is a parent as well: a warning, and nothing until confirmed.
    warned = post_form(client, "/platform/agents", {"login": person.phone})
    assert warned.status_code == 409
    assert "还有其他身份：家长" in warned.text
    assert candidate.get("/servicedesk").status_code == 403
    response = post_form(client, "/platform/agents", {"login": person.phone, "confirm": "1"})
    assert response.status_code == 200
    assert "已任命 周家长 为客服" in response.text
    assert candidate.get("/servicedesk").status_code == 200
    again = post_form(client, "/platform/agents", {"login": "p_zhoujia"})
    assert again.status_code == 400
    assert "已经是客服" in again.text
    unknown = post_form(client, "/platform/agents", {"login": "nobody_here"})
    assert "未找到该账号" in unknown.text

    removed = post_form(client, f"/platform/agents/{person.id}/remove")
    assert removed.status_code == 303
    assert candidate.get("/servicedesk").status_code == 403

    db.expire_all()
    actions = [
        e.action
        for e in db.scalars(
            select(AuditEvent).where(AuditEvent.target_user_id == person.id).order_by(AuditEvent.id)
        )
        if e.action.startswith("agent_")
    ]
    assert actions == ["agent_appointed", "agent_removed"]
    titles = [n.title for n in db.scalars(select(Notice).where(Notice.user_id == person.id))]
    assert "您已被任命为客服" in titles
    assert "您的客服身份已取消" in titles


def test_a_pupil_is_never_appointed(client, db, world):
    """Issue 18 finding 6: pt_admin could appoint lixiaoyao as 客服."""
    sign_in(client, "pt_admin")
    for login in ("lixiaoyao", world["heshuhuan"].id_card_number):
        response = post_form(client, "/platform/agents", {"login": login, "confirm": "1"})
        assert response.status_code == 400
        assert "学生（未成年人）的账号，不能任命为客服" in response.text
    db.expire_all()
    assert not world["lixiaoyao"].is_agent and not world["heshuhuan"].is_agent
    denied = [
        e
        for e in db.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "agent_appointed")
            .order_by(AuditEvent.id)  # in the order they were refused (no order is no order)
        )
        if e.outcome == "denied"
    ]
    assert [(e.target_user_id, e.detail["reason"]) for e in denied] == [
        (world["lixiaoyao"].id, "pupil"),
        (world["heshuhuan"].id, "pupil"),
    ]


def test_a_minor_by_the_id_card_is_never_appointed(client, db, world, clock):
    person = world["p_zhoujia"]
    born = clock.now().year - 16
    first17 = f"330603{born}0101001"
    person.id_card_number = first17 + id_card_check_digit(first17)
    db.commit()
    sign_in(client, "pt_admin")
    response = post_form(client, "/platform/agents", {"login": "p_zhoujia", "confirm": "1"})
    assert response.status_code == 400
    db.expire_all()
    assert not person.is_agent


def test_a_school_administrator_needs_a_confirmation(client, db, world):
    sign_in(client, "pt_admin")
    warned = post_form(client, "/platform/agents", {"login": "xx_admin"})
    assert warned.status_code == 409
    assert "王管理 的账号还有其他身份：学校管理员" in warned.text
    assert 'name="confirm" value="1"' in warned.text
    db.expire_all()
    assert not world["xx_admin"].is_agent
    done = post_form(client, "/platform/agents", {"login": "xx_admin", "confirm": "1"})
    assert done.status_code == 200 and "已任命 王管理 为客服" in done.text
    db.expire_all()
    assert world["xx_admin"].is_agent
    [event] = db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "agent_appointed",
            AuditEvent.target_user_id == world["xx_admin"].id,
        )
    )
    assert event.detail["roles"] == ["school_admin"]

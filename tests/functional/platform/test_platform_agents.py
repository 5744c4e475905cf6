"""平台管理: the index of links, appointing and removing agents."""

from __future__ import annotations

from sqlalchemy import select
from tests.support.http import post_form, sign_in

from campusid.audit.models import AuditEvent
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
    response = post_form(client, "/platform/agents", {"login": person.phone})
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

"""The supervisor's view: tickets by agent and day, what was looked at and done."""

from __future__ import annotations

from tests.functional.servicedesk.support import check, open_ticket, reset
from tests.support.http import post_form, sign_in


def test_supervisor_sees_tickets_by_agent_and_day(client, make_client, world):
    student = world["lixiaoyao"]
    desk = make_client()
    sign_in(desk, "kefu01")
    post_form(desk, "/servicedesk/search", {"identifier": "lixiaoyao"})
    ticket_id = open_ticket(desk, student.id, "parent")
    check(desk, ticket_id, "parent_name", "李大娘")
    check(desk, ticket_id, "id_card_tail", student.id_card_number[-4:])
    assert reset(desk, ticket_id).status_code == 200
    other = open_ticket(desk, world["heshuhuan"].id, "student")
    post_form(desk, f"/servicedesk/tickets/{other}/close", {"note": "来电人挂断"})

    sign_in(client, "pt_admin")
    day = client.get("/servicedesk/supervision?day=2026-11-30")
    assert day.status_code == 200
    text = day.text
    assert "刘客服" in text
    assert "工单 2 · 查找账号 1" in text
    assert "已重置（短信发送） 1" in text
    assert "未重置 1" in text
    assert "李*遥" in text and "李逍遥" not in text
    assert "按账号标识 li******o" in text
    assert client.get("/servicedesk/supervision").text == text  # today by default
    assert "当天没有工单" in client.get("/servicedesk/supervision?day=2026-11-29").text
    assert client.get("/servicedesk/supervision?day=nonsense").status_code == 200

    detail = client.get(f"/servicedesk/supervision/tickets/{ticket_id}").text
    for words in (
        "打开账号（创建工单）",
        "来电人身份：家长",
        "关联家长姓名：匹配",
        "身份证号后4位：匹配",
        "重置密码",
        "短信发送给家长",
    ):
        assert words in detail
    assert student.id_card_number[-4:] not in detail
    closed = client.get(f"/servicedesk/supervision/tickets/{other}").text
    assert "来电人挂断" in closed
    # 何书桓 has no phone and no parent: the supervisor reads why nothing could be done.
    assert "本人及家长均未绑定手机" in closed
    assert client.get("/servicedesk/supervision/tickets/987654321").status_code == 404


def test_agents_and_others_cannot_supervise(client, world):
    for login in ("kefu01", "xx_admin", "chenxiaokai"):
        client.cookies.clear()
        sign_in(client, login)
        assert client.get("/servicedesk/supervision").status_code == 403

"""Route 4 over HTTP: look-ups, tickets, the checklist gate, the reset both ways, refusals."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from tests.functional.servicedesk.support import (
    check,
    code_in,
    last_sms,
    open_ticket,
    reset,
)
from tests.support.http import finish_sign_in, post_form, sign_in

from campusid.audit.models import AuditEvent
from campusid.clock import SHANGHAI
from campusid.identifiers import id_card_check_digit
from campusid.messaging.models import Notice
from campusid.senders import OutboxMessage
from campusid.servicedesk.models import DeskActivity, Ticket, TicketCheck

SECRET = re.compile(r'<span class="secret">([A-Za-z0-9]+)</span>')


def agent(client):  # type: ignore[no-untyped-def]
    sign_in(client, "kefu01")
    return client


def again(client):  # type: ignore[no-untyped-def]
    """Sign in afresh after the clock moved past the session's idle time."""
    client.cookies.clear()
    return agent(client)


def events(db, action):  # type: ignore[no-untyped-def]
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --------------------------------------------------------------------------- who may


def test_non_agents_are_refused(client, world):
    assert client.get("/servicedesk").status_code == 303  # to the login page
    for login in ("chenxiaokai", "pt_admin", "lixiaoyao"):
        client.cookies.clear()
        sign_in(client, login)
        assert client.get("/servicedesk").status_code == 403
        response = post_form(client, "/servicedesk/search", {"identifier": "lixiaoyao"})
        assert response.status_code == 403
        assert "客服工作台" not in client.get("/").text


def test_agent_sees_the_console_in_the_nav(client, world):
    agent(client)
    assert 'href="/servicedesk"' in client.get("/").text
    page = client.get("/servicedesk")
    assert page.status_code == 200
    assert "查找账号" in page.text
    assert "服务中" in page.text


def test_an_agent_sees_only_their_own_tickets(client, make_client, db, world):
    ticket_id = open_ticket(agent(client), world["lixiaoyao"].id)
    world["p_zhoujia"].is_agent = True
    db.commit()
    other = make_client()
    sign_in(other, "p_zhoujia")
    assert other.get(f"/servicedesk/tickets/{ticket_id}").status_code == 404
    assert reset(other, ticket_id).status_code == 404
    assert "李*遥" not in other.get("/servicedesk").text


# --------------------------------------------------------------------------- look-ups


def test_search_by_identifier_shows_masked_identifiers_and_is_audited(client, db, world):
    student = world["lixiaoyao"]
    agent(client)
    response = post_form(client, "/servicedesk/search", {"identifier": student.id_card_number})
    assert response.status_code == 200
    assert "李*遥" in response.text
    assert "李逍遥" not in response.text
    # The identifier typed stays in the search box (to correct or search again), and only
    # there: the results show it masked.
    kept = f'name="identifier" value="{student.id_card_number}"'
    assert kept in response.text
    results = response.text.replace(kept, "")
    assert student.id_card_number not in results
    assert student.id_card_number[-4:] not in results
    assert "lixiaoyao" not in response.text
    [event] = events(db, "servicedesk_search")
    assert event.actor_id == world["kefu01"].id
    assert event.route == "agent"
    assert event.detail["by"] == "identifier"
    assert event.detail["results"] == 1
    assert student.id_card_number not in str(event.detail)
    assert db.scalar(select(DeskActivity).where(DeskActivity.action == "search")) is not None


def test_search_by_name_and_school(client, db, world):
    agent(client)
    response = post_form(client, "/servicedesk/search", {"name": "李逍遥", "school": "之江汇"})
    assert "李*遥" in response.text
    assert "查找结果（1）" in response.text
    nothing = post_form(client, "/servicedesk/search", {"name": "李逍遥", "school": "别的学校"})
    assert "没有找到符合条件的账号" in nothing.text
    assert [e.detail["results"] for e in events(db, "servicedesk_search")] == [1, 0]


def test_empty_search_says_what_to_enter(client, world):
    agent(client)
    response = post_form(client, "/servicedesk/search", {"name": "李逍遥"})
    assert response.status_code == 400
    assert "或姓名和学校" in response.text


def test_every_opening_is_a_new_ticket_with_its_own_relation(client, db, world):
    """Issue 18 finding 4: re-opening no longer reuses the agent's open ticket and its checks."""
    student = world["lixiaoyao"]
    agent(client)
    first = open_ticket(client, student.id, "parent")
    check(client, first, "id_card_tail", student.id_card_number[-4:])
    second = open_ticket(client, student.id, "student")
    assert second != first
    db.expire_all()
    old, new = db.get(Ticket, first), db.get(Ticket, second)
    assert (old.status, old.outcome) == ("closed", "no_reset")
    assert (new.status, new.caller_relation) == ("open", "student")
    # Nothing of the earlier call carries over.
    assert db.scalars(select(TicketCheck).where(TicketCheck.ticket_id == second)).all() == []
    opened = events(db, "servicedesk_open")
    assert [(e.detail["ticket_id"], e.detail["relation"]) for e in opened] == [
        (first, "parent"),
        (second, "student"),
    ]
    [closed] = events(db, "servicedesk_close")
    assert closed.detail == {"result": "no_reset", "reason": "reopened", "ticket_id": first}
    assert reset(client, first).status_code == 403  # the old ticket is over
    page = client.get(f"/servicedesk/tickets/{second}").text
    # The facts to be verified are not on the agent's screen.
    for secret in ("李逍遥", "五年级1班", "李大娘", student.id_card_number[-4:], "13900000011"):
        assert secret not in page


# --------------------------------------------------------------------------- the checklist gate


def test_what_a_classmate_knows_never_suffices(client, db, world):
    """Issue 18 finding 4: name, school and class and a parent's name all match: no reset."""
    student = world["lixiaoyao"]
    agent(client)
    ticket_id = open_ticket(client, student.id, "student")
    page = check(client, ticket_id, "real_name", " 李逍遥 ")
    assert "「真实姓名」核验结果：匹配" in page.text
    refused = reset(client, ticket_id)
    assert refused.status_code == 403
    assert "已匹配 1 项，至少需要匹配 2 项" in refused.text
    assert "五年级一班" not in refused.text
    check(client, ticket_id, "school_class", "之江汇学校", "五年级一班")
    check(client, ticket_id, "parent_name", "李大娘")
    refused = reset(client, ticket_id)
    assert refused.status_code == 403
    assert "同学也可能知道" in refused.text
    assert "新密码为" not in refused.text
    db.expire_all()
    assert sorted(
        (c.fact, c.matched)
        for c in db.scalars(select(TicketCheck).where(TicketCheck.ticket_id == ticket_id))
    ) == [("parent_name", True), ("real_name", True), ("school_class", True)]
    denied = [e for e in events(db, "servicedesk_reset") if e.outcome == "denied"]
    assert [e.detail["reason"] for e in denied] == [
        ["too_few_facts", "no_strong_fact"],
        "no_strong_fact",
    ]
    assert events(db, "password_reset") == []
    # Closing it is 未重置, not 核验未通过: nothing mismatched.
    assert post_form(client, f"/servicedesk/tickets/{ticket_id}/close").status_code == 303
    db.expire_all()
    assert db.get(Ticket, ticket_id).outcome == "no_reset"


def test_the_id_card_tail_and_a_second_fact_pass(client, db, world):
    student = world["lixiaoyao"]
    agent(client)
    ticket_id = open_ticket(client, student.id, "parent")
    check(client, ticket_id, "id_card_tail", student.id_card_number[-4:])
    assert reset(client, ticket_id).status_code == 403  # one fact is not enough
    check(client, ticket_id, "parent_name", "李大娘")
    assert "身份核验已通过" in client.get(f"/servicedesk/tickets/{ticket_id}").text
    assert reset(client, ticket_id).status_code == 200


def test_a_mismatch_ends_the_checks_on_the_ticket(client, db, world):
    student = world["lixiaoyao"]
    agent(client)
    ticket_id = open_ticket(client, student.id)
    wrong = "0000" if student.id_card_number[-4:] != "0000" else "1111"
    assert "核验结果：不匹配" in check(client, ticket_id, "id_card_tail", wrong).text
    again = check(client, ticket_id, "id_card_tail", student.id_card_number[-4:])
    assert again.status_code == 403
    # No other check is offered or accepted on this ticket.
    page = client.get(f"/servicedesk/tickets/{ticket_id}").text
    assert "核验已结束" in page
    assert 'class="form desk-fact' not in page
    for fact, answer in (("real_name", "李逍遥"), ("parent_name", "李大娘")):
        refused = check(client, ticket_id, fact, answer)
        assert refused.status_code == 403
        assert "核验已结束" in refused.text
    assert post_form(client, f"/servicedesk/tickets/{ticket_id}/code").status_code == 403
    refused = reset(client, ticket_id)
    assert refused.status_code == 403
    assert "有核验项不匹配" in refused.text
    db.expire_all()
    checks = db.scalars(select(TicketCheck).where(TicketCheck.ticket_id == ticket_id)).all()
    assert [(c.fact, c.matched) for c in checks] == [("id_card_tail", False)]
    reasons = [e.detail["reason"] for e in events(db, "servicedesk_check") if e.outcome == "denied"]
    assert reasons == ["mismatch_on_ticket"] * 3
    [code] = events(db, "servicedesk_code_sent")
    assert (code.outcome, code.detail["reason"]) == ("denied", "mismatch_on_ticket")
    [denied] = events(db, "servicedesk_reset")
    assert denied.detail["reason"] == "mismatch"
    assert post_form(client, f"/servicedesk/tickets/{ticket_id}/close").status_code == 303
    db.expire_all()
    assert db.get(Ticket, ticket_id).outcome == "not_verified"


def test_repeated_mismatches_stop_the_account_for_the_day(client, db, world):
    student = world["lixiaoyao"]
    agent(client)
    for _ in range(3):
        ticket_id = open_ticket(client, student.id)
        check(client, ticket_id, "parent_name", "王五")
        post_form(client, f"/servicedesk/tickets/{ticket_id}/close")
    ticket_id = open_ticket(client, student.id)
    response = check(client, ticket_id, "real_name", "李逍遥")
    assert response.status_code == 403
    assert "今日核验不匹配次数过多" in response.text
    denied = [e for e in events(db, "servicedesk_check") if e.outcome == "denied"]
    assert [e.detail["reason"] for e in denied] == ["too_many_mismatches"]


def test_privileged_accounts_cannot_be_reset_by_the_hotline_and_refusals_are_logged(
    client, db, world
):
    agent(client)
    for username, reason in (
        ("xx_admin", "school_admin_account"),
        ("pt_admin", "privileged_account"),
        ("kefu01", "privileged_account"),
    ):
        ticket_id = open_ticket(client, world[username].id)
        page = client.get(f"/servicedesk/tickets/{ticket_id}").text
        assert "不能通过客服热线重置密码" in page
        assert check(client, ticket_id, "real_name", world[username].real_name).status_code == 403
        assert reset(client, ticket_id).status_code == 403
        db.expire_all()
        for action in ("servicedesk_check", "servicedesk_reset"):
            [event] = [e for e in events(db, action) if e.target_user_id == world[username].id]
            assert (event.outcome, event.detail["reason"]) == ("denied", reason)
        assert post_form(client, f"/servicedesk/tickets/{ticket_id}/close").status_code == 303
        db.expire_all()
        assert db.get(Ticket, ticket_id).outcome == "no_reset"
    assert events(db, "password_reset") == []


# --------------------------------------------------------------------------- the reset


def test_a_child_without_a_phone_gets_the_password_by_sms_to_a_parent(
    client, make_client, db, world, hasher
):
    """Issue 18 finding 4: never read out to the caller; it goes to the linked parent's phone."""
    student, parent = world["lixiaoyao"], world["p_lidaniang"]
    assert student.phone is None
    student_browser = make_client()
    sign_in(student_browser, "lixiaoyao")
    assert student_browser.get("/").status_code == 200

    agent(client)
    ticket_id = open_ticket(client, student.id, "student")
    check(client, ticket_id, "id_card_tail", student.id_card_number[-4:].lower())
    check(client, ticket_id, "parent_name", "李大娘")
    page = client.get(f"/servicedesk/tickets/{ticket_id}").text
    assert "家长绑定手机 139****0011" in page
    done = reset(client, ticket_id)
    assert done.status_code == 200
    assert "密码重置成功" in done.text
    assert "临时密码已通过短信发送到家长绑定手机 139****0011" in done.text
    assert "账号本人及关联家长已收到通知" in done.text  # 李大娘 is linked and told
    assert SECRET.search(done.text) is None
    assert "只显示这一次" not in done.text
    body = last_sms(db, parent.phone, "child_temporary_password")
    assert "李逍遥" not in body and "李*遥" in body
    password = re.search(r"临时密码为([A-Za-z0-9]+)", body).group(1)
    assert password not in done.text

    # The password is nowhere else: not in notices or audit rows.
    db.expire_all()
    assert db.scalar(select(Notice).where(Notice.body.contains(password))) is None
    assert all(password not in str(e.detail) for e in db.scalars(select(AuditEvent)))
    assert password not in client.get(f"/servicedesk/tickets/{ticket_id}").text

    db.refresh(student)
    assert student.must_change_password
    assert hasher.verify(student.password_hash, password)
    # Every session of the student ended.
    assert student_browser.get("/").status_code == 303
    # The ticket is closed with its outcome; a second reset is refused.
    ticket = db.get(Ticket, ticket_id)
    assert (ticket.status, ticket.outcome) == ("closed", "reset_sms")
    again = reset(client, ticket_id)
    assert again.status_code == 403
    assert "工单已关闭" in again.text

    [event] = [e for e in events(db, "password_reset") if e.target_user_id == student.id]
    assert event.route == "agent"
    assert event.actor_id == world["kefu01"].id
    assert event.detail == {"ticket_id": ticket_id, "delivery": "parent_sms"}
    assert [(e.outcome, e.detail.get("reason")) for e in events(db, "servicedesk_reset")] == [
        ("success", None),
        ("denied", "ticket_closed"),
    ]

    kinds = {
        (n.user_id, n.kind)
        for n in db.scalars(select(Notice).where(Notice.user_id.in_([student.id, parent.id])))
    }
    assert (student.id, "password_changed") in kinds
    assert (parent.id, "child_password_reset") in kinds

    # The forced change at the next sign-in.
    fresh = make_client()
    response = post_form(fresh, "/login", {"login": "lixiaoyao", "password": password})
    assert response.headers["location"] == "/password/change-required"
    assert fresh.get("/").headers["location"] == "/password/change-required"


def test_a_child_with_no_phone_anywhere_cannot_be_reset_by_the_hotline(client, db, world):
    student = world["heshuhuan"]  # no phone, no linked parent
    agent(client)
    ticket_id = open_ticket(client, student.id, "student")
    page = client.get(f"/servicedesk/tickets/{ticket_id}").text
    assert "均未绑定手机" in page
    assert 'class="form desk-fact' not in page
    refused = check(client, ticket_id, "id_card_tail", student.id_card_number[-4:])
    assert refused.status_code == 403
    assert "请来电人联系班主任" in refused.text
    assert reset(client, ticket_id).status_code == 403
    db.expire_all()
    reasons = {
        e.detail["reason"]
        for e in events(db, "servicedesk_check") + events(db, "servicedesk_reset")
    }
    assert reasons == {"no_phone_for_delivery"}
    assert events(db, "password_reset") == []


def test_an_adult_without_a_phone_is_shown_the_password_once(client, make_client, db, world):
    teacher = world["zhaoshuxue"]
    teacher.phone = None
    teacher.id_card_number = "33060319850312022" + id_card_check_digit("33060319850312022")
    db.commit()
    agent(client)
    ticket_id = open_ticket(client, teacher.id, "teacher")
    check(client, ticket_id, "id_card_tail", teacher.id_card_number[-4:])
    check(client, ticket_id, "real_name", "赵数学")
    done = reset(client, ticket_id)
    assert done.status_code == 200
    assert "只显示这一次" in done.text
    # Only what is true: a teacher has no linked parent to tell; read out on the phone.
    assert "账号本人已收到通知" in done.text
    assert "关联家长" not in done.text
    assert "已重置（电话读出临时密码）" in done.text
    assert "当面" not in done.text
    password = SECRET.search(done.text).group(1)
    db.expire_all()
    assert db.scalar(select(OutboxMessage).where(OutboxMessage.body.contains(password))) is None
    assert db.get(Ticket, ticket_id).outcome == "reset_shown"
    assert "已重置（电话读出临时密码）" in client.get("/servicedesk").text
    fresh = make_client()
    response = post_form(fresh, "/login", {"login": "zhaoshuxue", "password": password})
    response = finish_sign_in(fresh, response, "zhaoshuxue")  # a teacher's second step
    assert response.headers["location"] == "/password/change-required"


def test_reset_by_sms_with_the_phone_code(client, make_client, db, world):
    student = world["lixiaoyao"]
    student.phone = "13700000021"
    db.commit()
    agent(client)
    ticket_id = open_ticket(client, student.id, "student")
    sent = post_form(client, f"/servicedesk/tickets/{ticket_id}/code")
    assert "验证码已发送至 137****0021" in sent.text
    code = code_in(last_sms(db, student.phone, "verify_code"))
    assert code not in sent.text
    wrong = "000000" if code != "000000" else "111111"
    response = post_form(client, f"/servicedesk/tickets/{ticket_id}/code/check", {"code": wrong})
    assert response.status_code == 400
    assert "验证码不正确" in response.text
    response = post_form(client, f"/servicedesk/tickets/{ticket_id}/code/check", {"code": code})
    assert "「绑定手机验证码」核验结果：匹配" in response.text
    check(client, ticket_id, "real_name", "李逍遥")

    done = reset(client, ticket_id)
    assert done.status_code == 200
    assert "临时密码已通过短信发送到绑定手机 137****0021" in done.text
    assert SECRET.search(done.text) is None
    body = last_sms(db, student.phone, "temporary_password")
    password = re.search(r"临时密码为([A-Za-z0-9]+)", body).group(1)
    assert password not in done.text
    db.expire_all()
    assert db.get(Ticket, ticket_id).outcome == "reset_sms"
    fresh = make_client()
    response = post_form(fresh, "/login", {"login": student.phone, "password": password})
    assert response.headers["location"] == "/password/change-required"
    actions = [
        a.action
        for a in db.scalars(
            select(DeskActivity)
            .where(DeskActivity.ticket_id == ticket_id)
            .order_by(DeskActivity.id)
        )
    ]
    assert actions == ["open", "code_sent", "code_checked", "check", "check", "reset"]


def test_a_code_read_back_from_a_parents_phone_verifies_a_child(client, make_client, db, world):
    student, parent = world["lixiaoyao"], world["p_lidaniang"]
    agent(client)
    ticket_id = open_ticket(client, student.id, "parent")
    page = client.get(f"/servicedesk/tickets/{ticket_id}").text
    assert f'<option value="{parent.id}">家长绑定手机 139****0011</option>' in page
    # Only the account's or its parents' phones: another parent's id is refused (and logged).
    stranger = world["p_zhoujia"]
    refused = post_form(client, f"/servicedesk/tickets/{ticket_id}/code", {"to": str(stranger.id)})
    assert refused.status_code == 403
    assert db.scalar(select(OutboxMessage).where(OutboxMessage.recipient == stranger.phone)) is None
    sent = post_form(client, f"/servicedesk/tickets/{ticket_id}/code", {"to": str(parent.id)})
    assert "验证码已发送至 139****0011" in sent.text
    code = code_in(last_sms(db, parent.phone, "parent_verify_code"))
    response = post_form(client, f"/servicedesk/tickets/{ticket_id}/code/check", {"code": code})
    assert "「绑定手机验证码」核验结果：匹配" in response.text
    check(client, ticket_id, "real_name", "李逍遥")
    done = reset(client, ticket_id)
    assert done.status_code == 200
    assert "家长绑定手机 139****0011" in done.text
    last_sms(db, parent.phone, "child_temporary_password")
    sent_events = events(db, "servicedesk_code_sent")
    assert [(e.outcome, e.detail.get("reason"), e.detail.get("to")) for e in sent_events] == [
        ("denied", "no_phone", None),
        ("success", None, "parent"),
    ]


def test_a_code_sent_in_one_ticket_does_not_verify_another(client, db, world):
    student = world["lixiaoyao"]
    student.phone = "13700000021"
    db.commit()
    agent(client)
    first = open_ticket(client, student.id, "student")
    post_form(client, f"/servicedesk/tickets/{first}/code")
    code = code_in(last_sms(db, student.phone, "verify_code"))
    second = open_ticket(client, student.id, "student")
    response = post_form(client, f"/servicedesk/tickets/{second}/code/check", {"code": code})
    assert response.status_code == 400
    assert "验证码已失效或尚未发送" in response.text


# --------------------------------------------------------------------------- service hours


def test_outside_hours_the_agent_can_read_but_not_verify_or_reset(client, db, world, clock):
    student = world["lixiaoyao"]
    agent(client)
    ticket_id = open_ticket(client, student.id)
    check(client, ticket_id, "id_card_tail", student.id_card_number[-4:])
    check(client, ticket_id, "parent_name", "李大娘")
    clock.set(datetime(2026, 11, 30, 17, 0, tzinfo=SHANGHAI))
    again(client)

    console = client.get("/servicedesk")
    assert "当前不在服务时间" in console.text
    assert "下次开放：明天（周二） 8:30" in console.text
    found = post_form(client, "/servicedesk/search", {"identifier": "lixiaoyao"})
    assert "李*遥" in found.text
    page = client.get(f"/servicedesk/tickets/{ticket_id}")
    assert page.status_code == 200
    assert f'action="/servicedesk/tickets/{ticket_id}/reset"' not in page.text

    refused = reset(client, ticket_id)
    assert refused.status_code == 403
    assert "当前不在客服服务时间（工作日 8:30-17:00）" in refused.text
    assert "下次开放：明天（周二） 8:30" in refused.text
    assert check(client, ticket_id, "real_name", "李逍遥").status_code == 403
    db.expire_all()
    assert db.get(Ticket, ticket_id).status == "open"
    denied = [e for e in events(db, "servicedesk_reset") if e.outcome == "denied"]
    assert denied[0].detail["reason"] == "outside_hours"
    assert events(db, "password_reset") == []

    # A statutory holiday is closed too; the next morning at 8:30 the same ticket can reset.
    clock.set(datetime(2026, 10, 1, 10, 0, tzinfo=SHANGHAI))
    assert reset(again(client), ticket_id).status_code == 403
    clock.set(datetime(2026, 12, 1, 8, 29, tzinfo=SHANGHAI))
    assert reset(again(client), ticket_id).status_code == 403
    clock.advance(minutes=1)
    assert reset(client, ticket_id).status_code == 200


def test_a_parents_account_is_asked_for_the_linked_childs_name_everywhere(client, db, world):
    parent = world["p_lidaniang"]
    agent(client)
    ticket_id = open_ticket(client, parent.id, "parent")
    page = client.get(f"/servicedesk/tickets/{ticket_id}").text
    assert "关联孩子姓名" in page and "关联家长姓名" not in page
    empty = check(client, ticket_id, "parent_name", "")
    assert "请输入来电人所说的「关联孩子姓名」" in empty.text
    answered = check(client, ticket_id, "parent_name", "李逍遥")
    assert "「关联孩子姓名」核验结果" in answered.text
    assert "关联家长姓名" not in answered.text
    again = check(client, ticket_id, "parent_name", "李逍遥")
    assert "「关联孩子姓名」已核验" in again.text

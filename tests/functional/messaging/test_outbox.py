"""The transactional outbox (issue 20) against a real SMS gateway on loopback.

The app runs in-process (`inline` dispatch: each message is offered right after its commit);
the gateway is a real HTTP server that answers 500, hangs past the client's timeout, loses its
answer or is down. Retries come when the test moves the injected clock past the back-off and
drains the outbox, as the dispatcher thread or `campusid outbox work` would.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from campusid.audit.models import AuditEvent
from campusid.demo import DEMO_PASSWORD
from campusid.messaging.models import Notice
from campusid.org.models import ResetMode
from campusid.senders import HttpSmsGateway, OutboxMessage
from tests.support.classes import new_password_of
from tests.support.http import post_form, sign_in
from tests.support.recovery import request_code
from tests.support.sms_gateway import SmsGateway, sms_gateway

TIMEOUT = 0.5  # the client's timeout against a hanging gateway


@pytest.fixture
def gateway(services) -> Iterator[SmsGateway]:  # type: ignore[no-untyped-def]
    with sms_gateway(hang_seconds=10) as gw:
        services.sms.transport = HttpSmsGateway(gw.url, "test-key", timeout=TIMEOUT)
        yield gw


def _reset(client, world, student):  # type: ignore[no-untyped-def]
    sign_in(client, "chenxiaokai")
    return post_form(client, f"/m/classes/{world.class51.id}/students/{student.id}/reset")


def _messages(db, phone: str, template: str) -> list[OutboxMessage]:  # type: ignore[no-untyped-def]
    db.expire_all()
    return list(
        db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.recipient == phone, OutboxMessage.template == template)
            .order_by(OutboxMessage.id)
        )
    )


def test_a_healthy_gateway_gets_the_message_right_after_the_commit(
    client, db, world, services, gateway
):
    parent, student = world["p_lidaniang"], world["lixiaoyao"]
    assert _reset(client, world, student).status_code == 200
    [sent] = gateway.delivered(parent.phone)
    assert sent.template == "child_password_reset" and "李逍遥" in sent.text
    [row] = _messages(db, parent.phone, "child_password_reset")
    assert row.status == "sent" and row.attempts == 1 and row.sent_at == services.clock.now()
    assert row.payload is None  # the parameters are wiped once delivered
    assert sent.key == row.idempotency_key and len(sent.key) == 32


@pytest.mark.parametrize("fault", ["error", "hang", "down"])
def test_the_reset_commits_while_the_gateway_fails_and_the_sms_goes_once_when_it_returns(
    client, make_client, db, world, services, clock, gateway, fault
):
    world.school.reset_mode = ResetMode.RANDOM
    db.commit()
    parent, student = world["p_lidaniang"], world["lixiaoyao"]
    if fault == "down":
        gateway.stop()
    else:
        gateway.mode = fault

    done = _reset(client, world, student)

    # The teacher's reset is done: the new password shown, the old one gone, the notice there.
    assert done.status_code == 200 and "密码重置成功" in done.text
    password = new_password_of(done.text)
    fresh = make_client()
    signed = post_form(fresh, "/login", {"login": "lixiaoyao", "password": password})
    assert signed.headers["location"] == "/password/change-required"
    old = post_form(make_client(), "/login", {"login": "lixiaoyao", "password": DEMO_PASSWORD})
    assert old.status_code == 200  # refused: the form again
    db.expire_all()
    assert db.scalar(
        select(Notice).where(Notice.user_id == parent.id, Notice.kind == "child_password_reset")
    )
    # The SMS waits for a retry, with what went wrong and no secret in its text.
    [row] = _messages(db, parent.phone, "child_password_reset")
    assert row.status == "pending" and row.attempts == 1
    assert row.next_attempt_at == clock.now() + timedelta(seconds=30)
    assert row.last_error and "13900000011" not in row.last_error
    assert gateway.delivered() == []

    # The gateway comes back; nothing goes before the back-off has passed.
    gateway.release()
    if fault == "down":
        gateway.start()
    gateway.mode = "ok"
    assert services.drain_outbox().claimed == 0
    clock.advance(seconds=30)
    assert services.drain_outbox().sent == 1

    [sent] = gateway.delivered(parent.phone)
    assert "李逍遥" in sent.text and password not in sent.text
    [row] = _messages(db, parent.phone, "child_password_reset")
    assert row.status == "sent" and row.attempts == 2 and row.payload is None
    # Exactly once: later dispatches find nothing to send.
    clock.advance(hours=2)
    assert services.drain_outbox().claimed == 0
    assert len(gateway.delivered(parent.phone)) == 1 and gateway.duplicates == 0


def test_a_lost_answer_is_offered_again_with_the_same_key_and_the_gateway_drops_it(
    client, db, world, services, clock, gateway
):
    parent = world["p_lidaniang"]
    gateway.mode = "lose_answer"
    assert _reset(client, world, world["lixiaoyao"]).status_code == 200
    [row] = _messages(db, parent.phone, "child_password_reset")
    assert row.status == "pending" and row.attempts == 1  # the sender never heard back

    gateway.mode = "ok"
    clock.advance(seconds=30)
    assert services.drain_outbox().sent == 1
    assert [r.key for r in gateway.requests] == [row.idempotency_key] * 2
    assert len(gateway.delivered(parent.phone)) == 1 and gateway.duplicates == 1


def test_back_off_doubles_then_a_dead_letter_a_platform_admin_sees_and_retries(
    client, db, world, services, clock, gateway
):
    services.outbox_policy = type(services.outbox_policy)(max_attempts=3, backoff_seconds=30)
    parent = world["p_lidaniang"]
    gateway.mode = "error"
    assert _reset(client, world, world["lixiaoyao"]).status_code == 200  # attempt 1
    waits = []
    for _ in range(2):  # attempts 2 and 3
        [row] = _messages(db, parent.phone, "child_password_reset")
        waits.append(row.next_attempt_at - clock.now())
        clock.set(row.next_attempt_at)
        services.drain_outbox()
    assert waits == [timedelta(seconds=30), timedelta(seconds=60)]
    [row] = _messages(db, parent.phone, "child_password_reset")
    assert row.status == "dead" and row.attempts == 3 and row.last_error == "HTTP 500"
    clock.advance(days=1)
    assert services.drain_outbox().claimed == 0  # a dead letter is not retried by itself
    assert row.payload is not None  # kept (encrypted) so that it can be sent again

    client.cookies.clear()
    sign_in(client, "pt_admin")
    page = client.get("/platform/outbox")
    assert page.status_code == 200
    assert "发送失败" in page.text and "child_password_reset" in page.text
    assert parent.phone not in page.text and "139****0011" in page.text
    assert "/platform/outbox" in client.get("/platform").text

    gateway.mode = "ok"
    retried = post_form(client, f"/platform/outbox/{row.id}/retry")
    assert retried.status_code == 200 and "已重新发送" in retried.text
    assert len(gateway.delivered(parent.phone)) == 1
    [row] = _messages(db, parent.phone, "child_password_reset")
    assert row.status == "sent" and row.payload is None
    again = post_form(client, f"/platform/outbox/{row.id}/retry")
    assert again.status_code == 400 and "无需重试" in again.text
    assert len(gateway.delivered(parent.phone)) == 1
    # The resend is in the audit trail, once (the refused second one records nothing).
    db.expire_all()
    resent = db.scalars(select(AuditEvent).where(AuditEvent.action == "outbox_resent")).all()
    assert [(e.actor_id, e.actor_role, e.detail) for e in resent] == [
        (world["pt_admin"].id, "platform_admin", {"message_id": row.id, "channel": "sms"})
    ]


def test_others_may_not_see_or_retry_dead_letters(client, db, world, gateway):
    sign_in(client, "xx_admin")
    assert client.get("/platform/outbox").status_code == 403
    assert post_form(client, "/platform/outbox/1/retry").status_code == 403


def test_a_code_leaves_the_outbox_once_delivered(client, db, world, services, gateway):
    phone = "13800000001"  # 陈小凯
    gateway.mode = "error"
    assert request_code(client, db, services, phone=phone).status_code == 200
    [row] = _messages(db, phone, "recovery_code")
    # Waiting: the text masked, the code only in the encrypted parameters.
    assert "******" in row.body and row.payload and row.payload.startswith("v1:")
    [tried] = gateway.requests
    code = tried.params["code"]
    assert code not in row.body and code not in row.payload

    gateway.mode = "ok"
    services.clock.advance(seconds=30)
    services.drain_outbox()
    [sent] = gateway.delivered(phone)
    assert sent.params["code"] == code and code in sent.text
    [row] = _messages(db, phone, "recovery_code")
    assert row.status == "sent" and row.payload is None and code not in row.body


def test_a_rolled_back_change_sends_nothing(db, world, services, gateway):
    services.sms.send(
        db, "13900000011", "password_changed", {"name": "李逍遥", "time": "t", "route": "r"}
    )
    db.rollback()
    services.clock.advance(hours=1)
    assert services.drain_outbox().claimed == 0
    assert gateway.requests == []

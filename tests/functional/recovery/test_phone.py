"""找回密码 by phone over HTTP: the page, the captcha, the code, the new password, the safety."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import event, select

from campusid.audit.models import AuditEvent
from campusid.demo import DEMO_PASSWORD
from campusid.messaging.models import Notice
from campusid.recovery.models import FlowStep
from campusid.senders import OutboxMessage
from tests.support.http import post_form, sign_in
from tests.support.recovery import (
    NEW_PASSWORD,
    flow_of,
    last_code,
    messages_to,
    normalised,
    request_code,
    set_new_password,
    solve_captcha,
    verify,
)

PHONE = "13800000001"  # 陈小凯
UNKNOWN = "13712345678"
HINT = "*提示：如果您没有绑定的手机、邮箱，可在线下联系学校管理员为您重置"


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_the_page_has_the_guides_steps_ways_and_hint(client):
    page = client.get("/recovery").text
    for words in (
        "找回密码",
        "选择找回方式",
        "设置新密码",
        "完成",
        "通过手机找回密码",
        "通过邮箱找回密码",
        "通过关联信息找回学生密码",
        "请输入您与平台绑定的手机号",
        "图片验证码",
        "请输入图中的数字",
        "看不清？换一张",
        "短信验证码",
        "获取",
        HINT,
        "0571-87880806",
        "工作日 8:30-17:00",
    ):
        assert words in page, words
    assert "<script>" not in page
    for way in ("email", "relation"):
        assert HINT in client.get(f"/recovery?way={way}").text
    assert 'href="/recovery"' in client.get("/login").text


def test_the_captcha_is_a_real_png_and_the_flow_cookie_is_httponly(client):
    response = client.get("/recovery/captcha")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "no-store"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(response.content))
    image.verify()
    assert image.format == "PNG"
    assert image.size == (220, 76)
    cookie = response.headers["set-cookie"]
    assert "campusid_recovery=" in cookie
    assert "HttpOnly" in cookie
    assert "Path=/recovery" in cookie
    assert "samesite=lax" in cookie.lower()
    # 看不清?换一张: the htmx partial points the image at a fresh address.
    box = client.get("/recovery/captcha-box", headers={"HX-Request": "true"}).text
    assert 'id="captcha-box"' in box
    assert "/recovery/captcha?n=" in box


def test_phone_recovery_end_to_end(client, make_client, db, world, services):
    teacher = world["chenxiaokai"]
    elsewhere = make_client()
    sign_in(elsewhere, "chenxiaokai")
    assert elsewhere.get("/").status_code == 200

    response = request_code(client, db, services, phone=PHONE)
    assert response.status_code == 200
    assert "验证码已发送" in response.text
    assert 'data-countdown="60"' in response.text
    message = messages_to(db, PHONE)[-1]
    assert message.template == "recovery_code"
    assert "找回密码" in message.body

    response = verify(client, last_code(db, PHONE))
    assert response.status_code == 303
    page = client.get("/recovery").text
    assert 'class="current"' in page and "设置新密码" in page
    assert 'action="/recovery/password"' in page

    # The policy is enforced, and the new password must be typed twice alike.
    weak = post_form(
        client, "/recovery/password", {"new_password": "abc", "confirm_password": "abc"}
    )
    assert weak.status_code == 400
    assert "密码长度8-20位" in weak.text
    mismatch = post_form(
        client,
        "/recovery/password",
        {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD + "x"},
    )
    assert "两次输入的密码不一致" in mismatch.text

    done = set_new_password(client)
    assert done.status_code == 200
    assert "完成" in done.text and 'href="/login"' in done.text
    assert 'aria-current="step"' in done.text

    # No automatic sign-in; every session of the account ended; the old password is gone.
    assert client.get("/").status_code == 303
    assert elsewhere.get("/").status_code == 303
    assert (
        post_form(client, "/login", {"login": PHONE, "password": DEMO_PASSWORD}).status_code == 200
    )
    sign_in(client, "chenxiaokai", NEW_PASSWORD)

    db.expire_all()
    event = db.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "password_reset", AuditEvent.target_user_id == teacher.id
        )
    )
    assert event is not None
    assert event.route == "self-service"
    assert event.detail == {"method": "phone"}
    notice = db.scalar(select(Notice).where(Notice.user_id == teacher.id))
    assert notice is not None and "找回密码" in notice.body
    assert flow_of(client, db) is None or flow_of(client, db).step is FlowStep.DONE


def test_answers_are_identical_and_cost_the_same_for_unknown_phones(
    client, make_client, db, world, services, engine
):
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    answers, costs = {}, {}
    for name, phone in (("known", PHONE), ("unknown", UNKNOWN)):
        browser = make_client()
        browser.get("/recovery")
        answer = solve_captcha(browser, db, services)
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            response = post_form(
                browser, "/recovery/code", {"way": "phone", "phone": phone, "captcha": answer}
            )
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200
        answers[name] = normalised(response.text.replace(phone, "<phone>"))
        # The message itself goes out after the answer (in its own transaction); all the
        # work before the answer is the same.
        costs[name] = [
            " ".join(s.split()[0:3])
            for s in statements
            if "outbox_messages" not in s and "SAVEPOINT" not in s
        ]
    assert answers["known"] == answers["unknown"]
    assert costs["known"] == costs["unknown"]
    assert len(messages_to(db, PHONE)) == 1
    assert messages_to(db, UNKNOWN) == []

    # The htmx answer too.
    partials = {}
    for phone in ("13800000002", "13712340000"):
        browser = make_client()
        answer = solve_captcha(browser, db, services)
        response = post_form(
            browser,
            "/recovery/code",
            {"way": "phone", "phone": phone, "captcha": answer},
            headers={"HX-Request": "true"},
        )
        partials[phone] = normalised(response.text)
    assert len(set(partials.values())) == 1
    assert "验证码已发送" in partials["13800000002"]
    assert len(messages_to(db, "13800000002")) == 1


def test_wrong_codes_for_an_unknown_phone_behave_as_for_a_known_one(
    client, make_client, db, world, services
):
    replies = {}
    for phone in (PHONE, UNKNOWN):
        browser = make_client()
        request_code(browser, db, services, phone=phone)
        replies[phone] = [
            normalised(
                verify(browser, "999999" if phone == UNKNOWN else _wrong(last_code(db, PHONE))).text
            )
            for _ in range(5)
        ]
    assert replies[PHONE] == replies[UNKNOWN]
    assert "验证码不正确" in replies[PHONE][0]
    assert "验证码错误次数过多" in replies[PHONE][4]


def test_a_code_expires_after_ten_minutes(client, db, world, services, clock):
    request_code(client, db, services, phone=PHONE)
    code = last_code(db, PHONE)
    clock.advance(minutes=10)
    response = verify(client, code)
    assert response.status_code == 400
    assert "验证码已失效" in response.text
    assert client.get("/recovery").text.count("设置新密码") == 1  # only the step label


def test_a_code_is_single_use(client, make_client, db, world, services):
    request_code(client, db, services, phone=PHONE)
    code = last_code(db, PHONE)
    assert verify(client, code).status_code == 303
    again = verify(client, code)
    assert again.status_code == 400
    # Another browser cannot use it either: codes are bound to the flow that asked.
    other = make_client()
    request_code(other, db, services, phone=UNKNOWN)
    assert "验证码不正确" in verify(other, code).text


def test_five_wrong_tries_kill_the_flow(client, db, world, services):
    request_code(client, db, services, phone=PHONE)
    code = last_code(db, PHONE)
    replies = [verify(client, _wrong(code)).text for _ in range(5)]
    assert all("验证码不正确" in r for r in replies[:4])
    assert "验证码错误次数过多" in replies[4]
    assert flow_of(client, db).step is FlowStep.DEAD
    # The right code is useless now; the flow must start over.
    late = verify(client, code)
    assert late.status_code == 400
    assert "请先获取验证码" in late.text
    assert (
        post_form(
            client,
            "/recovery/password",
            {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        ).status_code
        == 403
    )


def test_resend_waits_sixty_seconds_and_a_new_code_voids_the_old(
    client, make_client, db, world, services, clock
):
    request_code(client, db, services, phone=PHONE)
    first = last_code(db, PHONE)
    clock.advance(seconds=30)
    early = request_code(client, db, services, phone=PHONE)
    assert early.status_code == 400
    assert "秒后再获取" in early.text
    assert 'data-countdown="31"' in early.text or 'data-countdown="30"' in early.text
    # Not by starting over in another browser either: the wait is the phone's.
    other = make_client()
    assert "秒后再获取" in request_code(other, db, services, phone=PHONE).text
    assert len(messages_to(db, PHONE)) == 1

    clock.advance(seconds=31)
    assert request_code(client, db, services, phone=PHONE).status_code == 200
    second = last_code(db, PHONE)
    assert len(messages_to(db, PHONE)) == 2
    if first != second:
        assert "验证码不正确" in verify(client, first).text
    assert verify(client, second).status_code == 303


def test_a_new_code_in_another_browser_voids_the_first_browsers_code(
    make_client, db, world, services, clock
):
    first_browser, second_browser = make_client(), make_client()
    request_code(first_browser, db, services, phone=PHONE)
    first = last_code(db, PHONE)
    clock.advance(seconds=61)
    request_code(second_browser, db, services, phone=PHONE)
    assert "验证码已失效" in verify(first_browser, first).text


def test_limit_per_phone(client, make_client, db, world, services, clock):
    limit = services.settings.recovery_target_limit
    for _ in range(limit):
        assert request_code(client, db, services, phone=PHONE).status_code == 200
        clock.advance(seconds=61)
    over = request_code(client, db, services, phone=PHONE)
    assert "操作过于频繁" in over.text
    assert len(messages_to(db, PHONE)) == limit
    # Unknown phones are limited alike, and the limit is per phone.
    for _ in range(limit):
        request_code(client, db, services, phone=UNKNOWN)
        clock.advance(seconds=61)
    assert "操作过于频繁" in request_code(client, db, services, phone=UNKNOWN).text
    assert "验证码已发送" in request_code(make_client(), db, services, phone="13800000002").text


def test_limit_per_address_is_generous_but_there(client, make_client, db, world, services):
    # A classroom behind one address: far more than a class's worth of requests go through.
    assert services.settings.recovery_address_limit >= 300
    services.settings.recovery_address_limit = 40
    for n in range(40):
        browser = make_client()
        response = request_code(browser, db, services, phone=f"1370000{n:04d}")
        assert response.status_code == 200, n
    assert "操作过于频繁" in request_code(make_client(), db, services, phone=PHONE).text
    assert messages_to(db, PHONE) == []


def test_the_captcha_is_required_and_single_use(client, db, world, services, clock):
    client.get("/recovery/captcha")
    missing = post_form(client, "/recovery/code", {"way": "phone", "phone": PHONE, "captcha": ""})
    assert "图片验证码不正确" in missing.text
    answer = solve_captcha(client, db, services)
    wrong = str(int(answer) + 1)
    assert (
        "图片验证码不正确"
        in post_form(
            client, "/recovery/code", {"way": "phone", "phone": PHONE, "captcha": wrong}
        ).text
    )
    # A wrong answer used the image up: its right answer no longer works.
    assert (
        "图片验证码不正确"
        in post_form(
            client, "/recovery/code", {"way": "phone", "phone": PHONE, "captcha": answer}
        ).text
    )
    assert messages_to(db, PHONE) == []

    answer = solve_captcha(client, db, services)
    ok = post_form(client, "/recovery/code", {"way": "phone", "phone": PHONE, "captcha": answer})
    assert "验证码已发送" in ok.text
    clock.advance(seconds=61)
    reused = post_form(
        client, "/recovery/code", {"way": "phone", "phone": PHONE, "captcha": answer}
    )
    assert "图片验证码不正确" in reused.text
    assert len(messages_to(db, PHONE)) == 1


def test_the_captcha_expires(client, db, world, services, clock):
    answer = solve_captcha(client, db, services)
    clock.advance(minutes=6)
    response = post_form(
        client, "/recovery/code", {"way": "phone", "phone": PHONE, "captcha": answer}
    )
    assert "图片验证码不正确" in response.text


def test_steps_cannot_be_skipped(client, make_client, db, world, services):
    # Straight to the last step: refused, with or without a flow.
    payload = {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    assert post_form(client, "/recovery/password", payload).status_code == 403
    client.get("/recovery/captcha")
    assert post_form(client, "/recovery/password", payload).status_code == 403
    assert "请先获取验证码" in verify(client, "123456").text
    # A code sent but not verified is not enough either.
    request_code(client, db, services, phone=PHONE)
    assert post_form(client, "/recovery/password", payload).status_code == 403
    # And another browser gets nowhere with this browser's code.
    code = last_code(db, PHONE)
    thief = make_client()
    assert "请先获取验证码" in verify(thief, code).text
    assert post_form(thief, "/recovery/password", payload).status_code == 403
    db.expire_all()
    assert (
        post_form(client, "/login", {"login": PHONE, "password": DEMO_PASSWORD}).status_code == 303
    )


def test_a_password_change_in_between_kills_the_verified_flow(client, db, world, services):
    request_code(client, db, services, phone=PHONE)
    assert verify(client, last_code(db, PHONE)).status_code == 303
    world["chenxiaokai"].password_version += 1
    db.commit()
    assert set_new_password(client).status_code == 403


def test_disabled_accounts_get_nothing(client, db, world, services):
    world["chenxiaokai"].status = "disabled"
    db.commit()
    response = request_code(client, db, services, phone=PHONE)
    assert "验证码已发送" in response.text
    assert messages_to(db, PHONE) == []


def test_bad_phone_format_is_told_and_nothing_is_sent(client, db, world, services):
    response = request_code(client, db, services, phone="12345")
    assert response.status_code == 400
    assert "手机号格式不正确" in response.text
    assert db.scalar(select(OutboxMessage)) is None

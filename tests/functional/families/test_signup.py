"""家长注册 over HTTP with an SMS code; the SMS limits; the development outbox."""

from __future__ import annotations

import logging
import re

from sqlalchemy import select
from tests.support.captcha import solve as solve_captcha
from tests.support.families import events
from tests.support.http import post_form, sign_in

from campusid.accounts.models import User
from campusid.senders import OutboxMessage

PHONE = "13712345678"
PASSWORD = "Blue-Sky#2027"


def _ask_code(client, phone=PHONE):
    captcha = solve_captcha(client, "signup")
    return post_form(
        client, "/signup/code", {"phone": phone, "real_name": "王家长", "captcha": captcha}
    )


def _code_from_outbox(client, phone=PHONE) -> str:
    page = client.get("/dev/outbox").text
    rows = re.findall(r"<td>(\d{11})</td>\s*<td>signup_code</td>\s*<td[^>]*>[^<]*?(\d{6})", page)
    codes = [code for recipient, code in rows if recipient == phone]
    assert codes, page[:2000]
    return codes[0]  # newest first


def _sign_up(client, code, **fields):
    data = {
        "phone": PHONE,
        "code": code,
        "real_name": "王家长",
        "new_password": PASSWORD,
        "confirm_password": PASSWORD,
        "agree": "1",
    }
    data.update(fields)
    return post_form(client, "/signup", data)


def _account(db, phone=PHONE):
    db.expire_all()
    return db.scalar(select(User).where(User.phone == phone))


def test_the_page_has_the_words(client):
    page = client.get("/signup").text
    for words in (
        "家长注册",
        "手机号",
        "获取验证码",
        "验证码",
        "真实姓名",
        "8-20位英文、数字或符号",
    ):
        assert words in page
    assert 'href="/signup"' in client.get("/login").text


def test_sign_up_with_an_sms_code_makes_a_parent(client, make_client, db, world):
    sent = _ask_code(client)
    assert sent.status_code == 200
    assert "验证码已发送至 137****5678" in sent.text
    assert 'value="13712345678"' in sent.text  # the form keeps the number

    code = _code_from_outbox(client)
    response = _sign_up(client, code)
    # The new parent is signed in, and goes on to 我的孩子 to link a child.
    assert response.status_code == 303
    assert response.headers["location"] == "/me/children?done=signed_up"
    page = client.get(response.headers["location"]).text
    assert "注册成功，您已登录" in page
    user = _account(db)
    assert user.real_name == "王家长"
    assert user.is_parent and not user.must_change_password
    assert user.username in page
    assert 'href="/me/children/link"' in page
    assert "王家长" in client.get("/me").text
    assert events(db, "sign_up")[-1].target_user_id == user.id
    assert PHONE not in str(events(db, "sign_up")[-1].detail)
    signed_in = events(db, "sign_in")[-1]
    assert (signed_in.outcome, signed_in.actor_id, signed_in.target_user_id) == (
        "success",
        user.id,
        user.id,
    )
    assert signed_in.detail == {"via": "sign_up"}

    browser = make_client()
    sign_in(browser, PHONE, PASSWORD)
    me = browser.get("/me").text
    assert "王家长" in me and "137****5678" in me and "我的孩子" in me
    assert 'href="/me/children"' in browser.get("/").text
    assert browser.get("/me/children").status_code == 200


def test_a_wrong_code_makes_nothing(client, db, world):
    _ask_code(client)
    code = _code_from_outbox(client)
    wrong = "000000" if code != "000000" else "111111"
    response = _sign_up(client, wrong)
    assert response.status_code == 400
    assert "短信验证码错误或已失效" in response.text
    assert _account(db) is None
    assert events(db, "sign_up")[-1].outcome == "failure"


def test_the_code_expires(client, db, world, clock):
    _ask_code(client)
    code = _code_from_outbox(client)
    clock.advance(minutes=11)
    assert "短信验证码错误或已失效" in _sign_up(client, code).text
    assert _account(db) is None


def test_form_problems_are_told_without_spending_the_code(client, db, world):
    _ask_code(client)
    code = _code_from_outbox(client)
    response = _sign_up(client, code, new_password="short", confirm_password="other")
    assert response.status_code == 400
    assert "两次输入的密码不一致" in response.text
    assert "8-20" in response.text
    response = _sign_up(client, code, real_name="", phone="12345")
    assert "请输入真实姓名" in response.text
    assert "手机号格式不正确" in response.text
    # The code is still good.
    assert _sign_up(client, code).status_code == 303


def test_the_password_may_not_hold_the_phone_number(client, db, world):
    _ask_code(client)
    code = _code_from_outbox(client)
    response = _sign_up(
        client, code, new_password="Ab#13712345678", confirm_password="Ab#13712345678"
    )
    assert response.status_code == 400
    assert _account(db) is None


def test_a_registered_number_is_only_told_to_who_holds_the_phone(client, db, world):
    taken = "13900000015"  # 周家长
    asked = _ask_code(client, taken)
    assert asked.status_code == 200
    assert "验证码已发送至 139****0015" in asked.text  # the same answer as for a new number
    code = _code_from_outbox(client, taken)
    response = _sign_up(client, code, phone=taken)
    assert response.status_code == 400
    assert "该手机号已注册" in response.text
    db.expire_all()
    assert len(list(db.scalars(select(User).where(User.phone == taken)))) == 1


def test_a_new_code_only_after_sixty_seconds(client, clock, world):
    _ask_code(client)
    clock.advance(seconds=20)
    again = _ask_code(client)
    assert again.status_code == 400
    assert "秒后再重新获取" in again.text
    clock.advance(seconds=41)
    assert _ask_code(client).status_code == 200


def test_sms_are_limited_per_phone(client, clock, settings, world):
    for _ in range(settings.sms_phone_limit):
        assert _ask_code(client).status_code == 200
        clock.advance(seconds=61)
    refused = _ask_code(client)
    assert refused.status_code == 400
    assert "验证码发送过于频繁，请稍后再试" in refused.text
    assert _ask_code(client, "13712345679").status_code == 200  # another number still gets one
    clock.advance(seconds=settings.sms_phone_window_seconds)
    assert _ask_code(client).status_code == 200


def test_sms_are_limited_per_client_address(client, settings, world):
    settings.sms_address_limit = 3
    for n in range(3):
        assert _ask_code(client, f"1371234560{n}").status_code == 200
    refused = _ask_code(client, "13712345609")
    assert refused.status_code == 400
    assert "验证码发送过于频繁" in refused.text


def test_codes_are_masked_in_the_log(client, caplog, world):
    with caplog.at_level(logging.INFO, logger="campusid.messaging"):
        _ask_code(client)
    code = _code_from_outbox(client)
    assert "sms to 137****5678" in caplog.text
    assert code not in caplog.text
    assert PHONE not in caplog.text


def test_the_outbox_is_only_there_in_development(client, settings, world):
    assert client.get("/dev/outbox").status_code == 200
    settings.environment = "production"
    assert client.get("/dev/outbox").status_code == 404
    settings.environment = "demo"  # issue 18: a demo is open to more than its testers
    assert client.get("/dev/outbox").status_code == 404


def test_a_signed_in_person_is_sent_on_from_the_sign_up_page(client, world):
    sign_in(client, "p_zhoujia")
    response = client.get("/signup")
    assert response.status_code == 303
    assert response.headers["location"] == "/me"


def _outbox_codes(db, phone=PHONE):
    db.expire_all()
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.recipient == phone)))


def test_no_sms_without_a_solved_captcha(client, db, world, clock):
    data = {"phone": PHONE, "real_name": "王家长"}
    # No answer, no image, a wrong answer, a used answer, an expired answer: nothing is sent.
    missing = post_form(client, "/signup/code", {**data, "captcha": ""})
    assert missing.status_code == 400 and "请输入图片验证码" in missing.text
    unseen = post_form(client, "/signup/code", {**data, "captcha": "2345"})
    assert unseen.status_code == 400 and "图片验证码不正确或已失效" in unseen.text
    answer = solve_captcha(client, "signup")
    wrong = "2222" if answer != "2222" else "3333"
    refused = post_form(client, "/signup/code", {**data, "captcha": wrong})
    assert refused.status_code == 400 and "图片验证码不正确或已失效" in refused.text
    assert 'value="13712345678"' in refused.text  # what was typed is kept
    assert "/captcha/signup?n=" in refused.text  # and a new image is shown
    assert post_form(client, "/signup/code", {**data, "captcha": answer}).status_code == 400
    late = solve_captcha(client, "signup")
    clock.advance(minutes=5)
    assert post_form(client, "/signup/code", {**data, "captcha": late}).status_code == 400
    assert _outbox_codes(db) == []

    solved = solve_captcha(client, "signup")
    assert post_form(client, "/signup/code", {**data, "captcha": solved}).status_code == 200
    assert len(_outbox_codes(db)) == 1
    clock.advance(seconds=61)
    # The solved image is used up by the message it let through.
    reused = post_form(client, "/signup/code", {**data, "captcha": solved})
    assert reused.status_code == 400
    assert len(_outbox_codes(db)) == 1


def _ask_code_htmx(client, captcha, phone=PHONE):
    return post_form(
        client,
        "/signup/code",
        {"phone": phone, "real_name": "王家长", "captcha": captcha},
        headers={"HX-Request": "true"},
    )


def test_get_code_counts_down_and_renews_the_captcha_with_an_empty_answer(client, db, world):
    page = client.get("/signup").text
    assert 'id="signup-code-button"' in page and 'hx-post="/signup/code"' in page
    sent = _ask_code_htmx(client, solve_captcha(client, "signup"))
    assert sent.status_code == 200
    assert 'data-countdown="60"' in sent.text
    assert "验证码已发送至 137****5678" in sent.text
    # The used image is replaced, and its answer with it.
    row = re.search(r'<div id="captcha-row-signup".*?</div>\s*</div>', sent.text, re.S)
    assert row is not None and 'hx-swap-oob="true"' in row.group(0)
    assert re.search(r'<input id="captcha-signup" name="captcha"(?![^>]*value=)', row.group(0))
    assert len(_outbox_codes(db)) == 1


def test_a_refused_send_gives_the_solved_captcha_back(client, db, world, clock):
    assert _ask_code_htmx(client, solve_captcha(client, "signup")).status_code == 200
    clock.advance(seconds=20)
    answer = solve_captcha(client, "signup")
    refused = _ask_code_htmx(client, answer)
    assert "秒后再重新获取" in refused.text
    assert 'data-countdown="41"' in refused.text
    assert "captcha-row-signup" not in refused.text  # the image shown still counts
    clock.advance(seconds=41)
    # The same answer, no new image: it goes through now, and only once.
    again = _ask_code_htmx(client, answer)
    assert "验证码已发送至" in again.text
    assert len(_outbox_codes(db)) == 2
    clock.advance(seconds=61)
    assert "图片验证码不正确" in _ask_code_htmx(client, answer).text
    assert len(_outbox_codes(db)) == 2


def test_a_malformed_number_leaves_the_captcha_unused(client, db, world):
    answer = solve_captcha(client, "signup")
    refused = _ask_code_htmx(client, answer, phone="1234")
    assert "手机号格式不正确" in refused.text
    assert "captcha-row-signup" not in refused.text
    assert "验证码已发送至" in _ask_code_htmx(client, answer).text


def test_a_wrong_answer_uses_the_image_up_and_renews_it(client, db, world):
    answer = solve_captcha(client, "signup")
    wrong = "2222" if answer != "2222" else "3333"
    refused = _ask_code_htmx(client, wrong)
    assert "图片验证码不正确" in refused.text
    assert 'id="captcha-row-signup"' in refused.text
    assert "图片验证码不正确" in _ask_code_htmx(client, answer).text
    assert _outbox_codes(db) == []


def test_another_image_comes_with_an_empty_answer_and_without_script_the_page(client):
    row = client.get("/captcha/signup/box", headers={"HX-Request": "true"})
    assert row.status_code == 200
    assert 'id="captcha-row-signup"' in row.text
    assert re.search(r'<input id="captcha-signup" name="captcha"(?![^>]*value=)', row.text)
    assert 'hx-target="#captcha-row-signup"' in row.text
    plain = client.get("/captcha/signup/box")
    assert plain.status_code == 303 and plain.headers["location"] == "/signup"
    assert client.get("/captcha/bind_phone/box").headers["location"] == "/account/security"


# --------------------------------------------------------------------------- consent (issue 23)


def test_the_page_asks_to_agree_to_the_texts_with_links(client):
    page = client.get("/signup").text
    assert 'name="agree"' in page and "required" in page
    assert "我已阅读并同意" in page
    assert 'href="/terms"' in page and 'href="/privacy"' in page


def test_an_unticked_box_is_refused_and_the_form_keeps_what_was_typed(client, db, world):
    _ask_code(client)
    code = _code_from_outbox(client)
    refused = _sign_up(client, code, agree="")
    assert refused.status_code == 400
    assert "请阅读并勾选同意《用户协议》和《隐私政策》" in refused.text
    assert 'value="13712345678"' in refused.text
    assert 'value="王家长"' in refused.text
    assert f'value="{code}"' in refused.text
    assert _account(db) is None
    # The code was not spent: ticked, the same code signs up.
    assert _sign_up(client, code).status_code == 303


def test_signing_up_records_the_consent_with_the_versions(client, db, world, clock):
    from campusid.legal.models import ConsentVia, DocumentKind, LegalConsent

    _ask_code(client)
    assert _sign_up(client, _code_from_outbox(client)).status_code == 303
    user = _account(db)
    rows = list(db.scalars(select(LegalConsent).where(LegalConsent.subject_id == user.id)))
    assert {(r.kind, r.version, r.via, r.user_id) for r in rows} == {
        (DocumentKind.TERMS, 1, ConsentVia.SIGN_UP, user.id),
        (DocumentKind.PRIVACY, 1, ConsentVia.SIGN_UP, user.id),
    }
    assert all(r.agreed_at == clock.now() for r in rows)
    event = events(db, "consent_given")[-1]
    assert (event.actor_id, event.target_user_id) == (user.id, user.id)
    assert event.detail == {"terms_version": 1, "privacy_version": 1}
    # Agreed at sign-up: no banner on the new parent's home.
    assert "data-consent-banner" not in client.get("/").text

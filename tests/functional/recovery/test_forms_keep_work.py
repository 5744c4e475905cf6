"""找回密码 keeps what a person did (issue 23): typed fields, a solved captcha, the way back."""

from __future__ import annotations

import re

from campusid.recovery.models import FlowStep
from tests.support.http import post_form
from tests.support.recovery import (
    flow_of,
    last_code,
    messages_to,
    set_new_password,
    solve_captcha,
    verify,
)

PHONE = "13800000001"  # 陈小凯
EMPTY_ANSWER = re.compile(r'<input id="captcha" name="captcha"(?![^>]*value=)')


def _send(client, captcha: str, phone: str = PHONE):
    return post_form(
        client,
        "/recovery/code",
        {"way": "phone", "phone": phone, "captcha": captcha},
        headers={"HX-Request": "true"},
    )


def test_a_wrong_student_form_keeps_the_id_card_number(client, world):
    student = world["lixiaoyao"]
    # No school chosen: told so, with the name and the 18 digits still in their fields.
    response = post_form(
        client,
        "/recovery/student",
        {"name": student.real_name, "id_card_number": student.id_card_number, "school_id": ""},
    )
    assert response.status_code == 400
    assert "请选择学校" in response.text
    assert f'id="id_card_number" name="id_card_number" value="{student.id_card_number}"' in (
        response.text
    )
    assert f'value="{student.real_name}"' in response.text
    malformed = post_form(
        client,
        "/recovery/student",
        {"name": "李逍遥", "id_card_number": "33060320150312", "school_id": str(world.school.id)},
    )
    assert malformed.status_code == 400
    assert 'value="33060320150312"' in malformed.text


def test_an_expired_set_password_step_says_so_on_the_recovery_page(
    client, db, world, services, clock
):
    assert _send(client, solve_captcha(client, db, services)).status_code == 200
    assert verify(client, last_code(db, PHONE)).status_code == 303
    clock.advance(minutes=16)
    response = set_new_password(client)
    assert response.status_code == 403
    assert "设置新密码的时间已过" in response.text
    assert '<a href="/recovery">重新找回密码</a>' in response.text
    assert "通过手机找回密码" in response.text  # step 1 again, ready to start over
    assert "出错了" not in response.text
    # A verified flow whose account changed meanwhile is given up, not shown again.
    client.cookies.clear()
    assert _send(client, solve_captcha(client, db, services)).status_code == 200
    clock.advance(seconds=61)
    assert verify(client, last_code(db, PHONE)).status_code == 303
    world["chenxiaokai"].password_version += 1
    db.commit()
    assert set_new_password(client).status_code == 403
    assert flow_of(client, db).step is FlowStep.DEAD
    assert 'action="/recovery/password"' not in client.get("/recovery").text


def test_another_image_comes_with_an_empty_answer_and_without_script_the_page(client):
    row = client.get("/recovery/captcha-box", headers={"HX-Request": "true"})
    assert 'id="captcha-row"' in row.text and 'hx-target="#captcha-row"' in row.text
    assert EMPTY_ANSWER.search(row.text)
    assert "/recovery/captcha?n=" in row.text
    plain = client.get("/recovery/captcha-box", params={"way": "email"})
    assert plain.status_code == 303
    assert plain.headers["location"] == "/recovery?way=email"
    page = client.get("/recovery?way=email").text
    assert 'href="/recovery/captcha-box?way=email"' in page
    login = client.get("/login/captcha-box")
    assert login.status_code == 200
    assert "统一认证登录" in login.text and 'action="/login"' in login.text
    assert 'id="captcha-row"' in login.text and "/login/captcha?n=" in login.text


def test_a_sent_code_renews_the_captcha_and_clears_its_answer(client, db, world, services):
    sent = _send(client, solve_captcha(client, db, services))
    assert 'data-countdown="60"' in sent.text
    assert 'id="captcha-row" class="captcha-row" hx-swap-oob="true"' in sent.text
    assert EMPTY_ANSWER.search(sent.text)


def test_a_refused_send_gives_the_solved_captcha_back(client, db, world, services, clock):
    assert "验证码已发送" in _send(client, solve_captcha(client, db, services)).text
    clock.advance(seconds=20)
    answer = solve_captcha(client, db, services)
    refused = _send(client, answer)
    assert "秒后再获取" in refused.text
    assert 'id="captcha-row"' not in refused.text  # the image shown still counts
    clock.advance(seconds=41)
    again = _send(client, answer)
    assert "验证码已发送" in again.text
    assert len(messages_to(db, PHONE)) == 2
    # It was used up by the message it let through.
    clock.advance(seconds=61)
    assert "图片验证码不正确" in _send(client, answer).text
    assert len(messages_to(db, PHONE)) == 2


def test_a_malformed_number_leaves_the_captcha_unused(client, db, world, services):
    answer = solve_captcha(client, db, services)
    refused = _send(client, answer, phone="138")
    assert "手机号格式不正确" in refused.text
    assert 'id="captcha-row"' not in refused.text
    assert "验证码已发送" in _send(client, answer).text


def test_a_wrong_answer_uses_the_image_up(client, db, world, services):
    answer = solve_captcha(client, db, services)
    wrong = "2222" if answer != "2222" else "3333"
    refused = _send(client, wrong)
    assert "图片验证码不正确" in refused.text
    assert 'id="captcha-row" class="captcha-row" hx-swap-oob="true"' in refused.text
    assert "图片验证码不正确" in _send(client, answer).text
    assert messages_to(db, PHONE) == []

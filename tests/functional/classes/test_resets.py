"""Route 1 over HTTP: the homeroom teacher resets, on the web (bulk) and on the phone pages."""

from __future__ import annotations

import base64
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from campusid.audit.service import ClientInfo
from campusid.classes import members
from campusid.demo import DEMO_PASSWORD, SCHOOL_DEFAULT_PASSWORD
from campusid.messaging.models import Notice
from campusid.org.models import ResetMode
from campusid.resets import service as resets
from campusid.security import authz
from campusid.security.permissions import principal_for
from campusid.security.policy import LOOKALIKE_CHARACTERS, check_password
from campusid.senders import OutboxMessage
from tests.support.classes import audit_rows, new_password_of
from tests.support.http import post_form, sign_in


def _signs_in(client, login, password):
    client.cookies.clear()
    return post_form(client, "/login", {"login": login, "password": password})


def _set_mode(db, world, mode):
    world.school.reset_mode = mode
    db.commit()


def _mobile_reset(client, world, student):
    base = f"/m/classes/{world.class51.id}/students/{student.id}"
    confirm = client.get(f"{base}/reset")
    assert confirm.status_code == 200
    assert f"确定要重置{student.real_name}的密码吗" in confirm.text
    assert f'action="{base}/reset"' in confirm.text
    return post_form(client, f"{base}/reset")


@pytest.mark.parametrize("mode", [ResetMode.DEFAULT_PASSWORD, ResetMode.RANDOM])
def test_mobile_reset_end_to_end(client, make_client, db, world, mode):
    _set_mode(db, world, mode)
    student = world["lixiaoyao"]
    students_phone = make_client()
    sign_in(students_phone, "lixiaoyao")
    assert students_phone.get("/").status_code == 200

    sign_in(client, "chenxiaokai")
    profile = client.get(f"/m/classes/{world.class51.id}/students/{student.id}")
    assert profile.status_code == 200
    for words in ("个人信息", "李逍遥", "学生", "lixiaoyao", "之江汇学校", "五年级1班", "请出班级"):
        assert words in profile.text
    hint = "重置为默认密码" if mode is ResetMode.DEFAULT_PASSWORD else "重置为一次性临时密码"
    assert hint in profile.text

    done = _mobile_reset(client, world, student)
    assert done.status_code == 200
    assert "密码重置成功，新密码为：" in done.text
    assert "知道了" in done.text and "复制密码" in done.text
    assert done.headers["cache-control"] == "no-store"
    password = new_password_of(done.text)
    assert f'data-copy="{password}"' in done.text
    if mode is ResetMode.DEFAULT_PASSWORD:
        assert password == SCHOOL_DEFAULT_PASSWORD
    else:
        assert 8 <= len(password) <= 12
        assert not set(password) & LOOKALIKE_CHARACTERS
        assert check_password(password) == []

    # The student's other session is gone.
    assert students_phone.get("/").status_code == 303
    # The old password no longer works; the new one does, and must be changed at once.
    assert _signs_in(make_client(), "lixiaoyao", DEMO_PASSWORD).status_code == 200
    fresh = make_client()
    signed = _signs_in(fresh, "lixiaoyao", password)
    assert signed.headers["location"] == "/password/change-required"
    assert fresh.get("/").headers["location"] == "/password/change-required"

    # The parent is told in the platform and by SMS, never with the password.
    db.expire_all()
    parent = world["p_lidaniang"]
    notice = db.scalar(
        select(Notice).where(Notice.user_id == parent.id, Notice.kind == "child_password_reset")
    )
    assert notice is not None and "李逍遥" in notice.body and password not in notice.body
    sms = db.scalar(
        select(OutboxMessage).where(
            OutboxMessage.recipient == parent.phone,
            OutboxMessage.template == "child_password_reset",
        )
    )
    assert sms is not None and "李逍遥" in sms.body and password not in sms.body
    own = db.scalar(
        select(Notice).where(Notice.user_id == student.id, Notice.kind == "password_changed")
    )
    assert own is not None and password not in own.body

    # The audit row: actor, student, route "teacher", time and address; no secret.
    event = audit_rows(db, "password_reset")[-1]
    assert event.outcome == "success" and event.route == "teacher"
    assert event.actor_id == world["chenxiaokai"].id and event.target_user_id == student.id
    assert event.client_address == "testclient" and event.occurred_at is not None
    assert event.detail["mode"] == mode.value
    assert password not in str(event.detail)
    assert student.password_hash is not None and password not in student.password_hash


def test_password_is_not_kept_anywhere(client, db, world):
    _set_mode(db, world, ResetMode.RANDOM)
    sign_in(client, "chenxiaokai")
    password = new_password_of(_mobile_reset(client, world, world["heshuhuan"]).text)
    db.expire_all()
    for model in (Notice, OutboxMessage):
        for row in db.scalars(select(model)):
            assert password not in row.body
    for event in audit_rows(db, "password_reset"):
        assert password not in str(event.detail)
    # Going back to the profile shows no password.
    back = client.get(f"/m/classes/{world.class51.id}/students/{world['heshuhuan'].id}")
    assert password not in back.text


def test_web_bulk_reset_with_printable_list_and_xlsx(client, make_client, db, world):
    _set_mode(db, world, ResetMode.RANDOM)
    sign_in(client, "chenxiaokai")
    # 个人空间 → 任教班级 → 前往班级 → 班级管理 → 班级成员
    assert 'href="/teaching"' in client.get("/").text
    teaching = client.get("/teaching").text
    for words in (
        "班级名称",
        "所在校区",
        "班主任",
        "前往班级",
        "五年级1班",
        "柯桥区智慧校园",
        "陈小凯",
    ):
        assert words in teaching
    home = client.get(f"/classes/{world.class51.id}")
    assert "班级管理" in home.text and "gu22cm" in home.text
    manage = client.get(f"/classes/{world.class51.id}/manage", follow_redirects=True)
    for words in (
        "班级学生",
        "班级教师",
        "成员审核",
        "全网搜索班级",
        "添加学生",
        "重置密码",
        "退出班级",
    ):
        assert words in manage.text
    for column in ("用户名", "学生姓名", "性别", "学号", "角色", "班干部职位", "状态", "操作"):
        assert f"<th>{column}</th>" in manage.text
    for action in ("编辑学号", "设置角色", "设置职位", "编辑"):
        assert action in manage.text
    base = f"/classes/{world.class51.id}/manage/students"
    for action in ("reset", "remove"):
        assert f'formaction="{base}/{action}"' in manage.text
    assert f'action="{base}/{world["lixiaoyao"].id}/edit"' in manage.text

    ticked = [world["lixiaoyao"], world["heshuhuan"], world["weiyingluo"]]
    response = post_form(
        client,
        f"/classes/{world.class51.id}/manage/students/reset",
        {"student_ids": [s.id for s in ticked]},
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert "data-print" in response.text
    rows = re.findall(
        r"<tr><td>([^<]+)</td><td>([^<]+)</td><td class=\"secret\">([^<]+)</td></tr>",
        response.text,
    )
    assert [(name, login) for name, login, _ in rows] == [(s.real_name, s.username) for s in ticked]
    passwords = {login: pw for _, login, pw in rows}
    assert len(set(passwords.values())) == 3

    link = re.search(r'href="data:([^;]+);base64,([^"]+)" download="([^"]+)"', response.text)
    assert link is not None
    assert link.group(1).endswith("spreadsheetml.sheet") and link.group(3).endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(base64.b64decode(link.group(2)))).active
    values = [tuple(r) for r in sheet.iter_rows(min_row=3, values_only=True)]
    assert values == [(s.real_name, s.username, passwords[s.username]) for s in ticked]

    for student in ticked:
        assert (
            _signs_in(make_client(), student.username, passwords[student.username]).headers[
                "location"
            ]
            == "/password/change-required"
        )
    assert len(audit_rows(db, "password_reset")) == 3
    # Untouched: a student who was not ticked.
    assert _signs_in(make_client(), "linyiping", DEMO_PASSWORD).headers["location"] == "/"


def test_bulk_reset_needs_a_tick(client, world):
    sign_in(client, "chenxiaokai")
    response = post_form(client, f"/classes/{world.class51.id}/manage/students/reset", {})
    assert response.status_code == 400 and "请先勾选学生" in response.text


def test_school_admin_reset_is_audited_as_admin(client, db, world):
    sign_in(client, "xx_admin")
    done = _mobile_reset(client, world, world["zhoubotong"])
    assert done.status_code == 200
    event = audit_rows(db, "password_reset")[-1]
    assert event.route == "admin" and event.actor_id == world["xx_admin"].id
    assert event.detail["actor_role"] == "school_admin"


def test_default_mode_without_a_default_falls_back_to_random(client, db, world):
    world.school.default_credential_id = None
    _set_mode(db, world, ResetMode.DEFAULT_PASSWORD)
    sign_in(client, "chenxiaokai")
    password = new_password_of(_mobile_reset(client, world, world["linyiping"]).text)
    assert password != SCHOOL_DEFAULT_PASSWORD and check_password(password) == []


def test_parked_student_is_reset_by_the_school_admin_only(db, services, world, other_school):
    """Out of any class, a student is still their school's: its administrators may reset."""
    origin = ClientInfo(address="10.0.0.8")
    student = world["linyiping"]
    homeroom = principal_for(db, world["chenxiaokai"])
    members.remove_students(
        db,
        services=services,
        principal=homeroom,
        school_class=world.class51,
        student_ids=[student.id],
        client=origin,
    )
    for outsider in (homeroom, principal_for(db, other_school.admin)):
        with pytest.raises(authz.Denied):
            resets.reset_students(
                db, services=services, principal=outsider, student_ids=[student.id], client=origin
            )
    (result,) = resets.reset_students(
        db,
        services=services,
        principal=principal_for(db, world["xx_admin"]),
        student_ids=[student.id],
        client=origin,
    )
    assert result.password == SCHOOL_DEFAULT_PASSWORD and student.must_change_password
    # The service refuses by raising; the app's one handler audits a refused request (tested
    # over HTTP), so only the reset itself is in the trail here.
    events = audit_rows(db, "password_reset")
    assert [e.outcome for e in events] == ["success"]
    assert events[-1].route == "admin" and events[-1].client_address == "10.0.0.8"

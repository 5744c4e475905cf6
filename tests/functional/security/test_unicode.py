"""Issue 18, finding 8: spoofed names are refused; full-width identifiers are the same ones.

Names carry no bidi controls (U+202A-202E, U+2066-2069), zero-width characters (U+200B-200F,
U+FEFF) or control characters wherever they are typed: 添加学生 (members), 批量导入 (roster),
the class's 添加学生 and 编辑, 家长注册 and the onboarding of a school's administrator.
Identifiers typed in full width (a Chinese input method's default) sign in, recover and find.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from tests.support.http import finish_sign_in, post_form, sign_in
from tests.support.recovery import last_code, request_code, verify
from tests.support.schools import id_card, xlsx

from campusid.accounts.models import User
from campusid.demo import DEMO_PASSWORD
from campusid.roster.service import COLUMNS

REFUSED = "姓名含有不可见字符或控制字符"
SPOOFS = ["王\u202e新小", "王小\u200b新", "\ufeff王小新", "王\u2066小新\u2069", "王小\u0007新"]


def _users(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(User))


@pytest.mark.parametrize("name", SPOOFS)
def test_members_add_refuses_a_spoofed_name_and_keeps_the_form(client, db, world, name):
    sign_in(client, "xx_admin")
    before = _users(db)
    response = post_form(
        client,
        f"/school/{world.school.id}/members/add",
        {
            "class_id": world.class51.id,
            "real_name": name,
            "gender": "男",
            "student_number": "09",
            "id_card_number": id_card(birth="20160203", seq="331"),
        },
    )
    assert response.status_code == 400
    # A control character was refused before issue 18, with the older message.
    assert REFUSED in response.text or "姓名格式不正确" in response.text
    assert "09" in response.text  # what was typed is kept
    assert _users(db) == before


def test_the_import_refuses_a_spoofed_name(client, db, world):
    sign_in(client, "xx_admin")
    cells = {"操作": "新建", "姓名": "新学生\u202e甲", "班级": "五年级2班"}
    cells["身份证号"] = id_card(birth="20160301", seq="112")
    upload = xlsx([[cells.get(column, "") for column in COLUMNS]])
    before = _users(db)
    response = post_form(
        client,
        f"/school/{world.school.id}/roster/import",
        files={"file": ("学生.xlsx", upload, "application/octet-stream")},
    )
    assert REFUSED in response.text or "错误" in response.text
    assert _users(db) == before


def test_the_class_add_and_edit_refuse_a_spoofed_name(client, db, world):
    sign_in(client, "chenxiaokai")
    base = f"/classes/{world.class51.id}/manage/students"
    before = _users(db)
    added = post_form(client, f"{base}/add", {"real_name": "王\u200b小新", "gender": "male"})
    assert REFUSED in added.text
    assert _users(db) == before
    student = world["lixiaoyao"]
    edited = post_form(client, f"{base}/{student.id}/edit", {"real_name": "李\u202e遥逍"})
    assert REFUSED in edited.text
    db.expire_all()
    assert student.real_name == "李逍遥"


def test_signup_refuses_a_spoofed_name(client, db, world):
    before = _users(db)
    response = post_form(
        client,
        "/signup",
        {
            "phone": "13712345678",
            "code": "123456",
            "real_name": "王\u202e家长",
            "new_password": "Blue-Sky#2027",
            "confirm_password": "Blue-Sky#2027",
        },
    )
    assert response.status_code == 400
    assert "真实姓名" in response.text
    assert _users(db) == before


def test_the_database_refuses_a_spoofed_name_that_no_form_checked(db, world):
    world["lixiaoyao"].real_name = "李\u202e遥逍"
    with pytest.raises(ValueError, match="bidi"):
        db.flush()
    db.rollback()


@pytest.mark.parametrize(
    "login",
    [
        "１３８０００００００１",  # the phone, full width
        "ｃｈｅｎｘｉａｏｋａｉ",  # the username, full width
        "ＣＨＥＮＸＩＡＯＫＡＩ",
        "＋８６ １３８－００００－０００１",
    ],
)
def test_full_width_identifiers_sign_in(client, world, login):
    response = post_form(client, "/login", {"login": login, "password": DEMO_PASSWORD})
    assert response.status_code == 303, login
    finish_sign_in(client, response, "chenxiaokai")  # issue 19: the teacher's second step
    assert "陈小凯" in client.get("/").text


def test_full_width_id_card_and_email_sign_in(client, db, world):
    teacher = world["chenxiaokai"]
    teacher.id_card_number = "11010519491231002X"
    teacher.email = "chen@example.com"
    db.commit()
    for login in ("１１０１０５１９４９１２３１００２ｘ", "ｃｈｅｎ＠ｅｘａｍｐｌｅ．ｃｏｍ"):
        client.cookies.clear()
        response = post_form(client, "/login", {"login": login, "password": DEMO_PASSWORD})
        assert response.status_code == 303, login


def test_full_width_phone_recovers(client, db, world, services):
    request_code(client, db, services, phone="１３８０００００００１")
    assert verify(client, last_code(db, "13800000001")).status_code == 303


def _full_width(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


def test_full_width_identifiers_find_members(client, db, world):
    sign_in(client, "xx_admin")
    li = world["lixiaoyao"]
    for query in (_full_width(li.id_card_number), _full_width("lixiaoyao")):
        page = post_form(client, f"/school/{world.school.id}/search", {"q": query})
        assert page.status_code == 200
        assert "李*遥" in page.text or "李逍遥" in page.text, query

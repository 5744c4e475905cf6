"""班级成员 over HTTP: search, 编辑学号 · 设置角色 · 设置职位 · 编辑, add, 退出班级, 发消息."""

from __future__ import annotations

from sqlalchemy import select

from campusid.accounts.models import SchoolMembership, SchoolRole, User
from campusid.classes.models import ClassRole, ClassStudent
from campusid.demo import SCHOOL_DEFAULT_PASSWORD
from campusid.members import service as members
from tests.support.classes import audit_rows
from tests.support.http import post_form, sign_in


def _manage(world, path=""):
    return f"/classes/{world.class51.id}/manage{path}"


def _parked_names(db, world):
    """Who the school's own campus page lists under 校区存放."""
    db.expire_all()
    rows = members.parked_students(db, world.school, world.class51.campus_id)
    return {row.user.username for row in rows}


def _member(db, world, username):
    db.expire_all()
    return db.scalar(
        select(ClassStudent).where(
            ClassStudent.class_id == world.class51.id,
            ClassStudent.student_id == world[username].id,
        )
    )


def test_search_by_student_name(client, world):
    sign_in(client, "chenxiaokai")
    page = client.get(_manage(world, "/students"), params={"q": "逍遥"}).text
    assert "lixiaoyao" in page and "heshuhuan" not in page
    assert "没有找到" in client.get(_manage(world, "/students"), params={"q": "不存在"}).text
    # LIKE wildcards are taken literally.
    assert "lixiaoyao" not in client.get(_manage(world, "/students"), params={"q": "%"}).text


def test_edit_number_role_position_and_details(client, db, world):
    sign_in(client, "chenxiaokai")
    sid = world["heshuhuan"].id
    assert (
        post_form(
            client, _manage(world, f"/students/{sid}/edit"), {"student_number": "21"}
        ).status_code
        == 303
    )
    clash = post_form(client, _manage(world, f"/students/{sid}/edit"), {"student_number": "01"})
    assert clash.status_code == 400 and "学号已被本班其他学生使用" in clash.text
    bad = post_form(client, _manage(world, f"/students/{sid}/edit"), {"student_number": "<b>"})
    assert bad.status_code == 400 and "学号只能是" in bad.text

    assert (
        post_form(
            client, _manage(world, f"/students/{sid}/edit"), {"class_role": "group_leader"}
        ).status_code
        == 303
    )
    assert (
        post_form(
            client, _manage(world, f"/students/{sid}/edit"), {"class_role": "admin"}
        ).status_code
        == 400
    )

    undefined = post_form(
        client, _manage(world, f"/students/{sid}/edit"), {"cadre_position": "班长"}
    )
    assert undefined.status_code == 400 and "请选择本班已设置的班干部职位" in undefined.text
    positions = client.get(_manage(world, "/positions")).text
    assert "班干部职位" in positions
    assert post_form(client, _manage(world, "/positions"), {"name": "班长"}).status_code == 303
    assert "该职位已存在" in post_form(client, _manage(world, "/positions"), {"name": "班长"}).text
    assert (
        post_form(
            client, _manage(world, f"/students/{sid}/edit"), {"cadre_position": "班长"}
        ).status_code
        == 303
    )

    edit = client.get(_manage(world, f"/students/{sid}/edit"))
    assert edit.status_code == 200 and "何书桓" in edit.text
    saved = post_form(
        client,
        _manage(world, f"/students/{sid}/edit"),
        {"real_name": "何书桓", "gender": "female", "status": "suspended"},
    )
    assert saved.status_code == 303

    member = _member(db, world, "heshuhuan")
    assert member.student_number == "21"
    assert member.class_role is ClassRole.GROUP_LEADER
    assert member.cadre_position == "班长"
    assert member.status.value == "suspended"
    page = client.get(_manage(world, "/students")).text
    assert "小组长" in page and "停用" in page
    # Each row's selects hold that row's own values (their options are rendered once a page).
    rows = {row.split("</td>")[1].strip()[4:]: row for row in page.split("<tr>")[2:]}
    assert '<option value="班长" selected>' in rows["heshuhuan"]
    assert '<option value="group_leader" selected>' in rows["heshuhuan"]
    assert '<option value="班长" selected>' not in rows["lixiaoyao"]
    assert '<option value="member" selected>' in rows["lixiaoyao"]
    assert {e.outcome for e in audit_rows(db, "class_member_edited")} == {"success"}

    # Deleting the position takes it from the student.
    position_id = (
        client.get(_manage(world, "/positions")).text.split("/positions/")[1].split("/")[0]
    )
    post_form(client, _manage(world, f"/positions/{position_id}/delete"))
    assert _member(db, world, "heshuhuan").cadre_position is None


def test_remove_parks_at_the_campus_and_add_back(client, db, world):
    sign_in(client, "chenxiaokai")
    ids = [world["linyiping"].id, world["zhoubotong"].id]
    response = post_form(client, _manage(world, "/students/remove"), {"student_ids": ids})
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    assert "已存放在本校区" in page and "linyiping" not in page
    db.expire_all()
    membership = db.scalar(
        select(SchoolMembership).where(
            SchoolMembership.user_id == world["linyiping"].id,
            SchoolMembership.role == SchoolRole.STUDENT,
        )
    )
    assert membership.active and membership.campus_id == world.class51.campus_id
    assert {"linyiping", "zhoubotong"} <= _parked_names(db, world)
    assert db.get(User, world["linyiping"].id) is not None
    assert len(audit_rows(db, "class_student_removed")) == 2

    add = client.get(_manage(world, "/students/add")).text
    assert "从校区存放中添加" in add and "林依萍" in add
    assert (
        post_form(
            client, _manage(world, "/students/add-parked"), {"student_id": ids[0]}
        ).status_code
        == 303
    )
    assert _member(db, world, "linyiping") is not None
    # Back in a class, no longer parked: the school's campus page agrees with the class page.
    assert "linyiping" not in _parked_names(db, world)
    assert "zhoubotong" in _parked_names(db, world)
    # A student who is not parked here cannot be pulled in that way.
    again = post_form(
        client, _manage(world, "/students/add-parked"), {"student_id": world["lixiaoyao"].id}
    )
    assert again.status_code == 400 and "不在本校区存放名单中" in again.text


def test_add_new_student_on_the_default_password(client, make_client, db, world):
    sign_in(client, "chenxiaokai")
    bad = post_form(client, _manage(world, "/students/add"), {"real_name": "", "username": "1x"})
    assert bad.status_code == 400 and "学生姓名须为1-32个字" in bad.text
    taken = post_form(
        client, _manage(world, "/students/add"), {"real_name": "张三", "username": "lixiaoyao"}
    )
    assert "该用户名已被使用" in taken.text
    response = post_form(
        client,
        _manage(world, "/students/add"),
        {"real_name": "张小花", "gender": "female", "student_number": "30"},
    )
    assert response.status_code == 303
    db.expire_all()
    student = db.scalar(select(User).where(User.real_name == "张小花"))
    assert student.username == "zhangxiaohua" and student.must_change_password
    assert student.default_credential_id == world.school.default_credential_id
    assert "zhangxiaohua" in client.get(_manage(world, "/students")).text
    # Made straight into the class: never listed as parked at the campus.
    assert "zhangxiaohua" not in _parked_names(db, world)
    fresh = make_client()
    signed = post_form(
        fresh, "/login", {"login": "zhangxiaohua", "password": SCHOOL_DEFAULT_PASSWORD}
    )
    assert signed.headers["location"] == "/password/change-required"


def test_mobile_class_members_and_remove(client, db, world):
    sign_in(client, "chenxiaokai")
    assert 'href="/m/classes"' in client.get("/").text
    classes_page = client.get("/m/classes")
    assert "layout-mobile" in classes_page.text and "五年级1班" in classes_page.text
    header = client.get(f"/m/classes/{world.class51.id}").text
    assert "班级编码" in header and "gu22cm" in header
    assert "教师2人 学生6人 家长1人" in header
    assert "邀请成员" in header and "消息" in header and "成员" in header
    members = client.get(f"/m/classes/{world.class51.id}/members").text
    for name in ("陈小凯", "赵数学", "李逍遥", "学生八", "李大娘"):
        assert name in members

    student = world["weiyingluo"]
    base = f"/m/classes/{world.class51.id}/students/{student.id}"
    confirm = client.get(f"{base}/remove")
    assert "确定要将魏璎珞请出班级吗" in confirm.text
    done = post_form(client, f"{base}/remove")
    assert done.status_code == 303
    assert "已将学生请出班级" in client.get(done.headers["location"]).text
    assert _member(db, world, "weiyingluo") is None
    assert client.get(base).status_code == 404


def test_invite_shares_code_and_link(client, world):
    sign_in(client, "zhaoshuxue")
    page = client.get(f"/m/classes/{world.class51.id}/invite").text
    assert 'data-copy="gu22cm"' in page
    assert 'data-copy="http://testserver/join?code=gu22cm"' in page


def test_send_message_to_a_student(client, make_client, world):
    sign_in(client, "zhaoshuxue")
    base = f"/m/classes/{world.class51.id}/students/{world['lixiaoyao'].id}/message"
    empty = post_form(client, base, {"text": "   "})
    assert empty.status_code == 400 and "消息内容须为1-200个字" in empty.text
    sent = post_form(client, base, {"text": "明天记得带数学练习册"})
    assert sent.status_code == 200 and "消息已发送" in sent.text
    assert "明天记得带数学练习册" in client.get(f"/m/classes/{world.class51.id}").text
    student = make_client()
    sign_in(student, "lixiaoyao")
    notices = student.get("/notices").text
    assert "赵数学老师" in notices and "明天记得带数学练习册" in notices
    # Not to someone outside the class.
    outsider = f"/m/classes/{world.class51.id}/students/{world['p_lidaniang'].id}/message"
    assert post_form(client, outsider, {"text": "hi"}).status_code == 404

"""成员审核 over HTTP: asking to join by class code, approval and refusal, 全网搜索班级."""

from __future__ import annotations

from sqlalchemy import select

from campusid.accounts.models import SchoolMembership
from campusid.classes.models import ClassParent, ClassStudent, JoinRequest
from campusid.messaging.models import Notice
from tests.support.classes import audit_rows
from tests.support.http import post_form, sign_in


def _requests(world):
    return f"/classes/{world.class51.id}/manage/requests"


def _pending_id(db, user_id):
    db.expire_all()
    return db.scalar(
        select(JoinRequest.id).where(
            JoinRequest.user_id == user_id, JoinRequest.status == "pending"
        )
    )


def test_parent_asks_homeroom_teacher_approves(client, make_client, db, world):
    parent = make_client()
    sign_in(parent, "p_zhoujia")
    found = parent.get("/join", params={"code": "GU22CM "})
    assert found.status_code == 200 and "五年级1班" in found.text and "陈小凯" in found.text
    sent = post_form(
        parent, "/join", {"code": "gu22cm", "role": "parent", "message": "周伯通的爸爸"}
    )
    assert sent.status_code == 200 and "申请已提交" in sent.text
    again = post_form(parent, "/join", {"code": "gu22cm", "role": "parent"})
    assert "您已提交过申请" in again.text

    sign_in(client, "chenxiaokai")
    assert "新的入班申请" in client.get("/notices").text
    page = client.get(_requests(world)).text
    assert "周家长" in page and "周伯通的爸爸" in page and "家长" in page
    badge = '成员审核 <span class="badge">1</span>'
    assert badge in client.get(f"/classes/{world.class51.id}/manage/students").text
    request_id = _pending_id(db, world["p_zhoujia"].id)
    done = post_form(client, f"{_requests(world)}/{request_id}", {"decision": "approve"})
    assert done.status_code == 303
    assert "已通过申请" in client.get(done.headers["location"]).text
    assert "成员审核 <span" not in client.get(f"/classes/{world.class51.id}/manage/students").text

    db.expire_all()
    assert db.scalar(
        select(ClassParent).where(
            ClassParent.class_id == world.class51.id, ClassParent.parent_id == world["p_zhoujia"].id
        )
    )
    assert "入班申请已通过" in parent.get("/notices").text
    assert "家长2人" in client.get(f"/m/classes/{world.class51.id}").text
    assert audit_rows(db, "join_request_approved")[-1].target_user_id == world["p_zhoujia"].id
    # Decided once only.
    twice = post_form(client, f"{_requests(world)}/{request_id}", {"decision": "refuse"})
    assert twice.status_code == 400 and "该申请已处理或不存在" in twice.text


def test_refusal_is_told_and_changes_nothing(client, make_client, db, world):
    parent = make_client()
    sign_in(parent, "p_zhoujia")
    post_form(parent, "/join", {"code": "gu22cm", "role": "parent"})
    sign_in(client, "chenxiaokai")
    request_id = _pending_id(db, world["p_zhoujia"].id)
    done = post_form(client, f"{_requests(world)}/{request_id}", {"decision": "refuse"})
    assert done.status_code == 303
    db.expire_all()
    assert db.get(JoinRequest, request_id).status.value == "refused"
    assert db.scalar(select(ClassParent.id)) is None
    notice = db.scalar(
        select(Notice).where(
            Notice.user_id == world["p_zhoujia"].id, Notice.kind == "join_request_decided"
        )
    )
    assert notice.title == "入班申请未通过"


def test_parked_student_asks_and_is_admitted(client, make_client, db, world):
    sign_in(client, "chenxiaokai")
    student = world["zhoubotong"]
    post_form(
        client, f"/classes/{world.class51.id}/manage/students/remove", {"student_ids": [student.id]}
    )
    phone = make_client()
    sign_in(phone, "zhoubotong")
    assert post_form(phone, "/join", {"code": "gu22cm", "role": "student"}).status_code == 200
    request_id = _pending_id(db, student.id)
    assert (
        post_form(client, f"{_requests(world)}/{request_id}", {"decision": "approve"}).status_code
        == 303
    )
    db.expire_all()
    assert db.scalar(
        select(ClassStudent).where(
            ClassStudent.class_id == world.class51.id, ClassStudent.student_id == student.id
        )
    )


def test_a_student_of_another_class_is_not_taken_by_approval(client, make_client, db, world):
    """Approving would hand 陈小凯's student to 孙班主: the old teacher must let go first."""
    phone = make_client()
    sign_in(phone, "lixiaoyao")
    post_form(phone, "/join", {"code": world.class52.class_code, "role": "student"})
    sign_in(client, "sunbanzhu")
    request_id = _pending_id(db, world["lixiaoyao"].id)
    answer = post_form(
        client,
        f"/classes/{world.class52.id}/manage/requests/{request_id}",
        {"decision": "approve"},
    )
    assert answer.status_code == 400 and "须由原班主任先将其请出班级" in answer.text
    assert _pending_id(db, world["lixiaoyao"].id) == request_id


def test_join_request_refusals(client, world):
    sign_in(client, "zhaoshuxue")
    assert (
        "教师或管理员账号不能以学生身份加入班级"
        in post_form(client, "/join", {"code": world.class52.class_code, "role": "student"}).text
    )
    client.cookies.clear()
    sign_in(client, "lixiaoyao")
    assert (
        "您已是该班级成员" in post_form(client, "/join", {"code": "gu22cm", "role": "student"}).text
    )
    assert "未找到该班级" in post_form(client, "/join", {"code": "zzzzzz", "role": "student"}).text
    assert (
        "请选择以学生或家长身份加入"
        in post_form(client, "/join", {"code": "gu22cm", "role": "admin"}).text
    )


def test_only_the_manager_decides(client, make_client, db, world):
    parent = make_client()
    sign_in(parent, "p_zhoujia")
    post_form(parent, "/join", {"code": "gu22cm", "role": "parent"})
    request_id = _pending_id(db, world["p_zhoujia"].id)
    sign_in(client, "zhaoshuxue")
    answer = post_form(client, f"{_requests(world)}/{request_id}", {"decision": "approve"})
    assert answer.status_code == 403
    assert _pending_id(db, world["p_zhoujia"].id) == request_id
    assert audit_rows(db, "join_request_decided")[-1].outcome == "denied"


def test_search_class_by_code_and_its_limit(client, world, services):
    sign_in(client, "chenxiaokai")
    search = f"/classes/{world.class51.id}/manage/search"
    found = client.get(search, params={"code": world.class52.class_code}).text
    assert "五年级2班" in found and "孙班主" in found and "之江汇学校" in found
    assert "未找到该班级" in client.get(search, params={"code": "zzzzzz"}).text
    services.limits.define("classes.search", 2, 600)
    client.get(search, params={"code": "zzzzzz"})
    assert "操作过于频繁" in client.get(search, params={"code": "gu22cm"}).text


def test_a_student_of_another_school_is_not_admitted_by_class_code(
    client, make_client, db, world, other_school
):
    """Issue 16: a student of another school (even parked there) is not made a student here by
    a class code: that would take them from their school; a 转学申请 moves them."""
    other = make_client()
    sign_in(other, "qt_teacher")
    post_form(
        other,
        f"/classes/{other_school.school_class.id}/manage/students/remove",
        {"student_ids": [other_school.student.id]},
    )
    phone = make_client()
    sign_in(phone, "qt_student")
    post_form(phone, "/join", {"code": "gu22cm", "role": "student"})
    sign_in(client, "chenxiaokai")
    request_id = _pending_id(db, other_school.student.id)
    answer = post_form(client, f"{_requests(world)}/{request_id}", {"decision": "approve"})
    assert answer.status_code == 400 and "该学生已在其他学校就读" in answer.text
    db.expire_all()
    assert (
        db.scalar(
            select(SchoolMembership).where(
                SchoolMembership.user_id == other_school.student.id,
                SchoolMembership.school_id == world.school.id,
            )
        )
        is None
    )

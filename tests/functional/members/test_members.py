"""成员管理 over HTTP: attach-not-duplicate, the default password, moves, teachers, settings."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from campusid.accounts import service as accounts
from campusid.accounts.models import SchoolMembership, SchoolRole, User
from campusid.audit.models import AuditEvent
from campusid.classes.models import ClassStudent, ClassTeacher, GradeLeader
from campusid.demo import DEMO_PASSWORD, SCHOOL_DEFAULT_PASSWORD
from campusid.families.models import ParentLink
from campusid.org.models import ResetMode
from tests.support.http import post_form, sign_in
from tests.support.schools import counts, id_card, other_school, user

NEW_ID = id_card(birth="20160203", seq="331")


@pytest.fixture
def admin(client, world):
    sign_in(client, "xx_admin")
    return client


def _users(db) -> int:
    return db.scalar(select(func.count()).select_from(User))


def _add(admin, world, **fields):
    form = {
        "class_id": world.class51.id,
        "real_name": "王小新",
        "gender": "男",
        "student_number": "09",
        "id_card_number": NEW_ID,
    } | fields
    return post_form(admin, f"/school/{world.school.id}/members/add", form)


def test_add_student_creates_account_on_the_default_password(admin, world, db, make_client):
    page = admin.get(f"/school/{world.school.id}/members/add?class_id={world.class51.id}").text
    assert "添加学生/家长" in page and "原密码不变" in page
    response = _add(
        admin, world, parent_name="王大新", parent_phone="13912345678", relation="father"
    )
    assert response.status_code == 303, response.text
    assert "created=1" in response.headers["location"]
    student = db.scalar(select(User).where(User.id_card_number == NEW_ID))
    # No hash of its own: the account points at the school's one default credential.
    assert student.password_hash is None
    assert student.default_credential_id == world.school.default_credential_id
    assert student.must_change_password is True
    parent = db.scalar(select(User).where(User.phone == "13912345678"))
    assert parent.default_credential_id == world.school.default_credential_id
    assert db.scalar(
        select(ParentLink).where(ParentLink.child_id == student.id)
    ).relation.value == ("father")
    member_page = admin.get(response.headers["location"]).text
    assert "已创建新账号" in member_page and NEW_ID not in member_page
    assert NEW_ID[:4] + "**********" + NEW_ID[-4:] in member_page
    assert counts(admin.get(f"/school/{world.school.id}/classes/{world.class51.id}").text) == (
        "2个老师 7个学生 2个家长"
    )
    # The new student signs in with the default password and must change it first.
    browser = make_client()
    signed = post_form(browser, "/login", {"login": NEW_ID, "password": SCHOOL_DEFAULT_PASSWORD})
    assert signed.headers["location"] == "/password/change-required"


def test_existing_account_is_attached_and_keeps_its_password(
    admin, world, db, services, make_client
):
    # 张转学 has an account from another school (left it: a student there would be a transfer,
    # tests/functional/transfers), with a password of their own.
    school2, _, _ = other_school(db, services)
    transfer_id = id_card(birth="20150607", seq="456")
    own_hash = services.hasher.hash("Zhuan#Xue2026")
    moved = accounts.new_user(
        db,
        username="zhangzhuanxue",
        real_name="张转学",
        now=services.clock.now(),
        id_card_number=transfer_id,
        password_hash=own_hash,
    )
    db.flush()
    left = accounts.join_school(
        db, user=moved, school_id=school2.id, role=SchoolRole.STUDENT, now=services.clock.now()
    )
    left.active = False
    db.commit()
    before = _users(db)
    response = _add(admin, world, real_name="张转学", id_card_number=transfer_id)
    assert response.status_code == 303, response.text
    assert "attached=1" in response.headers["location"]
    db.expire_all()
    assert _users(db) == before
    moved = user(db, "zhangzhuanxue")
    assert moved.password_hash == own_hash and moved.default_credential_id is None
    assert moved.must_change_password is False
    assert "原密码不变" in admin.get(response.headers["location"]).text
    browser = make_client()
    assert (
        post_form(browser, "/login", {"login": transfer_id, "password": "Zhuan#Xue2026"}).headers[
            "location"
        ]
        == "/"
    )
    # Attached by phone as a parent too: p_zhoujia keeps the password.
    zhou = world["p_zhoujia"]
    page = post_form(
        admin,
        f"/school/{world.school.id}/members/{moved.id}/parents",
        {"parent_name": "周家长", "parent_phone": "13900000015", "relation": "father"},
    )
    assert page.status_code == 303
    db.expire_all()
    assert user(db, "p_zhoujia").password_hash == zhou.password_hash
    assert _users(db) == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"real_name": "别人"}, "身份证号已被其他姓名的账号使用"),
        (
            {"id_card_number": NEW_ID[:-1] + ("1" if NEW_ID[-1] != "1" else "2")},
            "身份证号校验位不正确",
        ),
        ({"phone": "12345"}, "手机号格式不正确"),
        ({"real_name": ""}, "请填写姓名"),
        ({"class_id": "999999"}, "班级不存在或已毕业"),
        ({"parent_name": "王大新", "parent_phone": "", "relation": "father"}, "请填写家长手机号"),
        ({"parent_name": "王大新", "parent_phone": "13912345678", "relation": "x"}, "家长关系须为"),
    ],
)
def test_add_student_refusals_write_nothing(admin, world, db, fields, message):
    if "别人" in fields.get("real_name", ""):
        fields = fields | {"id_card_number": world["lixiaoyao"].id_card_number}
    before = _users(db)
    response = _add(admin, world, **fields)
    assert response.status_code == 400
    assert message in response.text
    db.expire_all()
    assert _users(db) == before


def test_student_already_in_a_class_is_not_added_twice(admin, world, db):
    li = world["lixiaoyao"]
    response = _add(
        admin,
        world,
        real_name="李逍遥",
        id_card_number=li.id_card_number,
        class_id=world.class52.id,
    )
    assert response.status_code == 400 and "如需换班" in response.text
    contradict = _add(
        admin, world, real_name="李逍遥", id_card_number=li.id_card_number, phone="13800000001"
    )
    assert contradict.status_code == 400 and "分别属于不同的账号" in contradict.text


def test_settings_show_and_change_the_default_password(admin, world, db, make_client):
    url = f"/school/{world.school.id}/settings"
    page = admin.get(url).text
    assert "学生默认密码" in page and SCHOOL_DEFAULT_PASSWORD in page
    weak = post_form(
        admin, url + "/default-password", {"new_password": "abc", "confirm_password": "abd"}
    )
    assert weak.status_code == 400
    assert "两次输入的密码不一致" in weak.text and "密码长度" in weak.text
    common = post_form(
        admin,
        url + "/default-password",
        {"new_password": "Password123", "confirm_password": "Password123"},
    )
    assert common.status_code == 400 and "密码过于常见" in common.text
    done = post_form(
        admin,
        url + "/default-password",
        {"new_password": "Xuexiao#2027", "confirm_password": "Xuexiao#2027"},
    )
    assert done.status_code == 303
    assert "Xuexiao#2027" in admin.get(url).text
    db.expire_all()
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "default_password_changed"))
    assert event is not None and "Xuexiao" not in str(event.detail)
    # New accounts get the new default; s_xuesheng008 keeps the old one.
    assert _add(admin, world).status_code == 303
    browser = make_client()
    assert (
        post_form(browser, "/login", {"login": NEW_ID, "password": "Xuexiao#2027"}).status_code
        == 303
    )
    other = make_client()
    assert (
        post_form(
            other, "/login", {"login": "s_xuesheng008", "password": SCHOOL_DEFAULT_PASSWORD}
        ).status_code
        == 303
    )


def test_settings_reset_mode_and_toggles(admin, world, db):
    url = f"/school/{world.school.id}/settings"
    assert world.school.reset_mode is ResetMode.DEFAULT_PASSWORD
    response = post_form(
        admin,
        url,
        {"reset_mode": "random", "force_change_after_parent": "on", "allow_teacher_recovery": "on"},
    )
    assert response.status_code == 303
    db.expire_all()
    school = world.school
    db.refresh(school)
    assert school.reset_mode is ResetMode.RANDOM
    assert school.force_change_after_parent and school.allow_teacher_recovery
    assert post_form(admin, url, {"reset_mode": "default_password"}).status_code == 303
    db.refresh(school)
    assert school.reset_mode is ResetMode.DEFAULT_PASSWORD and not school.allow_teacher_recovery
    assert post_form(admin, url, {"reset_mode": "nonsense"}).status_code == 400


def test_moves_out_of_class_to_campus_then_another_class(admin, world, db):
    school = world.school
    li = world["lixiaoyao"]
    campus_url = f"/school/{school.id}/campuses/{world.class51.campus_id}"
    out = post_form(admin, f"/school/{school.id}/members/{li.id}/remove-from-class")
    assert out.status_code == 303 and out.headers["location"].startswith(campus_url)
    campus = admin.get(campus_url).text
    assert "校区存放" in campus and "李逍遥" in campus
    # Still a student of the campus: counted there, not in the class.
    assert counts(campus) == "3个老师 6个学生 1个家长"
    assert counts(admin.get(f"/school/{school.id}/classes/{world.class51.id}").text) == (
        "2个老师 5个学生 0个家长"
    )
    db.expire_all()
    assert db.scalar(select(ClassStudent).where(ClassStudent.student_id == li.id)) is None
    membership = db.scalar(
        select(SchoolMembership).where(
            SchoolMembership.user_id == li.id, SchoolMembership.role == SchoolRole.STUDENT
        )
    )
    assert membership.campus_id == world.class51.campus_id and membership.active
    # 分班 from 校区存放 into 五年级2班.
    assert (
        post_form(
            admin, f"/school/{school.id}/members/{li.id}/move", {"class_id": world.class52.id}
        ).status_code
        == 303
    )
    db.expire_all()
    assert db.scalar(select(ClassStudent.class_id).where(ClassStudent.student_id == li.id)) == (
        world.class52.id
    )
    assert db.get(SchoolMembership, membership.id).campus_id is None
    # 换班 back; the same class again is refused.
    assert (
        post_form(
            admin, f"/school/{school.id}/members/{li.id}/move", {"class_id": world.class51.id}
        ).status_code
        == 303
    )
    same = post_form(
        admin, f"/school/{school.id}/members/{li.id}/move", {"class_id": world.class51.id}
    )
    assert same.status_code == 400 and "该学生已在五年级1班" in same.text
    events = db.scalars(select(AuditEvent.action).where(AuditEvent.target_user_id == li.id)).all()
    assert {"class_student_removed", "student_moved"} <= set(events)


def test_out_of_school_ends_the_membership_never_the_account(admin, world, db, make_client):
    school = world.school
    he = world["heshuhuan"]
    page = admin.get(f"/school/{school.id}/members/{he.id}").text
    assert "移出学校" in page
    assert post_form(admin, f"/school/{school.id}/members/{he.id}/leave").status_code == 303
    db.expire_all()
    assert db.get(User, he.id) is not None
    membership = db.scalar(select(SchoolMembership).where(SchoolMembership.user_id == he.id))
    assert membership.active is False and membership.left_at is not None
    assert db.scalar(select(ClassStudent).where(ClassStudent.student_id == he.id)) is None
    assert counts(admin.get(f"/school/{school.id}").text) == "3个老师 5个学生 1个家长"
    again = post_form(admin, f"/school/{school.id}/members/{he.id}/leave")
    assert again.status_code == 400 and "该成员已不在本校" in again.text
    # The account still signs in.
    browser = make_client()
    assert (
        post_form(browser, "/login", {"login": "heshuhuan", "password": DEMO_PASSWORD}).status_code
        == 303
    )


def test_teacher_added_assigned_homeroom_and_grade_leader(admin, world, db):
    school = world.school
    response = post_form(
        admin,
        f"/school/{school.id}/teachers/add",
        {
            "real_name": "钱英语",
            "phone": "13700000021",
            "class_id": world.class52.id,
            "subject": "英语",
            "homeroom": "on",
        },
    )
    assert response.status_code == 303, response.text
    teacher = db.scalar(select(User).where(User.phone == "13700000021"))
    assert teacher.must_change_password and teacher.default_credential_id is not None
    row = db.scalar(select(ClassTeacher).where(ClassTeacher.teacher_id == teacher.id))
    assert row.class_id == world.class52.id and row.is_homeroom and row.subject == "英语"
    # Only one homeroom teacher a class: 孙班主 is no longer it.
    sun = db.scalar(select(ClassTeacher).where(ClassTeacher.teacher_id == world["sunbanzhu"].id))
    assert sun.is_homeroom is False
    again = post_form(
        admin, f"/school/{school.id}/teachers/add", {"real_name": "钱英语", "phone": "13700000021"}
    )
    assert again.status_code == 400 and "该老师已在本校" in again.text
    # 年级组长.
    grade = world.class51.grade
    assert (
        post_form(
            admin, f"/school/{school.id}/grades/{grade.id}/leaders", {"teacher_id": teacher.id}
        ).status_code
        == 303
    )
    assert db.scalar(select(GradeLeader).where(GradeLeader.teacher_id == teacher.id)) is not None
    assert "钱英语" in admin.get(f"/school/{school.id}/grades/{grade.id}").text
    outsider = post_form(
        admin,
        f"/school/{school.id}/grades/{grade.id}/leaders",
        {"teacher_id": world["lixiaoyao"].id},
    )
    assert outsider.status_code == 400 and "请选择本校的老师" in outsider.text
    teachers = admin.get(f"/school/{school.id}/teachers").text
    assert "钱英语" in teachers and "137****0021" in teachers and "13700000021" not in teachers
    # Remove from the class.
    assert (
        post_form(
            admin,
            f"/school/{school.id}/teachers/{teacher.id}/unassign",
            {"class_id": world.class52.id},
        ).status_code
        == 303
    )
    db.expire_all()
    assert db.scalar(select(ClassTeacher).where(ClassTeacher.teacher_id == teacher.id)) is None


def test_batch_assignment_and_quick_set(admin, world, db):
    school = world.school
    zhao = world["zhaoshuxue"]
    page = admin.get(f"/school/{school.id}/teachers/batch").text
    assert "批量设置任教" in page and "导出老师" in page
    none = post_form(
        admin, f"/school/{school.id}/teachers/batch", {"teacher_id": zhao.id, "subject": "数学"}
    )
    assert none.status_code == 400 and "请至少选择一个班级" in none.text
    ids = [world.class51.id, world.class52.id]
    done = post_form(
        admin,
        f"/school/{school.id}/teachers/batch",
        {"teacher_id": zhao.id, "subject": "数学", "class_ids": ids},
    )
    assert done.status_code == 303
    taught = set(
        db.scalars(select(ClassTeacher.class_id).where(ClassTeacher.teacher_id == zhao.id))
    )
    assert taught == set(ids)
    # 快速设置老师: 孙班主 becomes 班主任 of 五年级1班, 赵数学 teaches 数学, 陈小凯 语文.
    quick = admin.get(f"/school/{school.id}/teachers/quick?class_id={world.class51.id}").text
    assert "快速设置老师" in quick and "班主任" in quick
    from campusid.members.teachers import SUBJECTS

    form = {
        "class_id": world.class51.id,
        "homeroom_id": world["sunbanzhu"].id,
        f"subject_{SUBJECTS.index('数学')}": zhao.id,
        f"subject_{SUBJECTS.index('语文')}": world["chenxiaokai"].id,
    }
    assert post_form(admin, f"/school/{school.id}/teachers/quick", form).status_code == 303
    db.expire_all()
    rows = {
        r.teacher_id: r
        for r in db.scalars(select(ClassTeacher).where(ClassTeacher.class_id == world.class51.id))
    }
    assert rows[world["sunbanzhu"].id].is_homeroom
    assert not rows[world["chenxiaokai"].id].is_homeroom
    assert rows[zhao.id].subject == "数学" and rows[world["chenxiaokai"].id].subject == "语文"


def test_grade_leader_sees_their_grade_only(client, world, db, services):
    grade = world.class51.grade
    db.add(GradeLeader(grade_id=grade.id, teacher_id=world["zhaoshuxue"].id))
    db.commit()
    sign_in(client, "zhaoshuxue")
    school = world.school
    page = client.get(f"/school/{school.id}/grades/{grade.id}")
    assert page.status_code == 200
    assert counts(page.text) == "3个老师 6个学生 1个家长"
    assert "新增班级" not in page.text and "csrf_token" not in page.text.split("<main")[1]
    class_page = client.get(f"/school/{school.id}/classes/{world.class51.id}")
    assert class_page.status_code == 200 and "李逍遥" in class_page.text
    assert "换班" not in class_page.text
    other_grade = world.class51.grade.stage_unit.grades[0]
    assert other_grade.id != grade.id
    assert client.get(f"/school/{school.id}/grades/{other_grade.id}").status_code == 403
    assert client.get(f"/school/{school.id}").status_code == 403
    assert post_form(client, f"/school/{school.id}/grades/{grade.id}/promote").status_code == 403
    assert (
        post_form(client, f"/school/{school.id}/members/{world['lixiaoyao'].id}/leave").status_code
        == 403
    )
    # Not the grade of another school with the same id path.
    school2, _, _ = other_school(db, services)
    assert client.get(f"/school/{school2.id}/grades/{grade.id}").status_code == 403

"""The authorization matrix: who may reset, remove and edit a student of 五年级1班.

Only the homeroom teacher of the student's current class and the school's administrators may;
everyone else is refused with 403, the refusal is audited, and nothing changes.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from campusid.accounts.models import User
from campusid.classes import enrolment
from campusid.classes.models import ClassStudent
from tests.support.classes import audit_rows
from tests.support.http import post_form, sign_in

ACTORS = {
    "homeroom_teacher": ("chenxiaokai", True),
    "school_admin": ("xx_admin", True),
    "subject_teacher": ("zhaoshuxue", False),
    "other_homeroom_teacher": ("sunbanzhu", False),
    "other_school_admin": ("qt_admin", False),
    "parent_of_the_student": ("p_lidaniang", False),
    "student_classmate": ("heshuhuan", False),
}
ACTIONS = {
    "reset": ("password_reset", "/students/reset", lambda sid: {"student_ids": [sid]}),
    "remove": ("class_student_removed", "/students/remove", lambda sid: {"student_ids": [sid]}),
    "edit": (
        "class_member_edited",
        "/students/{sid}/edit",
        lambda sid: {"real_name": "改名了", "gender": "male", "status": "normal"},
    ),
}


def _state(db, world):
    db.expire_all()
    student = world["lixiaoyao"]
    member = db.scalar(
        select(ClassStudent).where(
            ClassStudent.class_id == world.class51.id, ClassStudent.student_id == student.id
        )
    )
    return (student.password_version, student.real_name, member is not None)


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("action", ACTIONS)
def test_matrix(client, db, world, other_school, actor, action):
    username, allowed = ACTORS[actor]
    audit_action, path, form = ACTIONS[action]
    student = world["lixiaoyao"]
    before = _state(db, world)
    sign_in(client, username)
    url = f"/classes/{world.class51.id}/manage" + path.format(sid=student.id)
    response = post_form(client, url, form(student.id))
    after = _state(db, world)
    events = audit_rows(db, audit_action)
    assert events, "every attempt is audited"
    last = events[-1]
    assert last.actor_id == db.scalar(select(User.id).where(User.username == username))
    if allowed:
        assert response.status_code in (200, 303), response.text[:300]
        assert last.outcome == "success"
        assert after != before
    else:
        assert response.status_code == 403
        assert "您没有权限执行此操作" in response.text
        assert last.outcome == "denied" and last.target_user_id == student.id
        assert after == before
        if action == "reset":
            assert last.route == "teacher"


@pytest.mark.parametrize("action", ["reset", "remove"])
def test_another_homeroom_teacher_cannot_go_through_their_own_class(client, db, world, action):
    """孙班主 posts 李逍遥 to 五年级2班's page: the student is not in that class."""
    sign_in(client, "sunbanzhu")
    student = world["lixiaoyao"]
    before = _state(db, world)
    response = post_form(
        client,
        f"/classes/{world.class52.id}/manage/students/{action}",
        {"student_ids": [student.id]},
    )
    assert response.status_code == 403
    assert _state(db, world) == before


def test_one_refused_student_refuses_the_whole_batch(client, db, world, other_school):
    sign_in(client, "chenxiaokai")
    mine, theirs = world["lixiaoyao"], other_school.student
    before = (_state(db, world), theirs.password_version)
    response = post_form(
        client,
        f"/classes/{world.class51.id}/manage/students/reset",
        {"student_ids": [mine.id, theirs.id]},
    )
    assert response.status_code == 403
    db.expire_all()
    assert (_state(db, world), theirs.password_version) == before
    assert [e.target_user_id for e in audit_rows(db, "password_reset")] == [theirs.id]


def test_the_homeroom_teacher_of_a_former_class_loses_the_power(client, make_client, db, world):
    """李逍遥 leaves 五年级1班 and joins 五年级2班: now only 孙班主 may reset."""
    student = world["lixiaoyao"]
    sign_in(client, "chenxiaokai")
    post_form(
        client, f"/classes/{world.class51.id}/manage/students/remove", {"student_ids": [student.id]}
    )
    other = make_client()
    sign_in(other, "sunbanzhu")
    added = post_form(
        other,
        f"/classes/{world.class52.id}/manage/students/add-parked",
        {"student_id": student.id},
    )
    assert added.status_code == 303
    old = post_form(
        client, f"/classes/{world.class51.id}/manage/students/reset", {"student_ids": [student.id]}
    )
    assert old.status_code == 403
    new = post_form(
        other, f"/classes/{world.class52.id}/manage/students/reset", {"student_ids": [student.id]}
    )
    assert new.status_code == 200 and "重置密码名单" in new.text


def test_management_pages_are_closed_to_others(client, world, other_school):
    for username in ("zhaoshuxue", "sunbanzhu", "qt_admin", "p_lidaniang", "heshuhuan"):
        client.cookies.clear()
        sign_in(client, username)
        page = client.get(f"/classes/{world.class51.id}/manage/students")
        assert page.status_code in (403, 404), username
        assert "lixiaoyao" not in page.text


def test_class_home_is_seen_by_its_teachers_only(client, world, other_school):
    sign_in(client, "zhaoshuxue")
    home = client.get(f"/classes/{world.class51.id}")
    assert home.status_code == 200 and "班级管理" not in home.text
    for username in ("sunbanzhu", "qt_admin", "p_lidaniang", "heshuhuan"):
        client.cookies.clear()
        sign_in(client, username)
        assert client.get(f"/classes/{world.class51.id}").status_code == 404, username
        assert (
            client.get(
                f"/m/classes/{world.class51.id}/students/{world['lixiaoyao'].id}"
            ).status_code
            == 404
        )


def test_mobile_reset_is_refused_to_a_subject_teacher(client, db, world):
    sign_in(client, "zhaoshuxue")
    student = world["lixiaoyao"]
    page = client.get(f"/m/classes/{world.class51.id}/students/{student.id}")
    assert page.status_code == 200
    assert '/reset"' not in page.text
    assert "发消息" in page.text
    before = _state(db, world)
    response = post_form(client, f"/m/classes/{world.class51.id}/students/{student.id}/reset")
    assert response.status_code == 403
    assert _state(db, world) == before
    assert audit_rows(db, "password_reset")[-1].outcome == "denied"


def test_a_staff_account_placed_in_a_class_is_not_reset_here(client, db, services, world):
    teacher = world["zhaoshuxue"]
    enrolment.enrol(db, school_class=world.class51, student=teacher, now=services.clock.now())
    db.commit()
    sign_in(client, "chenxiaokai")
    response = post_form(
        client, f"/classes/{world.class51.id}/manage/students/reset", {"student_ids": [teacher.id]}
    )
    assert response.status_code == 403


def test_a_refused_bulk_reset_is_one_row_for_the_class_naming_nobody(client, db, world):
    """孙班主 ticks two pupils of 五年级1班 on that class's page: one refusal, one audit row, with
    the class's school (its administrators see it) and the count, no account named."""
    pupils = [world["lixiaoyao"].id, world["heshuhuan"].id]
    before = len(audit_rows(db, "password_reset"))
    sign_in(client, "sunbanzhu")
    url = f"/classes/{world.class51.id}/manage/students/reset"
    assert post_form(client, url, {"student_ids": pupils}).status_code == 403
    db.expire_all()
    rows = audit_rows(db, "password_reset")[before:]
    assert len(rows) == 1
    (row,) = rows
    assert row.outcome == "denied" and row.target_user_id is None
    assert row.school_id == world.school.id and row.detail["refused_count"] == 2

"""The 成员管理 pages' handling of refusals and of bad input: which page a refusal draws, what
it keeps of what was typed, and that nothing of a refused act is written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from campusid.accounts.models import User
from campusid.classes.models import ClassStudent, ClassTeacher
from campusid.families.models import ParentLink
from tests.support.http import post_form, sign_in


@pytest.fixture
def admin(client, world):
    sign_in(client, "xx_admin")
    return client


def _count(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def test_a_refused_act_on_a_member_draws_their_page_again(admin, world, db):
    school = world.school
    li = world["lixiaoyao"]
    same = post_form(
        admin, f"/school/{school.id}/members/{li.id}/move", {"class_id": world.class51.id}
    )
    # The member's own page (its actions), with the reason: not the console's refusal page.
    assert same.status_code == 400
    assert "该学生已在五年级1班" in same.text and "移出学校" in same.text
    assert f'action="/school/{school.id}/members/{li.id}/parents"' in same.text
    # A class that is not a number is "no class": the service says so, on the same page.
    garbled = post_form(admin, f"/school/{school.id}/members/{li.id}/move", {"class_id": "x"})
    assert garbled.status_code == 400 and "移出学校" in garbled.text
    db.expire_all()
    assert db.scalar(select(ClassStudent.class_id).where(ClassStudent.student_id == li.id)) == (
        world.class51.id
    )


def test_a_refused_parent_keeps_what_was_typed_and_writes_nothing(admin, world, db):
    school = world.school
    li = world["lixiaoyao"]
    users, links = _count(db, User), _count(db, ParentLink)
    refused = post_form(
        admin,
        f"/school/{school.id}/members/{li.id}/parents",
        {"parent_name": "李大娘", "parent_phone": "13912340000", "relation": "aunt"},
    )
    assert refused.status_code == 400 and "家长关系须为" in refused.text
    assert 'value="李大娘"' in refused.text and 'value="13912340000"' in refused.text
    assert _count(db, User) == users and _count(db, ParentLink) == links


def test_acts_on_someone_not_of_the_school_are_not_found(admin, world):
    school = world.school
    for act in ("move", "remove-from-class", "leave", "parents"):
        response = post_form(admin, f"/school/{school.id}/members/99999999/{act}")
        assert response.status_code == 404, act


def test_add_student_refusal_keeps_the_typed_fields(admin, world, db):
    users = _count(db, User)
    response = post_form(
        admin,
        f"/school/{world.school.id}/members/add",
        {"class_id": "abc", "real_name": "王小新", "student_number": "  09 ", "gender": "男"},
    )
    assert response.status_code == 400 and "班级不存在或已毕业" in response.text
    assert 'value="王小新"' in response.text and 'value="09"' in response.text
    assert _count(db, User) == users


def test_refused_assignment_draws_the_refusal_page_and_writes_nothing(admin, world, db):
    school = world.school
    rows = _count(db, ClassTeacher)
    response = post_form(
        admin,
        f"/school/{school.id}/teachers/assign",
        {"teacher_id": world["lixiaoyao"].id, "class_id": world.class52.id, "subject": "数学"},
    )
    assert response.status_code == 400 and "请选择本校的老师" in response.text
    assert _count(db, ClassTeacher) == rows


def test_batch_refusal_keeps_the_ticked_classes(admin, world):
    school = world.school
    response = post_form(
        admin,
        f"/school/{school.id}/teachers/batch",
        {"teacher_id": world["lixiaoyao"].id, "subject": "数学", "class_ids": [world.class52.id]},
    )
    assert response.status_code == 400 and "请选择本校的老师" in response.text
    assert f'value="{world.class52.id}" checked' in response.text

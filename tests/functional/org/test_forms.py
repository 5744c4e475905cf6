"""The organisation pages' forms: what a person typed comes back with the reason it was refused,
a number that is not a number gets the service's own message, and a refused delete links back."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from campusid.org.models import Campus, Grade, SchoolClass, StageUnit
from tests.support.http import post_form, sign_in


@pytest.fixture
def admin(client, world):
    sign_in(client, "xx_admin")
    return client


def _count(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def test_a_non_number_gets_the_services_message_and_nothing_is_created(admin, world, db):
    school, grade = world.school, world.class51.grade
    before = _count(db, SchoolClass)
    response = post_form(
        admin,
        f"/school/{school.id}/grades/{grade.id}/classes/new",
        {"batch": "no", "first": "abc", "last": "7"},
    )
    assert response.status_code == 400
    assert "班号须在1-50之间" in response.text
    assert 'name="last" value="7"' in response.text  # typed, drawn again
    response = post_form(
        admin,
        f"/school/{school.id}/stages/{grade.stage_id}/grades/new",
        {"enrollment_year": "二〇二六", "first": "1", "last": "2"},
    )
    assert response.status_code == 400 and "入学年份须在2021-2027之间" in response.text
    response = post_form(
        admin,
        f"/school/{school.id}/quick-create",
        {"campus_name": "东校区", "stage_primary": "on", "classes_primary_1": "两个"},
    )
    # (as before the form models: a count that is not a number is reported against year 0)
    assert response.status_code == 400 and "小学只有6个年级" in response.text
    assert 'value="东校区"' in response.text
    assert _count(db, SchoolClass) == before
    assert db.scalar(select(Campus).where(Campus.name == "东校区")) is None


def test_a_refused_naming_keeps_what_was_typed_and_saves_nothing(admin, world, db):
    stage_id = world.class51.grade.stage_id
    url = f"/school/{world.school.id}/stages/{stage_id}/settings"
    response = post_form(admin, url, {"name_5": "  高段甲 ", "name_6": "高段甲"})
    assert response.status_code == 400 and "年级名称不能重复" in response.text
    assert response.text.count('value="高段甲"') == 2
    db.expire_all()
    assert not db.get(StageUnit, stage_id).grade_name_overrides


def test_a_refused_delete_names_why_and_links_back_to_the_node(admin, world, db):
    school = world.school
    grade = world.class51.grade
    response = post_form(admin, f"/school/{school.id}/grades/{grade.id}/delete")
    assert response.status_code == 400
    assert f'href="/school/{school.id}/grades/{grade.id}"' in response.text
    db.expire_all()
    assert db.scalar(select(Grade.id).where(Grade.id == grade.id)) == grade.id


def test_a_teaching_class_on_a_campus_of_another_school_is_not_found(admin, world, db):
    before = _count(db, SchoolClass)
    response = post_form(
        admin,
        f"/school/{world.school.id}/teaching/new",
        {"campus_id": "x", "name": "书法兴趣班", "subject": "书法"},
    )
    assert response.status_code == 404
    assert _count(db, SchoolClass) == before

"""A stage's 学制 and a grade's 入学年份 corrected, or refused with the reason (issue 17)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from campusid.audit.models import AuditEvent
from campusid.org import service as org
from campusid.org.models import Grade, SchoolClass, StageUnit
from campusid.org.schoolyear import SchoolSystem, Stage
from tests.support.http import post_form, sign_in


@pytest.fixture
def admin(client, world):
    sign_in(client, "xx_admin")
    return client


def _events(db, action: str) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _stage(db, world, stage: Stage) -> StageUnit:
    campus_id = world.class51.campus_id
    return db.scalar(
        select(StageUnit).where(StageUnit.campus_id == campus_id, StageUnit.stage == stage)
    )


def _grade(db, world, year: int) -> Grade:
    return db.scalar(
        select(Grade).where(
            Grade.enrollment_year == year, Grade.stage_id == world.class51.grade.stage_id
        )
    )


def test_a_school_system_is_corrected_for_the_campus_and_a_second_submit_changes_nothing(
    admin, world, db
):
    school = world.school
    primary = _stage(db, world, Stage.PRIMARY)
    junior = _stage(db, world, Stage.JUNIOR)
    settings = admin.get(f"/school/{school.id}/stages/{primary.id}/settings")
    assert settings.status_code == 200 and "更正学制" in settings.text
    url = f"/school/{school.id}/stages/{primary.id}/system"
    done = post_form(admin, url, {"school_system": "5-4"})
    assert done.status_code == 303, done.text
    db.expire_all()
    # The junior stage follows: one 学制 for a campus's primary and junior school.
    assert primary.school_system is SchoolSystem.FIVE_FOUR
    assert junior.school_system is SchoolSystem.FIVE_FOUR
    assert {g.school_system for g in primary.grades + junior.grades} == {SchoolSystem.FIVE_FOUR}
    tree = admin.get(f"/school/{school.id}").text
    assert "五年级1班" in tree  # 2022 is still in its fifth year
    assert "六年级" in tree and "七年级" not in tree  # 2026's junior intake under 五四制
    graduation = db.scalar(
        select(SchoolClass.graduation_year).where(SchoolClass.id == world.class51.id)
    )
    assert graduation == 2027
    events = _events(db, "stage_system_corrected")
    assert sorted(e.detail["stage_id"] for e in events) == sorted([primary.id, junior.id])
    assert {(e.detail["old"], e.detail["new"]) for e in events} == {("6-3", "5-4")}
    # The same submit again changes nothing and records nothing.
    again = post_form(admin, url, {"school_system": "5-4"})
    assert again.status_code == 303 and "unchanged=1" in again.headers["location"]
    assert "没有变更" in admin.get(again.headers["location"]).text
    assert len(_events(db, "stage_system_corrected")) == 2


def test_a_school_system_that_would_push_a_grade_out_of_its_stage_is_refused(admin, world, db):
    school = world.school
    primary = _stage(db, world, Stage.PRIMARY)
    org.add_grade(db, stage_unit=primary, enrollment_year=2021)  # 六年级
    db.commit()
    url = f"/school/{school.id}/stages/{primary.id}/system"
    refused = post_form(admin, url, {"school_system": "5-4"})
    assert refused.status_code == 400
    assert "改为五四制后小学只有5个年级，六年级（2021级）将超出学段" in refused.text
    assert '<option value="5-4" selected>' in refused.text  # the 学制 chosen, kept
    blank = post_form(admin, url, {"school_system": ""})
    assert blank.status_code == 400 and "请选择学制" in blank.text
    db.expire_all()
    assert primary.school_system is SchoolSystem.SIX_THREE
    assert _stage(db, world, Stage.JUNIOR).school_system is SchoolSystem.SIX_THREE
    assert {g.school_system for g in primary.grades} == {SchoolSystem.SIX_THREE}
    assert _events(db, "stage_system_corrected") == []


def test_an_enrollment_year_is_corrected_and_a_second_submit_changes_nothing(admin, world, db):
    school = world.school
    grade3 = _grade(db, world, 2024)  # 三年级
    assert "更正入学年份" in admin.get(f"/school/{school.id}/grades/{grade3.id}/settings").text
    url = f"/school/{school.id}/grades/{grade3.id}/enrollment-year"
    done = post_form(admin, url, {"enrollment_year": "2023"})
    assert done.status_code == 303, done.text
    db.expire_all()
    assert grade3.enrollment_year == 2023
    assert {c.graduation_year for c in grade3.classes} == {2029}
    assert "四年级1班" in admin.get(f"/school/{school.id}").text
    [event] = _events(db, "grade_enrollment_corrected")
    assert event.detail == {"grade_id": grade3.id, "old": 2024, "new": 2023}
    again = post_form(admin, url, {"enrollment_year": "2023"})
    assert again.status_code == 303 and "unchanged=1" in again.headers["location"]
    assert len(_events(db, "grade_enrollment_corrected")) == 1


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("2022", "2022级已存在"),  # the stage's 五年级
        ("2028", "入学年份须在2021-2027之间"),  # beyond next school year's intake
        ("2020", "入学年份须在2021-2027之间"),  # it would have graduated
        ("", "入学年份须在2021-2027之间"),
    ],
)
def test_an_enrollment_year_that_contradicts_the_school_is_refused(admin, world, db, typed, reason):
    school = world.school
    grade3 = _grade(db, world, 2024)
    url = f"/school/{school.id}/grades/{grade3.id}/enrollment-year"
    refused = post_form(admin, url, {"enrollment_year": typed})
    assert refused.status_code == 400
    assert reason in refused.text
    assert f'name="enrollment_year" value="{typed}"' in refused.text  # as typed
    db.expire_all()
    assert grade3.enrollment_year == 2024
    assert _events(db, "grade_enrollment_corrected") == []


def test_an_enrollment_year_giving_two_grades_one_name_is_refused(admin, world, db):
    school = world.school
    grade5, grade3 = world.class51.grade, _grade(db, world, 2024)
    assert post_form(admin, f"/school/{school.id}/grades/{grade5.id}/promote").status_code == 303
    # 2022 was promoted by hand to 六年级: 2021 would be a second 六年级.
    url = f"/school/{school.id}/grades/{grade3.id}/enrollment-year"
    refused = post_form(admin, url, {"enrollment_year": "2021"})
    assert refused.status_code == 400 and "修改后将与本学段的六年级重名" in refused.text
    db.expire_all()
    assert grade3.enrollment_year == 2024


def test_a_graduated_grade_keeps_its_enrollment_year(admin, world, db):
    school = world.school
    grade5 = world.class51.grade
    assert post_form(admin, f"/school/{school.id}/grades/{grade5.id}/promote").status_code == 303
    assert post_form(admin, f"/school/{school.id}/grades/{grade5.id}/graduate").status_code == 303
    assert "更正入学年份" not in admin.get(f"/school/{school.id}/grades/{grade5.id}/settings").text
    url = f"/school/{school.id}/grades/{grade5.id}/enrollment-year"
    refused = post_form(admin, url, {"enrollment_year": "2023"})
    assert refused.status_code == 400 and "该年级已毕业，不能修改入学年份" in refused.text
    db.expire_all()
    assert grade5.enrollment_year == 2022
    assert _events(db, "grade_enrollment_corrected") == []


def test_a_senior_stage_is_offered_no_school_system_correction(admin, world, db):
    """高中 is three years under 六三制 and 五四制 alike: nothing to correct, nothing offered."""
    school = world.school
    senior = org.add_stage(
        db, campus=world.class51.campus, stage=Stage.SENIOR, school_system=SchoolSystem.SIX_THREE
    )
    db.commit()
    assert "更正学制" not in admin.get(f"/school/{school.id}/stages/{senior.id}/settings").text
    url = f"/school/{school.id}/stages/{senior.id}/system"
    refused = post_form(admin, url, {"school_system": "5-4"})
    assert refused.status_code == 400 and "无需更正学制" in refused.text
    db.expire_all()
    assert senior.school_system is SchoolSystem.SIX_THREE
    assert _stage(db, world, Stage.PRIMARY).school_system is SchoolSystem.SIX_THREE
    assert _events(db, "stage_system_corrected") == []


def test_two_corrections_at_once_cannot_give_two_grades_one_year(world, db, services):
    """PostgreSQL: the second correction read the grades before the first committed; it waits
    for the campus and checks the grades as they are then, so it is refused with the reason
    rather than failing on the unique constraint. (SQLite runs writers one at a time.)"""
    from campusid.audit.service import Actor
    from campusid.org import building
    from campusid.org.schoolyear import calendar_for

    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    calendar = calendar_for(services.settings, services.clock)
    now = services.clock.now()
    actor = Actor(user_id=world["xx_admin"].id)
    grade3_id, grade5_id = _grade(db, world, 2024).id, world.class51.grade.id
    first, second = services.session_factory(), services.session_factory()
    try:
        late = second.get(Grade, grade5_id)
        assert late is not None and [g.enrollment_year for g in late.stage_unit.grades]
        early = first.get(Grade, grade3_id)
        assert early is not None
        building.correct_enrollment_year(
            first, grade=early, enrollment_year=2023, calendar=calendar, now=now, actor=actor
        )
        first.commit()
        with pytest.raises(building.Invalid, match="2023级已存在"):
            building.correct_enrollment_year(
                second, grade=late, enrollment_year=2023, calendar=calendar, now=now, actor=actor
            )
        second.commit()  # nothing written (the test's sessions share one connection)
    finally:
        first.close()
        second.close()
    db.expire_all()
    assert _grade(db, world, 2023).id == grade3_id
    assert db.get(Grade, grade5_id).enrollment_year == 2022

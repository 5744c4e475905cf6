"""升级 and 毕业 by hand that would clash, and their undoing within the school year (issue 17)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from campusid.org import service as org
from campusid.org.models import Grade
from tests.support.http import post_form, sign_in


@pytest.fixture
def admin(client, world):
    sign_in(client, "xx_admin")
    return client


def _grade(db, world, year: int) -> Grade:
    return db.scalar(
        select(Grade).where(
            Grade.enrollment_year == year, Grade.stage_id == world.class51.grade.stage_id
        )
    )


def test_an_early_promotion_into_a_taken_name_is_refused_with_the_reason(admin, world, db):
    school = world.school
    grade5 = world.class51.grade  # 2022: 五年级
    # A 2023 grade (四年级) would become 五年级 while 2022 is still 五年级.
    grade4 = org.add_grade(db, stage_unit=grade5.stage_unit, enrollment_year=2023)
    db.commit()
    refused = post_form(admin, f"/school/{school.id}/grades/{grade4.id}/promote")
    assert refused.status_code == 400
    assert "升级后将与本学段的五年级重名" in refused.text
    # From the top down it works.
    assert post_form(admin, f"/school/{school.id}/grades/{grade5.id}/promote").status_code == 303
    assert post_form(admin, f"/school/{school.id}/grades/{grade4.id}/promote").status_code == 303
    tree = admin.get(f"/school/{school.id}").text
    assert "六年级1班" in tree
    # Undoing 2022's promotion now would give two 五年级: refused, with the reason.
    undo = post_form(admin, f"/school/{school.id}/grades/{grade5.id}/unpromote")
    assert undo.status_code == 400 and "撤销后将与本学段的五年级重名" in undo.text
    assert post_form(admin, f"/school/{school.id}/grades/{grade4.id}/unpromote").status_code == 303
    assert post_form(admin, f"/school/{school.id}/grades/{grade5.id}/unpromote").status_code == 303
    db.expire_all()
    assert grade5.year_offset == 0 and grade4.year_offset == 0
    assert "五年级1班" in admin.get(f"/school/{school.id}").text


def test_a_graduation_by_hand_is_undone_within_the_school_year(admin, world, db, clock):
    school = world.school
    grade = world.class51.grade
    url = f"/school/{school.id}/grades/{grade.id}"
    nothing = post_form(admin, f"{url}/ungraduate")
    assert nothing.status_code == 400 and "不是手动毕业的" in nothing.text
    assert post_form(admin, f"{url}/promote").status_code == 303
    assert post_form(admin, f"{url}/graduate").status_code == 303
    assert "撤销毕业" in admin.get(f"{url}/settings").text
    assert post_form(admin, f"{url}/ungraduate").status_code == 303
    tree = admin.get(f"/school/{school.id}").text
    assert "六年级1班" in tree  # back where it was, promoted, with its pupils
    assert "李逍遥" in admin.get(f"/school/{school.id}/classes/{world.class51.id}").text
    # Graduated again, and a school year later it can no longer be undone.
    assert post_form(admin, f"{url}/graduate").status_code == 303
    clock.set(datetime(2027, 9, 2, 2, 0, tzinfo=UTC))
    sign_in(admin, "xx_admin")
    late = post_form(admin, f"{url}/ungraduate")
    assert late.status_code == 400 and "只能撤销本学年的毕业" in late.text
    db.expire_all()
    assert grade.graduated_at is not None


def test_undoing_a_graduation_that_would_seat_a_pupil_twice_is_refused(admin, world, db):
    school = world.school
    url = f"/school/{school.id}/grades/{world.class51.grade.id}"
    assert post_form(admin, f"{url}/promote").status_code == 303
    assert post_form(admin, f"{url}/graduate").status_code == 303
    grade3 = _grade(db, world, 2024)
    class31 = grade3.classes[0]
    li = world["lixiaoyao"]
    moved = post_form(admin, f"/school/{school.id}/members/{li.id}/move", {"class_id": class31.id})
    assert moved.status_code == 303, moved.text
    refused = post_form(admin, f"{url}/ungraduate")
    assert refused.status_code == 400
    assert "已有1名学生编入其他班级" in refused.text
    db.expire_all()
    assert world.class51.grade.graduated_at is not None

"""Classes that share a name (issue 17): pickers tell them apart, an import row must choose."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from campusid.accounts.models import User
from campusid.org import service as org
from campusid.org.schoolyear import SchoolSystem, Stage
from campusid.roster.service import COLUMNS
from tests.support.http import sign_in
from tests.support.schools import import_roster, read_xlsx, xlsx


def row(**cells: str) -> list[str]:
    return [cells.get(c, "") for c in COLUMNS]


@pytest.fixture
def twin(client, world, db, services):
    """东校区 with its own 五年级1班, of the same enrollment year as the demo's."""
    sign_in(client, "xx_admin")
    campus = org.create_campus(db, school=world.school, name="东校区")
    unit = org.add_stage(
        db, campus=campus, stage=Stage.PRIMARY, school_system=SchoolSystem.SIX_THREE
    )
    grade = org.add_grade(db, stage_unit=unit, enrollment_year=world.class51.grade.enrollment_year)
    twin = org.add_class(db, grade=grade, number=1, now=services.clock.now())
    db.commit()
    return twin


def test_pickers_show_campus_and_enrollment_year_where_names_repeat(client, world, twin):
    year = world.class51.grade.enrollment_year
    for path in ("/members/add", "/teachers/add", f"/members/{world['lixiaoyao'].id}"):
        page = client.get(f"/school/{world.school.id}{path}").text
        assert f"东校区 · 五年级1班（{year}级）" in page, path
        assert ">五年级2班<" in page, path  # a name that does not repeat stays as it is
        if "members/add" in path or "teachers" in path:  # 换班 leaves out the current class
            assert f"柯桥区智慧校园 · 五年级1班（{year}级）" in page, path


def test_an_import_row_naming_two_classes_is_refused_with_the_candidates(client, world, db, twin):
    users = db.scalar(select(func.count()).select_from(User))
    response = import_roster(client, world.school.id, xlsx([row(姓名="重名生", 班级="五年级1班")]))
    assert response.status_code == 400
    assert "有多个班级叫「五年级1班」" in response.text
    assert world.class51.class_code in response.text and twin.class_code in response.text
    assert db.scalar(select(func.count()).select_from(User)) == users
    # The campus, or the class code, chooses.
    response = import_roster(
        client, world.school.id, xlsx([row(姓名="重名生", 校区="东校区", 班级="五年级1班")])
    )
    assert "导入成功" in response.text, response.text
    response = import_roster(
        client, world.school.id, xlsx([row(姓名="编码生", 班级=twin.class_code)])
    )
    assert "导入成功" in response.text, response.text
    # And an export of both campuses goes back unchanged.
    rows = read_xlsx(client.get(f"/school/{world.school.id}/roster/students.xlsx").content)
    data = [["" if v is None else str(v) for v in r] for r in rows[1:]]
    response = import_roster(client, world.school.id, xlsx(data, header=rows[0]))
    assert "0 处变更" in response.text, response.text

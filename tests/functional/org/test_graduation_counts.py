"""毕业 counts the same on every page (issue 17): the district page, the school root, a recount."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from campusid.accounts import service as accounts
from campusid.accounts.models import SchoolMembership, SchoolRole
from campusid.classes import enrolment
from campusid.classes.models import ClassStudent
from campusid.families import service as families
from campusid.families.models import ParentLink, Relation
from campusid.org import service as org
from campusid.org.models import Grade, SchoolClass
from campusid.org.schoolyear import calendar_for
from tests.support.http import post_form, sign_in
from tests.support.schools import counts, school_with_class


def _district_line(client, world) -> tuple[str, str]:
    """The school's line and the district's total on the district page."""
    page = client.get(f"/district/{world.school.district_id}").text
    rows = {
        name: f"{t}个老师 {s}个学生 {p}个家长"
        for name, t, s, p in re.findall(
            r"<tr>\s*<td>([^<]+)</td>\s*<td>(\d+)个老师</td>\s*<td>(\d+)个学生</td>\s*"
            r"<td>(\d+)个家长</td>",
            page,
        )
    }
    return rows[world.school.name], counts(page)


def _recount(db, services, school_id: int) -> tuple[int, int]:
    """Students and parents of the school counted by hand: the pupils of its current classes
    and those parked at a campus, and their parents."""
    db.expire_all()
    calendar = calendar_for(services.settings, services.clock)
    classes = db.scalars(select(SchoolClass).where(SchoolClass.school_id == school_id)).all()
    current = [
        c.id
        for c in classes
        if c.grade is None or not org.is_graduated(c.grade, calendar.today, calendar.boundary)
    ]
    pupils = set(
        db.scalars(select(ClassStudent.student_id).where(ClassStudent.class_id.in_(current)))
    )
    pupils |= set(
        db.scalars(
            select(SchoolMembership.user_id).where(
                SchoolMembership.current(school_id=school_id, role=SchoolRole.STUDENT),
                SchoolMembership.campus_id.is_not(None),
            )
        )
    )
    parents = set(db.scalars(select(ParentLink.parent_id).where(ParentLink.child_id.in_(pupils))))
    return len(pupils), len(parents)


def _numbers(line: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", line)]


def _all_agree(platform, admin, db, services, world) -> list[int]:
    line, total = _district_line(platform, world)
    root = counts(admin.get(f"/school/{world.school.id}").text)
    assert line == root
    listing = platform.get("/platform/schools", params={"q": world.school.name}).text
    found = re.search(
        rf">{world.school.name}</a></td>.*?<td>(\d+)个老师</td><td>(\d+)个学生</td>"
        r"<td>(\d+)个家长</td>",
        listing,
        re.S,
    )
    assert found is not None
    assert "{}个老师 {}个学生 {}个家长".format(*found.groups()) == root
    _, students, parents = _numbers(line)
    assert (students, parents) == _recount(db, services, world.school.id)
    return [*_numbers(line), *_numbers(total)]


@pytest.fixture
def several_classes(db, services, world):  # type: ignore[no-untyped-def]
    """A 三年级 beside the 五年级 about to graduate: 李大娘 has a child in each (she stays a
    parent of the school), and a pupil of the 五年级 also studies at 柯桥第二小学 (he stays a
    student of the district); a second 三年级 pupil with a parent of her own."""
    now = services.clock.now()
    grade5 = world.class51.grade
    grade3 = db.scalar(
        select(Grade).where(Grade.stage_id == grade5.stage_id, Grade.enrollment_year == 2024)
    ) or org.add_grade(db, stage_unit=grade5.stage_unit, enrollment_year=2024)
    numbers = set(db.scalars(select(SchoolClass.number).where(SchoolClass.grade_id == grade3.id)))
    free = [n for n in range(1, 10) if n not in numbers]
    class31 = org.add_class(db, grade=grade3, number=free[0], now=now)
    class32 = org.add_class(db, grade=grade3, number=free[1], now=now)
    school = world.school.id
    sibling = accounts.new_user(db, username="g17_sib", real_name="李小妹", now=now)
    other = accounts.new_user(db, username="g17_other", real_name="王小花", now=now)
    mother = accounts.new_user(db, username="g17_mother", real_name="王妈妈", now=now)
    db.flush()
    for pupil, place in ((sibling, class31), (other, class32)):
        accounts.join_school(db, user=pupil, school_id=school, role=SchoolRole.STUDENT, now=now)
        enrolment.enrol(db, school_class=place, student=pupil, now=now)
    families.link(db, parent=world["p_lidaniang"], child=sibling, relation=Relation.MOTHER, now=now)
    families.link(db, parent=mother, child=other, relation=Relation.MOTHER, now=now)
    second = school_with_class(
        db,
        services,
        name="柯桥第二小学",
        district=world.school.district,
        default_password="Kq2x@2468",
    )
    accounts.join_school(
        db, user=world["lixiaoyao"], school_id=second.school_id, role=SchoolRole.STUDENT, now=now
    )
    enrolment.enrol(db, school_class=second, student=world["lixiaoyao"], now=now)
    db.commit()
    return world


@pytest.fixture
def pages(client, make_client, several_classes):  # type: ignore[no-untyped-def]
    sign_in(client, "pt_admin")
    admin = make_client()
    sign_in(admin, "xx_admin")
    return client, admin


def test_a_graduation_by_hand_counts_the_same_everywhere_and_its_undoing_too(
    pages, world, db, services
):
    platform, admin = pages
    before = _all_agree(platform, admin, db, services, world)
    grade = world.class51.grade
    url = f"/school/{world.school.id}/grades/{grade.id}"
    assert post_form(admin, f"{url}/promote").status_code == 303
    assert post_form(admin, f"{url}/graduate").status_code == 303
    after = _all_agree(platform, admin, db, services, world)
    graduates = len(
        set(
            db.scalars(
                select(ClassStudent.student_id).where(
                    ClassStudent.class_id.in_(
                        select(SchoolClass.id).where(SchoolClass.grade_id == grade.id)
                    )
                )
            )
        )
    )
    assert graduates > 0
    assert after[1] == before[1] - graduates  # the school's students
    # 李逍遥 still studies at 柯桥第二小学: one graduate fewer leaves the district.
    assert after[4] == before[4] - graduates + 1
    # 李大娘 still has a pupil in the 三年级: she is still a parent, here and in the district.
    parents_of_graduates = set(
        db.scalars(
            select(ParentLink.parent_id).where(
                ParentLink.child_id.in_(
                    select(ClassStudent.student_id).where(
                        ClassStudent.class_id.in_(
                            select(SchoolClass.id).where(SchoolClass.grade_id == grade.id)
                        )
                    )
                )
            )
        )
    )
    assert before[2] - after[2] == len(parents_of_graduates) - 1
    assert before[5] - after[5] == len(parents_of_graduates) - 1
    assert after[1] > 0 and after[2] > 0
    assert post_form(admin, f"{url}/ungraduate").status_code == 303
    assert _all_agree(platform, admin, db, services, world) == before


def test_the_calendar_graduation_counts_the_same_everywhere(pages, world, db, services, clock):
    platform, admin = pages
    before = _all_agree(platform, admin, db, services, world)
    grade = db.get(Grade, world.class51.grade.id)
    # 2022's pupils leave primary school in the summer of 2028.
    clock.set(datetime(2028, 9, 2, 2, 0, tzinfo=UTC))
    sign_in(platform, "pt_admin")
    sign_in(admin, "xx_admin")
    calendar = calendar_for(services.settings, services.clock)
    assert org.is_graduated(grade, calendar.today, calendar.boundary)
    after = _all_agree(platform, admin, db, services, world)
    assert 0 < after[1] < before[1] and after[4] < before[4]

"""组织管理 over HTTP: the tree with exact counts, the guide's four creation cases, edits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from campusid.accounts import service as accounts
from campusid.accounts.models import SchoolRole
from campusid.org.models import Campus, Grade, SchoolClass, StageUnit
from tests.conftest import TEST_NOW
from tests.support.http import post_form, sign_in
from tests.support.schools import counts


@pytest.fixture
def admin(client, world):
    sign_in(client, "xx_admin")
    return client


def _classes(db) -> int:
    return db.scalar(select(func.count()).select_from(SchoolClass))


def test_school_home_shows_tree_counts_and_the_guide_words(admin, world):
    response = admin.get("/school")
    assert response.status_code == 303
    page = admin.get(response.headers["location"]).text
    for words in (
        "组织管理",
        "搜索组织与成员",
        "行政班级",
        "教学班",
        "毕业班级",
        "新增校区/班级",
        "添加学生/家长",
        "批量导入/导出学生",
        "批量设置任教/导出老师",
        "快速设置老师",
        "柯桥区智慧校园",
        "五年级1班",
        "七年级1班",
    ):
        assert words in page, words
    # 3 teachers, 6 students of 五年级1班, 1 parent (李大娘).
    assert counts(page) == "3个老师 6个学生 1个家长"


def test_counts_of_every_node_are_exact(admin, world, db):
    school = world.school
    grade5 = world.class51.grade
    class_page = admin.get(f"/school/{school.id}/classes/{world.class51.id}").text
    assert counts(class_page) == "2个老师 6个学生 1个家长"
    assert counts(admin.get(f"/school/{school.id}/classes/{world.class52.id}").text) == (
        "1个老师 0个学生 0个家长"
    )
    # The grade counts distinct people across its classes.
    assert counts(admin.get(f"/school/{school.id}/grades/{grade5.id}").text) == (
        "3个老师 6个学生 1个家长"
    )
    campus = admin.get(f"/school/{school.id}/campuses/{world.class51.campus_id}").text
    assert "校区编码" in campus and counts(campus) == "3个老师 6个学生 1个家长"


def test_case1_quick_create_campus_six_three(admin, world, db):
    before = _classes(db)
    form = {
        "campus_name": "东校区",
        "school_system": "6-3",
        "stage_primary": "on",
        "stage_junior": "on",
    }
    form |= {f"classes_primary_{y}": "5" for y in range(1, 7)}
    form |= {f"classes_junior_{y}": "2" for y in range(1, 4)}
    response = post_form(admin, f"/school/{world.school.id}/quick-create", form)
    assert response.status_code == 303, response.text
    page = admin.get(response.headers["location"]).text
    assert "创建成功" in page and "东校区" in page
    assert _classes(db) == before + 6 * 5 + 3 * 2
    tree = admin.get(f"/school/{world.school.id}").text
    # Today is 2026-11-30: the school year began 2026-09-01.
    for label in ("一年级2026级", "六年级2021级", "七年级2026级", "九年级2024级"):
        assert label in tree
    campus = db.scalar(select(Campus).where(Campus.name == "东校区"))
    assert {u.stage.value for u in campus.stages} == {"primary", "junior"}
    assert all(u.school_system.value == "6-3" for u in campus.stages)


def test_case1_quick_create_five_four_names(admin, world, db):
    form = {
        "campus_name": "西校区",
        "school_system": "5-4",
        "stage_primary": "on",
        "stage_junior": "on",
        "stage_senior": "on",
    }
    form |= {f"classes_primary_{y}": "1" for y in range(1, 6)}
    form |= {f"classes_junior_{y}": "1" for y in range(1, 5)}
    form |= {f"classes_senior_{y}": "1" for y in range(1, 4)}
    response = post_form(admin, f"/school/{world.school.id}/quick-create", form)
    assert response.status_code == 303, response.text
    campus = db.scalar(select(Campus).where(Campus.name == "西校区"))
    page = admin.get(f"/school/{world.school.id}/campuses/{campus.id}").text
    junior = next(u for u in campus.stages if u.stage.value == "junior")
    junior_page = admin.get(f"/school/{world.school.id}/stages/{junior.id}").text
    # 五四制: five primary years, junior starts at 六年级 and has four years.
    assert "五四制" in junior_page
    for label in ("六年级2026级", "七年级2025级", "八年级2024级", "九年级2023级"):
        assert label in junior_page
    primary = next(u for u in campus.stages if u.stage.value == "primary")
    primary_page = admin.get(f"/school/{world.school.id}/stages/{primary.id}").text
    assert "五年级2022级" in primary_page and "六年级" not in primary_page.split("年级</h2>")[-1]
    assert "高一2026级" in admin.get(f"/school/{world.school.id}").text
    assert "西校区" in page


def test_quick_create_rows_follow_the_school_system(admin, world):
    page = admin.get(f"/school/{world.school.id}/quick-create?school_system=5-4").text
    assert "快速创建校区、年级、班级" in page
    assert 'name="classes_primary_5"' in page and 'name="classes_primary_6"' not in page
    assert 'name="classes_junior_4"' in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"campus_name": "柯桥区智慧校园"}, "校区「柯桥区智慧校园」已存在"),
        ({"campus_name": ""}, "请填写校区名称"),
        ({"classes_primary_1": "31"}, "每个年级的班级数须在0-30之间"),
        ({"classes_primary_1": "-1"}, "每个年级的班级数须在0-30之间"),
        ({"classes_primary_9": "2"}, "小学只有6个年级"),
        ({"stage_primary": ""}, "请至少选择一个学段"),
    ],
)
def test_quick_create_refuses_bad_input_and_writes_nothing(admin, world, db, changes, message):
    before = (_classes(db), db.scalar(select(func.count()).select_from(Campus)))
    form = {
        "campus_name": "南校区",
        "school_system": "6-3",
        "stage_primary": "on",
        "classes_primary_1": "2",
    } | changes
    response = post_form(admin, f"/school/{world.school.id}/quick-create", form)
    assert response.status_code == 400
    assert message in response.text
    db.expire_all()
    assert (_classes(db), db.scalar(select(func.count()).select_from(Campus))) == before


def test_case2_add_stage_to_existing_campus(admin, world, db):
    campus_id = world.class51.campus_id
    url = f"/school/{world.school.id}/campuses/{campus_id}/stages/new"
    page = admin.get(url).text
    assert "新增学段" in page and "已存在" in page
    refused = post_form(
        admin, url, {"school_system": "6-3", "stage_primary": "on", "classes_primary_1": "1"}
    )
    assert refused.status_code == 400 and "该校区已有小学学段" in refused.text
    mixed = post_form(admin, url, {"school_system": "5-4", "stage_junior": "on"})
    assert mixed.status_code == 400 and "同一校区的小学和初中须使用相同学制" in mixed.text
    form = {"school_system": "6-3", "stage_senior": "on"} | {
        f"classes_senior_{y}": "3" for y in range(1, 4)
    }
    done = post_form(admin, url, form)
    assert done.status_code == 303
    db.expire_all()
    senior = db.scalar(
        select(StageUnit).where(StageUnit.campus_id == campus_id, StageUnit.stage == "senior")
    )
    assert senior is not None and len(senior.grades) == 3
    assert sum(len(g.classes) for g in senior.grades) == 9
    assert "高三2024级" in admin.get(f"/school/{world.school.id}/stages/{senior.id}").text


def test_case3_add_grade_by_enrollment_year(admin, world, db):
    stage_id = world.class51.grade.stage_id
    url = f"/school/{world.school.id}/stages/{stage_id}/grades/new"
    page = admin.get(url).text
    assert "新增年级" in page and "一年级2026级</option>" in page
    assert "五年级2022级</option>" not in page  # that grade exists
    exists = post_form(
        admin, url, {"enrollment_year": "2022", "first": "1", "last": "2", "school_system": "6-3"}
    )
    assert exists.status_code == 400 and "2022级已存在" in exists.text
    for form, message in (
        ({"enrollment_year": "2015", "first": "1", "last": "2"}, "入学年份须在2021-2027之间"),
        ({"enrollment_year": "2026", "first": "3", "last": "1"}, "起始班号不能大于截止班号"),
        ({"enrollment_year": "2026", "first": "0", "last": "1"}, "班号须在1-50之间"),
    ):
        response = post_form(admin, url, form | {"school_system": "6-3"})
        assert response.status_code == 400 and message in response.text
    done = post_form(
        admin, url, {"enrollment_year": "2026", "first": "1", "last": "3", "school_system": "6-3"}
    )
    assert done.status_code == 303
    grade_page = admin.get(done.headers["location"]).text
    for name in ("一年级1班", "一年级2班", "一年级3班"):
        assert name in grade_page
    assert "一年级4班" not in grade_page


def test_case4_add_classes_one_or_a_batch(admin, world, db):
    grade = world.class51.grade
    url = f"/school/{world.school.id}/grades/{grade.id}/classes/new"
    page = admin.get(url).text
    # The graduation year of a 2022 primary grade is shown, not typed.
    assert "新增班级" in page and 'id="graduation_year" value="2028" disabled' in page
    duplicate = post_form(admin, url, {"batch": "yes", "first": "2", "last": "3"})
    assert duplicate.status_code == 400 and "五年级2班已存在" in duplicate.text
    response = post_form(admin, url, {"batch": "no", "first": "51"})
    assert response.status_code == 400 and "班号须在1-50之间" in response.text
    assert post_form(admin, url, {"batch": "yes", "first": "3", "last": "4"}).status_code == 303
    # A typed graduation year (an old form) is ignored: the class graduates with its grade.
    six = post_form(
        admin, url, {"batch": "no", "first": "6", "last": "9", "graduation_year": "2040"}
    )
    assert six.status_code == 303
    db.expire_all()
    classes = db.get(Grade, grade.id).classes
    assert sorted(c.number for c in classes) == [1, 2, 3, 4, 6]
    assert {c.graduation_year for c in classes} == {2028}


def test_edit_and_delete_nodes(admin, world, db):
    school = world.school
    # A class with members cannot be deleted, and the page says why.
    refused = post_form(admin, f"/school/{school.id}/classes/{world.class51.id}/delete")
    assert refused.status_code == 400
    assert "该班级不能删除" in refused.text and "6名学生" in refused.text
    db.expire_all()
    assert db.get(SchoolClass, world.class51.id) is not None
    # 三年级1班 is empty: it goes.
    grade3 = db.scalar(
        select(Grade).where(
            Grade.enrollment_year == 2024, Grade.stage_id == world.class51.grade.stage_id
        )
    )
    grade3_id, empty_id = grade3.id, grade3.classes[0].id
    assert post_form(admin, f"/school/{school.id}/classes/{empty_id}/delete").status_code == 303
    assert post_form(admin, f"/school/{school.id}/grades/{grade3_id}/delete").status_code == 303
    db.expire_all()
    assert db.get(SchoolClass, empty_id) is None
    assert db.get(Grade, grade3_id) is None
    # A campus with members cannot be deleted.
    campus_id = world.class51.campus_id
    refused = post_form(admin, f"/school/{school.id}/campuses/{campus_id}/delete")
    assert refused.status_code == 400 and "该校区不能删除" in refused.text
    # Rename the campus; a duplicate name is refused.
    post_form(
        admin,
        f"/school/{school.id}/quick-create",
        {"campus_name": "北校区", "school_system": "6-3", "stage_primary": "on"},
    )
    duplicate = post_form(
        admin, f"/school/{school.id}/campuses/{campus_id}/edit", {"name": "北校区"}
    )
    assert duplicate.status_code == 400 and "已存在" in duplicate.text
    assert (
        post_form(
            admin, f"/school/{school.id}/campuses/{campus_id}/edit", {"name": "智慧校园本部"}
        ).status_code
        == 303
    )
    assert "智慧校园本部" in admin.get(f"/school/{school.id}").text
    # Edit a class's number: a taken number is refused.
    taken = post_form(
        admin,
        f"/school/{school.id}/classes/{world.class52.id}/edit",
        {"number": "1"},
    )
    assert taken.status_code == 400 and "该年级已有1班" in taken.text
    assert (
        post_form(
            admin,
            f"/school/{school.id}/classes/{world.class52.id}/edit",
            {"number": "7", "graduation_year": "2040"},
        ).status_code
        == 303
    )
    assert "五年级7班" in admin.get(f"/school/{school.id}").text
    db.expire_all()
    assert db.get(SchoolClass, world.class52.id).graduation_year == 2028  # its grade's
    edit_page = admin.get(f"/school/{school.id}/classes/{world.class52.id}/edit").text
    assert 'id="graduation_year" value="2028" disabled' in edit_page


def test_stage_grade_naming_overrides(admin, world, db):
    stage_id = world.class51.grade.stage_id
    url = f"/school/{world.school.id}/stages/{stage_id}/settings"
    page = admin.get(url).text
    assert "年级命名" in page and "六年级" in page
    duplicate = post_form(admin, url, {"name_5": "高段", "name_6": "高段"})
    assert duplicate.status_code == 400 and "年级名称不能重复" in duplicate.text
    assert post_form(admin, url, {"name_5": "五年级(高段)"}).status_code == 303
    tree = admin.get(f"/school/{world.school.id}").text
    assert "五年级(高段)1班" in tree and "五年级(高段)2022级" in tree
    # A blank name restores the default.
    assert post_form(admin, url, {"name_5": ""}).status_code == 303
    assert "五年级1班" in admin.get(f"/school/{world.school.id}").text


def test_promote_and_graduate_by_hand(admin, world, db, clock):
    school = world.school
    grade = world.class51.grade  # 2022 primary: 五年级 now
    settings = admin.get(f"/school/{school.id}/grades/{grade.id}/settings").text
    assert "升级" in settings and "毕业" in settings and "年级设置" in settings
    early = post_form(admin, f"/school/{school.id}/grades/{grade.id}/graduate")
    assert early.status_code == 400 and "只有本学段最高年级可以毕业" in early.text
    assert post_form(admin, f"/school/{school.id}/grades/{grade.id}/promote").status_code == 303
    assert "六年级1班" in admin.get(f"/school/{school.id}").text
    again = post_form(admin, f"/school/{school.id}/grades/{grade.id}/promote")
    assert again.status_code == 400 and "本学年已升级过" in again.text
    assert post_form(admin, f"/school/{school.id}/grades/{grade.id}/graduate").status_code == 303
    tree = admin.get(f"/school/{school.id}").text
    assert "六年级1班" not in tree
    # Graduated classes keep their members and show under 毕业班级.
    graduated = admin.get(f"/school/{school.id}/graduated").text
    assert "2022级（已毕业）" in graduated and "2022级1班" in graduated
    class_page = admin.get(f"/school/{school.id}/classes/{world.class51.id}").text
    assert "李逍遥" in class_page and "已毕业" in class_page
    assert counts(admin.get(f"/school/{school.id}").text).endswith("0个学生 0个家长")


def test_promotion_by_hand_lapses_at_the_boundary(admin, world, db, clock):
    school = world.school
    grade3 = db.scalar(
        select(Grade).where(
            Grade.enrollment_year == 2024, Grade.stage_id == world.class51.grade.stage_id
        )
    )
    assert post_form(admin, f"/school/{school.id}/grades/{grade3.id}/promote").status_code == 303
    assert "四年级2024级" in admin.get(f"/school/{school.id}").text
    # At the next school year the calendar catches up: 四年级, not 五年级.
    clock.set(datetime(2027, 9, 2, 2, 0, tzinfo=UTC))
    sign_in(admin, "xx_admin")
    tree = admin.get(f"/school/{school.id}").text
    assert "四年级2024级" in tree and "五年级2024级" not in tree


def test_graduation_follows_the_calendar(admin, world, db, clock):
    clock.set(datetime(2028, 9, 2, 2, 0, tzinfo=UTC))
    sign_in(admin, "xx_admin")
    tree = admin.get(f"/school/{world.school.id}").text
    assert "2022级" not in tree and f"/classes/{world.class51.id}" not in tree
    assert "2022级（已毕业）" in admin.get(f"/school/{world.school.id}/graduated").text


def test_teaching_class_with_students_from_several_classes(admin, world, db):
    school = world.school
    page = admin.get(f"/school/{school.id}/teaching/new").text
    assert "新增教学班" in page
    missing = post_form(
        admin,
        f"/school/{school.id}/teaching/new",
        {"campus_id": world.class51.campus_id, "name": "", "subject": "数学"},
    )
    assert missing.status_code == 400 and "请填写教学班名称" in missing.text
    created = post_form(
        admin,
        f"/school/{school.id}/teaching/new",
        {"campus_id": world.class51.campus_id, "name": "五年级数学提高班", "subject": "数学"},
    )
    assert created.status_code == 303
    teaching_id = int(created.headers["location"].split("/")[-1].split("?")[0])
    # A student of 五年级2班 joins first, so the group draws from two classes.
    post_form(
        admin,
        f"/school/{school.id}/members/{world['zhoubotong'].id}/move",
        {"class_id": world.class52.id},
    )
    picker = admin.get(
        f"/school/{school.id}/classes/{teaching_id}/students?from_class={world.class51.id}"
    )
    assert "李逍遥" in picker.text
    ids = [world["lixiaoyao"].id, world["heshuhuan"].id, world["zhoubotong"].id]
    response = post_form(
        admin, f"/school/{school.id}/classes/{teaching_id}/students", {"student_ids": ids}
    )
    assert response.status_code == 303
    post_form(
        admin,
        f"/school/{school.id}/teachers/assign",
        {"teacher_id": world["zhaoshuxue"].id, "class_id": teaching_id, "subject": "数学"},
    )
    page = admin.get(f"/school/{school.id}/classes/{teaching_id}").text
    assert counts(page) == "1个老师 3个学生 1个家长"
    listing = admin.get(f"/school/{school.id}/teaching").text
    assert "五年级数学提高班" in listing and "数学" in listing
    # The administrative class is unchanged by the teaching class.
    assert counts(admin.get(f"/school/{school.id}/classes/{world.class51.id}").text) == (
        "2个老师 5个学生 1个家长"
    )


def test_search_finds_nodes_and_members_with_masked_identifiers(admin, world, db):
    li = world["lixiaoyao"]
    page = post_form(admin, f"/school/{world.school.id}/search", {"q": "五年级1班"}).text
    assert "五年级1班" in page
    by_code = post_form(admin, f"/school/{world.school.id}/search", {"q": "gu22cm"}).text
    assert f"/classes/{world.class51.id}" in by_code
    by_id = post_form(admin, f"/school/{world.school.id}/search", {"q": li.id_card_number}).text
    assert "李逍遥" in by_id
    assert li.id_card_number not in by_id
    assert li.id_card_number[:4] + "**********" + li.id_card_number[-4:] in by_id
    by_phone = post_form(admin, f"/school/{world.school.id}/search", {"q": "13900000011"}).text
    assert "李大娘" in by_phone and "139****0011" in by_phone
    outsider = post_form(admin, f"/school/{world.school.id}/search", {"q": "周家长"}).text
    assert "没有匹配的成员" in outsider  # p_zhoujia is not a member of the school


def test_counts_of_every_node_kind_follow_the_active_tree(admin, world, db):
    """A graduated grade keeps its counts; stage, campus and school count current people only;
    a teaching class counts at its campus; teachers count at the school before any class."""
    school, campus_id = world.school, world.class51.campus_id
    grade = world.class51.grade
    stage_url = f"/school/{school.id}/stages/{grade.stage_id}"
    campus_url = f"/school/{school.id}/campuses/{campus_id}"
    assert counts(admin.get(stage_url).text) == "3个老师 6个学生 1个家长"

    newcomer = accounts.new_user(db, username="t_xinlaoshi", real_name="新老师", now=TEST_NOW)
    db.flush()
    accounts.join_school(
        db, user=newcomer, school_id=school.id, role=SchoolRole.TEACHER, now=TEST_NOW
    )
    db.commit()
    # A teacher without a class counts at the school only.
    assert counts(admin.get(f"/school/{school.id}").text) == "4个老师 6个学生 1个家长"
    assert counts(admin.get(campus_url).text) == "3个老师 6个学生 1个家长"
    # Teaching a teaching class (教学班) of the campus makes them a teacher of the campus,
    # not of a stage.
    created = post_form(
        admin,
        f"/school/{school.id}/teaching/new",
        {"campus_id": campus_id, "name": "书法兴趣班", "subject": "书法"},
    )
    teaching_id = int(created.headers["location"].split("/")[-1].split("?")[0])
    post_form(
        admin,
        f"/school/{school.id}/teachers/assign",
        {"teacher_id": newcomer.id, "class_id": teaching_id, "subject": "书法"},
    )
    assert counts(admin.get(campus_url).text) == "4个老师 6个学生 1个家长"
    assert counts(admin.get(stage_url).text) == "3个老师 6个学生 1个家长"

    # The grade graduates: it leaves the stage, the campus and the school, keeps its people.
    grade_url = f"/school/{school.id}/grades/{grade.id}"
    assert post_form(admin, f"{grade_url}/promote").status_code == 303
    assert post_form(admin, f"{grade_url}/graduate").status_code == 303
    assert counts(admin.get(grade_url).text) == "3个老师 6个学生 1个家长"
    graduated = admin.get(f"/school/{school.id}/graduated").text
    assert "2个老师</td><td>6个学生</td><td>1个家长" in graduated  # 2022级1班
    assert counts(admin.get(stage_url).text) == "0个老师 0个学生 0个家长"
    assert counts(admin.get(campus_url).text) == "1个老师 0个学生 0个家长"
    # Its teachers are still the school's teachers (their memberships are active).
    assert counts(admin.get(f"/school/{school.id}").text) == "4个老师 0个学生 0个家长"

"""The roster round trip (issue 17): export, edit, import — and nothing is duplicated.

A school of several classes, with parents, a parked (校区存放) and a graduated student, is
exported and imported back unchanged (0 changes, the same accounts), then with five rows edited
(exactly those changes); the template's example row is never imported; the preview shows the
counts before anything is written.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from campusid.accounts.models import SchoolMembership, User
from campusid.audit.service import Actor
from campusid.classes.models import ClassStudent
from campusid.families.models import ParentLink
from campusid.members import service as members
from campusid.org import building
from campusid.org import service as org
from campusid.org.schoolyear import SchoolSystem, Stage, calendar_for, enrollment_year_for
from campusid.roster.service import COLUMNS
from tests.support.http import post_form, sign_in
from tests.support.schools import id_card, import_roster, read_xlsx, xlsx

NEW_ID = id_card(birth="20160601", seq="611")
GRAD_ID = id_card(birth="20130101", seq="511")
REG_ID = id_card(birth="20160602", seq="622")


def row(**cells: str) -> list[str]:
    """A row in the template's column order."""
    return [cells.get(c, "") for c in COLUMNS]


@pytest.fixture
def school(client, world, db, services):
    """The demo school with more classes, parents, one parked and one graduated student."""
    sign_in(client, "xx_admin")
    calendar = calendar_for(services.settings, services.clock)
    now = services.clock.now()
    world["s_xuesheng008"].id_card_number = None  # gets one in the edit
    # A sixth grade with one pupil, graduated.
    primary = world.class51.grade.stage_unit
    grade6 = org.add_grade(
        db,
        stage_unit=primary,
        enrollment_year=enrollment_year_for(
            Stage.PRIMARY, SchoolSystem.SIX_THREE, 6, calendar.today, calendar.boundary
        ),
    )
    org.add_class(db, grade=grade6, number=1, now=now)
    db.commit()
    first = xlsx(
        [
            row(姓名="毕业生", 班级="六年级1班", 身份证号=GRAD_ID, 家长姓名="毕妈妈",
                家长手机号="13911112001", 家长关系="母亲"),
            row(姓名="二班甲", 班级="五年级2班", 学号="01", 家长姓名="甲爸爸",
                家长手机号="13911112002", 家长关系="父亲"),
            row(姓名="二班乙", 班级="五年级2班", 学号="02", 学籍号="G" + REG_ID),
            row(姓名="三班丙", 班级="三年级1班", 性别="女", 家长姓名="丙妈妈",
                家长手机号="13911112003", 家长关系="母亲"),
        ]
    )  # fmt: skip
    response = import_roster(client, world.school.id, first)
    assert "导入成功" in response.text, response.text
    db.expire_all()
    building.graduate(db, grade=grade6, calendar=calendar, now=now)
    members.remove_from_class(
        db,
        school=world.school,
        calendar=calendar,
        student_id=world["zhoubotong"].id,
        now=now,
        actor=Actor(user_id=world["xx_admin"].id),
    )
    db.commit()
    return world


def _state(db) -> dict:
    """What the school holds: accounts, memberships, class places, parent links."""
    db.expire_all()
    return {
        "users": set(db.scalars(select(User.username))),
        "memberships": set(
            db.execute(
                select(
                    SchoolMembership.user_id,
                    SchoolMembership.role,
                    SchoolMembership.active,
                    SchoolMembership.campus_id,
                )
            ).all()
        ),
        "places": set(
            db.execute(
                select(ClassStudent.student_id, ClassStudent.class_id, ClassStudent.student_number)
            ).all()
        ),
        "links": set(db.execute(select(ParentLink.parent_id, ParentLink.child_id)).all()),
        "ids": {
            (u.username, u.id_card_number, u.registration_number, u.phone, u.gender)
            for u in db.scalars(select(User))
        },
    }


def _export(client, world) -> tuple[list[str], list[list[str]]]:
    rows = read_xlsx(client.get(f"/school/{world.school.id}/roster/students.xlsx").content)
    return rows[0], [["" if v is None else str(v) for v in r] for r in rows[1:]]


def _preview(client, world, data: bytes):
    return post_form(
        client,
        f"/school/{world.school.id}/roster/import",
        files={"file": ("学生.xlsx", data, "application/octet-stream")},
    )


def _counts(html: str) -> dict[str, int]:
    status = re.search(r'class="alert alert-info" role="status">(.*?)</p>', html, re.S)
    assert status, "no preview counts"
    text = " ".join(status.group(1).split())
    return {k: int(n) for k, n in re.findall(r"(新建|换班|更新|不变|错误) (\d+)", text)}


def test_the_export_says_what_parked_and_graduated_students_are(client, school, db):
    header, rows = _export(client, school)
    assert tuple(header) == COLUMNS
    by_name = {r[2]: r for r in rows}
    assert by_name["周伯通"][4] == "柯桥区智慧校园" and by_name["周伯通"][5] == "校区存放"
    assert by_name["毕业生"][4] == "柯桥区智慧校园" and by_name["毕业生"][5].startswith("已毕业")
    assert by_name["李逍遥"][1] == "lixiaoyao" and by_name["李逍遥"][5] == "五年级1班"
    assert by_name["李逍遥"][11] == "139****0011"  # the parent's phone, masked


def test_round_trip_unchanged_then_five_edits(client, school, db, services):
    world = school
    header, rows = _export(client, world)
    before = _state(db)

    # Imported back as it is: the preview says nothing changes, and nothing does.
    preview = _preview(client, world, xlsx(rows, header=header))
    assert preview.status_code == 200, preview.text
    assert _counts(preview.text) == {
        "新建": 0,
        "换班": 0,
        "更新": 0,
        "不变": len(rows),
        "错误": 0,
    }
    response = import_roster(client, world.school.id, xlsx(rows, header=header))
    assert "导入成功" in response.text, response.text
    assert "0 处变更" in response.text
    assert _state(db) == before

    # Five edits: two 换班 (one out of 校区存放), a new ID card, a new parent, a new student.
    by_name = {r[2]: r for r in rows}
    by_name["李逍遥"][5] = "五年级2班"
    by_name["周伯通"][4], by_name["周伯通"][5] = "", "五年级1班"
    by_name["学生八"][7] = NEW_ID
    by_name["何书桓"][10:13] = ["何爸爸", "13911112009", "父亲"]
    rows.append(row(姓名="新同学", 班级="三年级1班", 性别="男"))
    preview = _preview(client, world, xlsx(rows, header=header))
    assert _counts(preview.text) == {
        "新建": 1,
        "换班": 2,
        "更新": 2,
        "不变": len(rows) - 5,
        "错误": 0,
    }
    assert _state(db) == before  # the preview wrote nothing
    response = import_roster(client, world.school.id, xlsx(rows, header=header))
    assert "导入成功" in response.text, response.text
    assert "5 处变更" in response.text
    after = _state(db)
    new_users = after["users"] - before["users"]
    assert len(new_users) == 2  # 新同学 and 何爸爸
    places = {(s, c) for s, c, _ in after["places"]} - {(s, c) for s, c, _ in before["places"]}
    li, zhou = world["lixiaoyao"].id, world["zhoubotong"].id
    new_student = db.scalar(select(User).where(User.real_name == "新同学"))
    assert places == {
        (li, world.class52.id),
        (zhou, world.class51.id),
        (new_student.id, _class_id(db, services, world, "三年级1班")),
    }
    changed_ids = {u for u, *_ in after["ids"] - before["ids"]}
    assert changed_ids == {"s_xuesheng008", new_student.username} | {
        u for u in new_users if u != new_student.username
    }
    father = db.scalar(select(User).where(User.phone == "13911112009"))
    assert after["links"] - before["links"] == {(father.id, world["heshuhuan"].id)}

    # And once more unchanged, from a fresh export: nothing.
    header, rows = _export(client, world)
    again = _state(db)
    response = import_roster(client, world.school.id, xlsx(rows, header=header))
    assert "0 处变更" in response.text, response.text
    assert _state(db) == again


def _class_id(db, services, world, name: str) -> int:
    calendar = calendar_for(services.settings, services.clock)
    names = members.active_class_names(db, world.school, calendar)
    return next(class_id for class_id, each in names.items() if each == name)


def test_the_template_uploaded_twice_creates_nobody(client, world, db):
    sign_in(client, "xx_admin")
    template = client.get(f"/school/{world.school.id}/roster/template.xlsx").content
    users = db.scalar(select(func.count()).select_from(User))
    for _ in range(2):
        response = import_roster(client, world.school.id, template)
        assert "导入成功" in response.text and "0 处变更" in response.text, response.text
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(User)) == users


def test_a_second_account_for_the_same_pupil_is_refused_unless_new_is_said(client, world, db):
    sign_in(client, "xx_admin")
    users = db.scalar(select(func.count()).select_from(User))
    same = row(姓名="李逍遥", 班级="五年级1班")
    response = import_roster(
        client, world.school.id, xlsx([row(姓名="新人", 班级="五年级2班"), same])
    )
    assert response.status_code == 400
    assert "已有同名学生（账号：lixiaoyao）" in response.text
    assert "<td>3</td>" in response.text  # its row number
    assert "新建 1 · 换班 0 · 更新 0 · 不变 0 · 错误 1" in response.text  # the other rows' counts
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(User)) == users
    # Twice in one file: the second names the first.
    twice = xlsx([row(姓名="新人", 班级="五年级2班"), row(姓名="新人", 班级="五年级2班")])
    response = import_roster(client, world.school.id, twice)
    assert response.status_code == 400 and "与第2行的姓名、班级相同" in response.text
    # Said explicitly: a second pupil of the same name.
    response = import_roster(
        client, world.school.id, xlsx([row(操作="新建", 姓名="李逍遥", 班级="五年级1班")])
    )
    assert "导入成功" in response.text and "新建账号 1" in response.text, response.text


def test_a_row_without_account_is_matched_by_id_card_or_registration_number(client, world, db):
    sign_in(client, "xx_admin")
    li = world["lixiaoyao"]
    users = db.scalar(select(func.count()).select_from(User))
    upload = xlsx([row(姓名="李逍遥", 班级="五年级2班", 身份证号=li.id_card_number, 学号="09")])
    preview = _preview(client, world, upload)
    assert _counts(preview.text)["换班"] == 1 and _counts(preview.text)["新建"] == 0
    response = import_roster(client, world.school.id, upload)
    assert "导入成功" in response.text, response.text
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(User)) == users
    place = db.scalar(select(ClassStudent).where(ClassStudent.student_id == li.id))
    assert place.class_id == world.class52.id and place.student_number == "09"


def test_a_masked_parent_phone_with_another_name_is_refused(client, world, db):
    sign_in(client, "xx_admin")
    header, rows = _export(client, world)
    li = next(r for r in rows if r[2] == "李逍遥")
    li[10] = "王大娘"
    response = import_roster(client, world.school.id, xlsx([li], header=header))
    assert response.status_code == 400
    assert "家长手机号是导出时隐去的号码" in response.text


def test_nothing_is_written_before_the_confirmation_and_a_token_works_once(
    client, world, db, make_client
):
    sign_in(client, "xx_admin")
    users = db.scalar(select(func.count()).select_from(User))
    preview = _preview(client, world, xlsx([row(姓名="预览生", 班级="五年级2班")]))
    assert preview.status_code == 200 and "确认导入" in preview.text
    assert _counts(preview.text)["新建"] == 1
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(User)) == users
    token = re.search(r'name="token" value="([^"]+)"', preview.text).group(1)
    # Another school's administrator cannot confirm it.
    other = make_client()
    sign_in(other, "chenxiaokai")
    refused = post_form(other, f"/school/{world.school.id}/roster/import/confirm", {"token": token})
    assert refused.status_code == 403
    done = post_form(client, f"/school/{world.school.id}/roster/import/confirm", {"token": token})
    assert "导入成功" in done.text and "新建账号 1" in done.text
    again = post_form(client, f"/school/{world.school.id}/roster/import/confirm", {"token": token})
    assert again.status_code == 400 and "预览已过期或已导入" in again.text
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(User)) == users + 1


def test_the_preview_expires(client, world, db, clock):
    sign_in(client, "xx_admin")
    preview = _preview(client, world, xlsx([row(姓名="过期生", 班级="五年级2班")]))
    token = re.search(r'name="token" value="([^"]+)"', preview.text).group(1)
    clock.advance(minutes=31)
    sign_in(client, "xx_admin")
    late = post_form(client, f"/school/{world.school.id}/roster/import/confirm", {"token": token})
    assert late.status_code == 400 and "预览已过期" in late.text
    db.expire_all()
    assert db.scalar(select(User).where(User.real_name == "过期生")) is None

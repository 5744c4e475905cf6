"""批量导入/导出学生 over HTTP: all-or-nothing import, the error file, hostile files, exports."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from sqlalchemy import func, select

from campusid.accounts import service as accounts
from campusid.accounts.models import SchoolRole, User
from campusid.audit.models import AuditEvent
from campusid.classes.models import ClassStudent
from campusid.families.models import ParentLink
from campusid.roster.service import COLUMNS
from tests.support.http import sign_in
from tests.support.schools import id_card, import_roster, other_school, read_xlsx, user, xlsx

A = id_card(birth="20160301", seq="112")
B = id_card(birth="20160302", seq="121")
C = id_card(birth="20160303", seq="131")


@pytest.fixture
def admin(client, world):
    sign_in(client, "xx_admin")
    return client


def _upload(client, world, data: bytes, name: str = "学生.xlsx"):
    return import_roster(client, world.school.id, data, name)


def _error_link(html: str) -> str:
    found = re.search(r'href="(/school/\d+/roster/errors/[^"]+)"', html)
    assert found, "no error file link"
    return found.group(1)


def _users(db) -> int:
    return db.scalar(select(func.count()).select_from(User))


def row(**cells: str) -> list[str]:
    """A row in the template's column order."""
    return [cells.get(c, "") for c in COLUMNS]


def test_template_has_chinese_headers_and_instructions(admin, world):
    page = admin.get(f"/school/{world.school.id}/roster").text
    assert "批量导入/导出学生" in page and "下载导入模板" in page
    response = admin.get(f"/school/{world.school.id}/roster/template.xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    rows = read_xlsx(response.content)
    assert tuple(rows[0]) == COLUMNS
    instructions = read_xlsx(response.content, sheet=1)
    text = str(instructions)
    for words in ("新建", "换班", "绑身份证", "绑家长", "学生默认密码", "原密码不变"):
        assert words in text


def test_import_creates_attaches_moves_binds_and_links(admin, world, db, services):
    outsider_id = id_card(birth="20150909", seq="777")
    outsider = accounts.new_user(
        db,
        username="waixiao01",
        real_name="外校生",
        now=services.clock.now(),
        id_card_number=outsider_id,
        password_hash=services.hasher.hash("Wai#Xiao2026"),
    )
    world["s_xuesheng008"].id_card_number = None  # to be bound by the import
    db.commit()
    outsider_hash = outsider.password_hash
    upload = xlsx(
        [
            row(
                操作="新建",
                姓名="新学生甲",
                性别="女",
                班级="五年级2班",
                学号="01",
                身份证号=A,
                家长姓名="甲妈妈",
                家长手机号="13911110001",
                家长关系="母亲",
            ),
            row(
                操作="",
                姓名="新学生乙",
                班级=world.class52.class_code,
                学籍号="G" + B,
                家长姓名="甲妈妈",
                家长手机号="13911110001",
                家长关系="母亲",
            ),  # a sibling: same parent
            row(操作="新建", 姓名="外校生", 班级="五年级1班", 身份证号=outsider_id),
            row(操作="换班", 账号="lixiaoyao", 姓名="李逍遥", 班级="五年级2班", 学号="21"),
            row(操作="绑身份证", 账号="s_xuesheng008", 身份证号=B),
            row(
                操作="绑家长",
                账号=world["heshuhuan"].id_card_number,
                家长姓名="何爸爸",
                家长手机号="13911110002",
                家长关系="父亲",
            ),
        ]
    )
    before = _users(db)
    response = _upload(admin, world, upload)
    assert response.status_code == 200, response.text
    assert "导入成功" in response.text
    # New: 2 students, 2 parents (the sibling reuses 甲妈妈). Attached: 外校生.
    for words in ("新建账号 4", "已有账号加入 1", "换班 1", "绑身份证 1", "关联家长 3"):
        assert words in response.text, words
    db.expire_all()
    assert _users(db) == before + 4
    jia = db.scalar(select(User).where(User.id_card_number == A))
    yi = db.scalar(select(User).where(User.real_name == "新学生乙"))
    assert yi.registration_number == "G" + B
    # written in bulk, yet each with its own OneRoster sourcedId and dateLastModified (issue 22)
    assert jia.sourced_id and yi.sourced_id and jia.sourced_id != yi.sourced_id
    assert jia.updated_at == yi.updated_at == services.clock.now()  # the import's own clock
    assert user(db, "s_xuesheng008").id_card_number == B
    mother = db.scalar(select(User).where(User.phone == "13911110001"))
    assert {
        link.child_id
        for link in db.scalars(select(ParentLink).where(ParentLink.parent_id == mother.id))
    } == {jia.id, yi.id}
    for person in (jia, yi, mother):
        assert person.default_credential_id == world.school.default_credential_id
        assert person.password_hash is None and person.must_change_password
    assert user(db, "waixiao01").password_hash == outsider_hash
    li_class = db.scalar(
        select(ClassStudent).where(ClassStudent.student_id == world["lixiaoyao"].id)
    )
    assert li_class.class_id == world.class52.id and li_class.student_number == "21"
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "roster_imported"))
    assert event.detail["created"] == 4 and A not in str(event.detail)


def test_one_bad_row_and_nothing_is_written_with_an_error_file(admin, world, db, make_client):
    bad_id = A[:-1] + ("1" if A[-1] != "1" else "2")
    upload = xlsx(
        [
            row(姓名="好学生", 班级="五年级1班", 身份证号=C),
            row(姓名="坏学生", 班级="五年级1班", 身份证号=bad_id),
            row(姓名="无班级", 班级="九年级9班"),
            row(操作="换班", 账号="nobody_here", 班级="五年级2班"),
            row(姓名="好学生", 班级="五年级2班", 身份证号=C),
            row(操作="删除", 姓名="某某", 班级="五年级1班"),
        ]
    )
    before = _users(db)
    response = _upload(admin, world, upload)
    assert response.status_code == 400
    assert "全部未导入" in response.text and "6 行有误" in response.text.replace("行，其中 ", "")
    for reason in (
        "身份证号校验位不正确",
        "找不到班级「九年级9班」",
        "找不到该学生，请核对账号",
        "身份证号与第6行重复",  # both rows of the duplicate name the other
        "身份证号与第2行重复",
        "操作须为新建、换班、绑身份证或绑家长",
    ):
        assert reason in response.text, reason
    db.expire_all()
    assert _users(db) == before
    assert db.scalar(select(User).where(User.id_card_number == C)) is None
    url = _error_link(response.text)
    error_file = admin.get(url)
    assert error_file.status_code == 200
    rows = read_xlsx(error_file.content)
    assert rows[0][-1] == "错误原因"
    assert rows[1][-1].startswith("身份证号与第6行重复")
    assert rows[2][-1] == "身份证号校验位不正确" and rows[2][2] == "坏学生"
    assert rows[3][-1].startswith("找不到班级")
    # Only its uploader may fetch it, and only for a while.
    school2_admin = make_client()
    sign_in(school2_admin, "chenxiaokai")
    assert school2_admin.get(url).status_code == 403
    # A fixed file goes through.
    fixed = xlsx([row(姓名="好学生", 班级="五年级1班", 身份证号=C)])
    assert _upload(admin, world, fixed).status_code == 200


def test_error_file_expires(admin, world, clock):
    response = _upload(admin, world, xlsx([row(姓名="", 班级="五年级1班")]))
    assert response.status_code == 400 and "请填写姓名" in response.text
    url = _error_link(response.text)
    clock.advance(minutes=31)
    sign_in(admin, "xx_admin")
    assert admin.get(url).status_code == 404


def _zip(parts: dict[str, bytes], *, level: int = 9) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def _parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _with_dtd(good: bytes, name: str, dtd: bytes) -> bytes:
    """The workbook with a DTD declared in one of its XML parts."""
    parts = _parts(good)
    body = parts[name]
    if body.startswith(b"<?xml"):
        head, rest = body.split(b"?>", 1)
        body = head + b"?>" + dtd + rest
    else:
        body = dtd + body
    return _zip(parts | {name: body})


def _sheet_name(parts: dict[str, bytes]) -> str:
    return next(n for n in parts if n.startswith("xl/worksheets/sheet"))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda good: b"", "文件为空"),
        (lambda good: b"x" * (10 * 1024 * 1024 + 1), "文件过大"),
        (lambda good: b"\x00\x01\x02 binary, not a spreadsheet", "不是 Excel"),
        (lambda good: b"just some words", "不是 Excel"),
        (lambda good: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "旧版 .xls"),
        (lambda good: b"PK\x03\x04 definitely not a zip", "文件已损坏"),
        (lambda good: _zip({"hello.txt": b"hi"}), "不是 Excel"),
        (lambda good: _zip(_parts(good) | {"xl/vbaProject.bin": b"\0" * 10}), "宏"),
        # A zip bomb: a sheet that inflates a thousandfold.
        (
            lambda good: _zip(
                _parts(good) | {"xl/worksheets/sheet1.xml": b" " * (40 * 1024 * 1024)}
            ),
            "压缩比异常",
        ),
        # Billion laughs / external entities: any DTD is refused.
        (
            lambda good: _with_dtd(
                good,
                "xl/worksheets/sheet1.xml",
                b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>',
            ),
            "不安全的 XML",
        ),
        (
            lambda good: _with_dtd(
                good, "xl/workbook.xml", b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            ),
            "不安全的 XML",
        ),
    ],
)
def test_hostile_files_are_refused_and_nothing_is_written(admin, world, db, make, message):
    good = xlsx([row(姓名="好学生", 班级="五年级1班", 身份证号=C)])
    assert _sheet_name(_parts(good)) == "xl/worksheets/sheet1.xml"
    before = _users(db)
    response = _upload(admin, world, make(good))
    assert response.status_code == 400
    assert message in response.text
    db.expire_all()
    assert _users(db) == before


def test_formula_cells_are_text_and_exports_escape_them(admin, world, db):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(list(COLUMNS))
    sheet.append(row(姓名="公式生", 班级="五年级1班", 身份证号=C, 学号="=1+1"))
    sheet.append(row(姓名="加号生", 班级="五年级1班", 学号="+86"))
    sheet.append(row(姓名="艾特生", 班级="五年级1班", 学号="@SUM(A1)"))
    sheet.append(row(姓名="减号生", 班级="五年级1班", 学号="-2+3"))
    out = io.BytesIO()
    book.save(out)
    assert b"<f>" in _parts(out.getvalue())["xl/worksheets/sheet1.xml"]  # a real formula cell
    response = _upload(admin, world, out.getvalue())
    assert response.status_code == 200, response.text
    db.expire_all()
    student = db.scalar(select(User).where(User.id_card_number == C))
    number = db.scalar(
        select(ClassStudent.student_number).where(ClassStudent.student_id == student.id)
    )
    assert number == "=1+1"  # the formula's text, never its value
    export = admin.get(f"/school/{world.school.id}/roster/students.xlsx")
    assert export.status_code == 200
    sheet_xml = _parts(export.content)["xl/worksheets/sheet1.xml"]
    assert b"<f>" not in sheet_xml
    rows = read_xlsx(export.content)
    numbers = {r[2]: r[6] for r in rows[1:]}
    assert numbers["公式生"] == "'=1+1" and numbers["加号生"] == "'+86"
    assert numbers["艾特生"] == "'@SUM(A1)" and numbers["减号生"] == "'-2+3"
    # Identifiers are masked in the export.
    assert C not in str(rows) and C[:4] + "**********" + C[-4:] in str(rows)


def test_export_can_be_reimported_for_class_changes(admin, world, db):
    rows = read_xlsx(admin.get(f"/school/{world.school.id}/roster/students.xlsx").content)
    header, data = rows[0], rows[1:]
    li = next(r for r in data if r[2] == "李逍遥")
    li[0] = "换班"
    li[5] = "五年级2班"
    response = _upload(admin, world, xlsx([[v or "" for v in li]], header=header))
    assert response.status_code == 200, response.text
    assert "换班 1" in response.text
    db.expire_all()
    assert (
        db.scalar(
            select(ClassStudent.class_id).where(ClassStudent.student_id == world["lixiaoyao"].id)
        )
        == world.class52.id
    )


def test_teacher_export_masks_phones_and_escapes(admin, world, db):
    world["zhaoshuxue"].real_name = "=赵数学"  # as if typed by a hostile hand elsewhere
    db.commit()
    response = admin.get(f"/school/{world.school.id}/roster/teachers.xlsx")
    rows = read_xlsx(response.content)
    assert rows[0] == ["姓名", "账号", "手机号", "任教班级", "任教学科", "班主任", "年级组长"]
    by_name = {r[0]: r for r in rows[1:]}
    assert "'=赵数学" in by_name
    chen = by_name["陈小凯"]
    assert chen[2] == "138****0001" and chen[3] == "五年级1班" and chen[5] == "五年级1班"
    assert b"<f>" not in _parts(response.content)["xl/worksheets/sheet1.xml"]


def test_other_schools_students_cannot_be_moved_by_import(admin, world, db, services):
    school2, _, _ = other_school(db, services)
    stranger = accounts.new_user(
        db, username="stranger01", real_name="外人", now=services.clock.now()
    )
    db.flush()
    from campusid.accounts.models import SchoolRole

    accounts.join_school(
        db, user=stranger, school_id=school2.id, role=SchoolRole.STUDENT, now=services.clock.now()
    )
    db.commit()
    response = _upload(admin, world, xlsx([row(操作="换班", 账号="stranger01", 班级="五年级1班")]))
    assert response.status_code == 400 and "找不到该学生" in response.text


def _kept_counts(db) -> tuple[set, set, dict]:
    """The count tables as they stand: school and district people, and the summed deltas."""
    from campusid.org.models import CountDelta, CountedDistrictPerson, CountedSchoolPerson

    school = {
        (r.school_id, r.role, r.user_id, r.refs) for r in db.scalars(select(CountedSchoolPerson))
    }
    district = {
        (r.district_id, r.role, r.user_id, r.refs)
        for r in db.scalars(select(CountedDistrictPerson))
    }
    deltas: dict = {}
    for r in db.scalars(select(CountDelta)):
        key = (r.scope, r.scope_id, r.role)
        deltas[key] = deltas.get(key, 0) + r.delta
    return school, district, {k: v for k, v in deltas.items() if v}


def test_the_bulk_written_import_keeps_the_organisation_counts_exact(admin, world, db, services):
    """New accounts are written with the count triggers paused and counted directly; the kept
    counts must equal a full recount, also where new and existing people meet."""
    from campusid.org import counts

    assert world.school.district_id is not None
    accounts.new_user(
        db,
        username="laojiazhang",
        real_name="老家长",
        now=services.clock.now(),
        phone="13911110009",
    )
    db.commit()
    upload = xlsx(
        [
            row(
                姓名="新生一",
                班级="五年级1班",
                身份证号=A,
                家长姓名="一妈妈",
                家长手机号="13911110003",
            ),
            row(
                姓名="新生二",
                班级="五年级2班",
                身份证号=B,
                家长姓名="一妈妈",
                家长手机号="13911110003",
            ),
            row(
                姓名="新生三",
                班级="五年级2班",
                身份证号=C,
                家长姓名="老家长",
                家长手机号="13911110009",
            ),
            row(
                操作="绑家长",
                账号="lixiaoyao",
                家长姓名="一妈妈",
                家长手机号="13911110003",
                家长关系="母亲",
            ),
            row(操作="换班", 账号="lixiaoyao", 姓名="李逍遥", 班级="五年级2班", 学号="21"),
        ]
    )
    response = _upload(admin, world, upload)
    assert "导入成功" in response.text, response.text
    db.expire_all()
    kept = _kept_counts(db)
    assert any(role == "parent" and refs == 3 for _, role, _, refs in kept[0])  # 一妈妈: 3 children
    counts.rebuild(db)
    db.flush()
    assert kept == _kept_counts(db)
    db.rollback()


def test_import_attaches_by_the_same_rule(admin, world, db, services):
    """Issue 16: the import is a way in too. A pupil of another school, a parent as a student,
    a child as a parent: each row refused, nothing written."""
    school2, _, _ = other_school(db, services)
    pupil = id_card(birth="20150909", seq="612")
    elsewhere = accounts.new_user(
        db,
        username="biexiao",
        real_name="别校生",
        now=services.clock.now(),
        id_card_number=pupil,
        phone="13700000099",
    )
    db.flush()
    accounts.join_school(
        db,
        user=elsewhere,
        school_id=school2.id,
        role=SchoolRole.STUDENT,
        now=services.clock.now(),
    )
    db.commit()
    upload = xlsx(
        [
            row(姓名="别校生", 班级="五年级1班", 身份证号=pupil),
            row(姓名="周家长", 班级="五年级1班", 手机号="13900000015"),
            row(
                姓名="新学生",
                班级="五年级1班",
                身份证号=A,
                家长姓名="别校生",
                家长手机号="13700000099",
                家长关系="其他",
            ),
        ]
    )
    before = _users(db)
    response = _upload(admin, world, upload)
    assert response.status_code == 400
    for reason in (
        "该学生已在其他学校就读",
        "该账号属于成年人",
        "该账号属于学生或未满18周岁的孩子",
    ):
        assert reason in response.text, reason
    db.expire_all()
    assert _users(db) == before
    assert not db.scalars(
        select(ClassStudent).where(ClassStudent.student_id == world["p_zhoujia"].id)
    ).all()

"""批量导入 of the files schools really have (issue 17): a title row, the student sheet not first,
no 操作 column, columns in another order, a two-row merged header, numbers Excel has spoilt, CSV."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from campusid.accounts.models import User
from campusid.classes.models import ClassStudent
from campusid.families.models import ParentLink
from campusid.roster.service import COLUMNS
from tests.support.http import sign_in
from tests.support.schools import id_card, import_roster

A = id_card(birth="20160701", seq="711")
B = id_card(birth="20160702", seq="722")


@pytest.fixture
def admin(client, world):
    sign_in(client, "xx_admin")
    return client


def _book(build) -> bytes:
    book = Workbook()
    build(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _student(db, name: str) -> User | None:
    db.expire_all()
    return db.scalar(select(User).where(User.real_name == name))


def test_title_row_sheet_not_first_no_operation_column_and_columns_reordered(admin, world, db):
    def build(book, second_class: str) -> None:
        notes = book.active
        notes.title = "说明"
        notes.append(["本表由教务系统导出"])
        sheet = book.create_sheet("学生名单")
        sheet.append(["之江汇学校学生名单"])
        sheet.merge_cells("A1:D1")
        sheet.append(["班级", "身份证号", "学生姓名", "性别"])
        sheet.append(["五年级2班", A, "标题生", "男"])
        sheet.append([second_class, B, "次序生", "女"])

    refused = import_roster(admin, world.school.id, _book(lambda b: build(b, "九年级9班")))
    assert refused.status_code == 400
    assert "<td>4</td>" in refused.text  # the row number Excel shows, title row counted
    assert "找不到班级「九年级9班」" in refused.text
    response = import_roster(admin, world.school.id, _book(lambda b: build(b, "五年级2班")))
    assert "导入成功" in response.text and "新建账号 2" in response.text, response.text
    student = _student(db, "次序生")
    assert student.id_card_number == B and student.gender.value == "female"
    assert db.scalar(
        select(ClassStudent.class_id).where(ClassStudent.student_id == student.id)
    ) == (world.class52.id)


def test_a_two_row_merged_header_reads_as_one(admin, world, db):
    def build(book) -> None:
        sheet = book.active
        sheet.append(["姓名", "班级", "家长", None, None])
        sheet.append([None, None, "姓名", "手机号", "关系"])
        sheet.merge_cells("A1:A2")
        sheet.merge_cells("B1:B2")
        sheet.merge_cells("C1:E1")
        sheet.append(["双行生", "五年级2班", "双妈妈", "13911113001", "母亲"])

    response = import_roster(admin, world.school.id, _book(build))
    assert "导入成功" in response.text and "关联家长 1" in response.text, response.text
    child, mother = _student(db, "双行生"), _student(db, "双妈妈")
    assert mother.phone == "13911113001"
    assert db.scalar(select(ParentLink.relation).where(ParentLink.child_id == child.id)).value == (
        "mother"
    )


def test_the_template_formats_identifier_columns_as_text(admin, world):
    data = admin.get(f"/school/{world.school.id}/roster/template.xlsx").content
    sheet = load_workbook(io.BytesIO(data))["学生"]
    for name in ("身份证号", "学籍号", "手机号", "家长手机号"):
        letter = chr(ord("A") + COLUMNS.index(name))
        assert sheet.column_dimensions[letter].number_format == "@", name
    assert sheet.column_dimensions["C"].number_format != "@"  # 姓名: as usual
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][0] == "示例"  # the example row says what it is


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (330603201607017110, "身份证号是数字格式的单元格"),
        (3.30603e17, "身份证号是数字格式的单元格"),
        ("3.30603E+17", "身份证号是数字格式的单元格"),
        ("=A1", "身份证号是公式"),
    ],
)
def test_spoilt_identifier_cells_are_refused_saying_how_to_fix(admin, world, db, cell, message):
    def build(book) -> None:
        sheet = book.active
        sheet.append(["姓名", "班级", "身份证号"])
        sheet.append(["数字生", "五年级2班", cell])

    response = import_roster(admin, world.school.id, _book(build))
    assert response.status_code == 400
    assert message in response.text
    assert "文本" in response.text or "数值" in response.text  # how to fix it
    assert _student(db, "数字生") is None


def test_a_bad_registration_number_says_which_formats_are_accepted(admin, world):
    def build(book) -> None:
        sheet = book.active
        sheet.append(["姓名", "班级", "学籍号"])
        sheet.append(["学籍生", "五年级2班", "ABC"])

    response = import_roster(admin, world.school.id, _book(build))
    assert response.status_code == 400
    assert "学籍号格式不正确" in response.text
    assert "G、L 或 J 加18位身份证号" in response.text and "10至20位字母、数字" in response.text


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_files_are_read_in_their_encoding(admin, world, db, encoding):
    text = (
        "学生名单\n"
        "姓名,班级,身份证号,家长姓名,家长手机号\n"
        f"逗号生,五年级2班,{A},逗号爸爸,13911113002\n"
    )
    response = import_roster(admin, world.school.id, text.encode(encoding), name="学生.csv")
    assert "导入成功" in response.text and "新建账号 2" in response.text, response.text
    assert _student(db, "逗号生").id_card_number == A
    assert _student(db, "逗号爸爸").phone == "13911113002"

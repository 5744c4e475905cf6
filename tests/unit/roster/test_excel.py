"""The upload checks and cell escaping, on their own."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import pytest
from tests.support.schools import xlsx

from campusid.roster.excel import (
    Limits,
    UnsafeFile,
    _calamine_can_read,
    _read_calamine,
    _read_openpyxl,
    cell_text,
    check_upload,
    read_sheet,
    safe_cell,
)


def _with(data: bytes, name: str, body: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.namelist():
            target.writestr(item, body if item == name else source.read(item))
        if name not in source.namelist():
            target.writestr(name, body)
    return out.getvalue()


def test_a_plain_workbook_passes():
    check_upload(xlsx([["新建", "", "张三"]]))


def test_the_total_inflated_size_is_counted_not_trusted():
    data = _with(xlsx([]), "xl/worksheets/sheet1.xml", b"<a/>" + b"x" * 300_000)
    with pytest.raises(UnsafeFile, match="解压后过大"):
        check_upload(data, Limits(max_uncompressed=200_000))
    check_upload(data, Limits(max_uncompressed=10_000_000, max_ratio=10_000))


def test_too_many_parts_are_refused():
    data = xlsx([])
    for index in range(6):
        data = _with(data, f"xl/extra{index}.xml", b"<a/>")
    with pytest.raises(UnsafeFile, match="结构异常"):
        check_upload(data, Limits(max_parts=10))


def test_a_declared_dtd_anywhere_is_refused():
    data = _with(xlsx([]), "docProps/custom.xml", b'<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>')
    with pytest.raises(UnsafeFile, match="不安全"):
        check_upload(data)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (13800000001, "13800000001"),
        (12.0, "12"),
        (1.5, "1.5"),
        (True, "是"),
        (date(2020, 9, 1), "2020-09-01"),
        ("  =1+1 ", "=1+1"),
    ],
)
def test_cells_are_read_as_typed_text(value, text):
    assert cell_text(value) == text


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+86", "'+86"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("李逍遥", "李逍遥"),
        (12, 12),
        ("a=b", "a=b"),
    ],
)
def test_exported_cells_never_start_a_formula(value, written):
    assert safe_cell(value) == written


SHEET = "xl/worksheets/sheet1.xml"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _sheet(cells: str) -> bytes:
    return (
        f'<worksheet xmlns="{MAIN}"><sheetData><row r="1">'
        '<c r="A1" t="inlineStr"><is><t>姓名</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>学号</t></is></c>'
        f"</row>{cells}</sheetData></worksheet>"
    ).encode()


def test_a_plain_sheet_is_read_fast_and_as_openpyxl_reads_it():
    data = xlsx([["新建", "", " 张三 ", "男", "", "五年级1班", 7, "", 1.5, 13800000001]])
    assert _calamine_can_read(data, 100)
    assert list(_read_calamine(data, 100)) == list(_read_openpyxl(data, 100))


@pytest.mark.parametrize(
    "cell",
    [
        '<c r="B2"><f>1+1</f><v>2</v></c>',  # Excel keeps the last result next to the formula
        f'<c r="B2" t="str"><x:f xmlns:x="{MAIN}">"=1"&amp;"+1"</x:f><v>2</v></c>',
    ],
)
def test_a_formula_arrives_as_its_text_never_its_cached_value(cell):
    data = _with(
        xlsx([]),
        SHEET,
        _sheet(f'<row r="2"><c r="A2" t="inlineStr"><is><t>张三</t></is></c>{cell}</row>'),
    )
    assert not _calamine_can_read(data, 100)  # calamine would give the cached 2
    rows = list(read_sheet(data))
    assert rows[1][0] == "张三"
    assert rows[1][1].startswith("=") and rows[1][1] != "2"


def test_a_far_cell_never_reaches_calamine():
    # calamine allocates the whole used range: A1..XFD1048576 would abort the process.
    far = _with(xlsx([]), SHEET, _sheet('<row r="2"><c r="XFD1048576"><v>1</v></c></row>'))
    assert not _calamine_can_read(far, 100_000)
    assert len(list(read_sheet(far, max_rows=10))) == 2  # openpyxl streams it instead
    tall = _with(xlsx([]), SHEET, _sheet('<row r="2"><c r="B200000"><v>1</v></c></row>'))
    assert not _calamine_can_read(tall, 100_000)
    wide = _with(xlsx([]), SHEET, _sheet('<row r="2"><c r="ZZ2"><v>1</v></c></row>'))
    assert not _calamine_can_read(wide, 100_000)  # 100,001 rows x 702 columns could follow
    unplaced = _with(xlsx([]), SHEET, _sheet('<row r="2"><c><v>1</v></c></row>'))
    assert not _calamine_can_read(unplaced, 100_000)
    assert list(read_sheet(unplaced))[1][0] == "1"

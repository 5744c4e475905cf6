"""The upload checks and cell escaping, on their own."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.schools import xlsx

from campusid.roster.excel import (
    _CELL,
    _CELL_REF,
    _FORMULA,
    _PREFIX,
    _WIDE_REF,
    MAX_FAST_CELLS,
    Limits,
    UnsafeFile,
    _calamine_can_read,
    _read_calamine,
    _read_openpyxl,
    cell_text,
    check_upload,
    read_sheet,
    row_text,
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


def _can_read_by_five_passes(data: bytes, max_rows: int) -> bool:
    """`_calamine_can_read` as it was written first: one pattern a question, each a pass."""
    long_row = len(str(max_rows + 1))
    tall_ref = re.compile(_PREFIX + rb'c r="[A-Z]{1,2}([1-9][0-9]{%d,})"' % (long_row - 1))
    rows, columns = 10 ** (long_row - 1) - 1, 26
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            text = archive.read(info)
            if _FORMULA.search(text):
                return False
            if len(_CELL.findall(text)) != len(_CELL_REF.findall(text)):
                return False
            for letters in _WIDE_REF.findall(text):
                columns = max(columns, (letters[0] - 64) * 26 + letters[1] - 64)
            for number in tall_ref.findall(text):
                rows = max(rows, int(number))
            if rows > max_rows + 1 or rows * columns > MAX_FAST_CELLS:
                return False
    return True


# Pieces of sheet XML: plain cells, wide and tall references, references out of bounds, cells
# without a reference or with another attribute first, prefixed elements, formulas, and tags
# that only start like a cell (<col>, <cfRule>) or a formula (<font>).
_PIECES = [
    '<c r="A2" t="inlineStr"><is><t>张三</t></is></c>',
    '<c r="M2"/>',
    '<c r="Z9"><v>1</v></c>',
    '<c r="AB2"><v>1</v></c>',
    '<c r="ZZ3"/>',
    '<c r="AA1" s="1">',
    '<c r="A99"/>',
    '<c r="B101"/>',
    '<c r="C1000"/>',
    '<c r="A100001"/>',
    '<c r="AB100002"/>',
    '<c r="B200000"/>',
    '<c r="A1234567"/>',
    '<c r="A12345678"/>',
    '<c r="XFD1"/>',
    '<c r="A0"/>',
    '<c r="a1"/>',
    "<c><v>1</v></c>",
    '<c t="n" r="A2"/>',
    '<c  r="A2"/>',
    '<c\nr="A2"/>',
    f'<x:c r="B2" xmlns:x="{MAIN}"/>',
    '<x:c r="AC7"/>',
    "<x:c><v>1</v></x:c>",
    '<a:b:c r="A1"/>',
    '<a:c:c r="A1"/>',
    "<f>1+1</f>",
    "<x:f>1</x:f>",
    "<f/>",
    '<col min="1"/>',
    "<cfRule/>",
    "<font/>",
    "<fill/>",
    '<row r="2">',
    "</row>",
    "<c>",
    "<c/>",
    "<c",
    "<",
    " text ",
]


@settings(max_examples=800, deadline=None)
@given(
    st.lists(st.sampled_from(_PIECES), max_size=12),
    st.sampled_from([9, 99, 100, 998, 999, 10_000, 99_999, 100_000, 1_000_000]),
)
def test_the_one_pass_scan_answers_as_the_five_passes(pieces, max_rows):
    data = _with(xlsx([]), SHEET, _sheet("".join(pieces)))
    assert _calamine_can_read(data, max_rows) == _can_read_by_five_passes(data, max_rows)


def test_the_one_pass_scan_on_a_real_workbook():
    data = xlsx([["新建", "", f"张{n}", "男", "", "五年级1班", n] for n in range(300)])
    for max_rows in (10, 299, 300, 301, 100_000):
        assert _calamine_can_read(data, max_rows) == _can_read_by_five_passes(data, max_rows)


@settings(max_examples=300)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(allow_nan=False),
            st.dates(),
            st.text(alphabet=" \t\n\r\u3000'=张3"),
        ),
        max_size=6,
    )
)
def test_the_text_shortcut_reads_cells_as_cell_text(values):
    fast = row_text(values)
    assert fast == [cell_text(value) for value in values]
    assert [type(value) for value in fast] == [type(cell_text(value)) for value in values]

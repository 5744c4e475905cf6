"""The upload checks and cell escaping, on their own."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import pytest
from tests.support.schools import xlsx

from campusid.roster.excel import Limits, UnsafeFile, cell_text, check_upload, safe_cell


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

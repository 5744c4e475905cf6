"""The import's shortcuts: each column's cells read once (`_cells`), as reading them one by one
did; the cycle collector paused for the work and back on after it."""

from __future__ import annotations

import gc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campusid.members.batch import MemberError
from campusid.roster.excel import FormulaText, NumberText
from campusid.roster.service import (
    COLUMNS,
    _cells,
    _check_typed,
    _columns,
    _table,
    _typed_suspects,
    _unescaped,
    cycles_unchecked,
)

# Blanks, full-width spaces, the apostrophe an export puts before a formula-like text, and
# the characters that make a text formula-like.
CELL = st.text(alphabet=" \t\u3000'=+-@\r\nab张3", max_size=5)
HEADER = st.lists(st.sampled_from([*COLUMNS, " 姓名 ", "", "备注", "班级"]), max_size=16)


def one_cell(row: list[str], columns: dict[str, int], name: str) -> str:
    """A cell as `import_rows` read it before: on every read, from the row."""
    index = columns.get(name)
    return _unescaped(row[index].strip()) if index is not None and index < len(row) else ""


@settings(max_examples=500)
@given(
    HEADER,
    st.lists(
        st.lists(
            st.one_of(CELL, CELL.map(NumberText), CELL.map(FormulaText)),
            max_size=18,
        ),
        max_size=6,
    ),
)
def test_each_column_once_reads_as_each_cell_on_its_own(header, rows):
    columns = _columns(header)
    cells = _cells(rows, columns)
    assert set(cells) == set(COLUMNS)
    for name in COLUMNS:
        expected = [one_cell(row, columns, name) for row in rows]
        assert cells[name] == expected
        assert all(type(value) is str for value in cells[name])


def test_an_exported_formula_like_text_loses_its_apostrophe_only():
    columns = _columns(["姓名", "手机号", "学号"])
    cells = _cells([[" '=1+1 ", "'13800000001", "'-5"], ["'", "''=", " x "]], columns)
    assert cells["姓名"] == ["=1+1", "'"]
    assert cells["手机号"] == ["'13800000001", "''="]
    assert cells["学号"] == ["-5", "x"]
    assert cells["班级"] == ["", ""]


def test_the_collector_is_paused_for_the_work_and_back_on_however_it_ends():
    assert gc.isenabled()
    with cycles_unchecked():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError, match="bad row"), cycles_unchecked():
        raise ValueError("bad row")
    assert gc.isenabled()


def test_a_collector_paused_by_someone_else_stays_paused():
    gc.disable()
    try:
        with cycles_unchecked():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


IDENTIFIER = st.text(alphabet="0123456789.eE+ Xx", max_size=8)


@settings(max_examples=500)
@given(
    HEADER,
    st.lists(
        st.lists(
            st.one_of(IDENTIFIER, IDENTIFIER.map(NumberText), IDENTIFIER.map(FormulaText)),
            max_size=16,
        ),
        max_size=6,
    ),
)
def test_only_the_suspect_rows_can_be_refused_as_typed(header, rows):
    columns = _columns(header)
    suspects = _typed_suspects(rows, columns)
    for index, row in enumerate(rows):
        try:
            _check_typed(row, columns)
        except MemberError:
            assert index in suspects


def test_the_typed_refusals_are_suspects():
    columns = _columns(list(COLUMNS))
    at = {name: index for index, name in enumerate(COLUMNS)}
    plain = [""] * len(COLUMNS)
    formula, number, scientific = list(plain), list(plain), list(plain)
    formula[at["手机号"]] = FormulaText("=A1")
    number[at["身份证号"]] = NumberText("330603201403011234")
    scientific[at["学籍号"]] = "3.30603E+17"
    rows = [plain, formula, number, scientific, [*plain[:3]]]
    assert _typed_suspects(rows, columns) == {1, 2, 3}


@given(st.lists(st.lists(CELL, max_size=5), max_size=6), st.integers(0, 2))
def test_blank_rows_are_left_out_as_before(table, start):
    kept = _table(["姓名"], table, start)
    expected = [i for i in range(start, len(table)) if any(v.strip() for v in table[i])]
    assert kept.rows == [table[i] for i in expected]
    assert kept.numbers == [i + 1 for i in expected]

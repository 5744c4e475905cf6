"""Reading and writing .xlsx safely: hostile uploads refused, exported cells never formulas.

An upload is checked before openpyxl sees it: its size; that it really is an .xlsx (a zip with
the spreadsheet parts, no macros, not an encrypted or old binary file); that it does not
inflate beyond a limit (zip bombs: the actual decompressed bytes are counted, not the sizes the
archive claims); and that no XML part declares a DTD or entities (billion laughs, external
entities; openpyxl parses with defusedxml as well). Cells are read as typed, never evaluated:
a formula arrives as its text. Every cell we write that starts with = + - @ (or a tab or a
carriage return) gets a leading apostrophe, so no spreadsheet program runs it as a formula.

Reading: a plain sheet (no formula anywhere, every cell with an explicit reference, the used
range bounded) is read with calamine, a Rust reader about fifteen times faster than openpyxl;
anything else (a formula, a wide or unusual layout) is read by openpyxl as before. Calamine
would give a formula's cached result instead of its text, and it allocates the whole used
range at once (one cell at A1 and one at XFD1048576 would ask for half a terabyte, and abort
the process), hence the scan of the raw XML first (`_calamine_can_read`).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import openpyxl.xml
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from python_calamine import CalamineWorkbook, SheetTypeEnum

from campusid.i18n import N_

# openpyxl falls back to the standard library's XML parser when defusedxml is missing.
if not openpyxl.xml.DEFUSEDXML:  # pragma: no cover - defusedxml is a pinned dependency
    raise RuntimeError("defusedxml must be installed for safe Excel parsing")

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 200  # decompressed / compressed, per part; real sheets stay far below
MAX_PARTS = 500
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, or an encrypted .xlsx
# The fast reader allocates its whole used range (rows x columns, 32 bytes a cell) at once.
MAX_FAST_CELLS = 4_000_000
# Patterns over a part's raw XML. None contains "<" past its first byte, so a part can be
# scanned in pieces cut just before a "<" without splitting a match.
_PREFIX = rb"<(?:[A-Za-z_][\w.-]*:)?"
_FORMULA = re.compile(_PREFIX + rb"f[\s/>]")  # <f>, <x:f ...>: a formula anywhere
_CELL = re.compile(_PREFIX + rb"c[\s/>]")  # every cell element
_CELL_REF = re.compile(_PREFIX + rb'c r="[A-Z]{1,2}[1-9][0-9]{0,6}"[\s/>]')  # r first, at most ZZ
_WIDE_REF = re.compile(_PREFIX + rb'c r="([A-Z]{2})[1-9]')
# The four questions above in one pass (each pass over a 60 MB sheet of 100,000 rows costs
# about 0.3 s): a match is a formula or a cell without its reference (both groups empty: not
# for calamine), or a placed cell worth a look, one in columns AA to ZZ or with a row number
# of at least `digits` + 1 digits (the letters and the row number in the groups). Any other
# cell, the usual one, does not match at all. A "c" right after "<" and a prefix can only be
# read one way as a cell element (a prefix never holds a space, "/" or ">"), so "not a placed
# cell" here is exactly "counted by _CELL but not by _CELL_REF".
_SCAN = (
    _PREFIX
    + rb'(?:f[\s/>]|c(?! r="[A-Z]{1,2}[1-9][0-9]{0,6}"[\s/>])[\s/>]'
    + rb'|c r="(?=[A-Z]{2}[1-9]|[A-Z]{1,2}[1-9][0-9]{%d})([A-Z]{1,2})([1-9][0-9]*)")'
)


class UnsafeFile(Exception):  # noqa: N818 - a refusal, shown to the uploader
    """The upload is refused; `message` says why, in Chinese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Limits:
    """How big an upload may be, before and after decompression."""

    max_bytes: int = MAX_UPLOAD_BYTES
    max_uncompressed: int = MAX_UNCOMPRESSED_BYTES
    max_ratio: int = MAX_RATIO
    max_parts: int = MAX_PARTS


def check_upload(data: bytes, limits: Limits = Limits()) -> None:
    """Refuse anything but a plain, reasonably sized .xlsx workbook."""
    if not data:
        raise UnsafeFile(N_("文件为空"))
    if len(data) > limits.max_bytes:
        raise UnsafeFile(N_("文件过大，请不要超过%(mb)sMB", mb=limits.max_bytes // (1024 * 1024)))
    if data.startswith(_OLE_MAGIC):
        raise UnsafeFile(N_("不支持旧版 .xls 或加密的文件，请另存为 .xlsx 格式（不设密码）后上传"))
    if not data.startswith(b"PK\x03\x04"):
        raise UnsafeFile(N_("文件不是 Excel（.xlsx）格式，请使用下载的模板"))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise UnsafeFile(N_("文件已损坏或不是 Excel（.xlsx）格式")) from None
    if len(infos) > limits.max_parts:
        raise UnsafeFile(N_("文件结构异常，已拒绝"))
    names = {info.filename for info in infos}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise UnsafeFile(N_("文件不是 Excel（.xlsx）格式，请使用下载的模板"))
    if any(name.lower().endswith(("vbaproject.bin", ".bin")) for name in names):
        raise UnsafeFile(N_("文件包含宏或二进制内容，已拒绝，请另存为不含宏的 .xlsx"))
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise UnsafeFile(N_("文件已加密，请取消密码后上传"))
        size = _inflated_size(archive, info, limits, total)
        total += size
        if info.filename.endswith((".xml", ".rels")):
            _check_xml(archive, info)
    content_types = archive.read("[Content_Types].xml")
    if b"spreadsheetml.sheet.main+xml" not in content_types:
        raise UnsafeFile(N_("文件不是 Excel（.xlsx）工作簿"))


def _inflated_size(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: Limits, before: int
) -> int:
    """Decompress a part, counting real bytes; stop as soon as a limit is passed."""
    size = 0
    compressed = max(info.compress_size, 1)
    try:
        with archive.open(info) as part:
            while chunk := part.read(1 << 16):
                size += len(chunk)
                if before + size > limits.max_uncompressed:
                    raise UnsafeFile(N_("文件解压后过大，已拒绝"))
                if size > 1 << 20 and size / compressed > limits.max_ratio:
                    raise UnsafeFile(N_("文件压缩比异常，已拒绝"))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        raise UnsafeFile(N_("文件已损坏或不是 Excel（.xlsx）格式")) from None
    except RuntimeError:  # an encrypted part
        raise UnsafeFile(N_("文件已加密，请取消密码后上传")) from None
    return size


def _check_xml(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """No DTDs or entity declarations: they come before the root element, so the head tells."""
    with archive.open(info) as part:
        head = part.read(4096).upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise UnsafeFile(N_("文件包含不安全的 XML 声明，已拒绝"))


class NumberText(str):
    """A cell the sheet holds as a number, as text (an 18-digit ID card number would have lost
    its last digits to the number format already: the import refuses these where it matters)."""

    __slots__ = ()


class FormulaText(str):
    """A formula cell's text (never its value)."""

    __slots__ = ()


def cell_text(value: Any) -> str:
    """A cell as text, exactly as typed: formulas stay text, whole numbers lose their '.0'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int):
        return NumberText(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return NumberText(int(value))
        return NumberText(repr(value))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def read_sheet(
    data: bytes, limits: Limits = Limits(), max_rows: int = 100_000
) -> Iterator[list[str]]:
    """The first sheet's rows as text (the header row first), after `check_upload`."""
    for sheet in read_sheets(data, limits, max_rows):
        yield from sheet
        return


def read_sheets(
    data: bytes, limits: Limits = Limits(), max_rows: int = 100_000
) -> Iterator[Iterator[list[str]]]:
    """Every worksheet's rows as text, in order: an .xlsx after `check_upload`, or a CSV file
    (UTF-8, or GBK/GB18030 as Chinese Excel saves it) as one sheet."""
    if data.startswith((b"PK\x03\x04", _OLE_MAGIC)) or not data:
        check_upload(data, limits)
        if _calamine_can_read(data, max_rows):
            yield from _sheets_calamine(data, max_rows)
        else:
            yield from _sheets_openpyxl(data, max_rows)
        return
    if len(data) > limits.max_bytes:
        raise UnsafeFile(N_("文件过大，请不要超过%(mb)sMB", mb=limits.max_bytes // (1024 * 1024)))
    yield _read_csv(data, max_rows)


def decode_text(data: bytes) -> str:
    """A CSV file's text: UTF-8 (with or without a BOM), else GB18030 (which includes GBK)."""
    if b"\0" in data:
        raise UnsafeFile(N_("文件不是 Excel（.xlsx）格式，请使用下载的模板"))
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnsafeFile(
        N_("无法识别文件的编码，请另存为 .xlsx，或 UTF-8 编码的 CSV 后上传")
    )  # pragma: no cover - gb18030 decodes nearly any bytes


def _read_csv(data: bytes, max_rows: int) -> Iterator[list[str]]:
    text = decode_text(data)
    if "," not in text and "\t" not in text:
        raise UnsafeFile(N_("文件不是 Excel（.xlsx）格式，请使用下载的模板"))
    delimiter = "\t" if text.count("\t") > text.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for count, row in enumerate(reader, start=1):
            if count > max_rows + 1:
                raise UnsafeFile(N_("一次最多导入%(most)s行，请分批导入", most=max_rows))
            yield [value.strip() for value in row]
    except csv.Error:
        raise UnsafeFile(N_("CSV 文件格式有误，请另存为 .xlsx 后上传")) from None


def _calamine_can_read(data: bytes, max_rows: int) -> bool:
    """Whether every XML part is plain enough for calamine: no formula, bounded used range.

    Every cell must carry its reference as its first attribute, in columns A to ZZ and rows up
    to `max_rows` + 1 (cells without one are placed by counting, which the scan would have to
    redo), and rows x columns must stay under MAX_FAST_CELLS (rows: the highest reference with
    as many digits as `max_rows` + 1, else the highest number with one digit fewer; columns: the
    widest reference). Called after `check_upload`, so the parts inflate within the limits.
    One pass of `_SCAN` over each piece answers what `_FORMULA`, `_CELL` against `_CELL_REF`,
    `_WIDE_REF` and the tall references would (`tests/unit/roster` compares the two).
    """
    long_row = len(str(max_rows + 1))
    scan = re.compile(_SCAN % (long_row - 1))
    rows, columns = 10 ** (long_row - 1) - 1, 26
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():  # every part: a sheet can be stored under any name
            with archive.open(info) as part:
                carry = b""
                while True:
                    chunk = part.read(1 << 20)
                    buffer = carry + chunk
                    cut = buffer.rfind(b"<") if chunk else len(buffer)
                    if cut <= 0:
                        carry = buffer
                        if not chunk:
                            break
                        continue
                    text, carry = buffer[:cut], buffer[cut:]
                    for letters, number in scan.findall(text):
                        if not letters:  # a formula, or a cell calamine would place by counting
                            return False
                        if len(letters) == 2:
                            columns = max(columns, (letters[0] - 64) * 26 + letters[1] - 64)
                        if len(number) >= long_row:
                            rows = max(rows, int(number))
                    if rows > max_rows + 1 or rows * columns > MAX_FAST_CELLS:
                        return False
                    if not chunk:
                        break
    return True


def _read_calamine(data: bytes, max_rows: int) -> Iterator[list[str]]:
    for sheet in _sheets_calamine(data, max_rows):
        yield from sheet
        return


def _sheets_calamine(data: bytes, max_rows: int) -> Iterator[Iterator[list[str]]]:
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = [s.name for s in workbook.sheets_metadata if s.typ == SheetTypeEnum.WorkSheet]
    except Exception:  # calamine raises its own kinds, and ValueError, for malformed parts
        raise UnsafeFile(N_("文件已损坏或不是 Excel（.xlsx）格式")) from None
    for name in names:
        yield _calamine_rows(workbook, name, max_rows)


def _calamine_rows(workbook: CalamineWorkbook, name: str, max_rows: int) -> Iterator[list[str]]:
    try:
        rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
    except Exception:  # calamine raises its own kinds, and ValueError, for malformed parts
        raise UnsafeFile(N_("文件已损坏或不是 Excel（.xlsx）格式")) from None
    if len(rows) > max_rows + 1:  # pragma: no cover - _calamine_can_read bounds the rows
        raise UnsafeFile(N_("一次最多导入%(most)s行，请分批导入", most=max_rows))
    for row in rows:
        yield row_text(row)


def row_text(values: list[Any]) -> list[str]:
    """`cell_text` of each value; nearly every cell is text, which skips its type tests."""
    return [value.strip() if type(value) is str else cell_text(value) for value in values]


def _read_openpyxl(data: bytes, max_rows: int) -> Iterator[list[str]]:
    for sheet in _sheets_openpyxl(data, max_rows):
        yield from sheet
        return


def _sheets_openpyxl(data: bytes, max_rows: int) -> Iterator[Iterator[list[str]]]:
    try:
        workbook = load_workbook(
            io.BytesIO(data), read_only=True, data_only=False, keep_links=False
        )
    except Exception:  # openpyxl raises many kinds for malformed parts
        raise UnsafeFile("文件已损坏或不是 Excel（.xlsx）格式") from None
    try:
        for sheet in workbook.worksheets:
            yield _openpyxl_rows(sheet, max_rows)
    finally:
        workbook.close()


def _openpyxl_rows(sheet: Any, max_rows: int) -> Iterator[list[str]]:
    for count, row in enumerate(sheet.iter_rows(), start=1):
        if count > max_rows + 1:
            raise UnsafeFile(N_("一次最多导入%(most)s行，请分批导入", most=max_rows))
        yield [
            FormulaText(cell_text(cell.value))
            if getattr(cell, "data_type", None) == "f"
            else cell_text(cell.value)
            for cell in row
        ]


def safe_cell(value: Any) -> Any:
    """A value that no spreadsheet program will run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


HEADER_FONT = Font(bold=True)
ERROR_FILL = PatternFill("solid", fgColor="FDECEA")
HEADER_FILL = PatternFill("solid", fgColor="E8F0FE")


def _cells(
    sheet: WriteOnlyWorksheet, values: Iterable[Any], *, header: bool = False, error: bool = False
) -> list[WriteOnlyCell]:
    cells = []
    for value in values:
        cell = WriteOnlyCell(sheet, value=safe_cell(value))
        if isinstance(cell.value, str):
            cell.data_type = "s"  # text, whatever it looks like
        if header:
            cell.font = HEADER_FONT
            cell.fill = HEADER_FILL
        elif error:
            cell.fill = ERROR_FILL
        cells.append(cell)
    return cells


def write_workbook(
    sheets: list[tuple[str, list[str], Iterable[Iterable[Any]]]],
    *,
    error_rows: set[int] | None = None,
    widths: dict[str, list[int]] | None = None,
    text_columns: dict[str, list[int]] | None = None,
) -> bytes:
    """An .xlsx with these sheets (title, header, rows); `error_rows` (0-based) highlighted.

    `text_columns` (0-based, by sheet) are formatted as text (@), so that what is typed into
    them later stays as typed: Excel would turn an 18-digit ID card number into 3.30603E+17.
    """
    workbook = Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title)
        for index, width in enumerate((widths or {}).get(title, [])):
            sheet.column_dimensions[get_column_letter(index + 1)].width = width
        for index in (text_columns or {}).get(title, []):
            sheet.column_dimensions[get_column_letter(index + 1)].number_format = "@"
        sheet.append(_cells(sheet, header, header=True))
        for index, row in enumerate(rows):
            sheet.append(_cells(sheet, row, error=bool(error_rows and index in error_rows)))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()

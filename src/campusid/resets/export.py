"""The printable list of new passwords as an .xlsx, built in memory for one response."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

from openpyxl import Workbook

from campusid.resets.service import ResetResult

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def password_sheet(title: str, results: Sequence[ResetResult]) -> bytes:
    """An .xlsx with 姓名, 用户名, 新密码: never written to disk or to the database."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "重置密码"
    sheet.append([title])
    sheet.append(["学生姓名", "用户名", "新密码"])
    for result in results:
        sheet.append([result.real_name, result.username, result.password])
    for column, width in (("A", 14), ("B", 22), ("C", 16)):
        sheet.column_dimensions[column].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def as_data_url(content: bytes) -> str:
    """A `data:` URL for a download link on the same page (nothing kept on the server)."""
    return f"data:{XLSX_TYPE};base64," + base64.b64encode(content).decode("ascii")

"""Scenario 1: a school administrator builds a campus, imports students and sees exact counts."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from campusid.demo import DEMO_PASSWORD
from campusid.roster.service import COLUMNS
from tests.e2e.conftest import DESKTOP, new_page, sign_in


def _roster(path: Path) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "学生"
    sheet.append(list(COLUMNS))
    row = dict.fromkeys(COLUMNS, "")
    for name, gender, parent in (
        ("钱小一", "男", ("钱大一", "13900002001")),
        ("孙小二", "女", None),
        ("李小三", "男", None),
    ):
        values = dict(row, 操作="新建", 姓名=name, 性别=gender, 校区="东校区", 班级="一年级1班")
        if parent:
            values.update(家长姓名=parent[0], 家长手机号=parent[1], 家长关系="父亲")
        sheet.append([values[c] for c in COLUMNS])
    book.save(path)
    return path


def test_quick_create_import_and_exact_counts(live_server, browser, shots, tmp_path):
    page = new_page(browser, DESKTOP)
    sign_in(page, live_server.url, "xx_admin", DEMO_PASSWORD)
    page.goto(live_server.url + "/school")
    page.wait_for_load_state("networkidle")
    shots(page, "tree")

    page.get_by_role("link", name="新增校区/班级").click()
    page.get_by_label("校区名称").fill("东校区")
    rows = page.locator("fieldset.stage-row")
    for index in range(2):  # 小学 (六三制) and 初中
        row = rows.nth(index)
        row.locator("input[type=checkbox]").check()
        inputs = row.locator("input[type=number]")
        for i in range(inputs.count()):
            inputs.nth(i).fill("1")
    shots(page, "quick-create")
    page.get_by_role("button", name="保存").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_text("东校区").first.is_visible()
    shots(page, "campus-created")

    page.get_by_role("navigation", name="学校管理").get_by_role(
        "link", name="批量导入/导出学生"
    ).click()
    page.locator("input[type=file]").set_input_files(str(_roster(tmp_path / "roster.xlsx")))
    page.get_by_role("button", name="上传并预览").click()
    page.wait_for_load_state("networkidle")
    preview = page.locator(".import-preview").inner_text()
    assert "新建 3" in preview and "错误 0" in preview
    shots(page, "import-preview")
    page.get_by_role("button", name="确认导入").click()
    page.wait_for_load_state("networkidle")
    status = page.locator(".alert-success").inner_text()
    assert "导入成功" in status
    assert "共 3 行" in status
    assert "新建账号 4" in status  # three pupils and one parent
    assert "关联家长 1" in status
    shots(page, "imported")

    page.get_by_role("navigation", name="学校管理").get_by_role("link", name="组织管理").click()
    page.get_by_role("link", name="东校区").first.click()
    page.wait_for_load_state("networkidle")
    text = page.locator("main").inner_text()
    assert "0个老师 3个学生 1个家长" in text
    shots(page, "counts")
    page.context.close()

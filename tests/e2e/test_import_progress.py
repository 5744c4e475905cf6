"""A large import shows its progress: the page's poller follows the server's work (issue 17).

The file is large enough (20,000 new pupils) that writing it takes seconds: the bar shows while
the upload is checked and moves while the confirmation runs. It is imported into 柯桥实验小学,
the demo's second school, which no other scenario looks at.
"""

from __future__ import annotations

from itertools import product
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from campusid.demo import DEMO_PASSWORD
from campusid.roster.service import COLUMNS
from tests.e2e.conftest import DESKTOP, new_page, sign_in

ROWS = 20_000
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
GIVEN = "一二三四五六七八九十明亮红华芳丽强伟静敏军平刚勇杰娟涛燕霞玲桂英"


def _big_roster(path: Path) -> Path:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("学生")
    sheet.append(list(COLUMNS))
    names = ("".join(parts) for parts in product(SURNAMES, GIVEN, GIVEN))
    blank = dict.fromkeys(COLUMNS, "")
    for index in range(ROWS):
        values = dict(
            blank,
            操作="新建",
            姓名=next(names),
            性别="男" if index % 2 else "女",
            校区="实验小学本部",
            班级="五年级1班",
        )
        sheet.append([values[c] for c in COLUMNS])
    book.save(path)
    return path


# While a form is being answered the page cannot be asked anything (the browser is navigating),
# so an observer the page runs itself notes each change of a progress box, in sessionStorage
# (kept across the navigation to the answer page), for the test to read afterwards.
OBSERVE = """
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-progress-box]").forEach((box) => {
    const bar = box.querySelector("progress");
    const text = box.querySelector("[data-progress-text]");
    new MutationObserver(() => {
      const seen = JSON.parse(sessionStorage.getItem("progress-seen") || "[]");
      seen.push({
        shown: !box.hidden && box.getBoundingClientRect().width > 0,
        value: bar.value,
        max: bar.max,
        text: text.textContent,
      });
      sessionStorage.setItem("progress-seen", JSON.stringify(seen));
    }).observe(box, { attributes: true, childList: true, subtree: true, characterData: true });
  });
});
"""


def _seen(page: Any) -> list[dict[str, Any]]:
    """What the progress boxes showed since the last call (and forget it)."""
    seen = page.evaluate("() => JSON.parse(sessionStorage.getItem('progress-seen') || '[]')")
    page.evaluate("() => sessionStorage.removeItem('progress-seen')")
    return list(seen)


def _moved_midway(seen: list[dict[str, Any]]) -> bool:
    """The bar was shown with the server's progress part of the way through, in words too."""
    return any(
        s["shown"] and 0 < s["value"] < s["max"] and "%" in s["text"] and s["text"][0] != " "
        for s in seen
    )


def test_a_large_import_shows_its_progress_and_completes(live_server, browser, shots, tmp_path):
    page = new_page(browser, DESKTOP)
    sign_in(page, live_server.url, "kq_admin", DEMO_PASSWORD)
    page.add_init_script(OBSERVE)
    page.goto(live_server.url + "/school")
    page.get_by_role("navigation", name="学校管理").get_by_role(
        "link", name="批量导入/导出学生"
    ).click()
    page.locator("input[type=file]").set_input_files(str(_big_roster(tmp_path / "big.xlsx")))

    assert page.locator("[data-progress-box]").is_hidden()
    assert _seen(page) == []
    with page.expect_navigation(timeout=180_000):
        page.get_by_role("button", name="上传并预览").click(no_wait_after=True)
    preview = page.locator(".import-preview").inner_text()
    assert f"新建 {ROWS}" in preview and "错误 0" in preview
    # The bar appeared as the form went. (Checking 20,000 rows takes well under a second now,
    # too quick to catch midway by polling; writing them, below, is not.)
    seen = _seen(page)
    assert seen and seen[0]["shown"], seen
    shots(page, "preview")

    with page.expect_navigation(timeout=180_000):
        page.get_by_role("button", name="确认导入").click(no_wait_after=True)
    status = page.locator(".alert-success").inner_text()
    assert "导入成功" in status and f"新建账号 {ROWS}" in status
    assert _moved_midway(_seen(page))
    shots(page, "imported")
    page.context.close()

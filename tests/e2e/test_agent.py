"""Scenario 6: the service hotline agent looks an account up, verifies the caller and resets,
inside service hours; outside them the console only looks up and says why. A child's
temporary password goes by SMS to a linked parent's phone, never onto the agent's screen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from campusid.accounts.models import User
from campusid.demo import DEMO_PASSWORD
from campusid.senders import OutboxMessage
from tests.e2e.conftest import DESKTOP, PHONE, expect_refusal, new_page, sign_in
from tests.support.secrets import remember

MONDAY_10_00 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Shanghai: a working day, 10:00
SATURDAY_10_00 = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)  # Shanghai: the weekend


@pytest.fixture
def server_time(live_server: Any) -> Iterator[Any]:
    """Lets the test set the server's clock; gives the real time back afterwards."""
    yield live_server.set_time
    live_server.real_time()


def _open_account(page: Any, login: str, relation: str) -> None:
    """查找账号 by an identifier, then 打开账号 with the caller's stated relation."""
    page.get_by_label("账号标识").fill(login)
    with page.expect_navigation():
        page.get_by_role("button", name="查找").click()
    row = page.get_by_role("row", name="李*遥")  # results show masked names only
    row.get_by_label("来电人身份").select_option(label=relation)
    with page.expect_navigation():
        row.get_by_role("button", name="打开账号").click()
    page.get_by_role("heading", name="身份核验").wait_for()


def _check(page: Any, label: str, answer: str) -> None:
    page.get_by_label(label, exact=True).fill(answer)
    form = page.locator("form.desk-fact").filter(has=page.get_by_label(label, exact=True))
    with page.expect_navigation():
        form.get_by_role("button", name="核验").click()


def test_agent_verifies_and_resets_inside_service_hours(live_server, browser, shots, server_time):
    with live_server.session() as db:
        id_card = db.scalar(select(User.id_card_number).where(User.username == "lixiaoyao"))
    assert id_card
    remember(id_card)
    server_time(MONDAY_10_00)
    page = new_page(browser, DESKTOP)
    sign_in(page, live_server.url, "kefu01", DEMO_PASSWORD)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="客服工作台").click()
    assert "服务中" in page.locator(".desk-hours").inner_text()
    shots(page, "console")
    _open_account(page, "lixiaoyao", "家长")
    assert page.get_by_role("button", name="重置密码").count() == 0  # nothing verified yet
    shots(page, "ticket")

    # What a classmate knows is not enough.
    _check(page, "真实姓名", "李逍遥")
    _check(page, "关联家长姓名", "李大娘")
    assert "同学也可能知道" in page.locator("main").inner_text()
    assert page.get_by_role("button", name="重置密码").count() == 0
    _check(page, "身份证号后4位", id_card[-4:])
    table = page.locator("table.desk-checklist")
    assert table.get_by_role("row", name="真实姓名").get_by_text("匹配").is_visible()
    assert table.get_by_role("row", name="身份证号后4位").get_by_text("匹配").is_visible()
    main = page.locator("main").inner_text()
    assert "身份核验已通过" in main and "家长绑定手机 139****0011" in main
    shots(page, "verified")

    page.get_by_role("button", name="重置密码").click()
    dialog = page.get_by_role("dialog")
    assert "确定重置该账号的密码" in dialog.inner_text()
    shots(page, "confirm")
    with page.expect_navigation():
        dialog.get_by_role("button", name="重置密码").click()
    page.get_by_role("heading", name="密码重置成功").wait_for()
    assert page.locator(".secret").count() == 0  # never read out for a child
    assert "家长绑定手机 139****0011" in page.locator("main").inner_text()
    with live_server.session() as db:
        body = db.scalar(
            select(OutboxMessage.body)
            .where(OutboxMessage.template == "child_temporary_password")
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
    assert body
    temporary = body.split("临时密码为", 1)[1].split("，", 1)[0]
    remember(temporary)
    assert temporary not in page.content()
    shots(page, "reset")
    page.context.close()

    pupil = new_page(browser, PHONE)
    sign_in(pupil, live_server.url, "lixiaoyao", temporary)
    assert pupil.url.endswith("/password/change-required")
    pupil.context.close()


def test_agent_is_refused_outside_service_hours(live_server, browser, shots, server_time):
    server_time(SATURDAY_10_00)
    page = new_page(browser, DESKTOP)
    sign_in(page, live_server.url, "kefu01", DEMO_PASSWORD)
    page.goto(live_server.url + "/servicedesk")
    hours = page.locator(".desk-hours").inner_text()
    assert "当前不在服务时间" in hours and "不能核验或重置密码" in hours
    shots(page, "console-closed")

    # Looking up still works; verifying and resetting do not.
    _open_account(page, "lixiaoyao", "学生本人")
    assert "当前不在服务时间，只能查看，不能重置密码" in page.locator("main").inner_text()
    assert page.get_by_role("button", name="重置密码").count() == 0
    assert page.locator("form.desk-fact").count() == 0
    shots(page, "refused")

    # Not only hidden: the server refuses a check sent anyway (with the page's CSRF token).
    expect_refusal(page.url + "/check")
    status, body = page.evaluate(
        """async (url) => {
             const token = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"];
             const answer = await fetch(url, {method: "POST", body: new URLSearchParams(
               {fact: "real_name", answer: "李逍遥", csrf_token: token})});
             return [answer.status, await answer.text()];
           }""",
        page.url + "/check",
    )
    assert status >= 400 and "服务时间" in body
    page.reload()
    row = page.locator("table.desk-checklist").get_by_role("row", name="真实姓名")
    assert row.get_by_text("未核验").is_visible()
    page.context.close()

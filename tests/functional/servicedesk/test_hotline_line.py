"""The hotline line on the login page and every page's footer, on the injected clock."""

from __future__ import annotations

from datetime import datetime

import pytest
from tests.support.http import sign_in

from campusid.clock import SHANGHAI

OPEN = "服务中"
CLOSED = "当前不在服务时间"


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("now", "words"),
    [
        (local(2026, 11, 30, 8, 29), [CLOSED, "下次开放：今天 8:30"]),
        (local(2026, 11, 30, 8, 30), [OPEN]),
        (local(2026, 11, 30, 16, 59), [OPEN]),
        (local(2026, 11, 30, 17, 0), [CLOSED, "下次开放：明天（周二） 8:30"]),
        # National Day: closed, open again after the break.
        (local(2026, 10, 1, 10, 0), [CLOSED, "下次开放：10月8日（周四） 8:30"]),
        # A Saturday made a working day (调休): open.
        (local(2026, 10, 10, 10, 0), [OPEN]),
        # An ordinary Saturday: closed until Monday.
        (local(2026, 11, 28, 10, 0), [CLOSED, "下次开放：11月30日（周一） 8:30"]),
    ],
)
def test_login_page_says_whether_the_hotline_is_open(client, clock, now, words):
    clock.set(now)
    page = client.get("/login").text
    assert "0571-87880806" in page
    assert "工作日 8:30-17:00" in page
    for word in words:
        assert word in page
    if OPEN in words:
        assert CLOSED not in page


def test_footer_of_every_page_carries_the_line(client, clock, world):
    sign_in(client, "chenxiaokai")
    clock.set(local(2026, 11, 30, 17, 30))
    sign_in(client, "chenxiaokai")
    page = client.get("/").text
    footer = page[page.index('<footer class="footer">') :]
    assert "客服热线 0571-87880806" in footer
    assert "下次开放：明天（周二） 8:30" in footer
    assert client.get("/no-such-page").text.count("客服热线") >= 1


def test_configured_number_and_hours(client, services, clock):
    services.settings.hotline_number = "0571-11112222"
    services.settings.servicedesk_closes_at = services.settings.servicedesk_closes_at.replace(
        hour=18
    )
    clock.set(local(2026, 11, 30, 17, 30))
    page = client.get("/login").text
    assert "0571-11112222" in page
    assert "工作日 8:30-18:00" in page
    assert OPEN in page

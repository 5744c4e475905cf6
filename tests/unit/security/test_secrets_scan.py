"""The end-of-session log scan: a numeric secret counts where it stands alone."""

from __future__ import annotations

from tests.support.secrets import _shows


def test_numbers_count_only_standing_alone() -> None:
    assert _shows("999999", "GET /servicedesk/tickets/999999")
    assert _shows("123456", "验证码为123456,10分钟内有效")
    assert not _shows("999999", "POST /m/classes/1/students/99999999/message")
    assert not _shows("123456", "request_id a0123456b")


def test_other_secrets_count_anywhere() -> None:
    assert _shows("Zjer@2026", "password=Zjer@2026x")

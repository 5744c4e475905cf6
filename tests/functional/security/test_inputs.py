"""Text with a NUL character is refused with a clear 400 (PostgreSQL cannot hold it)."""

from __future__ import annotations

from tests.support.http import post_form, sign_in


def test_a_nul_in_the_query_string_is_a_400(client, world):
    sign_in(client, "lixiaoyao")
    response = client.get("/join", params={"code": "gu22\x00cm"})
    assert response.status_code == 400
    assert "提交的内容不完整或格式不正确" in response.text
    assert client.get("/recovery/schools", params={"school_q": "之江\x00"}).status_code == 400


def test_a_nul_in_a_form_field_is_a_400(client, world):
    response = post_form(client, "/login", {"login": "lixiao\x00yao", "password": "x"})
    assert response.status_code == 400
    assert "提交的内容不完整或格式不正确" in response.text

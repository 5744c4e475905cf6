"""消息: every kind of notice reaches the inbox readably, and the header counts the unread."""

from __future__ import annotations

import re

from sqlalchemy import event, select

from campusid.classes.models import JoinRequest
from campusid.demo import DEMO_PASSWORD
from campusid.messaging import service as messaging
from tests.support.families import link
from tests.support.http import post_form, sign_in

BADGE = re.compile(
    r'<a class="notices-link" href="/notices"[^>]*>消息'
    r'(?: <span class="badge"[^>]*>(\S+)</span>)?</a>'
)


def _badge(html: str) -> str | None:
    found = BADGE.search(html)
    assert found, "the 消息 link is in the header"
    return found.group(1)


def _inbox(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """kind -> the text of the newest notice of that kind."""
    page = client.get("/notices")
    assert page.status_code == 200
    items = re.findall(r'<li class="[^"]*" data-kind="([^"]+)">(.*?)</li>', page.text, re.S)
    shown: dict[str, str] = {}
    for kind, body in items:
        shown.setdefault(kind, re.sub(r"<[^>]+>", " ", body))
    return shown


def test_the_header_counts_unread_notices_with_one_query(client, db, world, services, connection):
    student = world["lixiaoyao"]
    for n in range(3):
        messaging.notify(
            db,
            user_id=student.id,
            kind="class_message",
            title=f"通知{n}",
            body="内容",
            now=services.clock.now(),
        )
    db.commit()
    sign_in(client, "lixiaoyao")
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(connection, "before_cursor_execute", seen)
    try:
        page = client.get("/account/security")
    finally:
        event.remove(connection, "before_cursor_execute", seen)
    assert _badge(page.text) == "3"
    assert sum("FROM notices" in s for s in statements) == 1, statements
    # 个人空间's 消息 tile and 我's 消息 line show the same count, counted once for the page.
    for path in ("/", "/me"):
        statements.clear()
        event.listen(connection, "before_cursor_execute", seen)
        try:
            html = client.get(path).text
        finally:
            event.remove(connection, "before_cursor_execute", seen)
        assert html.count('<span class="badge">3</span>') == 1, path
        assert sum("FROM notices" in s for s in statements) == 1, (path, statements)
    inbox = client.get("/notices")
    assert _badge(inbox.text) == "3"
    assert post_form(client, "/notices/read").status_code == 303
    assert _badge(client.get("/notices").text) is None
    assert _badge(client.get("/").text) is None


def test_signed_out_pages_have_no_badge(client):
    assert "notices-link" not in client.get("/login").text


def test_every_kind_of_notice_reads_well(client, make_client, db, world):
    # A password changed by its holder (本人修改).
    sign_in(client, "heshuhuan")
    post_form(
        client,
        "/account/password",
        {
            "current_password": DEMO_PASSWORD,
            "new_password": "Hsh#2026ab",
            "confirm_password": "Hsh#2026ab",
        },
    )
    own = _inbox(client)["password_changed"]
    assert "您本人" in own and "本人修改" in own and "密码变更" in own

    # A reset by the homeroom teacher: the student and the parent are told who and how.
    teacher = make_client()
    sign_in(teacher, "chenxiaokai")
    base = f"/m/classes/{world.class51.id}/students/{world['lixiaoyao'].id}"
    assert post_form(teacher, f"{base}/reset").status_code == 200
    student = make_client()
    sign_in(student, "p_lidaniang")
    parent_inbox = _inbox(student)
    assert "陈小凯" in parent_inbox["child_password_reset"]
    assert "班主任重置" in parent_inbox["child_password_reset"]

    # The teacher's message to a student.
    assert (
        post_form(
            teacher,
            f"/m/classes/{world.class51.id}/students/{world['weiyingluo'].id}/message",
            {"text": "明天带练习册"},
        ).status_code
        == 200
    )
    pupil = make_client()
    sign_in(pupil, "weiyingluo")
    message = _inbox(pupil)["class_message"]
    assert "陈小凯老师" in message and "明天带练习册" in message and "老师消息" in message

    # A child linked, then unlinked, by a parent: the child is told both times.
    parent = make_client()
    sign_in(parent, "p_zhoujia")
    assert link(parent, "周伯通", world["zhoubotong"].id_card_number, "father").status_code == 303
    assert post_form(parent, f"/me/children/{world['zhoubotong'].id}/unlink").status_code == 303
    child = make_client()
    sign_in(child, "zhoubotong")
    child_inbox = _inbox(child)
    assert "周家长" in child_inbox["child_linked"] and "孩子关联" in child_inbox["child_linked"]
    assert "child_unlinked" in child_inbox

    # A join request, decided by the homeroom teacher.
    assert post_form(parent, "/join", {"code": "gu22cm", "role": "parent"}).status_code == 200
    db.expire_all()
    request_id = db.scalar(
        select(JoinRequest.id).where(JoinRequest.user_id == world["p_zhoujia"].id)
    )
    assert "join_request" in _inbox(teacher)
    post_form(
        teacher,
        f"/classes/{world.class51.id}/manage/requests/{request_id}",
        {"decision": "approve"},
    )
    decided = _inbox(parent)["join_request_decided"]
    assert "入班申请已通过" in decided and "入班审核" in decided

"""消息 in English: notices are kept with their marked texts and shown in the reader's language.

Titles and bodies are translated when the inbox is read (the language is a cookie, known only
then); names, times and what a teacher typed stay as they are; older notices, kept without their
marked texts, are shown as stored.
"""

from __future__ import annotations

import ast
from pathlib import Path

from sqlalchemy import select

import campusid
from campusid.classes.models import JoinRequest
from campusid.demo import DEMO_PASSWORD
from campusid.i18n import N_
from campusid.messaging import service as messaging
from campusid.messaging.models import Notice
from tests.functional.i18n.test_english_pages import assert_english, english, user_data
from tests.support.families import link
from tests.support.http import post_form, sign_in


def test_every_kind_of_notice_reads_in_english(make_client, db, services, world):
    holder = english(make_client())
    sign_in(holder, "heshuhuan")
    post_form(
        holder,
        "/account/password",
        {
            "current_password": DEMO_PASSWORD,
            "new_password": "Hsh#2026ab",
            "confirm_password": "Hsh#2026ab",
        },
    )
    teacher = english(make_client())
    sign_in(teacher, "chenxiaokai")
    base = f"/m/classes/{world.class51.id}/students/{world['lixiaoyao'].id}"
    assert post_form(teacher, f"{base}/reset").status_code == 200
    typed = "明天带练习册，登录"
    message_url = f"/m/classes/{world.class51.id}/students/{world['weiyingluo'].id}/message"
    assert post_form(teacher, message_url, {"text": typed}).status_code == 200
    parent = english(make_client())
    sign_in(parent, "p_zhoujia")
    assert link(parent, "周伯通", world["zhoubotong"].id_card_number, "father").status_code == 303
    assert post_form(parent, f"/me/children/{world['zhoubotong'].id}/unlink").status_code == 303
    assert post_form(parent, "/join", {"code": "gu22cm", "role": "parent"}).status_code == 200
    db.expire_all()
    request_id = db.scalar(
        select(JoinRequest.id).where(JoinRequest.user_id == world["p_zhoujia"].id)
    )
    post_form(
        teacher,
        f"/classes/{world.class51.id}/manage/requests/{request_id}",
        {"decision": "approve"},
    )
    data = user_data(db, services)

    page = holder.get("/notices")
    assert_english(page, data)
    assert "Your password was changed" in page.text and "by you" in page.text
    assert "Changed by the account holder" in page.text

    mother = english(make_client())
    sign_in(mother, "p_lidaniang")
    page = mother.get("/notices")
    assert_english(page, data)
    assert "Your child&#39;s password was reset" in page.text
    assert "陈小凯" in page.text and "Reset by the homeroom teacher" in page.text

    pupil = english(make_client())
    sign_in(pupil, "weiyingluo")
    page = pupil.get("/notices")
    assert_english(page, [typed, *data])
    assert "Teacher 陈小凯" in page.text
    assert typed in page.text  # what the teacher typed is shown as written, not translated

    child = english(make_client())
    sign_in(child, "zhoubotong")
    page = child.get("/notices")
    assert_english(page, data)
    assert "A parent linked your account" in page.text and "Parent link removed" in page.text

    assert_english(parent.get("/notices"), data)
    assert "Join request approved" in parent.get("/notices").text
    assert_english(teacher.get("/notices"), data)
    assert "New request to join the class" in teacher.get("/notices").text

    # The stored text stays the Chinese text, as before.
    db.expire_all()
    notice = db.scalar(
        select(Notice).where(Notice.user_id == world["p_lidaniang"].id).order_by(Notice.id.desc())
    )
    assert notice is not None and notice.title == "孩子的密码已重置"
    assert "李逍遥" in notice.body and "陈小凯" in notice.body


def test_the_chinese_inbox_is_unchanged_and_older_notices_show_as_stored(
    make_client, db, services, world
):
    now = services.clock.now()
    older = Notice(
        user_id=world["lixiaoyao"].id,
        kind="class_message",
        title="旧的通知",
        body="旧的内容",
        created_at=now,
    )
    db.add(older)
    messaging.notify(
        db,
        user_id=world["lixiaoyao"].id,
        kind="password_changed",
        title=N_("您的密码已修改"),
        body=N_(
            "您的账号密码已于 %(when)s 由%(who)s通过「%(route)s」修改。"
            "如非本人知情，请立即联系班主任或客服热线。",
            when="2026-12-05 10:00",
            who=N_("您本人"),
            route="本人修改",
        ),
        now=now,
    )
    db.commit()
    client = make_client()
    sign_in(client, "lixiaoyao")
    page = client.get("/notices").text
    assert "旧的通知" in page and "旧的内容" in page
    assert "您的密码已修改" in page and "由您本人通过「本人修改」修改" in page
    english(client)
    page = client.get("/notices").text
    assert "旧的通知" in page  # no marked text kept: shown as stored
    assert (
        "Your password was changed at 2026-12-05 10:00 by you (Changed by the account holder)"
        in page
    )


def test_every_notice_is_sent_with_marked_texts():
    """No notice title or body is built as a plain Chinese string (an f-string or literal)."""
    unmarked = []
    for path in Path(campusid.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "notify"):
                continue
            for keyword in node.keywords:
                if keyword.arg not in {"title", "body"}:
                    continue
                value = keyword.value
                choices = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
                if any(isinstance(c, ast.Constant | ast.JoinedStr) for c in choices):
                    unmarked.append(f"{path.name}:{node.lineno} {keyword.arg}")
    assert not unmarked, f"mark these with N_(…): {unmarked}"

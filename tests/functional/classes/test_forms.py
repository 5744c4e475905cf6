"""The class pages' forms: what a browser may send wrongly gets a clear 400 and changes nothing.

The forms are read into form models (`classes.views`); these tests pin what a person sees when a
form comes in empty, with a non-number, or too long, and that a field left out stays as it was.
"""

from __future__ import annotations

from sqlalchemy import select

from campusid.classes.models import CadrePosition, ClassStudent, JoinRequest
from tests.support.http import post_form, sign_in

UNREADABLE = "提交的内容不完整或格式不正确"


def _manage(world, path=""):
    return f"/classes/{world.class51.id}/manage{path}"


def _in_class(db, world, username):
    db.expire_all()
    return db.scalar(
        select(ClassStudent).where(
            ClassStudent.class_id == world.class51.id,
            ClassStudent.student_id == world[username].id,
        )
    )


def test_ticking_nobody_or_something_odd_changes_nobody(client, db, world):
    sign_in(client, "chenxiaokai")
    for act in ("/students/remove", "/students/reset"):
        none = post_form(client, _manage(world, act))
        assert none.status_code == 400 and "请先勾选学生" in none.text
        odd = post_form(client, _manage(world, act), {"student_ids": ["abc"]})
        assert odd.status_code == 400 and UNREADABLE in odd.text
        zero = post_form(client, _manage(world, act), {"student_ids": ["0"]})
        assert zero.status_code == 400 and UNREADABLE in zero.text
    assert _in_class(db, world, "lixiaoyao") is not None


def test_removing_several_ticked_students(client, db, world):
    sign_in(client, "chenxiaokai")
    ids = [str(world["lixiaoyao"].id), str(world["heshuhuan"].id)]
    removed = post_form(client, _manage(world, "/students/remove"), {"student_ids": ids})
    assert removed.status_code == 303
    assert removed.headers["location"] == _manage(world, "/students?msg=removed")
    assert _in_class(db, world, "lixiaoyao") is None
    assert _in_class(db, world, "heshuhuan") is None


def test_an_edit_leaves_the_fields_it_does_not_send(client, db, world):
    sign_in(client, "chenxiaokai")
    sid = world["heshuhuan"].id
    edit = _manage(world, f"/students/{sid}/edit")
    assert post_form(client, edit, {"student_number": "21"}).status_code == 303
    # A blank field is a field not sent: the number stays.
    saved = post_form(client, edit, {"student_number": "", "real_name": "何书桓"})
    assert saved.status_code == 303
    assert _in_class(db, world, "heshuhuan").student_number == "21"
    too_long = post_form(client, edit, {"student_number": "1" * 65})
    assert too_long.status_code == 400 and UNREADABLE in too_long.text
    assert _in_class(db, world, "heshuhuan").student_number == "21"


def test_adding_without_a_student_or_with_a_long_name(client, db, world):
    sign_in(client, "chenxiaokai")
    missing = post_form(client, _manage(world, "/students/add-parked"))
    assert missing.status_code == 400 and UNREADABLE in missing.text
    long_name = post_form(client, _manage(world, "/students/add"), {"real_name": "长" * 65})
    assert long_name.status_code == 400 and UNREADABLE in long_name.text
    # What was typed is shown again with the reason.
    blank = post_form(client, _manage(world, "/students/add"), {"username": "newkid01"})
    assert blank.status_code == 400 and 'value="newkid01"' in blank.text


def test_a_position_name_too_long_or_a_decision_unknown(client, db, world):
    sign_in(client, "chenxiaokai")
    long_name = post_form(client, _manage(world, "/positions"), {"name": "长" * 65})
    assert long_name.status_code == 400 and UNREADABLE in long_name.text
    db.expire_all()
    assert (
        db.scalar(select(CadrePosition).where(CadrePosition.class_id == world.class51.id)) is None
    )
    unknown = post_form(client, _manage(world, "/requests/1"), {"decision": "maybe"})
    assert unknown.status_code == 400 and UNREADABLE in unknown.text


def test_a_join_request_too_long_is_not_sent(client, db, world):
    sign_in(client, "p_lidaniang")
    code = world.class51.class_code
    long_message = post_form(
        client, "/join", {"code": code, "role": "parent", "message": "长" * 201}
    )
    assert long_message.status_code == 400 and UNREADABLE in long_message.text
    db.expire_all()
    assert (
        db.scalar(select(JoinRequest).where(JoinRequest.user_id == world["p_lidaniang"].id)) is None
    )

"""One implementation per state change: every way in writes the same audit action and notices.

Removing a student from a class (校区存放), moving them (换班) and ending their school membership
(移出学校) are each done by `classes.enrolment`; the school console, the homeroom teacher's class
page and phone page and the roster import all call it. Each test does the act through one way in
and reads back, after expiring the session, what that act wrote.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from campusid.accounts.models import SchoolMembership, SchoolRole
from campusid.audit.models import AuditEvent
from campusid.classes.models import ClassStudent
from campusid.messaging.models import Notice
from campusid.roster.service import COLUMNS
from tests.support.http import post_form, sign_in
from tests.support.schools import import_roster, xlsx

STUDENT = "lixiaoyao"  # in 五年级1班, with a linked parent
PARENT = "p_lidaniang"


def _marks(db) -> tuple[int, int]:
    """The last audit row and notice before the act."""
    return (
        db.scalar(select(func.coalesce(func.max(AuditEvent.id), 0))),
        db.scalar(select(func.coalesce(func.max(Notice.id), 0))),
    )


def _written(db, marks, world) -> tuple[list[str], set[tuple[str, str, str]]]:
    """The audit actions on the student and the notices the act wrote, read back fresh."""
    db.expire_all()
    audit_mark, notice_mark = marks
    actions = list(
        db.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.id > audit_mark, AuditEvent.target_user_id == world[STUDENT].id)
            .order_by(AuditEvent.id)
        )
    )
    names = {world[STUDENT].id: STUDENT, world[PARENT].id: PARENT}
    notices = {
        (names.get(user_id, str(user_id)), kind, title)
        for user_id, kind, title in db.execute(
            select(Notice.user_id, Notice.kind, Notice.title).where(Notice.id > notice_mark)
        )
    }
    return actions, notices


def _place(db, world) -> int | None:
    db.expire_all()
    return db.scalar(
        select(ClassStudent.class_id).where(ClassStudent.student_id == world[STUDENT].id)
    )


def _student_membership(db, world) -> SchoolMembership:
    db.expire_all()
    membership = db.scalar(
        select(SchoolMembership).where(
            SchoolMembership.user_id == world[STUDENT].id,
            SchoolMembership.role == SchoolRole.STUDENT,
        )
    )
    assert membership is not None
    return membership


def _import(client, world, rows):
    data = xlsx([[cells.get(c, "") for c in COLUMNS] for cells in rows])
    return import_roster(client, world.school.id, data)


# --- remove from a class (校区存放) -----------------------------------------------------------

REMOVED_NOTICES = {
    (STUDENT, "class_removed", "您已退出班级"),
    (PARENT, "class_removed", "孩子已退出班级"),
}


def _remove_by_console(client, world):
    sign_in(client, "xx_admin")
    sid = world[STUDENT].id
    return lambda: post_form(client, f"/school/{world.school.id}/members/{sid}/remove-from-class")


def _remove_by_class_page(client, world):
    sign_in(client, "chenxiaokai")
    sid = world[STUDENT].id
    return lambda: post_form(
        client, f"/classes/{world.class51.id}/manage/students/remove", {"student_ids": [sid]}
    )


def _remove_by_phone_page(client, world):
    sign_in(client, "chenxiaokai")
    sid = world[STUDENT].id
    return lambda: post_form(client, f"/m/classes/{world.class51.id}/students/{sid}/remove")


@pytest.mark.parametrize(
    "way_in", [_remove_by_console, _remove_by_class_page, _remove_by_phone_page]
)
def test_remove_from_class_is_one_action_with_the_same_notices(client, db, world, way_in):
    act = way_in(client, world)
    marks = _marks(db)
    assert act().status_code == 303
    actions, notices = _written(db, marks, world)
    assert actions == ["class_student_removed"]
    assert notices == REMOVED_NOTICES
    assert _place(db, world) is None
    membership = _student_membership(db, world)
    assert membership.active and membership.campus_id == world.class51.campus_id
    # The console's own duplicate action is gone.
    assert not db.scalar(
        select(AuditEvent.id).where(AuditEvent.action == "student_removed_from_class")
    )


# --- move (换班) -----------------------------------------------------------------------------

MOVED_NOTICES = {
    (STUDENT, "class_moved", "您的班级已变更"),
    (PARENT, "class_moved", "孩子的班级已变更"),
}


def _move_by_console(client, world):
    sign_in(client, "xx_admin")
    sid = world[STUDENT].id
    return lambda: post_form(
        client, f"/school/{world.school.id}/members/{sid}/move", {"class_id": world.class52.id}
    )


def _move_by_import(client, world):
    sign_in(client, "xx_admin")
    row = {"操作": "换班", "账号": STUDENT, "姓名": "李逍遥", "班级": "五年级2班", "学号": "21"}
    return lambda: _import(client, world, [row])


@pytest.mark.parametrize("way_in", [_move_by_console, _move_by_import])
def test_move_is_one_action_with_the_same_notices(client, db, world, way_in):
    act = way_in(client, world)
    marks = _marks(db)
    response = act()
    assert response.status_code in (200, 303), response.text[:500]
    actions, notices = _written(db, marks, world)
    assert actions == ["student_moved"]
    assert notices == MOVED_NOTICES
    assert _place(db, world) == world.class52.id
    assert _student_membership(db, world).campus_id is None


def test_a_move_out_of_the_campus_is_the_same_act(client, db, world):
    """分班 out of 校区存放 (no class to move from) is a move too, with its notices."""
    sign_in(client, "xx_admin")
    sid = world[STUDENT].id
    post_form(client, f"/school/{world.school.id}/members/{sid}/remove-from-class")
    assert _place(db, world) is None
    marks = _marks(db)
    response = post_form(
        client, f"/school/{world.school.id}/members/{sid}/move", {"class_id": world.class52.id}
    )
    assert response.status_code == 303
    actions, notices = _written(db, marks, world)
    assert actions == ["student_moved"] and notices == MOVED_NOTICES
    assert _place(db, world) == world.class52.id
    assert _student_membership(db, world).campus_id is None


# --- leave the school (移出学校) --------------------------------------------------------------


def test_leave_school_is_one_action_with_the_student_and_parents_told(client, db, world):
    sign_in(client, "xx_admin")
    marks = _marks(db)
    sid = world[STUDENT].id
    assert post_form(client, f"/school/{world.school.id}/members/{sid}/leave").status_code == 303
    actions, notices = _written(db, marks, world)
    assert actions == ["member_left_school"]
    assert notices == {
        (STUDENT, "school_left", "您已离开学校"),
        (PARENT, "school_left", "孩子已离开学校"),
    }
    assert _place(db, world) is None
    membership = _student_membership(db, world)
    assert not membership.active and membership.left_at is not None

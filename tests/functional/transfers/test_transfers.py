"""Issue 16: no school takes over another school's child or an adult; 转学申请 instead.

Over HTTP as the administrators would do it; every outcome is read back from the database after
`db.expire_all()`.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from campusid.accounts import service as accounts
from campusid.accounts.models import SchoolMembership, SchoolRole, User
from campusid.audit.models import AuditEvent
from campusid.classes.models import ClassStudent
from campusid.families.models import ParentLink
from campusid.messaging.models import Notice
from campusid.transfers.models import TransferRequest, TransferStatus
from tests.support.http import post_form, sign_in
from tests.support.schools import id_card, other_school

ELSEWHERE = "该学生已在其他学校就读，不能直接加入本校"
ADULT = "该账号属于成年人"
CHILD = "该账号属于学生或未满18周岁的孩子"
MISMATCH = "身份证号已被其他姓名的账号使用，请核对"
THROTTLED = "尝试次数过多，请稍后再试。"


@pytest.fixture
def second(db, services, world):
    """另一所学校 (yy_admin) and its class."""
    school, _admin, school_class = other_school(db, services)
    return school, school_class


def _memberships(db, user_id: int) -> dict[tuple[int, str], bool]:
    db.expire_all()
    return {
        (m.school_id, m.role.value): m.active
        for m in db.scalars(select(SchoolMembership).where(SchoolMembership.user_id == user_id))
    }


def _class_ids(db, user_id: int) -> set[int]:
    db.expire_all()
    return set(db.scalars(select(ClassStudent.class_id).where(ClassStudent.student_id == user_id)))


def _attach_refusals(services) -> list[tuple[int | None, str]]:
    """The refused attaches on record, read from a session of its own: the refused requests
    were rolled back, and only the audit events `Refused.keep` carried were written after."""
    with services.session_factory() as fresh:
        return [
            (e.school_id, e.detail["reason"])
            for e in fresh.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "member_attach_refused")
                .order_by(AuditEvent.id)
            )
        ]


def _reset(client, class_id: int, student_id: int):
    return post_form(
        client, f"/classes/{class_id}/manage/students/reset", {"student_ids": [student_id]}
    )


def _add_lixiaoyao(client, school_id: int, class_id: int, world, **changes):
    student = world["lixiaoyao"]
    form = {
        "class_id": class_id,
        "real_name": student.real_name,
        "id_card_number": student.id_card_number,
    } | changes
    return post_form(client, f"/school/{school_id}/members/add", form)


def _file(client, school_id: int, class_id: int, world):
    student = world["lixiaoyao"]
    return post_form(
        client,
        f"/school/{school_id}/transfers",
        {
            "class_id": class_id,
            "real_name": student.real_name,
            "id_card_number": student.id_card_number,
            "student_number": "07",
        },
    )


# --------------------------------------------------------------------------- the takeover


def test_another_school_cannot_attach_a_pupil_it_names(client, db, world, second, services):
    school2, class2 = second
    student = world["lixiaoyao"]
    before = db.get(User, student.id).password_hash
    sign_in(client, "yy_admin")
    answer = _add_lixiaoyao(client, school2.id, class2.id, world)
    assert answer.status_code == 400
    assert ELSEWHERE in answer.text and "提交转学申请" in answer.text
    # Nothing attached, so nothing to reset: her own class and school keep her.
    assert _memberships(db, student.id) == {(world.school.id, "student"): True}
    assert _class_ids(db, student.id) == {world.class51.id}
    assert _reset(client, class2.id, student.id).status_code == 403
    assert _reset(client, world.class51.id, student.id).status_code == 403
    db.expire_all()
    assert db.get(User, student.id).password_hash == before
    # Her homeroom teacher still may.
    sign_in(client, "chenxiaokai")
    assert _reset(client, world.class51.id, student.id).status_code == 200
    assert _attach_refusals(services) == [(school2.id, "student_elsewhere")]


def test_a_pupil_attached_twice_is_reset_by_no_school(client, db, world, second, services):
    """Data from before the rule: 李逍遥 attached to 另一所学校 and placed in its class (the
    issue's takeover). Neither school has authority over her credentials any more."""
    school2, class2 = second
    student = world["lixiaoyao"]
    now = services.clock.now()
    accounts.join_school(db, user=student, school_id=school2.id, role=SchoolRole.STUDENT, now=now)
    db.add(ClassStudent(class_id=class2.id, student_id=student.id, joined_at=now))
    db.commit()
    sign_in(client, "yy_admin")
    assert _reset(client, class2.id, student.id).status_code == 403
    sign_in(client, "chenxiaokai")
    assert _reset(client, world.class51.id, student.id).status_code == 403


def test_an_administrator_cannot_make_a_parent_a_student(client, db, world):
    zhou = world["p_zhoujia"]
    before = db.get(User, zhou.id).password_hash
    sign_in(client, "xx_admin")
    answer = post_form(
        client,
        f"/school/{world.school.id}/members/add",
        {"class_id": world.class51.id, "real_name": "周家长", "phone": "13900000015"},
    )
    assert answer.status_code == 400 and ADULT in answer.text
    assert "提交转学申请" not in answer.text
    assert _memberships(db, zhou.id) == {}
    assert _class_ids(db, zhou.id) == set()
    assert _reset(client, world.class51.id, zhou.id).status_code == 403
    db.expire_all()
    assert db.get(User, zhou.id).password_hash == before


def test_an_adult_by_id_card_is_never_made_a_student(client, db, world, services):
    grown = id_card(birth="19900101", seq="517")
    adult = accounts.new_user(
        db, username="chengnian", real_name="成年人", now=services.clock.now(), id_card_number=grown
    )
    db.commit()
    sign_in(client, "xx_admin")
    answer = post_form(
        client,
        f"/school/{world.school.id}/members/add",
        {"class_id": world.class51.id, "real_name": "成年人", "id_card_number": grown},
    )
    assert answer.status_code == 400 and ADULT in answer.text
    assert _memberships(db, adult.id) == {}


def test_a_child_is_never_made_a_teacher_or_parent(client, db, world, services):
    young = id_card(birth="20160505", seq="218")
    child = accounts.new_user(
        db,
        username="xiaohai",
        real_name="小孩子",
        now=services.clock.now(),
        id_card_number=young,
        phone="13700000077",
    )
    db.commit()
    sign_in(client, "xx_admin")
    as_teacher = post_form(
        client,
        f"/school/{world.school.id}/teachers/add",
        {"real_name": "小孩子", "phone": "13700000077"},
    )
    assert as_teacher.status_code == 400 and CHILD in as_teacher.text
    as_parent = post_form(
        client,
        f"/school/{world.school.id}/members/{world['lixiaoyao'].id}/parents",
        {"parent_name": "小孩子", "parent_phone": "13700000077", "relation": "other"},
    )
    assert as_parent.status_code == 400 and CHILD in as_parent.text
    # A pupil (李逍遥, by ID card) is not made a teacher of her own school either.
    pupil = world["lixiaoyao"]
    as_teacher = post_form(
        client,
        f"/school/{world.school.id}/teachers/add",
        {
            "real_name": pupil.real_name,
            "phone": "13700000078",
            "id_card_number": pupil.id_card_number,
        },
    )
    assert as_teacher.status_code == 400 and CHILD in as_teacher.text
    assert _memberships(db, child.id) == {}
    assert _memberships(db, pupil.id) == {(world.school.id, "student"): True}
    db.expire_all()
    assert db.scalar(select(ParentLink).where(ParentLink.parent_id == child.id)) is None


def test_a_mismatch_answers_as_before_and_attempts_are_limited(client, db, world, second, services):
    school2, class2 = second
    sign_in(client, "yy_admin")
    for _ in range(5):
        wrong = _add_lixiaoyao(client, school2.id, class2.id, world, real_name="王某某")
        assert wrong.status_code == 400 and MISMATCH in wrong.text
        assert "提交转学申请" not in wrong.text
    # The identifier's attempts are used up: even the right name is no longer looked up.
    right = _add_lixiaoyao(client, school2.id, class2.id, world)
    assert right.status_code == 400 and THROTTLED in right.text and ELSEWHERE not in right.text
    assert _file(client, school2.id, class2.id, world).status_code == 400
    db.expire_all()
    assert db.scalar(select(TransferRequest)) is None
    # Every refused attempt is audited, the throttled ones too, though the requests wrote nothing.
    reasons = [
        reason for school_id, reason in _attach_refusals(services) if school_id == school2.id
    ]
    assert reasons[-2:] == ["throttled", "throttled"]
    assert len(reasons) == 7


# --------------------------------------------------------------------------- transfers


def _filed(client, db, world, second) -> TransferRequest:
    school2, class2 = second
    sign_in(client, "yy_admin")
    response = _file(client, school2.id, class2.id, world)
    assert response.status_code == 303, response.text[:2000]
    page = client.get(response.headers["location"]).text
    assert "转学申请已提交，待对方学校确认。" in page and "李逍遥" in page
    # The sending school is not named to the receiving school before it agrees.
    assert world.school.name not in page
    db.expire_all()
    request = db.scalar(select(TransferRequest))
    assert request is not None and request.status is TransferStatus.PENDING
    assert (request.from_school_id, request.to_school_id) == (world.school.id, school2.id)
    # Filing twice is not a second request.
    again = _file(client, school2.id, class2.id, world)
    assert again.status_code == 400 and "已提交过该学生的转学申请" in again.text
    return request


def test_a_transfer_approved_moves_the_student_and_nothing_else(client, db, world, second):
    school2, class2 = second
    student = world["lixiaoyao"]
    before = db.get(User, student.id).password_hash
    parents_before = set(
        db.scalars(select(ParentLink.parent_id).where(ParentLink.child_id == student.id))
    )
    request = _filed(client, db, world, second)
    # The receiving school cannot decide its own request.
    assert (
        post_form(client, f"/school/{school2.id}/transfers/{request.id}/approve").status_code == 404
    )
    assert (
        post_form(client, f"/school/{world.school.id}/transfers/{request.id}/approve").status_code
        == 403
    )
    sign_in(client, "xx_admin")
    listed = client.get(f"/school/{world.school.id}/transfers").text
    assert "李逍遥" in listed and school2.name in listed and "同意转出" in listed
    done = post_form(client, f"/school/{world.school.id}/transfers/{request.id}/approve")
    assert done.status_code == 303
    db.expire_all()
    assert db.get(TransferRequest, request.id).status is TransferStatus.APPROVED
    # The membership moved (the old one ended, kept as history), into the class asked for.
    assert _memberships(db, student.id) == {
        (world.school.id, "student"): False,
        (school2.id, "student"): True,
    }
    assert _class_ids(db, student.id) == {class2.id}
    number = db.scalar(
        select(ClassStudent.student_number).where(ClassStudent.student_id == student.id)
    )
    assert number == "07"
    # Password and parent links untouched.
    assert db.get(User, student.id).password_hash == before
    assert (
        set(db.scalars(select(ParentLink.parent_id).where(ParentLink.child_id == student.id)))
        == parents_before
    )
    # Both schools audited; the family told.
    events = db.scalars(select(AuditEvent).where(AuditEvent.action == "transfer_approved")).all()
    assert {e.school_id for e in events} == {world.school.id, school2.id}
    told = set(db.scalars(select(Notice.user_id).where(Notice.kind == "transfer_approved")))
    assert {student.id, *parents_before} <= told
    # The old homeroom teacher lost authority; the new school has it.
    sign_in(client, "chenxiaokai")
    assert _reset(client, world.class51.id, student.id).status_code == 403
    sign_in(client, "xx_admin")
    assert _reset(client, world.class51.id, student.id).status_code == 403
    sign_in(client, "yy_admin")
    assert _reset(client, class2.id, student.id).status_code == 200
    assert "原学校" in client.get(f"/school/{school2.id}/transfers").text


def test_a_transfer_refused_leaves_the_student_where_they_are(client, db, world, second):
    school2, _class2 = second
    student = world["lixiaoyao"]
    request = _filed(client, db, world, second)
    sign_in(client, "xx_admin")
    done = post_form(client, f"/school/{world.school.id}/transfers/{request.id}/refuse")
    assert done.status_code == 303
    db.expire_all()
    assert db.get(TransferRequest, request.id).status is TransferStatus.REFUSED
    assert _memberships(db, student.id) == {(world.school.id, "student"): True}
    assert _class_ids(db, student.id) == {world.class51.id}
    events = db.scalars(select(AuditEvent).where(AuditEvent.action == "transfer_refused")).all()
    assert {e.school_id for e in events} == {world.school.id, school2.id}
    # Decided once.
    again = post_form(client, f"/school/{world.school.id}/transfers/{request.id}/approve")
    assert again.status_code == 400
    sign_in(client, "chenxiaokai")
    assert _reset(client, world.class51.id, student.id).status_code == 200


def test_a_linked_parent_approves_where_the_region_allows(client, db, world, second, services):
    _school2, class2 = second
    student = world["lixiaoyao"]
    request = _filed(client, db, world, second)
    sign_in(client, "p_lidaniang")
    assert client.get("/me/transfers").status_code == 404
    assert post_form(client, f"/me/transfers/{request.id}/approve").status_code == 404
    services.settings.transfers_parent_may_approve = True
    assert "李逍遥" in client.get("/me/transfers").text
    sign_in(client, "p_zhoujia")  # a parent of someone else's child
    assert post_form(client, f"/me/transfers/{request.id}/approve").status_code == 403
    sign_in(client, "p_lidaniang")
    assert post_form(client, f"/me/transfers/{request.id}/approve").status_code == 303
    db.expire_all()
    decided = db.get(TransferRequest, request.id)
    assert decided.status is TransferStatus.APPROVED and decided.decided_as == "parent"
    assert _class_ids(db, student.id) == {class2.id}

"""通过关联信息找回学生密码: name, ID card number and school; a parent's phone or the teacher."""

from __future__ import annotations

import re

from sqlalchemy import select

from campusid.audit.models import AuditEvent
from campusid.classes import enrolment
from campusid.classes.models import ClassStudent
from campusid.families import service as families
from campusid.families.models import Relation
from campusid.messaging.models import Notice
from campusid.org import service as org
from campusid.recovery.models import ApprovalStatus, FlowStep, TeacherRecoveryRequest
from tests.support.http import post_form, sign_in
from tests.support.recovery import (
    NEW_PASSWORD,
    flow_of,
    last_code,
    messages_to,
    normalised,
    request_code,
    set_new_password,
    solve_captcha,
    verify,
)

MOTHER_PHONE = "13900000011"  # 李大娘, mother of 李逍遥


def _identify(client, world, username="lixiaoyao", name=None, id_card=None, school_id=None):  # type: ignore[no-untyped-def]
    student = world[username]
    return post_form(
        client,
        "/recovery/student",
        {
            "name": name or student.real_name,
            "id_card_number": id_card or student.id_card_number,
            "school_id": str(school_id or world.school.id),
        },
    )


def _options(page: str) -> list[str]:
    return re.findall(r'name="parent" value="\d+"[^>]*> ([^<]+)</label>', page)


def test_school_is_chosen_from_a_search(client, world):
    page = client.get("/recovery?way=relation").text
    for words in ("学生姓名", "身份证号", "学校", "输入学校名称搜索"):
        assert words in page
    found = client.get(
        "/recovery/schools", params={"school_q": "之江"}, headers={"HX-Request": "true"}
    )
    assert "之江汇学校" in found.text
    assert f'value="{world.school.id}"' in found.text
    assert "没有找到该学校" in client.get("/recovery/schools", params={"school_q": "不存在"}).text
    # Without script, the search reloads the page with the choices.
    assert (
        "之江汇学校"
        in client.get("/recovery", params={"way": "relation", "school_q": "之江汇"}).text
    )


def test_parent_phone_way_end_to_end(client, make_client, db, world, services):
    student, mother = world["lixiaoyao"], world["p_lidaniang"]
    elsewhere = make_client()
    sign_in(elsewhere, "lixiaoyao")

    response = _identify(client, world)
    assert response.status_code == 303
    page = client.get(response.headers["location"]).text
    assert "之江汇学校" in page
    assert _options(page) == ["母亲 139****0011"]
    assert MOTHER_PHONE not in page
    assert student.id_card_number not in page

    sent = request_code(client, db, services, way="relation", parent="0")
    assert sent.status_code == 200
    assert "验证码已发送至所选家长手机" in sent.text
    message = messages_to(db, MOTHER_PHONE)[-1]
    assert message.template == "child_recovery_code"
    assert "李逍遥" in message.body

    assert verify(client, last_code(db, MOTHER_PHONE), way="relation").status_code == 303
    assert "完成" in set_new_password(client).text
    assert elsewhere.get("/").status_code == 303
    sign_in(client, "lixiaoyao", NEW_PASSWORD)

    db.expire_all()
    parent_notice = db.scalar(select(Notice).where(Notice.user_id == mother.id))
    assert parent_notice is not None and "李逍遥" in parent_notice.body
    assert db.scalar(select(Notice).where(Notice.user_id == student.id)) is not None
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "password_reset"))
    assert event.route == "self-service"
    assert event.detail == {"method": "parent"}
    assert event.school_id == world.school.id


def test_the_parent_is_chosen_when_there_are_several(client, db, world, services):
    father = world["p_zhoujia"]
    families.link(
        db,
        parent=father,
        child=world["lixiaoyao"],
        relation=Relation.FATHER,
        now=services.clock.now(),
    )
    db.commit()
    _identify(client, world)
    page = client.get("/recovery?way=relation").text
    assert _options(page) == ["母亲 139****0011", "父亲 139****0015"]
    assert "请选择接收验证码的家长手机" in request_code(client, db, services, way="relation").text
    request_code(client, db, services, way="relation", parent="1")
    assert messages_to(db, "13900000015")
    assert messages_to(db, MOTHER_PHONE) == []


def test_unknown_students_look_the_same_and_nobody_gets_a_message(make_client, db, world, services):
    cases = {
        "real": {},
        "wrong name": {"name": "李逍"},
        "other school's student": {"school_id": 999_999},
    }
    # A school that exists but where the student is not.
    other = org.create_school(
        db,
        name="柯桥实验小学",
        district=None,
        default_password="Zjh13579",
        hasher=services.hasher,
        now=services.clock.now(),
    )
    db.commit()
    cases["other school's student"] = {"school_id": other.id}
    answers, options = {}, {}
    for name, overrides in cases.items():
        browser = make_client()
        assert _identify(browser, world, **overrides).status_code == 303
        page = browser.get("/recovery?way=relation").text
        options[name] = _options(page)
        # Decoys are stable: the same typed data shows the same list again.
        again = make_client()
        _identify(again, world, **overrides)
        assert _options(again.get("/recovery?way=relation").text) == options[name]
        if options[name]:
            response = request_code(browser, db, services, way="relation", parent="0")
            answers[name] = response.status_code, "验证码已发送至所选家长手机" in response.text
    assert all(
        re.fullmatch(r"(父亲|母亲) 1\d\d\*{4}\d{4}", o) for opts in options.values() for o in opts
    )
    assert set(answers.values()) == {(200, True)}
    assert len(messages_to(db, MOTHER_PHONE)) == 1


def test_the_htmx_answer_to_send_is_identical_for_decoys(make_client, db, world, services):
    # 魏璎珞 gets a parent so the real case has one option; pick typed data whose decoy list
    # is not empty.
    families.link(
        db,
        parent=world["p_zhoujia"],
        child=world["weiyingluo"],
        relation=Relation.FATHER,
        now=services.clock.now(),
    )
    db.commit()
    answers = []
    for name in ("魏璎珞", "魏璎", "魏", "璎珞", "魏小珞"):
        browser = make_client()
        _identify(browser, world, username="weiyingluo", name=name)
        if not _options(browser.get("/recovery?way=relation").text):
            continue
        response = post_form(
            browser,
            "/recovery/code",
            {"way": "relation", "parent": "0", "captcha": solve_captcha(browser, db, services)},
            headers={"HX-Request": "true"},
        )
        answers.append(normalised(response.text))
    assert len(answers) >= 2
    assert len(set(answers)) == 1
    assert len(messages_to(db, "13900000015")) == 1


def test_format_and_missing_fields_are_told(client, world):
    assert "身份证号" in _identify(client, world, id_card="330603").text
    response = post_form(
        client,
        "/recovery/student",
        {"name": "李逍遥", "id_card_number": world["lixiaoyao"].id_card_number},
    )
    assert response.status_code == 400
    assert "请选择学校" in response.text
    assert "请输入学生姓名" in _identify(client, world, name=" ").text


def test_limit_per_id_number(make_client, db, world, services):
    limit = services.settings.recovery_id_number_limit
    for _ in range(limit):
        assert _identify(make_client(), world, name="某某").status_code == 303
    over = _identify(make_client(), world)
    assert over.status_code == 400
    assert "操作过于频繁" in over.text
    assert _identify(make_client(), world, username="heshuhuan").status_code == 303


def test_sending_needs_the_student_step_first(client, db, world, services):
    response = request_code(client, db, services, way="relation", parent="0")
    assert "请先填写学生信息" in response.text


# --------------------------------------------------------------------------- the teacher way


def _allow_teacher_recovery(db, world):  # type: ignore[no-untyped-def]
    world.school.allow_teacher_recovery = True
    db.commit()


def _ask_teacher(client, db, services):  # type: ignore[no-untyped-def]
    return post_form(client, "/recovery/teacher", {"captcha": solve_captcha(client, db, services)})


def test_teacher_way_is_offered_only_where_the_school_allows(client, db, world, services):
    _identify(client, world, username="weiyingluo")
    page = client.get("/recovery?way=relation").text
    assert "申请班主任审核" not in page
    assert "该学校未开通班主任审核" in _ask_teacher(client, db, services).text
    assert db.scalar(select(TeacherRecoveryRequest)) is None


def test_teacher_way_end_to_end(client, make_client, db, world, services):
    _allow_teacher_recovery(db, world)
    student = world["weiyingluo"]  # no parent linked
    _identify(client, world, username="weiyingluo")
    page = client.get("/recovery?way=relation").text
    assert "没有可接收验证码的家长手机" in page
    assert "申请班主任审核" in page

    asked = _ask_teacher(client, db, services)
    assert asked.status_code == 303
    waiting = client.get("/recovery").text
    assert "请等待班主任审核" in waiting
    # Before the approval the last step stays shut.
    assert set_new_password(client).status_code == 403

    db.expire_all()
    notice = db.scalar(select(Notice).where(Notice.user_id == world["chenxiaokai"].id))
    assert notice is not None and "魏璎珞" in notice.body

    # Neither another class's homeroom teacher nor a subject teacher may decide.
    other = make_client()
    sign_in(other, "sunbanzhu")
    assert "魏璎珞" not in other.get("/recovery/approvals").text
    request_id = db.scalar(select(TeacherRecoveryRequest.id))
    assert post_form(other, f"/recovery/approvals/{request_id}/approve").status_code == 404
    math = make_client()
    sign_in(math, "zhaoshuxue")
    assert math.get("/recovery/approvals").status_code == 403
    assert post_form(math, f"/recovery/approvals/{request_id}/approve").status_code == 403

    teacher = make_client()
    sign_in(teacher, "chenxiaokai")
    listing = teacher.get("/recovery/approvals").text
    assert "魏璎珞" in listing and "五年级1班" in listing
    approved = post_form(teacher, f"/recovery/approvals/{request_id}/approve")
    assert approved.status_code == 303
    assert "魏璎珞" not in teacher.get("/recovery/approvals").text

    # The student, in the same browser, now sets the new password.
    assert "设置新密码" in client.get("/recovery").text
    assert "完成" in set_new_password(client).text
    sign_in(make_client(), "weiyingluo", NEW_PASSWORD)
    db.expire_all()
    actions = [
        (e.action, e.actor_id, e.detail.get("method"))
        for e in db.scalars(
            select(AuditEvent)
            .where(AuditEvent.target_user_id == student.id)
            .order_by(AuditEvent.id)
        )
    ]
    assert ("recovery_approved", world["chenxiaokai"].id, "teacher") in actions
    assert ("password_reset", student.id, "teacher") in actions
    # Another browser got nothing from the approval.
    assert set_new_password(make_client()).status_code == 403


def test_a_refused_request_ends_the_flow(client, make_client, db, world, services):
    _allow_teacher_recovery(db, world)
    _identify(client, world, username="weiyingluo")
    _ask_teacher(client, db, services)
    request_id = db.scalar(select(TeacherRecoveryRequest.id))
    teacher = make_client()
    sign_in(teacher, "chenxiaokai")
    assert post_form(teacher, f"/recovery/approvals/{request_id}/refuse").status_code == 303
    db.expire_all()
    assert db.get(TeacherRecoveryRequest, request_id).status is ApprovalStatus.REFUSED
    assert set_new_password(client).status_code == 403
    assert "请等待班主任审核" not in client.get("/recovery").text
    # Deciding twice is not possible.
    assert post_form(teacher, f"/recovery/approvals/{request_id}/approve").status_code == 404


def test_an_unknown_student_gets_the_same_answer_and_no_request(client, db, world, services):
    _allow_teacher_recovery(db, world)
    _identify(client, world, username="weiyingluo", name="魏某某")
    assert _ask_teacher(client, db, services).status_code == 303
    assert "请等待班主任审核" in client.get("/recovery").text
    assert db.scalar(select(TeacherRecoveryRequest)) is None


def test_a_student_who_left_the_class_cannot_be_approved_by_its_teacher(
    client, make_client, db, world, services
):
    _allow_teacher_recovery(db, world)
    _identify(client, world, username="weiyingluo")
    _ask_teacher(client, db, services)
    request_id = db.scalar(select(TeacherRecoveryRequest.id))
    # The student moves to 五年级2班 before the teacher acts.
    db.execute(
        ClassStudent.__table__.delete().where(ClassStudent.student_id == world["weiyingluo"].id)
    )
    clock_now = services.clock.now()
    enrolment.enrol(db, school_class=world.class52, student=world["weiyingluo"], now=clock_now)
    db.commit()
    teacher = make_client()
    sign_in(teacher, "chenxiaokai")
    assert "魏璎珞" not in teacher.get("/recovery/approvals").text
    assert post_form(teacher, f"/recovery/approvals/{request_id}/approve").status_code == 404


def test_requests_expire(client, make_client, db, world, services, clock):
    _allow_teacher_recovery(db, world)
    _identify(client, world, username="weiyingluo")
    _ask_teacher(client, db, services)
    request_id = db.scalar(select(TeacherRecoveryRequest.id))
    clock.advance(hours=73)
    teacher = make_client()
    sign_in(teacher, "chenxiaokai")
    assert post_form(teacher, f"/recovery/approvals/{request_id}/approve").status_code == 404
    assert flow_of(client, db).step is FlowStep.AWAITING_APPROVAL  # and expired: a new flow next
    assert "请等待班主任审核" not in client.get("/recovery").text


def test_restart_gives_up_the_request(client, make_client, db, world, services):
    _allow_teacher_recovery(db, world)
    _identify(client, world, username="weiyingluo")
    _ask_teacher(client, db, services)
    assert post_form(client, "/recovery/restart", {"way": "relation"}).status_code == 303
    db.expire_all()
    assert db.scalar(select(TeacherRecoveryRequest.status)) is ApprovalStatus.WITHDRAWN
    assert "请等待班主任审核" not in client.get("/recovery").text

"""The app's 班级 screens as phone pages: a class, its members, a student's 个人信息."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response
from pydantic import BaseModel, Field

from campusid.audit.actions import AuditAction
from campusid.classes import members
from campusid.classes import service as classes
from campusid.classes.views.page import MobileClass, MobilePostedClass, Person
from campusid.i18n import N_, Text
from campusid.resets import service as resets
from campusid.security import authz
from campusid.web import Id, NotFound

router = APIRouter(prefix="/m/classes")

CONFIRMS = {
    "reset": (N_("确定要重置%(name)s的密码吗？"), N_("重置密码")),
    "remove": (N_("确定要将%(name)s请出班级吗？"), N_("请出班级")),
}
# What each confirmation leads to: the act the rule is asked about, and its audit action.
CONFIRM_ACTS = {
    "reset": (authz.StudentAct.RESET_PASSWORD, AuditAction.PASSWORD_RESET),
    "remove": (authz.StudentAct.MANAGE, AuditAction.CLASS_STUDENT_REMOVED),
}


class MessageForm(BaseModel):
    """发消息's text."""

    text: str = Field("", max_length=1000)


@router.get("")
def class_list(page: Person) -> Response:
    """班级: the classes I teach."""
    return page.render("classes/m_classes.html", classes=page.taught_classes())


@router.get("/{class_id}")
def class_messages(page: MobileClass) -> Response:
    """A class, on its 消息 tab: what I wrote to its students, and join requests waiting."""
    return page.render(
        "classes/m_class.html",
        tab="messages",
        sent=members.sent_messages(
            page.db, principal=page.principal, school_class=page.school_class
        ),
        pending_count=page.pending_count() if page.manages else 0,
        manages=page.manages,
    )


@router.get("/{class_id}/members")
def class_members(page: MobileClass) -> Response:
    """The 成员 tab: teachers, students, parents."""
    school_class = page.school_class
    return page.render(
        "classes/m_class.html",
        tab="members",
        teachers=classes.teachers_of(page.db, school_class=school_class),
        members=classes.students_of(page.db, school_class=school_class),
        parents=classes.parents_of_class(page.db, school_class=school_class),
        flash=N_("已将学生请出班级") if page.request.query_params.get("msg") == "removed" else None,
        manages=page.manages,
    )


@router.get("/{class_id}/invite")
def invite(page: MobileClass) -> Response:
    """邀请成员: the class code and a join link to share."""
    base_url = str(page.request.base_url).rstrip("/")
    return page.render(
        "classes/m_invite.html", link=f"{base_url}/join?code={page.school_class.class_code}"
    )


@router.get("/{class_id}/students/{student_id}")
def student_page(page: MobileClass, student_id: Id) -> Response:
    """个人信息: name and 学生 tag, 账号, 学校, 班级; 重置密码, 请出班级, 发消息."""
    member = page.member(student_id)
    return page.render(
        "classes/m_student.html",
        member=member,
        may_act=page.may_act(student_id, authz.StudentAct.RESET_PASSWORD),
        hint=resets.mode_hint(page.school_class.school),
    )


@router.get("/{class_id}/students/{student_id}/message")
def message_page(page: MobileClass, student_id: Id) -> Response:
    """发消息."""
    return page.render("classes/m_send.html", member=page.member(student_id))


@router.get("/{class_id}/students/{student_id}/{action}")
def confirm(page: MobileClass, student_id: Id, action: str) -> Response:
    """The second confirmation before 重置密码 or 请出班级."""
    if action not in CONFIRMS:
        raise NotFound
    member = page.member(student_id)
    # The confirmation is no back door: whoever may not act is refused here already.
    act, audit_action = CONFIRM_ACTS[action]
    classes.authorize_students(
        page.db,
        principal=page.principal,
        school_class=page.school_class,
        student_ids=[student_id],
        act=act,
        action=audit_action,
        cal=page.calendar,
    )
    question, button = CONFIRMS[action]
    detail = (
        N_("%(hint)s，对方下次登录时须修改密码。", hint=resets.mode_hint(page.school_class.school))
        if action == "reset"
        else N_("学生将存放在本校区，账号和密码不受影响。")
    )
    return page.render(
        "classes/m_confirm.html",
        member=member,
        action=action,
        question=Text(question, name=member.student.real_name),
        detail=detail,
        button=button,
    )


@router.post("/{class_id}/students/{student_id}/reset")
def reset_submit(page: MobilePostedClass, student_id: Id) -> Response:
    """密码重置成功,新密码为: … with 知道了 and 复制密码 (this response only, never stored)."""
    (result,) = resets.reset_students(page.db, **page.acting, student_ids=[student_id])
    return page.render("classes/m_reset_done.html", result=result)


@router.post("/{class_id}/students/{student_id}/remove")
def remove_submit(page: MobilePostedClass, student_id: Id) -> Response:
    """请出班级 (the act asks the rule)."""
    members.remove_students(page.db, **page.acting, student_ids=[student_id])
    return page.go("/members", msg="removed")


@router.post("/{class_id}/students/{student_id}/message")
def message_submit(
    page: MobileClass, student_id: Id, form: Annotated[MessageForm, Form()]
) -> Response:
    """Send the message to the student's notices."""
    member = page.member(student_id)
    problems = members.send_message(
        page.db,
        services=page.services,
        principal=page.principal,
        school_class=page.school_class,
        student_id=student_id,
        text=form.text,
    )
    return page.render(
        "classes/m_send.html",
        status_code=400 if problems else 200,
        member=member,
        errors=problems,
        text=form.text if problems else "",
        sent=not problems,
    )

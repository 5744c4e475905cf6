"""The app's 班级 screens as phone pages: a class, its members, a student's 个人信息."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from campusid.audit.actions import AuditAction
from campusid.classes import joins, members
from campusid.classes import service as classes
from campusid.classes.models import ClassStudent
from campusid.i18n import N_, Text
from campusid.org.models import SchoolClass
from campusid.org.schoolyear import calendar_for
from campusid.resets import service as resets
from campusid.security import authz
from campusid.security.permissions import Principal
from campusid.web import (
    Client,
    CurrentPrincipal,
    DbSession,
    Id,
    NotFound,
    Svc,
    redirect,
    render,
)

router = APIRouter()


def _class(db: DbSession, principal: Principal, class_id: Id) -> SchoolClass:
    school_class = classes.visible_class(db, principal=principal, class_id=class_id)
    if school_class is None:
        raise NotFound
    return school_class


def _member(
    db: DbSession, principal: Principal, class_id: Id, student_id: Id
) -> tuple[SchoolClass, ClassStudent]:
    school_class = _class(db, principal, class_id)
    member = classes.member_of(db, school_class=school_class, student_id=student_id)
    if member is None:
        raise NotFound
    return school_class, member


def _may_act(
    db: DbSession,
    services: Svc,
    principal: Principal,
    school_class: SchoolClass,
    student_id: Id,
    act: authz.StudentAct,
) -> bool:
    """Whether to offer the act on the student from this class (the rule: authz.student_authority;
    the act itself checks again)."""
    authority = classes.authority_over_student(
        db,
        principal=principal,
        student_id=student_id,
        cal=calendar_for(services.settings, services.clock),
        act=act,
    )
    return (
        authority is not None
        and authority.school_class is not None
        and authority.school_class.id == school_class.id
    )


def _header(db: DbSession, services: Svc, school_class: SchoolClass) -> classes.ClassSummary:
    return classes.summarize(
        db, school_class=school_class, cal=calendar_for(services.settings, services.clock)
    )


@router.get("/m/classes")
def class_list(
    request: Request, db: DbSession, services: Svc, principal: CurrentPrincipal
) -> Response:
    """班级: the classes I teach."""
    cal = calendar_for(services.settings, services.clock)
    return render(
        request,
        "classes/m_classes.html",
        {"classes": classes.taught_classes(db, principal=principal, cal=cal)},
    )


@router.get("/m/classes/{class_id}")
def class_messages(
    request: Request, db: DbSession, services: Svc, principal: CurrentPrincipal, class_id: Id
) -> Response:
    """A class, on its 消息 tab: what I wrote to its students, and join requests waiting."""
    school_class = _class(db, principal, class_id)
    manages = authz.may_manage_class(principal, school_class.scope)
    return render(
        request,
        "classes/m_class.html",
        {
            "summary": _header(db, services, school_class),
            "tab": "messages",
            "sent": members.sent_messages(db, principal=principal, school_class=school_class),
            "pending_count": len(joins.pending_requests(db, school_class=school_class))
            if manages
            else 0,
        },
    )


@router.get("/m/classes/{class_id}/members")
def class_members(
    request: Request, db: DbSession, services: Svc, principal: CurrentPrincipal, class_id: Id
) -> Response:
    """The 成员 tab: teachers, students, parents."""
    school_class = _class(db, principal, class_id)
    return render(
        request,
        "classes/m_class.html",
        {
            "summary": _header(db, services, school_class),
            "tab": "members",
            "teachers": classes.teachers_of(db, school_class=school_class),
            "members": classes.students_of(db, school_class=school_class),
            "parents": classes.parents_of_class(db, school_class=school_class),
            "flash": N_("已将学生请出班级")
            if request.query_params.get("msg") == "removed"
            else None,
        },
    )


@router.get("/m/classes/{class_id}/invite")
def invite(
    request: Request, db: DbSession, services: Svc, principal: CurrentPrincipal, class_id: Id
) -> Response:
    """邀请成员: the class code and a join link to share."""
    school_class = _class(db, principal, class_id)
    link = f"{str(request.base_url).rstrip('/')}/join?code={school_class.class_code}"
    return render(
        request,
        "classes/m_invite.html",
        {"summary": _header(db, services, school_class), "link": link},
    )


@router.get("/m/classes/{class_id}/students/{student_id}")
def student_page(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    class_id: Id,
    student_id: Id,
) -> Response:
    """个人信息: name and 学生 tag, 账号, 学校, 班级; 重置密码, 请出班级, 发消息."""
    school_class, member = _member(db, principal, class_id, student_id)
    may_act = _may_act(
        db, services, principal, school_class, student_id, authz.StudentAct.RESET_PASSWORD
    )
    return render(
        request,
        "classes/m_student.html",
        {
            "summary": _header(db, services, school_class),
            "member": member,
            "may_act": may_act,
            "hint": resets.mode_hint(school_class.school),
        },
    )


@router.get("/m/classes/{class_id}/students/{student_id}/message")
def message_page(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    class_id: Id,
    student_id: Id,
) -> Response:
    """发消息."""
    school_class, member = _member(db, principal, class_id, student_id)
    return render(
        request,
        "classes/m_send.html",
        {"summary": _header(db, services, school_class), "member": member},
    )


CONFIRMS = {
    "reset": (N_("确定要重置%(name)s的密码吗?"), N_("重置密码")),
    "remove": (N_("确定要将%(name)s请出班级吗?"), N_("请出班级")),
}
# What each confirmation leads to: the act the rule is asked about, and its audit action.
CONFIRM_ACTS = {
    "reset": (authz.StudentAct.RESET_PASSWORD, AuditAction.PASSWORD_RESET),
    "remove": (authz.StudentAct.MANAGE, AuditAction.CLASS_STUDENT_REMOVED),
}


@router.get("/m/classes/{class_id}/students/{student_id}/{action}")
def confirm(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    class_id: Id,
    student_id: Id,
    action: str,
) -> Response:
    """The second confirmation before 重置密码 or 请出班级."""
    if action not in CONFIRMS:
        raise NotFound
    school_class, member = _member(db, principal, class_id, student_id)
    # The confirmation is no back door: whoever may not act is refused here already.
    act, audit_action = CONFIRM_ACTS[action]
    classes.authorize_students(
        db,
        principal=principal,
        school_class=school_class,
        student_ids=[student_id],
        act=act,
        action=audit_action,
        cal=calendar_for(services.settings, services.clock),
    )
    question, button = CONFIRMS[action]
    detail = (
        N_("%(hint)s,对方下次登录时须修改密码。", hint=resets.mode_hint(school_class.school))
        if action == "reset"
        else N_("学生将存放在本校区,账号和密码不受影响。")
    )
    return render(
        request,
        "classes/m_confirm.html",
        {
            "summary": _header(db, services, school_class),
            "member": member,
            "action": action,
            "question": Text(question, name=member.student.real_name),
            "detail": detail,
            "button": button,
        },
    )


@router.post("/m/classes/{class_id}/students/{student_id}/reset")
def reset_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
    class_id: Id,
    student_id: Id,
) -> Response:
    """密码重置成功,新密码为: … with 知道了 and 复制密码 (this response only, never stored)."""
    school_class = db.get(SchoolClass, class_id)
    if school_class is None:
        raise NotFound
    (result,) = resets.reset_students(
        db,
        services=services,
        principal=principal,
        school_class=school_class,
        student_ids=[student_id],
        client=client,
    )
    return render(
        request,
        "classes/m_reset_done.html",
        {"summary": _header(db, services, school_class), "result": result},
    )


@router.post("/m/classes/{class_id}/students/{student_id}/remove")
def remove_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
    class_id: Id,
    student_id: Id,
) -> Response:
    """请出班级."""
    school_class = db.get(SchoolClass, class_id)
    if school_class is None:
        raise NotFound
    members.remove_students(
        db,
        services=services,
        principal=principal,
        school_class=school_class,
        student_ids=[student_id],
        client=client,
    )
    return redirect(f"/m/classes/{class_id}/members?msg=removed")


@router.post("/m/classes/{class_id}/students/{student_id}/message")
def message_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    class_id: Id,
    student_id: Id,
    text: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Send the message to the student's notices."""
    school_class, member = _member(db, principal, class_id, student_id)
    problems = members.send_message(
        db,
        services=services,
        principal=principal,
        school_class=school_class,
        student_id=student_id,
        text=text,
    )
    return render(
        request,
        "classes/m_send.html",
        {
            "summary": _header(db, services, school_class),
            "member": member,
            "errors": problems,
            "text": text if problems else "",
            "sent": not problems,
        },
        status_code=400 if problems else 200,
    )

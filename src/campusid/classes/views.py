"""任教班级, the class home and 班级管理 (desktop), and joining a class by its code.

Handlers parse, call one service function and render; the rules live in `security.authz`
(`student_authority` for acts on a student, `may_manage_class` for the class). A refusal raises
`authz.Denied`; the app's handler audits it once and answers 403.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from campusid.classes import joins, members, mobile
from campusid.classes import service as classes
from campusid.classes.models import CLASS_ROLE_LABELS, MemberStatus
from campusid.i18n import N_
from campusid.org.models import SchoolClass
from campusid.org.schoolyear import calendar_for
from campusid.resets import export
from campusid.resets import service as resets
from campusid.security import authz
from campusid.security.permissions import Principal
from campusid.web import (
    Client,
    CurrentPrincipal,
    DbSession,
    FormId,
    FormIds,
    Id,
    NotFound,
    Svc,
    redirect,
    render,
)

router = APIRouter()
router.include_router(mobile.router)

StudentIds = FormIds
FLASH = {
    "removed": N_("已将所选学生退出班级,他们已存放在本校区"),
    "saved": N_("已保存"),
    "added": N_("已添加学生"),
    "approved": N_("已通过申请"),
    "refused": N_("已拒绝申请"),
    "position_added": N_("已添加职位"),
    "position_deleted": N_("已删除职位"),
}
GENDERS = {"male": N_("男"), "female": N_("女")}


def visible(db: DbSession, principal: Principal, class_id: Id) -> SchoolClass:
    """The class in the URL if this person may see it, else 'not found'."""
    school_class = classes.visible_class(db, principal=principal, class_id=class_id)
    if school_class is None:
        raise NotFound
    return school_class


def managed(db: DbSession, principal: Principal, class_id: Id) -> SchoolClass:
    """The class in the URL if this person manages it (班级管理)."""
    school_class = db.get(SchoolClass, class_id)
    if school_class is None:
        raise NotFound
    authz.check_class_manager(principal, school_class.scope, action=authz.ACCESS_DENIED)
    return school_class


@router.get("/teaching")
def teaching(
    request: Request, db: DbSession, services: Svc, principal: CurrentPrincipal
) -> Response:
    """任教班级: 班级名称, 所在校区, 班主任, 前往班级."""
    cal = calendar_for(services.settings, services.clock)
    return render(
        request,
        "classes/teaching.html",
        {"classes": classes.taught_classes(db, principal=principal, cal=cal)},
    )


@router.get("/classes/{class_id}")
def class_home(
    request: Request, db: DbSession, services: Svc, principal: CurrentPrincipal, class_id: Id
) -> Response:
    """The class home: header, teachers, and 班级管理 for those who manage it."""
    school_class = visible(db, principal, class_id)
    return render(
        request,
        "classes/home.html",
        {
            "summary": classes.summarize(
                db, school_class=school_class, cal=calendar_for(services.settings, services.clock)
            ),
            "teachers": classes.teachers_of(db, school_class=school_class),
            "manages": authz.may_manage_class(principal, school_class.scope),
        },
    )


def _manage_page(
    request: Request,
    db: DbSession,
    services: Svc,
    school_class: SchoolClass,
    template: str,
    tab: str,
    context: dict[str, object],
    status_code: int = 200,
) -> Response:
    ctx: dict[str, object] = {
        "summary": classes.summarize(
            db, school_class=school_class, cal=calendar_for(services.settings, services.clock)
        ),
        "tab": tab,
        "base": f"/classes/{school_class.id}/manage",
        "flash": FLASH.get(request.query_params.get("msg", "")),
        "pending_count": len(joins.pending_requests(db, school_class=school_class)),
    }
    ctx.update(context)
    return render(request, template, ctx, status_code=status_code)


@router.get("/classes/{class_id}/manage")
def manage(db: DbSession, principal: CurrentPrincipal, class_id: Id) -> Response:
    """班级管理 opens on 用户管理 → 班级成员."""
    managed(db, principal, class_id)
    return redirect(f"/classes/{class_id}/manage/students")


def _students_page(
    request: Request,
    db: DbSession,
    services: Svc,
    school_class: SchoolClass,
    q: str = "",
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    return _manage_page(
        request,
        db,
        services,
        school_class,
        "classes/students.html",
        "students",
        {
            "q": q,
            "members": classes.students_of(db, school_class=school_class, name_query=q),
            "positions": classes.positions_of(db, school_class=school_class),
            "role_labels": CLASS_ROLE_LABELS,
            "errors": errors or [],
        },
        status_code,
    )


@router.get("/classes/{class_id}/manage/students")
def students(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    class_id: Id,
    q: str = "",
) -> Response:
    """班级学生, searchable by student name."""
    school_class = managed(db, principal, class_id)
    return _students_page(request, db, services, school_class, q[:32])


@router.post("/classes/{class_id}/manage/students/reset")
def reset_ticked(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
    class_id: Id,
    student_ids: StudentIds = None,
) -> Response:
    """重置密码 for every ticked student: a printable list and an .xlsx, shown this once.

    The list lives only in this response (no-store): the .xlsx is a `data:` link built here, so
    no plain password is ever kept on the server for a later download.
    """
    school_class = class_of_post(db, class_id)
    if not student_ids:
        return _students_page(
            request, db, services, school_class, errors=[N_("请先勾选学生")], status_code=400
        )
    results = resets.reset_students(
        db,
        services=services,
        principal=principal,
        school_class=school_class,
        student_ids=student_ids,
        client=client,
    )
    summary = classes.summarize(
        db, school_class=school_class, cal=calendar_for(services.settings, services.clock)
    )
    title = N_(
        "%(school)s%(class_name)s 重置密码名单", school=summary.school_name, class_name=summary.name
    )
    return render(
        request,
        "classes/reset_result.html",
        {
            "summary": summary,
            "title": title,
            "results": results,
            "xlsx_url": export.as_data_url(export.password_sheet(title, results)),
            "when": services.clock.now(),
        },
    )


def class_of_post(db: DbSession, class_id: Id) -> SchoolClass:
    """The class of a POST (the act itself asks the rule whether this person may do it)."""
    school_class = db.get(SchoolClass, class_id)
    if school_class is None:
        raise NotFound
    return school_class


@router.post("/classes/{class_id}/manage/students/remove")
def remove_ticked(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
    class_id: Id,
    student_ids: StudentIds = None,
) -> Response:
    """退出班级: the ticked students leave the class and are parked at the campus."""
    school_class = class_of_post(db, class_id)
    if not student_ids:
        return _students_page(
            request, db, services, school_class, errors=[N_("请先勾选学生")], status_code=400
        )
    members.remove_students(
        db,
        services=services,
        principal=principal,
        school_class=school_class,
        student_ids=student_ids,
        client=client,
    )
    return redirect(f"/classes/{class_id}/manage/students?msg=removed")


@router.get("/classes/{class_id}/manage/students/{student_id}/edit")
def edit_page(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    class_id: Id,
    student_id: Id,
) -> Response:
    """编辑: the student's name, gender and 状态 in the class."""
    school_class = managed(db, principal, class_id)
    member = classes.member_of(db, school_class=school_class, student_id=student_id)
    if member is None:
        raise NotFound
    return _manage_page(
        request,
        db,
        services,
        school_class,
        "classes/student_edit.html",
        "students",
        {"member": member, "genders": GENDERS, "statuses": list(MemberStatus)},
    )


@router.post("/classes/{class_id}/manage/students/{student_id}/edit")
def edit_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
    class_id: Id,
    student_id: Id,
    student_number: Annotated[str | None, Form(max_length=64)] = None,
    class_role: Annotated[str | None, Form(max_length=32)] = None,
    cadre_position: Annotated[str | None, Form(max_length=32)] = None,
    real_name: Annotated[str | None, Form(max_length=64)] = None,
    gender: Annotated[str | None, Form(max_length=16)] = None,
    status: Annotated[str | None, Form(max_length=16)] = None,
) -> Response:
    """编辑学号, 设置角色, 设置职位 and 编辑: each form sends its fields; absent ones stay."""
    school_class = class_of_post(db, class_id)
    changes = members.MemberChanges(
        student_number=student_number,
        class_role=class_role,
        cadre_position=cadre_position,
        real_name=real_name,
        gender=gender,
        status=status,
    )
    problems = members.edit_member(
        db,
        services=services,
        principal=principal,
        school_class=school_class,
        student_id=student_id,
        changes=changes,
        client=client,
    )
    if problems:
        return _students_page(request, db, services, school_class, errors=problems, status_code=400)
    return redirect(f"/classes/{class_id}/manage/students?msg=saved")


@router.get("/classes/{class_id}/manage/students/add")
def add_page(
    request: Request, db: DbSession, services: Svc, principal: CurrentPrincipal, class_id: Id
) -> Response:
    """添加学生: a new account, or a student parked at the campus."""
    school_class = managed(db, principal, class_id)
    return _add_page(request, db, services, school_class)


def _add_page(
    request: Request,
    db: DbSession,
    services: Svc,
    school_class: SchoolClass,
    errors: list[str] | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    return _manage_page(
        request,
        db,
        services,
        school_class,
        "classes/student_add.html",
        "students",
        {
            "parked": classes.parked_students(db, school_class=school_class),
            "genders": GENDERS,
            "errors": errors or [],
            "form": form or {},
        },
        400 if errors else 200,
    )


@router.post("/classes/{class_id}/manage/students/add")
def add_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
    class_id: Id,
    real_name: Annotated[str, Form(max_length=64)] = "",
    gender: Annotated[str, Form(max_length=16)] = "",
    student_number: Annotated[str, Form(max_length=64)] = "",
    username: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Create the student on the school's default password, in this class."""
    school_class = class_of_post(db, class_id)
    _, problems = members.add_new_student(
        db,
        services=services,
        principal=principal,
        school_class=school_class,
        real_name=real_name,
        gender=gender,
        student_number=student_number,
        username=username,
        client=client,
    )
    if problems:
        form = {
            "real_name": real_name,
            "gender": gender,
            "student_number": student_number,
            "username": username,
        }
        return _add_page(request, db, services, school_class, problems, form)
    return redirect(f"/classes/{class_id}/manage/students?msg=added")


@router.post("/classes/{class_id}/manage/students/add-parked")
def add_parked(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
    class_id: Id,
    student_id: FormId,
) -> Response:
    """Bring a student parked at the campus into the class."""
    school_class = class_of_post(db, class_id)
    problems = members.add_parked_student(
        db,
        services=services,
        principal=principal,
        school_class=school_class,
        student_id=student_id,
        client=client,
    )
    if problems:
        return _add_page(request, db, services, school_class, problems)
    return redirect(f"/classes/{class_id}/manage/students?msg=added")


@router.get("/classes/{class_id}/manage/teachers")
def teachers(
    request: Request, db: DbSession, services: Svc, principal: CurrentPrincipal, class_id: Id
) -> Response:
    """班级教师."""
    school_class = managed(db, principal, class_id)
    return _manage_page(
        request,
        db,
        services,
        school_class,
        "classes/teachers.html",
        "teachers",
        {"teachers": classes.teachers_of(db, school_class=school_class)},
    )


@router.get("/classes/{class_id}/manage/requests")
def requests_page(
    request: Request, db: DbSession, services: Svc, principal: CurrentPrincipal, class_id: Id
) -> Response:
    """成员审核: pending join requests."""
    school_class = managed(db, principal, class_id)
    return _requests_page(request, db, services, school_class)


def _requests_page(
    request: Request,
    db: DbSession,
    services: Svc,
    school_class: SchoolClass,
    errors: list[str] | None = None,
) -> Response:
    return _manage_page(
        request,
        db,
        services,
        school_class,
        "classes/requests.html",
        "requests",
        {"requests": joins.pending_requests(db, school_class=school_class), "errors": errors},
        400 if errors else 200,
    )


@router.post("/classes/{class_id}/manage/requests/{request_id}")
def decide_request(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
    class_id: Id,
    request_id: Id,
    decision: Annotated[Literal["approve", "refuse"], Form()],
) -> Response:
    """通过 or 拒绝 a join request."""
    school_class = class_of_post(db, class_id)
    problems = joins.decide(
        db,
        services=services,
        principal=principal,
        school_class=school_class,
        request_id=request_id,
        approve=decision == "approve",
        client=client,
    )
    if problems:
        return _requests_page(request, db, services, school_class, problems)
    msg = "approved" if decision == "approve" else "refused"
    return redirect(f"/classes/{class_id}/manage/requests?msg={msg}")


@router.get("/classes/{class_id}/manage/search")
def search_page(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    class_id: Id,
    code: str = "",
) -> Response:
    """全网搜索班级 by class code."""
    school_class = managed(db, principal, class_id)
    found: classes.ClassSummary | None = None
    errors: list[str] = []
    if code:
        found, errors = joins.find_by_code(db, services=services, principal=principal, code=code)
    return _manage_page(
        request,
        db,
        services,
        school_class,
        "classes/search.html",
        "search",
        {"code": code[:16], "found": found, "errors": errors},
    )


@router.get("/classes/{class_id}/manage/positions")
def positions_page(
    request: Request, db: DbSession, services: Svc, principal: CurrentPrincipal, class_id: Id
) -> Response:
    """班干部职位: the positions the class defines."""
    school_class = managed(db, principal, class_id)
    return _positions_page(request, db, services, school_class)


def _positions_page(
    request: Request,
    db: DbSession,
    services: Svc,
    school_class: SchoolClass,
    errors: list[str] | None = None,
) -> Response:
    return _manage_page(
        request,
        db,
        services,
        school_class,
        "classes/positions.html",
        "positions",
        {"positions": classes.positions_of(db, school_class=school_class), "errors": errors},
        400 if errors else 200,
    )


@router.post("/classes/{class_id}/manage/positions")
def add_position(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
    class_id: Id,
    name: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Add a 班干部职位."""
    school_class = class_of_post(db, class_id)
    problems = members.add_position(
        db,
        services=services,
        principal=principal,
        school_class=school_class,
        name=name,
        client=client,
    )
    if problems:
        return _positions_page(request, db, services, school_class, problems)
    return redirect(f"/classes/{class_id}/manage/positions?msg=position_added")


@router.post("/classes/{class_id}/manage/positions/{position_id}/delete")
def delete_position(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
    class_id: Id,
    position_id: Id,
) -> Response:
    """Delete a 班干部职位."""
    school_class = class_of_post(db, class_id)
    members.delete_position(
        db,
        services=services,
        principal=principal,
        school_class=school_class,
        position_id=position_id,
        client=client,
    )
    return redirect(f"/classes/{class_id}/manage/positions?msg=position_deleted")


@router.get("/join")
def join_page(
    request: Request, db: DbSession, services: Svc, principal: CurrentPrincipal, code: str = ""
) -> Response:
    """加入班级: the class a code names, and the request form."""
    found: classes.ClassSummary | None = None
    errors: list[str] = []
    if code:
        found, errors = joins.find_by_code(db, services=services, principal=principal, code=code)
    return render(
        request,
        "classes/join.html",
        {"code": code[:16], "found": found, "errors": errors, "roles": joins.JOIN_ROLES},
    )


@router.post("/join")
def join_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
    code: Annotated[str, Form(max_length=16)] = "",
    role: Annotated[str, Form(max_length=16)] = "",
    message: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Send the join request to the class's homeroom teacher."""
    problems = joins.request_to_join(
        db,
        services=services,
        principal=principal,
        class_code=code,
        role=role,
        message=message,
        client=client,
    )
    return render(
        request,
        "classes/join.html",
        {
            "code": code,
            "found": None,
            "errors": problems,
            "roles": joins.JOIN_ROLES,
            "sent": not problems,
        },
        status_code=400 if problems else 200,
    )

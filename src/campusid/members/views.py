"""学校管理 → 成员管理: add students, parents and teachers; moves; teaching; settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from campusid.accounts.models import SchoolRole
from campusid.clock import local_today
from campusid.families.models import Relation
from campusid.i18n import N_
from campusid.members import service as members
from campusid.members import teachers as staff
from campusid.members.batch import (
    MemberError,
    Person,
    TransferNeeded,
    person_from,
    relation_from,
)
from campusid.org.building import Calendar
from campusid.org.deps import ActorDep, AdminSchool, CalendarDep, FormFields, refused, tree_page
from campusid.org.models import ClassKind, ResetMode, School
from campusid.security.policy import RULE_TEXT
from campusid.web import DbSession, Id, NotFound, Svc, redirect

router = APIRouter()

STUDENT_FIELDS = (
    "class_id",
    "real_name",
    "gender",
    "student_number",
    "id_card_number",
    "registration_number",
    "phone",
    "parent_name",
    "parent_phone",
    "relation",
)
TEACHER_FIELDS = ("real_name", "gender", "phone", "id_card_number", "class_id", "subject")


def _person(fields: Any, services: Svc, prefix: str = "", label: str = "") -> Person:
    return person_from(
        real_name=fields.get(f"{prefix}real_name" if not prefix else f"{prefix}name"),
        gender=fields.get(f"{prefix}gender"),
        id_card_number=fields.get(f"{prefix}id_card_number"),
        registration_number=fields.get(f"{prefix}registration_number"),
        phone=fields.get(f"{prefix}phone"),
        today=local_today(services.clock),
        label=label,
    )


# --------------------------------------------------------------------------- students and parents


@router.get("/school/{school_id}/members/add")
def add_student_page(
    request: Request,
    db: DbSession,
    school: AdminSchool,
    calendar: CalendarDep,
    class_id: Id | None = None,
) -> Response:
    """添加学生/家长."""
    return tree_page(
        request,
        db,
        school,
        calendar,
        "members/add_student.html",
        selected=("class", class_id) if class_id else None,
        classes=members.active_class_names(db, school, calendar),
        relations=list(Relation),
        form={"class_id": str(class_id or ""), "relation": Relation.MOTHER.value},
    )


@router.post("/school/{school_id}/members/add")
def add_student_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    actor: ActorDep,
    fields: FormFields,
) -> Response:
    """Attach or create the student (and the parent, if given)."""
    class_id = fields.number("class_id", 0) or 0
    try:
        student = _person(fields, services)
        parent = None
        relation = None
        if fields.get("parent_name") or fields.get("parent_phone"):
            parent = _person(fields, services, prefix="parent_", label=N_("家长"))
            relation = relation_from(fields.get("relation"))
        added = members.add_student(
            db,
            school=school,
            calendar=calendar,
            student=student,
            class_id=class_id,
            student_number=fields.get("student_number"),
            parent=parent,
            relation=relation,
            now=services.clock.now(),
            actor=actor,
            guard=members.attach_guard(services),
        )
    except MemberError as exc:
        return tree_page(
            request,
            db,
            school,
            calendar,
            "members/add_student.html",
            classes=members.active_class_names(db, school, calendar),
            relations=list(Relation),
            form={k: fields.get(k) for k in STUDENT_FIELDS},
            errors=[exc.message],
            # A student of another school: offer the 转学申请 (transfers), with what was typed.
            transfer=isinstance(exc, TransferNeeded),
            status_code=400,
        )
    outcome = "created" if added.created else "attached"
    return redirect(f"/school/{school.id}/members/{added.user.id}?{outcome}=1")


@router.get("/school/{school_id}/members/{user_id}")
def member_page(
    request: Request,
    db: DbSession,
    school: AdminSchool,
    calendar: CalendarDep,
    user_id: Id,
) -> Response:
    """A member of the school: identifiers (masked), roles, class, parents, and the actions."""
    user = members.member(db, school, user_id)
    if user is None:
        raise NotFound
    row = members.describe(db, school=school, calendar=calendar, users=[user])[0]
    current = members.current_class(db, school, user.id)
    teaching = staff.teacher_rows(db, school=school, calendar=calendar, only=[user])
    return tree_page(
        request,
        db,
        school,
        calendar,
        "members/member.html",
        selected=("class", current.id) if current else None,
        member=row,
        current_class=current,
        teaching=teaching[0] if teaching else None,
        is_student=members.is_member(db, school, user.id, SchoolRole.STUDENT),
        is_teacher=members.is_member(db, school, user.id, SchoolRole.TEACHER),
        classes=members.active_class_names(db, school, calendar),
        relations=list(Relation),
        form={"relation": Relation.MOTHER.value},
    )


def _member_error(
    request: Request,
    db: DbSession,
    school: School,
    calendar: Calendar,
    user_id: Id,
    message: str,
    form: dict[str, str] | None = None,
) -> Response:
    user = members.member(db, school, user_id)
    if user is None:
        raise NotFound
    row = members.describe(db, school=school, calendar=calendar, users=[user])[0]
    current = members.current_class(db, school, user.id)
    return tree_page(
        request,
        db,
        school,
        calendar,
        "members/member.html",
        member=row,
        current_class=current,
        teaching=None,
        is_student=members.is_member(db, school, user.id, SchoolRole.STUDENT),
        is_teacher=members.is_member(db, school, user.id, SchoolRole.TEACHER),
        classes=members.active_class_names(db, school, calendar),
        relations=list(Relation),
        errors=[message],
        form=form or {"relation": Relation.MOTHER.value},
        status_code=400,
    )


@router.post("/school/{school_id}/members/{user_id}/move")
def move_student(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    actor: ActorDep,
    fields: FormFields,
    user_id: Id,
) -> Response:
    """换班 / 分班."""
    class_id = fields.number("class_id", 0) or 0
    try:
        members.move_student(
            db,
            school=school,
            calendar=calendar,
            student_id=user_id,
            class_id=class_id,
            now=services.clock.now(),
            actor=actor,
        )
    except MemberError as exc:
        return _member_error(request, db, school, calendar, user_id, exc.message)
    return redirect(f"/school/{school.id}/classes/{class_id}?saved=1")


@router.post("/school/{school_id}/members/{user_id}/remove-from-class")
def remove_from_class(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    actor: ActorDep,
    user_id: Id,
) -> Response:
    """移出班级: the student is parked at the campus (校区存放)."""
    try:
        left = members.remove_from_class(
            db, school=school, student_id=user_id, now=services.clock.now(), actor=actor
        )
    except MemberError as exc:
        return _member_error(request, db, school, calendar, user_id, exc.message)
    return redirect(f"/school/{school.id}/campuses/{left.campus_id}?saved=1")


@router.post("/school/{school_id}/members/{user_id}/leave")
def leave_school(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    actor: ActorDep,
    user_id: Id,
) -> Response:
    """移出学校: the relationship ends; the account stays."""
    try:
        members.leave_school(
            db,
            school=school,
            calendar=calendar,
            user_id=user_id,
            now=services.clock.now(),
            actor=actor,
        )
    except MemberError as exc:
        return _member_error(request, db, school, calendar, user_id, exc.message)
    return redirect(f"/school/{school.id}?saved=1")


@router.post("/school/{school_id}/members/{user_id}/parents")
def add_parent(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    actor: ActorDep,
    fields: FormFields,
    user_id: Id,
) -> Response:
    """添加家长 to this student."""
    try:
        parent = _person(fields, services, prefix="parent_", label=N_("家长"))
        members.add_parent(
            db,
            school=school,
            calendar=calendar,
            child_id=user_id,
            parent=parent,
            relation=relation_from(fields.get("relation")),
            now=services.clock.now(),
            actor=actor,
            guard=members.attach_guard(services),
        )
    except MemberError as exc:
        form = {k: fields.get(k) for k in ("parent_name", "parent_phone", "relation")}
        return _member_error(request, db, school, calendar, user_id, exc.message, form)
    return redirect(f"/school/{school.id}/members/{user_id}?saved=1")


# --------------------------------------------------------------------------- teachers


@router.get("/school/{school_id}/teachers")
def teachers_page(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep
) -> Response:
    """成员管理: the school's teachers and what they teach."""
    return tree_page(
        request,
        db,
        school,
        calendar,
        "members/teachers.html",
        section="teachers",
        rows=staff.teacher_rows(db, school=school, calendar=calendar),
    )


@router.get("/school/{school_id}/teachers/add")
def add_teacher_page(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep
) -> Response:
    """添加老师."""
    return tree_page(
        request,
        db,
        school,
        calendar,
        "members/add_teacher.html",
        section="teachers",
        classes=members.active_class_names(db, school, calendar),
        form={},
    )


@router.post("/school/{school_id}/teachers/add")
def add_teacher_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    actor: ActorDep,
    fields: FormFields,
) -> Response:
    """Attach or create the teacher, with a first class to teach if chosen."""
    try:
        added = staff.add_teacher(
            db,
            school=school,
            calendar=calendar,
            teacher=_person(fields, services),
            class_id=fields.number("class_id"),
            subject=fields.get("subject"),
            homeroom=fields.flag("homeroom"),
            now=services.clock.now(),
            actor=actor,
            guard=members.attach_guard(services),
        )
    except MemberError as exc:
        return tree_page(
            request,
            db,
            school,
            calendar,
            "members/add_teacher.html",
            section="teachers",
            classes=members.active_class_names(db, school, calendar),
            form={k: fields.get(k) for k in TEACHER_FIELDS},
            errors=[exc.message],
            status_code=400,
        )
    outcome = "created" if added.created else "attached"
    return redirect(f"/school/{school.id}/members/{added.user.id}?{outcome}=1")


@router.post("/school/{school_id}/teachers/assign")
def assign_teacher(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    actor: ActorDep,
    fields: FormFields,
) -> Response:
    """设置任教 (and 班主任)."""
    class_id = fields.number("class_id", 0) or 0
    teacher_id = fields.number("teacher_id", 0) or 0
    try:
        staff.assign_by_id(
            db,
            school=school,
            teacher_id=teacher_id,
            class_id=class_id,
            subject=fields.get("subject"),
            homeroom=fields.flag("homeroom"),
            now=services.clock.now(),
            actor=actor,
        )
    except MemberError as exc:
        return refused(request, db, school, calendar, [exc.message])
    return redirect(f"/school/{school.id}/classes/{class_id}?saved=1")


@router.post("/school/{school_id}/teachers/{teacher_id}/unassign")
def unassign_teacher(
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    actor: ActorDep,
    fields: FormFields,
    teacher_id: Id,
) -> Response:
    """Stop the teacher teaching the class."""
    class_id = fields.number("class_id", 0) or 0
    try:
        staff.unassign(
            db,
            school=school,
            teacher_id=teacher_id,
            class_id=class_id,
            now=services.clock.now(),
            actor=actor,
        )
    except MemberError:
        raise NotFound from None
    return redirect(f"/school/{school.id}/classes/{class_id}?saved=1")


@router.get("/school/{school_id}/teachers/batch")
def batch_page(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep
) -> Response:
    """批量设置任教/导出老师."""
    return tree_page(
        request,
        db,
        school,
        calendar,
        "members/batch_assign.html",
        section="teachers",
        teachers=staff.teachers(db, school),
        classes=members.active_class_names(db, school, calendar),
        subjects=staff.SUBJECTS,
        form={"class_ids": []},
    )


@router.post("/school/{school_id}/teachers/batch")
def batch_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    actor: ActorDep,
    fields: FormFields,
) -> Response:
    """One teacher, one subject, every ticked class."""
    try:
        count = staff.batch_assign(
            db,
            school=school,
            teacher_id=fields.number("teacher_id", 0) or 0,
            class_ids=fields.ints("class_ids"),
            subject=fields.get("subject"),
            now=services.clock.now(),
            actor=actor,
        )
    except MemberError as exc:
        return tree_page(
            request,
            db,
            school,
            calendar,
            "members/batch_assign.html",
            section="teachers",
            teachers=staff.teachers(db, school),
            classes=members.active_class_names(db, school, calendar),
            subjects=staff.SUBJECTS,
            form={
                "teacher_id": fields.get("teacher_id"),
                "subject": fields.get("subject"),
                "class_ids": fields.ints("class_ids"),
            },
            errors=[exc.message],
            status_code=400,
        )
    return redirect(f"/school/{school.id}/teachers?assigned={count}")


@router.get("/school/{school_id}/teachers/quick")
def quick_page(
    request: Request,
    db: DbSession,
    school: AdminSchool,
    calendar: CalendarDep,
    class_id: Id | None = None,
) -> Response:
    """快速设置老师: pick a class, then its 班主任 and a teacher per subject."""
    classes = members.active_class_names(db, school, calendar)
    chosen = members.school_class(db, school, class_id) if class_id else None
    current: dict[str, int] = {}
    homeroom = None
    if chosen is not None:
        for row in members.class_teachers(db, chosen):
            if row.subject:
                current[row.subject] = row.user.id
            if row.homeroom:
                homeroom = row.user.id
    return tree_page(
        request,
        db,
        school,
        calendar,
        "members/quick_teachers.html",
        selected=("class", chosen.id) if chosen else None,
        classes=classes,
        chosen=chosen,
        teachers=staff.teachers(db, school),
        subjects=staff.SUBJECTS,
        current=current,
        homeroom=homeroom,
    )


@router.post("/school/{school_id}/teachers/quick")
def quick_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    actor: ActorDep,
    fields: FormFields,
) -> Response:
    """Save the class's 班主任 and subject teachers."""
    chosen = members.school_class(db, school, fields.number("class_id", 0) or 0)
    if chosen is None:
        raise NotFound
    subjects = {
        subject: fields.number(f"subject_{index}") for index, subject in enumerate(staff.SUBJECTS)
    }
    try:
        staff.quick_set_teachers(
            db,
            school=school,
            school_class=chosen,
            homeroom_id=fields.number("homeroom_id"),
            subjects=subjects,
            now=services.clock.now(),
            actor=actor,
        )
    except MemberError as exc:
        return refused(request, db, school, calendar, [exc.message])
    return redirect(f"/school/{school.id}/classes/{chosen.id}?saved=1")


# --------------------------------------------------------------------------- teaching classes


@router.get("/school/{school_id}/classes/{class_id}/students")
def teaching_students_page(
    request: Request,
    db: DbSession,
    school: AdminSchool,
    calendar: CalendarDep,
    class_id: Id,
    from_class: int | None = None,
) -> Response:
    """从行政班级添加学生 to a teaching class: pick a class, tick its students."""
    teaching = members.school_class(db, school, class_id)
    if teaching is None or teaching.kind is not ClassKind.TEACHING:
        raise NotFound
    source = members.school_class(db, school, from_class) if from_class else None
    return tree_page(
        request,
        db,
        school,
        calendar,
        "members/teaching_students.html",
        selected=("class", class_id),
        tab="teaching",
        teaching=teaching,
        classes=members.active_class_names(db, school, calendar),
        source=source,
        candidates=members.class_students(db, source) if source else [],
    )


@router.post("/school/{school_id}/classes/{class_id}/students")
def teaching_students_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    fields: FormFields,
    class_id: Id,
) -> Response:
    """Add the ticked students to the teaching class."""
    teaching = members.school_class(db, school, class_id)
    if teaching is None:
        raise NotFound
    try:
        members.add_to_teaching_class(
            db,
            school=school,
            teaching_class=teaching,
            student_ids=fields.ints("student_ids"),
            now=services.clock.now(),
        )
    except MemberError as exc:
        return refused(request, db, school, calendar, [exc.message])
    return redirect(f"/school/{school.id}/classes/{class_id}?saved=1")


@router.post("/school/{school_id}/classes/{class_id}/students/{user_id}/remove")
def teaching_student_remove(
    db: DbSession, school: AdminSchool, class_id: Id, user_id: Id
) -> Response:
    """Take a student out of the teaching class."""
    teaching = members.school_class(db, school, class_id)
    if teaching is None:
        raise NotFound
    try:
        members.remove_from_teaching_class(db, teaching_class=teaching, student_id=user_id)
    except MemberError:
        raise NotFound from None
    return redirect(f"/school/{school.id}/classes/{class_id}?saved=1")


# --------------------------------------------------------------------------- settings


def _settings_page(
    request: Request,
    db: DbSession,
    school: School,
    calendar: Calendar,
    *,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    return tree_page(
        request,
        db,
        school,
        calendar,
        "members/settings.html",
        section="settings",
        default_password=members.default_password(db, school),
        modes=list(ResetMode),
        rule=RULE_TEXT,
        errors=errors or [],
        status_code=status_code,
    )


@router.get("/school/{school_id}/settings")
def settings_page(
    request: Request, db: DbSession, school: AdminSchool, calendar: CalendarDep
) -> Response:
    """设置: 学生默认密码, the reset mode, and the account toggles."""
    return _settings_page(request, db, school, calendar)


@router.post("/school/{school_id}/settings/default-password")
def change_default_password(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    actor: ActorDep,
    fields: FormFields,
) -> Response:
    """Change the 学生默认密码 (for accounts created from now on)."""
    problems = members.change_default_password(
        db,
        school=school,
        password=fields.get("new_password"),
        confirm=fields.get("confirm_password"),
        hasher=services.hasher,
        now=services.clock.now(),
        actor=actor,
    )
    if problems:
        return _settings_page(request, db, school, calendar, errors=problems, status_code=400)
    return redirect(f"/school/{school.id}/settings?saved=1")


@router.post("/school/{school_id}/settings")
def save_settings(
    request: Request,
    db: DbSession,
    services: Svc,
    school: AdminSchool,
    calendar: CalendarDep,
    actor: ActorDep,
    fields: FormFields,
) -> Response:
    """Save the reset mode and the toggles."""
    try:
        mode = ResetMode(fields.get("reset_mode"))
    except ValueError:
        return _settings_page(
            request, db, school, calendar, errors=[N_("请选择重置方式")], status_code=400
        )
    members.update_settings(
        db,
        school=school,
        reset_mode=mode,
        force_change_after_parent=fields.flag("force_change_after_parent"),
        allow_teacher_recovery=fields.flag("allow_teacher_recovery"),
        now=services.clock.now(),
        actor=actor,
    )
    return redirect(f"/school/{school.id}/settings?saved=1")

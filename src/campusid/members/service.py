"""Members of a school (成员管理): add by hand, move, remove, teachers, search, settings.

Every function works inside one school the caller has already been authorised for
(`security.authz.check_school_admin`, through `org.deps.AdminSchool`), and looks people up
only among that school's members.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from campusid.accounts import factors
from campusid.accounts.models import (
    DefaultCredential,
    SchoolMembership,
    SchoolRole,
    TwoStepSchoolPolicy,
    User,
)
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.models import AuditEvent
from campusid.audit.service import Actor, Outcome
from campusid.classes import enrolment
from campusid.classes import service as classes
from campusid.classes.models import ClassStudent, ClassTeacher
from campusid.context import Services
from campusid.families.models import ParentLink, Relation
from campusid.i18n import N_
from campusid.identifiers import (
    login_lookup_keys,
    mask_id_card,
    mask_phone,
    mask_registration_number,
)
from campusid.members.batch import (
    Account,
    AttachRefused,
    MemberError,
    Person,
    RosterBuilder,
    apply,
)
from campusid.org import service as org
from campusid.org.models import ClassKind, Grade, ResetMode, School, SchoolClass
from campusid.org.schoolyear import Calendar
from campusid.security.onetime import target_digest
from campusid.security.passwords import Hasher
from campusid.security.policy import EMPTY_CONTEXT, check_password
from campusid.security.ratelimit import RateLimiter

T = TypeVar("T")
ATTACH_THROTTLED = N_("尝试次数过多，请稍后再试。")


def act_of(actor: Actor, *, calendar: Calendar, now: datetime) -> enrolment.Act:
    """The administrator's act, for `classes.enrolment`."""
    return enrolment.Act(
        actor_id=actor.user_id,
        actor_role="school_admin",
        client=actor.client,
        now=now,
        cal=calendar,
    )


def record(
    db: Session,
    *,
    actor: Actor,
    school: School,
    action: AuditAction,
    now: datetime,
    target_user_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    audit.record(
        db,
        now=now,
        action=action,
        actor_id=actor.user_id,
        actor_role="school_admin",
        target_user_id=target_user_id,
        school_id=school.id,
        client=actor.client,
        detail=detail or {},
    )


# --------------------------------------------------------------------------- attach attempts


@dataclass(frozen=True)
class AttachGuard:
    """Limits on refused attach attempts, like 关联孩子's: per administrator and per identifier.

    A refused attempt (a name that does not match its identifier, an account that may not join
    in that role, a student of another school) counts against both; once either is used up,
    every attempt of the window is refused before any look-up, even a right one, so typing
    names and numbers to see what they answer cannot go on. The answers themselves are those
    of `members.batch` whatever the limit: a mismatch reads as it always did.
    """

    by_actor: RateLimiter
    by_target: RateLimiter
    secret_key: str


def attach_guard(services: Services) -> AttachGuard:
    """The app's attach limits (settings `members_attach_*`)."""
    s = services.settings
    return AttachGuard(
        by_actor=services.limits.named(
            "members.attach.actor",
            s.members_attach_actor_limit,
            s.members_attach_actor_window_seconds,
        ),
        by_target=services.limits.named(
            "members.attach.target",
            s.members_attach_target_limit,
            s.members_attach_target_window_seconds,
        ),
        secret_key=s.secret_key,
    )


def guarded(
    guard: AttachGuard | None,
    *,
    school: School,
    actor: Actor,
    persons: list[Person],
    now: datetime,
    act: Callable[[], T],
) -> T:
    """Run an attach (`act`) under the guard: refused when over the limit, counted when refused.

    Each refusal carries its audit event (`member_attach_refused`, the identifiers not named) in
    `Refused.keep`: the app's handler writes it after rolling the request back, so the refusal
    outlives the refused form and nothing else the request wrote does.
    """
    if guard is None:
        return act()
    actor_key = str(actor.user_id)
    targets = [
        target_digest(guard.secret_key, "members.attach", f"{column}:{value}")
        for person in persons
        for column, value in person.identifiers().items()
    ]
    if guard.by_actor.exceeded(actor_key) or any(guard.by_target.exceeded(t) for t in targets):
        throttled = MemberError(ATTACH_THROTTLED)
        throttled.keep.append(
            _refused_attach(actor=actor, school=school, now=now, reason="throttled")
        )
        raise throttled
    try:
        return act()
    except AttachRefused as refused:
        guard.by_actor.hit(actor_key)
        for target in targets:
            guard.by_target.hit(target)
        refused.keep.append(
            _refused_attach(actor=actor, school=school, now=now, reason=refused.reason)
        )
        raise


def _refused_attach(*, actor: Actor, school: School, now: datetime, reason: str) -> AuditEvent:
    return audit.event(
        now=now,
        action=AuditAction.MEMBER_ATTACH_REFUSED,
        outcome=Outcome.DENIED,
        actor_id=actor.user_id,
        actor_role="school_admin",
        school_id=school.id,
        client=actor.client,
        detail={"reason": reason},
    )


# --------------------------------------------------------------------------- classes of a school


def active_class_names(
    db: Session, school: School, calendar: Calendar, *, plain: bool = False
) -> dict[int, str]:
    """Every administrative class of the school that has not graduated: id -> 三年级1班; where
    names repeat, with campus and enrollment year (`org.distinct_class_labels`) unless `plain`."""
    names: dict[int, str] = {}
    places: dict[int, tuple[str, int | None, str]] = {}
    campuses = {c.id: c.name for c in school.campuses}
    for school_class in db.scalars(
        select(SchoolClass)
        .where(SchoolClass.school_id == school.id, SchoolClass.kind == ClassKind.ADMINISTRATIVE)
        .order_by(SchoolClass.campus_id, SchoolClass.grade_id, SchoolClass.number)
    ):
        if school_class.grade is None or org.class_graduated(
            school_class, calendar.today, calendar.boundary
        ):
            continue
        names[school_class.id] = org.class_display_name(
            school_class, calendar.today, calendar.boundary
        )
        places[school_class.id] = (
            campuses.get(school_class.campus_id, ""),
            school_class.grade.enrollment_year,
            school_class.class_code,
        )
    return names if plain else org.distinct_class_labels(names, places)


def school_class(db: Session, school: School, class_id: int) -> SchoolClass | None:
    """A class of this school (None for another school's)."""
    found = db.get(SchoolClass, class_id)
    return found if found is not None and found.school_id == school.id else None


def grade_in(db: Session, school: School, grade_id: int) -> Grade | None:
    """A grade of this school."""
    grade = db.get(Grade, grade_id)
    if grade is None or grade.stage_unit.campus.school_id != school.id:
        return None
    return grade


# --------------------------------------------------------------------------- adding people


@dataclass
class Added:
    """What adding a person did."""

    user: User
    created: bool
    summary: dict[str, int]


def builder_for(db: Session, school: School, calendar: Calendar) -> RosterBuilder:
    return RosterBuilder(
        db,
        school=school,
        class_names=active_class_names(db, school, calendar),
        today=calendar.today,
    )


def finish(
    db: Session,
    builder: RosterBuilder,
    account: Account,
    *,
    school: School,
    now: datetime,
    actor: Actor,
    action: AuditAction,
) -> Added:
    """Write the one-person plan and audit each membership it starts."""
    created = account in builder.plan.new_accounts
    summary = apply(db, plan=builder.plan, school=school, now=now)
    for joined, role in builder.plan.joins:
        record(
            db,
            actor=actor,
            school=school,
            action=action if joined is account else AuditAction.MEMBER_ADDED,
            now=now,
            target_user_id=joined.id,
            detail={"role": role.value, "created": joined in builder.plan.new_accounts},
        )
    user = db.get(User, account.id)
    assert user is not None
    return Added(user, created, summary)


def add_student(
    db: Session,
    *,
    school: School,
    calendar: Calendar,
    student: Person,
    class_id: int,
    student_number: str | None,
    parent: Person | None,
    relation: Relation | None,
    now: datetime,
    actor: Actor,
    guard: AttachGuard | None = None,
) -> Added:
    """添加学生 (and optionally their parent): attach an existing account or create one.

    An existing account is attached only where `authz.may_attach` allows: a student of another
    school raises `TransferNeeded` (the page offers a 转学申请), an adult is never a student.
    """
    persons = [student, *([parent] if parent else [])]
    builder = builder_for(db, school, calendar)

    def plan() -> Account:
        builder.preload(persons)
        account = builder.add_student(student, class_id=class_id, student_number=student_number)
        if parent is not None:
            builder.add_parent(account, parent, relation or Relation.OTHER)
        return account

    account = guarded(guard, school=school, actor=actor, persons=persons, now=now, act=plan)
    return finish(
        db, builder, account, school=school, now=now, actor=actor, action=AuditAction.STUDENT_ADDED
    )


def add_parent(
    db: Session,
    *,
    school: School,
    calendar: Calendar,
    child_id: int,
    parent: Person,
    relation: Relation,
    now: datetime,
    actor: Actor,
    guard: AttachGuard | None = None,
) -> Added:
    """添加家长 to a student of the school (never a child's account: `authz.may_attach`)."""
    builder = builder_for(db, school, calendar)
    builder.preload([parent])
    builder.index.load_ids(db, [child_id])
    child = builder.index.by_id.get(child_id)
    if child is None or not is_member(db, school, child_id, SchoolRole.STUDENT):
        raise MemberError(N_("找不到该学生"))
    account = guarded(
        guard,
        school=school,
        actor=actor,
        persons=[parent],
        now=now,
        act=lambda: builder.add_parent(child, parent, relation),
    )
    return finish(
        db, builder, account, school=school, now=now, actor=actor, action=AuditAction.PARENT_ADDED
    )


# --------------------------------------------------------------------------- moving students


def is_member(db: Session, school: School, user_id: int, role: SchoolRole) -> bool:
    """Whether the person is an active member of the school in that role."""
    return (
        db.scalar(
            select(SchoolMembership.id).where(
                SchoolMembership.current(school_id=school.id, user_id=user_id, role=role),
            )
        )
        is not None
    )


def member(db: Session, school: School, user_id: int) -> User | None:
    """A person with any relationship (current or ended) to this school; None otherwise."""
    if (
        db.scalar(
            select(SchoolMembership.id).where(
                SchoolMembership.school_id == school.id, SchoolMembership.user_id == user_id
            )
        )
        is None
    ):
        return None
    return db.get(User, user_id)


def _admin_class_row(db: Session, school: School, student_id: int) -> ClassStudent | None:
    return db.scalar(
        select(ClassStudent)
        .join(SchoolClass, SchoolClass.id == ClassStudent.class_id)
        .where(
            ClassStudent.student_id == student_id,
            SchoolClass.school_id == school.id,
            SchoolClass.kind == ClassKind.ADMINISTRATIVE,
        )
        .order_by(ClassStudent.joined_at.desc())
    )


def current_class(db: Session, school: School, student_id: int) -> SchoolClass | None:
    """The student's administrative class in this school, if any."""
    row = _admin_class_row(db, school, student_id)
    return db.get(SchoolClass, row.class_id) if row else None


def move_student(
    db: Session,
    *,
    school: School,
    calendar: Calendar,
    student_id: int,
    class_id: int,
    now: datetime,
    actor: Actor,
) -> None:
    """换班 (or 分班 out of 校区存放): the same path an import's 换班 row takes."""
    if not is_member(db, school, student_id, SchoolRole.STUDENT):
        raise MemberError(N_("找不到该学生"))
    builder = builder_for(db, school, calendar)
    builder.index.load_ids(db, [student_id])
    builder.load_state([student_id])
    account = builder.index.by_id[student_id]
    builder.move_student(account, class_id=class_id, student_number=None)
    apply(
        db,
        plan=builder.plan,
        school=school,
        now=now,
        act=act_of(actor, calendar=calendar, now=now),
    )


def remove_from_class(
    db: Session,
    *,
    school: School,
    calendar: Calendar,
    student_id: int,
    now: datetime,
    actor: Actor,
) -> SchoolClass:
    """移出班级: out of the administrative class, parked at its campus (校区存放)."""
    row = _admin_class_row(db, school, student_id)
    if row is None:
        raise MemberError(N_("该学生不在本校任何班级"))
    return enrolment.remove_from_class(
        db, membership=row, act=act_of(actor, calendar=calendar, now=now)
    )


def leave_school(
    db: Session, *, school: School, calendar: Calendar, user_id: int, now: datetime, actor: Actor
) -> None:
    """移出学校: the person's relationships with this school end; the account stays.

    They leave their current classes; graduated classes keep them for the alumni list.
    """
    memberships = list(
        db.scalars(
            select(SchoolMembership).where(
                SchoolMembership.current(school_id=school.id, user_id=user_id),
            )
        )
    )
    if not memberships:
        raise MemberError(N_("该成员已不在本校"))
    if any(m.role is SchoolRole.SCHOOL_ADMIN for m in memberships) and actor.user_id == user_id:
        raise MemberError(N_("不能将自己移出学校"))
    person = db.get(User, user_id)
    assert person is not None
    enrolment.leave_school(
        db,
        school=school,
        person=person,
        memberships=memberships,
        act=act_of(actor, calendar=calendar, now=now),
    )


# --------------------------------------------------------------------------- teaching classes


def add_to_teaching_class(
    db: Session,
    *,
    school: School,
    teaching_class: SchoolClass,
    student_ids: list[int],
    now: datetime,
) -> int:
    """Add students of the school (from any of its classes) to a teaching class."""
    if teaching_class.kind is not ClassKind.TEACHING:
        raise MemberError(N_("只能向教学班添加学生"))
    wanted = set(student_ids)
    members = set(
        db.scalars(
            select(SchoolMembership.user_id).where(
                SchoolMembership.current(school_id=school.id, role=SchoolRole.STUDENT),
                SchoolMembership.user_id.in_(wanted),
            )
        )
    )
    if wanted - members:
        raise MemberError(N_("所选学生不在本校"))
    present = set(
        db.scalars(
            select(ClassStudent.student_id).where(ClassStudent.class_id == teaching_class.id)
        )
    )
    added = 0
    for student_id in sorted(members - present):
        user = db.get(User, student_id)
        assert user is not None
        enrolment.enrol(db, school_class=teaching_class, student=user, now=now)
        added += 1
    return added


def remove_from_teaching_class(
    db: Session, *, teaching_class: SchoolClass, student_id: int
) -> None:
    """Take a student out of a teaching class."""
    if teaching_class.kind is not ClassKind.TEACHING:
        raise MemberError(N_("请使用移出班级"))
    db.execute(
        delete(ClassStudent).where(
            ClassStudent.class_id == teaching_class.id, ClassStudent.student_id == student_id
        )
    )


# --------------------------------------------------------------------------- lists and search


@dataclass
class MemberRow:
    """A person as a member list shows them: identifiers masked."""

    user: User
    roles: list[str]
    class_name: str = ""
    student_number: str | None = None
    subject: str | None = None
    homeroom: bool = False
    parents: list[str] = field(default_factory=list)

    @property
    def id_card(self) -> str:
        """The ID card number, masked."""
        return mask_id_card(self.user.id_card_number)

    @property
    def phone(self) -> str:
        """The phone number, masked."""
        return mask_phone(self.user.phone)

    @property
    def registration(self) -> str:
        """The 学籍号, masked."""
        return mask_registration_number(self.user.registration_number)


def _parents_by_child(db: Session, child_ids: list[int]) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {}
    if not child_ids:
        return result
    for child_id, name, relation in db.execute(
        select(ParentLink.child_id, User.real_name, ParentLink.relation)
        .join(User, User.id == ParentLink.parent_id)
        .where(ParentLink.child_id.in_(child_ids))
        .order_by(User.real_name)
    ):
        result.setdefault(child_id, []).append(
            N_("%(name)s（%(relation)s）", name=name, relation=relation.label)
        )
    return result


def class_students(db: Session, school_class: SchoolClass) -> list[MemberRow]:
    """The students of a class, by 学号 then name."""
    rows = list(
        db.execute(
            select(User, ClassStudent.student_number)
            .join(ClassStudent, ClassStudent.student_id == User.id)
            .where(ClassStudent.class_id == school_class.id)
            .order_by(ClassStudent.student_number, User.real_name)
        )
    )
    parents = _parents_by_child(db, [u.id for u, _ in rows])
    return [
        MemberRow(user=u, roles=[N_("学生")], student_number=n, parents=parents.get(u.id, []))
        for u, n in rows
    ]


def class_teachers(db: Session, school_class: SchoolClass) -> list[MemberRow]:
    """The teachers of a class, 班主任 first."""
    rows = db.execute(
        select(User, ClassTeacher.subject, ClassTeacher.is_homeroom)
        .join(ClassTeacher, ClassTeacher.teacher_id == User.id)
        .where(ClassTeacher.class_id == school_class.id)
        .order_by(ClassTeacher.is_homeroom.desc(), User.real_name)
    )
    return [MemberRow(user=u, roles=[N_("教师")], subject=s, homeroom=h) for u, s, h in rows]


def parked_students(db: Session, school: School, campus_id: int) -> list[MemberRow]:
    """校区存放: the campus's students who are in no class."""
    users = classes.parked_at_campus(db, school_id=school.id, campus_id=campus_id)
    parents = _parents_by_child(db, [u.id for u in users])
    return [MemberRow(user=u, roles=[N_("学生")], parents=parents.get(u.id, [])) for u in users]


def masked_query(query: str) -> str:
    """What a search was for, as the page may show it: identifiers masked."""
    keys = login_lookup_keys(query)
    if "id_card_number" in keys:
        return mask_id_card(keys["id_card_number"])
    if "phone" in keys:
        return mask_phone(keys["phone"])
    if "registration_number" in keys and "username" not in keys:
        return mask_registration_number(keys["registration_number"])
    return query


def search(
    db: Session, *, school: School, calendar: Calendar, query: str, limit: int = 50
) -> list[MemberRow]:
    """搜索成员: current members of this school by name, or by any identifier exactly."""
    text = " ".join((query or "").split())[:64]
    if not text:
        return []
    conditions = [User.real_name.contains(text, autoescape=True)]
    # Identifiers are compared exactly, as normalised (the columns may be stored encrypted).
    conditions.extend(
        getattr(User, column) == value for column, value in login_lookup_keys(text).items()
    )
    in_school = select(SchoolMembership.user_id).where(
        SchoolMembership.current(school_id=school.id),
    )
    users = db.scalars(
        select(User)
        .where(User.id.in_(in_school), or_(*conditions))
        .order_by(User.real_name, User.id)
        .limit(limit)
    ).all()
    return describe(db, school=school, calendar=calendar, users=list(users))


def describe(
    db: Session, *, school: School, calendar: Calendar, users: list[User]
) -> list[MemberRow]:
    """Member rows for these people: roles in this school, class, parents."""
    ids = [u.id for u in users]
    if not ids:
        return []
    roles: dict[int, list[str]] = {}
    for user_id, role in db.execute(
        select(SchoolMembership.user_id, SchoolMembership.role).where(
            SchoolMembership.current(school_id=school.id),
            SchoolMembership.user_id.in_(ids),
        )
    ):
        roles.setdefault(user_id, []).append(role.label)
    placed: dict[int, tuple[str, str | None]] = {}
    for student_id, class_obj, number in db.execute(
        select(ClassStudent.student_id, SchoolClass, ClassStudent.student_number)
        .join(SchoolClass, SchoolClass.id == ClassStudent.class_id)
        .where(
            SchoolClass.school_id == school.id,
            SchoolClass.kind == ClassKind.ADMINISTRATIVE,
            ClassStudent.student_id.in_(ids),
        )
    ):
        placed[student_id] = (
            org.class_display_name(class_obj, calendar.today, calendar.boundary),
            number,
        )
    parents = _parents_by_child(db, ids)
    rows = []
    for user in users:
        class_name, number = placed.get(user.id, ("", None))
        rows.append(
            MemberRow(
                user=user,
                roles=roles.get(user.id, []),
                class_name=class_name,
                student_number=number,
                parents=parents.get(user.id, []),
            )
        )
    return rows


# --------------------------------------------------------------------------- settings


def default_password(db: Session, school: School) -> str | None:
    """The school's current default student password (学生默认密码), as administrators see it."""
    if school.default_credential_id is None:
        return None
    credential = db.get(DefaultCredential, school.default_credential_id)
    return credential.plain_value if credential else None


def change_default_password(
    db: Session,
    *,
    school: School,
    password: str,
    confirm: str,
    hasher: Hasher,
    now: datetime,
    actor: Actor,
) -> list[str]:
    """Set a new 学生默认密码 under the password policy; returns the problems, empty if done.

    Accounts still on the old default keep it (they point at the old credential), so nobody's
    password changes behind their back; only accounts created from now on get the new one.
    """
    problems = []
    if password != confirm:
        problems.append(N_("两次输入的密码不一致"))
    problems.extend(v.message for v in check_password(password, context=EMPTY_CONTEXT))
    if password == default_password(db, school):
        problems.append(N_("新密码不能与当前默认密码相同"))
    if problems:
        return problems
    org.set_default_password(db, school=school, password=password, hasher=hasher, now=now)
    record(db, actor=actor, school=school, action=AuditAction.DEFAULT_PASSWORD_CHANGED, now=now)
    return []


def update_settings(
    db: Session,
    *,
    school: School,
    reset_mode: ResetMode,
    force_change_after_parent: bool,
    allow_teacher_recovery: bool,
    now: datetime,
    actor: Actor,
) -> None:
    """The school's reset mode and account toggles."""
    school.reset_mode = reset_mode
    school.force_change_after_parent = force_change_after_parent
    school.allow_teacher_recovery = allow_teacher_recovery
    db.flush()
    record(
        db,
        actor=actor,
        school=school,
        action=AuditAction.SCHOOL_SETTINGS_CHANGED,
        now=now,
        detail={
            "reset_mode": reset_mode.value,
            "force_change_after_parent": force_change_after_parent,
            "allow_teacher_recovery": allow_teacher_recovery,
        },
    )


# issue 19: 学校设置 → 两步验证: a school requires its teachers' second factor.


def teachers_two_step(db: Session, *, services: Services, school: School) -> tuple[bool, bool]:
    """Whether the school requires its teachers' second factor, and whether the platform's
    policy already does (then the school's choice changes nothing)."""
    row = db.get(TwoStepSchoolPolicy, school.id)
    platform = factors.policy_rules(db, services.settings)["teacher"].need
    return bool(row and row.teachers_required), platform.value == "required"


def set_teachers_two_step(
    db: Session, *, school: School, required: bool, now: datetime, actor: Actor
) -> bool:
    """Require (or stop requiring) a second factor of the school's teachers: a school tightens
    the platform's policy, never loosens it (the one rule, security.authz.second_factor_policy,
    takes the stronger). Teachers enrol at their next sign-in. False when nothing changed."""
    row = db.get(TwoStepSchoolPolicy, school.id)
    if bool(row and row.teachers_required) == required:
        return False
    if row is None:
        row = TwoStepSchoolPolicy(school_id=school.id)
        db.add(row)
    row.teachers_required = required
    row.updated_at = now
    row.updated_by_id = actor.user_id
    record(
        db,
        actor=actor,
        school=school,
        action=AuditAction.SCHOOL_SETTINGS_CHANGED,
        now=now,
        detail={"teachers_two_step_required": required},
    )
    return True

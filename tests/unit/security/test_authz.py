"""The authority rules, read as a reviewer would: each case of `student_authority` and friends.

The rules are plain functions of a principal and an object's facts, so these tests build both
by hand; the functional tests (the route × role matrix, tests/functional/classes) check that the
pages load the facts and ask these rules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from campusid.accounts.models import User
from campusid.security import authz
from campusid.security.authz import ClassScope, StudentAct, StudentStanding
from campusid.security.permissions import Permission, Principal, Role

SRC = Path(__file__).resolve().parents[3] / "src" / "campusid"
CLASS_51 = ClassScope(id=51, school_id=1, grade_id=5)
CLASS_52 = ClassScope(id=52, school_id=1, grade_id=5)
CLASS_OTHER_SCHOOL = ClassScope(id=90, school_id=2, grade_id=9)


def person(user_id: int = 100, **scopes: set[int]) -> Principal:
    """A principal with the roles its scopes imply (as `principal_for` would load them)."""
    principal = Principal(user=User(id=user_id, username=f"u{user_id}", real_name="某人"))
    for name, ids in scopes.items():
        setattr(principal, name, set(ids))
    if principal.admin_school_ids:
        principal.roles.add(Role.SCHOOL_ADMIN)
    if principal.taught_class_ids:
        principal.roles.add(Role.TEACHER)
    if principal.homeroom_class_ids:
        principal.roles.add(Role.HOMEROOM_TEACHER)
    if principal.led_grade_ids:
        principal.roles.add(Role.GRADE_LEADER)
    return principal


def homeroom_of_51() -> Principal:
    return person(taught_class_ids={51}, homeroom_class_ids={51}, member_school_ids={1})


def admin_of(school_id: int) -> Principal:
    return person(admin_school_ids={school_id}, member_school_ids={school_id})


def student_in(current: ClassScope | None, *, schools: set[int] | None = None) -> StudentStanding:
    return StudentStanding(
        student_id=7,
        is_staff=False,
        current_class=current,
        student_school_ids=frozenset(schools if schools is not None else {1}),
    )


@pytest.mark.parametrize("act", list(StudentAct))
def test_the_homeroom_teacher_of_the_current_class_may(act: StudentAct) -> None:
    granted = authz.student_authority(homeroom_of_51(), student_in(CLASS_51), act)
    assert granted == authz.Authority(Role.HOMEROOM_TEACHER, 1, 51)


@pytest.mark.parametrize("act", list(StudentAct))
def test_the_school_admin_may_through_the_class_or_the_school(act: StudentAct) -> None:
    admin = admin_of(1)
    assert authz.student_authority(admin, student_in(CLASS_51), act) == authz.Authority(
        Role.SCHOOL_ADMIN, 1, 51
    )
    # Parked (no current class): still a student of the school.
    assert authz.student_authority(admin, student_in(None), act) == authz.Authority(
        Role.SCHOOL_ADMIN, 1, None
    )


@pytest.mark.parametrize(
    ("who", "student"),
    [
        # a homeroom teacher of another class of the same school
        (person(taught_class_ids={52}, homeroom_class_ids={52}, member_school_ids={1}), CLASS_51),
        # a subject teacher of the class
        (person(taught_class_ids={51}, member_school_ids={1}), CLASS_51),
        # the homeroom teacher of the class, no longer a member of its school
        (person(taught_class_ids={51}, homeroom_class_ids={51}), CLASS_51),
        # the former homeroom teacher, once the student is parked
        (homeroom_of_51(), None),
        # another school's administrator
        (admin_of(2), CLASS_51),
        # a grade leader of the class's grade
        (person(led_grade_ids={5}, member_school_ids={1}), CLASS_51),
    ],
)
def test_everyone_else_may_not(who: Principal, student: ClassScope | None) -> None:
    for act in StudentAct:
        assert authz.student_authority(who, student_in(student), act) is None


def test_never_oneself_never_staff() -> None:
    admin = admin_of(1)
    itself = StudentStanding(
        student_id=admin.user.id,
        is_staff=False,
        current_class=CLASS_51,
        student_school_ids=frozenset({1}),
    )
    staff = StudentStanding(
        student_id=8, is_staff=True, current_class=CLASS_51, student_school_ids=frozenset({1})
    )
    for act in StudentAct:
        assert authz.student_authority(admin, itself, act) is None
        assert authz.student_authority(admin, staff, act) is None
        assert authz.student_authority(homeroom_of_51(), staff, act) is None


@pytest.mark.parametrize("act", list(StudentAct))
def test_credentials_belong_to_the_current_school_only(act: StudentAct) -> None:
    """An administrator of another school where the account merely has some membership gets
    nothing; an account that is a student in two schools (data from before transfers) is
    claimed by neither, nor by the homeroom teacher of either school's class."""
    # A student of school 1 who also (somehow) has a membership in school 2.
    twice = student_in(CLASS_51, schools={1, 2})
    assert authz.student_authority(admin_of(2), twice, act) is None
    assert authz.student_authority(admin_of(1), twice, act) is None
    assert authz.student_authority(homeroom_of_51(), twice, act) is None
    twice_parked = student_in(None, schools={1, 2})
    assert authz.student_authority(admin_of(2), twice_parked, act) is None
    # Placed in another school's class while a student of school 1 only: nobody's either.
    assert authz.student_authority(admin_of(2), student_in(CLASS_OTHER_SCHOOL), act) is None
    # A student of no school (left, graduated away): no school.
    assert authz.student_authority(admin_of(1), student_in(None, schools=set()), act) is None


@pytest.mark.parametrize("act", list(StudentAct))
def test_never_a_parents_account(act: StudentAct) -> None:
    """A parent made a student of a school (the issue's second takeover) is still nobody's."""
    parent = StudentStanding(
        student_id=9,
        is_staff=False,
        current_class=CLASS_51,
        student_school_ids=frozenset({1}),
        is_parent=True,
    )
    assert authz.student_authority(admin_of(1), parent, act) is None
    assert authz.student_authority(homeroom_of_51(), parent, act) is None


def teacher_of(*schools: int, **changes: object) -> authz.StaffStanding:
    return authz.StaffStanding(account_id=30, school_ids=frozenset(schools), **changes)  # type: ignore[arg-type]


def test_a_teachers_credentials_belong_to_their_only_school() -> None:
    assert authz.staff_authority(admin_of(1), teacher_of(1)) == 1
    # Not another school's administrator, not a teacher, not with two schools.
    assert authz.staff_authority(admin_of(2), teacher_of(1)) is None
    assert authz.staff_authority(homeroom_of_51(), teacher_of(1)) is None
    assert authz.staff_authority(admin_of(1), teacher_of(1, 2)) is None
    # Never a parent's, an administrator's, an agent's account; never oneself.
    assert authz.staff_authority(admin_of(1), teacher_of(1, is_parent=True)) is None
    assert (
        authz.staff_authority(admin_of(1), teacher_of(1, admin_school_ids=frozenset({1}))) is None
    )
    assert authz.staff_authority(admin_of(1), teacher_of(1, is_platform_staff=True)) is None
    me = admin_of(1)
    assert authz.staff_authority(me, authz.StaffStanding(me.user.id, frozenset({1}))) is None


Attach = authz.AttachDecision


@pytest.mark.parametrize(
    ("role", "facts", "decision"),
    [
        # a new pupil, a pupil already parked here
        (Role.STUDENT, authz.AccountFacts(1, age=10), Attach.ATTACH),
        (Role.STUDENT, authz.AccountFacts(1, student_school_ids=frozenset({1})), Attach.ATTACH),
        # a pupil of another school: a transfer request, even at 18 (高三)
        (Role.STUDENT, authz.AccountFacts(1, student_school_ids=frozenset({2})), Attach.TRANSFER),
        (
            Role.STUDENT,
            authz.AccountFacts(1, student_school_ids=frozenset({2}), age=18),
            Attach.TRANSFER,
        ),
        # adults are never made students
        (Role.STUDENT, authz.AccountFacts(1, is_parent=True), Attach.REFUSE_ADULT),
        (
            Role.STUDENT,
            authz.AccountFacts(1, parent_school_ids=frozenset({1})),
            Attach.REFUSE_ADULT,
        ),
        (Role.STUDENT, authz.AccountFacts(1, staff_school_ids=frozenset({2})), Attach.REFUSE_ADULT),
        (Role.STUDENT, authz.AccountFacts(1, is_platform_staff=True), Attach.REFUSE_ADULT),
        (Role.STUDENT, authz.AccountFacts(1, age=18), Attach.REFUSE_ADULT),
        (
            Role.STUDENT,
            authz.AccountFacts(1, student_school_ids=frozenset({1}), is_parent=True),
            Attach.REFUSE_ADULT,
        ),
        # children are never made teachers or parents
        (Role.TEACHER, authz.AccountFacts(1, age=17), Attach.REFUSE_CHILD),
        (
            Role.PARENT,
            authz.AccountFacts(1, student_school_ids=frozenset({2})),
            Attach.REFUSE_CHILD,
        ),
        (
            Role.TEACHER,
            authz.AccountFacts(1, student_school_ids=frozenset({1})),
            Attach.REFUSE_CHILD,
        ),
        # adults are attached as teachers and parents (no authority follows: `staff_authority`)
        (Role.TEACHER, authz.AccountFacts(1, is_parent=True, age=40), Attach.ATTACH),
        (Role.PARENT, authz.AccountFacts(1, staff_school_ids=frozenset({2})), Attach.ATTACH),
        (Role.PARENT, authz.AccountFacts(1), Attach.ATTACH),
    ],
)
def test_who_may_be_attached_as_what(
    role: Role, facts: authz.AccountFacts, decision: authz.AttachDecision
) -> None:
    assert authz.may_attach(role, facts, 1) is decision


def test_a_transfer_is_decided_by_the_sending_school_or_where_allowed_a_parent() -> None:
    assert (
        authz.check_transfer_decider(
            admin_of(1),
            from_school_id=1,
            student_id=7,
            parent_may_approve=False,
            action="transfer_decided",
        )
        is Role.SCHOOL_ADMIN
    )
    parent = person(child_ids={7})
    parent.roles.add(Role.PARENT)
    # The receiving school's administrator, a teacher of the class: never, region or not.
    for who in (admin_of(2), homeroom_of_51()):
        for allowed in (False, True):
            with pytest.raises(authz.Denied):
                authz.check_transfer_decider(
                    who,
                    from_school_id=1,
                    student_id=7,
                    parent_may_approve=allowed,
                    action="transfer_decided",
                )
    # A linked parent: only where the region allows it.
    with pytest.raises(authz.Denied):
        authz.check_transfer_decider(
            parent,
            from_school_id=1,
            student_id=7,
            parent_may_approve=False,
            action="transfer_decided",
        )
    assert (
        authz.check_transfer_decider(
            parent,
            from_school_id=1,
            student_id=7,
            parent_may_approve=True,
            action="transfer_decided",
        )
        is Role.PARENT
    )
    with pytest.raises(authz.Denied):
        authz.check_transfer_decider(
            parent,
            from_school_id=1,
            student_id=8,
            parent_may_approve=True,
            action="transfer_decided",
        )


def test_the_role_table_decides_each_act(monkeypatch: pytest.MonkeyPatch) -> None:
    """Take the reset permission from homeroom teachers: they may still manage, not reset."""
    from campusid.security import permissions

    table = dict(permissions.ROLE_PERMISSIONS)
    table[Role.HOMEROOM_TEACHER] = table[Role.HOMEROOM_TEACHER] - {Permission.CLASS_RESET_PASSWORD}
    monkeypatch.setattr(permissions, "ROLE_PERMISSIONS", table)
    teacher = homeroom_of_51()
    assert authz.student_authority(teacher, student_in(CLASS_51), StudentAct.MANAGE) is not None
    assert authz.student_authority(teacher, student_in(CLASS_51), StudentAct.RESET_PASSWORD) is None


def test_school_and_class_checks_raise_one_denied() -> None:
    outsider = admin_of(2)
    with pytest.raises(authz.Denied) as refused:
        authz.check_school_admin(outsider, 1)
    assert refused.value.reason == "not_school_admin"
    with pytest.raises(authz.Denied):
        authz.check_class_manager(outsider, CLASS_51, action="join_request_decided")
    with pytest.raises(authz.Denied):
        authz.check_org_class_view(
            person(led_grade_ids={9}, member_school_ids={1}), url_school_id=1, school_class=CLASS_51
        )
    # A class named under another school's URL is refused even to that school's administrator.
    with pytest.raises(authz.Denied):
        authz.check_org_class_view(admin_of(2), url_school_id=2, school_class=CLASS_51)
    authz.check_org_class_view(
        person(led_grade_ids={5}, member_school_ids={1}), url_school_id=1, school_class=CLASS_51
    )
    assert authz.may_manage_class(homeroom_of_51(), CLASS_51)
    assert not authz.may_manage_class(homeroom_of_51(), CLASS_52)
    assert not authz.may_view_class(admin_of(1), CLASS_OTHER_SCHOOL)


def _names_used(attribute_of: str) -> set[str]:
    used: set[str] = set()
    for path in SRC.rglob("*.py"):
        if path.name == "permissions.py" and path.parent.name == "security":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == attribute_of
            ):
                used.add(node.attr)
    return used


def test_every_permission_is_checked_somewhere() -> None:
    """A permission in the enum that nothing checks is a promise the code does not keep."""
    unused = {p.name for p in Permission} - _names_used("Permission")
    assert not unused, f"permissions no code checks: {sorted(unused)}"


def test_only_the_authority_module_raises_a_refusal() -> None:
    """`raise ...Denied` appears in security/authz.py and nowhere else in the application."""
    raisers = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                name = getattr(target, "attr", "") or getattr(target, "id", "")
                if name.endswith("Denied"):
                    raisers.append(str(path.relative_to(SRC)))
    assert set(raisers) == {"security/authz.py"}, raisers


def test_identifiers_are_edited_by_the_home_school_only() -> None:
    facts = authz.AccountFacts
    assert authz.is_home_school(facts(1, student_school_ids=frozenset({1})), 1)
    assert not authz.is_home_school(facts(1, student_school_ids=frozenset({1, 2})), 1)
    assert not authz.is_home_school(facts(1, student_school_ids=frozenset({2})), 1)
    assert not authz.is_home_school(facts(1, student_school_ids=frozenset({1}), is_parent=True), 1)
    assert authz.is_home_school(facts(1, staff_school_ids=frozenset({1})), 1)
    assert not authz.is_home_school(facts(1, staff_school_ids=frozenset({1, 2})), 1)
    assert not authz.is_home_school(facts(1, staff_school_ids=frozenset({1}), is_parent=True), 1)
    assert not authz.is_home_school(facts(1), 1)

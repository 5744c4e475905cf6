"""The authorization matrix: what every role may reach on every route of the app.

One row per (method, path) as the router declares it; each row says, for each role, one of
  ALLOW  a 2xx, or a redirect to somewhere other than the login page;
  LOGIN  a redirect to the login page (a signed-out visitor);
  DENY   403 or 404 (refused, or nothing this person may know of);
  BAD    400 (a protocol endpoint called without its parameters: it answers nobody);
  BEARER 401 (an OAuth endpoint that takes a bearer token or client credentials, not a session).

A route missing from MATRIX fails tests/functional/security/test_authorization_matrix.py:
add its row here. Path parameters come from `TARGETS` names (see `build_targets`): ids of
objects in 之江汇学校's 五年级1班 that some roles reach and others must not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid.audit.service import ClientInfo
from campusid.badges.models import BadgeStageSetting
from campusid.classes.models import CadrePosition, JoinRequest, JoinRequestStatus
from campusid.context import Services
from campusid.families.models import ParentLink
from campusid.servicedesk import service as servicedesk
from campusid.servicedesk.models import CallerRelation
from tests.support.oidc import register

ALLOW, LOGIN, DENY, BAD, BEARER = "allow", "login", "deny", "bad", "bearer"

# Every role the matrix walks, and the demo account that plays it (None: signed out).
ROLES: dict[str, str | None] = {
    "anonymous": None,
    "student": "lixiaoyao",
    "parent": "p_lidaniang",
    "subject_teacher": "zhaoshuxue",
    "homeroom_teacher": "chenxiaokai",
    "school_admin": "xx_admin",
    # The district's second demo school (柯桥实验小学) against the first school's objects.
    "other_school_admin": "kq_admin",
    "other_school_teacher": "wulaoshi",
    "agent": "kefu01",
    "platform_admin": "pt_admin",
}
SIGNED_IN = [role for role, login in ROLES.items() if login]


@dataclass(frozen=True)
class Row:
    """What each role gets on one route, and how to call it."""

    expect: Mapping[str, str]
    params: Mapping[str, str] = field(default_factory=dict)  # path parameter -> literal value
    query: str = ""  # appended to a GET
    form: Mapping[str, Any] = field(default_factory=dict)  # fields a POST needs to pass parsing
    probe: str = ""  # for a mounted app: the path to request


def everyone(outcome: str = ALLOW) -> dict[str, str]:
    """Every role, signed out included, gets the same."""
    return dict.fromkeys(ROLES, outcome)


def signed_in() -> dict[str, str]:
    """Any signed-in person; the signed-out visitor is sent to sign in."""
    return {**everyone(), "anonymous": LOGIN}


def only(*roles: str, others: str = DENY) -> dict[str, str]:
    """The listed roles; every other signed-in role gets `others`; signed out: sign in."""
    unknown = set(roles) - set(ROLES)
    assert not unknown, unknown
    return {role: (ALLOW if role in roles else others) for role in SIGNED_IN} | {"anonymous": LOGIN}


def but(base: Mapping[str, str], **changes: str) -> dict[str, str]:
    """A copy of `base` with some roles changed."""
    unknown = set(changes) - set(ROLES)
    assert not unknown, unknown
    return {**base, **changes}


CLASS_VIEWERS = ("subject_teacher", "homeroom_teacher", "school_admin")
CLASS_MANAGERS = ("homeroom_teacher", "school_admin")
STAFF_NO_CLASSES = ("school_admin", "other_school_admin", "agent", "platform_admin")

MATRIX: dict[tuple[str, str], Row] = {
    # ------------------------------------------------------------------ the app's frame
    ("GET", "/api/openapi.json"): Row(everyone()),  # development only (tests run so)
    ("GET", "/api/docs"): Row(everyone()),
    ("GET", "/docs/oauth2-redirect"): Row(everyone()),
    ("MOUNT", "/static"): Row(everyone(), probe="/static/app.css"),
    ("GET", "/lang/{code}"): Row(everyone(), params={"code": "zh_CN"}),
    ("GET", "/dev/outbox"): Row(everyone()),  # development and demo mode only
    # ------------------------------------------------------------------ accounts
    ("GET", "/login"): Row(everyone()),
    ("POST", "/login"): Row(everyone()),
    ("POST", "/logout"): Row(everyone()),
    ("GET", "/password/change-required"): Row(signed_in()),
    ("POST", "/password/change-required"): Row(signed_in()),
    ("GET", "/account/password"): Row(signed_in()),
    ("POST", "/account/password"): Row(signed_in()),
    ("GET", "/"): Row(signed_in()),
    # ------------------------------------------------------------------ 扫码登录卡 (issue 24)
    ("GET", "/login/badge"): Row(everyone()),
    ("POST", "/login/badge"): Row(everyone(BAD)),  # no badge: refused, the same for all
    ("GET", "/classes/{class_id}/badges"): Row(only(*CLASS_MANAGERS)),
    ("GET", "/m/classes/{class_id}/badges"): Row(only(*CLASS_MANAGERS)),
    ("POST", "/classes/{class_id}/badges/print"): Row(only(*CLASS_MANAGERS)),
    ("POST", "/classes/{class_id}/badges/{student_id}/revoke"): Row(only(*CLASS_MANAGERS)),
    # ------------------------------------------------------------------ classes (issue 4)
    ("GET", "/teaching"): Row(signed_in()),
    ("GET", "/m/classes"): Row(signed_in()),
    ("GET", "/m/classes/{class_id}"): Row(only(*CLASS_VIEWERS)),
    ("GET", "/m/classes/{class_id}/members"): Row(only(*CLASS_VIEWERS)),
    ("GET", "/m/classes/{class_id}/invite"): Row(only(*CLASS_VIEWERS)),
    ("GET", "/m/classes/{class_id}/students/{student_id}"): Row(only(*CLASS_VIEWERS)),
    ("GET", "/m/classes/{class_id}/students/{student_id}/message"): Row(only(*CLASS_VIEWERS)),
    ("POST", "/m/classes/{class_id}/students/{student_id}/message"): Row(
        only(*CLASS_VIEWERS), form={"text": "你好"}
    ),
    ("GET", "/m/classes/{class_id}/students/{student_id}/{action}"): Row(
        only(*CLASS_MANAGERS), params={"action": "reset"}
    ),
    ("POST", "/m/classes/{class_id}/students/{student_id}/reset"): Row(only(*CLASS_MANAGERS)),
    ("POST", "/m/classes/{class_id}/students/{student_id}/remove"): Row(only(*CLASS_MANAGERS)),
    ("GET", "/classes/{class_id}"): Row(only(*CLASS_VIEWERS)),
    ("GET", "/classes/{class_id}/manage"): Row(only(*CLASS_MANAGERS)),
    ("GET", "/classes/{class_id}/manage/students"): Row(only(*CLASS_MANAGERS)),
    ("POST", "/classes/{class_id}/manage/students/reset"): Row(
        only(*CLASS_MANAGERS), form={"student_ids": "{student_id}"}
    ),
    ("POST", "/classes/{class_id}/manage/students/remove"): Row(
        only(*CLASS_MANAGERS), form={"student_ids": "{student_id}"}
    ),
    ("GET", "/classes/{class_id}/manage/students/{student_id}/edit"): Row(only(*CLASS_MANAGERS)),
    ("POST", "/classes/{class_id}/manage/students/{student_id}/edit"): Row(
        only(*CLASS_MANAGERS),
        form={"real_name": "李逍遥", "gender": "male", "status": "normal"},
    ),
    ("GET", "/classes/{class_id}/manage/students/add"): Row(only(*CLASS_MANAGERS)),
    ("POST", "/classes/{class_id}/manage/students/add"): Row(
        only(*CLASS_MANAGERS), form={"real_name": "新同学", "gender": "male"}
    ),
    ("POST", "/classes/{class_id}/manage/students/add-parked"): Row(
        only(*CLASS_MANAGERS), form={"student_id": "{student_id}"}
    ),
    ("GET", "/classes/{class_id}/manage/teachers"): Row(only(*CLASS_MANAGERS)),
    ("GET", "/classes/{class_id}/manage/requests"): Row(only(*CLASS_MANAGERS)),
    ("POST", "/classes/{class_id}/manage/requests/{request_id}"): Row(
        only(*CLASS_MANAGERS), form={"decision": "refuse"}
    ),
    ("GET", "/classes/{class_id}/manage/search"): Row(only(*CLASS_MANAGERS)),
    ("GET", "/classes/{class_id}/manage/positions"): Row(only(*CLASS_MANAGERS)),
    ("POST", "/classes/{class_id}/manage/positions"): Row(
        only(*CLASS_MANAGERS), form={"name": "学习委员"}
    ),
    ("POST", "/classes/{class_id}/manage/positions/{position_id}/delete"): Row(
        only(*CLASS_MANAGERS)
    ),
    ("GET", "/join"): Row(signed_in()),
    ("POST", "/join"): Row(signed_in()),
    # ------------------------------------------------------------------ families (issue 5)
    ("GET", "/me"): Row(signed_in()),
    # 我的孩子: anyone may be a parent (a teacher often is), except a student.
    ("GET", "/me/children"): Row(but(signed_in(), student=DENY)),
    # Issue 18: agents and platform administrators do not link children with that account.
    ("GET", "/me/children/link"): Row(
        but(signed_in(), student=DENY, agent=DENY, platform_admin=DENY)
    ),
    ("POST", "/me/children/link"): Row(but(signed_in(), agent=DENY, platform_admin=DENY)),
    ("GET", "/me/children/{child_id}"): Row(only("parent")),
    ("GET", "/me/children/{child_id}/avatar"): Row(only("parent")),
    ("POST", "/me/children/{child_id}/avatar"): Row(only("parent")),
    ("GET", "/me/children/{child_id}/password"): Row(only("parent")),
    ("POST", "/me/children/{child_id}/password"): Row(
        only("parent"), form={"new_password": "Child#2026x", "confirm_password": "Child#2026x"}
    ),
    ("POST", "/me/children/{child_id}/unlink"): Row(only("parent")),
    ("GET", "/signup"): Row(everyone()),
    ("POST", "/signup/code"): Row(everyone()),
    ("POST", "/signup"): Row(everyone()),
    ("GET", "/school/links"): Row(only("school_admin", "other_school_admin")),
    ("POST", "/school/links/{link_id}/remove"): Row(only("school_admin")),
    # ------------------------------------------------------------------ messaging
    ("GET", "/notices"): Row(signed_in()),
    ("POST", "/notices/read"): Row(signed_in()),
    # ------------------------------------------------------------------ OpenID Connect (issue 11)
    ("GET", "/.well-known/openid-configuration"): Row(everyone()),
    ("GET", "/oauth/jwks"): Row(everyone()),
    ("GET", "/oauth/authorize"): Row(everyone(BAD)),  # no client_id: an error page for all
    ("GET", "/oauth/authorize/continue"): Row(everyone()),  # the interstitial hop
    ("POST", "/oauth/authorize/consent"): Row(but(everyone(BAD), anonymous=LOGIN)),
    ("POST", "/oauth/token"): Row(everyone(BAD)),  # no grant_type
    ("GET", "/oauth/userinfo"): Row(everyone(BEARER)),
    ("POST", "/oauth/userinfo"): Row(everyone(BEARER)),
    ("POST", "/oauth/revoke"): Row(everyone(BEARER)),
    ("GET", "/oauth/logout"): Row(everyone()),
    ("POST", "/oauth/logout"): Row(everyone()),
    ("POST", "/oauth/logout/confirm"): Row(everyone()),
    ("GET", "/platform/clients"): Row(only("platform_admin")),
    ("GET", "/platform/clients/new"): Row(only("platform_admin")),
    ("POST", "/platform/clients"): Row(only("platform_admin")),
    ("GET", "/platform/clients/{client_pk}"): Row(only("platform_admin")),
    ("POST", "/platform/clients/{client_pk}"): Row(only("platform_admin")),
    ("POST", "/platform/clients/{client_pk}/secret"): Row(only("platform_admin")),
    ("POST", "/platform/clients/{client_pk}/enabled"): Row(only("platform_admin")),
    # ------------------------------------------------------------------ platform
    ("GET", "/platform"): Row(only("platform_admin")),
    ("GET", "/platform/agents"): Row(only("platform_admin")),
    ("POST", "/platform/agents"): Row(only("platform_admin"), form={"login": "zhaoshuxue"}),
    ("POST", "/platform/agents/{user_id}/remove"): Row(only("platform_admin")),
    # ------------------------------------------------------------------ 账号安全 (issue 6)
    ("GET", "/account/security"): Row(signed_in()),
    ("POST", "/account/security/{kind}/code"): Row(signed_in()),
    ("POST", "/account/security/{kind}"): Row(signed_in()),
    # ------------------------------------------------------------------ 找回密码 (issue 6)
    ("GET", "/recovery"): Row(everyone()),
    ("GET", "/recovery/captcha"): Row(everyone()),
    ("GET", "/recovery/captcha-box"): Row(everyone()),
    ("GET", "/recovery/schools"): Row(everyone()),
    ("POST", "/recovery/code"): Row(everyone()),
    ("POST", "/recovery/verify"): Row(everyone()),
    ("POST", "/recovery/student"): Row(everyone()),
    ("POST", "/recovery/teacher"): Row(everyone()),
    ("POST", "/recovery/password"): Row(everyone()),
    ("POST", "/recovery/restart"): Row(everyone()),
    # The homeroom teachers of a school that lets them approve 找回密码 (之江汇学校 here, see
    # build_targets; 柯桥实验小学 has it off): their own classes' requests only (issue 23).
    ("GET", "/recovery/approvals"): Row(only("homeroom_teacher")),
    ("POST", "/recovery/approvals/{request_id}/{decision}"): Row(
        only("homeroom_teacher"), params={"decision": "approve"}
    ),
    # ------------------------------------------------------------------ service hotline (issue 7)
    ("GET", "/servicedesk"): Row(only("agent")),
    ("POST", "/servicedesk/search"): Row(only("agent"), form={"identifier": "lixiaoyao"}),
    ("POST", "/servicedesk/tickets"): Row(
        only("agent"), form={"user_id": "{student_id}", "relation": "student"}
    ),
    ("GET", "/servicedesk/tickets/{ticket_id}"): Row(only("agent")),
    ("POST", "/servicedesk/tickets/{ticket_id}/check"): Row(
        only("agent"), form={"fact": "real_name", "answer": "李逍遥"}
    ),
    ("POST", "/servicedesk/tickets/{ticket_id}/code"): Row(only("agent")),
    ("POST", "/servicedesk/tickets/{ticket_id}/code/check"): Row(
        only("agent"), form={"code": "000000"}
    ),
    ("POST", "/servicedesk/tickets/{ticket_id}/reset"): Row(only("agent")),
    ("POST", "/servicedesk/tickets/{ticket_id}/close"): Row(only("agent")),
    ("GET", "/servicedesk/supervision"): Row(only("platform_admin")),
    ("GET", "/servicedesk/supervision/tickets/{ticket_id}"): Row(only("platform_admin")),
    # ------------------------------------------------------------------ 审计日志 (issue 8)
    ("GET", "/audit"): Row(only("school_admin", "other_school_admin", "platform_admin")),
    ("POST", "/audit"): Row(only("school_admin", "other_school_admin", "platform_admin")),
    ("POST", "/audit/export"): Row(only("school_admin", "other_school_admin", "platform_admin")),
    # ------------------------------------------------------------------ sign-in captcha (issue 18)
    ("GET", "/login/captcha"): Row(everyone()),
    ("GET", "/login/captcha-box"): Row(everyone()),
}


# ---------------------------------------------------------------------- school administration
# (issue 3) Only the school's own administrators; another school's administrator is refused.
# A POST is sent without its form: the administrator passes authorization and is then told the
# form is incomplete (400); everyone else is refused before the form is read.
SCHOOL_ADMIN_ONLY = only("school_admin")
SCHOOL_ADMIN_POST = but(only("school_admin"), school_admin=BAD)

# Rows whose administrator cell is DENY name objects that are not there for that page (a teaching
# class page given an administrative class, an empty form naming nothing): the administrator
# is told "not found"; the point of the row is that every other role is refused first.
SCHOOL_ROWS: dict[tuple[str, str], Row] = {
    ("GET", "/school/{school_id}/members/add"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/members/{user_id}"): Row(
        SCHOOL_ADMIN_ONLY, params={"user_id": "{student_id}"}
    ),
    ("GET", "/school/{school_id}/teachers"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/teachers/add"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/teachers/batch"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/teachers/quick"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/classes/{class_id}/students"): Row(
        but(SCHOOL_ADMIN_ONLY, school_admin=DENY)
    ),
    ("GET", "/school/{school_id}/settings"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school"): Row(but(only("school_admin", "other_school_admin"))),
    ("GET", "/school/{school_id}"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/campuses/{campus_id}"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/stages/{stage_id}"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/grades/{grade_id}"): Row(SCHOOL_ADMIN_ONLY),
    # issue 23: 年级, a grade leader's grades (no role of this table leads one; a grade
    # leader's own visit is in tests/functional/accounts/test_navigation.py)
    ("GET", "/grade"): Row(only()),
    ("GET", "/school/{school_id}/classes/{class_id}"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/teaching"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/graduated"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/search"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/quick-create"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/campuses/{campus_id}/stages/new"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/stages/{stage_id}/grades/new"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/grades/{grade_id}/classes/new"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/campuses/{campus_id}/edit"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/stages/{stage_id}/settings"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/stages/{stage_id}/badges"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/grades/{grade_id}/settings"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/classes/{class_id}/edit"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/teaching/new"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/roster"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/roster/template.xlsx"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/roster/errors/{token}"): Row(
        but(SCHOOL_ADMIN_ONLY, school_admin=DENY), params={"token": "no-such-file"}
    ),
    ("GET", "/school/{school_id}/roster/students.xlsx"): Row(SCHOOL_ADMIN_ONLY),
    ("GET", "/school/{school_id}/roster/teachers.xlsx"): Row(SCHOOL_ADMIN_ONLY),
    ("POST", "/school/{school_id}/members/add"): Row(SCHOOL_ADMIN_POST),
    ("POST", "/school/{school_id}/members/{user_id}/move"): Row(
        SCHOOL_ADMIN_POST, params={"user_id": "{student_id}"}
    ),
    ("POST", "/school/{school_id}/members/{user_id}/remove-from-class"): Row(
        SCHOOL_ADMIN_ONLY, params={"user_id": "{student_id}"}
    ),
    ("POST", "/school/{school_id}/members/{user_id}/leave"): Row(
        SCHOOL_ADMIN_ONLY, params={"user_id": "{student_id}"}
    ),
    ("POST", "/school/{school_id}/members/{user_id}/parents"): Row(
        SCHOOL_ADMIN_POST, params={"user_id": "{student_id}"}
    ),
    ("POST", "/school/{school_id}/teachers/add"): Row(SCHOOL_ADMIN_POST),
    ("POST", "/school/{school_id}/teachers/assign"): Row(SCHOOL_ADMIN_POST),
    ("POST", "/school/{school_id}/teachers/{teacher_id}/unassign"): Row(
        but(SCHOOL_ADMIN_ONLY, school_admin=DENY)
    ),
    ("POST", "/school/{school_id}/teachers/batch"): Row(SCHOOL_ADMIN_POST),
    ("POST", "/school/{school_id}/teachers/quick"): Row(but(SCHOOL_ADMIN_ONLY, school_admin=DENY)),
    ("POST", "/school/{school_id}/classes/{class_id}/students"): Row(SCHOOL_ADMIN_POST),
    ("POST", "/school/{school_id}/classes/{class_id}/students/{user_id}/remove"): Row(
        but(SCHOOL_ADMIN_ONLY, school_admin=DENY), params={"user_id": "{student_id}"}
    ),
    ("POST", "/school/{school_id}/settings/default-password"): Row(SCHOOL_ADMIN_POST),
    ("POST", "/school/{school_id}/settings"): Row(SCHOOL_ADMIN_POST),
    ("POST", "/school/{school_id}/search"): Row(SCHOOL_ADMIN_ONLY),
    ("POST", "/school/{school_id}/quick-create"): Row(SCHOOL_ADMIN_POST),
    ("POST", "/school/{school_id}/campuses/{campus_id}/stages/new"): Row(SCHOOL_ADMIN_POST),
    ("POST", "/school/{school_id}/stages/{stage_id}/grades/new"): Row(SCHOOL_ADMIN_POST),
    ("POST", "/school/{school_id}/grades/{grade_id}/classes/new"): Row(SCHOOL_ADMIN_POST),
    ("POST", "/school/{school_id}/campuses/{campus_id}/edit"): Row(SCHOOL_ADMIN_POST),
    ("POST", "/school/{school_id}/campuses/{campus_id}/delete"): Row(SCHOOL_ADMIN_POST),
    ("POST", "/school/{school_id}/stages/{stage_id}/settings"): Row(SCHOOL_ADMIN_ONLY),
    ("POST", "/school/{school_id}/stages/{stage_id}/badges"): Row(SCHOOL_ADMIN_ONLY),
    ("POST", "/school/{school_id}/stages/{stage_id}/delete"): Row(SCHOOL_ADMIN_POST),
    ("POST", "/school/{school_id}/grades/{grade_id}/promote"): Row(SCHOOL_ADMIN_ONLY),
    ("POST", "/school/{school_id}/grades/{grade_id}/graduate"): Row(SCHOOL_ADMIN_POST),
    ("POST", "/school/{school_id}/grades/{grade_id}/leaders"): Row(SCHOOL_ADMIN_POST),
    ("POST", "/school/{school_id}/grades/{grade_id}/leaders/{teacher_id}/remove"): Row(
        SCHOOL_ADMIN_ONLY
    ),
    ("POST", "/school/{school_id}/grades/{grade_id}/delete"): Row(SCHOOL_ADMIN_POST),
    ("POST", "/school/{school_id}/classes/{class_id}/edit"): Row(SCHOOL_ADMIN_POST),
    ("POST", "/school/{school_id}/classes/{class_id}/delete"): Row(SCHOOL_ADMIN_POST),
    ("POST", "/school/{school_id}/teaching/new"): Row(but(SCHOOL_ADMIN_ONLY, school_admin=DENY)),
    ("POST", "/school/{school_id}/roster/import"): Row(SCHOOL_ADMIN_POST),
}
MATRIX.update(SCHOOL_ROWS)
# 转学申请 (issue 16): the sending school's administrators decide; filed from 添加学生. No
# request has the id named, so the administrator is told "not found" where a request is named.
MATRIX.update(
    {
        ("GET", "/school/{school_id}/transfers"): Row(SCHOOL_ADMIN_ONLY),
        ("POST", "/school/{school_id}/transfers"): Row(SCHOOL_ADMIN_POST),
        ("POST", "/school/{school_id}/transfers/{request_id}/approve"): Row(
            but(SCHOOL_ADMIN_ONLY, school_admin=DENY), params={"request_id": "9999999"}
        ),
        ("POST", "/school/{school_id}/transfers/{request_id}/refuse"): Row(
            but(SCHOOL_ADMIN_ONLY, school_admin=DENY), params={"request_id": "9999999"}
        ),
        # A parent decides only where the region allows it (off by default: no such pages).
        ("GET", "/me/transfers"): Row(only()),
        ("POST", "/me/transfers/{request_id}/approve"): Row(
            only(), params={"request_id": "9999999"}
        ),
        ("POST", "/me/transfers/{request_id}/refuse"): Row(
            only(), params={"request_id": "9999999"}
        ),
    }
)
# District organisation pages (issue 10's count fold): platform administrators only.
MATRIX.update(
    {
        ("GET", "/districts"): Row(only("platform_admin")),
        ("GET", "/district/{district_id}"): Row(only("platform_admin")),
    }
)
# Onboarding (issue 16, 平台管理 → 学校): platform administrators only.
MATRIX.update(
    {
        ("GET", "/platform/schools"): Row(only("platform_admin")),
        ("GET", "/platform/schools/new"): Row(only("platform_admin")),
        ("POST", "/platform/schools"): Row(only("platform_admin"), form={"name": "新学校"}),
        ("POST", "/platform/districts"): Row(only("platform_admin"), form={"name": "新区"}),
        ("GET", "/platform/schools/{school_id}"): Row(only("platform_admin")),
        ("POST", "/platform/schools/{school_id}/suspend"): Row(only("platform_admin")),
        ("POST", "/platform/schools/{school_id}/reopen"): Row(only("platform_admin")),
        ("POST", "/platform/schools/{school_id}/admins"): Row(
            only("platform_admin"), form={"login": "zhaoshuxue"}
        ),
        ("POST", "/platform/schools/{school_id}/admins/new"): Row(
            only("platform_admin"), form={"admin_name": "王新"}
        ),
        ("POST", "/platform/schools/{school_id}/admins/{user_id}/remove"): Row(
            only("platform_admin")
        ),
    }
)
# The image captcha of any form (issue 18): open to everyone, like the forms behind it.
MATRIX.update(
    {
        ("GET", "/captcha/{form}"): Row(everyone(), params={"form": "signup"}),
        ("GET", "/captcha/{form}/box"): Row(everyone(), params={"form": "signup"}),
    }
)


def build_targets(db: Session, services: Services, world: Any) -> dict[str, str]:
    """Path parameter name -> an id in 之江汇学校 (五年级1班, 李逍遥 and his mother)."""
    now = services.clock.now()
    school_class = world.class51
    student = world["lixiaoyao"]
    position = CadrePosition(class_id=school_class.id, name="班长")
    request = JoinRequest(
        class_id=school_class.id,
        user_id=world["p_zhoujia"].id,
        role="parent",
        status=JoinRequestStatus.PENDING,
        created_at=now,
    )
    student.avatar = b"\xff\xd8\xff\xd9"  # so the parent's 头像 page has one to show
    # issue 23: 之江汇学校 lets its homeroom teachers approve 找回密码 (找回密码审核 opens)
    world.school.allow_teacher_recovery = True
    # issue 24: badges on for the class's year (五年级), so its managers may print them
    badges_on = BadgeStageSetting(stage_id=school_class.grade.stage_id, years=[5])
    db.add_all([position, request, badges_on])
    db.flush()
    ticket = servicedesk.open_ticket(
        db,
        services=services,
        agent=world["kefu01"],
        client=ClientInfo(),
        user_id=student.id,
        relation=CallerRelation.STUDENT,
    )
    link_id = db.scalar(
        select(ParentLink.id).where(
            ParentLink.parent_id == world["p_lidaniang"].id, ParentLink.child_id == student.id
        )
    )
    client_row, _secret = register(db, world["pt_admin"], now)
    # issue 22: an application that may read rosters (应用名册授权 lists only those)
    client_row.service_scopes = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly"
    db.commit()
    return {
        "class_id": str(school_class.id),
        "student_id": str(student.id),
        "child_id": str(student.id),
        "request_id": str(request.id),
        "position_id": str(position.id),
        "ticket_id": str(ticket.id),
        "link_id": str(link_id),
        "client_pk": str(client_row.id),
        "user_id": str(world["kefu01"].id),
        "kind": "phone",
        "school_id": str(world.school.id),
        "district_id": str(world.school.district_id),
        "campus_id": str(school_class.campus_id),
        "stage_id": str(school_class.grade.stage_id),
        "grade_id": str(school_class.grade_id),
        "teacher_id": str(world["zhaoshuxue"].id),
        "token": "no-such-file",
    }


def fill(path: str, row: Row, targets: Mapping[str, str]) -> str:
    """The path with its parameters filled in (row literals first, then the world's ids)."""
    values = {**targets, **{k: v.format(**targets) for k, v in row.params.items()}}
    try:
        return path.format(**values)
    except KeyError as missing:
        raise AssertionError(
            f"{path}: no value for path parameter {missing}; add it to build_targets() "
            "or to the row's params in tests/support/matrix.py"
        ) from None


def form_for(row: Row, targets: Mapping[str, str]) -> dict[str, Any]:
    """The row's form fields with `{name}` placeholders filled from the targets."""
    return {
        key: value.format(**targets) if isinstance(value, str) else value
        for key, value in row.form.items()
    }


def missing_rows(keys: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Routes the app serves that MATRIX does not list."""
    return sorted(key for key in keys if key not in MATRIX)


# Issue 17: 确认导入 of a previewed roster upload (an unknown token is refused with 400).
MATRIX.update(
    {
        ("POST", "/school/{school_id}/roster/import/confirm"): Row(
            SCHOOL_ADMIN_POST, form={"token": "no-such-upload"}
        ),
    }
)
# Issue 17: 撤销升级 / 撤销毕业 (the demo's grade has neither to undo: refused with 400).
MATRIX.update(
    {
        ("POST", "/school/{school_id}/grades/{grade_id}/unpromote"): Row(SCHOOL_ADMIN_POST),
        ("POST", "/school/{school_id}/grades/{grade_id}/ungraduate"): Row(SCHOOL_ADMIN_POST),
    }
)
# Issue 17: the progress of an upload or confirmation (an unknown key is 404 for everyone).
MATRIX.update(
    {
        ("GET", "/school/{school_id}/roster/progress/{key}"): Row(
            but(SCHOOL_ADMIN_ONLY, school_admin=DENY), params={"key": "no-such-progress-key"}
        ),
    }
)
# Issue 20: health and readiness for everyone; /metrics only from loopback or with the token
# (the matrix's browsers are neither: 404).
MATRIX.update(
    {
        ("GET", "/healthz"): Row(everyone()),
        ("GET", "/readyz"): Row(everyone()),
        ("GET", "/metrics"): Row(everyone(DENY)),
    }
)
# Issue 20: 平台管理 → 服务日历, platform administrators only.
MATRIX.update(
    {
        ("GET", "/platform/calendar"): Row(only("platform_admin")),
        ("POST", "/platform/calendar"): Row(only("platform_admin"), form={"year": "2040"}),
    }
)
# Issue 20: 消息投递, the outbox's dead letters (platform administrators; retrying a message that
# does not exist is refused with 400).
MATRIX.update(
    {
        ("GET", "/platform/outbox"): Row(only("platform_admin")),
        ("POST", "/platform/outbox/{message_id}/retry"): Row(
            but(only("platform_admin"), platform_admin=BAD), params={"message_id": "99999999"}
        ),
    }
)
# Issue 17: 更正学制 / 更正入学年份 (a POST without its field is refused with 400).
MATRIX.update(
    {
        ("POST", "/school/{school_id}/stages/{stage_id}/system"): Row(SCHOOL_ADMIN_POST),
        ("POST", "/school/{school_id}/grades/{grade_id}/enrollment-year"): Row(SCHOOL_ADMIN_POST),
    }
)
# Issue 19: two-step verification. The second step answers nobody without a pending sign-in
# (its cookie) -- a signed-in person sending it again is sent home, the sign-in being done;
# pupils are offered no factor; only the next authority up resets one.
MATRIX.update(
    {
        ("GET", "/login/two-step"): Row(everyone(LOGIN)),
        ("POST", "/login/two-step"): Row(but(signed_in(), anonymous=BAD)),
        ("GET", "/account/two-step/setup"): Row(but(signed_in(), student=DENY)),
        ("POST", "/account/two-step/setup"): Row(but(signed_in(), student=DENY)),
        ("POST", "/account/two-step/recovery-codes"): Row(
            only(
                "subject_teacher",
                "homeroom_teacher",
                "school_admin",
                "other_school_admin",
                "other_school_teacher",
                "agent",
                "platform_admin",
            )
        ),
        ("POST", "/account/two-step/{factor_id}/remove"): Row(
            only(), params={"factor_id": "99999999"}
        ),
        ("GET", "/account/verify"): Row(signed_in()),
        ("POST", "/account/verify"): Row(signed_in()),
        ("POST", "/people/{user_id}/two-step/reset"): Row(only("platform_admin")),
    }
)
# Issue 19: the two-step policy: 平台管理 → 两步验证策略 (platform administrators; a complete
# form saves and goes back to the page), a school's own tightening for its teachers (学校设置),
# the second step's SMS fallback (nobody without a pending sign-in), and 已记住的设备 → 全部移除
# (one's own, anyone signed in).
MATRIX.update(
    {
        ("GET", "/platform/two-step"): Row(only("platform_admin")),
        ("POST", "/platform/two-step"): Row(
            only("platform_admin"), form={"teacher_need": "optional"}
        ),
        ("POST", "/school/{school_id}/settings/two-step"): Row(SCHOOL_ADMIN_ONLY),
        ("POST", "/login/two-step/sms"): Row(everyone(BAD)),
        ("POST", "/account/two-step/remembered/remove"): Row(signed_in()),
    }
)
# Issue 19: passkeys. Pupils are offered none; the ceremonies' answers without a credential,
# a pending sign-in or a registered key are refusals (400) for everyone signed in.
MATRIX.update(
    {
        ("GET", "/account/passkeys"): Row(but(signed_in(), student=DENY)),
        ("POST", "/account/passkeys/options"): Row(but(signed_in(), student=DENY)),
        ("POST", "/account/passkeys"): Row(but(everyone(BAD), anonymous=LOGIN, student=DENY)),
        ("POST", "/login/two-step/passkey/options"): Row(everyone(BAD)),
        ("POST", "/login/two-step/passkey"): Row(everyone(BAD)),
        ("POST", "/account/verify/passkey/options"): Row(but(everyone(BAD), anonymous=LOGIN)),
        ("POST", "/account/verify/passkey"): Row(but(everyone(BAD), anonymous=LOGIN)),
    }
)
# Issue 21: the `picture` claim's image answers only a bearer access token with `profile`.
MATRIX.update({("GET", "/oauth/picture"): Row(everyone(BEARER))})
# Issue 21: introspection authenticates the client; 授权管理 is one's own, a guardian's of a
# child under 14, or (read-only) a school administrator's of a pupil; {user_id} is the agent's
# adult account here, so only the agent reaches it (tests/functional/oidc/test_grants.py walks
# the parent and the administrator).
MATRIX.update(
    {
        ("POST", "/oauth/introspect"): Row(everyone(BEARER)),
        ("GET", "/account/apps"): Row(signed_in()),
        ("GET", "/people/{user_id}/apps"): Row(only("agent")),
        ("POST", "/people/{user_id}/apps/{client_pk}/withdraw"): Row(only("agent")),
    }
)
# Issue 22: the OneRoster 1.2 binding answers only a client_credentials bearer token (401
# to every session); tests/functional/oneroster/ walks the grants.
_ONEROSTER = "/ims/oneroster/rostering/v1p2"
_ONEROSTER_IDS = {"sourced_id": "x", "school_sourced_id": "x", "class_sourced_id": "x"}
MATRIX.update(
    {
        ("GET", _ONEROSTER + path): Row(everyone(BEARER), params=_ONEROSTER_IDS)
        for path in (
            "/orgs",
            "/orgs/{sourced_id}",
            "/schools",
            "/schools/{sourced_id}",
            "/academicSessions",
            "/academicSessions/{sourced_id}",
            "/classes",
            "/classes/{sourced_id}",
            "/courses",
            "/courses/{sourced_id}",
            "/users",
            "/users/{sourced_id}",
            "/students",
            "/teachers",
            "/enrollments",
            "/enrollments/{sourced_id}",
            "/schools/{school_sourced_id}/classes",
            "/schools/{school_sourced_id}/students",
            "/schools/{school_sourced_id}/teachers",
            "/schools/{school_sourced_id}/enrollments",
            "/classes/{class_sourced_id}/students",
            "/classes/{class_sourced_id}/teachers",
        )
    }
)
# Issue 22: who reads a school's roster: a platform administrator on the application's page,
# the school's own administrator in its console (with the school's OneRoster CSV export).
MATRIX.update(
    {
        ("GET", "/platform/clients/{client_pk}/rosters"): Row(only("platform_admin")),
        ("POST", "/platform/clients/{client_pk}/rosters"): Row(
            only("platform_admin"), form={"school_id": "{school_id}"}
        ),
        ("POST", "/platform/clients/{client_pk}/rosters/{school_id}/revoke"): Row(
            only("platform_admin")
        ),
        ("GET", "/school/{school_id}/apps"): Row(SCHOOL_ADMIN_ONLY),
        ("POST", "/school/{school_id}/apps/{client_pk}/grant"): Row(SCHOOL_ADMIN_ONLY),
        ("POST", "/school/{school_id}/apps/{client_pk}/revoke"): Row(SCHOOL_ADMIN_ONLY),
        ("GET", "/school/{school_id}/apps/oneroster.zip"): Row(SCHOOL_ADMIN_ONLY),
    }
)
# Issue 23: 用户协议 and 隐私政策, public; one's own 同意 (anyone signed in); a guardian's consent
# for a child (the linked parent only: anyone else 403); 平台管理 → 用户协议和隐私政策.
MATRIX.update(
    {
        ("GET", "/terms"): Row(everyone()),
        ("GET", "/privacy"): Row(everyone()),
        ("GET", "/consent"): Row(signed_in()),
        ("POST", "/consent"): Row(signed_in(), form={"agree": "1"}),
        ("POST", "/me/children/{child_id}/consent"): Row(only("parent")),
        ("GET", "/platform/legal"): Row(only("platform_admin")),
        ("GET", "/platform/legal/{kind}"): Row(only("platform_admin"), params={"kind": "terms"}),
        ("POST", "/platform/legal/{kind}"): Row(
            only("platform_admin"),
            params={"kind": "terms"},
            form={"body_zh": "新的用户协议。", "body_en": "New terms."},
        ),
    }
)

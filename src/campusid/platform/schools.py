"""平台管理 → 学校: districts, schools, their administrators, suspending and reopening a school.

The platform's administrators onboard a school here (and `campusid school create` does the same
from the command line): its name, district, code (学校编码) and school system, with a first
administrator who is either a new account with a one-time password or an existing adult
account appointed. A school always keeps at least one administrator.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from pypinyin import lazy_pinyin
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from campusid.accounts import service as accounts
from campusid.accounts.models import AccountStatus, SchoolMembership, SchoolRole, User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import ClientInfo
from campusid.i18n import N_
from campusid.identifiers import (
    InvalidIdentifier,
    name_problem,
    normalize_phone,
    validate_username,
)
from campusid.messaging import service as messaging
from campusid.org import counts
from campusid.org import service as org
from campusid.org.counts import Counts
from campusid.org.models import District, School
from campusid.org.schoolyear import Calendar, SchoolSystem
from campusid.security.passwords import Hasher
from campusid.security.policy import generate_temporary_password
from campusid.web import Refused

MAX_NAME = 64
# 学校编码: letters, digits and dashes, stored upper-case (read out and typed by people).
CODE_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9-]{1,15}")


class OnboardingError(Refused):
    """The platform refuses the request; `messages` say why, in Chinese."""


@dataclass(frozen=True)
class Actor:
    """Who acts: a platform administrator on the pages, nobody named on the command line."""

    user_id: int | None
    client: ClientInfo
    role: str | None = "platform_admin"


@dataclass(frozen=True)
class NewAdmin:
    """A first administrator to create: real name, username (blank: generated), phone."""

    real_name: str
    username: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Appointed:
    """An administrator appointed; `password` is the one-time password of a new account."""

    user: User
    password: str | None = None


@dataclass(frozen=True)
class SchoolLine:
    """A school in the platform's list."""

    school: School
    district_name: str
    admins: int
    counts: Counts


# --------------------------------------------------------------------------- districts


def districts(db: Session) -> list[District]:
    """Every district, by name."""
    return list(db.scalars(select(District).order_by(District.name)))


def create_district(db: Session, *, name: str, actor: Actor, now: datetime) -> District:
    """A new district (区县); its name is unique."""
    clean = _clean_name(name, N_("区县名称"))
    if db.scalar(select(District.id).where(District.name == clean)) is not None:
        raise OnboardingError(N_("区县「%(name)s」已存在", name=clean))
    district = org.get_or_create_district(db, clean)
    _record(db, action=AuditAction.DISTRICT_CREATED, actor=actor, now=now)
    return district


def find_district(db: Session, name: str) -> District | None:
    """The district of that name."""
    return db.scalar(select(District).where(District.name == " ".join(name.split())))


# --------------------------------------------------------------------------- schools


def normalize_code(value: str) -> str:
    """学校编码 as stored: trimmed, upper-case."""
    return value.strip().upper()


def find_school_by_code(db: Session, code: str) -> School | None:
    """The school with this code."""
    return db.scalar(select(School).where(School.code == normalize_code(code)))


def create_school(
    db: Session,
    *,
    name: str,
    district_id: int | None,
    code: str,
    system: SchoolSystem,
    new_admin: NewAdmin | None,
    admin_login: str = "",
    hasher: Hasher,
    actor: Actor,
    now: datetime,
) -> tuple[School, Appointed]:
    """A new school with its first administrator (a new account, or `admin_login` appointed).

    Everything is checked before anything is written; a refusal leaves nothing behind. The
    students' default password (学生默认密码) starts random: the administrator reads and
    changes it in the school's settings.
    """
    problems: list[str] = []
    clean = _clean_name(name, N_("学校名称"), problems)
    district = db.get(District, district_id) if district_id else None
    if district is None:
        problems.append(N_("请选择区县"))
    elif clean and db.scalar(
        select(School.id).where(School.district_id == district.id, School.name == clean)
    ):
        problems.append(N_("%(district)s已有学校「%(name)s」", district=district.name, name=clean))
    school_code = normalize_code(code)
    if not CODE_PATTERN.fullmatch(school_code):
        problems.append(N_("学校编码须为2-16位字母、数字或短横线"))
    elif find_school_by_code(db, school_code) is not None:
        problems.append(N_("学校编码「%(code)s」已被使用", code=school_code))
    existing: User | None = None
    if new_admin is not None:
        problems += _new_admin_problems(db, new_admin)
    else:
        existing, problem = _appointable(db, admin_login)
        if problem:
            problems.append(problem)
    if problems:
        raise OnboardingError(problems)
    school = org.create_school(
        db,
        name=clean,
        district=district,
        default_password=generate_temporary_password(),
        hasher=hasher,
        now=now,
    )
    school.code = school_code
    school.school_system = system
    _record(db, action=AuditAction.SCHOOL_CREATED, actor=actor, now=now, school_id=school.id)
    if new_admin is not None:
        appointed = _create_admin(
            db, school=school, person=new_admin, hasher=hasher, actor=actor, now=now
        )
    else:
        assert existing is not None
        _appoint(db, school=school, user=existing, actor=actor, now=now)
        appointed = Appointed(existing)
    return school, appointed


def school_list(
    db: Session, *, search: str = "", calendar: Calendar | None = None
) -> list[SchoolLine]:
    """Every school (or those whose name or code matches), with its counts, in three queries."""
    query = (
        select(School, District.name)
        .outerjoin(District, District.id == School.district_id)
        .order_by(District.name, School.name)
    )
    text = search.strip()
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(School.name.like(pattern, escape="\\"), School.code == normalize_code(text))
        )
    rows = db.execute(query).all()
    ids = [school.id for school, _ in rows]
    totals = counts.school_totals(db, school_ids=ids, calendar=calendar)
    admins = dict(
        db.execute(
            select(SchoolMembership.school_id, func.count())
            .where(
                SchoolMembership.school_id.in_(ids),
                SchoolMembership.role == SchoolRole.SCHOOL_ADMIN,
                SchoolMembership.active.is_(True),
            )
            .group_by(SchoolMembership.school_id)
        ).all()
    )
    return [
        SchoolLine(
            school, name or "", int(admins.get(school.id, 0)), totals.get(school.id, Counts())
        )
        for school, name in rows
    ]


def set_suspended(
    db: Session, *, school: School, suspended: bool, actor: Actor, now: datetime
) -> None:
    """停用 or 启用 a school; its administrators and teachers lose or regain the console.

    Its students and parents are not affected: a pupil keeps signing in to every application.
    """
    if suspended == (school.suspended_at is not None):
        raise OnboardingError(N_("该学校已停用") if suspended else N_("该学校未停用"))
    school.suspended_at = now if suspended else None
    _record(
        db,
        action=AuditAction.SCHOOL_SUSPENDED if suspended else AuditAction.SCHOOL_REOPENED,
        actor=actor,
        now=now,
        school_id=school.id,
    )


# --------------------------------------------------------------------------- administrators


def administrators(db: Session, *, school: School) -> list[User]:
    """The school's active administrators, by name."""
    return list(
        db.scalars(
            select(User)
            .join(SchoolMembership, SchoolMembership.user_id == User.id)
            .where(
                SchoolMembership.school_id == school.id,
                SchoolMembership.role == SchoolRole.SCHOOL_ADMIN,
                SchoolMembership.active.is_(True),
            )
            .order_by(User.real_name, User.id)
        )
    )


def add_new_admin(
    db: Session,
    *,
    school: School,
    person: NewAdmin,
    hasher: Hasher,
    actor: Actor,
    now: datetime,
) -> Appointed:
    """A new account made administrator of the school, with a one-time password."""
    problems = _new_admin_problems(db, person)
    if problems:
        raise OnboardingError(problems)
    return _create_admin(db, school=school, person=person, hasher=hasher, actor=actor, now=now)


def appoint_admin(db: Session, *, school: School, login: str, actor: Actor, now: datetime) -> User:
    """An existing adult account (found by any identifier) made administrator of the school."""
    user, problem = _appointable(db, login)
    if problem:
        raise OnboardingError(problem)
    assert user is not None
    if school.id in _admin_school_ids(db, user.id):
        raise OnboardingError(N_("%(user)s 已经是该学校的管理员", user=user.real_name))
    _appoint(db, school=school, user=user, actor=actor, now=now)
    return user


def remove_admin(db: Session, *, school: School, user_id: int, actor: Actor, now: datetime) -> User:
    """End an administrator's role in the school; the last one is never removed."""
    # Lock the school's row first: two removals at once must not leave it with none.
    db.execute(select(School.id).where(School.id == school.id).with_for_update())
    admins = administrators(db, school=school)
    user = next((admin for admin in admins if admin.id == user_id), None)
    if user is None:
        raise OnboardingError(N_("该账号不是该学校的管理员"))
    if len(admins) == 1:
        raise OnboardingError(
            N_(
                "%(user)s 是该学校唯一的管理员，不能移除。请先任命另一位管理员。",
                user=user.real_name,
            )
        )
    membership = db.scalar(
        select(SchoolMembership).where(
            SchoolMembership.school_id == school.id,
            SchoolMembership.user_id == user.id,
            SchoolMembership.role == SchoolRole.SCHOOL_ADMIN,
        )
    )
    assert membership is not None
    membership.active = False
    membership.left_at = now
    _record(
        db,
        action=AuditAction.SCHOOL_ADMIN_REMOVED,
        actor=actor,
        now=now,
        school_id=school.id,
        target=user.id,
    )
    messaging.notify(
        db,
        user_id=user.id,
        kind="school_admin_role",
        now=now,
        actor_id=actor.user_id,
        title=N_("您的学校管理员身份已取消"),
        body=N_("平台管理员已取消您在%(school)s的学校管理员身份。", school=school.name),
    )
    return user


# --------------------------------------------------------------------------- helpers


def _clean_name(value: str, label: str, problems: list[str] | None = None) -> str:
    name = " ".join((value or "").split())
    problem = None
    if not name:
        problem = N_("请填写%(label)s", label=label)
    elif len(name) > MAX_NAME:
        problem = N_("%(label)s不能超过%(most)s个字", label=label, most=MAX_NAME)
    if problem is not None:
        if problems is None:
            raise OnboardingError(problem)
        problems.append(problem)
    return name


def _new_admin_problems(db: Session, person: NewAdmin) -> list[str]:
    problems: list[str] = []
    name = " ".join(person.real_name.split())
    if not 1 <= len(name) <= 32:
        problems.append(N_("管理员姓名须为1-32个字"))
    elif (problem := name_problem(name)) is not None:
        problems.append(problem)
    if person.username.strip():
        try:
            username = validate_username(person.username)
        except InvalidIdentifier as exc:
            problems.append(exc.message)
        else:
            if accounts.find_by_login(db, username) is not None:
                problems.append(N_("用户名「%(name)s」已被使用", name=username))
    if person.phone.strip():
        try:
            phone = normalize_phone(person.phone)
        except InvalidIdentifier as exc:
            problems.append(exc.message)
        else:
            if db.scalar(select(User.id).where(User.phone == phone)) is not None:
                problems.append(N_("该手机号已有账号，请改用「任命已有账号」"))
    return problems


def _free_username(db: Session, real_name: str) -> str:
    """The name's pinyin with random digits (zhangsan4821), unused."""
    letters = "".join(ch for ch in "".join(lazy_pinyin(real_name)).lower() if "a" <= ch <= "z")
    base = ("a_" + letters if len(letters) < 2 else letters)[:20]
    for digits in range(4, 9):
        candidate = base + "".join(secrets.choice("0123456789") for _ in range(digits))
        if accounts.find_by_login(db, candidate) is None:
            return candidate
    raise RuntimeError("could not find a free username")


def _create_admin(
    db: Session,
    *,
    school: School,
    person: NewAdmin,
    hasher: Hasher,
    actor: Actor,
    now: datetime,
) -> Appointed:
    real_name = " ".join(person.real_name.split())
    username = (
        validate_username(person.username)
        if person.username.strip()
        else _free_username(db, real_name)
    )
    # Shown once to whoever creates the account, never stored in the clear, never logged; the
    # holder must choose their own at the first sign-in.
    password = generate_temporary_password()
    user = accounts.new_user(
        db,
        username=username,
        real_name=real_name,
        now=now,
        phone=normalize_phone(person.phone) if person.phone.strip() else None,
        password_hash=hasher.hash(password),
        must_change_password=True,
    )
    db.flush()
    _appoint(db, school=school, user=user, actor=actor, now=now, new_account=True)
    return Appointed(user, password)


def _appointable(db: Session, login: str) -> tuple[User | None, str | None]:
    """The adult account named by `login`, or why it cannot be a school's administrator."""
    if not login.strip():
        return None, N_("请输入管理员的用户名或手机号")
    user = accounts.find_by_login(db, login.strip())
    if user is None:
        return None, N_("未找到该账号，请输入用户名、手机号、身份证号、学籍号或邮箱")
    if user.status is not AccountStatus.ACTIVE:
        return None, N_("该账号已停用，不能任命为学校管理员")
    # A pupil's account is never given authority over other people's accounts.
    if accounts.active_school_ids(db, user_id=user.id, role=SchoolRole.STUDENT):
        return None, N_("%(user)s 是学生账号，不能任命为学校管理员", user=user.real_name)
    return user, None


def _admin_school_ids(db: Session, user_id: int) -> list[int]:
    return accounts.active_school_ids(db, user_id=user_id, role=SchoolRole.SCHOOL_ADMIN)


def _appoint(
    db: Session,
    *,
    school: School,
    user: User,
    actor: Actor,
    now: datetime,
    new_account: bool = False,
) -> None:
    accounts.join_school(db, user=user, school_id=school.id, role=SchoolRole.SCHOOL_ADMIN, now=now)
    _record(
        db,
        action=AuditAction.SCHOOL_ADMIN_APPOINTED,
        actor=actor,
        now=now,
        school_id=school.id,
        target=user.id,
    )
    if not new_account:
        messaging.notify(
            db,
            user_id=user.id,
            kind="school_admin_role",
            now=now,
            actor_id=actor.user_id,
            title=N_("您已被任命为学校管理员"),
            body=N_(
                "平台管理员已任命您为%(school)s的学校管理员，可在「学校管理」管理学校。",
                school=school.name,
            ),
        )


def _record(
    db: Session,
    *,
    action: AuditAction,
    actor: Actor,
    now: datetime,
    school_id: int | None = None,
    target: int | None = None,
) -> None:
    audit.record(
        db,
        now=now,
        action=action,
        actor_id=actor.user_id,
        actor_role=actor.role,
        target_user_id=target,
        school_id=school_id,
        client=actor.client,
    )

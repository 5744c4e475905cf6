"""扫码登录卡 (issue 24): print, revoke, and sign in with a badge; where badges are allowed.

A badge is a random 192-bit secret bound to one pupil; the QR code carries it as
`CIDQR1-<token>` and the database keeps only its SHA-256. Printing a new badge revokes the pupil's
earlier one; 挂失 revokes it at once; every badge lapses at the end of the school year (the
school-year boundary of `org.schoolyear`), when the teacher prints the class's badges again.

A badge signs in a pupil only (`authz.may_sign_in_with_badge`), whose class is in a year of its
stage that has 扫码登录 on (default: 一、二年级 of a primary stage), and only from the networks
the school lists, when it lists any. The session it opens is marked "qr": it cannot change a
credential without the password (`web.require_password_session`), and OIDC reports amr ["qr"].
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

import segno
from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid.accounts.models import AccountStatus, User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import Actor, Outcome, Route
from campusid.classes import service as classes
from campusid.clock import SHANGHAI
from campusid.context import Services
from campusid.i18n import N_, Text
from campusid.org import schoolyear
from campusid.org import service as org_service
from campusid.org.models import ClassKind, SchoolClass, StageUnit
from campusid.org.schoolyear import Calendar, Stage
from campusid.security import authz
from campusid.security.permissions import Principal, principal_for
from campusid.security.throttle import address_key
from campusid.types import ClientInfo
from campusid.web import AMR_BADGE, Refused

from .models import Badge, BadgeSchoolSetting, BadgeStageSetting

PREFIX = "CIDQR1-"
DEFAULT_PRIMARY_YEARS = (1, 2)
# Failed badge sign-ins one address may make per window (a token cannot be guessed; this stops
# a loop trying printed or photographed badges that were revoked).
FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW_SECONDS = 900

UNKNOWN = N_("无法识别该登录卡，请用密码登录或联系班主任。")
REVOKED = N_("该登录卡已挂失，请联系班主任重新打印。")
EXPIRED = N_("该登录卡已过期，请联系班主任重新打印。")
NOT_FOR_ACCOUNT = N_("该账号不能使用扫码登录，请用密码登录。")
NOT_ENABLED = N_("所在年级未启用扫码登录，请用密码登录。")
WRONG_NETWORK = N_("扫码登录只能在学校的网络中使用。")
TOO_MANY = N_("尝试次数过多，请稍后再试。")
NOT_IN_CLASS = N_("该学生不在本班")
CLASS_NOT_ENABLED = N_("该班级所在年级未启用扫码登录，请学校管理员在学段设置中开启。")
BAD_NETWORK = N_("网络地址「%(value)s」格式不正确，请填写如 10.20.0.0/16 的地址段")
TOO_MANY_NETWORKS = N_("网络地址段最多填写50个")
BAD_YEAR = N_("学段没有第%(year)s年")


# -- settings ------------------------------------------------------------------------------


def enabled_years(db: Session, unit: StageUnit) -> set[int]:
    """The years of the stage whose pupils may use badges (default: 一、二年级 of primary)."""
    row = db.get(BadgeStageSetting, unit.id)
    if row is None:
        return set(DEFAULT_PRIMARY_YEARS) if unit.stage is Stage.PRIMARY else set()
    return {int(year) for year in row.years}


def set_enabled_years(
    db: Session,
    *,
    services: Services,
    actor: Actor,
    unit: StageUnit,
    years: Sequence[int],
) -> None:
    """启用扫码登录 for these years of the stage (the others off); audited."""
    length = schoolyear.stage_length(unit.stage, unit.school_system)
    wrong = [year for year in years if not 1 <= year <= length]
    if wrong:
        raise Refused(Text(BAD_YEAR, year=wrong[0]))
    chosen = sorted(set(years))
    row = db.get(BadgeStageSetting, unit.id)
    if row is not None and sorted(row.years) == chosen:
        return
    if row is None:
        row = BadgeStageSetting(stage_id=unit.id, years=chosen)
        db.add(row)
    row.years = chosen
    audit.record(
        db,
        now=services.clock.now(),
        action=AuditAction.BADGE_SETTINGS_CHANGED,
        actor_id=actor.user_id,
        school_id=unit.campus.school_id,
        client=actor.client,
        detail={"stage_id": unit.id, "years": chosen},
    )
    db.flush()


def networks_of(db: Session, school_id: int) -> list[str]:
    """The CIDR ranges the school's badges work from (empty: any network)."""
    row = db.get(BadgeSchoolSetting, school_id)
    return [line for line in (row.networks.split() if row else []) if line]


def parse_networks(text: str) -> list[str]:
    """The typed ranges, one a line (or separated by spaces, commas, 、), normalised."""
    values = text.replace(",", " ").replace("，", " ").replace("、", " ").split()
    problems: list[str] = []
    clean: list[str] = []
    for value in values:
        try:
            network = str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            problems.append(Text(BAD_NETWORK, value=value[:64]))
            continue
        if network not in clean:
            clean.append(network)
    if len(clean) > 50:
        problems.append(TOO_MANY_NETWORKS)
    if problems:
        raise Refused(problems)
    return clean


def set_networks(
    db: Session,
    *,
    services: Services,
    actor: Actor,
    school_id: int,
    text: str,
) -> None:
    """Save the school's badge networks (a refusal names each bad range); audited."""
    networks = parse_networks(text)
    if networks == networks_of(db, school_id):
        return
    row = db.get(BadgeSchoolSetting, school_id)
    if row is None:
        row = BadgeSchoolSetting(school_id=school_id, networks="")
        db.add(row)
    row.networks = "\n".join(networks)
    audit.record(
        db,
        now=services.clock.now(),
        action=AuditAction.BADGE_SETTINGS_CHANGED,
        actor_id=actor.user_id,
        school_id=school_id,
        client=actor.client,
        detail={"networks": networks},
    )
    db.flush()


def in_networks(address: str | None, networks: Sequence[str]) -> bool:
    """Whether the client address is in one of the ranges (always, when none is listed)."""
    if not networks:
        return True
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return any(parsed in ipaddress.ip_network(network) for network in networks)


def class_enabled(db: Session, school_class: SchoolClass, cal: Calendar) -> bool:
    """Whether the class's pupils may use badges: an administrative class in a year of its
    stage that has 扫码登录 on."""
    grade = school_class.grade
    if school_class.kind is not ClassKind.ADMINISTRATIVE or grade is None:
        return False
    if org_service.is_graduated(grade, cal.today, cal.boundary):
        return False
    today = org_service.effective_today(grade, cal.today, cal.boundary)
    year = schoolyear.year_in_stage(grade.enrollment_year, today, cal.boundary)
    return year in enabled_years(db, grade.stage_unit)


# -- badges ----------------------------------------------------------------------------------


def hash_secret(token: str) -> str:
    """The stored form of a badge's secret."""
    return hashlib.sha256(token.encode()).hexdigest()


def end_of_school_year(cal: Calendar) -> datetime:
    """The next school-year boundary, at midnight in China: when this year's badges lapse."""
    year = cal.school_year + 1
    boundary = cal.boundary
    day = 28 if (boundary.month, boundary.day) == (2, 29) else boundary.day
    return datetime.combine(date(year, boundary.month, day), time(), SHANGHAI)


def active_badges(db: Session, *, user_ids: Sequence[int], now: datetime) -> dict[int, Badge]:
    """Each pupil's badge that still works (not revoked, not expired)."""
    rows = db.scalars(
        select(Badge).where(
            Badge.user_id.in_(user_ids), Badge.revoked_at.is_(None), Badge.expires_at > now
        )
    )
    return {row.user_id: row for row in rows}


def _revoke_all(db: Session, *, user_id: int, now: datetime) -> int:
    rows = list(
        db.scalars(select(Badge).where(Badge.user_id == user_id, Badge.revoked_at.is_(None)))
    )
    for row in rows:
        row.revoked_at = now
    return len(rows)


def _students(
    db: Session, *, school_class: SchoolClass, student_ids: Sequence[int] | None
) -> list[User]:
    members = classes.students_of(db, school_class=school_class)
    by_id = {member.student_id: member.student for member in members}
    if student_ids is None:
        return list(by_id.values())
    if any(student_id not in by_id for student_id in student_ids):
        raise Refused(NOT_IN_CLASS)
    return [by_id[student_id] for student_id in student_ids]


@dataclass(frozen=True)
class PrintedBadge:
    """A badge just printed: its pupil, the secret (shown this once) and the QR code."""

    user: User
    token: str
    qr_svg: str
    avatar_uri: str | None


def qr_payload(token: str) -> str:
    """What the QR code says (and a USB scanner types)."""
    return PREFIX + token


def _qr_svg(payload: str) -> str:
    code = segno.make(payload, error="m", micro=False)
    return str(code.svg_inline(scale=4, border=2, dark="#000", light="#fff", omitsize=True))


def _avatar_uri(user: User) -> str | None:
    if not user.avatar:
        return None
    return "data:image/png;base64," + base64.b64encode(user.avatar).decode()


def print_badges(
    db: Session,
    *,
    services: Services,
    principal: Principal,
    school_class: SchoolClass,
    cal: Calendar,
    client: ClientInfo,
    student_ids: Sequence[int] | None = None,
) -> list[PrintedBadge]:
    """Issue a new badge to each pupil named (all the class's when None), revoking their
    earlier one; each print audited. Returns the badges to draw (their secrets, once)."""
    authz.check_badge_printer(principal, school_class.scope, action=AuditAction.BADGE_PRINTED.value)
    if not class_enabled(db, school_class, cal):
        raise Refused(CLASS_NOT_ENABLED)
    now = services.clock.now()
    expires = end_of_school_year(cal)
    printed = []
    for user in _students(db, school_class=school_class, student_ids=student_ids):
        revoked = _revoke_all(db, user_id=user.id, now=now)
        token = secrets.token_urlsafe(24)
        db.add(
            Badge(
                user_id=user.id,
                secret_hash=hash_secret(token),
                created_by=principal.user.id,
                created_at=now,
                expires_at=expires,
            )
        )
        audit.record(
            db,
            now=now,
            action=AuditAction.BADGE_PRINTED,
            actor_id=principal.user.id,
            target_user_id=user.id,
            school_id=school_class.school_id,
            client=client,
            detail={"class_id": school_class.id, "replaced": revoked},
        )
        printed.append(PrintedBadge(user, token, _qr_svg(qr_payload(token)), _avatar_uri(user)))
    db.flush()
    return printed


def revoke_badge(
    db: Session,
    *,
    services: Services,
    principal: Principal,
    school_class: SchoolClass,
    student_id: int,
    client: ClientInfo,
) -> int:
    """挂失: the pupil's badge stops working at once; audited. Returns how many were revoked
    (0 when there was none: sent twice, nothing more happens)."""
    authz.check_badge_printer(principal, school_class.scope, action=AuditAction.BADGE_REVOKED.value)
    _students(db, school_class=school_class, student_ids=[student_id])
    now = services.clock.now()
    revoked = _revoke_all(db, user_id=student_id, now=now)
    if revoked:
        audit.record(
            db,
            now=now,
            action=AuditAction.BADGE_REVOKED,
            actor_id=principal.user.id,
            target_user_id=student_id,
            school_id=school_class.school_id,
            client=client,
            detail={"class_id": school_class.id},
        )
    db.flush()
    return revoked


# -- sign-in ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BadgeSignIn:
    """The pupil a badge signed in, or why not (a message for the page)."""

    user: User | None
    message: str | None = None


def _token_of(scanned: str) -> str | None:
    text = scanned.strip()
    if text.startswith(PREFIX):
        text = text[len(PREFIX) :]
    if not 16 <= len(text) <= 64 or not all(c.isalnum() or c in "-_" for c in text):
        return None
    return text


def _refuse(
    db: Session,
    services: Services,
    client: ClientInfo,
    message: str,
    reason: str,
    user_id: int | None = None,
) -> BadgeSignIn:
    services.limits.named("badge.address", FAILURES_PER_ADDRESS, FAILURE_WINDOW_SECONDS).hit(
        address_key(client.address)
    )
    audit.record(
        db,
        now=services.clock.now(),
        action=AuditAction.SIGN_IN,
        outcome=Outcome.FAILURE,
        route=Route.SIGN_IN,
        actor_id=user_id,
        target_user_id=user_id,
        client=client,
        detail={"factor": AMR_BADGE, "reason": reason},
    )
    return BadgeSignIn(None, message)


def sign_in(
    db: Session, *, services: Services, scanned: str, client: ClientInfo, cal: Calendar
) -> BadgeSignIn:
    """Check a scanned badge; on success the pupil (the caller opens a "qr" session).

    Every attempt is audited (on the pupil's account when the badge names one, so their parent
    sees it); failures count against the address (`badge.address`).
    """
    limiter = services.limits.named("badge.address", FAILURES_PER_ADDRESS, FAILURE_WINDOW_SECONDS)
    if limiter.exceeded(address_key(client.address)):
        return BadgeSignIn(None, TOO_MANY)
    token = _token_of(scanned)
    badge = (
        db.scalar(select(Badge).where(Badge.secret_hash == hash_secret(token))) if token else None
    )
    if badge is None:
        return _refuse(db, services, client, UNKNOWN, "unknown_badge")
    now = services.clock.now()
    uid = badge.user_id
    if badge.revoked_at is not None:
        return _refuse(db, services, client, REVOKED, "badge_revoked", uid)
    if badge.expires_at <= now:
        return _refuse(db, services, client, EXPIRED, "badge_expired", uid)
    user = db.get(User, uid)
    if user is None or user.status is not AccountStatus.ACTIVE:
        return _refuse(db, services, client, UNKNOWN, "account_disabled", uid)
    facts = classes.attach_facts(db, user_ids=[uid], today=cal.today)[uid]
    if not authz.may_sign_in_with_badge(facts, principal_for(db, user).roles):
        return _refuse(db, services, client, NOT_FOR_ACCOUNT, "adult_account", uid)
    membership = classes.current_membership(db, student_id=uid, cal=cal)
    school_class = db.get(SchoolClass, membership.class_id) if membership else None
    if school_class is None or not class_enabled(db, school_class, cal):
        return _refuse(db, services, client, NOT_ENABLED, "badges_off", uid)
    if not in_networks(client.address, networks_of(db, school_class.school_id)):
        return _refuse(db, services, client, WRONG_NETWORK, "network_not_listed", uid)
    badge.last_used_at = now
    audit.record(
        db,
        now=now,
        action=AuditAction.SIGN_IN,
        route=Route.SIGN_IN,
        actor_id=uid,
        target_user_id=uid,
        school_id=school_class.school_id,
        client=client,
        detail={"factor": AMR_BADGE},
    )
    return BadgeSignIn(user)

"""Accounts: finding a person by any identifier, signing in, and every password change."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from campusid.accounts import factors, history, throttle
from campusid.accounts.models import (
    AccountStatus,
    DefaultCredential,
    SchoolMembership,
    SchoolRole,
    User,
)
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import ClientInfo, Outcome, Route
from campusid.clock import SHANGHAI
from campusid.context import Services
from campusid.db import begin_reading
from campusid.i18n import N_
from campusid.identifiers import login_lookup_keys, mask_login
from campusid.messaging import service as messaging
from campusid.security.permissions import Principal, Role
from campusid.security.policy import PasswordContext, check_password

GENERIC_SIGN_IN_FAILURE = N_(
    "账号或密码错误。多次输错后需要输入图片验证码并稍候再试；忘记密码可通过「忘记密码」找回。"
)
EMPTY_SIGN_IN = N_("请输入账号和密码")


class SignInError(StrEnum):
    """Why a sign-in was refused: a wrong answer, or the throttle (accounts.throttle)."""

    INVALID = "invalid"
    EMPTY = "empty"  # a field left empty: nothing was looked up, counted or audited
    WAIT = "wait"  # the pair's wait has not ended: the password was not checked
    CAPTCHA = "captcha"  # a solved captcha is needed (missing or wrong): not checked either


@dataclass
class SignInResult:
    """The account on success, or the reason for a refusal and what the next attempt needs."""

    user: User | None
    error: SignInError | None = None
    wait_seconds: int = 0
    captcha: bool = False  # the next attempt needs a solved captcha
    device_cookie: str | None = None  # on success: the browser's device cookie, renewed
    second_step: bool = False  # on success: the person holds a second factor, to be asked
    captcha_given: bool = False  # an answer was typed (and was wrong)

    @property
    def message(self) -> str:
        """What the login page says."""
        if self.error is SignInError.EMPTY:
            return EMPTY_SIGN_IN
        if self.error is SignInError.WAIT:
            return throttle.wait_message(self.wait_seconds)
        if self.error is SignInError.CAPTCHA:
            if self.captcha_given:
                return throttle.CAPTCHA_WRONG_MESSAGE
            return throttle.CAPTCHA_MESSAGE
        return GENERIC_SIGN_IN_FAILURE


def find_by_login(db: Session, login: str) -> User | None:
    """The one account that the value names by any identifier, or None."""
    found = _sign_in_lookup(db, login)
    return found[0] if found else None


def _sign_in_lookup(db: Session, login: str) -> tuple[User, str | None] | None:
    """The one account the value names, with the hash its password is checked against
    (`password_hash_of`), in one statement: the school's default credential joined."""
    keys = login_lookup_keys(login)
    if not keys:
        return None
    conditions = [getattr(User, column) == value for column, value in keys.items()]
    rows = db.execute(
        select(User, DefaultCredential.password_hash)
        .outerjoin(DefaultCredential, DefaultCredential.id == User.default_credential_id)
        .where(or_(*conditions))
        .limit(2)
    ).all()
    # Identifiers are unique per column, and their formats don't overlap, so at most one.
    if len(rows) != 1:
        return None
    user, default_hash = rows[0]
    return user, _checked_hash(user, default_hash)


def password_hash_of(db: Session, user: User) -> str | None:
    """The hash that the account's password is checked against (own, or its school's default)."""
    credential = None
    if not user.password_hash and user.default_credential_id:
        credential = db.get(DefaultCredential, user.default_credential_id)
    return _checked_hash(user, credential.password_hash if credential else None)


def _checked_hash(user: User, default_hash: str | None) -> str | None:
    """The account's own hash, else its school's default credential's (`default_hash`)."""
    return user.password_hash or default_hash


def authenticate(
    db: Session,
    *,
    services: Services,
    login: str,
    password: str,
    client: ClientInfo,
    device_cookie: str | None = None,
    captcha_challenge: str | None = None,
    captcha_answer: str = "",
) -> SignInResult:
    """Check a sign-in under the throttle (accounts.throttle); each checked password costs
    exactly one argon2 verification.

    Unknown identifier, wrong password, disabled account, or an account over its hard limit
    for strangers: the same answer, the same work. A wait or a captcha is decided by the login
    as typed and the client, never by whether the account exists. 找回密码 (route 3) stays open.
    """
    if not login.strip() or not password:
        # Nothing typed is no attempt: not looked up, not counted, not audited.
        return SignInResult(None, SignInError.EMPTY)
    now = services.clock.now()
    device = throttle.read_device(services, device_cookie)
    # Look the account up in a short transaction of its own, so that no database lock is held
    # across the slow hash (on SQLite a write lock would serialise every sign-in of the school).
    with services.session_factory() as lookup:
        begin_reading(lookup)
        found = _sign_in_lookup(lookup, login)
        user_id = found[0].id if found else None
        version = found[0].password_version if found else None
        stored_hash = found[1] if found else None
    attempt = throttle.assess(
        services,
        login=login,
        user_id=user_id,
        password_version=version,
        client=client,
        device=device,
    )
    refusal: SignInResult | None = None
    if attempt.wait:
        refusal = SignInResult(
            None, SignInError.WAIT, wait_seconds=attempt.wait, captcha=attempt.captcha
        )
    elif attempt.captcha and not throttle.solve_captcha(
        services, captcha_challenge, captcha_answer
    ):
        refusal = SignInResult(
            None, SignInError.CAPTCHA, captcha=True, captcha_given=bool(captcha_answer.strip())
        )
    if refusal is not None:
        audit.record(
            db,
            now=now,
            action=AuditAction.SIGN_IN,
            outcome=Outcome.DENIED,
            route=Route.SIGN_IN,
            client=client,
            detail={"reason": str(refusal.error), "login": mask_login(login)},
        )
        return refusal

    if attempt.hard_limited:
        services.hasher.burn(password)
        matched = False
    else:
        matched = services.hasher.verify(stored_hash, password)
    user = db.get(User, user_id) if user_id is not None else None
    ok = user is not None and matched and user.status is AccountStatus.ACTIVE

    if not ok:
        following = throttle.record_failure(services, attempt, user_id=user_id, client=client)
        reason = (
            "unknown"
            if user is None
            else (
                "locked"
                if attempt.hard_limited
                else "disabled"
                if user.status is not AccountStatus.ACTIVE
                else "bad_password"
            )
        )
        audit.record(
            db,
            now=now,
            action=AuditAction.SIGN_IN,
            outcome=Outcome.FAILURE,
            route=Route.SIGN_IN,
            target_user_id=user.id if user else None,
            client=client,
            detail={"reason": reason, "login": mask_login(login)},
        )
        return SignInResult(None, SignInError.INVALID, captcha=following.captcha)

    assert user is not None
    cookie = throttle.record_success(
        services, attempt, user_id=user.id, password_version=user.password_version, device=device
    )
    if user.password_hash and services.hasher.needs_rehash(user.password_hash):
        user.password_hash = services.hasher.hash(password)
    # issue 19: with a second factor, the password is only the first step (the sign-in event
    # says so; the second step records the sign-in with the factor used).
    second_step = factors.has_factor(db, user.id)
    audit.record(
        db,
        now=now,
        action=AuditAction.SIGN_IN,
        route=Route.SIGN_IN,
        actor_id=user.id,
        target_user_id=user.id,
        client=client,
        detail={"second_step": "pending"} if second_step else None,
    )
    return SignInResult(user, device_cookie=cookie, second_step=second_step)


def password_problems(user: User, password: str, confirm: str | None = None) -> list[str]:
    """Every reason the new password is refused for this account, in Chinese; empty if fine."""
    problems = []
    if confirm is not None and password != confirm:
        problems.append(N_("两次输入的密码不一致"))
    problems.extend(v.message for v in check_password(password, context=password_context(user)))
    return problems


def holder_password_problems(
    db: Session,
    *,
    services: Services,
    user: User,
    password: str,
    confirm: str | None = None,
) -> list[str]:
    """Every reason a password the holder chooses is refused: the policy, then reuse.

    The one check of every route where the holder sets their own password (the forced change,
    修改密码, every 找回密码 way): not the current password, not a school default, not one of
    the last `CAMPUSID_PASSWORD_HISTORY` (see accounts/history.py).
    """
    problems = password_problems(user, password, confirm)
    if problems:
        return problems
    return history.reuse_problems(db, services=services, user=user, password=password)


def password_context(user: User) -> PasswordContext:
    """What a password of this account must not contain (name, username, phone, ID, email)."""
    return PasswordContext(
        username=user.username,
        real_name=user.real_name,
        phone=user.phone,
        id_card_number=user.id_card_number,
        email=user.email,
    )


# Called inside set_password, in its transaction: other domains (e.g. the OpenID Connect
# provider revoking refresh tokens) end what they hold for the account.
PasswordChangeListener = Callable[[Session, User, datetime], None]
password_change_listeners: list[PasswordChangeListener] = []
# issue 21: called when a person signs out (退出登录, in its transaction): the OpenID Connect
# provider ends the applications' sessions; each returns URLs the signed-out page loads in
# hidden iframes (Front-Channel Logout).
SignOutListener = Callable[[Session, User, datetime], list[str]]
sign_out_listeners: list[SignOutListener] = []


ROUTE_LABELS = {
    Route.OWN: N_("本人修改"),
    Route.TEACHER: N_("班主任重置"),
    Route.PARENT: N_("家长修改"),
    Route.SELF_SERVICE: N_("找回密码"),
    Route.AGENT: N_("客服重置"),
    Route.ADMIN: N_("学校管理员重置"),
}


def set_password(
    db: Session,
    *,
    services: Services,
    user: User,
    new_password: str,
    route: Route,
    actor: User | None,
    must_change: bool,
    client: ClientInfo,
    keep_session: str | None = None,
    school_id: int | None = None,
    detail: dict[str, object] | None = None,
) -> None:
    """Give the account a new password: the one path every route takes.

    Hashes it, bumps the password version (voiding codes and tokens bound to the old one), ends
    every other session, lifts a lock, records the audit event and tells the holder.
    """
    now = services.clock.now()
    history.remember(db, services=services, user=user, now=now)
    user.password_hash = services.hasher.hash(new_password)
    user.default_credential_id = None
    user.must_change_password = must_change
    user.password_version += 1
    user.password_changed_at = now
    services.sessions.delete_for_user(db, user.id, keep_token=keep_session)
    factors.forget_devices(db, user.id)  # issue 19: 记住此设备 ends with the password
    services.limits["login.account"].clear(str(user.id))
    for listener in password_change_listeners:
        listener(db, user, now)
    audit.record(
        db,
        now=now,
        action=AuditAction.PASSWORD_CHANGED if route is Route.OWN else AuditAction.PASSWORD_RESET,
        actor_id=actor.id if actor else user.id,
        target_user_id=user.id,
        route=route,
        client=client,
        school_id=school_id,
        detail=dict(detail or {}),
    )
    by_whom = N_("您本人") if actor is None or actor.id == user.id else actor.real_name
    messaging.notify(
        db,
        user_id=user.id,
        kind="password_changed",
        now=now,
        actor_id=actor.id if actor else None,
        title=N_("您的密码已修改"),
        body=N_(
            "您的账号密码已于 %(when)s 由%(who)s通过「%(route)s」修改。"
            "如非本人知情，请立即联系班主任或客服热线。",
            when=now.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
            who=by_whom,
            route=ROUTE_LABELS.get(route, route.value),
        ),
    )


def change_own_password(
    db: Session,
    *,
    services: Services,
    user: User,
    current_password: str | None,
    new_password: str,
    confirm: str,
    client: ClientInfo,
    session_token: str | None,
) -> list[str]:
    """The holder changes their password; returns the problems, empty on success.

    The current password is asked for except on the forced-change page, where the person has
    just proved it by signing in.
    """
    if current_password is not None:
        # Limited, and counted with the sign-in's failures (accounts.throttle).
        wrong = throttle.check_current_password(
            db,
            services=services,
            user=user,
            password=current_password,
            stored_hash=password_hash_of(db, user),
            client=client,
            session_token=session_token,
        )
        if wrong is not None:
            return [wrong]
    problems = holder_password_problems(
        db, services=services, user=user, password=new_password, confirm=confirm
    )
    if problems:
        return problems
    set_password(
        db,
        services=services,
        user=user,
        new_password=new_password,
        route=Route.OWN,
        actor=user,
        must_change=False,
        client=client,
        keep_session=session_token,
    )
    return []


def get_user(db: Session, user_id: int) -> User | None:
    """The account with this id."""
    return db.get(User, user_id)


def new_user(
    db: Session,
    *,
    username: str,
    real_name: str,
    now: datetime,
    **fields: object,
) -> User:
    """Add an account (no password yet unless given as `password_hash`)."""
    user = User(username=username, real_name=real_name, created_at=now, **fields)
    db.add(user)
    return user


def join_school(
    db: Session,
    *,
    user: User,
    school_id: int,
    role: SchoolRole,
    now: datetime,
    campus_id: int | None = None,
) -> SchoolMembership:
    """Start (or restart) the person's relationship with a school in a role."""
    membership = db.scalar(
        select(SchoolMembership).where(
            SchoolMembership.school_id == school_id,
            SchoolMembership.user_id == user.id,
            SchoolMembership.role == role,
        )
    )
    if membership is None:
        membership = SchoolMembership(
            school_id=school_id,
            user_id=user.id,
            role=role,
            campus_id=campus_id,
            active=True,
            joined_at=now,
        )
        db.add(membership)
    else:
        membership.active = True
        membership.left_at = None
        if campus_id is not None:
            membership.campus_id = campus_id
    db.flush()
    return membership


# families: where a person belongs, e.g. the schools of a child a parent links.
def active_school_ids(db: Session, *, user_id: int, role: SchoolRole) -> list[int]:
    """The schools where the person is an active member in this role, oldest first."""
    return list(
        db.scalars(
            select(SchoolMembership.school_id)
            .where(
                SchoolMembership.current(user_id=user_id, role=role),
            )
            .order_by(SchoolMembership.id)
        )
    )


# audit: the trail of a school covers its current members' events recorded without a school.
def current_member_ids(*, school_ids: Collection[int]) -> Select[int]:
    """A subquery of the people who are active members of any of these schools, in any role."""
    return select(SchoolMembership.user_id).where(
        SchoolMembership.current(),
        SchoolMembership.school_id.in_(list(school_ids)),
    )


def load_roles(db: Session, principal: Principal) -> None:
    """The roles a person holds by an active school membership (see campusid.domains)."""
    for membership in db.scalars(
        select(SchoolMembership).where(SchoolMembership.current(user_id=principal.user.id))
    ):
        principal.member_school_ids.add(membership.school_id)
        if membership.role is SchoolRole.SCHOOL_ADMIN:
            principal.roles.add(Role.SCHOOL_ADMIN)
            principal.admin_school_ids.add(membership.school_id)
        elif membership.role is SchoolRole.STUDENT:
            principal.roles.add(Role.STUDENT)
        elif membership.role is SchoolRole.TEACHER:
            principal.roles.add(Role.TEACHER)
        elif membership.role is SchoolRole.PARENT:
            principal.roles.add(Role.PARENT)

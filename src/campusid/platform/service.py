"""Platform administration: appointing and removing service agents (客服); resending messages."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid import outbox
from campusid.accounts import service as accounts
from campusid.accounts.models import AccountStatus, SchoolMembership, SchoolRole, User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import ClientInfo, Outcome
from campusid.clock import local_today
from campusid.context import Services
from campusid.families.models import ParentLink
from campusid.i18n import N_
from campusid.identifiers import InvalidIdentifier, birth_date_from_id_card
from campusid.messaging import service as messaging
from campusid.security import authz
from campusid.security.permissions import Role
from campusid.senders import OutboxMessage


class AgentError(Exception):
    """The appointment cannot be made; `message` says why, in Chinese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def list_agents(db: Session) -> list[User]:
    """Every account holding the agent role."""
    return list(db.scalars(select(User).where(User.is_agent.is_(True)).order_by(User.id)))


class AgentNeedsConfirmation(Exception):  # noqa: N818 - the page asks, then sends confirm
    """The account holds another role: the platform administrator must confirm."""

    def __init__(self, user: User, roles: list[Role]) -> None:
        super().__init__(user.real_name)
        self.user = user
        self.roles = roles


ADULT_AGE = 18


def agent_candidate(db: Session, *, user: User, today: date) -> authz.AgentCandidate:
    """The account's standing for becoming an agent: pupil or not, and its other roles."""
    school_roles = set(
        db.scalars(select(SchoolMembership.role).where(SchoolMembership.current(user_id=user.id)))
    )
    is_linked_child = db.scalar(
        select(ParentLink.id).where(ParentLink.child_id == user.id).limit(1)
    )
    minor = False
    if user.id_card_number:
        try:
            born = birth_date_from_id_card(user.id_card_number, today=today)
        except InvalidIdentifier:
            born = None
        if born is not None:
            age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
            minor = age < ADULT_AGE
    roles = {Role(role.value) for role in school_roles if role is not SchoolRole.STUDENT}
    if user.is_parent or db.scalar(select(ParentLink.id).where(ParentLink.parent_id == user.id)):
        roles.add(Role.PARENT)
    if user.is_platform_admin:
        roles.add(Role.PLATFORM_ADMIN)
    return authz.AgentCandidate(
        is_pupil=SchoolRole.STUDENT in school_roles or is_linked_child is not None or minor,
        other_roles=frozenset(roles),
    )


def appoint_agent(
    db: Session,
    *,
    services: Services,
    admin: User,
    client: ClientInfo,
    login: str,
    confirmed: bool = False,
) -> User:
    """Give the account named by any identifier the agent role; audited, the person told.

    Only an adult's account: a pupil's is refused (and the refusal audited); an account with
    another role (a school administrator, a teacher, a parent) needs `confirmed`.
    """
    user = accounts.find_by_login(db, login)
    if user is None:
        raise AgentError(N_("未找到该账号，请输入用户名、手机号、身份证号、学籍号或邮箱"))
    if user.status is not AccountStatus.ACTIVE:
        raise AgentError(N_("该账号已停用，不能任命为客服"))
    if user.is_agent:
        raise AgentError(N_("%(user)s 已经是客服", user=user.real_name))
    candidate = agent_candidate(db, user=user, today=local_today(services.clock))
    if not authz.may_become_agent(candidate):
        audit.record(
            db,
            now=services.clock.now(),
            action=AuditAction.AGENT_APPOINTED,
            outcome=Outcome.DENIED,
            actor_id=admin.id,
            actor_role="platform_admin",
            target_user_id=user.id,
            client=client,
            detail={"reason": "pupil"},
        )
        raise AgentError(
            N_("该账号是学生（未成年人）的账号，不能任命为客服。客服须使用成年工作人员的账号。")
        )
    roles = sorted(candidate.other_roles)
    if authz.agent_needs_confirmation(candidate) and not confirmed:
        raise AgentNeedsConfirmation(user, roles)
    user.is_agent = True
    _record(
        db,
        services=services,
        admin=admin,
        client=client,
        user=user,
        appointed=True,
        detail={"roles": [role.value for role in roles]} if roles else None,
    )
    return user


def remove_agent(
    db: Session, *, services: Services, admin: User, client: ClientInfo, user_id: int
) -> User:
    """Take the agent role away (effective at the person's next request)."""
    user = accounts.get_user(db, user_id)
    if user is None or not user.is_agent:
        raise AgentError(N_("该账号不是客服"))
    user.is_agent = False
    _record(db, services=services, admin=admin, client=client, user=user, appointed=False)
    return user


def _record(
    db: Session,
    *,
    services: Services,
    admin: User,
    client: ClientInfo,
    user: User,
    appointed: bool,
    detail: dict[str, object] | None = None,
) -> None:
    now = services.clock.now()
    audit.record(
        db,
        now=now,
        action=AuditAction.AGENT_APPOINTED if appointed else AuditAction.AGENT_REMOVED,
        actor_id=admin.id,
        actor_role="platform_admin",
        target_user_id=user.id,
        client=client,
        detail=detail,
    )
    messaging.notify(
        db,
        user_id=user.id,
        kind="agent_role",
        now=now,
        actor_id=admin.id,
        title=N_("您已被任命为客服") if appointed else N_("您的客服身份已取消"),
        body=(
            N_(
                "平台管理员%(name)s已任命您为客服，可在「客服工作台」处理热线来电。",
                name=admin.real_name,
            )
            if appointed
            else N_("平台管理员%(name)s已取消您的客服身份。", name=admin.real_name)
        ),
    )


# --- issue 20: 消息投递 ---------------------------------------------------------------------


def resend_message(
    db: Session, *, services: Services, admin: User, client: ClientInfo, message_id: int
) -> bool:
    """重新发送: a dead letter (or one waiting for its back-off) goes again after the commit,
    audited. False when there is no such message to send again (sent, or unknown)."""
    now = services.clock.now()
    if not outbox.retry(db, message_id, now=now):
        return False
    message = db.get(OutboxMessage, message_id)  # the row retry loaded (no query)
    assert message is not None
    audit.record(
        db,
        now=now,
        action=AuditAction.OUTBOX_RESENT,
        actor_id=admin.id,
        actor_role="platform_admin",
        client=client,
        detail={"message_id": message.id, "channel": message.channel},
    )
    return True

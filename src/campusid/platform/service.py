"""Platform administration: appointing and removing service agents (客服)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid.accounts import service as accounts
from campusid.accounts.models import AccountStatus, User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import ClientInfo
from campusid.context import Services
from campusid.i18n import N_
from campusid.messaging import service as messaging


class AgentError(Exception):
    """The appointment cannot be made; `message` says why, in Chinese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def list_agents(db: Session) -> list[User]:
    """Every account holding the agent role."""
    return list(db.scalars(select(User).where(User.is_agent.is_(True)).order_by(User.id)))


def appoint_agent(
    db: Session, *, services: Services, admin: User, client: ClientInfo, login: str
) -> User:
    """Give the account named by any identifier the agent role; audited, the person told."""
    user = accounts.find_by_login(db, login)
    if user is None:
        raise AgentError(N_("未找到该账号,请输入用户名、手机号、身份证号、学籍号或邮箱"))
    if user.status is not AccountStatus.ACTIVE:
        raise AgentError(N_("该账号已停用,不能任命为客服"))
    if user.is_agent:
        raise AgentError(N_("%(user)s 已经是客服", user=user.real_name))
    user.is_agent = True
    _record(db, services=services, admin=admin, client=client, user=user, appointed=True)
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
                "平台管理员%(name)s已任命您为客服,可在「客服工作台」处理热线来电。",
                name=admin.real_name,
            )
            if appointed
            else N_("平台管理员%(name)s已取消您的客服身份。", name=admin.real_name)
        ),
    )

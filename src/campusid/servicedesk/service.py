"""The hotline's rules: look-ups, tickets, the verification checklist and the agent's reset.

Every look-up and every act is written twice in the same transaction: to the desk's own
activity log (what the supervisor reads per ticket) and to the platform's audit trail.
Outside service hours an agent can look accounts up but not verify or reset.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campusid.accounts import service as accounts
from campusid.accounts.models import AccountStatus, SchoolMembership, SchoolRole, User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import ClientInfo, Outcome, Route
from campusid.clock import SHANGHAI
from campusid.context import Services
from campusid.families.models import ParentLink
from campusid.i18n import N_
from campusid.identifiers import (
    mask_email,
    mask_login,
    mask_name,
    mask_phone,
    mask_username,
)
from campusid.messaging import service as messaging
from campusid.org.models import School
from campusid.org.schoolyear import calendar_for
from campusid.security import onetime
from campusid.security.onetime import CodeCheck
from campusid.security.policy import generate_temporary_password
from campusid.security.ratelimit import RateLimiter
from campusid.servicedesk.facts import AccountFacts, facts_of
from campusid.servicedesk.hours import HotlineStatus, hotline_status
from campusid.servicedesk.models import (
    CallerRelation,
    DeskActivity,
    Fact,
    Ticket,
    TicketCheck,
    TicketOutcome,
    TicketStatus,
)

__all__ = [
    "Refused",
    "hotline_status",
]

CODE_PURPOSE = "servicedesk.verify"
SEARCH_LIMIT = 20
# A caller who gets facts wrong is stopped for the day, whichever agent or ticket they try.
MISMATCH_LIMIT, MISMATCH_WINDOW = 3, 24 * 3600
SMS_LIMIT, SMS_WINDOW = 5, 24 * 3600


class Refused(Exception):  # noqa: N818 - a refusal the page explains
    """The desk refuses the act; `message` says why, in Chinese."""

    def __init__(self, message: str, status_code: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class Delivery(StrEnum):
    """How the temporary password reaches the caller."""

    SMS = "sms"
    SHOWN = "shown"


@dataclass(frozen=True)
class AccountCard:
    """An account as the agent sees it: masked identifiers only."""

    user_id: int
    name: str
    username: str
    phone: str
    email: str
    roles: list[str]
    schools: list[str]
    has_id_card: bool
    active: bool
    must_change_password: bool


@dataclass
class ChecklistItem:
    """One fact of the checklist: can it be asked, and what came of it."""

    fact: Fact
    applicable: bool
    matched: bool | None  # None: not answered yet

    @property
    def answered(self) -> bool:
        """Whether the fact has been checked."""
        return self.matched is not None


@dataclass
class Checklist:
    """The ticket's checklist and whether it passes the configured rule."""

    items: list[ChecklistItem]
    required: int
    linked_are_children: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def matched(self) -> int:
        """How many facts matched."""
        return sum(1 for item in self.items if item.matched)

    @property
    def passes(self) -> bool:
        """Whether the checklist allows a reset."""
        return not self.problems


@dataclass(frozen=True)
class ResetResult:
    """What the agent's page says after a reset; `password` only when shown once."""

    delivery: Delivery
    masked_phone: str
    password: str | None


# --------------------------------------------------------------------------- the log


def _log(
    db: Session,
    *,
    services: Services,
    agent: User,
    client: ClientInfo,
    action: AuditAction,
    ticket: Ticket | None = None,
    target_user_id: int | None = None,
    outcome: Outcome = Outcome.SUCCESS,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record a look-up or act in the desk's log and in the audit trail (never a secret)."""
    now = services.clock.now()
    target = ticket.target_user_id if ticket is not None else target_user_id
    data = dict(detail or {})
    if outcome is not Outcome.SUCCESS:
        data["outcome"] = outcome.value
    db.add(
        DeskActivity(
            occurred_at=now,
            agent_id=agent.id,
            ticket_id=ticket.id if ticket else None,
            target_user_id=target,
            action=action.removeprefix("servicedesk_"),  # the desk's own log: search, open, …
            detail=data,
        )
    )
    audit.record(
        db,
        now=now,
        action=action,
        outcome=outcome,
        actor_id=agent.id,
        actor_role="agent",
        target_user_id=target,
        school_id=_first_school_id(db, target) if target else None,
        route=Route.AGENT,
        client=client,
        detail={**data, "ticket_id": ticket.id} if ticket else data,
    )


def _first_school_id(db: Session, user_id: int) -> int | None:
    return db.scalar(
        select(SchoolMembership.school_id)
        .where(SchoolMembership.current(user_id=user_id))
        .order_by(SchoolMembership.id)
        .limit(1)
    )


# --------------------------------------------------------------------------- look-ups


def _cards(db: Session, users: list[User]) -> list[AccountCard]:
    """The result cards, with every account's schools read in one query."""
    memberships: dict[int, list[tuple[SchoolRole, str]]] = {user.id: [] for user in users}
    if memberships:
        for user_id, role, school_name in db.execute(
            select(SchoolMembership.user_id, SchoolMembership.role, School.name)
            .join(School, School.id == SchoolMembership.school_id)
            .where(SchoolMembership.current(), SchoolMembership.user_id.in_(memberships))
            .order_by(SchoolMembership.id)
        ):
            memberships[user_id].append((role, school_name))
    return [_card(user, memberships[user.id]) for user in users]


def _card(user: User, memberships: list[tuple[SchoolRole, str]]) -> AccountCard:
    roles = list(dict.fromkeys(role.label for role, _ in memberships))
    if user.is_agent:
        roles.append(N_("客服"))
    if user.is_platform_admin:
        roles.append(N_("平台管理员"))
    return AccountCard(
        user_id=user.id,
        name=mask_name(user.real_name),
        username=mask_username(user.username),
        phone=mask_phone(user.phone),
        email=mask_email(user.email),
        roles=roles,
        schools=list(dict.fromkeys(name for _, name in memberships)),
        has_id_card=bool(user.id_card_number),
        active=user.status is AccountStatus.ACTIVE,
        must_change_password=user.must_change_password,
    )


def search_accounts(
    db: Session,
    *,
    services: Services,
    agent: User,
    client: ClientInfo,
    identifier: str = "",
    name: str = "",
    school: str = "",
) -> list[AccountCard]:
    """查找账号: by any identifier, or by real name + school; every search is logged."""
    identifier, name, school = identifier.strip(), name.strip(), school.strip()
    if identifier:
        user = accounts.find_by_login(db, identifier)
        users = [user] if user else []
        detail: dict[str, Any] = {"by": "identifier", "query": mask_login(identifier)}
    elif name and school:
        users = list(
            db.scalars(
                select(User)
                .join(SchoolMembership, SchoolMembership.user_id == User.id)
                .join(School, School.id == SchoolMembership.school_id)
                .where(
                    SchoolMembership.current(),
                    User.real_name == name,
                    School.name.contains(school, autoescape=True),
                )
                .distinct()
                .order_by(User.id)
                .limit(SEARCH_LIMIT)
            )
        )
        detail = {"by": "name_school", "name": mask_name(name), "school": school[:64]}
    else:
        raise Refused(
            N_("请输入账号标识(用户名、手机号、身份证号、学籍号或邮箱),或姓名和学校"), 400
        )
    detail["results"] = len(users)
    _log(
        db,
        services=services,
        agent=agent,
        client=client,
        action=AuditAction.SERVICEDESK_SEARCH,
        detail=detail,
    )
    return _cards(db, users)


# --------------------------------------------------------------------------- tickets


def open_ticket(
    db: Session,
    *,
    services: Services,
    agent: User,
    client: ClientInfo,
    user_id: int,
    relation: CallerRelation,
) -> Ticket:
    """Open the account: a ticket (工单), or the agent's open ticket for it if there is one."""
    user = accounts.get_user(db, user_id)
    if user is None:
        raise Refused(N_("账号不存在"), 400)
    ticket = db.scalar(
        select(Ticket).where(
            Ticket.agent_id == agent.id,
            Ticket.target_user_id == user.id,
            Ticket.status == TicketStatus.OPEN,
        )
    )
    if ticket is not None:
        return ticket
    ticket = Ticket(
        agent_id=agent.id,
        target_user_id=user.id,
        caller_relation=relation,
        status=TicketStatus.OPEN,
        opened_at=services.clock.now(),
    )
    db.add(ticket)
    db.flush()
    _log(
        db,
        services=services,
        agent=agent,
        client=client,
        action=AuditAction.SERVICEDESK_OPEN,
        ticket=ticket,
        detail={"relation": relation.value},
    )
    return ticket


def ticket_for_agent(db: Session, *, ticket_id: int, agent: User) -> Ticket | None:
    """The ticket, if this agent worked it (an agent sees only their own tickets)."""
    ticket = db.get(Ticket, ticket_id)
    if ticket is None or ticket.agent_id != agent.id:
        return None
    return ticket


def account_card(db: Session, ticket: Ticket) -> AccountCard:
    """The ticket's account, masked."""
    user = accounts.get_user(db, ticket.target_user_id)
    assert user is not None
    return _cards(db, [user])[0]


def _facts(db: Session, services: Services, user: User) -> AccountFacts:
    cal = calendar_for(services.settings, services.clock)
    return facts_of(db, user, today=cal.today, boundary=cal.boundary)


def _mismatch_limiter(services: Services) -> RateLimiter:
    return services.limits.named("servicedesk.mismatch", MISMATCH_LIMIT, MISMATCH_WINDOW)


def blocked_reason(db: Session, *, services: Services, user: User) -> str | None:
    """Why no agent may reset this account at all, or None."""
    if user.is_platform_admin or user.is_agent:
        return N_("该账号是平台管理员或客服账号,不能通过客服热线重置密码")
    is_school_admin = db.scalar(
        select(SchoolMembership.id).where(
            SchoolMembership.current(user_id=user.id, role=SchoolRole.SCHOOL_ADMIN),
        )
    )
    if is_school_admin is not None:
        return N_("该账号是学校管理员账号,不能通过客服热线重置密码,请联系平台管理员")
    if user.status is not AccountStatus.ACTIVE:
        return N_("该账号已停用,不能重置密码")
    if _mismatch_limiter(services).exceeded(str(user.id)):
        return N_("该账号今日核验不匹配次数过多,请改日再试,或联系班主任重置")
    return None


def checklist(db: Session, *, services: Services, ticket: Ticket) -> Checklist:
    """The ticket's checklist, and every reason it does not (yet) allow a reset."""
    user = accounts.get_user(db, ticket.target_user_id)
    assert user is not None
    facts = _facts(db, services, user)
    answers = {
        check.fact: check.matched
        for check in db.scalars(select(TicketCheck).where(TicketCheck.ticket_id == ticket.id))
    }
    items = [ChecklistItem(fact, facts.applicable(fact), answers.get(fact)) for fact in Fact]
    settings = services.settings
    result = Checklist(
        items=items,
        required=settings.servicedesk_min_matched_facts,
        linked_are_children=facts.linked_are_children,
    )
    if any(item.matched is False for item in items):
        result.problems.append(N_("有核验项不匹配,本工单不能重置密码"))
    if result.matched < result.required:
        result.problems.append(
            N_(
                "已匹配 %(matched)s 项,至少需要匹配 %(required)s 项",
                matched=result.matched,
                required=result.required,
            )
        )
    if settings.servicedesk_require_strong_fact and not any(
        item.matched and item.fact.is_strong for item in items
    ):
        result.problems.append(N_("至少一项须为身份证号后4位、关联家长姓名或绑定手机验证码"))
    return result


def _require_open(
    db: Session,
    *,
    services: Services,
    agent: User,
    client: ClientInfo,
    ticket: Ticket,
    action: AuditAction,
) -> None:
    """Refuse (and log the refusal) when the ticket is closed or the desk is outside hours."""
    if ticket.status is TicketStatus.CLOSED:
        raise Refused(N_("工单已关闭,如需继续处理请重新查找账号"))
    status = hotline_status(services.settings, services.clock.now())
    if not status.is_open:
        _log(
            db,
            services=services,
            agent=agent,
            client=client,
            action=action,
            ticket=ticket,
            outcome=Outcome.DENIED,
            detail={"reason": "outside_hours"},
        )
        raise Refused(outside_hours_message(status))


def outside_hours_message(status: HotlineStatus) -> str:
    """Why the desk refuses now, and when it opens."""
    if status.next_open_text:
        return N_(
            "当前不在客服服务时间(%(hours)s),只能查看,不能核验或重置密码。下次开放:%(when)s。",
            hours=status.hours,
            when=status.next_open_text,
        )
    return N_("当前不在客服服务时间(%(hours)s),只能查看,不能核验或重置密码。", hours=status.hours)


def _record(
    db: Session,
    *,
    services: Services,
    agent: User,
    client: ClientInfo,
    ticket: Ticket,
    fact: Fact,
    matched: bool,
) -> None:
    db.add(
        TicketCheck(
            ticket_id=ticket.id,
            fact=fact,
            matched=matched,
            checked_at=services.clock.now(),
        )
    )
    if not matched:
        _mismatch_limiter(services).hit(str(ticket.target_user_id))
    _log(
        db,
        services=services,
        agent=agent,
        client=client,
        action=AuditAction.SERVICEDESK_CHECK,
        ticket=ticket,
        detail={"fact": fact.value, "matched": matched},
    )


def _answerable(
    db: Session,
    *,
    services: Services,
    agent: User,
    client: ClientInfo,
    ticket: Ticket,
    fact: Fact,
) -> User:
    _require_open(
        db,
        services=services,
        agent=agent,
        client=client,
        ticket=ticket,
        action=AuditAction.SERVICEDESK_CHECK,
    )
    user = accounts.get_user(db, ticket.target_user_id)
    assert user is not None
    reason = blocked_reason(db, services=services, user=user)
    if reason:
        raise Refused(reason)
    answered = db.scalar(
        select(TicketCheck.id).where(TicketCheck.ticket_id == ticket.id, TicketCheck.fact == fact)
    )
    if answered is not None:
        raise Refused(N_("「%(fact)s」已核验,每项只能核验一次", fact=fact.label))
    return user


def check_answer(
    db: Session,
    *,
    services: Services,
    agent: User,
    client: ClientInfo,
    ticket: Ticket,
    fact: Fact,
    answer: str,
    class_name: str = "",
) -> bool:
    """The system compares the caller's answer with the account and records matched or not."""
    if fact is Fact.PHONE_CODE:
        raise Refused(N_("验证码请在「绑定手机验证码」一栏核验"), 400)
    user = _answerable(db, services=services, agent=agent, client=client, ticket=ticket, fact=fact)
    facts = _facts(db, services, user)
    if not facts.applicable(fact):
        raise Refused(N_("该账号没有可核验的「%(fact)s」", fact=fact.label))
    if not answer.strip():
        raise Refused(N_("请输入来电人所说的「%(fact)s」", fact=fact.label), 400)
    matched = facts.matches(fact, answer[:64], class_name[:64])
    _record(
        db, services=services, agent=agent, client=client, ticket=ticket, fact=fact, matched=matched
    )
    return matched


def send_phone_code(
    db: Session, *, services: Services, agent: User, client: ClientInfo, ticket: Ticket
) -> str:
    """Send a code to the account's bound phone for the caller to read back; the masked phone."""
    user = _answerable(
        db, services=services, agent=agent, client=client, ticket=ticket, fact=Fact.PHONE_CODE
    )
    if not user.phone:
        raise Refused(N_("该账号未绑定手机号"))
    sms_limit = services.limits.named("servicedesk.sms", SMS_LIMIT, SMS_WINDOW)
    if sms_limit.exceeded(str(user.id)):
        raise Refused(N_("今日向该手机发送验证码的次数已达上限"))
    issued = onetime.issue(
        db,
        secret_key=services.settings.secret_key,
        now=services.clock.now(),
        purpose=CODE_PURPOSE,
        target=str(user.id),
        user_id=user.id,
        password_version=user.password_version,
    )
    if issued.code is None:
        raise Refused(N_("验证码已发送,请 %(seconds)s 秒后再重新发送", seconds=issued.wait_seconds))
    sms_limit.hit(str(user.id))
    services.sms.send(db, user.phone, "verify_code", {"code": issued.code})
    _log(
        db,
        services=services,
        agent=agent,
        client=client,
        action=AuditAction.SERVICEDESK_CODE_SENT,
        ticket=ticket,
    )
    return mask_phone(user.phone)


def check_phone_code(
    db: Session,
    *,
    services: Services,
    agent: User,
    client: ClientInfo,
    ticket: Ticket,
    code: str,
) -> bool:
    """Check the code the caller reads back; a wrong one may be retried until the code dies."""
    user = _answerable(
        db, services=services, agent=agent, client=client, ticket=ticket, fact=Fact.PHONE_CODE
    )
    result = onetime.check(
        db,
        secret_key=services.settings.secret_key,
        now=services.clock.now(),
        purpose=CODE_PURPOSE,
        target=str(user.id),
        code=code[:16],
        password_version=user.password_version,
    )
    if result is CodeCheck.WRONG:
        _log(
            db,
            services=services,
            agent=agent,
            client=client,
            action=AuditAction.SERVICEDESK_CODE_CHECKED,
            ticket=ticket,
            outcome=Outcome.FAILURE,
        )
        raise Refused("验证码不正确,请让来电人再读一遍", 400)
    if result is CodeCheck.EXPIRED:
        raise Refused("验证码已失效或尚未发送,请重新发送", 400)
    matched = result is CodeCheck.OK
    _record(
        db,
        services=services,
        agent=agent,
        client=client,
        ticket=ticket,
        fact=Fact.PHONE_CODE,
        matched=matched,
    )
    return matched


def _close(
    db: Session, *, services: Services, ticket: Ticket, outcome: TicketOutcome, note: str = ""
) -> None:
    ticket.status = TicketStatus.CLOSED
    ticket.outcome = outcome
    ticket.closed_at = services.clock.now()
    ticket.note = note.strip()[:200] or None


def reset_password(
    db: Session,
    *,
    services: Services,
    agent: User,
    client: ClientInfo,
    ticket: Ticket,
) -> ResetResult:
    """Reset to a random temporary password, within hours and when the checklist passes.

    Sent by SMS to the bound phone, or else returned to be shown once and read out. The holder
    must change it at next sign-in; every session ends; the holder and linked parents are told.
    """
    _require_open(
        db,
        services=services,
        agent=agent,
        client=client,
        ticket=ticket,
        action=AuditAction.SERVICEDESK_RESET,
    )
    user = accounts.get_user(db, ticket.target_user_id)
    assert user is not None
    problems = [r for r in [blocked_reason(db, services=services, user=user)] if r]
    problems += checklist(db, services=services, ticket=ticket).problems
    if problems:
        _log(
            db,
            services=services,
            agent=agent,
            client=client,
            action=AuditAction.SERVICEDESK_RESET,
            ticket=ticket,
            outcome=Outcome.DENIED,
            detail={"reason": "checklist"},
        )
        raise Refused(";".join(problems))
    password = generate_temporary_password()
    delivery = Delivery.SMS if user.phone else Delivery.SHOWN
    accounts.set_password(
        db,
        services=services,
        user=user,
        new_password=password,
        route=Route.AGENT,
        actor=agent,
        must_change=True,
        client=client,
        school_id=_first_school_id(db, user.id),
        detail={"ticket_id": ticket.id, "delivery": delivery.value},
    )
    if user.phone:
        services.sms.send(db, user.phone, "temporary_password", {"password": password})
    _notify_parents(db, services=services, agent=agent, child=user, ticket=ticket)
    outcome = TicketOutcome.RESET_SMS if delivery is Delivery.SMS else TicketOutcome.RESET_SHOWN
    _close(db, services=services, ticket=ticket, outcome=outcome)
    _log(
        db,
        services=services,
        agent=agent,
        client=client,
        action=AuditAction.SERVICEDESK_RESET,
        ticket=ticket,
        detail={"delivery": delivery.value},
    )
    return ResetResult(
        delivery=delivery,
        masked_phone=mask_phone(user.phone),
        password=password if delivery is Delivery.SHOWN else None,
    )


def _notify_parents(
    db: Session, *, services: Services, agent: User, child: User, ticket: Ticket
) -> None:
    now = services.clock.now()
    when = now.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    parents = db.scalars(select(ParentLink.parent_id).where(ParentLink.child_id == child.id))
    for parent_id in parents:
        messaging.notify(
            db,
            user_id=parent_id,
            kind="child_password_reset",
            now=now,
            actor_id=agent.id,
            title=N_("孩子的密码已由客服重置"),
            body=N_(
                "您的孩子%(name)s的账号密码已于 %(when)s 通过客服热线重置(工单号 %(ticket)s),"
                "下次登录须修改密码。如非您或孩子本人来电,请立即联系学校。",
                name=child.real_name,
                when=when,
                ticket=ticket.id,
            ),
        )


def close_ticket(
    db: Session,
    *,
    services: Services,
    agent: User,
    client: ClientInfo,
    ticket: Ticket,
    note: str = "",
) -> None:
    """End the call without a reset (allowed at any hour)."""
    if ticket.status is TicketStatus.CLOSED:
        raise Refused("工单已关闭")
    answered = db.scalar(
        select(func.count()).select_from(TicketCheck).where(TicketCheck.ticket_id == ticket.id)
    )
    passed = checklist(db, services=services, ticket=ticket).passes
    outcome = TicketOutcome.NOT_VERIFIED if answered and not passed else TicketOutcome.NO_RESET
    _close(db, services=services, ticket=ticket, outcome=outcome, note=note)
    _log(
        db,
        services=services,
        agent=agent,
        client=client,
        action=AuditAction.SERVICEDESK_CLOSE,
        ticket=ticket,
        detail={"result": outcome.value},
    )


@dataclass(frozen=True)
class TicketView:
    """Everything the ticket page shows."""

    ticket: Ticket
    card: AccountCard
    checklist: Checklist
    blocked: str | None


def ticket_view(db: Session, *, services: Services, ticket: Ticket) -> TicketView:
    """The ticket with its account (masked), its checklist and any reason it cannot reset."""
    user = accounts.get_user(db, ticket.target_user_id)
    assert user is not None
    return TicketView(
        ticket=ticket,
        card=_cards(db, [user])[0],
        checklist=checklist(db, services=services, ticket=ticket),
        blocked=blocked_reason(db, services=services, user=user),
    )


def tickets_of_agent(db: Session, *, agent: User, limit: int = 50) -> list[Ticket]:
    """The agent's recent tickets, open ones first."""
    return list(
        db.scalars(
            select(Ticket)
            .where(Ticket.agent_id == agent.id)
            .order_by(Ticket.status.desc(), Ticket.opened_at.desc(), Ticket.id.desc())
            .limit(limit)
        )
    )


def masked_names(db: Session, user_ids: set[int]) -> dict[int, str]:
    """Masked real names of the accounts, for ticket lists."""
    if not user_ids:
        return {}
    return {
        uid: mask_name(name)
        for uid, name in db.execute(select(User.id, User.real_name).where(User.id.in_(user_ids)))
    }


# --------------------------------------------------------------------------- supervision


@dataclass
class AgentDay:
    """One agent's day: tickets with outcomes, and every search."""

    agent_id: int
    agent_name: str
    tickets: list[Ticket] = field(default_factory=list)
    searches: list[DeskActivity] = field(default_factory=list)

    @property
    def outcomes(self) -> Counter[str]:
        """How many tickets ended each way (进行中 for open ones)."""
        return Counter(t.outcome.label if t.outcome else N_("处理中") for t in self.tickets)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), tzinfo=SHANGHAI)
    return start, start + timedelta(days=1)


def supervision_day(db: Session, *, day: date) -> list[AgentDay]:
    """Every agent's tickets and searches of a (local) day."""
    start, end = _day_bounds(day)
    days: dict[int, AgentDay] = {}
    names = dict(db.execute(select(User.id, User.real_name).where(User.is_agent.is_(True))).all())

    def of(agent_id: int) -> AgentDay:
        if agent_id not in days:
            if agent_id not in names:
                names[agent_id] = db.scalar(select(User.real_name).where(User.id == agent_id)) or ""
            days[agent_id] = AgentDay(agent_id, names[agent_id])
        return days[agent_id]

    for ticket in db.scalars(
        select(Ticket)
        .where(Ticket.opened_at >= start, Ticket.opened_at < end)
        .order_by(Ticket.opened_at, Ticket.id)
    ):
        of(ticket.agent_id).tickets.append(ticket)
    for activity in db.scalars(
        select(DeskActivity)
        .where(
            DeskActivity.action == "search",
            DeskActivity.occurred_at >= start,
            DeskActivity.occurred_at < end,
        )
        .order_by(DeskActivity.occurred_at, DeskActivity.id)
    ):
        of(activity.agent_id).searches.append(activity)
    return sorted(days.values(), key=lambda d: (d.agent_name, d.agent_id))


def ticket_for_supervisor(db: Session, *, ticket_id: int) -> Ticket | None:
    """Any ticket (the caller holds the supervise permission)."""
    return db.get(Ticket, ticket_id)


def ticket_activity(db: Session, *, ticket: Ticket) -> list[DeskActivity]:
    """What was looked at and done on the ticket, in order."""
    return list(
        db.scalars(
            select(DeskActivity)
            .where(DeskActivity.ticket_id == ticket.id)
            .order_by(DeskActivity.occurred_at, DeskActivity.id)
        )
    )


def user_name(db: Session, user_id: int) -> str:
    """A person's real name (the supervisor sees who the agent was)."""
    return db.scalar(select(User.real_name).where(User.id == user_id)) or ""

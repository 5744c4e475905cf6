"""The hotline's rules: look-ups, tickets, the verification checklist and the agent's reset.

Every look-up and every act is written twice in the same transaction: to the desk's own
activity log (what the supervisor reads per ticket) and to the platform's audit trail.
Outside service hours an agent can look accounts up but not verify or reset.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
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
from campusid.servicedesk import calendar as service_calendar
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
    """The desk refuses the act; `message` says why, in Chinese; `reason` is the audit code."""

    def __init__(self, message: str, status_code: int = 403, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.reason = reason


class Delivery(StrEnum):
    """How the temporary password reaches the caller."""

    SMS = "sms"
    PARENT_SMS = "parent_sms"  # the account has no phone: to a linked parent's bound phone
    SHOWN = "shown"  # only an adult's account with no phone anywhere, after a passed checklist


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
    """The ticket's checklist and whether it passes the rule.

    Facts a classmate can know (the name, the school and class, a parent's name) never suffice:
    one matched fact must be a code read back from the account's or a linked parent's bound
    phone, or the ID card's last 4, with at least `required` facts matched in all. One mismatch
    ends the checks on the ticket.
    """

    items: list[ChecklistItem]
    required: int
    linked_are_children: bool = False
    problems: list[str] = field(default_factory=list)
    # The audit codes of `problems`, in the same order.
    reasons: list[str] = field(default_factory=list)

    @property
    def mismatched(self) -> bool:
        """Whether a fact did not match (the checks on this ticket are over)."""
        return any(item.matched is False for item in self.items)

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
    parents_told: int = 0  # linked parents given a notice (the page says only what is true)


@dataclass(frozen=True)
class CodeRecipient:
    """A bound phone a verification code can go to: the account's own, or a linked parent's."""

    key: str  # "self", or the parent's user id
    masked_phone: str
    is_parent: bool


# --------------------------------------------------------------------------- the log


@dataclass(frozen=True)
class _Act:
    """One agent's act at the desk (who, from where): its log entries and logged refusals."""

    db: Session
    services: Services
    agent: User
    client: ClientInfo

    def log(
        self,
        action: AuditAction,
        *,
        ticket: Ticket | None = None,
        outcome: Outcome = Outcome.SUCCESS,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record a look-up or act in the desk's log and in the audit trail (never a secret)."""
        now = self.services.clock.now()
        target = ticket.target_user_id if ticket is not None else None
        data = dict(detail or {})
        if outcome is not Outcome.SUCCESS:
            data["outcome"] = outcome.value
        self.db.add(
            DeskActivity(
                occurred_at=now,
                agent_id=self.agent.id,
                ticket_id=ticket.id if ticket else None,
                target_user_id=target,
                action=action.removeprefix("servicedesk_"),  # the desk's own log: search, …
                detail=data,
            )
        )
        audit.record(
            self.db,
            now=now,
            action=action,
            outcome=outcome,
            actor_id=self.agent.id,
            actor_role="agent",
            target_user_id=target,
            school_id=_first_school_id(self.db, target) if target else None,
            route=Route.AGENT,
            client=self.client,
            detail={**data, "ticket_id": ticket.id} if ticket else data,
        )

    def refuse(
        self,
        action: AuditAction,
        ticket: Ticket | None,
        *,
        reason: str | list[str],
        message: str,
        status_code: int = 403,
        detail: dict[str, Any] | None = None,
    ) -> Refused:
        """Log the refusal with its real reason(s) (in the desk's log and the audit trail)."""
        self.log(
            action,
            ticket=ticket,
            outcome=Outcome.DENIED,
            detail={**(detail or {}), "reason": reason},
        )
        first = reason if isinstance(reason, str) else reason[0]
        return Refused(message, status_code, reason=first)

    def refuser(
        self, action: AuditAction, ticket: Ticket, detail: dict[str, Any] | None = None
    ) -> Callable[[str, str], Refused]:
        """`refuse` bound to one act on one ticket: `refuse(reason, message)` for its checks."""
        return lambda reason, message: self.refuse(
            action, ticket, reason=reason, message=message, detail=detail
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
            N_("请输入账号标识（用户名、手机号、身份证号、学籍号或邮箱），或姓名和学校"), 400
        )
    detail["results"] = len(users)
    _Act(db, services, agent, client).log(AuditAction.SERVICEDESK_SEARCH, detail=detail)
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
    """Open the account: always a new ticket (工单) with this call's relation.

    The agent's earlier open tickets for the account end (their checks and relation belong to
    an earlier call, and are never carried over).
    """
    act = _Act(db, services, agent, client)
    user = accounts.get_user(db, user_id)
    if user is None:
        raise act.refuse(
            AuditAction.SERVICEDESK_OPEN,
            None,
            reason="unknown",
            message=N_("账号不存在"),
            status_code=400,
        )
    for earlier in db.scalars(
        select(Ticket).where(
            Ticket.agent_id == agent.id,
            Ticket.target_user_id == user.id,
            Ticket.status == TicketStatus.OPEN,
        )
    ):
        outcome = (
            TicketOutcome.NOT_VERIFIED
            if checklist(db, services=services, ticket=earlier).mismatched
            else TicketOutcome.NO_RESET
        )
        _close(db, services=services, ticket=earlier, outcome=outcome)
        act.log(
            AuditAction.SERVICEDESK_CLOSE,
            ticket=earlier,
            detail={"result": outcome.value, "reason": "reopened"},
        )
    ticket = Ticket(
        agent_id=agent.id,
        target_user_id=user.id,
        caller_relation=relation,
        status=TicketStatus.OPEN,
        opened_at=services.clock.now(),
    )
    db.add(ticket)
    db.flush()
    act.log(AuditAction.SERVICEDESK_OPEN, ticket=ticket, detail={"relation": relation.value})
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


NO_PHONE_FOR_CHILD = N_(
    "该学生账号及其关联家长均未绑定手机，临时密码不能通过短信送达，也不能读给来电人。"
    "请来电人联系班主任或学校管理员重置密码。"
)


def _blocked(
    db: Session, *, services: Services, user: User, facts: AccountFacts | None = None
) -> tuple[str, str] | None:
    """Why no agent may verify or reset this account at all: (audit reason, message), or None."""
    if user.is_platform_admin or user.is_agent:
        return "privileged_account", N_("该账号是平台管理员或客服账号，不能通过客服热线重置密码")
    is_school_admin = db.scalar(
        select(SchoolMembership.id).where(
            SchoolMembership.current(user_id=user.id, role=SchoolRole.SCHOOL_ADMIN),
        )
    )
    if is_school_admin is not None:
        return "school_admin_account", N_(
            "该账号是学校管理员账号，不能通过客服热线重置密码，请联系平台管理员"
        )
    if user.status is not AccountStatus.ACTIVE:
        return "disabled", N_("该账号已停用，不能重置密码")
    if _mismatch_limiter(services).exceeded(str(user.id)):
        return "too_many_mismatches", N_(
            "该账号今日核验不匹配次数过多，请改日再试，或联系班主任重置"
        )
    facts = facts or _facts(db, services, user)
    if facts.is_child and not user.phone and not facts.parent_phones:
        return "no_phone_for_delivery", NO_PHONE_FOR_CHILD
    return None


def blocked_reason(db: Session, *, services: Services, user: User) -> str | None:
    """Why no agent may reset this account at all, or None."""
    blocked = _blocked(db, services=services, user=user)
    return blocked[1] if blocked else None


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
    result = Checklist(
        items=items,
        required=services.settings.servicedesk_min_matched_facts,
        linked_are_children=facts.linked_are_children,
    )

    def problem(reason: str, message: str) -> None:
        result.reasons.append(reason)
        result.problems.append(message)

    if result.mismatched:
        # The one reason that counts: the checks on this ticket are over.
        problem("mismatch", N_("有核验项不匹配，本工单的核验已结束，不能重置密码"))
        return result
    if result.matched < result.required:
        problem(
            "too_few_facts",
            N_(
                "已匹配 %(matched)s 项，至少需要匹配 %(required)s 项",
                matched=result.matched,
                required=result.required,
            ),
        )
    # Unconditional:姓名、学校班级、家长姓名 are what any classmate knows.
    if not any(item.matched and item.fact.is_strong for item in items):
        problem(
            "no_strong_fact",
            N_(
                "姓名、学校班级、家长姓名同学也可能知道，不能作为依据："
                "须核对本人或家长绑定手机收到的验证码，或身份证号后4位"
            ),
        )
    return result


def _require_open(act: _Act, ticket: Ticket, action: AuditAction) -> None:
    """Refuse (and log the refusal) when the ticket is closed or the desk is outside hours."""
    if ticket.status is TicketStatus.CLOSED:
        raise act.refuse(
            action,
            ticket,
            reason="ticket_closed",
            message=N_("工单已关闭，如需继续处理请重新查找账号"),
        )
    services = act.services
    status = hotline_status(services.settings, services.clock.now(), service_calendar.load(act.db))
    if not status.is_open:
        raise act.refuse(
            action, ticket, reason="outside_hours", message=outside_hours_message(status)
        )


def outside_hours_message(status: HotlineStatus) -> str:
    """Why the desk refuses now, and when it opens."""
    if status.next_open_text:
        return N_(
            "当前不在客服服务时间（%(hours)s），只能查看，不能核验或重置密码。下次开放：%(when)s。",
            hours=status.hours,
            when=status.next_open_text,
        )
    return N_(
        "当前不在客服服务时间（%(hours)s），只能查看，不能核验或重置密码。", hours=status.hours
    )


def _record(
    act: _Act, ticket: Ticket, fact: Fact, matched: bool, detail: dict[str, Any] | None = None
) -> None:
    act.db.add(
        TicketCheck(
            ticket_id=ticket.id,
            fact=fact,
            matched=matched,
            checked_at=act.services.clock.now(),
        )
    )
    if not matched:
        _mismatch_limiter(act.services).hit(str(ticket.target_user_id))
    act.log(
        AuditAction.SERVICEDESK_CHECK,
        ticket=ticket,
        detail={**(detail or {}), "fact": fact.value, "matched": matched},
    )


def _answerable(
    act: _Act, ticket: Ticket, fact: Fact, action: AuditAction = AuditAction.SERVICEDESK_CHECK
) -> tuple[User, AccountFacts]:
    """The account and its facts when this fact may be checked now; else a logged refusal."""
    db, services = act.db, act.services
    _require_open(act, ticket, action)
    user = accounts.get_user(db, ticket.target_user_id)
    assert user is not None
    facts = _facts(db, services, user)

    refuse = act.refuser(action, ticket, detail={"fact": fact.value})

    blocked = _blocked(db, services=services, user=user, facts=facts)
    if blocked:
        raise refuse(*blocked)
    answered = {
        check.fact: check.matched
        for check in db.scalars(select(TicketCheck).where(TicketCheck.ticket_id == ticket.id))
    }
    if False in answered.values():
        raise refuse(
            "mismatch_on_ticket",
            N_("本工单已有核验项不匹配，核验已结束。请结束工单；如来电人再次来电，须重新核验。"),
        )
    label = fact.label_for(facts.linked_are_children)
    if fact in answered:
        raise refuse("already_checked", N_("「%(fact)s」已核验，每项只能核验一次", fact=label))
    if not facts.applicable(fact):
        raise refuse("not_applicable", N_("该账号没有可核验的「%(fact)s」", fact=label))
    return user, facts


def fact_label(db: Session, *, services: Services, ticket: Ticket, fact: Fact) -> str:
    """The fact's label for this ticket's account (关联孩子姓名 on a parent's)."""
    user = accounts.get_user(db, ticket.target_user_id)
    if user is None:
        return fact.label
    return fact.label_for(_facts(db, services, user).linked_are_children)


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
    if not answer.strip():
        label = fact_label(db, services=services, ticket=ticket, fact=fact)
        raise Refused(N_("请输入来电人所说的「%(fact)s」", fact=label), 400)
    act = _Act(db, services, agent, client)
    _, facts = _answerable(act, ticket, fact)
    matched = facts.matches(fact, answer[:64], class_name[:64])
    _record(act, ticket, fact, matched)
    return matched


def code_recipients(user: User, facts: AccountFacts) -> list[CodeRecipient]:
    """The bound phones a verification code can go to (masked): the account's, its parents'."""
    found = [CodeRecipient("self", mask_phone(user.phone), False)] if user.phone else []
    found += [
        CodeRecipient(str(parent_id), mask_phone(phone), True)
        for parent_id, phone in facts.parent_phones
    ]
    return found


def _phone_of(user: User, facts: AccountFacts, key: str) -> tuple[str, int] | None:
    """The phone and its holder's id for a recipient key, if it is one of the account's."""
    if key == "self" and user.phone:
        return user.phone, user.id
    return next(((phone, pid) for pid, phone in facts.parent_phones if str(pid) == key), None)


def _code_target(ticket: Ticket) -> str:
    # Bound to the ticket: a code sent during one call cannot verify another.
    return f"ticket:{ticket.id}"


def send_phone_code(
    db: Session,
    *,
    services: Services,
    agent: User,
    client: ClientInfo,
    ticket: Ticket,
    to: str = "self",
) -> str:
    """Send a code to the account's or a linked parent's bound phone, for the caller to read
    back; the masked phone."""
    action = AuditAction.SERVICEDESK_CODE_SENT
    act = _Act(db, services, agent, client)
    user, facts = _answerable(act, ticket, Fact.PHONE_CODE, action)
    recipient = _phone_of(user, facts, to)

    refuse = act.refuser(action, ticket)

    if recipient is None:
        raise refuse("no_phone", N_("请选择该账号或其关联家长绑定的手机号"))
    phone, holder_id = recipient
    sms_limit = services.limits.named("servicedesk.sms", SMS_LIMIT, SMS_WINDOW)
    if sms_limit.exceeded(str(user.id)) or sms_limit.exceeded(f"to:{holder_id}"):
        raise refuse("sms_limit", N_("今日向该手机发送验证码的次数已达上限"))
    issued = onetime.issue(
        db,
        secret_key=services.settings.secret_key,
        now=services.clock.now(),
        purpose=CODE_PURPOSE,
        target=_code_target(ticket),
        user_id=user.id,
        password_version=user.password_version,
    )
    if issued.code is None:
        raise refuse(
            "code_wait",
            N_("验证码已发送，请 %(seconds)s 秒后再重新发送", seconds=issued.wait_seconds),
        )
    sms_limit.hit(str(user.id))
    if holder_id != user.id:
        sms_limit.hit(f"to:{holder_id}")
    template = "verify_code" if holder_id == user.id else "parent_verify_code"
    services.sms.send(db, phone, template, {"code": issued.code})
    act.log(
        action,
        ticket=ticket,
        detail={"to": "self"} if holder_id == user.id else {"to": "parent", "parent_id": holder_id},
    )
    return mask_phone(phone)


def _code_holder(db: Session, ticket: Ticket) -> int | None:
    """Whose phone the ticket's live code went to: a parent's id, or None for the account's."""
    sent = db.scalar(
        select(DeskActivity)
        .where(DeskActivity.ticket_id == ticket.id, DeskActivity.action == "code_sent")
        .order_by(DeskActivity.id.desc())
        .limit(1)
    )
    parent_id = sent.detail.get("parent_id") if sent is not None else None
    return int(parent_id) if parent_id is not None else None


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
    action = AuditAction.SERVICEDESK_CODE_CHECKED
    act = _Act(db, services, agent, client)
    user, _ = _answerable(act, ticket, Fact.PHONE_CODE, action)
    result = onetime.check(
        db,
        secret_key=services.settings.secret_key,
        now=services.clock.now(),
        purpose=CODE_PURPOSE,
        target=_code_target(ticket),
        code=code[:16],
        password_version=user.password_version,
    )
    holder = _code_holder(db, ticket)
    detail: dict[str, Any] = {"to": "parent", "parent_id": holder} if holder else {"to": "self"}
    if result is CodeCheck.WRONG:
        act.log(
            action,
            ticket=ticket,
            outcome=Outcome.FAILURE,
            detail={**detail, "reason": "code_wrong"},
        )
        raise Refused(N_("验证码不正确，请让来电人再读一遍"), 400, reason="code_wrong")
    if result is CodeCheck.EXPIRED:
        raise act.refuse(
            action,
            ticket,
            reason="code_expired",
            message=N_("验证码已失效或尚未发送，请重新发送"),
            status_code=400,
        )
    matched = result is CodeCheck.OK
    _record(act, ticket, Fact.PHONE_CODE, matched, detail)
    return matched


def _close(
    db: Session, *, services: Services, ticket: Ticket, outcome: TicketOutcome, note: str = ""
) -> None:
    ticket.status = TicketStatus.CLOSED
    ticket.outcome = outcome
    ticket.closed_at = services.clock.now()
    ticket.note = note.strip()[:200] or None


def _delivery(
    db: Session, *, user: User, facts: AccountFacts, ticket: Ticket
) -> tuple[Delivery, str | None]:
    """Where the temporary password goes: the account's phone; else a linked parent's phone
    (the one whose code was read back, or the earliest linked); shown only for an adult's
    account with no phone at all. (Delivery.SHOWN for a child never happens: `_blocked`.)"""
    if user.phone:
        return Delivery.SMS, user.phone
    if facts.parent_phones:
        holder = _code_holder(db, ticket)
        verified = [phone for pid, phone in facts.parent_phones if pid == holder]
        return Delivery.PARENT_SMS, (verified or [facts.parent_phones[0][1]])[0]
    return Delivery.SHOWN, None


def reset_password(
    db: Session,
    *,
    services: Services,
    agent: User,
    client: ClientInfo,
    ticket: Ticket,
) -> ResetResult:
    """Reset to a random temporary password, within hours and when the checklist passes.

    Sent by SMS to the bound phone, else to a linked parent's bound phone; read out (shown once)
    only for an adult's account with no phone. The holder must change it at next sign-in; every
    session ends; the holder and linked parents are told.
    """
    action = AuditAction.SERVICEDESK_RESET
    act = _Act(db, services, agent, client)
    _require_open(act, ticket, action)
    user = accounts.get_user(db, ticket.target_user_id)
    assert user is not None
    facts = _facts(db, services, user)
    blocked = _blocked(db, services=services, user=user, facts=facts)
    problems = checklist(db, services=services, ticket=ticket)
    if blocked or problems.problems:
        reasons = [blocked[0]] if blocked else problems.reasons
        raise act.refuse(
            action,
            ticket,
            reason=reasons[0] if len(reasons) == 1 else reasons,
            message=";".join([blocked[1]] if blocked else problems.problems),
        )
    password = generate_temporary_password()
    delivery, phone = _delivery(db, user=user, facts=facts, ticket=ticket)
    if delivery is Delivery.SHOWN and facts.is_child:  # pragma: no cover - `_blocked` said so
        raise Refused(NO_PHONE_FOR_CHILD)
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
    if delivery is Delivery.SMS and phone:
        services.sms.send(db, phone, "temporary_password", {"password": password})
    elif delivery is Delivery.PARENT_SMS and phone:
        services.sms.send(
            db,
            phone,
            "child_temporary_password",
            {"name": mask_name(user.real_name), "password": password},
        )
    told = _notify_parents(db, services=services, agent=agent, child=user, ticket=ticket)
    outcome = TicketOutcome.RESET_SHOWN if delivery is Delivery.SHOWN else TicketOutcome.RESET_SMS
    _close(db, services=services, ticket=ticket, outcome=outcome)
    act.log(action, ticket=ticket, detail={"delivery": delivery.value})
    return ResetResult(
        delivery=delivery,
        masked_phone=mask_phone(phone),
        password=password if delivery is Delivery.SHOWN else None,
        parents_told=told,
    )


def _notify_parents(
    db: Session, *, services: Services, agent: User, child: User, ticket: Ticket
) -> int:
    """Tell the child's linked parents; returns how many were told."""
    now = services.clock.now()
    when = now.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    parents = list(db.scalars(select(ParentLink.parent_id).where(ParentLink.child_id == child.id)))
    for parent_id in parents:
        messaging.notify(
            db,
            user_id=parent_id,
            kind="child_password_reset",
            now=now,
            actor_id=agent.id,
            title=N_("孩子的密码已由客服重置"),
            body=N_(
                "您的孩子%(name)s的账号密码已于 %(when)s 通过客服热线重置（工单号 %(ticket)s），"
                "下次登录须修改密码。如非您或孩子本人来电，请立即联系学校。",
                name=child.real_name,
                when=when,
                ticket=ticket.id,
            ),
        )
    return len(parents)


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
    act = _Act(db, services, agent, client)
    if ticket.status is TicketStatus.CLOSED:
        raise act.refuse(
            AuditAction.SERVICEDESK_CLOSE, ticket, reason="ticket_closed", message=N_("工单已关闭")
        )
    # 核验未通过 only where a fact did not match; an unfinished checklist is 未重置, and a
    # blocked account says why.
    mismatched = checklist(db, services=services, ticket=ticket).mismatched
    outcome = TicketOutcome.NOT_VERIFIED if mismatched else TicketOutcome.NO_RESET
    _close(db, services=services, ticket=ticket, outcome=outcome, note=note)
    user = accounts.get_user(db, ticket.target_user_id)
    assert user is not None
    blocked = _blocked(db, services=services, user=user)
    detail: dict[str, Any] = {"result": outcome.value}
    if blocked:
        detail["reason"] = blocked[0]
    act.log(AuditAction.SERVICEDESK_CLOSE, ticket=ticket, detail=detail)


@dataclass(frozen=True)
class TicketView:
    """Everything the ticket page shows."""

    ticket: Ticket
    card: AccountCard
    checklist: Checklist
    blocked: str | None
    recipients: list[CodeRecipient] = field(default_factory=list)
    delivery: Delivery = Delivery.SMS
    delivery_phone: str = ""  # masked


def ticket_view(db: Session, *, services: Services, ticket: Ticket) -> TicketView:
    """The ticket with its account (masked), its checklist and any reason it cannot reset."""
    user = accounts.get_user(db, ticket.target_user_id)
    assert user is not None
    facts = _facts(db, services, user)
    blocked = _blocked(db, services=services, user=user, facts=facts)
    delivery, phone = _delivery(db, user=user, facts=facts, ticket=ticket)
    return TicketView(
        ticket=ticket,
        card=_cards(db, [user])[0],
        checklist=checklist(db, services=services, ticket=ticket),
        blocked=blocked[1] if blocked else None,
        recipients=code_recipients(user, facts),
        delivery=delivery,
        delivery_phone=mask_phone(phone),
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

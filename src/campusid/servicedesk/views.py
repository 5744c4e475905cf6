"""客服工作台: the agent's console (查找账号, 工单, 核验, 重置密码) and the supervisor's view."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from campusid.audit import details
from campusid.clock import local_today
from campusid.i18n import N_, Text
from campusid.security.permissions import Permission, Principal
from campusid.servicedesk import service
from campusid.servicedesk.models import CallerRelation, Fact, Ticket, TicketOutcome
from campusid.servicedesk.service import Refused
from campusid.web import (
    Client,
    DbSession,
    FormId,
    Id,
    NotFound,
    Svc,
    redirect,
    render,
    require,
    require_step_up,
)

router = APIRouter()

Agent = Annotated[Principal, require(Permission.SERVICEDESK_LOOKUP)]
ResettingAgent = Annotated[Principal, require(Permission.SERVICEDESK_RESET)]
Supervisor = Annotated[Principal, require(Permission.SERVICEDESK_SUPERVISE)]

ACTION_LABELS = {
    "search": N_("查找账号"),
    "open": N_("打开账号（创建工单）"),
    "check": N_("核验"),
    "code_sent": N_("发送手机验证码"),
    "code_checked": N_("核对验证码"),
    "reset": N_("重置密码"),
    "close": N_("结束工单"),
}


def _console(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: Principal,
    *,
    results: list[service.AccountCard] | None = None,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    tickets = service.tickets_of_agent(db, agent=principal.user)
    return render(
        request,
        "servicedesk/console.html",
        {
            "results": results,
            "form": form or {},
            "error": error,
            "relations": list(CallerRelation),
            "tickets": tickets,
            "names": service.masked_names(db, {t.target_user_id for t in tickets}),
        },
        status_code=status_code,
    )


@router.get("/servicedesk")
def console(request: Request, db: DbSession, services: Svc, principal: Agent) -> Response:
    """客服工作台: service hours, 查找账号 and the agent's tickets."""
    return _console(request, db, services, principal)


@router.post("/servicedesk/search")
def search(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: Agent,
    client: Client,
    identifier: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=64)] = "",
    school: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """查找账号 (a POST: identifiers never go in URLs)."""
    form = {"identifier": identifier, "name": name, "school": school}
    try:
        results = service.search_accounts(
            db,
            services=services,
            agent=principal.user,
            client=client,
            identifier=identifier,
            name=name,
            school=school,
        )
    except Refused as exc:
        return _console(
            request, db, services, principal, form=form, error=exc.message, status_code=400
        )
    return _console(request, db, services, principal, results=results, form=form)


@router.post("/servicedesk/tickets")
def open_ticket(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: Agent,
    client: Client,
    user_id: FormId,
    relation: Annotated[CallerRelation, Form()],
) -> Response:
    """Open an account found by the search: a ticket."""
    try:
        ticket = service.open_ticket(
            db,
            services=services,
            agent=principal.user,
            client=client,
            user_id=user_id,
            relation=relation,
        )
    except Refused as exc:
        return _console(request, db, services, principal, error=exc.message, status_code=400)
    return redirect(f"/servicedesk/tickets/{ticket.id}")


def _ticket_of(db: DbSession, principal: Principal, ticket_id: Id) -> Ticket:
    ticket = service.ticket_for_agent(db, ticket_id=ticket_id, agent=principal.user)
    if ticket is None:
        raise NotFound
    return ticket


def _ticket_page(
    request: Request,
    db: DbSession,
    services: Svc,
    ticket: Ticket,
    *,
    message: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "servicedesk/ticket.html",
        {
            "view": service.ticket_view(db, services=services, ticket=ticket),
            "message": message,
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/servicedesk/tickets/{ticket_id}")
def ticket_page(
    request: Request, db: DbSession, services: Svc, principal: Agent, ticket_id: Id
) -> Response:
    """工单: the account (masked), the checklist, and the reset."""
    return _ticket_page(request, db, services, _ticket_of(db, principal, ticket_id))


def _act(
    request: Request,
    db: DbSession,
    services: Svc,
    ticket: Ticket,
    act: Any,
    done: str,
    **values: object,
) -> Response:
    """Run a checklist act; the page says what came of it (`done`, a pattern), or why not."""
    try:
        outcome = act()
    except Refused as exc:
        return _ticket_page(
            request, db, services, ticket, error=exc.message, status_code=exc.status_code
        )
    return _ticket_page(
        request, db, services, ticket, message=Text(done, outcome=outcome, **values)
    )


@router.post("/servicedesk/tickets/{ticket_id}/check")
def check(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: ResettingAgent,
    client: Client,
    ticket_id: Id,
    fact: Annotated[Fact, Form()],
    answer: Annotated[str, Form(max_length=64)] = "",
    class_name: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Record the caller's answer to one fact; the system says matched or not."""
    ticket = _ticket_of(db, principal, ticket_id)

    def act() -> str:
        matched = service.check_answer(
            db,
            services=services,
            agent=principal.user,
            client=client,
            ticket=ticket,
            fact=fact,
            answer=answer,
            class_name=class_name,
        )
        return N_("匹配") if matched else N_("不匹配")

    label = service.fact_label(db, services=services, ticket=ticket, fact=fact)
    done = N_("「%(fact)s」核验结果：%(outcome)s")
    return _act(request, db, services, ticket, act, done, fact=label)


@router.post("/servicedesk/tickets/{ticket_id}/code")
def send_code(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: ResettingAgent,
    client: Client,
    ticket_id: Id,
    to: Annotated[str, Form(max_length=16)] = "self",
) -> Response:
    """Send a code to the account's or a linked parent's bound phone, for the caller to read
    back."""
    ticket = _ticket_of(db, principal, ticket_id)
    return _act(
        request,
        db,
        services,
        ticket,
        lambda: service.send_phone_code(
            db, services=services, agent=principal.user, client=client, ticket=ticket, to=to
        ),
        N_("验证码已发送至 %(outcome)s，请来电人读出收到的验证码"),
    )


@router.post("/servicedesk/tickets/{ticket_id}/code/check")
def check_code(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: ResettingAgent,
    client: Client,
    ticket_id: Id,
    code: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Check the code the caller reads back."""
    ticket = _ticket_of(db, principal, ticket_id)

    def act() -> str:
        matched = service.check_phone_code(
            db, services=services, agent=principal.user, client=client, ticket=ticket, code=code
        )
        return N_("匹配") if matched else N_("不匹配（错误次数过多，验证码已失效）")

    return _act(request, db, services, ticket, act, N_("「绑定手机验证码」核验结果：%(outcome)s"))


@router.post("/servicedesk/tickets/{ticket_id}/reset")
def reset(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: ResettingAgent,
    client: Client,
    ticket_id: Id,
) -> Response:
    """重置密码: a random temporary password, by SMS or shown once; the ticket closes."""
    ticket = _ticket_of(db, principal, ticket_id)
    require_step_up(request)  # issue 19: an agent's reset asks for a fresh second factor
    try:
        result = service.reset_password(
            db, services=services, agent=principal.user, client=client, ticket=ticket
        )
    except Refused as exc:
        return _ticket_page(
            request, db, services, ticket, error=exc.message, status_code=exc.status_code
        )
    return render(
        request,
        "servicedesk/reset_done.html",
        {"ticket": ticket, "result": result, "card": service.account_card(db, ticket)},
    )


@router.post("/servicedesk/tickets/{ticket_id}/close")
def close(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: Agent,
    client: Client,
    ticket_id: Id,
    note: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """结束工单 without a reset."""
    ticket = _ticket_of(db, principal, ticket_id)
    try:
        service.close_ticket(
            db, services=services, agent=principal.user, client=client, ticket=ticket, note=note
        )
    except Refused as exc:
        return _ticket_page(
            request, db, services, ticket, error=exc.message, status_code=exc.status_code
        )
    return redirect("/servicedesk")


@router.get("/servicedesk/supervision")
def supervision(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: Supervisor,
    day: str | None = None,
) -> Response:
    """客服工单监督: every agent's tickets and searches of a day, with outcomes."""
    try:
        chosen = date.fromisoformat(day) if day else local_today(services.clock)
    except ValueError:
        chosen = local_today(services.clock)
    days = service.supervision_day(db, day=chosen)
    targets = {t.target_user_id for d in days for t in d.tickets}
    return render(
        request,
        "servicedesk/supervision.html",
        {
            "day": chosen,
            "previous": chosen - timedelta(days=1),
            "following": chosen + timedelta(days=1),
            "days": days,
            "names": service.masked_names(db, targets),
            "actions": ACTION_LABELS,
        },
    )


@router.get("/servicedesk/supervision/tickets/{ticket_id}")
def supervised_ticket(
    request: Request, db: DbSession, services: Svc, principal: Supervisor, ticket_id: Id
) -> Response:
    """One ticket for the supervisor: what the agent looked at and did."""
    ticket = service.ticket_for_supervisor(db, ticket_id=ticket_id)
    if ticket is None:
        raise NotFound
    return render(
        request,
        "servicedesk/supervised_ticket.html",
        {
            "view": service.ticket_view(db, services=services, ticket=ticket),
            "agent_name": service.user_name(db, ticket.agent_id),
            "activity": service.ticket_activity(db, ticket=ticket),
            "actions": ACTION_LABELS,
            "facts": {f.value: f.label for f in Fact},
            "relations": {r.value: r.label for r in CallerRelation},
            "outcomes": {o.value: o.label for o in TicketOutcome},
            "reasons": details.REASONS,
            "deliveries": details.DELIVERIES,
            "recipients": details.CODE_RECIPIENTS,
        },
    )

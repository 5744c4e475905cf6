"""找回密码 pages (route 3) and the homeroom teacher's approvals."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from fastapi.responses import Response

from campusid.context import Services
from campusid.org.models import School
from campusid.recovery import approvals, service
from campusid.recovery.models import FlowStep, RecoveryFlow, RecoveryMethod
from campusid.security import authz
from campusid.security import captcha as any_captcha
from campusid.security.permissions import Principal
from campusid.security.policy import RULE_TEXT
from campusid.web import (
    Client,
    CurrentPrincipal,
    DbSession,
    Id,
    NotFound,
    Svc,
    cookie_secure,
    redirect,
    render,
)

router = APIRouter()

WAYS = {
    "phone": RecoveryMethod.PHONE,
    "email": RecoveryMethod.EMAIL,
    "relation": RecoveryMethod.PARENT,
}
_WAY_OF = {
    RecoveryMethod.PHONE: "phone",
    RecoveryMethod.EMAIL: "email",
    RecoveryMethod.PARENT: "relation",
    RecoveryMethod.TEACHER: "relation",
}
COOKIE_MAX_AGE = int((service.APPROVAL_TTL + service.AFTER_APPROVAL_TTL).total_seconds())


def _approver(principal: CurrentPrincipal) -> Principal:
    """A homeroom teacher whose school lets them approve 找回密码 (refused plainly otherwise)."""
    authz.check_recovery_approver(principal)
    return principal


Approver = Annotated[Principal, Depends(_approver)]


def _token(request: Request) -> str | None:
    return request.cookies.get(service.FLOW_COOKIE)


def _keep_cookie(request: Request, response: Response, token: str | None) -> Response:
    """Give the browser its (new) flow id: HttpOnly, only sent to /recovery."""
    if token:
        response.set_cookie(
            service.FLOW_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            path="/recovery",
            secure=cookie_secure(request),
            max_age=COOKIE_MAX_AGE,
        )
    return response


def _way(value: str | None, flow: RecoveryFlow | None) -> str:
    if value in WAYS:
        return str(value)
    if flow is not None and flow.method is not None:
        return _WAY_OF[flow.method]
    return "phone"


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _page(
    request: Request,
    db: DbSession,
    services: Services,
    flow: RecoveryFlow | None,
    *,
    way: str | None = None,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    """The 找回密码 page as the flow stands: step 1 (the three ways), 2 or 3."""
    step = flow.step if flow is not None else FlowStep.CHOOSING
    ctx: dict[str, Any] = {
        "way": _way(way, flow),
        "step": step.value,
        "step_index": 2 if step is FlowStep.VERIFIED else 1,
        "rule": RULE_TEXT,
        "captcha_nonce": secrets.token_hex(6),
        "errors": [],
        "values": {},
    }
    if flow is not None and flow.method is RecoveryMethod.PARENT and flow.school_id:
        ctx["school"] = db.get(School, flow.school_id)
        ctx["parents"] = service.parent_options(db, services=services, flow=flow)
        ctx["teacher_allowed"] = approvals.teacher_recovery_allowed(db, flow=flow)
    ctx.update(extra)
    return render(request, "recovery/page.html", ctx, status_code=status_code)


@router.get("/recovery")
def recovery_page(
    request: Request,
    db: DbSession,
    services: Svc,
    way: str | None = None,
    school_q: str | None = None,
) -> Response:
    """找回密码: 选择找回方式 → 设置新密码 → 完成."""
    flow = service.find_flow(db, services=services, token=_token(request))
    schools = service.search_schools(db, query=school_q or "")
    return _page(request, db, services, flow, way=way, schools=schools, school_q=school_q or "")


@router.get("/recovery/captcha")
def captcha_image(request: Request, db: DbSession, services: Svc, client: Client) -> Response:
    """图片验证码: a new image for this browser's flow, as a PNG (limited per address)."""
    if not any_captcha.image_allowed(services, address=client.address):
        return Response(status_code=429, headers={"Cache-Control": "no-store"})
    flow, token = service.open_flow(db, services=services, token=_token(request))
    png = service.new_captcha(flow, services=services)
    response = Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})
    return _keep_cookie(request, response, token)


@router.get("/recovery/captcha-box")
def captcha_box(request: Request, way: str | None = None) -> Response:
    """看不清？换一张 (htmx): the captcha row with an empty answer and a fresh image address;
    without script, the whole 找回密码 page again (with a fresh image)."""
    if not _is_htmx(request):
        return redirect(f"/recovery?way={_way(way, None)}")
    return render(
        request, "recovery/_captcha.html", {"captcha_nonce": secrets.token_hex(6), "way": way}
    )


@router.get("/recovery/schools")
def school_choices(request: Request, db: DbSession, school_q: str = "") -> Response:
    """学校 search (htmx): the schools to choose from."""
    schools = service.search_schools(db, query=school_q)
    return render(request, "recovery/_schools.html", {"schools": schools, "school_q": school_q})


@router.post("/recovery/code")
def send_code(
    request: Request,
    db: DbSession,
    services: Svc,
    client: Client,
    background: BackgroundTasks,
    way: Annotated[str, Form(max_length=16)] = "phone",
    phone: Annotated[str, Form(max_length=32)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    parent: Annotated[str, Form(max_length=4)] = "",
    captcha: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """获取: a code to the bound phone or email, or to the chosen parent's phone."""
    method = WAYS.get(way, RecoveryMethod.PHONE)
    value = {"phone": phone, "email": email}.get(way, parent)
    flow, token = service.open_flow(db, services=services, token=_token(request))
    result = service.send_code(
        db,
        services=services,
        flow=flow,
        method=method,
        value=value,
        captcha_answer=captcha,
        client=client,
    )
    # The message goes out after the answer, so the answer costs the same for every target.
    background.add_task(service.deliver, services, result.delivery)
    ctx: dict[str, Any] = {
        "wait_seconds": result.wait_seconds,
        "notice": result.message,
        "send_error": result.error,
        "captcha_nonce": secrets.token_hex(6),
        "captcha_kept": result.captcha_kept,
    }
    response: Response
    if _is_htmx(request):
        response = render(request, "recovery/_send_response.html", {**ctx, "way": way})
    else:
        response = _page(
            request,
            db,
            services,
            flow,
            way=way,
            status_code=200 if result.error is None else 400,
            values={"phone": phone, "email": email, "parent": parent},
            **ctx,
        )
    return _keep_cookie(request, response, token)


@router.post("/recovery/verify")
def verify_code(
    request: Request,
    db: DbSession,
    services: Svc,
    client: Client,
    way: Annotated[str, Form(max_length=16)] = "phone",
    phone: Annotated[str, Form(max_length=32)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
    parent: Annotated[str, Form(max_length=4)] = "",
    code: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """下一步: a right code opens 设置新密码."""
    flow, token = service.open_flow(db, services=services, token=_token(request))
    result = service.verify_code(db, services=services, flow=flow, code=code, client=client)
    if result.ok:
        return _keep_cookie(request, redirect("/recovery"), token)
    live = flow if flow.step is not FlowStep.DEAD else None
    response = _page(
        request,
        db,
        services,
        live,
        way=way,
        status_code=400,
        errors=[result.error],
        values={"phone": phone, "email": email, "parent": parent},
    )
    return _keep_cookie(request, response, token)


@router.post("/recovery/student")
def identify_student(
    request: Request,
    db: DbSession,
    services: Svc,
    client: Client,
    name: Annotated[str, Form(max_length=64)] = "",
    id_card_number: Annotated[str, Form(max_length=32)] = "",
    school_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """通过关联信息: the student's name, ID card number and school."""
    flow, token = service.open_flow(db, services=services, token=_token(request))
    error = service.identify_student(
        db,
        services=services,
        flow=flow,
        name=name,
        id_card_number=id_card_number,
        school_id=int(school_id) if school_id.isdigit() else None,
        client=client,
    )
    if error is None:
        return _keep_cookie(request, redirect("/recovery?way=relation"), token)
    chosen = db.get(School, int(school_id)) if school_id.isdigit() else None
    response = _page(
        request,
        db,
        services,
        flow,
        way="relation",
        status_code=400,
        errors=[error],
        # What was typed stays (the page is never cached), the 18 digits included.
        values={"name": name, "id_card_number": id_card_number},
        schools=[chosen] if chosen else [],
        school_id=chosen.id if chosen else None,
    )
    return _keep_cookie(request, response, token)


@router.post("/recovery/teacher")
def request_teacher(
    request: Request,
    db: DbSession,
    services: Svc,
    client: Client,
    captcha: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """其他方式验证: ask the homeroom teacher to approve."""
    flow, token = service.open_flow(db, services=services, token=_token(request))
    result = approvals.request_teacher_approval(
        db, services=services, flow=flow, captcha_answer=captcha, client=client
    )
    if result.error is None:
        return _keep_cookie(request, redirect("/recovery?way=relation"), token)
    response = _page(
        request, db, services, flow, way="relation", status_code=400, errors=[result.error]
    )
    return _keep_cookie(request, response, token)


@router.post("/recovery/password")
def set_password(
    request: Request,
    db: DbSession,
    services: Svc,
    client: Client,
    new_password: Annotated[str, Form(max_length=128)] = "",
    confirm_password: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """设置新密码, then 完成 (no one is signed in)."""
    flow = service.find_flow(db, services=services, token=_token(request))
    try:
        problems = service.set_new_password(
            db,
            services=services,
            flow=flow,
            new_password=new_password,
            confirm=confirm_password,
            client=client,
        )
    except service.StepRefused:
        # Not a question of authority: this browser's flow has not verified anyone, or its
        # 15 minutes are over. The answer is the 找回密码 page itself, saying so, with the way
        # back to step 1 (a verified flow whose account changed meanwhile is given up).
        if flow is not None and flow.step is FlowStep.VERIFIED:
            service.restart(flow, db=db, services=services)
        return _page(request, db, services, None, status_code=403, step_refused=True)
    if problems:
        return _page(request, db, services, flow, status_code=400, errors=problems)
    response = _page(request, db, services, None, step_index=3)
    response.delete_cookie(service.FLOW_COOKIE, path="/recovery")
    return response


@router.post("/recovery/restart")
def restart(
    request: Request,
    db: DbSession,
    services: Svc,
    way: Annotated[str, Form(max_length=16)] = "phone",
) -> Response:
    """重新开始: give up this flow."""
    flow = service.find_flow(db, services=services, token=_token(request))
    service.restart(flow, db=db, services=services)
    return redirect(f"/recovery?way={_way(way, None)}")


@router.get("/recovery/approvals")
def approvals_page(
    request: Request, db: DbSession, services: Svc, principal: Approver, done: str | None = None
) -> Response:
    """找回密码审核: the homeroom teacher's pending requests."""
    rows = approvals.pending_requests(db, services=services, principal=principal)
    return render(request, "recovery/approvals.html", {"requests": rows, "done": done})


@router.post("/recovery/approvals/{request_id}/{decision}")
def decide(
    request_id: Id,
    decision: str,
    db: DbSession,
    services: Svc,
    principal: Approver,
    client: Client,
) -> Response:
    """通过 or 拒绝 a request."""
    if decision not in ("approve", "refuse"):
        raise NotFound
    decided = approvals.decide_request(
        db,
        services=services,
        principal=principal,
        request_id=request_id,
        approve=decision == "approve",
        client=client,
    )
    if not decided:
        raise NotFound
    return redirect(f"/recovery/approvals?done={decision}")

"""平台管理: the platform administrator's pages (an index of links, and 客服人员)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from campusid import outbox
from campusid.i18n import N_
from campusid.platform import (
    calendar_views,
    legal_views,
    school_views,
    service,
    two_step_views,
)
from campusid.platform.service import AgentError
from campusid.security import authz
from campusid.security.permissions import Permission, Principal
from campusid.web import (
    Client,
    CurrentPrincipal,
    DbSession,
    Id,
    Svc,
    redirect,
    render,
    require,
    require_step_up,
    route_paths,
)

router = APIRouter()
# onboarding (issue 16): 平台管理 → 学校
router.include_router(school_views.router)
# issue 20: 平台管理 → 服务日历
router.include_router(calendar_views.router)
# issue 19: 平台管理 → 两步验证策略
router.include_router(two_step_views.router)
# issue 23: 平台管理 → 用户协议和隐私政策
router.include_router(legal_views.router)

AgentManager = Annotated[Principal, require(Permission.PLATFORM_AGENTS_MANAGE)]


@dataclass(frozen=True)
class PlatformLink:
    """A page of platform administration, listed on /platform once it exists."""

    label: str
    url: str
    description: str
    permission: Permission


# Other platform pages add their link here.
PLATFORM_LINKS: list[PlatformLink] = [
    # onboarding (issue 16): districts, schools and their administrators
    PlatformLink(
        N_("学校"),
        "/platform/schools",
        N_("新建区县和学校，任命学校管理员，停用或启用学校"),
        Permission.PLATFORM_SCHOOLS_MANAGE,
    ),
    # issue 20: the hotline's holidays and 调休 days per year
    PlatformLink(
        N_("服务日历"),
        "/platform/calendar",
        N_("录入每年的节假日和调休上班日，决定客服热线哪天服务"),
        Permission.PLATFORM_CALENDAR_MANAGE,
    ),
    # issue 19: who must hold a second factor, 记住此设备 and the SMS fallback, per role
    PlatformLink(
        N_("两步验证策略"),
        "/platform/two-step",
        N_("按角色设置是否必须启用两步验证、宽限期、记住此设备和短信验证码"),
        Permission.PLATFORM_TWO_STEP_MANAGE,
    ),
    # issue 23: the texts 家长注册 asks to agree to, a new version published each time
    PlatformLink(
        N_("用户协议和隐私政策"),
        "/platform/legal",
        N_("编辑用户协议和隐私政策的中英文文本，每次保存发布一个新版本"),
        Permission.PLATFORM_LEGAL_MANAGE,
    ),
    # oidc (issue 23: linked from here): the applications that sign people in through campusid
    PlatformLink(
        N_("应用接入"),
        "/platform/clients",
        N_("登记接入统一认证的应用，管理其回调地址和密钥"),
        Permission.PLATFORM_CLIENTS_MANAGE,
    ),
    PlatformLink(
        N_("客服人员"), "/platform/agents", N_("任命或取消客服"), Permission.PLATFORM_AGENTS_MANAGE
    ),
    PlatformLink(
        N_("客服工单"),
        "/servicedesk/supervision",
        N_("按客服和日期查看工单、核验和结果"),
        Permission.SERVICEDESK_SUPERVISE,
    ),
    # audit: the whole platform's trail
    PlatformLink(
        N_("审计日志"),
        "/audit",
        N_("全平台的审计记录，可筛选和导出"),
        Permission.PLATFORM_AUDIT_VIEW,
    ),
    # org counts: the districts and their schools' teachers, students and parents
    PlatformLink(
        N_("区县组织"),
        "/districts",
        N_("各区县及其学校的老师、学生、家长人数"),
        Permission.DISTRICT_VIEW,
    ),
    # issue 20: the transactional outbox's dead letters
    PlatformLink(
        N_("消息投递"),
        "/platform/outbox",
        N_("查看发送失败的短信和邮件，并重新发送"),
        Permission.PLATFORM_OUTBOX_MANAGE,
    ),
]


@router.get("/platform")
def index(request: Request, principal: CurrentPrincipal) -> Response:
    """平台管理: a list of links."""
    authz.check_platform_admin(principal)
    paths = route_paths(request.app)
    links = [
        link for link in PLATFORM_LINKS if link.url in paths and principal.has(link.permission)
    ]
    return render(request, "platform/index.html", {"links": links})


def _agents_page(
    request: Request,
    db: DbSession,
    *,
    error: str | None = None,
    message: str | None = None,
    login: str = "",
    status_code: int = 200,
    confirm: service.AgentNeedsConfirmation | None = None,
) -> Response:
    return render(
        request,
        "platform/agents.html",
        {
            "agents": service.list_agents(db),
            "error": error,
            "message": message,
            "login": login,
            "confirm": confirm,
        },
        status_code=status_code,
    )


@router.get("/platform/agents")
def agents(request: Request, db: DbSession, principal: AgentManager) -> Response:
    """客服人员: the agents, and appointing one."""
    return _agents_page(request, db)


@router.post("/platform/agents")
def appoint(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: AgentManager,
    client: Client,
    login: Annotated[str, Form(max_length=64)] = "",
    confirm: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Appoint the account named by any identifier as an agent (an account with another role
    after a warning and a confirmation; never a pupil's)."""
    require_step_up(request)  # issue 19
    try:
        user = service.appoint_agent(
            db,
            services=services,
            admin=principal.user,
            client=client,
            login=login,
            confirmed=confirm == "1",
        )
    except AgentError as exc:
        return _agents_page(request, db, error=exc.message, login=login, status_code=400)
    except service.AgentNeedsConfirmation as ask:
        return _agents_page(request, db, login=login, confirm=ask, status_code=409)
    return _agents_page(request, db, message=N_("已任命 %(user)s 为客服", user=user.real_name))


@router.post("/platform/agents/{user_id}/remove")
def remove(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: AgentManager,
    client: Client,
    user_id: Id,
) -> Response:
    """Remove an agent."""
    try:
        service.remove_agent(
            db, services=services, admin=principal.user, client=client, user_id=user_id
        )
    except AgentError as exc:
        return _agents_page(request, db, error=exc.message, status_code=400)
    return redirect("/platform/agents")


# --- issue 20: 消息投递, the outbox's dead letters and retries --------------------------------
OutboxManager = Annotated[Principal, require(Permission.PLATFORM_OUTBOX_MANAGE)]


def _outbox_page(
    request: Request,
    db: DbSession,
    *,
    message: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "platform/outbox.html",
        {
            "messages": outbox.troubled(db),
            "counts": outbox.counts(db),
            "message": message,
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/platform/outbox")
def outbox_page(request: Request, db: DbSession, principal: OutboxManager) -> Response:
    """消息投递: the messages that failed for good (dead letters) or wait for a retry."""
    return _outbox_page(request, db)


@router.post("/platform/outbox/{message_id}/retry")
def outbox_retry(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: OutboxManager,
    client: Client,
    message_id: Id,
) -> Response:
    """Send a dead letter again now (delivered after this request commits)."""
    resent = service.resend_message(
        db, services=services, admin=principal.user, client=client, message_id=message_id
    )
    if not resent:
        return _outbox_page(
            request, db, error=N_("该消息已发送或不存在，无需重试。"), status_code=400
        )
    return _outbox_page(request, db, message=N_("已重新发送，请稍后刷新查看结果。"))

"""平台管理 → 两步验证策略 (issue 19): the page of the platform's second-factor policy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from campusid.i18n import N_
from campusid.platform import two_step
from campusid.security.permissions import Permission, Principal
from campusid.web import Client, DbSession, Svc, redirect, render, require, require_step_up

router = APIRouter()

PolicyManager = Annotated[Principal, require(Permission.PLATFORM_TWO_STEP_MANAGE)]
PAGE = "/platform/two-step"
DAYS = 8  # characters a days field takes


class PolicyForm(BaseModel):
    """The page's fields: 必须/可选 of teachers, and each group's days and SMS tick."""

    model_config = ConfigDict(str_strip_whitespace=True)

    teacher_need: str = Field(default="", max_length=16)
    platform_admin_grace: str | None = Field(default=None, max_length=DAYS)
    agent_grace: str | None = Field(default=None, max_length=DAYS)
    school_admin_grace: str | None = Field(default=None, max_length=DAYS)
    teacher_grace: str | None = Field(default=None, max_length=DAYS)
    agent_remember: str | None = Field(default=None, max_length=DAYS)
    school_admin_remember: str | None = Field(default=None, max_length=DAYS)
    teacher_remember: str | None = Field(default=None, max_length=DAYS)
    parent_remember: str | None = Field(default=None, max_length=DAYS)
    agent_sms: bool = False
    school_admin_sms: bool = False
    teacher_sms: bool = False
    parent_sms: bool = False


def _page(
    request: Request,
    db: DbSession,
    services: Svc,
    *,
    typed: dict[str, str | None] | None = None,
    typed_sms: set[str] | None = None,
    errors: list[str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "platform/two_step.html",
        {
            "rows": two_step.rows(db, services),
            "need_labels": two_step.NEED_LABELS,
            "typed": typed or {},
            "typed_sms": typed_sms or set(),
            "errors": errors or [],
            "message": message,
            "max_days": two_step.MAX_DAYS,
        },
        status_code=status_code,
    )


@router.get(PAGE)
def policy_page(
    request: Request, db: DbSession, services: Svc, principal: PolicyManager
) -> Response:
    """Each group of roles: must or may hold a second factor, its grace period, 记住此设备
    and the SMS fallback."""
    saved = request.query_params.get("saved") == "1"
    return _page(request, db, services, message=N_("两步验证策略已保存") if saved else None)


@router.post(PAGE)
def policy_save(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: PolicyManager,
    client: Client,
    form: Annotated[PolicyForm, Form()],
) -> Response:
    """Save the policy (a fresh second-factor check first); refused as a whole, the form keeps
    what was typed."""
    require_step_up(request, back=PAGE)
    values = form.model_dump()
    sms = {name.removesuffix("_sms") for name, on in values.items() if name.endswith("_sms") and on}
    typed = {name: value for name, value in values.items() if not name.endswith("_sms")}
    problems = two_step.save(
        db,
        services=services,
        values=typed,
        sms=sms,
        actor_id=principal.user.id,
        client=client,
    )
    if problems:
        return _page(
            request,
            db,
            services,
            typed=typed,
            typed_sms=sms,
            errors=problems,
            status_code=400,
        )
    return redirect(f"{PAGE}?saved=1")

"""平台管理 → 用户协议和隐私政策 (issue 23): publish a new version of either text.

A published version is never edited: saving publishes the next version, dated, and the public
pages (/terms, /privacy) show it from then on. A new 隐私政策 asks every guardian again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from campusid.i18n import N_
from campusid.legal import service as legal
from campusid.legal.models import DocumentKind
from campusid.security.permissions import Permission, Principal
from campusid.web import (
    Client,
    DbSession,
    NotFound,
    StepUpRequired,
    Svc,
    redirect,
    render,
    require,
    require_step_up,
)

router = APIRouter()

LegalManager = Annotated[Principal, require(Permission.PLATFORM_LEGAL_MANAGE)]
PAGE = "/platform/legal"
STEP_UP_FIRST = N_("发布前须再次验证身份：请在新窗口中完成验证，再回到这里点「发布新版本」。")


class TextForm(BaseModel):
    """The new version's text in Chinese and in English."""

    body_zh: str = Field(default="", max_length=legal.MAX_CHARS * 2)
    body_en: str = Field(default="", max_length=legal.MAX_CHARS * 2)


def _kind(kind: str) -> DocumentKind:
    if kind not in {k.value for k in DocumentKind}:
        raise NotFound
    return DocumentKind(kind)


@router.get(PAGE)
def legal_index(
    request: Request, db: DbSession, services: Svc, principal: LegalManager
) -> Response:
    """Both texts: the current version, its date, and 编辑."""
    now = services.clock.now()
    return render(
        request,
        "platform/legal.html",
        {"documents": [legal.current(db, kind, now=now) for kind in DocumentKind]},
    )


def _edit_page(
    request: Request,
    db: DbSession,
    kind: DocumentKind,
    *,
    body_zh: str,
    body_en: str,
    errors: list[str] | None = None,
    message: str | None = None,
    step_up: str | None = None,
    status_code: int = 200,
) -> Response:
    versions = legal.history(db, kind)
    return render(
        request,
        "platform/legal_edit.html",
        {
            "kind": kind,
            "versions": versions,
            "body_zh": body_zh,
            "body_en": body_en,
            "errors": errors or [],
            "message": message,
            "step_up": step_up,
        },
        status_code=status_code,
    )


@router.get(PAGE + "/{kind}")
def legal_edit(
    request: Request, kind: str, db: DbSession, services: Svc, principal: LegalManager
) -> Response:
    """编辑: the current text to start from, and every version published."""
    chosen = _kind(kind)
    document = legal.current(db, chosen, now=services.clock.now())
    published = request.query_params.get("published")
    return _edit_page(
        request,
        db,
        chosen,
        body_zh=document.body_zh,
        body_en=document.body_en,
        message=legal.PUBLISHED if published else None,
    )


@router.post(PAGE + "/{kind}")
def legal_publish(
    request: Request,
    kind: str,
    db: DbSession,
    services: Svc,
    principal: LegalManager,
    client: Client,
    form: Annotated[TextForm, Form()],
) -> Response:
    """发布新版本 (refused, the form keeps what was typed). A fresh second-factor check first,
    as for every platform-wide act; without one the page comes back with the texts kept and
    the check to open in another window (a long text is not lost to the round trip)."""
    chosen = _kind(kind)

    def refused(errors: list[str] | None, status_code: int, step_up: str | None = None) -> Response:
        return _edit_page(
            request,
            db,
            chosen,
            body_zh=form.body_zh,
            body_en=form.body_en,
            errors=errors,
            step_up=step_up,
            status_code=status_code,
        )

    try:
        require_step_up(request, back=f"{PAGE}/{chosen.value}")
    except StepUpRequired as needed:
        return refused([STEP_UP_FIRST], 403, step_up=needed.target)
    result = legal.publish(
        db,
        kind=chosen,
        body_zh=form.body_zh,
        body_en=form.body_en,
        actor_id=principal.user.id,
        client=client,
        now=services.clock.now(),
    )
    if result.document is None:
        return refused(result.problems, 400)
    return redirect(f"{PAGE}/{chosen.value}?published={result.document.version}")

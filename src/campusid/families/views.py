"""Route 2 pages: 我, 我的孩子, 关联孩子, 编辑孩子资料, 修改孩子密码, sign-up, school links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response

from campusid.accounts.views import open_session
from campusid.audit.actions import AuditAction
from campusid.audit.signins import recent_sign_ins
from campusid.families import service, signup
from campusid.families.avatars import CONTENT_TYPE
from campusid.families.models import ParentLink, Relation
from campusid.legal import service as legal
from campusid.security import authz
from campusid.security import views as captcha_views
from campusid.security.permissions import Permission, Principal
from campusid.security.policy import RULE_TEXT
from campusid.web import (
    Client,
    CurrentPrincipal,
    DbSession,
    Id,
    NotFound,
    OptionalUser,
    Svc,
    language_of,
    redirect,
    render,
    require,
)

router = APIRouter()

RELATIONS = list(Relation)


def _child_link(db: DbSession, principal: Principal, child_id: int, act: Permission) -> ParentLink:
    """The caller's link to the child in the URL: refused without the permission (a teacher, a
    pupil), not found for a parent of another child (default deny)."""
    authz.check_permission(principal, act)
    found = (
        service.linked_child(db, principal=principal, child_id=child_id)
        if authz.may_open_child(principal, child_id, act=act)
        else None
    )
    if found is None:
        raise NotFound
    return found


def _linked_child(child_id: Id, db: DbSession, principal: CurrentPrincipal) -> ParentLink:
    return _child_link(db, principal, child_id, Permission.CHILD_LINK)


def _linked_child_for_password(
    child_id: Id, db: DbSession, principal: CurrentPrincipal
) -> ParentLink:
    link = _child_link(db, principal, child_id, Permission.CHILD_PASSWORD_CHANGE)
    authz.check_family_act_by_staff(principal)
    return link


LinkedChild = Annotated[ParentLink, Depends(_linked_child)]
LinkedChildForPassword = Annotated[ParentLink, Depends(_linked_child_for_password)]


def _may_have_children(principal: CurrentPrincipal) -> Principal:
    authz.check_may_have_children(principal)
    return principal


ChildrenPrincipal = Annotated[Principal, Depends(_may_have_children)]


# --------------------------------------------------------------------------- 我


@router.get("/me")
def me(request: Request, db: DbSession, principal: CurrentPrincipal) -> Response:
    """我: name, masked phone, 我的孩子, 修改密码, 消息, 退出登录."""
    return render(
        request,
        "families/me.html",
        {
            "show_children": authz.may_have_children(principal),
            "unread": request.state.viewer.counts["unread_notices"],  # counted once a request
        },
    )


@router.get("/me/children")
def children(
    request: Request, db: DbSession, services: Svc, principal: ChildrenPrincipal
) -> Response:
    """我的孩子: the linked children, and 关联孩子."""
    return render(
        request,
        "families/children.html",
        {
            "cards": service.children_of(db, services=services, parent_id=principal.user.id),
            "flash": request.query_params.get("done"),
            "may_link": authz.may_link_children(principal),
        },
    )


@router.get("/me/children/link")
def link_page(request: Request, principal: ChildrenPrincipal) -> Response:
    """关联孩子: the child's real name, ID card number and relation."""
    authz.check_family_act_by_staff(principal)
    return render(request, "families/link.html", {"relations": RELATIONS, "form": {}})


@router.post("/me/children/link")
def link_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: ChildrenPrincipal,
    client: Client,
    real_name: Annotated[str, Form(max_length=64)] = "",
    id_card_number: Annotated[str, Form(max_length=32)] = "",
    relation: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Try to link; the answer never says which field was wrong. Whatever was typed stays in
    the form (the page is never cached), so a typo costs no retyping of 18 digits."""
    authz.check_family_act_by_staff(principal)
    chosen = Relation(relation) if relation in {r.value for r in Relation} else None
    form = {"real_name": real_name, "id_card_number": id_card_number, "relation": chosen}
    if chosen is None:
        return render(
            request,
            "families/link.html",
            {"relations": RELATIONS, "form": form, "errors": [service.RELATION_REQUIRED]},
            status_code=400,
        )
    result = service.link_child(
        db,
        services=services,
        parent=principal.user,
        real_name=real_name,
        id_card_number=id_card_number,
        relation=chosen,
        client=client,
    )
    if result.outcome is service.LinkOutcome.LINKED:
        linked = result.link
        # issue 23: a child under 14 needs the parent's consent; the child's page asks for it.
        if (
            linked is not None
            and service.child_consent(db, services=services, child=linked.child).due
        ):
            return redirect(f"/me/children/{linked.child_id}?done=linked")
        return redirect("/me/children?done=linked")
    status = 429 if result.outcome is service.LinkOutcome.THROTTLED else 400
    return render(
        request,
        "families/link.html",
        {"relations": RELATIONS, "form": form, "errors": [result.message]},
        status_code=status,
    )


# --------------------------------------------------------------------------- 编辑孩子资料


def _consent_context(
    request: Request, db: DbSession, services: Svc, link: ParentLink
) -> dict[str, object]:
    # issue 23: the school's notice (the 隐私政策's summary) and 同意, while no guardian's
    # consent to the current version is recorded; else when it was given.
    consent = service.child_consent(db, services=services, child=link.child)
    return {
        "consent": consent,
        "notice": legal.summary(consent.privacy, language_of(request)),
    }


@router.get("/me/children/{child_id}")
def child_page(request: Request, db: DbSession, services: Svc, link: LinkedChild) -> Response:
    """编辑孩子资料: 头像, 修改孩子密码, 解除关联, and the guardian's consent."""
    return render(
        request,
        "families/child.html",
        {
            "card": service.child_card(db, services=services, link=link),
            "has_avatar": link.child.avatar is not None,
            "flash": request.query_params.get("done"),
            # issue 24: the child's sign-ins (a badge's among them), as the parent sees them.
            "sign_ins": recent_sign_ins(db, user_id=link.child.id, limit=10),
            **_consent_context(request, db, services, link),
        },
    )


@router.post("/me/children/{child_id}/consent")
def child_consent(
    child_id: Id,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
) -> Response:
    """同意: a linked parent consents, for the child, to the current 隐私政策. Anyone else is
    refused with 403 (`authz.check_guardian_consent`), the refusal audited."""
    authz.check_guardian_consent(
        principal, child_id, action=AuditAction.GUARDIAN_CONSENT_GIVEN.value
    )
    link = service.linked_child(db, principal=principal, child_id=child_id)
    if link is None:  # the principal's links were read this request: not expected
        raise NotFound
    service.consent_for_child(db, services=services, link=link, client=client)
    return redirect(f"/me/children/{child_id}?done=consent")


@router.get("/me/children/{child_id}/avatar")
def child_avatar(link: LinkedChild) -> Response:
    """The child's avatar image (re-encoded JPEG), for linked parents only."""
    if link.child.avatar is None:
        raise NotFound
    return Response(
        link.child.avatar,
        media_type=CONTENT_TYPE,
        headers={"Cache-Control": "private, no-store"},
    )


@router.post("/me/children/{child_id}/avatar")
def child_avatar_upload(
    request: Request,
    db: DbSession,
    services: Svc,
    link: LinkedChild,
    client: Client,
    avatar: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Upload a new avatar: type and size checked, re-encoded."""
    limit = services.settings.families_avatar_max_bytes
    # Read one byte past the limit: enough to know it is too big, never the whole of a huge file.
    data = avatar.file.read(limit + 1) if avatar is not None else b""
    problems = service.set_child_avatar(db, services=services, link=link, data=data, client=client)
    if not problems:
        return redirect(f"/me/children/{link.child_id}?done=avatar")
    return render(
        request,
        "families/child.html",
        {
            "card": service.child_card(db, services=services, link=link),
            "has_avatar": link.child.avatar is not None,
            "errors": problems,
            **_consent_context(request, db, services, link),
        },
        status_code=400,
    )


@router.get("/me/children/{child_id}/password")
def child_password_page(request: Request, db: DbSession, link: LinkedChildForPassword) -> Response:
    """修改孩子密码 (saying so when the school will have the child choose another)."""
    forced = service.school_forces_change(db, child=link.child)
    return render(
        request,
        "families/child_password.html",
        {"link": link, "rule": RULE_TEXT, "forced": forced},
    )


@router.post("/me/children/{child_id}/password")
def child_password_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    link: LinkedChildForPassword,
    client: Client,
    new_password: Annotated[str, Form(max_length=128)] = "",
    confirm_password: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Set the child's password under the policy; the child's sessions end, the child is told."""
    problems = service.change_child_password(
        db,
        services=services,
        link=link,
        new_password=new_password,
        confirm=confirm_password,
        client=client,
    )
    forced = service.school_forces_change(db, child=link.child)
    if problems:
        return render(
            request,
            "families/child_password.html",
            {"link": link, "rule": RULE_TEXT, "errors": problems, "forced": forced},
            status_code=400,
        )
    done = "password_forced" if forced else "password"
    return redirect(f"/me/children/{link.child_id}?done={done}")


@router.post("/me/children/{child_id}/unlink")
def child_unlink(
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    link: LinkedChild,
    client: Client,
) -> Response:
    """解除关联 (the page asks for confirmation first)."""
    service.unlink(db, services=services, link=link, actor=principal.user, client=client)
    return redirect("/me/children?done=unlinked")


# --------------------------------------------------------------------------- 家长注册


@router.get("/signup")
def signup_page(request: Request, user: OptionalUser) -> Response:
    """家长注册."""
    if user is not None:
        return redirect("/me")
    return captcha_views.ensure_cookie(
        request,
        render(
            request,
            "families/signup.html",
            {"form": {}, "rule": RULE_TEXT, **captcha_views.box_context(signup.CAPTCHA_FORM)},
        ),
    )


@router.post("/signup/code")
def signup_code(
    request: Request,
    db: DbSession,
    services: Svc,
    client: Client,
    phone: Annotated[str, Form(max_length=32)] = "",
    real_name: Annotated[str, Form(max_length=64)] = "",
    captcha: Annotated[str, Form(max_length=8)] = "",
    agree: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """获取验证码: with script, the button with its countdown, what happened and (unless the
    image shown still counts) a new image; without, the same page again with the number kept."""
    sent = signup.request_code(
        db,
        services=services,
        phone=phone,
        client=client,
        captcha_token=captcha_views.token_of(request),
        captcha_answer=captcha,
    )
    context: dict[str, object] = {
        "wait_seconds": sent.wait_seconds,
        "captcha_kept": sent.captcha_kept,
        **captcha_views.box_context(signup.CAPTCHA_FORM),
    }
    if request.headers.get("hx-request") == "true":
        context.update(code_notice=sent.message if sent.sent else None)
        context.update(code_error=None if sent.sent else sent.message)
        return render(request, "families/_signup_code_response.html", context)
    context.update(
        form={"phone": phone, "real_name": real_name, "agree": bool(agree)}, rule=RULE_TEXT
    )
    if sent.sent:
        context["info"] = sent.message
    else:
        context["errors"] = [sent.message]
    return captcha_views.ensure_cookie(
        request,
        render(request, "families/signup.html", context, status_code=200 if sent.sent else 400),
    )


@router.post("/signup")
def signup_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    client: Client,
    phone: Annotated[str, Form(max_length=32)] = "",
    code: Annotated[str, Form(max_length=12)] = "",
    real_name: Annotated[str, Form(max_length=64)] = "",
    new_password: Annotated[str, Form(max_length=128)] = "",
    confirm_password: Annotated[str, Form(max_length=128)] = "",
    agree: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Create the parent account and sign the new parent in (a fresh session), on to 我的孩子.

    Refused, the page keeps the number, the code, the name and the 同意 box as they were (the
    passwords are never echoed back)."""
    result = signup.sign_up_parent(
        db,
        services=services,
        phone=phone,
        code=code,
        real_name=real_name,
        password=new_password,
        confirm=confirm_password,
        agreed=bool(agree),
        client=client,
    )
    if result.user is None:
        return captcha_views.ensure_cookie(
            request,
            render(
                request,
                "families/signup.html",
                {
                    "form": {
                        "phone": phone,
                        "code": code,
                        "real_name": real_name,
                        "agree": bool(agree),
                    },
                    "rule": RULE_TEXT,
                    "errors": result.problems,
                    **captcha_views.box_context(signup.CAPTCHA_FORM),
                },
                status_code=400,
            ),
        )
    signup.record_sign_in(db, services=services, user=result.user, client=client)
    return open_session(
        request, db, services, client, result.user, next_path="/me/children?done=signed_up"
    )


# --------------------------------------------------------------------------- 家长关联 (school)


@router.get("/school/links")
def school_links(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: Principal = require(Permission.SCHOOL_MEMBERS_MANAGE),
) -> Response:
    """家长关联: every parent link of the school's students, each removable."""
    return render(
        request,
        "families/school_links.html",
        {
            "cards": service.links_for_school(db, services=services, principal=principal),
            "flash": request.query_params.get("done"),
        },
    )


@router.post("/school/links/{link_id}/remove")
def school_link_remove(
    link_id: Id,
    db: DbSession,
    services: Svc,
    client: Client,
    principal: Principal = require(Permission.SCHOOL_MEMBERS_MANAGE),
) -> Response:
    """Remove a link of one of the school's students."""
    found = service.school_link(db, principal=principal, link_id=link_id)
    if found is None:
        raise NotFound
    service.unlink(
        db, services=services, link=found, actor=principal.user, client=client, by_school=True
    )
    return redirect("/school/links?done=removed")

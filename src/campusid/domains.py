"""The domains, installed into the base: what each adds to every request and every page.

The base (`web`, `security`, `db`, `context`, ...) imports no domain. What it needs of them is
registered here, once and in a fixed order, when the app is built (`create_app`):
- accounts loads the signed-in person and their school roles; classes adds the classes and
  grades they teach or lead; families adds their children (`security.permissions`);
- families tells classes which parents are linked to a class's students;
- messaging counts the unread notices of the header's 消息 badge (`viewer.counts`);
- servicedesk gives every page the hotline line (`hotline`);
- classes shows a pupil's school, class and homeroom teacher on the personal space (issue 23);
- recovery lends its captcha to the sign-in's step-up (`accounts.throttle`);
- oidc delivers the outbox's back-channel logout tokens (`context.register_transport`).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from campusid import web
from campusid.accounts import service as accounts
from campusid.accounts import throttle as sign_in_throttle
from campusid.accounts import views as account_pages
from campusid.classes import enrolment
from campusid.classes import service as classes
from campusid.context import register_transport
from campusid.families import service as families
from campusid.legal import service as legal
from campusid.messaging import service as messaging
from campusid.oidc.logout import CHANNEL as LOGOUT_CHANNEL
from campusid.oidc.logout import BackchannelTransport
from campusid.oidc.views import login_context as oidc_login_context
from campusid.org import service as org_service
from campusid.org.schoolyear import calendar_for
from campusid.recovery.login_captcha import LOGIN_CAPTCHA
from campusid.security import permissions
from campusid.servicedesk import calendar as service_calendar
from campusid.servicedesk.hours import hotline_status


def _unread_notices(db: Session, user_id: int) -> int:
    return messaging.unread_count(db, user_id=user_id)


def _hotline(request: Request) -> Any:
    services = web.get_services(request)
    # the hotline line (open now? when next?) on every page, the error pages included: with the
    # database down (or never migrated) it falls back to the weekday hours, so the page that
    # says "try again later" can still be drawn
    try:
        calendar = service_calendar.current(services)
    except DBAPIError:
        calendar = None
    return hotline_status(services.settings, services.clock.now(), calendar)


def _second_factor_grace(request: Request) -> bool:
    # issue 19: a role that requires a second factor, inside its grace period, sees a banner.
    info = getattr(request.state, "session_info", None)
    return info is not None and info.factor_enrolment == "grace"


def _pupil_places(db: Session, services: Any, principal: permissions.Principal) -> Any:
    # issue 23: a pupil's personal space shows their school, class and homeroom teacher.
    cal = calendar_for(services.settings, services.clock)
    return classes.pupil_places(db, principal=principal, cal=cal)


def _consent_due(db: Session, services: Any, principal: permissions.Principal) -> bool:
    # issue 23: a parent who signed up before the texts (or before their new version) is asked
    # on their home, never blocked.
    return permissions.Role.PARENT in principal.roles and not legal.has_agreed(
        db, user_id=principal.user.id, now=services.clock.now()
    )


def install() -> None:
    """Register every domain's part of the base (idempotent: a second call changes nothing)."""
    web.register_user_loader(accounts.get_user)
    permissions.register_role_loader("accounts", accounts.load_roles)
    permissions.register_role_loader("classes", classes.load_roles)
    permissions.register_role_loader("families", families.load_roles)
    permissions.register_role_loader("org", org_service.withdraw_suspended_roles)
    classes.register_linked_parents(families.linked_parent_ids)
    classes.register_parents_among(families.parents_among)
    enrolment.register_parents_of(
        lambda db, child_id: families.parent_ids_of_children(db, child_ids=[child_id])
    )
    web.register_viewer_count("unread_notices", _unread_notices)
    web.register_page_context("hotline", _hotline)
    web.register_page_context("second_factor_grace", _second_factor_grace)
    sign_in_throttle.register_captcha(LOGIN_CAPTCHA)  # the 找回密码 captcha, for the sign-in
    web.register_page_context("oidc_login", oidc_login_context)  # issue 21
    account_pages.register_space_section("pupil_places", _pupil_places)  # issue 23
    account_pages.register_space_section("consent_due", _consent_due)  # issue 23
    register_transport(LOGOUT_CHANNEL, BackchannelTransport)  # issue 21: logout tokens

"""设置: 学生默认密码, the reset mode and the account toggles."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from campusid.i18n import N_
from campusid.members import service as members
from campusid.members.views.forms import DefaultPasswordForm, SettingsForm
from campusid.org.deps import Page, SchoolPage
from campusid.org.models import ResetMode
from campusid.security.policy import RULE_TEXT
from campusid.web import require_step_up

router = APIRouter(prefix="/school/{school_id}/settings")

TEMPLATE = "members/settings.html"


def _settings(page: SchoolPage) -> dict[str, Any]:
    school_requires, platform_requires = members.teachers_two_step(
        page.db, services=page.services, school=page.school
    )
    return {
        "section": "settings",
        # issue 19: the school may require its teachers' second factor (tighten, never loosen)
        "teachers_two_step": school_requires,
        "platform_requires_teachers": platform_requires,
        "default_password": members.default_password(page.db, page.school),
        "modes": list(ResetMode),
        "rule": RULE_TEXT,
    }


@router.get("")
def settings_page(page: Page) -> Response:
    """设置: 学生默认密码, the reset mode, and the account toggles."""
    return page.render(TEMPLATE, errors=[], **_settings(page))


@router.post("/default-password")
def change_default_password(page: Page, form: Annotated[DefaultPasswordForm, Form()]) -> Response:
    """Change the 学生默认密码 (for accounts created from now on)."""
    require_step_up(page.request)  # issue 19
    problems = members.change_default_password(
        page.db,
        school=page.school,
        password=form.new_password,
        confirm=form.confirm_password,
        hasher=page.services.hasher,
        now=page.now,
        actor=page.actor,
    )
    if problems:
        return page.refuse(TEMPLATE, problems, **_settings(page))
    return page.go("/settings", saved=1)


@router.post("")
def save_settings(page: Page, form: Annotated[SettingsForm, Form()]) -> Response:
    """Save the reset mode and the toggles."""
    try:
        mode = ResetMode(form.reset_mode)
    except ValueError:
        return page.refuse(TEMPLATE, [N_("请选择重置方式")], **_settings(page))
    members.update_settings(
        page.db,
        school=page.school,
        reset_mode=mode,
        force_change_after_parent=form.force_change_after_parent,
        allow_teacher_recovery=form.allow_teacher_recovery,
        now=page.now,
        actor=page.actor,
    )
    return page.go("/settings", saved=1)


@router.post("/two-step")
def save_two_step(page: Page, teachers_required: Annotated[bool, Form()] = False) -> Response:
    """两步验证: require a second factor of the school's teachers (a fresh check first)."""
    require_step_up(page.request)  # issue 19: a change of the two-step policy
    members.set_teachers_two_step(
        page.db,
        school=page.school,
        required=teachers_required,
        now=page.now,
        actor=page.actor,
    )
    return page.go("/settings", saved=1)

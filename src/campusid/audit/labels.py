"""Chinese labels of audit actions, routes, outcomes and roles (translated where shown).

Every action the platform records is an `AuditAction` with its label; an unknown code (an old
row) is shown as it is, never dropped.
"""

from __future__ import annotations

from campusid.audit.actions import AuditAction
from campusid.audit.service import Outcome, Route
from campusid.i18n import N_
from campusid.security.permissions import Role

ROLES = frozenset(Role)

# Every action the platform records, by its stored code (the filter's choices).
ACTION_LABELS: dict[str, str] = {action.value: action.label for action in AuditAction}

ROUTE_LABELS: dict[str, str] = {
    Route.SIGN_IN: N_("登录"),
    Route.OWN: N_("本人"),
    Route.TEACHER: N_("班主任"),
    Route.PARENT: N_("家长"),
    Route.SELF_SERVICE: N_("找回密码"),
    Route.AGENT: N_("客服"),
    Route.ADMIN: N_("管理员"),
}

OUTCOME_LABELS: dict[str, str] = {
    Outcome.SUCCESS: N_("成功"),
    Outcome.FAILURE: N_("失败"),
    Outcome.DENIED: N_("拒绝"),
}


def action_label(action: str) -> str:
    """The Chinese label of a stored action (its code when none is known)."""
    return ACTION_LABELS.get(action, action)


def route_label(route: str | None) -> str:
    """The Chinese label of a route."""
    return ROUTE_LABELS.get(route or "", route or "")


def outcome_label(outcome: str) -> str:
    """The Chinese label of an outcome."""
    return OUTCOME_LABELS.get(outcome, outcome)


def role_label(role: str | None) -> str:
    """The Chinese label of the actor's role."""
    return Role(role).label if role in ROLES else (role or "")

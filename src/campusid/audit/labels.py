"""Chinese labels of audit actions, routes and outcomes, and a safe view of an event's detail.

Every action the platform records is an `AuditAction` with its label; an unknown code (an old
row) is shown as it is, never dropped.
"""

from __future__ import annotations

import json
import re
from typing import Any

from campusid.accounts.identifiers import mask_id_card, mask_phone
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


# Detail never holds a secret by contract (audit.record's docstring); these guards keep a
# careless caller's slip off the screen and out of exports all the same.
_SECRET_KEY = re.compile(r"password|passwd|secret|token|code(?!_id)|captcha|session", re.I)
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_MAX_VALUE = 200


def _scrub(text: str) -> str:
    text = _ID_CARD.sub(lambda m: mask_id_card(m.group(0)), text)
    text = _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
    return text if len(text) <= _MAX_VALUE else text[:_MAX_VALUE] + "…"


def safe_detail(detail: dict[str, Any] | None) -> list[tuple[str, str]]:
    """An event's detail as (key, text) pairs fit to show: secrets redacted, numbers masked."""
    pairs: list[tuple[str, str]] = []
    for key, value in sorted((detail or {}).items()):
        name = _scrub(str(key))
        if _SECRET_KEY.search(str(key)):
            pairs.append((name, "******"))
            continue
        if isinstance(value, str):
            text = value
        else:
            text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
        pairs.append((name, _scrub(text)))
    return pairs


def detail_text(detail: dict[str, Any] | None) -> str:
    """The safe detail in one line (for the export)."""
    return "; ".join(f"{key}={value}" for key, value in safe_detail(detail))

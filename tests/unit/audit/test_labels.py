"""Every audit action the code records is an AuditAction with a translated label; cells of the
export are plain text."""

from __future__ import annotations

import ast
from pathlib import Path

import campusid
from campusid.audit.actions import AuditAction
from campusid.audit.labels import ACTION_LABELS
from campusid.audit.trail import safe_cell
from campusid.i18n import translations

SOURCE = Path(campusid.__file__).parent


def recorded_actions() -> tuple[set[str], list[str]]:
    """The `AuditAction` members named anywhere in the package, and any `action=` given as a
    plain string to a call (which `audit.record` no longer takes)."""
    named: set[str] = set()
    literal: list[str] = []
    for path in SOURCE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "AuditAction"
            ):
                named.add(node.attr)
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    value = keyword.value
                    choices = (
                        [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
                    )
                    if keyword.arg == "action" and any(
                        isinstance(n, ast.Constant | ast.JoinedStr) for n in choices
                    ):
                        literal.append(f"{path.relative_to(SOURCE)}:{node.lineno}")
    return named, literal


def test_every_recorded_action_is_an_audit_action_with_a_label() -> None:
    named, literal = recorded_actions()
    assert not literal, f"pass an AuditAction, not a string: {literal}"
    assert {"SIGN_IN", "PASSWORD_RESET", "SERVICEDESK_RESET", "OIDC_CODE_REUSED"} <= named
    assert not named - set(AuditAction.__members__), "unknown AuditAction members"
    for action in AuditAction:
        assert action.label and action.label != action.value, action
        assert translations("en").gettext(action.label) != action.label, action
    # The codes stored before the enum are its values, so old rows keep their labels.
    assert AuditAction("servicedesk_reset") is AuditAction.SERVICEDESK_RESET
    assert AuditAction("oidc.code_reused").label == "授权码被重复使用"
    assert ACTION_LABELS["access_denied"] == AuditAction.ACCESS_DENIED.label


def test_cells_never_start_a_formula() -> None:
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert safe_cell(text).startswith("'")
    assert safe_cell("李逍遥") == "李逍遥"
    assert safe_cell(None) == ""
    assert safe_cell("a\x00b\x07c") == "abc"

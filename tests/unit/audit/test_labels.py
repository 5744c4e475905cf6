"""Every audit action the code records has a Chinese label; the detail is made safe to show."""

from __future__ import annotations

import ast
from pathlib import Path

import campusid
from campusid.audit.labels import ACTION_LABELS, safe_detail
from campusid.audit.trail import safe_cell
from campusid.profile.service import Channel

SOURCE = Path(campusid.__file__).parent
# Helpers that record an audit event with a prefix in front of the action they are given.
PREFIXED = {"_log": "servicedesk_", "_require_open": "servicedesk_"}


def _strings(node: ast.AST) -> set[str]:
    return {
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def recorded_actions() -> set[str]:
    """Every literal action passed as `action=` anywhere in the package."""
    found: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and str(node.value).startswith("oidc."):
                found.add(str(node.value))
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            for keyword in node.keywords:
                if keyword.arg == "action" and not isinstance(keyword.value, ast.JoinedStr):
                    found |= {PREFIXED.get(name, "") + s for s in _strings(keyword.value)}
    found |= {f"{channel.value}_changed" for channel in Channel}
    return found


def test_every_recorded_action_has_a_label() -> None:
    actions = recorded_actions()
    assert {"sign_in", "password_reset", "servicedesk_reset", "oidc.code_reused"} <= actions
    missing = sorted(actions - set(ACTION_LABELS))
    assert not missing, f"add these to audit.labels.ACTION_LABELS: {missing}"


def test_detail_hides_secrets_and_masks_numbers() -> None:
    shown = dict(
        safe_detail(
            {
                "new_password": "Abc#12345",
                "code": "123456",
                "login": "330603201503120114",
                "phone": "13800000001",
                "class_id": 7,
                "nested": {"a": [1, 2]},
            }
        )
    )
    assert shown["new_password"] == "******" and shown["code"] == "******"
    assert shown["login"] == "3306**********0114"
    assert shown["phone"] == "138****0001"
    assert shown["class_id"] == "7"
    assert shown["nested"] == '{"a": [1, 2]}'


def test_cells_never_start_a_formula() -> None:
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert safe_cell(text).startswith("'")
    assert safe_cell("李逍遥") == "李逍遥"
    assert safe_cell(None) == ""
    assert safe_cell("a\x00b\x07c") == "abc"

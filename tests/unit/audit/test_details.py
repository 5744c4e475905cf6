"""An audit event's detail reads as translated sentences, never as raw keys or codes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import campusid
from campusid.accounts.models import SchoolRole
from campusid.audit import details
from campusid.audit.details import describe, describe_line
from campusid.classes.models import ClassRole
from campusid.families.models import Relation
from campusid.i18n import translations
from campusid.org.models import ResetMode
from campusid.recovery.models import RecoveryMethod
from campusid.security.onetime import CodeCheck
from campusid.security.permissions import Role
from campusid.servicedesk.models import CallerRelation, Fact, TicketOutcome
from campusid.servicedesk.service import Delivery

SOURCE = Path(campusid.__file__).parent
ZH, EN = translations("zh_CN"), translations("en")
# What a raw key or code looks like: snake_case, or `key value` / `key=value`.
RAW = re.compile(r"\b[a-z]+_[a-z_]+\b|\b[a-z_]+[= ]\d")
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize(
    ("detail", "zh", "en"),
    [
        ({"actor_role": "homeroom_teacher"}, "角色：班主任", "Role: Homeroom teacher"),
        ({"batch_size": 2}, "批量：2 名学生", "Batch: 2 students"),
        ({"batch_size": 1}, "批量：1 名学生", "Batch: 1 student"),
        ({"reason": "bad_password"}, "原因：密码错误", "Reason: Wrong password"),
        ({"method": "GET", "path": "/school/1"}, "请求：查看 /school/1", "Request: View /school/1"),
        ({"method": "POST", "path": "/a"}, "请求：提交 /a", "Request: Submit /a"),
        ({"method": "teacher"}, "找回方式：班主任审核", "Recovery method: Homeroom teacher review"),
        ({"known": False}, "没有找到账号", "No account found"),
        ({"class_ids": [3, 4]}, "班级编号：3、4", "Class no.: 3, 4"),
        ({"some_new_key": "x"}, "其他信息：x", "Other: x"),
        ({"school": ""}, "学校：", "School: "),
    ],
)
def test_known_details_read_as_sentences(detail, zh, en):
    assert describe(detail, ZH) == [zh]
    assert describe(detail, EN) == [en]


def test_a_refusal_reads_as_one_request_and_its_translated_reason():
    detail = {"method": "GET", "path": "/school/1", "reason": "您没有权限执行此操作"}
    assert describe(detail, ZH) == ["请求：查看 /school/1", "原因：您没有权限执行此操作"]
    english = describe_line(detail, EN)
    assert english.startswith("Request: View /school/1; Reason: ")
    assert not HAN.search(english)


def test_an_export_filter_reads_as_sentences():
    detail = {"filter": {"action": "password_reset", "who": "3,4", "route": "teacher"}, "rows": 1}
    assert describe(detail, EN) == [
        "Filter: action is Reset password",
        "Filter: route is Homeroom teacher",
        "Filter: 2 people",
        "1 row",
    ]


def test_detail_hides_secrets_and_masks_numbers():
    shown = describe(
        {
            "new_password": "Abc#12345",
            "code": "123456",
            "login": "330603201503120114",
            "phone": "13800000001",
            "note": "a" * 300,
        },
        ZH,
    )
    assert "Abc#12345" not in str(shown) and "123456" not in str(shown)
    assert "其他信息：******" in shown
    assert "登录账号：3306**********0114" in shown
    assert "手机号：138****0001" in shown
    assert max(len(line) for line in shown) < 220


def _strings(node: ast.AST) -> set[str]:
    return {
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def recorded_details() -> tuple[set[str], set[str]]:
    """Every detail key and reason code the package's sources write into an audit event.

    Found in: dict literals given as `detail=`, or assigned to `detail`/`data`, or returned by
    a `summary`/`describe` method (merged into a detail); `detail["key"] = …`; the value of a
    "reason" key, a `reason = …` assignment, and a local `record(outcome, "reason", …)`.
    """
    keys: set[str] = set()
    reasons: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            dicts: list[ast.Dict] = []
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg == "detail":
                        dicts += [n for n in ast.walk(keyword.value) if isinstance(n, ast.Dict)]
                    # A refusal (security.authz.Denied) carries its reason, audited by the app.
                    if keyword.arg == "reason":
                        reasons |= _strings(keyword.value)
                name = getattr(node.func, "id", "")
                if name == "record" and len(node.args) >= 2:
                    reasons |= _strings(node.args[1])
            elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name) and target.id in {"detail", "data"}:
                        dicts += [n for n in ast.walk(node.value) if isinstance(n, ast.Dict)]
                    if isinstance(target, ast.Name) and target.id == "reason":
                        reasons |= _strings(node.value)
                    if (
                        isinstance(target, ast.Subscript)
                        and isinstance(target.value, ast.Name)
                        and target.value.id in {"detail", "data"}
                    ):
                        keys |= _strings(target.slice)
            elif isinstance(node, ast.FunctionDef) and node.name in {"summary", "describe"}:
                for ret in ast.walk(node):
                    if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Dict):
                        dicts.append(ret.value)
            for found in dicts:
                for key, value in zip(found.keys, found.values, strict=True):
                    if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                        continue
                    keys.add(key.value)
                    if key.value == "reason":
                        if isinstance(value, ast.JoinedStr):
                            # f"code_{checked.value}": the sign-up code checks that fail
                            assert _strings(value) == {"code_"}, ast.unparse(value)
                            reasons |= {
                                f"code_{c.value}" for c in CodeCheck if c is not CodeCheck.OK
                            }
                        else:
                            reasons |= _strings(value)
    return keys, reasons


def test_every_recorded_key_and_reason_has_a_phrase():
    keys, reasons = recorded_details()
    assert {"actor_role", "batch_size", "reason", "class_id", "created", "filter"} <= keys
    assert {"bad_password", "outside_hours", "no_authority", "code_wrong", "throttled"} <= reasons
    assert not keys - details.KNOWN_KEYS, "add these keys to audit.details"
    assert not reasons - set(details.REASONS), "add these reason codes to audit.details.REASONS"


@pytest.mark.parametrize(
    ("table", "codes"),
    [
        (details.ROLES, [*Role, *SchoolRole, *ClassRole]),
        (details.RESET_MODES, list(ResetMode)),
        (details.RECOVERY_METHODS, list(RecoveryMethod)),
        (details.RELATIONS, [*Relation, *CallerRelation]),
        (details.FACTS, list(Fact)),
        (details.DELIVERIES, list(Delivery)),
        (details.TICKET_RESULTS, list(TicketOutcome)),
    ],
)
def test_every_code_of_the_domains_has_a_label(table, codes):
    assert not {c.value for c in codes} - set(table)


def test_every_phrase_reads_without_raw_keys_in_both_languages():
    samples: dict[str, object] = dict.fromkeys(details.PLAIN, "x")
    samples |= dict.fromkeys(details.FLAGS, True)
    for key, (_pattern, codes) in details.CODED.items():
        for code in codes:
            for catalog in (ZH, EN):
                for line in describe({key: code}, catalog):
                    assert not RAW.search(line), (key, code, line)
                    assert catalog is ZH or not HAN.search(line), (key, code, line)
    for key in details.COUNTED:
        for number in (1, 2):
            assert not HAN.search(" ".join(describe({key: number}, EN))), key
    for catalog in (ZH, EN):
        for key, value in samples.items():
            for line in describe({key: value}, catalog):
                assert not RAW.search(line), (key, line)
                assert catalog is ZH or not HAN.search(line), (key, line)
        for key in details.FLAGS:
            assert describe({key: False}, catalog)

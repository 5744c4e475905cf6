"""Chinese labels of audit actions, routes and outcomes, and a safe view of an event's detail.

Every `action=` the platform records has a label here (a unit test scans the sources for
them); an unknown action is shown by its code, never dropped.
"""

from __future__ import annotations

import json
import re
from typing import Any

from campusid.accounts.identifiers import mask_id_card, mask_phone
from campusid.audit.service import Outcome, Route

ACTION_LABELS: dict[str, str] = {
    # school administration (issue 3)
    "default_password_changed": "修改学生默认密码",
    "school_settings_changed": "修改学校设置",
    "school_admin_denied": "拒绝学校管理操作",
    "member_added": "添加成员",
    "student_added": "添加学生",
    "parent_added": "添加家长",
    "teacher_added": "添加老师",
    "member_left_school": "移出学校",
    "student_moved": "换班",
    "student_removed_from_class": "移出班级",
    "teacher_assigned": "设置任教",
    "teacher_unassigned": "取消任教",
    "teachers_quick_set": "快速设置老师",
    "grade_leader_set": "设置年级组长",
    "grade_leader_removed": "取消年级组长",
    "roster_imported": "批量导入学生",
    # sign-in and the account itself
    "sign_in": "登录",
    "sign_out": "退出登录",
    "sign_up": "家长注册",
    "password_changed": "修改密码",
    "password_reset": "重置密码",
    "phone_changed": "更换手机号",
    "email_changed": "更换邮箱",
    "access_denied": "越权访问被拒绝",
    # classes
    "class_student_added": "添加学生",
    "class_student_removed": "移出班级",
    "class_member_edited": "编辑班级成员",
    "cadre_position_added": "新增班干部职位",
    "cadre_position_deleted": "删除班干部职位",
    "join_requested": "申请加入班级",
    "join_request_decided": "审核入班申请",
    "join_request_approved": "通过入班申请",
    "join_request_refused": "拒绝入班申请",
    # families
    "child_link": "关联孩子",
    "child_unlinked": "解除孩子关联",
    "avatar_changed": "更换孩子头像",
    # recovery (找回密码)
    "recovery_code_sent": "找回密码:发送验证码",
    "recovery_verified": "找回密码:验证身份",
    "recovery_identify": "找回密码:核对学生信息",
    "recovery_teacher_requested": "找回密码:申请班主任核实",
    "recovery_approved": "找回密码:班主任通过",
    "recovery_refused": "找回密码:班主任拒绝",
    # the service hotline
    "servicedesk_search": "客服:查找账号",
    "servicedesk_open": "客服:打开账号(创建工单)",
    "servicedesk_check": "客服:核验身份",
    "servicedesk_code_sent": "客服:发送手机验证码",
    "servicedesk_code_checked": "客服:核对验证码",
    "servicedesk_reset": "客服:重置密码",
    "servicedesk_close": "客服:结束工单",
    # platform
    "agent_appointed": "任命客服",
    "agent_removed": "取消客服",
    "oidc.client_created": "新增接入应用",
    "oidc.client_updated": "修改接入应用",
    "oidc.client_enabled": "启用接入应用",
    "oidc.client_disabled": "停用接入应用",
    "oidc.client_secret_reset": "重置应用密钥",
    "oidc.consent_granted": "授权应用登录",
    "oidc.code_reused": "授权码被重复使用",
    "oidc.refresh_token_reused": "刷新令牌被重复使用",
    # the audit trail itself
    "audit_exported": "导出审计日志",
    # attaching an existing account, transfers (issue 16)
    "member_attach_refused": "拒绝加入已有账号",
    "transfer_requested": "提交转学申请",
    "transfer_approved": "同意转学",
    "transfer_refused": "拒绝转学",
    "transfer_decided": "处理转学申请",
}

ROUTE_LABELS: dict[str, str] = {
    Route.SIGN_IN: "登录",
    Route.OWN: "本人",
    Route.TEACHER: "班主任",
    Route.PARENT: "家长",
    Route.SELF_SERVICE: "找回密码",
    Route.AGENT: "客服",
    Route.ADMIN: "管理员",
}

OUTCOME_LABELS: dict[str, str] = {
    Outcome.SUCCESS: "成功",
    Outcome.FAILURE: "失败",
    Outcome.DENIED: "拒绝",
}

ROLE_LABELS: dict[str, str] = {
    "student": "学生",
    "parent": "家长",
    "teacher": "教师",
    "homeroom_teacher": "班主任",
    "grade_leader": "年级组长",
    "school_admin": "学校管理员",
    "agent": "客服",
    "platform_admin": "平台管理员",
}


def action_label(action: str) -> str:
    """The Chinese label of an action (its code when none is known)."""
    return ACTION_LABELS.get(action, action)


def route_label(route: str | None) -> str:
    """The Chinese label of a route."""
    return ROUTE_LABELS.get(route or "", route or "")


def outcome_label(outcome: str) -> str:
    """The Chinese label of an outcome."""
    return OUTCOME_LABELS.get(outcome, outcome)


def role_label(role: str | None) -> str:
    """The Chinese label of the actor's role."""
    return ROLE_LABELS.get(role or "", role or "")


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

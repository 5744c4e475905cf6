"""An audit event's detail as sentences a reader understands, in the page's language.

`audit.record` callers put small facts in `detail` (``{"actor_role": "homeroom_teacher",
"batch_size": 2}``); the audit page and its export show each as a translated phrase
(角色：班主任 / Role: Homeroom teacher; 批量：2 名学生 / Batch: 2 students), never the raw key.
A key without a phrase here (an old row, a careless caller) still reads as 其他信息：… / Other:
…, and a unit test scans the sources so that every key and reason code recorded has one.

Codes are matched by their stored values, not by the domains' enums: the audit trail is read
long after, and the audit package imports no other domain.

Nothing here trusts the detail: secrets are redacted, ID card and phone numbers masked, long
values cut (the page escapes the text as well).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from babel.support import NullTranslations

from campusid.audit.actions import AuditAction
from campusid.i18n import N_
from campusid.identifiers import mask_id_card, mask_phone
from campusid.security.permissions import Role


def ngettext(singular: str, plural: str) -> tuple[str, str]:
    """Mark a plural pair for ``make messages`` (the catalog picks the form at render time)."""
    return singular, plural


# --------------------------------------------------------------------------- codes

ROLES: dict[str, str] = {
    **{role.value: role.label for role in Role},
    # class roles (classes.models.ClassRole)
    "member": N_("普通成员"),
    "group_leader": N_("小组长"),
    "subject_representative": N_("课代表"),
}

REASONS: dict[str, str] = {
    # sign-in (accounts.service.sign_in)
    "unknown": N_("账号不存在"),
    "bad_password": N_("密码错误"),
    "locked": N_("账号已暂时锁定"),
    "disabled": N_("账号已停用"),
    "address_throttled": N_("此来源尝试次数过多"),
    "wait": N_("尝试过于频繁，需稍候再试"),
    "captcha": N_("需要图片验证码"),
    "password_tries": N_("当前密码多次输错，已退出该次登录"),
    # authority (security.authz: every refusal of the platform)
    "no_authority": N_("无权管理该学生"),
    "not_class_manager": N_("不是该班的管理者"),
    "not_allowed": N_("没有权限"),
    "missing_permission": N_("所有角色均无此权限"),
    "not_school_admin": N_("不是该学校的管理员"),
    "not_platform_admin": N_("不是平台管理员"),
    "not_grade_viewer": N_("无权查看该年级"),
    "not_grade_leader": N_("不是年级组长"),  # issue 23: 年级
    "teacher_recovery_off": N_("学校未开启班主任审核找回密码"),  # issue 23: 找回密码审核
    "not_in_class": N_("该学生不在此班级"),
    "not_guardian": N_("不是该孩子的关联家长"),
    "not_a_parent": N_("不是家长账号"),
    "not_audit_reader": N_("无权查看审计日志"),
    "school_suspended": N_("该学校已停用"),
    # recovery and sign-up codes
    "too_many_wrong_codes": N_("验证码错误次数过多"),
    "code_wrong": N_("验证码错误"),
    "code_expired": N_("验证码已失效"),
    "code_exhausted": N_("验证码错误次数过多"),
    # linking a child (families.service.link_child)
    "throttled": N_("尝试过于频繁"),
    "no_student": N_("未找到该学生"),
    "mismatch": N_("信息不符"),
    "already_linked": N_("已经关联"),
    "parent_limit": N_("关联家长已达上限"),
    "linked": N_("关联成功"),
    # the service hotline
    "outside_hours": N_("不在客服服务时间"),
    "checklist": N_("核验未完成"),
    # attaching an existing account, transfers (members.batch, security.authz)
    "student_elsewhere": N_("该学生在其他学校就读，须提交转学申请"),
    "adult_not_student": N_("成年人的账号不能作为学生"),
    "child_not_adult": N_("学生的账号不能作为老师或家长"),
    "not_transfer_decider": N_("无权处理该转学申请"),
    # the service hotline, redesigned for children (issue 18)
    "ticket_closed": N_("工单已关闭"),
    "privileged_account": N_("平台管理员或客服账号"),
    "school_admin_account": N_("学校管理员账号"),
    "too_many_mismatches": N_("当日核验不匹配次数过多"),
    "no_phone_for_delivery": N_("本人及家长均未绑定手机"),
    "mismatch_on_ticket": N_("本工单已有核验项不匹配"),
    "already_checked": N_("该项已核验"),
    "not_applicable": N_("该账号没有此核验项"),
    "no_phone": N_("不是该账号或其家长绑定的手机"),
    "sms_limit": N_("短信发送次数已达上限"),
    "code_wait": N_("验证码发送过于频繁"),
    "too_few_facts": N_("匹配的核验项不足"),
    "no_strong_fact": N_("缺少手机验证码或身份证号后4位"),
    "reopened": N_("重新打开账号，旧工单结束"),
    # staff rules (issue 18)
    "pupil": N_("学生账号不能任命为客服"),
    "privileged_family": N_("客服或平台管理员账号不能关联孩子"),
    # two-step verification (issue 19)
    "bad_second_factor": N_("两步验证码错误"),
    "factor_reset": N_("无权重置两步验证"),
    "oidc_grants": N_("无权查看或撤销应用授权"),  # issue 21
    # 扫码登录卡 (issue 24)
    "not_badge_printer": N_("无权打印或挂失该班级的扫码登录卡"),
    "unknown_badge": N_("无法识别的登录卡"),
    "badge_revoked": N_("登录卡已挂失"),
    "badge_expired": N_("登录卡已过期"),
    "account_disabled": N_("账号已停用"),
    "adult_account": N_("成年人账号不能扫码登录"),
    "badges_off": N_("所在年级未启用扫码登录"),
    "network_not_listed": N_("不在学校允许的网络中"),
    # OneRoster (issue 22)
    "oneroster_not_granted": N_("应用未获准读取该学校的名册"),
    "oneroster_granter": N_("无权管理应用读取该学校名册的授权"),
}

RESET_MODES: dict[str, str] = {
    "default_password": N_("重置为默认密码"),
    "random": N_("重置为随机密码"),
}

RECOVERY_METHODS: dict[str, str] = {
    "phone": N_("通过手机找回密码"),
    "email": N_("通过邮箱找回密码"),
    "parent": N_("通过家长手机验证"),
    "teacher": N_("班主任审核"),
}

RELATIONS: dict[str, str] = {
    # a parent to a child (families.models.Relation)
    "father": N_("父亲"),
    "mother": N_("母亲"),
    "other": N_("其他监护人"),
    # a caller to the hotline (servicedesk.models.CallerRelation)
    "student": N_("学生本人"),
    "parent": N_("家长"),
    "teacher": N_("教师"),
}

FACTS: dict[str, str] = {
    "real_name": N_("真实姓名"),
    "school_class": N_("学校和班级"),
    "id_card_tail": N_("身份证号后4位"),
    "parent_name": N_("关联家长姓名"),
    "phone_code": N_("绑定手机验证码"),
}

DELIVERIES: dict[str, str] = {
    "sms": N_("短信发送"),
    "parent_sms": N_("短信发送给家长"),
    "shown": N_("电话读出"),
}

TICKET_RESULTS: dict[str, str] = {
    "reset_sms": N_("已重置（短信发送）"),
    "reset_shown": N_("已重置（电话读出临时密码）"),
    "not_verified": N_("核验未通过"),
    "no_reset": N_("未重置"),
}

# two-step verification (issue 19): the factor a sign-in or a check used, a factor's kind.
FACTORS: dict[str, str] = {
    "totp": N_("动态验证码"),
    "recovery": N_("恢复码"),
    "webauthn": N_("通行密钥 / 安全密钥"),
    "hwk": N_("安全密钥"),  # a passkey bound to its device (campusid.passkeys)
    "swk": N_("通行密钥"),  # a synced passkey
    "sms": N_("短信验证码"),
    "remembered": N_("已记住的设备"),  # 记住此设备: the second step skipped
    "qr": N_("扫码登录卡"),  # issue 24
}
# 平台管理 → 两步验证策略: whether a group of roles must hold a second factor.
NEEDS: dict[str, str] = {
    "required": N_("必须"),
    "optional": N_("可选"),
    "not_offered": N_("不提供"),
}
SECOND_STEPS: dict[str, str] = {
    "pending": N_("密码正确，待两步验证"),
}
STEPS: dict[str, str] = {
    "second_factor": N_("两步验证"),
}
OUTCOMES: dict[str, str] = {
    "success": N_("成功"),
    "failure": N_("失败"),
    "denied": N_("拒绝"),
}

VIAS: dict[str, str] = {
    "oidc_logout": N_("接入应用退出登录"),
    "sign_up": N_("家长注册后自动登录"),
    "cli": N_("命令行"),  # issue 22: the OneRoster export
}

EXPORTS: dict[str, str] = {  # issue 22: what a OneRoster export covered
    "school": N_("一所学校"),
    "region": N_("全区"),
}

CODE_RECIPIENTS: dict[str, str] = {
    "self": N_("本人绑定手机"),
    "parent": N_("家长绑定手机"),
}

DOCUMENTS: dict[str, str] = {  # issue 23: the platform's legal texts
    "terms": N_("用户协议"),
    "privacy": N_("隐私政策"),
}

CHANNELS: dict[str, str] = {  # the outbox's channels (issue 20)
    "sms": N_("短信"),
    "email": N_("邮件"),
}

SEARCHES: dict[str, str] = {
    "identifier": N_("按账号标识"),
    "name_school": N_("按姓名和学校"),
}

FIELDS: dict[str, str] = {
    "student_number": N_("学号"),
    "class_role": N_("班级角色"),
    "cadre_position": N_("班干部职位"),
    "real_name": N_("姓名"),
    "gender": N_("性别"),
    "status": N_("状态"),
}

ROUTES: dict[str, str] = {
    "sign-in": N_("登录"),
    "own": N_("本人"),
    "teacher": N_("班主任"),
    "parent": N_("家长"),
    "self-service": N_("找回密码"),
    "agent": N_("客服"),
    "admin": N_("管理员"),
}

# --------------------------------------------------------------------------- keys

# A fact shown as "label：value", the value read from a table of codes (or shown as it is).
CODED: dict[str, tuple[str, Mapping[str, str]]] = {
    "actor_role": (N_("角色：%(value)s"), ROLES),
    "role": (N_("身份：%(value)s"), ROLES),
    "roles": (N_("身份：%(value)s"), ROLES),
    "reason": (N_("原因：%(value)s"), REASONS),
    "mode": (N_("方式：%(value)s"), RESET_MODES),
    "reset_mode": (N_("学生密码重置方式：%(value)s"), RESET_MODES),
    "method": (N_("找回方式：%(value)s"), RECOVERY_METHODS),
    "relation": (N_("关系：%(value)s"), RELATIONS),
    "fact": (N_("核验项目：%(value)s"), FACTS),
    "delivery": (N_("新密码交付：%(value)s"), DELIVERIES),
    "result": (N_("工单结果：%(value)s"), TICKET_RESULTS),
    "outcome": (N_("结果：%(value)s"), OUTCOMES),
    "via": (N_("途径：%(value)s"), VIAS),
    "by": (N_("查找方式：%(value)s"), SEARCHES),
    "to": (N_("验证码发送至：%(value)s"), CODE_RECIPIENTS),
    "fields": (N_("修改项目：%(value)s"), FIELDS),
    # two-step verification (issue 19)
    "factor": (N_("验证方式：%(value)s"), FACTORS),
    "kind": (N_("验证方式：%(value)s"), FACTORS),
    "second_step": (N_("登录步骤：%(value)s"), SECOND_STEPS),
    "step": (N_("登录步骤：%(value)s"), STEPS),
    "channel": (N_("渠道：%(value)s"), CHANNELS),  # issue 20
    "need": (N_("两步验证：%(value)s"), NEEDS),  # issue 19: the policy of a group of roles
    "export_of": (N_("导出范围：%(value)s"), EXPORTS),  # issue 22
    "document": (N_("文本：%(value)s"), DOCUMENTS),  # issue 23: 用户协议 or 隐私政策
}

# A fact shown as it is (masked): numbers of records, and what a person typed.
PLAIN: dict[str, str] = {
    "year": N_("年份：%(value)s"),  # the service calendar (issue 20)
    "label": N_("名称：%(value)s"),  # a passkey's name (issue 19)
    "class_id": N_("班级编号：%(value)s"),
    "class_ids": N_("班级编号：%(value)s"),
    "grade_id": N_("年级编号：%(value)s"),
    "stage_id": N_("学段编号：%(value)s"),
    "years": N_("启用扫码登录的年级（学段第几年）：%(value)s"),  # issue 24
    "networks": N_("允许扫码登录的网络：%(value)s"),  # issue 24
    "school_id": N_("学校编号：%(value)s"),
    "ticket_id": N_("工单编号：%(value)s"),
    "message_id": N_("消息编号：%(value)s"),  # issue 20: an outbox message
    "request_id": N_("申请编号：%(value)s"),
    "transfer_id": N_("转学申请编号：%(value)s"),
    "from_school_id": N_("转出学校编号：%(value)s"),
    "to_school_id": N_("转入学校编号：%(value)s"),
    "parent_id": N_("家长编号：%(value)s"),
    "parked_campus_id": N_("存放校区编号：%(value)s"),
    "from_campus": N_("原校区编号：%(value)s"),
    "login": N_("登录账号：%(value)s"),
    "phone": N_("手机号：%(value)s"),
    "id_card": N_("身份证号：%(value)s"),
    "id_card_number": N_("身份证号：%(value)s"),
    "old": N_("原为：%(value)s"),
    "new": N_("改为：%(value)s"),
    "name": N_("姓名：%(value)s"),
    "school": N_("学校：%(value)s"),
    "query": N_("查找内容：%(value)s"),
    "client_id": N_("应用：%(value)s"),
    "scope": N_("授权范围：%(value)s"),
    "service_scopes": N_("服务端授权范围：%(value)s"),  # issue 21
    "permission": N_("所需权限：%(value)s"),
    # issue 22: a OneRoster call's answer, and the binding's error code when it failed
    "http_status": N_("响应状态：%(value)s"),
    "code_minor": N_("错误代码：%(value)s"),
    # issue 23: the version of a legal text published or agreed to
    "version": N_("版本：%(value)s"),
    "terms_version": N_("用户协议版本：%(value)s"),
    "privacy_version": N_("隐私政策版本：%(value)s"),
}

# A count, in the language's plural forms.
COUNTED: dict[str, tuple[str, str]] = {
    # the service calendar (issue 20): how many holidays and 调休 days were entered
    "holidays": ngettext("节假日 %(num)d 天", "节假日 %(num)d 天"),
    "workdays": ngettext("调休上班日 %(num)d 天", "调休上班日 %(num)d 天"),
    "batch_size": ngettext("批量：%(num)d 名学生", "批量：%(num)d 名学生"),
    "rows": ngettext("共 %(num)d 行", "共 %(num)d 行"),
    "replaced": ngettext("旧登录卡 %(num)d 张作废", "旧登录卡 %(num)d 张作废"),  # issue 24
    "results": ngettext("找到 %(num)d 个账号", "找到 %(num)d 个账号"),
    "created": ngettext("新建 %(num)d 个账号", "新建 %(num)d 个账号"),
    "attached": ngettext("%(num)d 个已有账号加入", "%(num)d 个已有账号加入"),
    "moved": ngettext("换班 %(num)d 人", "换班 %(num)d 人"),
    "parents_linked": ngettext("关联家长 %(num)d 位", "关联家长 %(num)d 位"),
    "id_cards_bound": ngettext("绑定身份证 %(num)d 个", "绑定身份证 %(num)d 个"),
    "refused_count": ngettext("被拒绝 %(num)d 名学生", "被拒绝 %(num)d 名学生"),
    "factors": ngettext("移除 %(num)d 种验证方式", "移除 %(num)d 种验证方式"),
    # issue 19: the two-step policy of a group of roles, and remembered browsers removed
    "grace_days": ngettext("宽限期 %(num)d 天", "宽限期 %(num)d 天"),
    "remember_days": ngettext("记住此设备 %(num)d 天", "记住此设备 %(num)d 天"),
    "devices": ngettext("移除 %(num)d 台设备", "移除 %(num)d 台设备"),
    # issue 21: the app's sign-ins a back-channel logout ended
    "signins_ended": ngettext("结束该应用的 %(num)d 次登录", "结束该应用的 %(num)d 次登录"),
    # issue 22: the records a OneRoster call returned
    "records": ngettext("返回 %(num)d 条记录", "返回 %(num)d 条记录"),
}

# A yes-or-no fact: its phrase when true, and when false.
FLAGS: dict[str, tuple[str, str]] = {
    "created": (N_("新账号"), N_("已有账号")),
    "new_account": (N_("新账号"), N_("已有账号")),
    "known": (N_("找到了账号"), N_("没有找到账号")),
    "matched": (N_("核验一致"), N_("核验不一致")),
    "homeroom": (N_("担任班主任"), N_("不担任班主任")),
    "by_school": (N_("由学校解除"), N_("由家长解除")),
    "force_change_after_parent": (
        N_("家长改密后孩子须再改密码：是"),
        N_("家长改密后孩子须再改密码：否"),
    ),
    "allow_teacher_recovery": (
        N_("允许班主任协助找回密码：是"),
        N_("允许班主任协助找回密码：否"),
    ),
    # issue 19
    "allow_sms": (N_("允许短信验证码：是"), N_("允许短信验证码：否")),
    "teachers_two_step_required": (
        N_("本校老师必须启用两步验证：是"),
        N_("本校老师必须启用两步验证：否"),
    ),
}

# What an export was filtered by (the `filter` of audit_exported).
FILTERS: dict[str, str] = {
    "action": N_("筛选：操作为%(value)s"),
    "route": N_("筛选：途径为%(value)s"),
    "outcome": N_("筛选：结果为%(value)s"),
    "since": N_("筛选：从 %(value)s 起"),
    "until": N_("筛选：到 %(value)s 止"),
}
FILTER_PEOPLE = ngettext("筛选：%(num)d 名人员", "筛选：%(num)d 名人员")

OTHER = N_("其他信息：%(value)s")
SEPARATOR = N_("、")
YES, NO = N_("是"), N_("否")
# A refused request (access_denied): what was asked for.
REQUEST = N_("请求：%(what)s %(path)s")
VIEWING, SUBMITTING = N_("查看"), N_("提交")

# Every key with a phrase (the unit test checks the sources against it).
KNOWN_KEYS = frozenset({*CODED, *PLAIN, *COUNTED, *FLAGS, "filter", "path"})

# Detail never holds a secret by contract (audit.record's docstring); these guards keep a
# careless caller's slip off the screen and out of exports all the same.
_SECRET_KEY = re.compile(r"password|passwd|secret|token|code(?!_id)|captcha|session", re.I)
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_MAX_VALUE = 200
HIDDEN = "******"


def scrub(text: str) -> str:
    """A value fit to show: ID card and phone numbers masked, cut to a readable length."""
    text = _ID_CARD.sub(lambda m: mask_id_card(m.group(0)), text)
    text = _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
    return text if len(text) <= _MAX_VALUE else text[:_MAX_VALUE] + "…"


def describe(detail: Mapping[str, Any] | None, catalog: NullTranslations) -> list[str]:
    """The detail as sentences in the catalog's language, in a stable order."""
    return _Describer(catalog).describe(dict(detail or {}))


def describe_line(detail: Mapping[str, Any] | None, catalog: NullTranslations) -> str:
    """The sentences in one line, for the export's 详情 cell."""
    return catalog.gettext(LINE_SEPARATOR).join(describe(detail, catalog))


LINE_SEPARATOR = N_("；")
ACTION_CODES = frozenset(action.value for action in AuditAction)


class _Describer:
    def __init__(self, catalog: NullTranslations) -> None:
        self.catalog = catalog
        self.gettext = catalog.gettext
        self.lines: list[str] = []

    def describe(self, detail: dict[str, Any]) -> list[str]:
        path = detail.pop("path", None)
        if path is not None:
            method = str(detail.pop("method", "")).upper()
            what = {"GET": VIEWING, "HEAD": VIEWING, "POST": SUBMITTING}.get(method)
            self.lines.append(
                self.gettext(REQUEST)
                % {"what": self.gettext(what) if what else scrub(method), "path": scrub(str(path))}
            )
        for key, value in sorted(detail.items(), key=lambda item: str(item[0])):
            if value is not None:
                self.one(str(key), value)
        return self.lines

    def text(self, value: Any, codes: Mapping[str, str] | None = None) -> str:
        """A value as words: codes by their labels, lists joined, free text as it is."""
        if isinstance(value, bool):
            return self.gettext(YES if value else NO)
        if isinstance(value, list | tuple | set):
            return self.gettext(SEPARATOR).join(self.text(v, codes) for v in value)
        if isinstance(value, dict):
            items = sorted(value.items(), key=lambda item: str(item[0]))
            return self.gettext(SEPARATOR).join(self.text(v, codes) for _, v in items)
        value = str(value)
        if codes is not None and value in codes:
            return self.gettext(codes[value])
        # A free text (a refusal's message) is translated when the catalog knows it (never
        # the empty text: gettext("") is the catalog's header).
        return scrub(self.gettext(value) if value else value)

    def say(self, pattern: str, value: str) -> None:
        self.lines.append(self.gettext(pattern) % {"value": value})

    def count(self, forms: tuple[str, str], number: int) -> None:
        self.lines.append(self.catalog.ngettext(*forms, number) % {"num": number})

    def one(self, key: str, value: Any) -> None:
        if _SECRET_KEY.search(key):
            self.say(PLAIN.get(key, OTHER), HIDDEN)
        elif key == "filter" and isinstance(value, dict):
            self.filter(value)
        elif key in FLAGS and isinstance(value, bool):
            self.lines.append(self.gettext(FLAGS[key][0] if value else FLAGS[key][1]))
        elif key in COUNTED and isinstance(value, int) and not isinstance(value, bool):
            self.count(COUNTED[key], value)
        elif key in CODED:
            pattern, codes = CODED[key]
            self.say(pattern, self.text(value, codes))
        elif key in PLAIN:
            self.say(PLAIN[key], self.text(value))
        else:
            self.say(OTHER, self.text(value))

    def filter(self, wanted: dict[str, Any]) -> None:
        for name, value in sorted(wanted.items()):
            if name == "who":
                self.count(FILTER_PEOPLE, len([part for part in str(value).split(",") if part]))
            elif name == "action" and value in ACTION_CODES:
                self.say(FILTERS[name], self.gettext(AuditAction(value).label))
            elif name in FILTERS:
                codes = {"route": ROUTES, "outcome": OUTCOMES}.get(name)
                self.say(FILTERS[name], self.text(value, codes))
            else:
                self.say(OTHER, self.text(value))

"""Every act the audit trail records: one enum, each value with a translatable label.

The values are the codes stored in `audit_events.action`; they never change, so the rows
written before stay readable. Add a member (and its label) to record a new kind of act.
"""

from __future__ import annotations

from enum import StrEnum

from campusid.i18n import N_


class AuditAction(StrEnum):
    """What an audit event records."""

    # school administration (issue 3)
    DEFAULT_PASSWORD_CHANGED = "default_password_changed"
    SCHOOL_SETTINGS_CHANGED = "school_settings_changed"
    SCHOOL_ADMIN_DENIED = "school_admin_denied"  # kept for older rows once refusals are one act
    MEMBER_ADDED = "member_added"
    STUDENT_ADDED = "student_added"
    PARENT_ADDED = "parent_added"
    TEACHER_ADDED = "teacher_added"
    MEMBER_LEFT_SCHOOL = "member_left_school"
    STUDENT_MOVED = "student_moved"
    STUDENT_REMOVED_FROM_CLASS = "student_removed_from_class"
    TEACHER_ASSIGNED = "teacher_assigned"
    TEACHER_UNASSIGNED = "teacher_unassigned"
    TEACHERS_QUICK_SET = "teachers_quick_set"
    GRADE_LEADER_SET = "grade_leader_set"
    GRADE_LEADER_REMOVED = "grade_leader_removed"
    ROSTER_IMPORTED = "roster_imported"
    # sign-in and the account itself
    SIGN_IN = "sign_in"
    SIGN_OUT = "sign_out"
    SIGN_UP = "sign_up"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    PHONE_CHANGED = "phone_changed"
    EMAIL_CHANGED = "email_changed"
    ACCESS_DENIED = "access_denied"
    # classes
    CLASS_STUDENT_ADDED = "class_student_added"
    CLASS_STUDENT_REMOVED = "class_student_removed"
    CLASS_MEMBER_EDITED = "class_member_edited"
    CADRE_POSITION_ADDED = "cadre_position_added"
    CADRE_POSITION_DELETED = "cadre_position_deleted"
    JOIN_REQUESTED = "join_requested"
    JOIN_REQUEST_DECIDED = "join_request_decided"
    JOIN_REQUEST_APPROVED = "join_request_approved"
    JOIN_REQUEST_REFUSED = "join_request_refused"
    # families
    CHILD_LINK = "child_link"
    CHILD_UNLINKED = "child_unlinked"
    AVATAR_CHANGED = "avatar_changed"
    # recovery (找回密码)
    RECOVERY_CODE_SENT = "recovery_code_sent"
    RECOVERY_VERIFIED = "recovery_verified"
    RECOVERY_IDENTIFY = "recovery_identify"
    RECOVERY_TEACHER_REQUESTED = "recovery_teacher_requested"
    RECOVERY_APPROVED = "recovery_approved"
    RECOVERY_REFUSED = "recovery_refused"
    # the service hotline
    SERVICEDESK_SEARCH = "servicedesk_search"
    SERVICEDESK_OPEN = "servicedesk_open"
    SERVICEDESK_CHECK = "servicedesk_check"
    SERVICEDESK_CODE_SENT = "servicedesk_code_sent"
    SERVICEDESK_CODE_CHECKED = "servicedesk_code_checked"
    SERVICEDESK_RESET = "servicedesk_reset"
    SERVICEDESK_CLOSE = "servicedesk_close"
    # platform
    AGENT_APPOINTED = "agent_appointed"
    AGENT_REMOVED = "agent_removed"
    # onboarding (平台管理 → 学校)
    DISTRICT_CREATED = "district_created"
    SCHOOL_CREATED = "school_created"
    SCHOOL_SUSPENDED = "school_suspended"
    SCHOOL_REOPENED = "school_reopened"
    SCHOOL_ADMIN_APPOINTED = "school_admin_appointed"
    SCHOOL_ADMIN_REMOVED = "school_admin_removed"
    OIDC_CLIENT_CREATED = "oidc.client_created"
    OIDC_CLIENT_UPDATED = "oidc.client_updated"
    OIDC_CLIENT_ENABLED = "oidc.client_enabled"
    OIDC_CLIENT_DISABLED = "oidc.client_disabled"
    OIDC_CLIENT_SECRET_RESET = "oidc.client_secret_reset"
    OIDC_CONSENT_GRANTED = "oidc.consent_granted"
    OIDC_CODE_REUSED = "oidc.code_reused"
    OIDC_REFRESH_TOKEN_REUSED = "oidc.refresh_token_reused"
    # the audit trail itself
    AUDIT_EXPORTED = "audit_exported"
    # attaching an existing account, transfers (issue 16)
    MEMBER_ATTACH_REFUSED = "member_attach_refused"
    TRANSFER_REQUESTED = "transfer_requested"
    TRANSFER_APPROVED = "transfer_approved"
    TRANSFER_REFUSED = "transfer_refused"
    TRANSFER_DECIDED = "transfer_decided"
    # the service calendar (issue 20)
    SERVICE_CALENDAR_CHANGED = "service_calendar_changed"
    # corrections of the organisation (issue 17)
    STAGE_SYSTEM_CORRECTED = "stage_system_corrected"
    GRADE_ENROLLMENT_CORRECTED = "grade_enrollment_corrected"
    # two-step verification (issue 19)
    FACTOR_ADDED = "factor_added"
    FACTOR_REMOVED = "factor_removed"
    FACTOR_RECOVERY_CODES = "factor_recovery_codes"
    FACTOR_RESET = "factor_reset"
    SECOND_FACTOR_CHECKED = "second_factor_checked"
    TWO_STEP_POLICY_CHANGED = "two_step_policy_changed"
    TWO_STEP_SMS_SENT = "two_step_sms_sent"
    REMEMBERED_DEVICES_REMOVED = "remembered_devices_removed"
    # consent management and single logout (issue 21)
    OIDC_CONSENT_WITHDRAWN = "oidc.consent_withdrawn"
    OIDC_BACKCHANNEL_LOGOUT = "oidc.backchannel_logout"
    # the transactional outbox (issue 20): a platform administrator's 重新发送
    OUTBOX_RESENT = "outbox_resent"
    # 扫码登录卡 (issue 24); a badge sign-in is a SIGN_IN with detail factor "qr"
    BADGE_PRINTED = "badge_printed"
    BADGE_REVOKED = "badge_revoked"
    BADGE_SETTINGS_CHANGED = "badge_settings_changed"
    # OneRoster 1.2 for the platform's applications (issue 22): one row per API call
    ONEROSTER_CALL = "oneroster.call"
    ONEROSTER_GRANTED = "oneroster.granted"
    ONEROSTER_REVOKED = "oneroster.revoked"
    ONEROSTER_EXPORTED = "oneroster.exported"
    # 用户协议 and 隐私政策 (issue 23): a new version published, and consents given
    LEGAL_TEXT_PUBLISHED = "legal_text_published"
    CONSENT_GIVEN = "consent_given"
    GUARDIAN_CONSENT_GIVEN = "guardian_consent_given"

    @property
    def label(self) -> str:
        """The Chinese label (marked for translation; ``_()`` shows it in the page language)."""
        return ACTION_LABELS[self]


ACTION_LABELS: dict[AuditAction, str] = {
    # school administration (issue 3)
    AuditAction.DEFAULT_PASSWORD_CHANGED: N_("修改学生默认密码"),
    AuditAction.SCHOOL_SETTINGS_CHANGED: N_("修改学校设置"),
    AuditAction.SCHOOL_ADMIN_DENIED: N_("拒绝学校管理操作"),
    AuditAction.MEMBER_ADDED: N_("添加成员"),
    AuditAction.STUDENT_ADDED: N_("添加学生"),
    AuditAction.PARENT_ADDED: N_("添加家长"),
    AuditAction.TEACHER_ADDED: N_("添加老师"),
    AuditAction.MEMBER_LEFT_SCHOOL: N_("移出学校"),
    AuditAction.STUDENT_MOVED: N_("换班"),
    AuditAction.STUDENT_REMOVED_FROM_CLASS: N_("移出班级"),
    AuditAction.TEACHER_ASSIGNED: N_("设置任教"),
    AuditAction.TEACHER_UNASSIGNED: N_("取消任教"),
    AuditAction.TEACHERS_QUICK_SET: N_("快速设置老师"),
    AuditAction.GRADE_LEADER_SET: N_("设置年级组长"),
    AuditAction.GRADE_LEADER_REMOVED: N_("取消年级组长"),
    AuditAction.ROSTER_IMPORTED: N_("批量导入学生"),
    # sign-in and the account itself
    AuditAction.SIGN_IN: N_("登录"),
    AuditAction.SIGN_OUT: N_("退出登录"),
    AuditAction.SIGN_UP: N_("家长注册"),
    AuditAction.PASSWORD_CHANGED: N_("修改密码"),
    AuditAction.PASSWORD_RESET: N_("重置密码"),
    AuditAction.PHONE_CHANGED: N_("更换手机号"),
    AuditAction.EMAIL_CHANGED: N_("更换邮箱"),
    AuditAction.ACCESS_DENIED: N_("越权访问被拒绝"),
    # classes
    AuditAction.CLASS_STUDENT_ADDED: N_("添加学生"),
    AuditAction.CLASS_STUDENT_REMOVED: N_("移出班级"),
    AuditAction.CLASS_MEMBER_EDITED: N_("编辑班级成员"),
    AuditAction.CADRE_POSITION_ADDED: N_("新增班干部职位"),
    AuditAction.CADRE_POSITION_DELETED: N_("删除班干部职位"),
    AuditAction.JOIN_REQUESTED: N_("申请加入班级"),
    AuditAction.JOIN_REQUEST_DECIDED: N_("审核入班申请"),
    AuditAction.JOIN_REQUEST_APPROVED: N_("通过入班申请"),
    AuditAction.JOIN_REQUEST_REFUSED: N_("拒绝入班申请"),
    # families
    AuditAction.CHILD_LINK: N_("关联孩子"),
    AuditAction.CHILD_UNLINKED: N_("解除孩子关联"),
    AuditAction.AVATAR_CHANGED: N_("更换孩子头像"),
    # recovery (找回密码)
    AuditAction.RECOVERY_CODE_SENT: N_("找回密码：发送验证码"),
    AuditAction.RECOVERY_VERIFIED: N_("找回密码：验证身份"),
    AuditAction.RECOVERY_IDENTIFY: N_("找回密码：核对学生信息"),
    AuditAction.RECOVERY_TEACHER_REQUESTED: N_("找回密码：申请班主任核实"),
    AuditAction.RECOVERY_APPROVED: N_("找回密码：班主任通过"),
    AuditAction.RECOVERY_REFUSED: N_("找回密码：班主任拒绝"),
    # the service hotline
    AuditAction.SERVICEDESK_SEARCH: N_("客服：查找账号"),
    AuditAction.SERVICEDESK_OPEN: N_("客服：打开账号（创建工单）"),
    AuditAction.SERVICEDESK_CHECK: N_("客服：核验身份"),
    AuditAction.SERVICEDESK_CODE_SENT: N_("客服：发送手机验证码"),
    AuditAction.SERVICEDESK_CODE_CHECKED: N_("客服：核对验证码"),
    AuditAction.SERVICEDESK_RESET: N_("客服：重置密码"),
    AuditAction.SERVICEDESK_CLOSE: N_("客服：结束工单"),
    # platform
    AuditAction.AGENT_APPOINTED: N_("任命客服"),
    AuditAction.AGENT_REMOVED: N_("取消客服"),
    AuditAction.DISTRICT_CREATED: N_("新建区县"),
    AuditAction.SCHOOL_CREATED: N_("新建学校"),
    AuditAction.SCHOOL_SUSPENDED: N_("停用学校"),
    AuditAction.SCHOOL_REOPENED: N_("启用学校"),
    AuditAction.SCHOOL_ADMIN_APPOINTED: N_("任命学校管理员"),
    AuditAction.SCHOOL_ADMIN_REMOVED: N_("移除学校管理员"),
    AuditAction.OIDC_CLIENT_CREATED: N_("新增接入应用"),
    AuditAction.OIDC_CLIENT_UPDATED: N_("修改接入应用"),
    AuditAction.OIDC_CLIENT_ENABLED: N_("启用接入应用"),
    AuditAction.OIDC_CLIENT_DISABLED: N_("停用接入应用"),
    AuditAction.OIDC_CLIENT_SECRET_RESET: N_("重置应用密钥"),
    AuditAction.OIDC_CONSENT_GRANTED: N_("授权应用登录"),
    AuditAction.OIDC_CODE_REUSED: N_("授权码被重复使用"),
    AuditAction.OIDC_REFRESH_TOKEN_REUSED: N_("刷新令牌被重复使用"),
    # the audit trail itself
    AuditAction.AUDIT_EXPORTED: N_("导出审计日志"),
    # attaching an existing account, transfers (issue 16)
    AuditAction.MEMBER_ATTACH_REFUSED: N_("拒绝加入已有账号"),
    AuditAction.TRANSFER_REQUESTED: N_("提交转学申请"),
    AuditAction.TRANSFER_APPROVED: N_("同意转学"),
    AuditAction.TRANSFER_REFUSED: N_("拒绝转学"),
    AuditAction.TRANSFER_DECIDED: N_("处理转学申请"),
    # the service calendar (issue 20)
    AuditAction.SERVICE_CALENDAR_CHANGED: N_("修改服务日历"),
    # corrections of the organisation (issue 17)
    AuditAction.STAGE_SYSTEM_CORRECTED: N_("修改学段学制"),
    AuditAction.GRADE_ENROLLMENT_CORRECTED: N_("修改年级入学年份"),
    # two-step verification (issue 19)
    AuditAction.FACTOR_ADDED: N_("添加两步验证方式"),
    AuditAction.FACTOR_REMOVED: N_("删除两步验证方式"),
    AuditAction.FACTOR_RECOVERY_CODES: N_("重新生成恢复码"),
    AuditAction.FACTOR_RESET: N_("重置两步验证"),
    AuditAction.SECOND_FACTOR_CHECKED: N_("两步验证"),
    AuditAction.TWO_STEP_POLICY_CHANGED: N_("修改两步验证策略"),
    AuditAction.TWO_STEP_SMS_SENT: N_("发送两步验证短信验证码"),
    AuditAction.REMEMBERED_DEVICES_REMOVED: N_("移除已记住的设备"),
    # consent management and single logout (issue 21)
    AuditAction.OIDC_CONSENT_WITHDRAWN: N_("撤销应用授权"),
    AuditAction.OIDC_BACKCHANNEL_LOGOUT: N_("通知应用退出登录"),
    # the transactional outbox (issue 20)
    AuditAction.OUTBOX_RESENT: N_("重新发送"),
    # 扫码登录卡 (issue 24)
    AuditAction.BADGE_PRINTED: N_("打印扫码登录卡"),
    AuditAction.BADGE_REVOKED: N_("挂失扫码登录卡"),
    AuditAction.BADGE_SETTINGS_CHANGED: N_("修改扫码登录设置"),
    # OneRoster (issue 22)
    AuditAction.ONEROSTER_CALL: N_("应用读取名册"),
    AuditAction.ONEROSTER_GRANTED: N_("允许应用读取学校名册"),
    AuditAction.ONEROSTER_REVOKED: N_("取消应用读取学校名册"),
    AuditAction.ONEROSTER_EXPORTED: N_("导出OneRoster名册"),
    # 用户协议 and 隐私政策 (issue 23)
    AuditAction.LEGAL_TEXT_PUBLISHED: N_("发布用户协议或隐私政策新版本"),
    AuditAction.CONSENT_GIVEN: N_("同意用户协议和隐私政策"),
    AuditAction.GUARDIAN_CONSENT_GIVEN: N_("监护人同意孩子的隐私政策"),
}

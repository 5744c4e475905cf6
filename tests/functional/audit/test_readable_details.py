"""审计日志 in both languages: the 详情 column reads as sentences, never as raw keys or codes.

The trail holds what the suite easily makes over HTTP (sign-ins that fail for each reason, a
bulk reset, a refused request, an export) and, for every audit action, an event with the
detail its callers record, so that every detail key the platform writes is on the page.
"""

from __future__ import annotations

import html
import re
from io import BytesIO

import pytest
from openpyxl import load_workbook

from campusid.audit import details
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.models import AuditEvent
from campusid.audit.service import Outcome, Route
from tests.functional.i18n.test_english_pages import assert_english, english, user_data
from tests.support.http import post_form, sign_in

# What a raw key looks like on the page: a snake_case token, or a recorded key followed by a
# value (`batch_size 2`, `reason=bad_password`).
SNAKE = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b")
KEY_VALUE = re.compile(
    r"\b(?:" + "|".join(sorted(details.KNOWN_KEYS, key=len, reverse=True)) + r")(?:=| \d| [a-z]+_)"
)
HAN = re.compile(r"[\u4e00-\u9fff]")
ROW = re.compile(r'<tr data-event="(\d+)">(.*?)</tr>', re.S)
CELL = re.compile(r"<td>(.*?)</td>", re.S)

# The detail each action's callers record (every key of audit.details appears once at least).
SAMPLES: dict[AuditAction, dict[str, object]] = {
    AuditAction.DEFAULT_PASSWORD_CHANGED: {},
    AuditAction.SCHOOL_SETTINGS_CHANGED: {
        "reset_mode": "random",
        "force_change_after_parent": True,
        "allow_teacher_recovery": False,
    },
    AuditAction.SCHOOL_ADMIN_DENIED: {"school_id": 99},
    AuditAction.MEMBER_ADDED: {"role": "parent", "created": False},
    AuditAction.STUDENT_ADDED: {"role": "student", "created": True},
    AuditAction.PARENT_ADDED: {"role": "parent", "created": True},
    AuditAction.TEACHER_ADDED: {"role": "teacher", "created": False},
    AuditAction.MEMBER_LEFT_SCHOOL: {"roles": ["student", "parent"]},
    AuditAction.STUDENT_MOVED: {"class_id": 3},
    AuditAction.STUDENT_REMOVED_FROM_CLASS: {"class_id": 3},
    AuditAction.TEACHER_ASSIGNED: {"class_id": 3, "homeroom": True},
    AuditAction.TEACHER_UNASSIGNED: {"class_id": 3},
    AuditAction.TEACHERS_QUICK_SET: {"class_id": 3},
    AuditAction.GRADE_LEADER_SET: {"grade_id": 2},
    AuditAction.GRADE_LEADER_REMOVED: {"grade_id": 2},
    AuditAction.ROSTER_IMPORTED: {
        "rows": 12,
        "created": 9,
        "attached": 1,
        "moved": 1,
        "parents_linked": 2,
        "id_cards_bound": 1,
    },
    AuditAction.SIGN_IN: {"reason": "locked", "login": "13800000001"},
    AuditAction.SIGN_OUT: {"via": "oidc_logout"},
    AuditAction.SIGN_UP: {"phone": "13800000009", "reason": "code_expired"},
    AuditAction.PASSWORD_CHANGED: {},
    AuditAction.PASSWORD_RESET: {
        "mode": "default_password",
        "actor_role": "homeroom_teacher",
        "class_id": 3,
        "batch_size": 1,
    },
    AuditAction.PHONE_CHANGED: {"old": "13800000001", "new": "13900000002"},
    AuditAction.EMAIL_CHANGED: {"old": None, "new": "l***@example.com"},
    AuditAction.ACCESS_DENIED: {
        "method": "POST",
        "path": "/school/1",
        "reason": "missing_permission",
        "permission": "school:organisation:manage",
        "refused_count": 2,
    },
    AuditAction.CLASS_STUDENT_ADDED: {"class_id": 3, "new_account": True, "from_campus": 1},
    AuditAction.CLASS_STUDENT_REMOVED: {"class_id": 3, "parked_campus_id": 1},
    AuditAction.CLASS_MEMBER_EDITED: {"class_id": 3, "fields": ["real_name", "class_role"]},
    AuditAction.CADRE_POSITION_ADDED: {"class_id": 3},
    AuditAction.CADRE_POSITION_DELETED: {"class_id": 3},
    AuditAction.JOIN_REQUESTED: {"class_id": 3, "role": "student"},
    AuditAction.JOIN_REQUEST_DECIDED: {"class_id": 3, "request_id": 5},
    AuditAction.JOIN_REQUEST_APPROVED: {"class_id": 3, "role": "parent"},
    AuditAction.JOIN_REQUEST_REFUSED: {"class_id": 3, "role": "student"},
    AuditAction.CHILD_LINK: {
        "id_card": "3306**********0114",
        "relation": "mother",
        "reason": "parent_limit",
    },
    AuditAction.CHILD_UNLINKED: {"parent_id": 8, "relation": "father", "by_school": True},
    AuditAction.AVATAR_CHANGED: {"relation": "other"},
    AuditAction.RECOVERY_CODE_SENT: {"method": "phone", "known": True},
    AuditAction.RECOVERY_VERIFIED: {"method": "email", "reason": "too_many_wrong_codes"},
    AuditAction.RECOVERY_IDENTIFY: {"id_card_number": "330603201503120114", "known": False},
    AuditAction.RECOVERY_TEACHER_REQUESTED: {"known": True},
    AuditAction.RECOVERY_APPROVED: {"method": "teacher", "request_id": 5},
    AuditAction.RECOVERY_REFUSED: {"method": "teacher", "request_id": 6},
    AuditAction.SERVICEDESK_SEARCH: {"by": "identifier", "query": "lixiaoyao", "results": 1},
    AuditAction.SERVICEDESK_OPEN: {"relation": "parent", "ticket_id": 4},
    AuditAction.SERVICEDESK_CHECK: {"fact": "id_card_tail", "matched": False, "ticket_id": 4},
    AuditAction.SERVICEDESK_CODE_SENT: {"to": "parent", "parent_id": 9, "ticket_id": 4},
    AuditAction.SERVICEDESK_CODE_CHECKED: {"outcome": "failure", "ticket_id": 4},
    AuditAction.SERVICEDESK_RESET: {"reason": "checklist", "outcome": "denied", "ticket_id": 4},
    AuditAction.SERVICEDESK_CLOSE: {"result": "reset_sms", "ticket_id": 4},
    AuditAction.AGENT_APPOINTED: {},
    AuditAction.AGENT_REMOVED: {},
    AuditAction.DISTRICT_CREATED: {},
    AuditAction.SCHOOL_CREATED: {},
    AuditAction.SCHOOL_SUSPENDED: {},
    AuditAction.SCHOOL_REOPENED: {},
    AuditAction.SCHOOL_ADMIN_APPOINTED: {},
    AuditAction.SCHOOL_ADMIN_REMOVED: {},
    AuditAction.OIDC_CLIENT_CREATED: {"client_id": "library"},
    AuditAction.OIDC_CLIENT_UPDATED: {
        "client_id": "library",
        "service_scopes": "roster-core.readonly",
    },
    AuditAction.OIDC_CLIENT_ENABLED: {"client_id": "library"},
    AuditAction.OIDC_CLIENT_DISABLED: {"client_id": "library"},
    AuditAction.OIDC_CLIENT_SECRET_RESET: {"client_id": "library"},
    AuditAction.OIDC_CONSENT_GRANTED: {"client_id": "library", "scope": "openid profile"},
    AuditAction.OIDC_CODE_REUSED: {"client_id": "library"},
    AuditAction.OIDC_CONSENT_WITHDRAWN: {"client_id": "library", "by": "guardian"},
    AuditAction.OIDC_BACKCHANNEL_LOGOUT: {"client_id": "library"},
    AuditAction.OUTBOX_RESENT: {"message_id": 12, "channel": "sms"},
    # 扫码登录卡 (issue 24)
    AuditAction.BADGE_PRINTED: {"class_id": 5, "replaced": 1},
    AuditAction.BADGE_REVOKED: {"class_id": 5},
    AuditAction.BADGE_SETTINGS_CHANGED: {
        "stage_id": 3,
        "years": [1, 2],
        "networks": ["10.20.0.0/16"],
    },
    AuditAction.OIDC_REFRESH_TOKEN_REUSED: {"client_id": "library"},
    AuditAction.MEMBER_ATTACH_REFUSED: {"reason": "student_elsewhere"},
    AuditAction.TRANSFER_REQUESTED: {"transfer_id": 3, "from_school_id": 1, "to_school_id": 2},
    AuditAction.TRANSFER_APPROVED: {"transfer_id": 3, "from_school_id": 1, "to_school_id": 2},
    AuditAction.TRANSFER_REFUSED: {"transfer_id": 3, "from_school_id": 1, "to_school_id": 2},
    AuditAction.TRANSFER_DECIDED: {"reason": "not_transfer_decider"},
    # issue 23: 用户协议 and 隐私政策, a guardian's consent
    AuditAction.LEGAL_TEXT_PUBLISHED: {"document": "privacy", "version": 2},
    AuditAction.CONSENT_GIVEN: {"terms_version": 1, "privacy_version": 2},
    AuditAction.GUARDIAN_CONSENT_GIVEN: {"privacy_version": 2},
    AuditAction.SERVICE_CALENDAR_CHANGED: {"year": 2027, "holidays": 3, "workdays": 1},
    # two-step verification (issue 19)
    AuditAction.FACTOR_ADDED: {"kind": "webauthn", "factor": "swk", "label": "Pixel 8"},
    AuditAction.FACTOR_REMOVED: {"kind": "totp"},
    AuditAction.FACTOR_RECOVERY_CODES: {},
    AuditAction.FACTOR_RESET: {"factors": 2, "reason": "factor_reset"},
    AuditAction.SECOND_FACTOR_CHECKED: {
        "factor": "recovery",
        "step": "second_factor",
        "second_step": "pending",
        "reason": "bad_second_factor",
    },
    AuditAction.TWO_STEP_POLICY_CHANGED: {
        "role": "teacher",
        "need": "required",
        "grace_days": 3,
        "remember_days": 30,
        "allow_sms": True,
    },
    AuditAction.TWO_STEP_SMS_SENT: {},
    AuditAction.REMEMBERED_DEVICES_REMOVED: {"devices": 2},
    AuditAction.STAGE_SYSTEM_CORRECTED: {"stage_id": 4, "old": "6-3", "new": "5-4"},
    AuditAction.GRADE_ENROLLMENT_CORRECTED: {"grade_id": 2, "old": 2024, "new": 2023},
    AuditAction.ONEROSTER_CALL: {
        "client_id": "app-1",
        "path": "/ims/oneroster/rostering/v1p2/schools",
        "http_status": 200,
        "records": 1,
    },
    AuditAction.ONEROSTER_GRANTED: {"client_id": "app-1"},
    AuditAction.ONEROSTER_REVOKED: {"client_id": "app-1"},
    AuditAction.ONEROSTER_EXPORTED: {"export_of": "region", "via": "cli"},
    AuditAction.AUDIT_EXPORTED: {
        "filter": {"action": "sign_in", "outcome": "failure", "since": "2026-11-01"},
        "rows": 3,
    },
}
# More details some actions record on other paths.
MORE: list[tuple[AuditAction, dict[str, object]]] = [
    (AuditAction.TEACHER_ASSIGNED, {"class_ids": [3, 4]}),
    (AuditAction.SCHOOL_SETTINGS_CHANGED, {"teachers_two_step_required": True}),
    (AuditAction.SIGN_IN, {"factor": "remembered"}),
    (
        AuditAction.SERVICEDESK_SEARCH,
        {"by": "name_school", "name": "李逍遥", "school": "之江汇学校", "results": 2},
    ),
    (AuditAction.SERVICEDESK_RESET, {"delivery": "sms", "ticket_id": 4}),
    (AuditAction.OIDC_BACKCHANNEL_LOGOUT, {"client_id": "app-1", "signins_ended": 2}),
    (
        AuditAction.ONEROSTER_CALL,
        {"client_id": "app-1", "path": "/x", "http_status": 400, "code_minor": "invaliddata"},
    ),
]


@pytest.fixture
def busy_trail(make_client, db, services, world):  # type: ignore[no-untyped-def]
    """Events made over HTTP, and one of every action with its callers' detail."""
    visitor = make_client()
    post_form(visitor, "/login", {"login": "chenxiaokai", "password": "Wrong-Pass1"})
    post_form(visitor, "/login", {"login": "nobody-here", "password": "Wrong-Pass1"})
    teacher = make_client()
    sign_in(teacher, "chenxiaokai")
    ticked = [world["lixiaoyao"].id, world["heshuhuan"].id]
    reset = post_form(
        teacher, f"/classes/{world.class51.id}/manage/students/reset", {"student_ids": ticked}
    )
    assert reset.status_code == 200
    assert teacher.get(f"/school/{world.school.id}").status_code == 403
    admin = make_client()
    sign_in(admin, "xx_admin")
    assert post_form(admin, "/audit/export", {"action": "password_reset"}).status_code == 200
    now = services.clock.now()
    for action, detail in [*SAMPLES.items(), *MORE]:
        audit.record(
            db,
            now=now,
            action=action,
            outcome=Outcome.FAILURE if "reason" in detail else Outcome.SUCCESS,
            actor_id=world["xx_admin"].id,
            actor_role="school_admin",
            target_user_id=world["lixiaoyao"].id,
            school_id=world.school.id,
            route=Route.ADMIN,
            detail=detail,
        )
    db.commit()
    return db


def test_the_samples_cover_every_action_and_every_detail_key():
    assert set(SAMPLES) == set(AuditAction)
    keys = {key for _, detail in [*SAMPLES.items(), *MORE] for key in detail}
    assert keys == details.KNOWN_KEYS


def _detail_cells(client, path: str = "/audit") -> dict[int, str]:  # type: ignore[no-untyped-def]
    """Every event's 详情 cell as read (tags dropped, entities decoded), across all pages."""
    cells: dict[int, str] = {}
    page = 1
    while True:
        response = client.get(f"{path}?page={page}")
        assert response.status_code == 200
        for event_id, row in ROW.findall(response.text):
            last = CELL.findall(row)[-1]
            cells[int(event_id)] = html.unescape(re.sub(r"<[^>]+>", " ", last)).strip()
        if f"page={page + 1}" not in html.unescape(response.text):
            return cells
        page += 1


@pytest.mark.parametrize("login", ["xx_admin", "pt_admin"])
@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_the_detail_column_reads_as_sentences(
    make_client, db, services, busy_trail, login, language
):
    client = make_client()
    if language == "en":
        english(client)
    sign_in(client, login)
    cells = _detail_cells(client)
    events = {e.id: e for e in db.query(AuditEvent).filter(AuditEvent.id.in_(cells))}
    recorded = {events[i].action for i in cells}
    assert recorded == {a.value for a in AuditAction}
    kinds = {(e.action, (e.detail or {}).get("reason")) for e in events.values()}
    assert ("sign_in", "bad_password") in kinds  # made over HTTP
    # An unknown login's failure belongs to no school: only the platform reads it.
    assert (("sign_in", "unknown") in kinds) is (login == "pt_admin")
    names = user_data(db, services)
    for event_id, text in cells.items():
        action = events[event_id].action
        assert not SNAKE.search(text), (action, text)
        assert not KEY_VALUE.search(text), (action, text)
        if language == "en":
            for name in names:
                text = text.replace(name, " ")
            assert not HAN.search(text), (action, text)
    shown = " ".join(cells.values())
    if language == "en":
        assert "Batch: 2 students" in shown
        assert "Reason: Wrong password" in shown
        assert "Role: Homeroom teacher" in shown
        assert "Filter: action is Reset password" in shown
        assert "Request: View /school/" in shown
    else:
        assert "批量：2 名学生" in shown
        assert "原因：密码错误" in shown
        assert "角色：班主任" in shown
        assert "请求：查看 /school/" in shown
        assert "手机号：138****0009" in shown and "13800000009" not in shown


@pytest.mark.parametrize("login", ["xx_admin", "pt_admin"])
def test_the_english_audit_page_has_no_chinese_outside_names(
    make_client, db, services, busy_trail, login
):
    client = english(make_client())
    sign_in(client, login)
    page = 1
    while True:
        response = client.get(f"/audit?page={page}")
        assert_english(response, user_data(db, services))
        if f"page={page + 1}" not in html.unescape(response.text):
            break
        page += 1


def test_the_export_uses_the_same_sentences(make_client, busy_trail):
    client = english(make_client())
    sign_in(client, "xx_admin")
    response = post_form(client, "/audit/export", {"action": "password_reset"})
    rows = [
        [c.value for c in row]
        for row in load_workbook(BytesIO(response.content)).active.iter_rows()
    ]
    assert rows[0][0] == "Time" and rows[0][-1] == "Details"
    details_column = [row[-1] or "" for row in rows[1:]]
    assert any("Batch: 2 students" in cell for cell in details_column)
    assert not any(SNAKE.search(cell) for cell in details_column)

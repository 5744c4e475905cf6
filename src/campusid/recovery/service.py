"""Route 3, 找回密码: the rules of a recovery flow, from choosing a way to the new password.

Safety, in the order a request meets it:
- every answer to "send me a code" is the same whether the phone, email or student exists, and
  costs the same: the code is issued (and stored) either way, and the message itself is handed
  back as a `Delivery` that the handler sends after the answer has gone out;
- a solved image captcha (single use) is needed before any message; limits per target, per ID
  card number and (generous) per client address;
- codes come from `security.onetime` (6 digits, keyed hash, 10 minutes, single use, 5 tries);
  they are bound to the flow *and* the target, and a new code to a target voids the codes that
  other flows hold for it; 60 seconds between two messages to one target;
- the flow is one browser's (a random id in an HttpOnly cookie, stored hashed) and one
  account's; every step checks that the flow stands on the step before it.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid.accounts import service as accounts
from campusid.accounts.models import AccountStatus, SchoolMembership, SchoolRole, User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import ClientInfo, Outcome, Route
from campusid.clock import SHANGHAI, local_today
from campusid.context import Services
from campusid.families.models import ParentLink, Relation
from campusid.i18n import N_
from campusid.identifiers import (
    InvalidIdentifier,
    mask_id_card,
    mask_phone,
    normalize_email,
    normalize_phone,
    validate_id_card_number,
)
from campusid.messaging import service as messaging
from campusid.org.models import School
from campusid.recovery import captcha
from campusid.recovery.models import (
    ApprovalStatus,
    FlowStep,
    RecoveryFlow,
    RecoveryMethod,
    TeacherRecoveryRequest,
)
from campusid.security import onetime
from campusid.security.onetime import CodeCheck
from campusid.security.ratelimit import RateLimiter
from campusid.security.sessions import hash_token

log = logging.getLogger("campusid.recovery")

FLOW_COOKIE = "campusid_recovery"
FLOW_TTL = timedelta(hours=1)
SET_PASSWORD_TTL = timedelta(minutes=15)
APPROVAL_TTL = timedelta(hours=72)
AFTER_APPROVAL_TTL = timedelta(hours=24)

MSG_CAPTCHA = captcha.MSG_CAPTCHA
MSG_TOO_MANY = N_("操作过于频繁，请稍后再试")
MSG_WRONG_CODE = N_("验证码不正确，请重新输入")
MSG_CODE_FORMAT = N_("请输入6位数字验证码")
MSG_CODE_EXPIRED = N_("验证码已失效，请重新获取")
MSG_CODE_EXHAUSTED = N_("验证码错误次数过多，本次找回已失效，请重新开始")
MSG_NO_CODE_YET = N_("请先获取验证码")
MSG_MOVED_ON = N_("本次找回已进入下一步；如需更换找回方式，请点击「重新开始」")
MSG_NO_STUDENT_YET = N_("请先填写学生信息")
MSG_PICK_PARENT = N_("请选择接收验证码的家长手机")
MSG_PICK_SCHOOL = N_("请选择学校")
MSG_NAME = N_("请输入学生姓名")
MSG_TEACHER_OFF = N_("该学校未开通班主任审核找回密码")

SENT = {
    RecoveryMethod.PHONE: N_("如该手机号已绑定平台账号，验证码已发送，10分钟内有效"),
    RecoveryMethod.EMAIL: N_("如该邮箱已绑定平台账号，验证码已发送至该邮箱，10分钟内有效"),
    RecoveryMethod.PARENT: N_("如学生信息无误，验证码已发送至所选家长手机，10分钟内有效"),
}
REQUESTED = N_("申请已提交，请等待班主任审核。审核通过后，请在本浏览器中回到本页面设置新密码。")

_CODE_PURPOSE = {
    RecoveryMethod.PHONE: "recovery.phone",
    RecoveryMethod.EMAIL: "recovery.email",
    RecoveryMethod.PARENT: "recovery.parent",
}

# Decoy parent phones for a student the platform does not know: the same page either way.
_DECOY_PREFIXES = ("133", "135", "136", "137", "138", "139", "150", "151", "158", "159", "186",
                   "187", "188", "189", "177", "199")  # fmt: skip


class StepRefused(Exception):  # noqa: N818 - flow control
    """The flow does not stand where this step needs it (steps cannot be skipped)."""


# --------------------------------------------------------------------------- the flow itself


def _digest(services: Services, kind: str, value: str) -> str:
    """The keyed hash under which a target is kept and counted (never the value itself)."""
    return onetime.target_digest(services.settings.secret_key, "recovery", f"{kind}:{value}")


def find_flow(db: Session, *, services: Services, token: str | None) -> RecoveryFlow | None:
    """The browser's flow while it is alive (not finished, given up or expired)."""
    if not token:
        return None
    flow = db.scalar(select(RecoveryFlow).where(RecoveryFlow.token_digest == hash_token(token)))
    if flow is None or flow.step in (FlowStep.DONE, FlowStep.DEAD):
        return None
    if services.clock.now() >= flow.expires_at:
        return None
    return flow


def open_flow(
    db: Session, *, services: Services, token: str | None
) -> tuple[RecoveryFlow, str | None]:
    """The browser's live flow, or a new one with the token to set as its cookie."""
    flow = find_flow(db, services=services, token=token)
    if flow is not None:
        return flow, None
    now = services.clock.now()
    new_token = secrets.token_urlsafe(32)
    flow = RecoveryFlow(
        token_digest=hash_token(new_token),
        step=FlowStep.CHOOSING,
        created_at=now,
        expires_at=now + FLOW_TTL,
    )
    db.add(flow)
    db.flush()
    return flow, new_token


def new_captcha(flow: RecoveryFlow, *, services: Services) -> bytes:
    """A fresh captcha image for the flow (the earlier one stops counting)."""
    text = captcha.new_challenge(
        flow, secret_key=services.settings.secret_key, now=services.clock.now()
    )
    return captcha.render_png(text)


def restart(flow: RecoveryFlow | None, *, db: Session, services: Services) -> None:
    """Give up the flow (重新开始): its codes and any teacher request die with it."""
    if flow is None:
        return
    _kill(db, services=services, flow=flow)


def _kill(db: Session, *, services: Services, flow: RecoveryFlow) -> None:
    now = services.clock.now()
    void_code(db, services=services, flow=flow)
    flow.step = FlowStep.DEAD
    flow.finished_at = now
    for request in db.scalars(
        select(TeacherRecoveryRequest).where(
            TeacherRecoveryRequest.flow_id == flow.id,
            TeacherRecoveryRequest.status == ApprovalStatus.PENDING,
        )
    ):
        request.status = ApprovalStatus.WITHDRAWN


def _code_target(flow: RecoveryFlow) -> str:
    return f"{flow.id}:{flow.destination_digest}"


def void_code(db: Session, *, services: Services, flow: RecoveryFlow) -> None:
    """Void the code the flow holds, if any."""
    if flow.method in _CODE_PURPOSE and flow.destination_digest:
        assert flow.method is not None
        onetime.void_all(
            db,
            secret_key=services.settings.secret_key,
            now=services.clock.now(),
            purpose=_CODE_PURPOSE[flow.method],
            target=_code_target(flow),
        )


def limiter(services: Services, name: str) -> RateLimiter:
    """One of the recovery limiters, with its numbers from the settings."""
    s = services.settings
    numbers = {
        "recovery.address": (s.recovery_address_limit, s.recovery_address_window_seconds),
        "recovery.phone": (s.recovery_target_limit, s.recovery_target_window_seconds),
        "recovery.email": (s.recovery_target_limit, s.recovery_target_window_seconds),
        "recovery.id_number": (s.recovery_id_number_limit, s.recovery_id_number_window_seconds),
    }
    count, window = numbers[name]
    return services.limits.named(name, count, window)


# --------------------------------------------------------------------------- sending a code


@dataclass(frozen=True)
class Delivery:
    """A message to send once the answer has gone out."""

    channel: Literal["sms", "mail"]
    to: str
    template: str
    params: dict[str, str]


@dataclass
class SendResult:
    """The answer to 获取: a notice, or an error; the seconds before 获取 works again."""

    message: str | None = None
    error: str | None = None
    wait_seconds: int = 0
    delivery: Delivery | None = None
    # A rightly solved image that the refusal gave back: the page keeps it and its answer.
    captcha_kept: bool = False


@dataclass(frozen=True)
class _Target:
    destination: str  # what the digest and the limits are keyed on
    limiter: str
    account: User | None  # the account recovered, if the target named one
    recipient_id: int | None = None
    delivery: Delivery | None = None


def deliver(services: Services, delivery: Delivery | None) -> None:
    """Send a message after the response (in its own transaction), so timing tells nothing."""
    if delivery is None:
        return
    db = services.session_factory()
    try:
        if delivery.channel == "sms":
            services.sms.send(db, delivery.to, delivery.template, delivery.params)
        else:
            services.mail.send(db, delivery.to, delivery.template, delivery.params)
        db.commit()
        services.after_commit(db)  # issue 20: the outbox row goes out now that it committed
    except Exception:
        db.rollback()
        log.exception("recovery message could not be sent (%s)", delivery.template)
    finally:
        db.close()


def active(user: User | None) -> User | None:
    """The account if it may sign in (a disabled one is treated as unknown)."""
    return user if user is not None and user.status is AccountStatus.ACTIVE else None


def _resolve(
    db: Session, *, services: Services, flow: RecoveryFlow, method: RecoveryMethod, value: str
) -> _Target | str:
    """What the typed value names, or a message about its format (never about existence)."""
    if method is RecoveryMethod.PHONE:
        try:
            phone = normalize_phone(value)
        except InvalidIdentifier as exc:
            return exc.message
        user = active(db.scalar(select(User).where(User.phone == phone)))
        return _Target(
            destination=f"phone:{phone}",
            limiter="recovery.phone",
            account=user,
            recipient_id=user.id if user else None,
            delivery=Delivery("sms", phone, "recovery_code", {}) if user else None,
        )
    if method is RecoveryMethod.EMAIL:
        try:
            email = normalize_email(value)
        except InvalidIdentifier as exc:
            return exc.message
        # Addresses are stored encrypted in their normalised (lower-case) form, so an exact
        # comparison of the ciphertexts finds one regardless of the case typed (issue 18).
        user = active(db.scalar(select(User).where(User.email == email)))
        return _Target(
            destination=f"email:{email.lower()}",
            limiter="recovery.email",
            account=user,
            recipient_id=user.id if user else None,
            delivery=Delivery("mail", user.email, "recovery_code", {})
            if user and user.email
            else None,
        )
    # The relation way: the parent is picked by its place in the list the page showed.
    if flow.method not in (RecoveryMethod.PARENT, None) or flow.subject_digest is None:
        return MSG_NO_STUDENT_YET
    options = parent_options(db, services=services, flow=flow)
    if not value.isdigit() or not 0 <= int(value) < len(options):
        return MSG_PICK_PARENT
    option = options[int(value)]
    student = active(db.get(User, flow.user_id)) if flow.user_id else None
    parent = option.parent
    if parent is None or student is None or parent.phone is None:
        return _Target(destination=option.destination, limiter="recovery.phone", account=None)
    return _Target(
        destination=option.destination,
        limiter="recovery.phone",
        account=student,
        recipient_id=parent.id,
        delivery=Delivery("sms", parent.phone, "child_recovery_code", {"name": student.real_name}),
    )


def _wait_for_target(db: Session, *, digest: str, now: datetime) -> int:
    """Seconds before another message may go to this target, whichever flow sent the last."""
    last = db.scalar(
        select(RecoveryFlow.code_sent_at)
        .where(RecoveryFlow.destination_digest == digest, RecoveryFlow.code_sent_at.is_not(None))
        .order_by(RecoveryFlow.code_sent_at.desc())
        .limit(1)
    )
    if last is None or now - last >= onetime.RESEND_AFTER:
        return 0
    return int((onetime.RESEND_AFTER - (now - last)).total_seconds()) + 1


def _gate(
    flow: RecoveryFlow, *, services: Services, captcha_answer: str, client: ClientInfo
) -> tuple[str | None, captcha.Solved | None]:
    """Before any message: the client address is counted and a solved captcha used up.

    Returns why the message may not go (or None) and the solved image, to give back if the
    message is refused for a reason of its own (a limit), so the person need not solve another.
    """
    address_ok = limiter(services, "recovery.address").hit(client.address or "unknown")
    solved = captcha.solve(
        flow,
        secret_key=services.settings.secret_key,
        now=services.clock.now(),
        answer=captcha_answer,
    )
    if solved is None:
        return MSG_CAPTCHA, None
    if not address_ok:
        solved.give_back(flow)
        return MSG_TOO_MANY, solved
    return None, solved


def message_gate(
    flow: RecoveryFlow, *, services: Services, captcha_answer: str, client: ClientInfo
) -> str | None:
    """Before any message: the client address is counted and a solved captcha used up.

    Returns why the message may not go, or None.
    """
    refused, _ = _gate(flow, services=services, captcha_answer=captcha_answer, client=client)
    return refused


def send_code(
    db: Session,
    *,
    services: Services,
    flow: RecoveryFlow,
    method: RecoveryMethod,
    value: str,
    captcha_answer: str,
    client: ClientInfo,
) -> SendResult:
    """获取: check the captcha and limits, bind the flow to the target, issue a code.

    The answer and the work are the same whether or not the target names an account; only a
    real, bound target gets the message (returned as `delivery`, sent after the response).
    A rightly solved image is used up only by a message sent: any other refusal gives it back.
    """
    now = services.clock.now()
    if flow.step not in (FlowStep.CHOOSING, FlowStep.IDENTIFIED, FlowStep.CODE_SENT):
        return SendResult(error=MSG_MOVED_ON, captcha_kept=True)
    refused, solved = _gate(flow, services=services, captcha_answer=captcha_answer, client=client)
    if refused or solved is None:
        return SendResult(error=refused or MSG_CAPTCHA, captcha_kept=solved is not None)

    def keep(result: SendResult) -> SendResult:
        solved.give_back(flow)
        result.captcha_kept = True
        return result

    target = _resolve(db, services=services, flow=flow, method=method, value=value)
    if isinstance(target, str):
        return keep(SendResult(error=target))
    digest = _digest(services, "target", target.destination)
    if not limiter(services, target.limiter).hit(digest):
        return keep(SendResult(error=MSG_TOO_MANY))
    wait = _wait_for_target(db, digest=digest, now=now)
    if wait:
        return keep(
            SendResult(
                error=N_("验证码发送过于频繁，请%(seconds)s秒后再获取", seconds=wait),
                wait_seconds=wait,
            )
        )

    # Bind the flow to this target (a different target first voids the flow's old code).
    if flow.destination_digest != digest or flow.method is not method:
        void_code(db, services=services, flow=flow)
    if method is not RecoveryMethod.PARENT:
        flow.user_id = target.account.id if target.account else None
        flow.school_id = None
        flow.subject_digest = None
    flow.method = method
    flow.destination_digest = digest
    flow.recipient_id = target.recipient_id
    # A new code to a target voids every code other flows hold for it.
    for other in db.scalars(
        select(RecoveryFlow).where(
            RecoveryFlow.destination_digest == digest,
            RecoveryFlow.id != flow.id,
            RecoveryFlow.step == FlowStep.CODE_SENT,
        )
    ):
        void_code(db, services=services, flow=other)
    issued = onetime.issue(
        db,
        secret_key=services.settings.secret_key,
        now=now,
        purpose=_CODE_PURPOSE[method],
        target=_code_target(flow),
        user_id=target.account.id if target.account else None,
        password_version=target.account.password_version if target.account else None,
    )
    if issued.code is None:
        return keep(
            SendResult(
                error=N_(
                    "验证码发送过于频繁，请%(seconds)s秒后再获取", seconds=issued.wait_seconds
                ),
                wait_seconds=issued.wait_seconds,
            )
        )
    flow.step = FlowStep.CODE_SENT
    flow.code_sent_at = now
    flow.expires_at = now + FLOW_TTL
    audit.record(
        db,
        now=now,
        action=AuditAction.RECOVERY_CODE_SENT,
        target_user_id=target.account.id if target.account else None,
        route=Route.SELF_SERVICE,
        client=client,
        detail={"method": method.value, "known": target.account is not None},
    )
    delivery = None
    if target.delivery is not None:
        delivery = Delivery(
            target.delivery.channel,
            target.delivery.to,
            target.delivery.template,
            {**target.delivery.params, "code": issued.code},
        )
    return SendResult(
        message=SENT[method],
        wait_seconds=int(onetime.RESEND_AFTER.total_seconds()),
        delivery=delivery,
    )


# --------------------------------------------------------------------------- checking the code


@dataclass
class VerifyResult:
    """The answer to 下一步 after a code."""

    ok: bool
    error: str | None = None


def verify_code(
    db: Session, *, services: Services, flow: RecoveryFlow, code: str, client: ClientInfo
) -> VerifyResult:
    """Check the code; a right one opens 设置新密码 for this flow's account only."""
    now = services.clock.now()
    if flow.step is not FlowStep.CODE_SENT or flow.method not in _CODE_PURPOSE:
        return VerifyResult(False, MSG_NO_CODE_YET)
    code = code.strip()
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return VerifyResult(False, MSG_CODE_FORMAT)
    assert flow.method is not None
    account = active(db.get(User, flow.user_id)) if flow.user_id else None
    result = onetime.check(
        db,
        secret_key=services.settings.secret_key,
        now=now,
        purpose=_CODE_PURPOSE[flow.method],
        target=_code_target(flow),
        code=code,
        password_version=account.password_version if account else None,
    )
    if result is CodeCheck.OK and account is not None:
        flow.step = FlowStep.VERIFIED
        flow.verified_at = now
        flow.password_version = account.password_version
        flow.expires_at = now + SET_PASSWORD_TTL
        audit.record(
            db,
            now=now,
            action=AuditAction.RECOVERY_VERIFIED,
            target_user_id=account.id,
            route=Route.SELF_SERVICE,
            client=client,
            detail={"method": flow.method.value},
        )
        return VerifyResult(True)
    if result is CodeCheck.EXHAUSTED:
        _kill(db, services=services, flow=flow)
        audit.record(
            db,
            now=now,
            action=AuditAction.RECOVERY_VERIFIED,
            outcome=Outcome.FAILURE,
            target_user_id=account.id if account else None,
            route=Route.SELF_SERVICE,
            client=client,
            detail={"method": flow.method.value, "reason": "too_many_wrong_codes"},
        )
        return VerifyResult(False, MSG_CODE_EXHAUSTED)
    if result is CodeCheck.EXPIRED:
        return VerifyResult(False, MSG_CODE_EXPIRED)
    return VerifyResult(False, MSG_WRONG_CODE)


# --------------------------------------------------------------------------- the new password


def flow_account(db: Session, *, services: Services, flow: RecoveryFlow | None) -> User:
    """The account whose new password the flow may set; StepRefused unless verified for it."""
    if flow is None or flow.step is not FlowStep.VERIFIED or flow.user_id is None:
        raise StepRefused
    user = active(db.get(User, flow.user_id))
    if user is None or user.password_version != flow.password_version:
        raise StepRefused
    return user


def set_new_password(
    db: Session,
    *,
    services: Services,
    flow: RecoveryFlow | None,
    new_password: str,
    confirm: str,
    client: ClientInfo,
) -> list[str]:
    """设置新密码: under the policy, twice; every session ends, the holder and parents are told.

    Returns the problems with the password (empty on success); StepRefused if the flow has not
    been verified. No one is signed in afterwards.
    """
    user = flow_account(db, services=services, flow=flow)
    assert flow is not None and flow.method is not None
    problems = accounts.holder_password_problems(
        db, services=services, user=user, password=new_password, confirm=confirm
    )
    if problems:
        return problems
    accounts.set_password(
        db,
        services=services,
        user=user,
        new_password=new_password,
        route=Route.SELF_SERVICE,
        actor=None,
        must_change=False,
        client=client,
        school_id=flow.school_id,
        detail={"method": flow.method.value},
    )
    now = services.clock.now()
    for parent_id in db.scalars(select(ParentLink.parent_id).where(ParentLink.child_id == user.id)):
        messaging.notify(
            db,
            user_id=parent_id,
            kind="child_password_recovered",
            now=now,
            title=N_("孩子的密码已找回"),
            body=N_(
                "您的孩子%(name)s已于 %(when)s 通过「找回密码」设置了新密码。"
                "如非知情，请联系班主任或客服热线。",
                name=user.real_name,
                when=_local(now),
            ),
        )
    flow.step = FlowStep.DONE
    flow.finished_at = now
    return []


def _local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


# --------------------------------------------------------------------------- the relation way


@dataclass(frozen=True)
class ParentOption:
    """A parent's phone to send the code to, as the page shows it (masked)."""

    label: str
    destination: str
    parent: User | None = field(default=None, compare=False)


def search_schools(db: Session, *, query: str, limit: int = 10) -> list[School]:
    """Schools whose name contains the query (school names are public)."""
    text = query.strip()
    if not text:
        return []
    pattern = "%" + text.replace("\\", "").replace("%", "").replace("_", "") + "%"
    return list(
        db.scalars(
            select(School).where(School.name.like(pattern)).order_by(School.name).limit(limit)
        )
    )


def identify_student(
    db: Session,
    *,
    services: Services,
    flow: RecoveryFlow,
    name: str,
    id_card_number: str,
    school_id: int | None,
    client: ClientInfo,
) -> str | None:
    """通过关联信息, first part: the student's name, ID card number and school.

    Whether they match a student is never told: the next page lists the masked phones of the
    student's linked parents, or stable decoys when nothing matched. Returns an error, or None.
    """
    now = services.clock.now()
    if flow.step not in (FlowStep.CHOOSING, FlowStep.IDENTIFIED, FlowStep.CODE_SENT):
        return MSG_MOVED_ON
    name = name.strip()
    if not name or len(name) > 64:
        return MSG_NAME
    try:
        number = validate_id_card_number(id_card_number, today=local_today(services.clock))
    except InvalidIdentifier as exc:
        return exc.message
    school = db.get(School, school_id) if school_id else None
    if school is None:
        return MSG_PICK_SCHOOL
    if not limiter(services, "recovery.address").hit(client.address or "unknown"):
        return MSG_TOO_MANY
    if not limiter(services, "recovery.id_number").hit(_digest(services, "id", number)):
        return MSG_TOO_MANY
    student = db.scalar(
        select(User)
        .join(SchoolMembership, SchoolMembership.user_id == User.id)
        .where(
            SchoolMembership.current(school_id=school.id, role=SchoolRole.STUDENT),
            User.id_card_number == number,
            User.real_name == name,
            User.status == AccountStatus.ACTIVE,
        )
        .limit(1)
    )
    void_code(db, services=services, flow=flow)
    flow.step = FlowStep.IDENTIFIED
    flow.method = RecoveryMethod.PARENT
    flow.user_id = student.id if student else None
    flow.school_id = school.id
    flow.subject_digest = _digest(services, "subject", f"{school.id}:{number}:{name}")
    flow.destination_digest = None
    flow.recipient_id = None
    flow.expires_at = now + FLOW_TTL
    audit.record(
        db,
        now=now,
        action=AuditAction.RECOVERY_IDENTIFY,
        target_user_id=student.id if student else None,
        school_id=school.id,
        route=Route.SELF_SERVICE,
        client=client,
        detail={"id_card_number": mask_id_card(number), "known": student is not None},
    )
    return None


def parent_options(db: Session, *, services: Services, flow: RecoveryFlow) -> list[ParentOption]:
    """The masked phones the code may go to: the student's linked parents, or decoys."""
    if flow.subject_digest is None:
        return []
    if flow.user_id is not None:
        rows = db.execute(
            select(User, ParentLink.relation)
            .join(ParentLink, ParentLink.parent_id == User.id)
            .where(
                ParentLink.child_id == flow.user_id,
                User.phone.is_not(None),
                User.status == AccountStatus.ACTIVE,
            )
            .order_by(ParentLink.id)
        ).all()
        return [
            ParentOption(
                label=N_(
                    "%(relation)s %(phone)s",
                    relation=relation.label,
                    phone=mask_phone(parent.phone),
                ),
                destination=f"phone:{parent.phone}",
                parent=parent,
            )
            for parent, relation in rows
        ]
    # Nothing matched: decoys derived from what was typed, stable across tries, so the page
    # looks like a real student's (who may have no, one or two parents with a phone).
    seed = int(_digest(services, "decoy", flow.subject_digest), 16)
    count = (0, 1, 1, 1, 1, 1, 2, 2, 2, 1)[seed % 10]
    relations = list(Relation)
    options = []
    for index in range(count):
        part = seed >> (32 * (index + 1))
        phone = f"{_DECOY_PREFIXES[part % len(_DECOY_PREFIXES)]}0000{(part >> 8) % 10000:04d}"
        options.append(
            ParentOption(
                label=f"{relations[(part >> 24) % 2].label} {mask_phone(phone)}",
                destination=f"decoy:{flow.subject_digest}:{index}",
            )
        )
    return options

"""家长注册: a parent signs up with a mainland mobile number, an SMS code, a name and a password.

A code is sent to any valid number, registered or not, so the sign-up page never tells whether a
number has an account; only a person who proves they hold the phone (the right code) is told
that it already has one.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from campusid.accounts import service as accounts
from campusid.accounts.models import User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import ClientInfo, Outcome, Route
from campusid.context import Services
from campusid.families.service import clean_name
from campusid.i18n import N_
from campusid.identifiers import InvalidIdentifier, mask_phone, normalize_phone
from campusid.legal import service as legal
from campusid.legal.models import ConsentVia
from campusid.messaging import service as messaging
from campusid.security import captcha, onetime
from campusid.security.onetime import CodeCheck

PURPOSE = "signup"
CAPTCHA_FORM = "signup"
SMS_TOO_MANY = N_("验证码发送过于频繁，请稍后再试")
CODE_WRONG = N_("短信验证码错误或已失效，请重新获取")
PHONE_TAKEN = N_("该手机号已注册，请直接登录；如忘记密码，可在登录页通过「忘记密码」找回")
NAME_INVALID = N_("请输入真实姓名（2-32个汉字或英文字母）")
MUST_AGREE = N_("请阅读并勾选同意《用户协议》和《隐私政策》")
_REAL_NAME = re.compile(r"[\u3400-\u9fffA-Za-z·• ]{2,32}")
_USERNAME_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class CodeSent:
    """Whether a code went out, what the page says, the seconds before 获取验证码 works again,
    and whether the image shown still counts (nothing used it up, or a refusal gave it back)."""

    sent: bool
    message: str
    wait_seconds: int = 0
    captcha_kept: bool = False


def request_code(
    db: Session,
    *,
    services: Services,
    phone: str,
    client: ClientInfo,
    captcha_token: str | None,
    captcha_answer: str,
) -> CodeSent:
    """获取验证码: send a sign-up code to the number, once the image captcha is solved.

    A malformed number is told before the captcha is looked at. A wrong answer uses the image
    up; a right one is used up by the code sent, and given back when a limit refuses (SMS are
    limited per number and per address, and one code a minute per number).
    """
    try:
        number = normalize_phone(phone)
    except InvalidIdentifier as exc:
        return CodeSent(False, exc.message, captcha_kept=True)
    if not captcha_answer.strip():
        return CodeSent(False, captcha.MSG_CAPTCHA_MISSING, captcha_kept=True)
    solved = captcha.verify(
        db,
        services=services,
        form=CAPTCHA_FORM,
        token=captcha_token,
        answer=captcha_answer,
        address=client.address,
    )
    if solved is None:
        return CodeSent(False, captcha.MSG_CAPTCHA)
    if not messaging.sms_allowed(services, phone=number, address=client.address):
        captcha.give_back(db, solved)
        return CodeSent(False, SMS_TOO_MANY, captcha_kept=True)
    issued = onetime.issue(
        db,
        secret_key=services.settings.secret_key,
        now=services.clock.now(),
        purpose=PURPOSE,
        target=number,
    )
    if issued.code is None:
        captcha.give_back(db, solved)
        return CodeSent(
            False,
            N_("验证码已发送，请%(seconds)s秒后再重新获取", seconds=issued.wait_seconds),
            wait_seconds=issued.wait_seconds,
            captcha_kept=True,
        )
    messaging.send_sms(
        db,
        services=services,
        phone=number,
        template="signup_code",
        params={"code": issued.code},
        address=client.address,
    )
    return CodeSent(
        True,
        N_("验证码已发送至 %(target)s，10分钟内有效", target=mask_phone(number)),
        wait_seconds=int(onetime.RESEND_AFTER.total_seconds()),
    )


@dataclass
class SignUp:
    """The new account, or every problem with the form."""

    user: User | None = None
    problems: list[str] = field(default_factory=list)


def _new_username(db: Session) -> str:
    # The phone number signs in too; the username is a stable handle that reveals nothing.
    while True:
        candidate = "jz" + "".join(secrets.choice(_USERNAME_ALPHABET) for _ in range(8))
        if accounts.find_by_login(db, candidate) is None:
            return candidate


def sign_up_parent(
    db: Session,
    *,
    services: Services,
    phone: str,
    code: str,
    real_name: str,
    password: str,
    confirm: str,
    agreed: bool,
    client: ClientInfo,
) -> SignUp:
    """Create a parent account once the form is right and the SMS code proves the phone.

    The form is checked before the code, so a typo in the password (or the unticked 用户协议
    box) does not spend a try. The consent is recorded with the versions agreed to (issue 23).
    """
    problems: list[str] = []
    number = ""
    try:
        number = normalize_phone(phone)
    except InvalidIdentifier as exc:
        problems.append(exc.message)
    name = clean_name(real_name)
    if not _REAL_NAME.fullmatch(name):
        problems.append(NAME_INVALID)
    if not code.strip():
        problems.append(N_("请输入短信验证码"))
    # A transient account, so the policy refuses the name and the phone in the password.
    problems.extend(
        accounts.password_problems(
            User(username="", real_name=name, phone=number), password, confirm
        )
    )
    if not agreed:
        problems.append(MUST_AGREE)
    if problems:
        return SignUp(problems=problems)

    now = services.clock.now()
    checked = onetime.check(
        db,
        secret_key=services.settings.secret_key,
        now=now,
        purpose=PURPOSE,
        target=number,
        code=code,
    )
    if checked is not CodeCheck.OK:
        audit.record(
            db,
            now=now,
            action=AuditAction.SIGN_UP,
            outcome=Outcome.FAILURE,
            client=client,
            detail={"phone": mask_phone(number), "reason": f"code_{checked.value}"},
        )
        return SignUp(problems=[CODE_WRONG])
    if accounts.find_by_login(db, number) is not None:
        return SignUp(problems=[PHONE_TAKEN])

    user = accounts.new_user(
        db,
        username=_new_username(db),
        real_name=name,
        now=now,
        phone=number,
        password_hash=services.hasher.hash(password),
        password_changed_at=now,
        is_parent=True,
    )
    user.phone_verified_at = now  # proved by the sign-up code (issue 21)
    db.flush()
    audit.record(
        db,
        now=now,
        action=AuditAction.SIGN_UP,
        actor_id=user.id,
        actor_role="parent",
        target_user_id=user.id,
        client=client,
        detail={"phone": mask_phone(number)},
    )
    legal.agree(db, user_id=user.id, via=ConsentVia.SIGN_UP, client=client, now=now)
    return SignUp(user=user)


def record_sign_in(db: Session, *, services: Services, user: User, client: ClientInfo) -> None:
    """The new parent is signed in by the sign-up itself (the phone just proved, the password
    just chosen): a sign-in of its own in the audit trail and the account's recent sign-ins."""
    audit.record(
        db,
        now=services.clock.now(),
        action=AuditAction.SIGN_IN,
        route=Route.SIGN_IN,
        actor_id=user.id,
        target_user_id=user.id,
        client=client,
        detail={"via": "sign_up"},
    )

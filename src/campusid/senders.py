"""SMS and mail: the outbox senders the services call, and the transports that deliver.

(The outbox carries a third channel, `logout`: Back-Channel Logout 1.0 tokens, queued and
delivered by campusid.oidc.logout through `queue_message` and a registered transport.)

Every sender is a small Protocol so services depend on the interface, not on a provider. A
sender writes each message as an `outbox_messages` row in the caller's transaction (issue 20);
where a transport is configured (an HTTP SMS gateway, an SMTP server) the dispatcher
(campusid.outbox) delivers the row after the commit, else the row is the message, shown on
/dev/outbox in development only. A code or temporary password is readable there only in
development, and only for `CAMPUSID_OUTBOX_SECRET_MINUTES` (the codes' lifetime): then the row
keeps the text with it masked. Outside development (an outbox used because no gateway is
configured) it is masked from the start; a row waiting for a gateway shows the masked text and
keeps the parameters encrypted until delivered. Log lines name the template and the
parameters' names, never their values (a code, a password or a child's name).
"""

from __future__ import annotations

import json
import logging
import re
import smtplib
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy import Index, String, Text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from campusid.clock import Clock
from campusid.db import Base, UTCDateTime
from campusid.identifiers import mask_email, mask_phone
from campusid.security.crypto import cipher

log = logging.getLogger("campusid.messaging")


class OutboxMessage(Base):
    """An SMS or mail, written in the transaction of the change that sends it (issue 20).

    Without a gateway (development) the row is the message: kept, shown on /dev/outbox, status
    `sent` at once. With one, it waits as `pending` with its parameters encrypted in `payload`
    until the dispatcher (campusid.outbox) hands it to the gateway after the commit: `sent`
    (the payload wiped), or back-off and retry, and `dead` after the last attempt.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), comment="sms or email")  # or logout
    recipient: Mapped[str] = mapped_column(String(254))
    template: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # issue 18: while `body` still shows a code or password (development only), the masked
    # text that replaces it at `secret_until`.
    masked_body: Mapped[str | None] = mapped_column(Text)
    secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # issue 20: delivery through the transactional outbox.
    status: Mapped[str] = mapped_column(
        String(8), default="sent", server_default="sent", comment="pending, sent or dead"
    )
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A dispatcher's claim: rows it took for a batch, until this time (then free again).
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claim_token: Mapped[str | None] = mapped_column(String(32))
    # Sent to the gateway with every attempt, so it can drop a message it already has.
    idempotency_key: Mapped[str | None] = mapped_column(String(32), unique=True)
    # The template's parameters (codes, passwords) as AES-SIV ciphertext; wiped once delivered.
    payload: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(200))


# The texts of every message the platform sends; params fill the {placeholders}.
SMS_TEMPLATES: dict[str, str] = {
    "signup_code": "【之江汇】您的注册验证码为{code}，10分钟内有效。如非本人操作，请忽略。",
    "recovery_code": "【之江汇】您正在找回密码，验证码为{code}，10分钟内有效，请勿告诉他人。",
    "bind_code": "【之江汇】您正在绑定手机号，验证码为{code}，10分钟内有效。",
    # recovery: the code of the relation way goes to a linked parent
    "child_recovery_code": (
        "【之江汇】您的孩子{name}正在找回账号密码，验证码为{code}，10分钟内有效。"
        "如非孩子本人操作，请勿告诉他人。"
    ),
    # issue 19: the second step's fallback, where the two-step policy allows it
    "two_step_code": (
        "【之江汇】您正在登录，两步验证码为{code}，5分钟内有效。如非本人操作，请立即修改密码。"
    ),
    "verify_code": "【之江汇】客服正在核实您的身份，验证码为{code}，请告知客服人员。",
    "temporary_password": (
        "【之江汇】您的账号密码已由客服重置，临时密码为{password}，登录后须修改。"
    ),
    "password_changed": (
        "【之江汇】{name}的账号密码已于{time}通过「{route}」修改。如非知情，请联系学校。"
    ),
    # classes/resets (issue 4): a child's password reset by someone else; never the password.
    "child_password_reset": (
        "【之江汇】您的孩子{name}的账号密码已于{time}由{actor}通过「{route}」重置，"
        "孩子下次登录时须设置新密码。如有疑问，请联系学校。"
    ),
    # servicedesk (issue 18): the hotline verifies a child's caller through a linked parent's
    # phone, and sends a child's temporary password there when the child has no phone.
    "parent_verify_code": (
        "【之江汇】客服正在为您孩子的账号核实来电人身份，验证码为{code}。"
        "如您或孩子没有致电客服，请勿告诉任何人。"
    ),
    "child_temporary_password": (
        "【之江汇】您孩子（{name}）的账号密码已由客服重置，临时密码为{password}，"
        "孩子登录后须修改。请勿告诉他人。"
    ),
}
MAIL_TEMPLATES: dict[str, tuple[str, str]] = {
    "recovery_code": (
        "之江汇 找回密码验证码",
        "您好：\n\n您正在找回之江汇账号的密码，验证码为 {code}，10分钟内有效。\n"
        "如非本人操作，请忽略本邮件，您的密码不会改变。\n",
    ),
    "bind_code": (
        "之江汇 绑定邮箱验证码",
        "您好：\n\n您正在绑定邮箱，验证码为 {code}，10分钟内有效。\n",
    ),
}

_SECRET_PARAM = re.compile(r"code|password", re.IGNORECASE)


def _render(template: str, params: Mapping[str, str]) -> str:
    return template.format_map(dict(params))


def _masked_params(params: Mapping[str, str]) -> dict[str, str]:
    return {k: ("******" if _SECRET_PARAM.search(k) else v) for k, v in params.items()}


def _has_secret(params: Mapping[str, str]) -> bool:
    return any(_SECRET_PARAM.search(k) for k in params)


def _param_names(params: Mapping[str, str]) -> str:
    """What a log line may say about the parameters: their names only."""
    return ",".join(sorted(params))


def forget_delivered_secrets(db: Session, now: datetime) -> None:
    """Replace every outbox text whose code or password is past its time by its masked text."""
    db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.secret_until.is_not(None), OutboxMessage.secret_until <= now)
        .values(body=OutboxMessage.masked_body, masked_body=None, secret_until=None)
        .execution_options(synchronize_session=False)
    )


# The session.info key under which a transaction collects the idempotency keys of the messages
# it wrote; after the commit the web layer hands them to the dispatcher (Services.after_commit).
OUTBOX_KEYS = "campusid.outbox.keys"
# Those of them the request must not offer itself, even with `inline` dispatch (a back-channel
# logout token: an application slow to answer must not hold up the sign-out).
DEFERRED_KEYS = "campusid.outbox.deferred"
# The AES-SIV context of the encrypted parameters.
PAYLOAD_CONTEXT = "outbox_messages.payload"


@dataclass(frozen=True)
class Outgoing:
    """One message as a transport delivers it; `key` is its idempotency key."""

    channel: str
    recipient: str
    template: str
    params: Mapping[str, str] = field(repr=False)
    key: str


class Transport(Protocol):
    """Hands a message to a provider now; raises when it was not accepted."""

    def deliver(self, message: Outgoing) -> None: ...


class UndeliveredError(Exception):
    """The recipient answered but did not take the message; the text ("HTTP 503") is what the
    outbox row keeps as its error, so it must name no recipient and no parameter."""


class RefusedError(UndeliveredError):
    """The recipient refused the message for good (an application answering 400 to a logout
    token): retrying cannot help, so the row is a dead letter at once, for an administrator to
    see and resend."""


def queue_message(
    db: Session,
    *,
    now: datetime,
    channel: str,
    recipient: str,
    template: str,
    body: str,
    params: Mapping[str, str],
    deferred: bool = False,
) -> str:
    """Write a `pending` outbox row in the caller's transaction, its parameters encrypted, for
    the dispatcher to deliver after the commit; its idempotency key. A `deferred` message is
    left to the dispatcher thread or workers, never offered by the committing request."""
    key = uuid.uuid4().hex
    db.add(
        OutboxMessage(
            channel=channel,
            recipient=recipient,
            template=template,
            body=body,
            created_at=now,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            idempotency_key=key,
            payload=seal_params(params),
        )
    )
    db.info.setdefault(OUTBOX_KEYS, []).append(key)
    if deferred:
        db.info.setdefault(DEFERRED_KEYS, []).append(key)
    return key


class SmsSender(Protocol):
    """Sends a text message from a template."""

    transport: Transport | None

    def send(self, db: Session, phone: str, template: str, params: Mapping[str, str]) -> None: ...


class MailSender(Protocol):
    """Sends an email from a template."""

    transport: Transport | None

    def send(self, db: Session, to: str, template: str, params: Mapping[str, str]) -> None: ...


def seal_params(params: Mapping[str, str]) -> str:
    """The parameters as the outbox row keeps them until delivery (encrypted)."""
    return cipher().encrypt(json.dumps(dict(params), ensure_ascii=False), PAYLOAD_CONTEXT)


def open_params(payload: str | None) -> dict[str, str]:
    """The parameters back from a row's payload."""
    if not payload:
        return {}
    value: dict[str, str] = json.loads(cipher().decrypt(payload, PAYLOAD_CONTEXT))
    return value


class _Outbox:
    """What both outbox senders share: a row in the caller's transaction; secrets only where and
    while allowed; with a transport, a `pending` row for the dispatcher."""

    def __init__(
        self,
        clock: Clock,
        *,
        keep_secrets: bool = False,
        secret_minutes: int = 15,
        transport: Transport | None = None,
    ) -> None:
        self.clock = clock
        self.keep_secrets = keep_secrets
        self.secret_ttl = timedelta(minutes=secret_minutes)
        self.transport = transport

    def _keep(
        self,
        db: Session,
        *,
        channel: str,
        recipient: str,
        template: str,
        text: str,
        params: Mapping[str, str],
        head: str = "",
    ) -> None:
        now = self.clock.now()
        forget_delivered_secrets(db, now)
        masked = head + _render(text, _masked_params(params))
        if self.transport is not None:
            # To be delivered after the commit: the row shows the masked text only; the
            # parameters wait encrypted and are wiped once the provider has them.
            queue_message(
                db,
                now=now,
                channel=channel,
                recipient=recipient,
                template=template,
                body=masked,
                params=params,
            )
            return
        secret = _has_secret(params)
        readable = self.keep_secrets and secret
        db.add(
            OutboxMessage(
                channel=channel,
                recipient=recipient,
                template=template,
                body=head + _render(text, params) if readable else masked,
                masked_body=masked if readable else None,
                secret_until=now + self.secret_ttl if readable else None,
                created_at=now,
                status="sent",
                sent_at=now,
            )
        )


class OutboxSmsSender(_Outbox):
    """SMS: an outbox row (delivered by the gateway transport, if any); the log names no value."""

    def send(self, db: Session, phone: str, template: str, params: Mapping[str, str]) -> None:
        """Write the message to the outbox."""
        self._keep(
            db,
            channel="sms",
            recipient=phone,
            template=template,
            text=SMS_TEMPLATES[template],
            params=params,
        )
        log.info("sms to %s: %s (%s)", mask_phone(phone), template, _param_names(params))


class OutboxMailSender(_Outbox):
    """Mail: an outbox row (delivered over SMTP, if configured)."""

    def send(self, db: Session, to: str, template: str, params: Mapping[str, str]) -> None:
        """Write the message to the outbox."""
        subject, text = MAIL_TEMPLATES[template]
        self._keep(
            db,
            channel="email",
            recipient=to,
            template=template,
            text=text,
            params=params,
            head=subject + "\n\n",
        )
        log.info("mail to %s: %s (%s)", mask_email(to), template, _param_names(params))


class SmtpMailSender:
    """Mail over SMTP (STARTTLS when asked)."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.starttls, self.timeout = (
            username,
            password,
            starttls,
            timeout,
        )

    def deliver(self, outgoing: Outgoing) -> None:
        """Send the mail now; its Message-ID is the idempotency key."""
        to, template, params = outgoing.recipient, outgoing.template, outgoing.params
        subject, text = MAIL_TEMPLATES[template]
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = f"<{outgoing.key}@campusid>"
        message.set_content(_render(text, params))
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)
        log.info("mail sent to %s: %s", mask_email(to), template)


class HttpSmsGateway:
    """A provider's HTTP SMS API: POSTs JSON {phone, template, params, text, message_id} with a
    bearer key and an `Idempotency-Key` header (the message's key, the same on every attempt)."""

    def __init__(self, url: str, api_key: str, timeout: float = 10) -> None:
        self.url, self.api_key, self.timeout = url, api_key, timeout

    def deliver(self, outgoing: Outgoing) -> None:
        """Hand the message to the gateway; raises unless it answers 2xx in time."""
        phone, template, params = outgoing.recipient, outgoing.template, outgoing.params
        payload = json.dumps(
            {
                "message_id": outgoing.key,
                "phone": phone,
                "template": template,
                "params": dict(params),
                "text": _render(SMS_TEMPLATES[template], params),
            }
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL comes from settings
            self.url,
            data=payload,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.api_key}",
                "Idempotency-Key": outgoing.key,
            },
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            if response.status >= 300:
                raise RuntimeError(f"SMS gateway answered {response.status}")
        log.info("sms sent to %s: %s", mask_phone(phone), template)

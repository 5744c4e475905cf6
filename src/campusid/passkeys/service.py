"""Passkeys and security keys (WebAuthn): the registration and authentication ceremonies.

The cryptography is the `webauthn` library's (py_webauthn, Duo Labs: attestation formats, COSE
keys, signature and flag checks); this module keeps what the library leaves to the relying
party: the challenges, the credentials and the rules around them.

- A challenge is 32 random bytes, handed to the browser once; only its SHA-256 is stored, with
  what it is for, whose it is, and an HMAC of the session (or pending sign-in) that asked, so
  a challenge obtained in one browser is useless in another. It lives a few minutes and is
  deleted at its first use, whatever the outcome (a replayed response finds nothing).
- The relying party id and origins come from settings (see `relying_party`); a response made
  for another origin or another RP id is refused by the library's checks.
- The signature counter must go up when the authenticator keeps one; a counter going backwards
  means a cloned authenticator, refused and logged.
- User verification is preferred (a PIN or a fingerprint on the key), not required: a security
  key without a PIN is still a second factor after the password.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, parse_authenticator_data, parse_client_data_json
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidRegistrationResponse,
    WebAuthnException,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from campusid.accounts import factors
from campusid.accounts.models import FactorKind, SecondFactor, User
from campusid.audit.service import ClientInfo
from campusid.config import Settings
from campusid.context import Services
from campusid.i18n import N_
from campusid.passkeys.models import PasskeyChallenge, PasskeyCredential

log = logging.getLogger(__name__)

REGISTER = "register"
AUTHENTICATE = "authenticate"
MAX_PASSKEYS = 10
LABEL_MAX = 64
_TRANSPORTS = {t.value for t in AuthenticatorTransport}

NOT_CONFIGURED = N_("通行密钥尚未配置，请联系平台管理员。")
EXPIRED = N_("验证已过期，请重试。")
FAILED = N_("通行密钥验证未通过，请重试。")
ALREADY_ADDED = N_("这个通行密钥已经添加过了。")
TOO_MANY = N_("最多可添加 %(count)s 个通行密钥，请先删除不用的。", count=MAX_PASSKEYS)
NONE_REGISTERED = N_("您还没有添加通行密钥。")


class PasskeyError(Exception):
    """A ceremony refused; `message` says why (translatable, in Chinese)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys are for: the RP id (a domain), its name, and the accepted origins."""

    id: str
    name: str
    origins: list[str]


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.hostname or "", f"{parts.scheme}://{parts.netloc}"


def relying_party(settings: Settings, request_url: str) -> RelyingParty:
    """The relying party: from settings, else the OIDC issuer, else (not in production) the
    address of the request itself."""
    if settings.webauthn_rp_id:
        rp_id = settings.webauthn_rp_id
        origins = settings.webauthn_origins or [f"https://{rp_id}"]
    elif settings.oidc_issuer:
        rp_id, origin = _origin(settings.oidc_issuer)
        origins = settings.webauthn_origins or [origin]
    elif settings.environment != "production":
        rp_id, origin = _origin(request_url)
        origins = settings.webauthn_origins or [origin]
    else:
        raise PasskeyError(NOT_CONFIGURED)
    return RelyingParty(id=rp_id, name=settings.webauthn_rp_name, origins=origins)


def _digest(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()


def _binding(secret_key: str, purpose: str, binding: str) -> str:
    message = f"passkey\x1f{purpose}\x1f{binding}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def _new_challenge(
    db: Session, *, services: Services, user: User, purpose: str, binding: str
) -> bytes:
    """A fresh challenge for this person and browser; their earlier one for it is void."""
    now = services.clock.now()
    bound = _binding(services.settings.secret_key, purpose, binding)
    db.execute(delete(PasskeyChallenge).where(PasskeyChallenge.expires_at <= now))
    db.execute(
        delete(PasskeyChallenge).where(
            PasskeyChallenge.user_id == user.id,
            PasskeyChallenge.purpose == purpose,
            PasskeyChallenge.binding_digest == bound,
        )
    )
    challenge = secrets.token_bytes(32)
    db.add(
        PasskeyChallenge(
            challenge_digest=_digest(challenge),
            purpose=purpose,
            user_id=user.id,
            binding_digest=bound,
            expires_at=now + timedelta(seconds=services.settings.webauthn_challenge_seconds),
        )
    )
    return challenge


def _parse(response_json: str) -> dict[str, Any]:
    try:
        data = json.loads(response_json)
    except ValueError:
        raise PasskeyError(FAILED) from None
    if not isinstance(data, dict) or not isinstance(data.get("response"), dict):
        raise PasskeyError(FAILED)
    return data


def _take_challenge(
    db: Session,
    *,
    services: Services,
    user: User,
    purpose: str,
    binding: str,
    data: dict[str, Any],
) -> bytes:
    """The challenge the response answers, if we issued it for this person, purpose and
    browser and it is still live; it is used up now, whatever comes next."""
    try:
        client_data = parse_client_data_json(
            base64url_to_bytes(str(data["response"].get("clientDataJSON", "")))
        )
    except (WebAuthnException, ValueError, TypeError):
        raise PasskeyError(FAILED) from None
    challenge = client_data.challenge
    row = db.get(PasskeyChallenge, _digest(challenge))
    if row is None:
        raise PasskeyError(EXPIRED)
    db.delete(row)
    db.flush()
    live = row.expires_at > services.clock.now()
    mine = row.user_id == user.id and row.purpose == purpose
    bound = hmac.compare_digest(
        row.binding_digest, _binding(services.settings.secret_key, purpose, binding)
    )
    if not (live and mine and bound):
        raise PasskeyError(EXPIRED)
    return challenge


def passkeys_of(db: Session, *, user_id: int) -> list[PasskeyCredential]:
    """A person's passkeys, oldest first."""
    return list(
        db.scalars(
            select(PasskeyCredential)
            .where(PasskeyCredential.user_id == user_id)
            .order_by(PasskeyCredential.id)
        )
    )


def _descriptors(rows: list[PasskeyCredential]) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(row.credential_id),
            transports=[AuthenticatorTransport(t) for t in row.transports.split() if t] or None,
        )
        for row in rows
    ]


# -- registration -----------------------------------------------------------------------------


def registration_options(
    db: Session, *, services: Services, rp: RelyingParty, user: User, binding: str
) -> str:
    """The options for navigator.credentials.create(), as JSON; the challenge is remembered."""
    existing = passkeys_of(db, user_id=user.id)
    if len(existing) >= MAX_PASSKEYS:
        raise PasskeyError(TOO_MANY)
    challenge = _new_challenge(db, services=services, user=user, purpose=REGISTER, binding=binding)
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        # The user handle: the account id, no personal data (authenticators may show it).
        user_id=f"campusid:{user.id}".encode(),
        user_name=user.username,
        user_display_name=user.real_name,
        challenge=challenge,
        timeout=services.settings.webauthn_challenge_seconds * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=_descriptors(existing),
    )
    return str(options_to_json(options))


def clean_label(label: str, count: int) -> str:
    """The name a person gave the key (or 通行密钥 N), one line, at most 64 characters."""
    text = " ".join(label.split())[:LABEL_MAX]
    return text or N_("通行密钥 %(number)s", number=count + 1)


def register(
    db: Session,
    *,
    services: Services,
    rp: RelyingParty,
    user: User,
    binding: str,
    response_json: str,
    label: str,
    client: ClientInfo,
    session_token: str | None,
) -> tuple[PasskeyCredential, list[str]]:
    """Verify the browser's attestation and keep the new credential as a second factor (kind
    "webauthn"); returns it and, when it is the person's first factor, their ten recovery codes
    (shown once; else none).

    As for an authenticator app (accounts.factors.enrolled): audited, the holder told,
    their other sessions ended; this session counts as checked with the new key.
    """
    data = _parse(response_json)
    challenge = _take_challenge(
        db, services=services, user=user, purpose=REGISTER, binding=binding, data=data
    )
    try:
        verified = verify_registration_response(
            credential=data,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origins,
            require_user_verification=False,
        )
    except (InvalidRegistrationResponse, WebAuthnException, ValueError, KeyError, TypeError):
        log.info("passkey registration refused for user %s", user.id, exc_info=True)
        raise PasskeyError(FAILED) from None
    credential_id = str(data.get("id", ""))
    if db.scalar(
        select(PasskeyCredential.id).where(PasskeyCredential.credential_id == credential_id)
    ):
        raise PasskeyError(ALREADY_ADDED)
    existing = passkeys_of(db, user_id=user.id)
    if len(existing) >= MAX_PASSKEYS:
        raise PasskeyError(TOO_MANY)
    transports = data["response"].get("transports") or []
    attachment = data.get("authenticatorAttachment")
    now = services.clock.now()
    first = not factors.has_factor(db, user.id)
    name = clean_label(label, len(existing))
    factor = SecondFactor(
        user_id=user.id,
        kind=FactorKind.WEBAUTHN.value,
        label=name,
        created_at=now,
        confirmed_at=now,
        last_used_at=now,
    )
    db.add(factor)
    db.flush()
    row = PasskeyCredential(
        user_id=user.id,
        factor_id=factor.id,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=" ".join(t for t in transports if t in _TRANSPORTS),
        aaguid=verified.aaguid,
        attachment=attachment if attachment in {"platform", "cross-platform"} else None,
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backed_up=verified.credential_backed_up,
        created_at=now,
        factor=factor,
    )
    db.add(row)
    db.flush()
    codes = factors.enrolled(
        db,
        services=services,
        user=user,
        first=first,
        factor=row.amr,
        what=N_("添加了通行密钥「%(label)s」", label=row.label),
        client=client,
        session_token=session_token,
        detail={"kind": FactorKind.WEBAUTHN.value, "factor": row.amr, "label": row.label},
    )
    return row, codes


# -- authentication ---------------------------------------------------------------------------


def authentication_options(
    db: Session, *, services: Services, rp: RelyingParty, user: User, binding: str
) -> str:
    """The options for navigator.credentials.get(), as JSON: the person's own credentials."""
    rows = passkeys_of(db, user_id=user.id)
    if not rows:
        raise PasskeyError(NONE_REGISTERED)
    challenge = _new_challenge(
        db, services=services, user=user, purpose=AUTHENTICATE, binding=binding
    )
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=services.settings.webauthn_challenge_seconds * 1000,
        allow_credentials=_descriptors(rows),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return str(options_to_json(options))


def authenticate(
    db: Session,
    *,
    services: Services,
    rp: RelyingParty,
    user: User,
    binding: str,
    response_json: str,
) -> PasskeyCredential:
    """Verify the browser's assertion for one of the person's passkeys; the passkey used.

    Raises PasskeyError when it does not verify: an unknown or another person's credential,
    a used or expired challenge, another origin or RP id, a bad signature, or a signature
    counter that did not go up.
    """
    data = _parse(response_json)
    challenge = _take_challenge(
        db, services=services, user=user, purpose=AUTHENTICATE, binding=binding, data=data
    )
    row = db.scalar(
        select(PasskeyCredential).where(
            PasskeyCredential.credential_id == str(data.get("id", "")),
            PasskeyCredential.user_id == user.id,
        )
    )
    if row is None:
        raise PasskeyError(FAILED)
    try:
        counter = parse_authenticator_data(
            base64url_to_bytes(str(data["response"].get("authenticatorData", "")))
        ).sign_count
    except (WebAuthnException, ValueError, TypeError):
        raise PasskeyError(FAILED) from None
    if (counter or row.sign_count) and counter <= row.sign_count:
        # Two authenticators answering for one credential: a clone. Refused, and said in the log.
        log.warning(
            "passkey %s of user %s: signature counter went from %s to %s (cloned key?)",
            row.id,
            user.id,
            row.sign_count,
            counter,
        )
        raise PasskeyError(FAILED)
    try:
        verified = verify_authentication_response(
            credential=data,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origins,
            credential_public_key=row.public_key,
            credential_current_sign_count=row.sign_count,
            require_user_verification=False,
        )
    except (InvalidAuthenticationResponse, WebAuthnException, ValueError, KeyError, TypeError):
        log.info("passkey assertion refused for user %s", user.id, exc_info=True)
        raise PasskeyError(FAILED) from None
    now = services.clock.now()
    row.sign_count = verified.new_sign_count
    row.backed_up = verified.credential_backed_up
    row.factor.last_used_at = now
    return row

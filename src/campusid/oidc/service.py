"""The OpenID Connect provider's rules: the client registry, claims, consent and token life.

Importing this module registers (through campusid.oidc.logout) a password-change and a
sign-out listener: every password change, by any route, and every 退出登录 revokes the
person's tokens here (in that transaction) and tells the applications (issue 21).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from campusid.accounts import service as accounts
from campusid.accounts.models import AccountStatus, SchoolMembership, User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import ClientInfo, Outcome
from campusid.classes.models import ClassStudent, ClassTeacher
from campusid.families.models import ParentLink
from campusid.i18n import N_
from campusid.identifiers import (
    InvalidIdentifier,
    birth_date_from_id_card,
    mask_email,
    mask_id_card,
    mask_phone,
)
from campusid.oidc.models import AuthorizationCode, Consent, OAuthClient, OAuthToken
from campusid.org import service as org_service
from campusid.org.models import School, SchoolClass
from campusid.org.schoolyear import YearBoundary
from campusid.security.sessions import hash_token

# Scope -> what the consent page tells the person. `identifiers.full` hands out whole ID card
# and phone numbers (minors' data): only a platform administrator can allow it to a client.
SCOPES: dict[str, str] = {
    "openid": N_("确认您的账号身份"),
    "profile": N_("您的姓名"),
    "school": N_("您所在的学校、校区、班级，以及您在班级中的角色"),
    "family": N_("您关联的孩子及孩子所在的班级"),
    "identifiers": N_("您的手机号、身份证号、邮箱（部分隐藏）"),
    "identifiers.full": N_("您完整的手机号、身份证号、学籍号和邮箱"),
}
SENSITIVE_SCOPES = frozenset({"identifiers.full"})

# issue 21: scopes a confidential client may be given for calls on its own behalf
# (client_credentials), never for a person's sign-in: the OneRoster 1.2 scopes (issue 22).
ONEROSTER_SCOPE_BASE = "https://purl.imsglobal.org/spec/or/v1p2/scope/"
SERVICE_SCOPES: dict[str, str] = {
    ONEROSTER_SCOPE_BASE + "roster-core.readonly": N_("读取学校、班级和师生名册（不含个人信息）"),
    ONEROSTER_SCOPE_BASE + "roster.readonly": N_("读取学校、班级和师生名册"),
    ONEROSTER_SCOPE_BASE + "roster-demographics.readonly": N_("读取师生的人口统计信息（如性别）"),
}

ROLE_NAMES = {
    "student": N_("学生"),
    "teacher": N_("教师"),
    "homeroom_teacher": N_("班主任"),
    "parent": N_("家长"),
    "school_admin": N_("学校管理员"),
}

MAX_URIS = 10


class ClientFormError(Exception):
    """The client form has problems (Chinese messages)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class ClientForm:
    """What a platform administrator fills in for a client."""

    name: str = ""
    redirect_uris: list[str] = field(default_factory=list)
    post_logout_redirect_uris: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=lambda: ["openid", "profile"])
    is_confidential: bool = True
    is_first_party: bool = False
    # issue 21: None at registration means "pairwise for a third-party client"; the choice
    # is made once (changing it would change every `sub` the client knows).
    pairwise_subject: bool | None = None
    # issue 21
    service_scopes: list[str] = field(default_factory=list)
    backchannel_logout_uri: str = ""
    frontchannel_logout_uri: str = ""
    # Front-Channel Logout 1.0: the frame gets `iss` and `sid` (the client asked for them).
    frontchannel_logout_session_required: bool = False

    @classmethod
    def of(cls, row: OAuthClient) -> ClientForm:
        """The form as the registry holds it for `row` (to edit, or to change a field of)."""
        return cls(
            name=row.name,
            redirect_uris=list(row.redirect_uris),
            post_logout_redirect_uris=list(row.post_logout_redirect_uris),
            scopes=row.allowed_scopes.split(),
            is_confidential=row.is_confidential,
            is_first_party=row.is_first_party,
            service_scopes=row.service_scopes.split(),
            backchannel_logout_uri=row.backchannel_logout_uri or "",
            frontchannel_logout_uri=row.frontchannel_logout_uri or "",
            frontchannel_logout_session_required=row.frontchannel_logout_session_required,
        )

    @classmethod
    def parse(
        cls,
        *,
        name: str,
        redirect_uris: str,
        post_logout_redirect_uris: str,
        scopes: list[str],
        is_confidential: bool,
        is_first_party: bool,
        service_scopes: list[str] | None = None,
        backchannel_logout_uri: str = "",
        frontchannel_logout_uri: str = "",
        frontchannel_logout_session_required: bool = False,
    ) -> ClientForm:
        """Read the form's text fields (one URI a line)."""
        return cls(
            name=name.strip(),
            redirect_uris=_lines(redirect_uris),
            post_logout_redirect_uris=_lines(post_logout_redirect_uris),
            scopes=[s for s in dict.fromkeys(scopes) if s],
            is_confidential=is_confidential,
            is_first_party=is_first_party,
            service_scopes=[s for s in dict.fromkeys(service_scopes or []) if s],
            backchannel_logout_uri=backchannel_logout_uri.strip(),
            frontchannel_logout_uri=frontchannel_logout_uri.strip(),
            frontchannel_logout_session_required=frontchannel_logout_session_required,
        )

    def problems(self) -> list[str]:
        """Every reason the form is refused, in Chinese."""
        problems = []
        if not self.name or len(self.name) > 64:
            problems.append(N_("请填写应用名称（不超过64个字）"))
        if not self.redirect_uris:
            problems.append(N_("请至少填写一个回调地址"))
        if len(self.redirect_uris) > MAX_URIS or len(self.post_logout_redirect_uris) > MAX_URIS:
            problems.append(N_("每类地址最多%(most)s个", most=MAX_URIS))
        for uri in self.redirect_uris + self.post_logout_redirect_uris:
            if not is_acceptable_redirect_uri(uri):
                problems.append(
                    N_(
                        "地址不合规：%(uri)s（须为 https 地址，本机调试可用 "
                        "http://127.0.0.1 或 http://localhost，且不能带 # 片段）",
                        uri=uri[:80],
                    )
                )
        unknown = [s for s in self.scopes if s not in SCOPES]
        if unknown:
            problems.append(N_("未知的授权范围：%(scopes)s", scopes=" ".join(unknown[:5])))
        if "openid" not in self.scopes:
            problems.append(N_("授权范围必须包含 openid"))
        problems.extend(self._issue21_problems())
        return problems

    def _issue21_problems(self) -> list[str]:
        """Service scopes (confidential clients only) and the logout URIs."""
        problems = []
        unknown = [s for s in self.service_scopes if s not in SERVICE_SCOPES]
        if unknown:
            problems.append(N_("未知的服务端授权范围：%(scopes)s", scopes=" ".join(unknown[:3])))
        if self.service_scopes and not self.is_confidential:
            problems.append(N_("只有机密客户端可以使用服务端调用（client_credentials）"))
        for uri in (self.backchannel_logout_uri, self.frontchannel_logout_uri):
            if uri and not is_acceptable_redirect_uri(uri):
                problems.append(
                    N_(
                        "退出通知地址不合规：%(uri)s（须为 https 地址，本机调试可用 "
                        "http://127.0.0.1 或 http://localhost，且不能带 # 片段）",
                        uri=uri[:80],
                    )
                )
        return problems


def _lines(text: str) -> list[str]:
    return list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))


def is_acceptable_redirect_uri(uri: str) -> bool:
    """https anywhere; plain http only to this machine (RFC 8252 loopback); no fragment."""
    if len(uri) > 512 or any(c.isspace() for c in uri):
        return False
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    if parts.fragment or not parts.hostname:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and parts.hostname in {"localhost", "127.0.0.1", "::1"}


def list_clients(db: Session) -> list[OAuthClient]:
    """Every registered client, newest first."""
    return list(db.scalars(select(OAuthClient).order_by(OAuthClient.id.desc())))


def get_client(db: Session, client_pk: int) -> OAuthClient | None:
    """A registered client by its row id."""
    return db.get(OAuthClient, client_pk)


def find_client_by_name(db: Session, name: str) -> OAuthClient | None:
    """The newest client of that name (the command line re-registers by name)."""
    return db.scalar(
        select(OAuthClient).where(OAuthClient.name == name).order_by(OAuthClient.id.desc()).limit(1)
    )


def find_active_client(db: Session, client_id: str | None) -> OAuthClient | None:
    """The enabled client with this public client_id, or None."""
    if not client_id or len(client_id) > 48:
        return None
    return db.scalar(
        select(OAuthClient).where(
            OAuthClient.client_id == client_id, OAuthClient.disabled_at.is_(None)
        )
    )


def _apply(row: OAuthClient, form: ClientForm) -> None:
    row.name = form.name
    row.redirect_uris = list(form.redirect_uris)
    row.post_logout_redirect_uris = list(form.post_logout_redirect_uris)
    row.allowed_scopes = " ".join(form.scopes)
    row.is_first_party = form.is_first_party
    row.service_scopes = " ".join(form.service_scopes)
    row.backchannel_logout_uri = form.backchannel_logout_uri or None
    row.frontchannel_logout_uri = form.frontchannel_logout_uri or None
    row.frontchannel_logout_session_required = form.frontchannel_logout_session_required


def _audit_client(
    db: Session,
    action: AuditAction,
    *,
    row: OAuthClient,
    actor: User,
    now: datetime,
    client: ClientInfo,
    **detail: str,
) -> None:
    audit.record(
        db,
        now=now,
        action=action,
        actor_id=actor.id,
        actor_role="platform_admin",
        client=client,
        detail={"client_id": row.client_id, **detail},
    )


def create_client(
    db: Session, *, form: ClientForm, actor: User, now: datetime, client: ClientInfo
) -> tuple[OAuthClient, str | None]:
    """Register a client; returns it and its secret (None for a public client), shown once."""
    problems = form.problems()
    if problems:
        raise ClientFormError(problems)
    secret = secrets.token_urlsafe(32) if form.is_confidential else None
    row = OAuthClient(
        client_id=secrets.token_urlsafe(18),
        secret_hash=hash_token(secret) if secret else None,
        is_confidential=form.is_confidential,
        created_at=now,
        created_by_id=actor.id,
        pairwise_subject=(
            not form.is_first_party if form.pairwise_subject is None else form.pairwise_subject
        ),
    )
    _apply(row, form)
    db.add(row)
    db.flush()
    _audit_client(
        db,
        AuditAction.OIDC_CLIENT_CREATED,
        row=row,
        actor=actor,
        now=now,
        client=client,
        name=row.name,
        scopes=row.allowed_scopes,
        service_scopes=row.service_scopes,
    )
    return row, secret


def update_client(
    db: Session,
    *,
    row: OAuthClient,
    form: ClientForm,
    actor: User,
    now: datetime,
    client: ClientInfo,
) -> None:
    """Change a client's name, URIs, scopes or first-party flag (its type stays)."""
    form.is_confidential = row.is_confidential
    problems = form.problems()
    if problems:
        raise ClientFormError(problems)
    removed = set(row.allowed_scopes.split()) - set(form.scopes)
    removed |= set(row.service_scopes.split()) - set(form.service_scopes)
    _apply(row, form)
    if removed:
        # Tokens carrying a scope the client may no longer have must not outlive the change.
        revoke_tokens(db, now=now, client_pk=row.id)
    _audit_client(
        db,
        AuditAction.OIDC_CLIENT_UPDATED,
        row=row,
        actor=actor,
        now=now,
        client=client,
        scopes=row.allowed_scopes,
        service_scopes=row.service_scopes,
    )


def reset_secret(
    db: Session, *, row: OAuthClient, actor: User, now: datetime, client: ClientInfo
) -> str:
    """A new secret for a confidential client, shown once; the old one stops working."""
    if not row.is_confidential:
        raise ClientFormError([N_("公开客户端没有密钥")])
    secret = secrets.token_urlsafe(32)
    row.secret_hash = hash_token(secret)
    _audit_client(
        db, AuditAction.OIDC_CLIENT_SECRET_RESET, row=row, actor=actor, now=now, client=client
    )
    return secret


def set_client_enabled(
    db: Session,
    *,
    row: OAuthClient,
    enabled: bool,
    actor: User,
    now: datetime,
    client: ClientInfo,
) -> None:
    """Disable a client (its tokens are revoked) or enable it again."""
    row.disabled_at = None if enabled else now
    if not enabled:
        revoke_tokens(db, now=now, client_pk=row.id)
    action = AuditAction.OIDC_CLIENT_ENABLED if enabled else AuditAction.OIDC_CLIENT_DISABLED
    _audit_client(db, action, row=row, actor=actor, now=now, client=client)


# -- consent ---------------------------------------------------------------------------


def scope_descriptions(scope: str) -> list[tuple[str, str]]:
    """(scope, what it shares) for the consent page."""
    return [(s, SCOPES[s]) for s in scope.split() if s in SCOPES]


def needs_consent(
    db: Session,
    *,
    user: User,
    row: OAuthClient,
    scope: str,
    now: datetime | None = None,
    consent_days: int = 0,
) -> bool:
    """First-party clients never ask; third-party ones until the person allowed these scopes,
    and again once the consent is `consent_days` old (issue 21)."""
    if row.is_first_party:
        return False
    consent = db.scalar(
        select(Consent).where(Consent.user_id == user.id, Consent.client_id == row.id)
    )
    if consent is None or not set(scope.split()) <= set(consent.scope.split()):
        return True
    return now is not None and consent_expired(consent, now=now, consent_days=consent_days)


def grant_consent(
    db: Session, *, user: User, row: OAuthClient, scope: str, now: datetime, client: ClientInfo
) -> None:
    """Remember that the person allowed these scopes to the client (同意授权)."""
    consent = db.scalar(
        select(Consent).where(Consent.user_id == user.id, Consent.client_id == row.id)
    )
    if consent is None:
        consent = Consent(user_id=user.id, client_id=row.id, scope="", granted_at=now)
        db.add(consent)
    consent.scope = " ".join(dict.fromkeys(consent.scope.split() + scope.split()))
    consent.granted_at = now
    audit.record(
        db,
        now=now,
        action=AuditAction.OIDC_CONSENT_GRANTED,
        actor_id=user.id,
        target_user_id=user.id,
        client=client,
        detail={"client_id": row.client_id, "scope": scope},
    )


# -- codes and tokens ------------------------------------------------------------------


def save_code(
    db: Session,
    *,
    code: str,
    row: OAuthClient,
    user: User,
    redirect_uri: str,
    scope: str,
    nonce: str | None,
    code_challenge: str | None,
    code_challenge_method: str | None,
    auth_time: datetime,
    now: datetime,
    lifetime: timedelta,
    amr: str | None = None,
    acr: str | None = None,
    sid: str | None = None,
) -> AuthorizationCode:
    """Store a new authorization code (hashed), the root of a new token family."""
    item = AuthorizationCode(
        code_hash=hash_token(code),
        client_id=row.id,
        user_id=user.id,
        family_id=secrets.token_hex(16),
        redirect_uri=redirect_uri,
        scope=scope,
        nonce=nonce,
        code_challenge=code_challenge,
        code_challenge_method=code_challenge_method,
        auth_time=auth_time,
        created_at=now,
        expires_at=now + lifetime,
        amr=amr,
        acr=acr,
        sid=sid,
    )
    db.add(item)
    db.flush()
    return item


def _replayed(
    db: Session,
    action: AuditAction,
    *,
    family_id: str,
    user_id: int | None,
    row: OAuthClient,
    now: datetime,
) -> None:
    """A spent code or refresh token came back: someone holds a copy, so the family ends."""
    revoke_tokens(db, now=now, family_id=family_id)
    audit.record(
        db,
        now=now,
        action=action,
        outcome=Outcome.DENIED,
        target_user_id=user_id,
        detail={"client_id": row.client_id},
    )


def redeem_code(
    db: Session, *, code: str, row: OAuthClient, now: datetime
) -> AuthorizationCode | None:
    """The live code for this client; a reused code revokes what it produced (RFC 6749 4.1.2)."""
    item = db.scalar(
        select(AuthorizationCode).where(
            AuthorizationCode.code_hash == hash_token(code),
            AuthorizationCode.client_id == row.id,
        )
    )
    if item is None:
        return None
    if item.used_at is not None:
        _replayed(
            db,
            AuditAction.OIDC_CODE_REUSED,
            family_id=item.family_id,
            user_id=item.user_id,
            row=row,
            now=now,
        )
        return None
    if item.expires_at <= now:
        return None
    return item


def save_token(
    db: Session,
    *,
    token: dict[str, Any],
    row: OAuthClient,
    user: User | None,
    family_id: str,
    now: datetime,
    refresh_lifetime: timedelta,
    sid: str | None = None,
) -> OAuthToken:
    """Store an issued token pair (hashed); no person for a client_credentials token; `sid`
    is the browser session of the sign-in it descends from."""
    refresh = token.get("refresh_token")
    item = OAuthToken(
        client_id=row.id,
        user_id=user.id if user is not None else None,
        family_id=family_id,
        access_token_hash=hash_token(token["access_token"]),
        refresh_token_hash=hash_token(refresh) if refresh else None,
        scope=token.get("scope", ""),
        issued_at=now,
        access_expires_at=now + timedelta(seconds=int(token["expires_in"])),
        refresh_expires_at=now + refresh_lifetime if refresh else None,
        sid=sid,
    )
    db.add(item)
    db.flush()
    return item


def find_access_token(db: Session, *, access_token: str, now: datetime) -> OAuthToken | None:
    """The live token for a bearer access token, or None (unknown, expired, revoked)."""
    item = db.scalar(
        select(OAuthToken).where(OAuthToken.access_token_hash == hash_token(access_token))
    )
    if item is None or item.revoked_at is not None or item.access_expires_at <= now:
        return None
    return item


def redeem_refresh_token(
    db: Session, *, refresh_token: str, row: OAuthClient, now: datetime
) -> OAuthToken | None:
    """The live token row for a refresh token of this client.

    A refresh token that was already rotated is being replayed: someone holds a stolen copy,
    so the whole family is revoked and the event audited.
    """
    item = db.scalar(
        select(OAuthToken).where(OAuthToken.refresh_token_hash == hash_token(refresh_token))
    )
    if item is None or item.client_id != row.id:
        return None
    if item.refresh_used_at is not None:
        _replayed(
            db,
            AuditAction.OIDC_REFRESH_TOKEN_REUSED,
            family_id=item.family_id,
            user_id=item.user_id,
            row=row,
            now=now,
        )
        return None
    if item.revoked_at is not None:
        return None
    if item.refresh_expires_at is None or item.refresh_expires_at <= now:
        return None
    return item


def rotate_out(db: Session, *, item: OAuthToken, now: datetime) -> None:
    """Mark a refresh token used (its pair ends) once its successor is issued."""
    item.refresh_used_at = now
    item.revoked_at = item.revoked_at or now


def find_token(db: Session, *, token: str, hint: str | None) -> OAuthToken | None:
    """A token (access or refresh) presented for revocation; Authlib checks its client."""
    digest = hash_token(token)
    columns = (
        [OAuthToken.refresh_token_hash, OAuthToken.access_token_hash]
        if hint == "refresh_token"
        else [OAuthToken.access_token_hash, OAuthToken.refresh_token_hash]
    )
    for column in columns:
        item = db.scalar(select(OAuthToken).where(column == digest))
        if item is not None:
            return item
    return None


def revoke_token(db: Session, *, item: OAuthToken, now: datetime) -> None:
    """Revocation endpoint (RFC 7009): revoking either token ends the whole family."""
    revoke_tokens(db, now=now, family_id=item.family_id)


def revoke_tokens(
    db: Session,
    *,
    now: datetime,
    family_id: str | None = None,
    user_id: int | None = None,
    client_pk: int | None = None,
) -> set[int]:
    """Revoke every live token matching the filters given (at least one); returns the clients
    (primary keys) that held an unexpired one. Decided by the UPDATE itself, so of two
    concurrent calls only the one that revoked a token reports its client."""
    conditions: list[ColumnElement[bool]] = [OAuthToken.revoked_at.is_(None)]
    if family_id is not None:
        conditions.append(OAuthToken.family_id == family_id)
    if user_id is not None:
        conditions.append(OAuthToken.user_id == user_id)
    if client_pk is not None:
        conditions.append(OAuthToken.client_id == client_pk)
    if len(conditions) == 1:
        raise ValueError("revoke_tokens needs a filter")
    return set(_revoke(db, now, conditions))


def revoke_sessions(db: Session, *, now: datetime, user_id: int) -> dict[int, set[str | None]]:
    """Revoke every live token of the person; for each client (primary key) that held an
    unexpired one, the browser sessions (`sid`, None for a token from before issue 21) they
    came from: one logout token each tells the application which of its sessions end."""
    return _revoke(db, now, [OAuthToken.revoked_at.is_(None), OAuthToken.user_id == user_id])


def _revoke(
    db: Session, now: datetime, conditions: list[ColumnElement[bool]]
) -> dict[int, set[str | None]]:
    revoked = db.execute(
        update(OAuthToken)
        .where(*conditions)
        .values(revoked_at=now)
        .returning(
            OAuthToken.client_id,
            OAuthToken.access_expires_at,
            OAuthToken.refresh_expires_at,
            OAuthToken.sid,
        ),
        execution_options={"synchronize_session": False},
    ).all()
    db.expire_all()
    held: dict[int, set[str | None]] = {}
    for client_pk, access, refresh, sid in revoked:
        if access > now or (refresh is not None and refresh > now):
            held.setdefault(client_pk, set()).add(sid)
    return held


# A new password, by any route, ends every application's hold on the account: the listener
# (tokens revoked, applications told by back- and front-channel logout) is registered by
# campusid.oidc.logout, imported at the end of this module (issue 21).


# -- claims ----------------------------------------------------------------------------


def _class_entry(
    school_class: SchoolClass, role: str, today: date, year: YearBoundary
) -> dict[str, Any]:
    grade = school_class.grade
    return {
        "id": school_class.id,
        "class_code": school_class.class_code,
        "name": org_service.class_display_name(school_class, today, year),
        "grade": org_service.grade_name(grade, today, year) if grade is not None else None,
        "school": {"id": school_class.school_id, "name": school_class.school.name},
        "campus": {"id": school_class.campus_id, "name": school_class.campus.name},
        "role": role,
        "role_name": ROLE_NAMES[role],
    }


def _current(school_class: SchoolClass, today: date, year: YearBoundary) -> bool:
    return not org_service.class_graduated(school_class, today, year)


def _student_classes(
    db: Session, user_id: int, today: date, year: YearBoundary
) -> list[dict[str, Any]]:
    rows = db.scalars(
        select(SchoolClass)
        .join(ClassStudent, ClassStudent.class_id == SchoolClass.id)
        .where(ClassStudent.student_id == user_id)
        .order_by(SchoolClass.id)
    )
    return [_class_entry(c, "student", today, year) for c in rows if _current(c, today, year)]


def _teacher_classes(
    db: Session, user_id: int, today: date, year: YearBoundary
) -> list[dict[str, Any]]:
    entries = []
    for school_class, teacher in db.execute(
        select(SchoolClass, ClassTeacher)
        .join(ClassTeacher, ClassTeacher.class_id == SchoolClass.id)
        .where(ClassTeacher.teacher_id == user_id)
        .order_by(SchoolClass.id)
    ):
        if not _current(school_class, today, year):
            continue
        role = "homeroom_teacher" if teacher.is_homeroom else "teacher"
        entry = _class_entry(school_class, role, today, year)
        entry["subject"] = teacher.subject
        entries.append(entry)
    return entries


def _school_claims(db: Session, user: User, today: date, year: YearBoundary) -> dict[str, Any]:
    classes = _student_classes(db, user.id, today, year) + _teacher_classes(
        db, user.id, today, year
    )
    schools: dict[int, dict[str, Any]] = {}
    for membership in db.scalars(
        select(SchoolMembership)
        .where(SchoolMembership.current(user_id=user.id))
        .order_by(SchoolMembership.id)
    ):
        school = db.get(School, membership.school_id)
        entry = schools.setdefault(
            membership.school_id,
            {
                "id": membership.school_id,
                "name": school.name if school else "",
                "roles": [],
                "campuses": [],
            },
        )
        entry["roles"].append(membership.role.value)
    for item in classes:
        entry = schools.setdefault(
            item["school"]["id"],
            {**item["school"], "roles": [], "campuses": []},
        )
        if item["campus"] not in entry["campuses"]:
            entry["campuses"].append(item["campus"])
    return {"schools": list(schools.values()), "classes": classes}


def _family_claims(
    db: Session, user: User, today: date, year: YearBoundary, subject: SubjectOf
) -> dict[str, Any]:
    children = db.scalars(
        select(User)
        .join(ParentLink, ParentLink.child_id == User.id)
        .where(ParentLink.parent_id == user.id)
        .order_by(ParentLink.id)
    )
    return {
        "children": [
            {
                "sub": subject(child.id),
                "name": child.real_name,  # issue 21: 班级圈 names the child
                "classes": _student_classes(db, child.id, today, year),
            }
            for child in children
        ]
    }


SubjectOf = Callable[[int], str]


def public_subject(user_id: int) -> str:
    """The public `sub`: the account's id (first-party clients, and clients registered before
    issue 21 that rely on it)."""
    return str(user_id)


@functools.lru_cache(maxsize=4)
def _subject_key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PAIRWISE_INFO).derive(
        secret.encode()
    )


def subject_for(row: OAuthClient | None, user_id: int, *, secret: str) -> str:
    """The `sub` this client sees (OpenID Connect Core 8): the public id, or for a pairwise
    client a keyed hash of the client and the account (OpenID Connect Core 8.1), the same in
    every worker (keyed by the data key, `keys.sealing_secret`)."""
    if row is None or not row.pairwise_subject:
        return public_subject(user_id)
    digest = hmac.new(
        _subject_key(secret), f"{row.client_id}|{user_id}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@functools.lru_cache(maxsize=4)
def _sid_key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_SID_INFO).derive(
        secret.encode()
    )


def session_sid(session_id_hash: str, *, secret: str) -> str:
    """The `sid` of a browser session (Front- and Back-Channel Logout 1.0): a keyed digest of
    the session's stored id, the same for every sign-in to every application from that
    session and in every worker (keyed by the data key, `keys.sealing_secret`); it reveals
    nothing of the session cookie and cannot be turned back into it."""
    digest = hmac.new(_sid_key(secret), session_id_hash.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).rstrip(b"=").decode()


def subject_function(row: OAuthClient | None, *, secret: str) -> SubjectOf:
    """`subject_for` bound to one client."""
    return lambda user_id: subject_for(row, user_id, secret=secret)


def user_of_subject(
    db: Session, row: OAuthClient, sub: str, *, secret: str, now: datetime
) -> int | None:
    """The account holding a live token of this client behind a `sub` it saw (RP-initiated
    logout's id_token_hint with no session): a pairwise `sub` is matched against the people
    with a live token of the client only (those whose tokens there are to revoke)."""
    if not row.pairwise_subject:
        return int(sub) if sub.isdigit() and len(sub) < 12 else None
    for user_id in db.scalars(
        select(OAuthToken.user_id)
        .where(
            OAuthToken.client_id == row.id,
            OAuthToken.user_id.is_not(None),
            OAuthToken.revoked_at.is_(None),
            (OAuthToken.access_expires_at > now) | (OAuthToken.refresh_expires_at > now),
        )
        .distinct()
    ):
        assert user_id is not None
        if hmac.compare_digest(subject_for(row, user_id, secret=secret), sub):
            return user_id
    return None


def _current_student_number(db: Session, user_id: int, today: date, year: YearBoundary) -> Any:
    for school_class, number in db.execute(
        select(SchoolClass, ClassStudent.student_number)
        .join(ClassStudent, ClassStudent.class_id == SchoolClass.id)
        .where(ClassStudent.student_id == user_id)
        .order_by(SchoolClass.id.desc())
    ):
        if _current(school_class, today, year) and number:
            return number
    return None


def user_claims(
    db: Session,
    *,
    user: User,
    scope: str,
    today: date,
    year: YearBoundary,
    subject: SubjectOf = public_subject,
    picture_url: str | None = None,
) -> dict[str, Any]:
    """The claims the granted scopes allow: nothing personal beyond what was asked and allowed.

    Issue 21: the standard claims (OpenID Connect Core 5.1) where one exists: profile gives
    `preferred_username`, `gender` and `picture` (only when there is an avatar);
    `identifiers.full` gives `phone_number`/`email` with `*_verified`; `identifiers` only
    masked variants. `*_verified` is true for a phone or email proved by a code sent to it
    (bound at 账号绑定, or the phone a parent signed up with); one typed in by an
    administrator or imported is not.
    """
    scopes = set(scope.split())
    claims: dict[str, Any] = {"sub": subject(user.id)}
    if "profile" in scopes:
        claims["name"] = user.real_name
        claims["preferred_username"] = user.username
        if user.gender is not None:
            claims["gender"] = user.gender.value
        if picture_url and user.avatar:
            claims["picture"] = picture_url
    if "school" in scopes:
        claims.update(_school_claims(db, user, today, year))
        number = _current_student_number(db, user.id, today, year)
        if number:
            claims["student_number"] = number
    if "family" in scopes:
        claims.update(_family_claims(db, user, today, year, subject))
    if "identifiers.full" in scopes:
        claims.update(
            {
                "phone_number": user.phone,
                "phone_number_verified": bool(user.phone and user.phone_verified_at),
                "id_card_number": user.id_card_number,
                "registration_number": user.registration_number,
                "email": user.email,
                "email_verified": bool(user.email and user.email_verified_at),
            }
        )
    elif "identifiers" in scopes:
        claims.update(
            {
                "phone_number_masked": mask_phone(user.phone) if user.phone else None,
                "id_card_number_masked": (
                    mask_id_card(user.id_card_number) if user.id_card_number else None
                ),
                "email_masked": mask_email(user.email) if user.email else None,
            }
        )
    return claims


# Every claim this provider may give (discovery: claims_supported).
CLAIMS_SUPPORTED = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "at_hash",
    "sid",
    "name",
    "preferred_username",
    "gender",
    "picture",
    "schools",
    "classes",
    "student_number",
    "children",
    "phone_number",
    "phone_number_verified",
    "email",
    "email_verified",
    "id_card_number",
    "registration_number",
    "phone_number_masked",
    "id_card_number_masked",
    "email_masked",
]
_PAIRWISE_INFO = b"campusid oidc pairwise subjects v1"
_SID_INFO = b"campusid oidc session ids v1"


def active_user(db: Session, user_id: int | None) -> User | None:
    """The account a token belongs to, if it may still sign in (none for a service token)."""
    if user_id is None:
        return None
    user = accounts.get_user(db, user_id)
    return user if user is not None and user.status is AccountStatus.ACTIVE else None


# -- authentication methods and context classes (issue 19) ------------------------------------

# The context classes an application may ask for in `acr_values` (discovery:
# acr_values_supported). ACR_MFA: the person proved a second factor in this session (an
# authenticator code, a passkey or security key, a recovery code); ACR_PASSWORD: a password
# alone. "mfa", the value several providers use, is taken as ACR_MFA and echoed back as asked.
ACR_PASSWORD = "urn:campusid:pwd"
ACR_MFA = "urn:campusid:mfa"
ACR_MFA_ALIASES = frozenset({ACR_MFA, "mfa"})
# issue 24: a pupil's badge (扫码登录卡) alone, the weakest class; an application that asks
# for ACR_PASSWORD (or more) in `acr_values` sends a badge session to the password first.
ACR_BADGE = "urn:campusid:qr"
ACR_VALUES = [ACR_BADGE, ACR_PASSWORD, ACR_MFA, "mfa"]
# The session's own words (accounts.factors.AMR_BY_FACTOR) as RFC 8176 values: a recovery code
# is a one-time code ("otp"). "qr" (issue 24: a badge's QR code, a bearer secret the pupil holds
# up to the camera) is campusid's own value: RFC 8176 registers none for it (docs/oidc.md).
_AMR_VALUES = {
    "qr": "qr",
    "pwd": "pwd",
    "otp": "otp",
    "hwk": "hwk",
    "swk": "swk",
    "sms": "sms",
    "recovery": "otp",
}


def amr_of(session_amr: str | None, second_factor: bool) -> list[str]:
    """RFC 8176 `amr` of a session: "pwd", the second factor's kind, and "mfa" with one."""
    values: list[str] = []
    for word in (session_amr or "pwd").split():
        value = _AMR_VALUES.get(word)
        if value and value not in values:
            values.append(value)
    if not values:
        values = ["pwd"]
    if second_factor and len(values) > 1:
        values.append("mfa")
    return values


def wants_mfa(acr_values: str | None) -> str | None:
    """The second-factor class the application asked for in `acr_values`, if it did."""
    for value in (acr_values or "").split():
        if value in ACR_MFA_ALIASES:
            return value
    return None


def wants_password(acr_values: str | None) -> bool:
    """Whether the application asked for a password sign-in or more (not a badge alone)."""
    return any(
        value == ACR_PASSWORD or value in ACR_MFA_ALIASES for value in (acr_values or "").split()
    )


def acr_of(amr: list[str], asked: str | None) -> str:
    """The class the sign-in satisfied: the one asked for when met, else what it was."""
    if "mfa" in amr:
        return asked or ACR_MFA
    if "pwd" not in amr and "qr" in amr:
        return ACR_BADGE
    return ACR_PASSWORD


# -- browser applications (issue 21) -----------------------------------------------------------


def origin_of(uri: str) -> str | None:
    """The Web origin (RFC 6454) of a URI, as a browser sends it in `Origin`."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def public_client_origins(db: Session) -> set[str]:
    """The origins of the redirect URIs of enabled public clients: the browser applications
    that may call discovery, the JWKS, token, userinfo and revocation across origins."""
    origins: set[str] = set()
    for uris in db.scalars(
        select(OAuthClient.redirect_uris).where(
            OAuthClient.is_confidential.is_(False), OAuthClient.disabled_at.is_(None)
        )
    ):
        origins.update(o for o in (origin_of(u) for u in uris or []) if o)
    return origins


# -- server-to-server calls and introspection (issue 21) --------------------------------------


def new_family_id() -> str:
    """A token family of its own (a client_credentials token descends from no code)."""
    return secrets.token_hex(16)


def find_service_token(
    db: Session, *, access_token: str, scope: str, now: datetime
) -> OAuthClient | None:
    """The enabled client behind a live client_credentials access token carrying `scope`
    (for the platform's own server-to-server APIs, e.g. OneRoster of issue 22), or None."""
    item = find_access_token(db, access_token=access_token, now=now)
    if item is None or item.user_id is not None or scope not in item.scope.split():
        return None
    row = db.get(OAuthClient, item.client_id)
    return row if row is not None and row.disabled_at is None else None


def may_introspect(item: OAuthToken, row: OAuthClient) -> bool:
    """RFC 7662: a confidential client may look at the tokens issued to it, nobody else's
    (a token is no oracle for another application's sessions)."""
    return row.is_confidential and item.client_id == row.id


def introspection(
    db: Session, *, item: OAuthToken | None, issuer: str, now: datetime, secret: str
) -> dict[str, Any]:
    """The RFC 7662 answer: {"active": false} unless the token is live (by the injected
    clock) and its client and person may still use it."""
    if item is None or item.revoked_at is not None:
        return {"active": False}
    if item.access_expires_at > now:
        expires = item.access_expires_at
        token_type = "Bearer"
    elif item.refresh_expires_at is not None and item.refresh_expires_at > now:
        expires = item.refresh_expires_at
        token_type = "refresh_token"
    else:
        return {"active": False}
    row = db.get(OAuthClient, item.client_id)
    if row is None or row.disabled_at is not None:
        return {"active": False}
    answer: dict[str, Any] = {
        "active": True,
        "scope": item.scope,
        "client_id": row.client_id,
        "token_type": token_type,
        "exp": int(expires.timestamp()),
        "iat": int(item.issued_at.timestamp()),
        "iss": issuer,
        "aud": row.client_id,
    }
    if item.user_id is not None:
        if active_user(db, item.user_id) is None:
            return {"active": False}
        answer["sub"] = subject_for(row, item.user_id, secret=secret)  # as the client knows it
    else:
        answer["sub"] = row.client_id
    return answer


# -- 授权管理: the applications a person authorised (issue 21) ------------------------------


def consent_expired(consent: Consent, *, now: datetime, consent_days: int) -> bool:
    """A consent older than the setting (CAMPUSID_OIDC_CONSENT_DAYS; 0: never) is asked again."""
    return consent_days > 0 and consent.granted_at + timedelta(days=consent_days) <= now


@dataclass
class Grant:
    """One application a person authorised: what it may read and whether it holds tokens."""

    client: OAuthClient
    scope: str
    granted_at: datetime | None
    expires_at: datetime | None
    signed_in: bool

    @property
    def scopes(self) -> list[tuple[str, str]]:
        """(scope, what it shares) in Chinese words."""
        return scope_descriptions(self.scope)


def list_grants(db: Session, *, user_id: int, now: datetime, consent_days: int) -> list[Grant]:
    """The applications holding a live consent or a live token of the person, by name."""
    grants: dict[int, Grant] = {}
    enabled = OAuthClient.disabled_at.is_(None)
    for consent, row in db.execute(
        select(Consent, OAuthClient)
        .join(OAuthClient, OAuthClient.id == Consent.client_id)
        .where(Consent.user_id == user_id, enabled)
    ):
        if consent_expired(consent, now=now, consent_days=consent_days):
            continue
        expires = consent.granted_at + timedelta(days=consent_days) if consent_days > 0 else None
        grants[row.id] = Grant(row, consent.scope, consent.granted_at, expires, False)
    live = db.execute(
        select(OAuthToken.scope, OAuthClient)
        .join(OAuthClient, OAuthClient.id == OAuthToken.client_id)
        .where(
            OAuthToken.user_id == user_id,
            OAuthToken.revoked_at.is_(None),
            (OAuthToken.access_expires_at > now) | (OAuthToken.refresh_expires_at > now),
            enabled,
        )
    )
    for scope, row in live:
        grant = grants.get(row.id)
        if grant is None:
            grant = grants[row.id] = Grant(row, scope, None, None, True)
        grant.signed_in = True
        grant.scope = " ".join(dict.fromkeys(grant.scope.split() + scope.split()))
    return sorted(grants.values(), key=lambda g: (g.client.name, g.client.id))


def withdraw_grant(
    db: Session,
    *,
    owner_id: int,
    row: OAuthClient,
    actor: User,
    now: datetime,
    client: ClientInfo,
) -> bool:
    """撤销授权: the consent is forgotten and the application's access and refresh tokens of
    the person are revoked at once (audited; the person is asked again next time). Idempotent:
    False when there was nothing to withdraw."""
    consent = db.scalar(
        select(Consent).where(Consent.user_id == owner_id, Consent.client_id == row.id)
    )
    live = db.scalar(
        select(OAuthToken.id)
        .where(
            OAuthToken.user_id == owner_id,
            OAuthToken.client_id == row.id,
            OAuthToken.revoked_at.is_(None),
        )
        .limit(1)
    )
    if consent is None and live is None:
        return False
    if consent is not None:
        db.delete(consent)
    revoke_tokens(db, now=now, user_id=owner_id, client_pk=row.id)
    audit.record(
        db,
        now=now,
        action=AuditAction.OIDC_CONSENT_WITHDRAWN,
        actor_id=actor.id,
        target_user_id=owner_id,
        client=client,
        detail={"client_id": row.client_id, "by": "self" if actor.id == owner_id else "guardian"},
    )
    return True


def under_14(user: User, today: date) -> bool:
    """A child under 14 by the birth date of the ID card; with no readable ID card the child is
    taken as under 14 (the guardian keeps the say: the protective reading of PIPL art. 31)."""
    if not user.id_card_number:
        return True
    try:
        born = birth_date_from_id_card(user.id_card_number, today=today)
    except InvalidIdentifier:
        return True
    try:
        fourteenth = born.replace(year=born.year + 14)
    except ValueError:  # born on 29 February: 14 on 1 March of a common year
        fourteenth = date(born.year + 14, 3, 1)
    return today < fourteenth


# Last: the single-logout listeners (the module imports this one).
from campusid.oidc import logout as _single_logout  # noqa: E402,F401

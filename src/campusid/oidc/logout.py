"""Single logout (issue 21): OpenID Connect Back-Channel Logout 1.0 and Front-Channel Logout 1.0.

When a person's campusid sign-in ends — 退出登录, RP-initiated logout, a password change or an
administrator's reset (every route of `set_password`) — the applications that hold a live token
of theirs are told, and the tokens are revoked in the same transaction:

- an application with a `backchannel_logout_uri` receives a signed logout token (a JWT with
  iss, aud, iat, exp, jti, events and sub; `typ` "logout+jwt") in a form POST, delivered
  *after* the transaction commits, with a bounded number of attempts
  (CAMPUSID_OIDC_BACKCHANNEL_ATTEMPTS, CAMPUSID_OIDC_BACKCHANNEL_TIMEOUT_SECONDS each); a
  change that rolls back tells nobody;
- an application with a `frontchannel_logout_uri` is loaded in a hidden iframe of the
  signed-out page (with `iss`), where the browser's cookies end its session.

Delivery is not yet an outbox row (issue 20's outbox serves SMS and mail): a process that dies
between the commit and the POST loses the notice; the tokens are revoked regardless, so the
application's next refresh or userinfo call fails.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from joserfc import jwt
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from campusid.accounts import service as accounts
from campusid.accounts.models import User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.context import Services
from campusid.oidc import keys
from campusid.oidc import service as oidc
from campusid.oidc.models import OAuthClient

log = logging.getLogger(__name__)

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_SECONDS = 120
PENDING = "oidc.backchannel_pending"
HOOKED = "oidc.backchannel_hooked"


@dataclass(frozen=True)
class Notice:
    """One logout token to POST to one application."""

    client_id: str
    uri: str
    logout_token: str


def issuer_for(db: Session, services: Services) -> str:
    """The issuer: the configured one, else the URL of the request this session serves."""
    configured = services.settings.oidc_issuer
    base = configured or str(db.info.get("base_url") or "http://localhost/")
    return base.rstrip("/")


def logout_token(
    *, issuer: str, client_id: str, sub: str, kid: str, key: Any, now: datetime
) -> str:
    """A Back-Channel Logout 1.0 logout token (section 2.4): no nonce, the logout event."""
    iat = int(now.timestamp())
    claims = {
        "iss": issuer,
        "aud": client_id,
        "iat": iat,
        "exp": iat + LOGOUT_TOKEN_SECONDS,
        "jti": secrets.token_urlsafe(16),
        "sub": sub,
        "events": {BACKCHANNEL_EVENT: {}},
    }
    header = {"alg": keys.ALGORITHM, "kid": kid, "typ": "logout+jwt"}
    return str(jwt.encode(header, claims, key))


def end_app_sessions(db: Session, user: User, now: datetime) -> list[str]:
    """End every application's hold on the person: tokens revoked now, back-channel notices
    queued for after the commit; returns the front-channel URIs for the signed-out page.
    The applications told are those whose tokens this call revoked: a second sign-out (a
    double click, a concurrent request) finds none and tells nobody again."""
    held = oidc.revoke_tokens(db, now=now, user_id=user.id)
    rows = (
        list(
            db.scalars(
                select(OAuthClient)
                .where(OAuthClient.id.in_(held), OAuthClient.disabled_at.is_(None))
                .order_by(OAuthClient.id)
            )
        )
        if held
        else []
    )
    services: Services | None = db.info.get("services")
    frontchannel: list[str] = []
    notices: list[Notice] = []
    backchannel = [row for row in rows if row.backchannel_logout_uri]
    if backchannel and services is not None:
        issuer = issuer_for(db, services)
        kid, key = keys.signing_key(
            db,
            secret_key=keys.sealing_secret(services.settings),
            now=now,
            grace=timedelta(hours=services.settings.oidc_key_grace_hours),
        )
        for row in backchannel:
            token = logout_token(
                issuer=issuer,
                client_id=row.client_id,
                sub=oidc.subject_for(row, user.id, secret=keys.sealing_secret(services.settings)),
                kid=kid,
                key=key,
                now=now,
            )
            notices.append(Notice(row.client_id, str(row.backchannel_logout_uri), token))
    for row in rows:
        if row.frontchannel_logout_uri:
            issuer = issuer_for(db, services) if services else ""
            sep = "&" if urlsplit(row.frontchannel_logout_uri).query else "?"
            frontchannel.append(f"{row.frontchannel_logout_uri}{sep}{urlencode({'iss': issuer})}")
    if notices and services is not None:
        for notice in notices:
            audit.record(
                db,
                now=now,
                action=AuditAction.OIDC_BACKCHANNEL_LOGOUT,
                target_user_id=user.id,
                detail={"client_id": notice.client_id},
            )
        _queue(db, services, notices)
    return frontchannel


def _queue(db: Session, services: Services, notices: list[Notice]) -> None:
    db.info.setdefault(PENDING, []).extend(notices)
    if db.info.get(HOOKED):
        return
    db.info[HOOKED] = True
    settings = services.settings

    @event.listens_for(db, "after_commit")
    def _after_commit(session: Session) -> None:
        pending: list[Notice] = session.info.pop(PENDING, [])
        for notice in pending:
            deliver(
                notice,
                attempts=settings.oidc_backchannel_attempts,
                timeout=settings.oidc_backchannel_timeout_seconds,
            )

    @event.listens_for(db, "after_rollback")
    def _after_rollback(session: Session) -> None:
        session.info.pop(PENDING, None)


def deliver(notice: Notice, *, attempts: int, timeout: float) -> bool:
    """POST the logout token (application/x-www-form-urlencoded, section 2.5); a 200 or 204
    is delivery. Bounded: `attempts` tries of at most `timeout` seconds, 0.2 s × 2ⁿ apart."""
    for attempt in range(attempts):
        try:
            response = httpx.post(
                notice.uri,
                data={"logout_token": notice.logout_token},
                timeout=timeout,
                follow_redirects=False,
            )
            if response.status_code in (200, 204):
                return True
            log.warning(
                "back-channel logout refused",
                extra={"client_id": notice.client_id, "status": response.status_code},
            )
            if 400 <= response.status_code < 500:
                return False  # the application refused the token: repeating will not help
        except httpx.HTTPError as error:
            log.warning(
                "back-channel logout failed",
                extra={"client_id": notice.client_id, "error": type(error).__name__},
            )
        if attempt + 1 < attempts:
            time.sleep(0.2 * 2**attempt)  # a delivery pause, not a test's wait for expiry
    return False


def _on_password_change(db: Session, user: User, now: datetime) -> None:
    end_app_sessions(db, user, now)


def _on_sign_out(db: Session, user: User, now: datetime) -> list[str]:
    return end_app_sessions(db, user, now)


if _on_password_change not in accounts.password_change_listeners:
    accounts.password_change_listeners.append(_on_password_change)
if _on_sign_out not in accounts.sign_out_listeners:
    accounts.sign_out_listeners.append(_on_sign_out)

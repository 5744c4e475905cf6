"""Single logout (issue 21): OpenID Connect Back-Channel Logout 1.0 and Front-Channel Logout 1.0.

When a person's campusid sign-in ends — 退出登录, RP-initiated logout, a password change or an
administrator's reset (every route of `set_password`) — the applications that hold a live token
of theirs are told, and the tokens are revoked in the same transaction:

- an application with a `backchannel_logout_uri` receives a signed logout token (a JWT with
  iss, aud, iat, exp, jti, events, sub and sid; `typ` "logout+jwt") in a form POST. Each is an
  outbox row (channel `logout`, campusid.outbox) written in the transaction that ends the
  sign-in: a change that rolls back tells nobody, and a process that dies after the commit
  loses nothing. The dispatcher delivers it after the commit with the outbox's retries,
  back-off and dead letters (平台管理 → 消息投递); the request never waits for an application
  (`inline` dispatch hands these rows to the dispatcher thread). The token is signed when it
  is offered, so a retry an hour later still carries a fresh `iat`/`exp`; its `jti` is the
  row's idempotency key, the same on every attempt, so an application that took a token whose
  answer was lost can drop the second copy.
- an application with a `frontchannel_logout_uri` is loaded in a hidden iframe of the
  signed-out page (with `iss`, and `sid` when it registered `frontchannel_logout_session_
  required`), where the browser's cookies end its session.

`sid` is per browser session (oidc.service.session_sid): one logout token per session the
application holds tokens from, so it ends exactly those (all of them: a sign-out at campusid
revokes every token of the person).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from joserfc import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid.accounts import service as accounts
from campusid.accounts.models import User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.context import Services
from campusid.db import transaction
from campusid.oidc import keys
from campusid.oidc import service as oidc
from campusid.oidc.models import OAuthClient
from campusid.senders import Outgoing, RefusedError, UndeliveredError, queue_message

log = logging.getLogger(__name__)

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_SECONDS = keys.LOGOUT_TOKEN_SECONDS
# The outbox channel and template of a logout token.
CHANNEL = "logout"
TEMPLATE = "backchannel_logout"


def issuer_for(db: Session, services: Services) -> str:
    """The issuer: the configured one, else the URL of the request this session serves."""
    configured = services.settings.oidc_issuer
    base = configured or str(db.info.get("base_url") or "http://localhost/")
    return base.rstrip("/")


def logout_token(
    *,
    issuer: str,
    client_id: str,
    sub: str,
    kid: str,
    key: Any,
    now: datetime,
    sid: str | None = None,
    jti: str | None = None,
) -> str:
    """A Back-Channel Logout 1.0 logout token (section 2.4): no nonce, the logout event."""
    iat = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": client_id,
        "iat": iat,
        "exp": iat + LOGOUT_TOKEN_SECONDS,
        "jti": jti or secrets.token_urlsafe(16),
        "sub": sub,
        "events": {BACKCHANNEL_EVENT: {}},
    }
    if sid:
        claims["sid"] = sid
    header = {"alg": keys.ALGORITHM, "kid": kid, "typ": "logout+jwt"}
    return str(jwt.encode(header, claims, key))


def _frontchannel_uris(row: OAuthClient, issuer: str, sids: set[str | None]) -> list[str]:
    """The URIs to frame: with `iss`, and for a client that asked, one per session's `sid`."""
    base = str(row.frontchannel_logout_uri)
    sep = "&" if urlsplit(base).query else "?"
    named = sorted(sid for sid in sids if sid)
    if not row.frontchannel_logout_session_required or not named:
        return [f"{base}{sep}{urlencode({'iss': issuer})}"]
    return [f"{base}{sep}{urlencode({'iss': issuer, 'sid': sid})}" for sid in named]


def end_app_sessions(db: Session, user: User, now: datetime) -> list[str]:
    """End every application's hold on the person: tokens revoked now, one back-channel
    logout token per application and session queued in the outbox; returns the front-channel
    URIs for the signed-out page. The applications told are those whose tokens this call
    revoked: a second sign-out (a double click, a concurrent request) finds none and tells
    nobody again."""
    held = oidc.revoke_sessions(db, now=now, user_id=user.id)
    if not held:
        return []
    rows = list(
        db.scalars(
            select(OAuthClient)
            .where(OAuthClient.id.in_(held), OAuthClient.disabled_at.is_(None))
            .order_by(OAuthClient.id)
        )
    )
    services: Services | None = db.info.get("services")
    if services is None:  # a session outside the app: revoked, nobody to tell from here
        return []
    issuer = issuer_for(db, services)
    secret = keys.sealing_secret(services.settings)
    frontchannel: list[str] = []
    for row in rows:
        sids = held[row.id]
        if row.backchannel_logout_uri:
            sub = oidc.subject_for(row, user.id, secret=secret)
            # Tokens from before sessions were named (no sid) are ended by `sub` alone.
            for sid in sorted(sids, key=lambda s: s or ""):
                queue_message(
                    db,
                    now=now,
                    channel=CHANNEL,
                    recipient=row.client_id,
                    template=TEMPLATE,
                    body=f"退出登录通知（Back-Channel Logout）→ {row.name}",
                    params={
                        "uri": str(row.backchannel_logout_uri),
                        "iss": issuer,
                        "sub": sub,
                        "sid": sid or "",
                    },
                    deferred=True,
                )
            audit.record(
                db,
                now=now,
                action=AuditAction.OIDC_BACKCHANNEL_LOGOUT,
                target_user_id=user.id,
                detail={"client_id": row.client_id, "signins_ended": len(sids)},
            )
        if row.frontchannel_logout_uri:
            frontchannel += _frontchannel_uris(row, issuer, sids)
    return frontchannel


class BackchannelTransport:
    """Delivers the outbox's `logout` rows: signs the logout token now (a fresh `iat`, the
    current key, `jti` the row's idempotency key) and POSTs it (application/x-www-form-
    urlencoded, section 2.5). A 200 or 204 is delivery; a 4xx is a refusal for good (the row
    is a dead letter at once); anything else, or no answer within
    CAMPUSID_OIDC_BACKCHANNEL_TIMEOUT_SECONDS, is retried with the outbox's back-off."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def _signing_key(self, now: datetime) -> tuple[str, Any]:
        settings = self.services.settings
        with transaction(self.services.session_factory) as db:
            return keys.signing_key(
                db,
                secret_key=keys.sealing_secret(settings),
                now=now,
                grace=timedelta(hours=settings.oidc_key_grace_hours),
            )

    def deliver(self, message: Outgoing) -> None:
        """Sign and POST one logout token; raise unless the application took it."""
        params = message.params
        now = self.services.clock.now()
        kid, key = self._signing_key(now)
        token = logout_token(
            issuer=params["iss"],
            client_id=message.recipient,
            sub=params["sub"],
            sid=params.get("sid") or None,
            jti=message.key,
            kid=kid,
            key=key,
            now=now,
        )
        response = httpx.post(
            params["uri"],
            data={"logout_token": token},
            timeout=self.services.settings.oidc_backchannel_timeout_seconds,
            follow_redirects=False,
        )
        if response.status_code in (200, 204):
            log.info("back-channel logout delivered", extra={"client_id": message.recipient})
            return
        if 400 <= response.status_code < 500:
            raise RefusedError(f"HTTP {response.status_code}")
        raise UndeliveredError(f"HTTP {response.status_code}")


def _on_password_change(db: Session, user: User, now: datetime) -> None:
    end_app_sessions(db, user, now)


def _on_sign_out(db: Session, user: User, now: datetime) -> list[str]:
    return end_app_sessions(db, user, now)


if _on_password_change not in accounts.password_change_listeners:
    accounts.password_change_listeners.append(_on_password_change)
if _on_sign_out not in accounts.sign_out_listeners:
    accounts.sign_out_listeners.append(_on_sign_out)

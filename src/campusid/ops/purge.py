"""Retention: delete what has expired or outlived its keeping period (`campusid db purge`).

Each kind is one DELETE by a time column, with the injected clock's `now`: recovery flows
(and the teacher approvals that belong to them), one-time codes, captcha challenges, sessions,
roster error files, OpenID Connect codes and expired tokens, outbox messages (sent ones
`retention_outbox_sent_days` after sending, dead letters `retention_outbox_dead_days` after
they were written; a pending message is never deleted), retired OpenID Connect signing keys
(`oidc.keys.purge_retired`: once the longest token they signed has expired and the grace
period has passed), and audit rows older than
`retention_audit_days` (never under six months, see config). The sign-in throttle's counters
live in memory or in Redis with their own expiry, so they have no rows here. Idempotent: a
second run at the same time deletes nothing.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session

from campusid.audit.models import AuditEvent
from campusid.config import Settings
from campusid.context import Services
from campusid.db import transaction
from campusid.oidc import keys
from campusid.oidc.models import AuthorizationCode, OAuthToken
from campusid.outbox import DEAD, SENT
from campusid.recovery.models import RecoveryFlow, TeacherRecoveryRequest
from campusid.roster.models import ImportErrorFile
from campusid.security.captcha import CaptchaChallenge
from campusid.security.models import SessionRecord
from campusid.security.onetime import OneTimeCode
from campusid.senders import OutboxMessage

log = logging.getLogger(__name__)


def purge(db: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """Delete every expired row; the number deleted of each kind, in a fixed order."""
    grace = timedelta(hours=settings.retention_expired_hours)
    expired = now - grace
    idle = timedelta(minutes=settings.session_idle_minutes)
    absolute = timedelta(hours=settings.session_absolute_hours)
    counts: dict[str, int] = {}

    def run(name: str, statement: object) -> None:
        result = db.execute(statement)  # type: ignore[call-overload]
        counts[name] = int(result.rowcount or 0)

    stale_flows = select(RecoveryFlow.id).where(RecoveryFlow.expires_at < expired)
    run(
        "teacher_recovery_requests",
        delete(TeacherRecoveryRequest).where(
            TeacherRecoveryRequest.flow_id.in_(stale_flows),
            TeacherRecoveryRequest.expires_at < expired,
        ),
    )
    kept = select(TeacherRecoveryRequest.flow_id)
    run(
        "recovery_flows",
        delete(RecoveryFlow).where(RecoveryFlow.expires_at < expired, RecoveryFlow.id.not_in(kept)),
    )
    run("one_time_codes", delete(OneTimeCode).where(OneTimeCode.expires_at < expired))
    run(
        "captcha_challenges",
        delete(CaptchaChallenge).where(CaptchaChallenge.captcha_expires_at < expired),
    )
    run(
        "sessions",
        delete(SessionRecord).where(
            or_(
                SessionRecord.last_seen_at < expired - idle,
                SessionRecord.created_at < expired - absolute,
            )
        ),
    )
    run("roster_error_files", delete(ImportErrorFile).where(ImportErrorFile.expires_at < expired))
    run(
        "oidc_authorization_codes",
        delete(AuthorizationCode).where(AuthorizationCode.expires_at < expired),
    )
    # A token row goes once its refresh half has expired too (a reused refresh token after
    # that is refused as expired anyway, so reuse detection loses nothing).
    run(
        "oidc_tokens",
        delete(OAuthToken).where(
            OAuthToken.access_expires_at < expired,
            or_(OAuthToken.refresh_expires_at.is_(None), OAuthToken.refresh_expires_at < expired),
        ),
    )
    sent_cutoff = now - timedelta(days=settings.retention_outbox_sent_days)
    dead_cutoff = now - timedelta(days=settings.retention_outbox_dead_days)
    run(
        "outbox_messages",
        delete(OutboxMessage).where(
            or_(
                and_(OutboxMessage.status == SENT, OutboxMessage.sent_at < sent_cutoff),
                and_(OutboxMessage.status == DEAD, OutboxMessage.created_at < dead_cutoff),
            )
        ),
    )
    # issue 21: an OpenID Connect signing key retired longer ago than the longest token it
    # signed lives plus the grace period, and no longer in the JWKS.
    counts["oidc_signing_keys"] = keys.purge_retired(db, settings, now)
    audit_cutoff = now - timedelta(days=settings.retention_audit_days)
    run("audit_events", delete(AuditEvent).where(AuditEvent.occurred_at < audit_cutoff))
    return counts


def purge_now(services: Services) -> dict[str, int]:
    """One purge in its own transaction, at the services' clock."""
    with transaction(services.session_factory) as db:
        return purge(db, services.settings, services.clock.now())


class PurgeTimer:
    """The in-process timer of a serving process: a purge every `purge_interval_minutes`.

    A daemon thread; with several workers each runs it, which is harmless (the deletes are
    idempotent and short). Stopped with the app (lifespan).
    """

    def __init__(self, services: Services) -> None:
        self.services = services
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread unless the interval is 0."""
        if self.services.settings.purge_interval_minutes <= 0:
            return
        self.thread = threading.Thread(target=self._loop, name="campusid-purge", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Ask the thread to end and wait a little for it."""
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def _loop(self) -> None:
        interval = self.services.settings.purge_interval_minutes * 60
        while not self.stopped.wait(interval):
            try:
                counts = purge_now(self.services)
                log.info("purged expired rows", extra={"purged": counts})
            except Exception:
                log.exception("the periodic purge failed; trying again next time")

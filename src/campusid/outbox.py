"""The dispatcher of the transactional outbox (issue 20).

A service that sends an SMS or a mail writes an `outbox_messages` row in its own transaction
(campusid.senders); nothing leaves the process before that transaction commits, and a gateway
that is slow or down cannot roll the change back. The dispatcher then delivers the due rows:

1. **Claim** a batch in a short transaction: `SELECT ... FOR UPDATE SKIP LOCKED` (PostgreSQL;
   SQLite's writer lock serialises the claim instead), then a conditional UPDATE that stamps the
   rows with this batch's token and a lease (`claimed_until`). Two dispatchers never hold the
   same row; a dispatcher that dies mid-batch loses its rows when the lease runs out.
2. **Deliver** each row outside any transaction, with its idempotency key (the gateway's
   `Idempotency-Key` header, the mail's Message-ID): a message whose answer was lost, or whose
   dispatcher died after handing it over, is offered again with the same key and the gateway
   drops the duplicate.
3. **Record** each result in its own transaction, only while the claim is still ours: `sent`
   (the encrypted parameters wiped), or the next attempt after an exponential back-off, or
   `dead` after the last attempt (or at once when the recipient refused it for good,
   `senders.RefusedError`), for a platform administrator to see and retry.

The channels: `sms` and `email` (campusid.senders) and `logout`, the Back-Channel Logout 1.0
tokens of campusid.oidc.logout, whose transport the domain registers
(`context.register_transport`).

Time comes from the injected clock, so tests move it past a back-off or a lease instead of
sleeping.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from campusid.clock import Clock
from campusid.db import transaction
from campusid.senders import (
    DEFERRED_KEYS,
    OUTBOX_KEYS,
    OutboxMessage,
    Outgoing,
    RefusedError,
    Transport,
    UndeliveredError,
    open_params,
)

log = logging.getLogger("campusid.outbox")

PENDING, SENT, DEAD = "pending", "sent", "dead"


@dataclass(frozen=True)
class Policy:
    """Attempts, back-off, the claim's lease and the batch size."""

    max_attempts: int = 8
    backoff_seconds: float = 30
    backoff_max_seconds: float = 3600
    lease_seconds: float = 300
    batch: int = 50

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the given number of failed attempts: base, 2 × base, 4 × base, ..."""
        seconds = self.backoff_seconds * 2 ** max(attempts - 1, 0)
        return timedelta(seconds=min(seconds, self.backoff_max_seconds))


@dataclass
class Report:
    """What one dispatch did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0


def take_keys(session: Session) -> list[str]:
    """The idempotency keys of the messages the session's transaction wrote (and forget them)."""
    keys: list[str] = session.info.pop(OUTBOX_KEYS, None) or []
    return keys


def take_deferred(session: Session) -> set[str]:
    """Of those keys, the messages the request must not offer itself (and forget them)."""
    return set(session.info.pop(DEFERRED_KEYS, None) or [])


def forget_keys(session: Session) -> None:
    """Drop the keys of a rolled-back transaction: its messages do not exist."""
    session.info.pop(OUTBOX_KEYS, None)
    session.info.pop(DEFERRED_KEYS, None)


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        OutboxMessage.status == PENDING,
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now),
    )


@dataclass(frozen=True)
class _Claimed:
    id: int
    channel: str
    recipient: str
    template: str
    payload: str | None
    key: str
    attempts: int


def _claim(
    factory: sessionmaker[Session],
    now: datetime,
    policy: Policy,
    token: str,
    keys: Collection[str] | None,
) -> list[_Claimed]:
    with transaction(factory) as db:
        candidates = (
            select(OutboxMessage.id)
            .where(_due(now))
            .order_by(OutboxMessage.id)
            .limit(policy.batch)
            .with_for_update(skip_locked=True)
        )
        if keys is not None:
            candidates = candidates.where(OutboxMessage.idempotency_key.in_(list(keys)))
        ids = list(db.scalars(candidates))
        if not ids:
            return []
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), _due(now))
            .values(claimed_until=now + timedelta(seconds=policy.lease_seconds), claim_token=token)
            .execution_options(synchronize_session=False)
        )
        rows = db.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.channel,
                OutboxMessage.recipient,
                OutboxMessage.template,
                OutboxMessage.payload,
                OutboxMessage.idempotency_key,
                OutboxMessage.attempts,
            )
            .where(OutboxMessage.claim_token == token)
            .order_by(OutboxMessage.id)
        ).all()
        return [_Claimed(r[0], r[1], r[2], r[3], r[4], r[5] or "", r[6]) for r in rows]


def describe(error: BaseException) -> str:
    """A failure as the row and the log keep it: its kind, never a recipient or a parameter."""
    if isinstance(error, UndeliveredError):
        return str(error)
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code}"
    if isinstance(error, urllib.error.URLError):
        reason = error.reason
        return f"URLError: {type(reason).__name__} {getattr(reason, 'strerror', '') or ''}".strip()
    if isinstance(error, OSError) and error.strerror:
        return f"{type(error).__name__}: {error.strerror}"
    return type(error).__name__


def _record(
    factory: sessionmaker[Session],
    row: _Claimed,
    token: str,
    now: datetime,
    policy: Policy,
    error: BaseException | None,
) -> str:
    attempts = row.attempts + 1
    values: dict[str, object] = {"attempts": attempts, "claimed_until": None, "claim_token": None}
    if error is None:
        outcome = SENT
        values.update(status=SENT, sent_at=now, payload=None, last_error=None)
    else:
        refused = isinstance(error, RefusedError)  # for good: no retry will help
        outcome = DEAD if refused or attempts >= policy.max_attempts else PENDING
        values.update(status=outcome, last_error=describe(error)[:200])
        if outcome == PENDING:
            values["next_attempt_at"] = now + policy.backoff(attempts)
    with transaction(factory) as db:
        db.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id, OutboxMessage.claim_token == token)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return outcome


def dispatch(
    factory: sessionmaker[Session],
    clock: Clock,
    transports: Mapping[str, Transport | None],
    policy: Policy,
    *,
    keys: Collection[str] | None = None,
) -> Report:
    """Deliver one batch of due messages (only those with these keys, if given)."""
    token = uuid.uuid4().hex
    claimed = _claim(factory, clock.now(), policy, token, keys)
    report = Report(claimed=len(claimed))
    for row in claimed:
        error: BaseException | None = None
        transport = transports.get(row.channel)
        try:
            if transport is None:
                raise LookupError(f"no transport for {row.channel}")
            transport.deliver(
                Outgoing(
                    channel=row.channel,
                    recipient=row.recipient,
                    template=row.template,
                    params=open_params(row.payload),
                    key=row.key,
                )
            )
        except Exception as exc:
            error = exc
        outcome = _record(factory, row, token, clock.now(), policy, error)
        if outcome == SENT:
            report.sent += 1
            log.info("outbox %s: %s %s delivered", row.id, row.channel, row.template)
        else:
            report.dead += outcome == DEAD
            report.retrying += outcome == PENDING
            log.warning(
                "outbox %s: %s %s attempt %d failed (%s)%s",
                row.id,
                row.channel,
                row.template,
                row.attempts + 1,
                describe(error) if error else "",
                ", dead letter" if outcome == DEAD else "",
            )
    return report


def drain(run: Callable[[], Report], *, rounds: int = 1000) -> Report:
    """Run dispatches until one claims nothing (bounded); the totals."""
    total = Report()
    for _ in range(rounds):
        report = run()
        if not report.claimed:
            break
        total.claimed += report.claimed
        total.sent += report.sent
        total.retrying += report.retrying
        total.dead += report.dead
    return total


# --- what operators see and do -------------------------------------------------------------


def troubled(db: Session, *, limit: int = 200) -> list[OutboxMessage]:
    """Dead letters and messages waiting for a retry, newest first."""
    return list(
        db.scalars(
            select(OutboxMessage)
            .where(
                or_(
                    OutboxMessage.status == DEAD,
                    and_(OutboxMessage.status == PENDING, OutboxMessage.attempts > 0),
                )
            )
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def listing(db: Session, *, status: str | None = None, limit: int = 100) -> list[OutboxMessage]:
    """The newest messages, of one status if given."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status:
        query = query.where(OutboxMessage.status == status)
    return list(db.scalars(query))


def counts(db: Session) -> dict[str, int]:
    """How many messages are in each status."""
    rows = db.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    return {str(status): int(count) for status, count in rows}


def retry(db: Session, message_id: int, *, now: datetime) -> bool:
    """Send a dead letter (or a message waiting for its back-off) again now, with a fresh count
    of attempts and its same idempotency key. False when there is no such message to retry."""
    message = db.get(OutboxMessage, message_id)
    if message is None or message.status not in (DEAD, PENDING) or not message.idempotency_key:
        return False
    message.status = PENDING
    message.attempts = 0
    message.next_attempt_at = now
    message.claimed_until = None
    message.claim_token = None
    db.info.setdefault(OUTBOX_KEYS, []).append(message.idempotency_key)
    return True


class DispatcherThread:
    """The in-process dispatcher: runs `run` whenever woken, and every `poll_seconds` for the
    retries that come due. A daemon thread, so a process that exits does not wait on it."""

    def __init__(self, run: Callable[[], Report], poll_seconds: float) -> None:
        self.run = run
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="campusid-outbox", daemon=True)

    def start(self) -> None:
        """Start the loop."""
        self._thread.start()

    def wake(self) -> None:
        """Deliver now (a commit wrote messages)."""
        self._wake.set()

    def stop(self, timeout: float = 5) -> None:
        """Stop after the current batch."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                drain(self.run)
            except DBAPIError as error:
                # The database is down or restarting (issue 20's fault tests): expected, and
                # said without a trace; the next poll tries again.
                log.warning(
                    "outbox dispatch: database unavailable (%s); trying again later",
                    type(error.orig).__name__ if error.orig is not None else type(error).__name__,
                )
            except Exception:
                log.exception("outbox dispatch failed; trying again later")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()

"""One-time codes (SMS, mail, read-back): random, short-lived, single-use, stored keyed-hashed.

A code is 6 digits from the CSPRNG. Only an HMAC of it (keyed with the secret key and bound to
its purpose and target) is stored, so a database dump does not allow trying the million codes
offline. A code is valid for 10 minutes, dies after 5 wrong tries, and a new code for the same
purpose and target voids the old one; a new one may be asked for only after 60 seconds.
Codes can be bound to the account's password version, so a password change kills them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from campusid.db import Base, UTCDateTime

CODE_TTL = timedelta(minutes=10)
RESEND_AFTER = timedelta(seconds=60)
MAX_ATTEMPTS = 5


class OneTimeCode(Base):
    """An issued code: its keyed hash, what it is for, and how it was used."""

    __tablename__ = "one_time_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32), comment="recovery.phone, signup, bind, ...")
    target_digest: Mapped[str] = mapped_column(
        String(64),
        index=True,
        comment="HMAC of the phone/email/flow the code was sent for",
    )
    code_digest: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    password_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CodeCheck(StrEnum):
    """What came of checking a code."""

    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"  # also: none issued, used, voided, or too many wrong tries
    EXHAUSTED = "exhausted"


@dataclass(frozen=True)
class Issued:
    """A new code (to send), or the seconds to wait before another may be sent."""

    code: str | None
    wait_seconds: int = 0


def _digest(secret_key: str, *parts: str) -> str:
    return hmac.new(secret_key.encode(), "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


def target_digest(secret_key: str, purpose: str, target: str) -> str:
    """The stored form of a code's target."""
    return _digest(secret_key, "target", purpose, target)


def _live(db: Session, purpose: str, target: str, secret_key: str) -> OneTimeCode | None:
    return db.scalar(
        select(OneTimeCode)
        .where(
            OneTimeCode.purpose == purpose,
            OneTimeCode.target_digest == target_digest(secret_key, purpose, target),
            OneTimeCode.used_at.is_(None),
            OneTimeCode.voided_at.is_(None),
        )
        .order_by(OneTimeCode.id.desc())
        .limit(1)
    )


def issue(
    db: Session,
    *,
    secret_key: str,
    now: datetime,
    purpose: str,
    target: str,
    user_id: int | None = None,
    password_version: int | None = None,
    ttl: timedelta = CODE_TTL,
    resend_after: timedelta = RESEND_AFTER,
) -> Issued:
    """A new code for the purpose and target, voiding the previous one; or how long to wait."""
    previous = _live(db, purpose, target, secret_key)
    if previous is not None:
        waited = now - previous.created_at
        if waited < resend_after:
            return Issued(None, int((resend_after - waited).total_seconds()) + 1)
        previous.voided_at = now
    code = f"{secrets.randbelow(1_000_000):06d}"
    db.add(
        OneTimeCode(
            purpose=purpose,
            target_digest=target_digest(secret_key, purpose, target),
            code_digest=_digest(secret_key, "code", purpose, target, code),
            user_id=user_id,
            password_version=password_version,
            created_at=now,
            expires_at=now + ttl,
            attempts=0,
        )
    )
    db.flush()
    return Issued(code)


def check(
    db: Session,
    *,
    secret_key: str,
    now: datetime,
    purpose: str,
    target: str,
    code: str,
    password_version: int | None = None,
    consume: bool = True,
    max_attempts: int = MAX_ATTEMPTS,
) -> CodeCheck:
    """Check a code; a right one is used up (unless `consume` is False), a wrong one counts."""
    row = _live(db, purpose, target, secret_key)
    if row is None or now >= row.expires_at:
        return CodeCheck.EXPIRED
    if password_version is not None and row.password_version not in (None, password_version):
        return CodeCheck.EXPIRED
    if row.attempts >= max_attempts:
        return CodeCheck.EXHAUSTED
    expected = row.code_digest
    given = _digest(secret_key, "code", purpose, target, code.strip())
    if not hmac.compare_digest(expected, given):
        row.attempts += 1
        if row.attempts >= max_attempts:
            row.voided_at = now
            return CodeCheck.EXHAUSTED
        return CodeCheck.WRONG
    if consume:
        row.used_at = now
    return CodeCheck.OK


def void_all(db: Session, *, secret_key: str, now: datetime, purpose: str, target: str) -> None:
    """Void every live code for the purpose and target."""
    for row in db.scalars(
        select(OneTimeCode).where(
            OneTimeCode.purpose == purpose,
            OneTimeCode.target_digest == target_digest(secret_key, purpose, target),
            OneTimeCode.used_at.is_(None),
            OneTimeCode.voided_at.is_(None),
        )
    ):
        row.voided_at = now

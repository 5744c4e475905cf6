"""Server-side sessions: in the database by default, in Redis when configured.

The browser holds a random 128-bit id; the store keeps only its SHA-256. Sessions have an idle
and an absolute timeout, checked against the injected clock, and can be revoked one by one or
all at once for a person (every credential change does that).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from campusid.security.models import SessionRecord

COOKIE_NAME = "campusid_session"
TOUCH_INTERVAL = timedelta(seconds=60)


def hash_token(token: str) -> str:
    """The stored form of a session id."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class SessionInfo:
    """What a store knows of one session."""

    id_hash: str
    user_id: int
    created_at: datetime
    last_seen_at: datetime
    client_address: str | None
    user_agent: str | None
    # issue 19: how the person proved who they are ("pwd", "pwd otp", "pwd recovery"), the time
    # of the last second-factor check (step-up), and "required" (no page but the enrolment) or
    # "grace" (a banner asks) while a second factor their role requires is still missing.
    amr: str = "pwd"
    second_factor_at: datetime | None = None
    factor_enrolment: str | None = None

    @property
    def has_second_factor(self) -> bool:
        """Whether this session was opened, or since confirmed, with a second factor."""
        return self.second_factor_at is not None


@dataclass
class Lifetimes:
    """Idle and absolute limits of a session."""

    idle: timedelta
    absolute: timedelta

    def alive(self, info: SessionInfo, now: datetime) -> bool:
        """Whether the session is within both limits."""
        return now - info.last_seen_at < self.idle and now - info.created_at < self.absolute


class SessionStore(Protocol):
    """Where sessions live."""

    def create(
        self,
        db: Session,
        *,
        user_id: int,
        now: datetime,
        client_address: str | None,
        user_agent: str | None,
        amr: str = "pwd",
        second_factor_at: datetime | None = None,
        factor_enrolment: str | None = None,
    ) -> str: ...

    def mark_second_factor(self, db: Session, token: str, *, now: datetime, amr: str) -> None: ...

    def load(self, db: Session, token: str, now: datetime) -> SessionInfo | None: ...

    def delete(self, db: Session, token: str) -> None: ...

    def delete_for_user(
        self, db: Session, user_id: int, *, keep_token: str | None = None
    ) -> int: ...

    def list_for_user(self, db: Session, user_id: int) -> list[SessionInfo]: ...


class DatabaseSessionStore:
    """Sessions in the `sessions` table, written in the request's own transaction."""

    def __init__(self, lifetimes: Lifetimes) -> None:
        self.lifetimes = lifetimes

    def create(
        self,
        db: Session,
        *,
        user_id: int,
        now: datetime,
        client_address: str | None,
        user_agent: str | None,
        amr: str = "pwd",
        second_factor_at: datetime | None = None,
        factor_enrolment: str | None = None,
    ) -> str:
        """Start a session; returns the id for the cookie."""
        token = secrets.token_urlsafe(16)
        db.add(
            SessionRecord(
                id_hash=hash_token(token),
                user_id=user_id,
                created_at=now,
                last_seen_at=now,
                client_address=client_address,
                user_agent=(user_agent or "")[:256],
                amr=amr,
                second_factor_at=second_factor_at,
                factor_enrolment=factor_enrolment,
            )
        )
        return token

    def mark_second_factor(self, db: Session, token: str, *, now: datetime, amr: str) -> None:
        """A second factor was checked in this session (enrolment or step-up)."""
        record = db.get(SessionRecord, hash_token(token))
        if record is not None:
            record.amr = amr
            record.second_factor_at = now
            record.factor_enrolment = None

    def load(self, db: Session, token: str, now: datetime) -> SessionInfo | None:
        """The live session for the id, touched; None if unknown or expired."""
        record = db.get(SessionRecord, hash_token(token))
        if record is None:
            return None
        info = _info(record)
        if not self.lifetimes.alive(info, now):
            db.delete(record)
            return None
        if now - record.last_seen_at > TOUCH_INTERVAL:
            record.last_seen_at = now
        return info

    def delete(self, db: Session, token: str) -> None:
        """End one session."""
        db.execute(delete(SessionRecord).where(SessionRecord.id_hash == hash_token(token)))

    def delete_for_user(self, db: Session, user_id: int, *, keep_token: str | None = None) -> int:
        """End every session of a person, but the one kept; returns how many ended."""
        stmt = delete(SessionRecord).where(SessionRecord.user_id == user_id)
        if keep_token:
            stmt = stmt.where(SessionRecord.id_hash != hash_token(keep_token))
        return db.execute(stmt).rowcount  # type: ignore[attr-defined]

    def list_for_user(self, db: Session, user_id: int) -> list[SessionInfo]:
        """A person's sessions, newest first."""
        rows = db.scalars(
            select(SessionRecord)
            .where(SessionRecord.user_id == user_id)
            .order_by(SessionRecord.created_at.desc())
        )
        return [_info(r) for r in rows]


def _info(record: SessionRecord) -> SessionInfo:
    return SessionInfo(
        id_hash=record.id_hash,
        user_id=record.user_id,
        created_at=record.created_at,
        last_seen_at=record.last_seen_at,
        client_address=record.client_address,
        user_agent=record.user_agent,
        amr=record.amr or "pwd",
        second_factor_at=record.second_factor_at,
        factor_enrolment=record.factor_enrolment,
    )


class RedisSessionStore:
    """Sessions in Redis, so any number of app processes share them."""

    def __init__(self, client: Any, lifetimes: Lifetimes, prefix: str = "campusid") -> None:
        self.client = client
        self.lifetimes = lifetimes
        self.prefix = prefix

    def _key(self, id_hash: str) -> str:
        return f"{self.prefix}:session:{id_hash}"

    def _user_key(self, user_id: int) -> str:
        return f"{self.prefix}:user-sessions:{user_id}"

    def _ttl(self) -> int:
        return int(self.lifetimes.absolute.total_seconds()) + 60

    def create(
        self,
        db: Session,
        *,
        user_id: int,
        now: datetime,
        client_address: str | None,
        user_agent: str | None,
        amr: str = "pwd",
        second_factor_at: datetime | None = None,
        factor_enrolment: str | None = None,
    ) -> str:
        """Start a session; returns the id for the cookie."""
        token = secrets.token_urlsafe(16)
        id_hash = hash_token(token)
        payload = {
            "user_id": user_id,
            "created_at": now.isoformat(),
            "last_seen_at": now.isoformat(),
            "client_address": client_address,
            "user_agent": (user_agent or "")[:256],
            "amr": amr,
            "second_factor_at": second_factor_at.isoformat() if second_factor_at else None,
            "factor_enrolment": factor_enrolment,
        }
        pipe = self.client.pipeline()
        pipe.set(self._key(id_hash), json.dumps(payload), ex=self._ttl())
        pipe.sadd(self._user_key(user_id), id_hash)
        pipe.expire(self._user_key(user_id), self._ttl())
        pipe.execute()
        return token

    def _read(self, id_hash: str) -> SessionInfo | None:
        raw = self.client.get(self._key(id_hash))
        if raw is None:
            return None
        data = json.loads(raw)
        return SessionInfo(
            id_hash=id_hash,
            user_id=int(data["user_id"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            last_seen_at=datetime.fromisoformat(data["last_seen_at"]),
            client_address=data.get("client_address"),
            user_agent=data.get("user_agent"),
            amr=data.get("amr") or "pwd",
            second_factor_at=(
                datetime.fromisoformat(data["second_factor_at"])
                if data.get("second_factor_at")
                else None
            ),
            factor_enrolment=data.get("factor_enrolment"),
        )

    def mark_second_factor(self, db: Session, token: str, *, now: datetime, amr: str) -> None:
        """A second factor was checked in this session (enrolment or step-up)."""
        key = self._key(hash_token(token))
        raw = self.client.get(key)
        if raw is None:
            return
        data = json.loads(raw)
        data.update(amr=amr, second_factor_at=now.isoformat(), factor_enrolment=None)
        self.client.set(key, json.dumps(data), keepttl=True)

    def load(self, db: Session, token: str, now: datetime) -> SessionInfo | None:
        """The live session for the id, touched; None if unknown or expired."""
        id_hash = hash_token(token)
        info = self._read(id_hash)
        if info is None:
            return None
        if not self.lifetimes.alive(info, now):
            self.client.delete(self._key(id_hash))
            return None
        if now - info.last_seen_at > TOUCH_INTERVAL:
            raw = json.loads(self.client.get(self._key(id_hash)) or "{}")
            raw["last_seen_at"] = now.isoformat()
            self.client.set(self._key(id_hash), json.dumps(raw), keepttl=True)
        return info

    def delete(self, db: Session, token: str) -> None:
        """End one session."""
        self.client.delete(self._key(hash_token(token)))

    def delete_for_user(self, db: Session, user_id: int, *, keep_token: str | None = None) -> int:
        """End every session of a person, but the one kept; returns how many ended."""
        keep = hash_token(keep_token) if keep_token else None
        ended = 0
        for raw in self.client.smembers(self._user_key(user_id)):
            id_hash = raw.decode() if isinstance(raw, bytes) else raw
            if id_hash == keep:
                continue
            ended += int(self.client.delete(self._key(id_hash)))
            self.client.srem(self._user_key(user_id), id_hash)
        return ended

    def list_for_user(self, db: Session, user_id: int) -> list[SessionInfo]:
        """A person's sessions, newest first."""
        infos = []
        for raw in self.client.smembers(self._user_key(user_id)):
            info = self._read(raw.decode() if isinstance(raw, bytes) else raw)
            if info is not None:
                infos.append(info)
        return sorted(infos, key=lambda i: i.created_at, reverse=True)

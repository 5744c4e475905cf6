"""ID token signing keys: kept in the database, rotated, published while they may still verify.

The newest active key signs. Rotation retires the active keys: they stop signing but stay in
the JWKS until `expires_at` (the grace period, longer than any ID token lives), so tokens signed
just before a rotation still verify. The private JWK is stored only encrypted (AES-GCM under a
key derived from the data key, `sealing_secret`) and is never served.

Issue 21: the sealing secret is the data key (CAMPUSID_DATA_KEY, required in production; the
fixed development key elsewhere), not the per-process random secret key a development server
makes when none is set: every worker and every machine opens the same key from the database,
so `serve --workers 2` signs with one key instead of each worker rotating in its own.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from campusid.config import Settings
from campusid.oidc.models import KeyState, SigningKey
from campusid.security import crypto

ALGORITHM = "RS256"
RSA_BITS = 2048
_HKDF_INFO = b"campusid oidc signing keys v1"


def sealing_secret(settings: Settings) -> str:
    """What the private keys are sealed under: the data key, the same in every worker."""
    return settings.data_key or crypto.DEVELOPMENT_KEY


def _cipher(secret_key: str) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        secret_key.encode()
    )
    return AESGCM(derived)


def _seal(secret_key: str, kid: str, private_jwk: dict[str, Any]) -> str:
    nonce = os.urandom(12)
    sealed = _cipher(secret_key).encrypt(nonce, json.dumps(private_jwk).encode(), kid.encode())
    return base64.b64encode(nonce + sealed).decode()


def _open(secret_key: str, key: SigningKey) -> RSAKey | None:
    """The private key, or None when it was sealed under another secret key."""
    raw = base64.b64decode(key.private_jwk_encrypted)
    try:
        plain = _cipher(secret_key).decrypt(raw[:12], raw[12:], key.kid.encode())
    except InvalidTag:
        return None
    return RSAKey.import_key(json.loads(plain))


def create_key(db: Session, *, secret_key: str, now: datetime) -> SigningKey:
    """A fresh active RS256 key pair."""
    private = RSAKey.generate_key(RSA_BITS, auto_kid=True)
    kid = str(private.kid)
    public = private.as_dict(private=False)
    public.update({"use": "sig", "alg": ALGORITHM, "kid": kid})
    row = SigningKey(
        kid=kid,
        algorithm=ALGORITHM,
        public_jwk=dict(public),
        private_jwk_encrypted=_seal(secret_key, kid, dict(private.as_dict(private=True))),
        state=KeyState.ACTIVE,
        created_at=now,
    )
    db.add(row)
    db.flush()
    return row


def rotate_keys(db: Session, *, secret_key: str, now: datetime, grace: timedelta) -> SigningKey:
    """Retire the active keys (still published for `grace`) and start signing with a new one."""
    for old in db.scalars(select(SigningKey).where(SigningKey.state == KeyState.ACTIVE)):
        old.state = KeyState.RETIRED
        old.retired_at = now
        old.expires_at = now + grace
    db.execute(delete(SigningKey).where(SigningKey.expires_at < now))
    return create_key(db, secret_key=secret_key, now=now)


def signing_key(
    db: Session, *, secret_key: str, now: datetime, grace: timedelta
) -> tuple[str, RSAKey]:
    """The kid and private key that sign now; made on first use.

    If the newest active key cannot be opened (the secret key changed, e.g. a development
    server restarted with a random one), the keys rotate: old tokens still verify.
    """
    row = db.scalar(
        select(SigningKey)
        .where(SigningKey.state == KeyState.ACTIVE)
        .order_by(SigningKey.created_at.desc(), SigningKey.id.desc())
        .limit(1)
    )
    private = _open(secret_key, row) if row is not None else None
    if row is None or private is None:
        row = rotate_keys(db, secret_key=secret_key, now=now, grace=grace)
        private = _open(secret_key, row)
    assert private is not None
    return row.kid, private


# The logout tokens of campusid.oidc.logout live this long (Back-Channel Logout 1.0).
LOGOUT_TOKEN_SECONDS = 120


def longest_token_seconds(settings: Settings) -> int:
    """The longest a token signed with these keys stays valid: ID tokens, logout tokens (access
    and refresh tokens are opaque, never signed)."""
    return max(settings.oidc_id_token_seconds, LOGOUT_TOKEN_SECONDS)


def retirement_cutoff(settings: Settings, now: datetime) -> datetime:
    """Retired keys retired before this have verified their last token: no token they signed
    is valid any more, and relying parties have had the grace period to refresh their JWKS."""
    return (
        now
        - timedelta(seconds=longest_token_seconds(settings))
        - timedelta(hours=settings.oidc_key_grace_hours)
    )


def purge_retired(db: Session, settings: Settings, now: datetime) -> int:
    """Delete the retired keys past `retirement_cutoff` and no longer published (`campusid db
    purge`); the active key is never touched. The number deleted."""
    result = db.execute(
        delete(SigningKey).where(
            SigningKey.state == KeyState.RETIRED,
            SigningKey.retired_at < retirement_cutoff(settings, now),
            or_(SigningKey.expires_at.is_(None), SigningKey.expires_at <= now),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def published_keys(db: Session, *, now: datetime) -> list[SigningKey]:
    """Keys that may still verify a token: active ones, and retired ones not yet expired."""
    return list(
        db.scalars(
            select(SigningKey)
            .where(
                or_(
                    SigningKey.state == KeyState.ACTIVE,
                    SigningKey.expires_at > now,
                )
            )
            .order_by(SigningKey.created_at.desc(), SigningKey.id.desc())
        )
    )


def jwks(db: Session, *, now: datetime) -> dict[str, Any]:
    """The public JSON Web Key Set (private members are never stored in `public_jwk`)."""
    return {"keys": [dict(key.public_jwk) for key in published_keys(db, now=now)]}


def public_key_set(db: Session, *, now: datetime) -> KeySet:
    """The published keys, for verifying our own ID tokens (id_token_hint at logout)."""
    return KeySet.import_key_set(jwks(db, now=now))  # type: ignore[arg-type]

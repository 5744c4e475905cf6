"""Password history (issue 18): a password the holder chooses is not one they had.

A forced change (请设置新密码, after a reset or on the school's default password), the holder's
own change and every recovery route refuse the current password, a default password of any of
the holder's schools and the last few earlier ones. Earlier passwords are kept only as their
argon2id hashes (the very hashes that were stored for sign-in), never the passwords.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from campusid.accounts.models import DefaultCredential, PasswordHistory, SchoolMembership, User
from campusid.context import Services
from campusid.i18n import N_

MSG_CURRENT = N_("新密码不能与当前密码相同")
MSG_DEFAULT = N_("新密码不能使用学校的默认密码，请设置一个只有您自己知道的密码")
MSG_EARLIER = N_("新密码不能与最近用过的密码相同，请换一个新密码")


def _current_hash(db: Session, user: User) -> str | None:
    if user.password_hash:
        return user.password_hash
    if user.default_credential_id:
        credential = db.get(DefaultCredential, user.default_credential_id)
        return credential.password_hash if credential else None
    return None


def _default_hashes(db: Session, user: User) -> list[str]:
    """The default passwords of every school the person belongs to (current and earlier ones)."""
    school_ids = select(SchoolMembership.school_id).where(SchoolMembership.current(user_id=user.id))
    return list(
        db.scalars(
            select(DefaultCredential.password_hash)
            .where(DefaultCredential.school_id.in_(school_ids))
            .order_by(DefaultCredential.id.desc())
        )
    )


def _earlier_hashes(db: Session, user: User, keep: int) -> list[str]:
    if keep <= 0:
        return []
    return list(
        db.scalars(
            select(PasswordHistory.password_hash)
            .where(PasswordHistory.user_id == user.id)
            .order_by(PasswordHistory.replaced_at.desc(), PasswordHistory.id.desc())
            .limit(keep)
        )
    )


def reuse_problems(db: Session, *, services: Services, user: User, password: str) -> list[str]:
    """Why the holder may not choose this password again (empty if it is new to them).

    Costs one argon2 check per stored hash (the current one, each school default, at most
    `password_history` earlier ones); it runs only on a password the policy already accepts.
    """
    hasher = services.hasher
    current = _current_hash(db, user)
    if current is not None and hasher.verify(current, password):
        return [MSG_CURRENT]
    if any(hasher.verify(h, password) for h in _default_hashes(db, user)):
        return [MSG_DEFAULT]
    keep = services.settings.password_history
    if any(hasher.verify(h, password) for h in _earlier_hashes(db, user, keep)):
        return [MSG_EARLIER]
    return []


def is_reused(db: Session, *, services: Services, user: User, password: str) -> bool:
    """Whether `reuse_problems` would refuse the password (for a password set by someone else)."""
    return bool(reuse_problems(db, services=services, user=user, password=password))


def remember(db: Session, *, services: Services, user: User, now: datetime) -> None:
    """Keep the password being replaced, if the holder chose it; drop what is past the limit.

    Called by `set_password` before it stores the new hash. A password the holder still had to
    change (a reset's temporary one, the school default) is not kept: it is refused as the
    current password at the forced change, and a default stays refused as a default.
    """
    keep = services.settings.password_history
    if user.password_hash and not user.must_change_password and keep > 0:
        db.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, replaced_at=now))
        db.flush()
    stale = list(
        db.scalars(
            select(PasswordHistory.id)
            .where(PasswordHistory.user_id == user.id)
            .order_by(PasswordHistory.replaced_at.desc(), PasswordHistory.id.desc())
            .offset(keep)
        )
    )
    if stale:
        db.execute(delete(PasswordHistory).where(PasswordHistory.id.in_(stale)))

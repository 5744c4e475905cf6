"""Two-step verification in tests (issue 19): a usable TOTP code for an account.

Staff sign in with a password and a code. The code comes from the factor's secret in the
database and the time of the app's injected clock (FixedClock, or the e2e server's clock file).
A clock that does not move makes the same time step come back, and the app refuses a replayed
step; so `usable_code` takes the first of the current step and the next one that is still
unused, and when both are used (a test signing the same person in a third time in one frozen
instant) it forgets the factor's last used step, in the database, before answering. That is the
one thing a test helper changes behind the app's back; the replay refusal itself is tested on
its own (tests/functional/accounts/test_two_step.py), with a clock that moves.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid.accounts import factors
from campusid.accounts.models import FactorKind, SecondFactor
from campusid.accounts.service import find_by_login


def totp_factor(db: Session, user_id: int) -> SecondFactor | None:
    """The person's (first) confirmed TOTP factor."""
    return db.scalar(
        select(SecondFactor)
        .where(
            SecondFactor.user_id == user_id,
            SecondFactor.kind == FactorKind.TOTP.value,
            SecondFactor.confirmed_at.is_not(None),
        )
        .order_by(SecondFactor.id)
        .limit(1)
    )


def usable_code(db: Session, login: str, now: datetime) -> str:
    """A code the app accepts now for the account (see the module's docstring); commit after."""
    user = find_by_login(db, login)
    assert user is not None, f"no account {login}"
    factor = totp_factor(db, user.id)
    assert factor is not None and factor.secret, f"{login} has no authenticator"
    current = factors.time_step(now)
    for step in (current, current + 1):
        if factor.last_used_step is None or step > factor.last_used_step:
            return factors.code_at(factor.secret, step)
    factor.last_used_step = None
    return factors.code_at(factor.secret, current)


def code_for_secret(secret: str, now: datetime) -> str:
    """The current code of a secret (an enrolment a test has just read off the page)."""
    return factors.code_at(secret, factors.time_step(now))

"""One-time codes against the real database: expiry, single use, attempts, resend, voiding."""

from __future__ import annotations

from sqlalchemy import select

from campusid.security import onetime
from campusid.security.onetime import CodeCheck, OneTimeCode

KEY = "test-key"


def _issue(db, clock, target="13800000001"):
    return onetime.issue(
        db, secret_key=KEY, now=clock.now(), purpose="recovery.phone", target=target
    )


def _check(db, clock, code, target="13800000001"):
    return onetime.check(
        db, secret_key=KEY, now=clock.now(), purpose="recovery.phone", target=target, code=code
    )


def test_code_is_six_digits_stored_only_as_a_keyed_hash(db, clock):
    issued = _issue(db, clock)
    assert issued.code is not None
    assert len(issued.code) == 6
    assert issued.code.isdigit()
    row = db.scalar(select(OneTimeCode))
    assert issued.code not in (row.code_digest, row.target_digest)
    assert "13800000001" not in row.target_digest


def test_single_use(db, clock):
    code = _issue(db, clock).code
    assert _check(db, clock, code) is CodeCheck.OK
    assert _check(db, clock, code) is CodeCheck.EXPIRED


def test_expires_after_ten_minutes(db, clock):
    code = _issue(db, clock).code
    clock.advance(minutes=10)
    assert _check(db, clock, code) is CodeCheck.EXPIRED


def test_five_wrong_tries_kill_it(db, clock):
    code = _issue(db, clock).code
    wrong = "000000" if code != "000000" else "111111"
    results = [_check(db, clock, wrong) for _ in range(5)]
    assert results[:4] == [CodeCheck.WRONG] * 4
    assert results[4] is CodeCheck.EXHAUSTED
    assert _check(db, clock, code) is CodeCheck.EXPIRED


def test_resend_waits_sixty_seconds_and_voids_the_old_code(db, clock):
    first = _issue(db, clock).code
    clock.advance(seconds=30)
    again = _issue(db, clock)
    assert again.code is None
    assert 29 <= again.wait_seconds <= 31
    clock.advance(seconds=31)
    second = _issue(db, clock).code
    assert second is not None
    if first != second:
        assert _check(db, clock, first) is CodeCheck.WRONG
    assert _check(db, clock, second) is CodeCheck.OK


def test_codes_are_bound_to_their_target(db, clock):
    code = _issue(db, clock, target="13800000001").code
    assert _check(db, clock, code, target="13800000002") is CodeCheck.EXPIRED

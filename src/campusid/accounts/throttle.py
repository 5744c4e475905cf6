"""Sign-in throttling without lockout-DoS: whose failures slow whom down (issue 18).

A guesser is slowed where it guesses, never the account holder elsewhere:
- failures count per **account + client pair**: the login as typed and the client's address
  (an IPv6 /64), or, from a browser the account signed in from before, the account and that
  browser. After `captcha_after` failures of a pair its next attempts need a solved captcha;
  after `delay_after` the pair waits a doubling time between attempts (refused, not slept).
  Keyed by the login as typed (not the account), the pair's captcha and wait cannot tell that a
  phone number and a username are the same person's.
- a browser the account signed in from before (`DEVICE_COOKIE`, signed) is **trusted**: other
  clients' failures do not touch it, neither the address's captcha nor the account's hard limit.
  Its own failures past `device_distrust_after` make it a stranger again (OWASP device cookies).
- **per address**, beyond `login.address` failures in its window, browsers unknown to the
  account need a captcha: a school behind one NAT address is slowed, not locked out.
- **per account**, a hard limit far higher (`login.account`, 100 a day by default): beyond it,
  strangers are refused with the usual words, as for a wrong password; a known browser still
  signs in, and 找回密码 (route 3) stays open (a new password clears the count).
- 修改密码 (`check_current_password`): wrong current passwords count for the account like the
  sign-in's; a few in one session end that session (a stolen session cannot keep guessing).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from campusid.accounts.models import User
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import ClientInfo, Outcome, Route
from campusid.context import Services
from campusid.i18n import N_
from campusid.identifiers import login_lookup_keys
from campusid.security.throttle import DEVICE_COOKIE, Device, address_key

__all__ = ["CAPTCHA_COOKIE", "DEVICE_COOKIE"]

CAPTCHA_COOKIE = "campusid_login_captcha"
CAPTCHA_TTL_SECONDS = 600

CAPTCHA_MESSAGE = N_("请输入图片验证码。")
CAPTCHA_WRONG_MESSAGE = N_("图片验证码不正确，请重新输入。")
WRONG_CURRENT_PASSWORD = N_("当前密码不正确")
CHANGE_SIGNED_OUT = N_("当前密码多次输入错误，为保护账号已退出登录，请重新登录。")


@dataclass(frozen=True)
class LoginCaptcha:
    """The captcha the sign-in asks for, registered by the domain that draws it (recovery).

    `new(services, binding)` gives a fresh image for a challenge: (PNG, answer digest, expiry);
    `check(services, binding, digest, expires, answer)` says whether the answer solves it.
    """

    new: Callable[[Services, str], tuple[bytes, str, datetime]]
    check: Callable[[Services, str, str, datetime, str], bool]


_captcha: list[LoginCaptcha] = []


def register_captcha(captcha: LoginCaptcha) -> None:
    """Install the sign-in's captcha (campusid.domains; the latest registration wins)."""
    _captcha[:] = [captcha]


@dataclass(frozen=True)
class Attempt:
    """One sign-in attempt as the throttle sees it, before the password is checked."""

    pair: str  # the key its failures count under
    trusted: bool  # from a browser the account signed in from before, not distrusted
    wait: int  # seconds before an attempt is accepted (0: now)
    captcha: bool  # a solved captcha must come with it
    hard_limited: bool  # the account refuses strangers for now (same words as a wrong password)


def wait_message(seconds: int) -> str:
    """What the login page says while the pair waits."""
    return N_("尝试过于频繁，请 %(seconds)s 秒后再试。", seconds=seconds)


def _now(services: Services) -> float:
    return services.clock.now().timestamp()


def login_subject(login: str) -> str:
    """The login as typed, in its canonical form (one key per identifier, not per account)."""
    keys = login_lookup_keys(login)
    if keys:
        return "|".join(f"{column}={value}" for column, value in sorted(keys.items()))
    return "raw=" + login.strip().casefold()[:64]


def read_device(services: Services, cookie: str | None) -> Device | None:
    """The browser's device cookie, if it has a well-formed one."""
    return services.throttle.devices.read(cookie)


def _knows(services: Services, device: Device | None, user_id: int | None, version: int) -> bool:
    if user_id is None:
        return False
    return services.throttle.devices.knows(device, user_id=user_id, password_version=version)


def _address_needs_captcha(services: Services, client: ClientInfo) -> bool:
    return services.limits["login.address"].exceeded(address_key(client.address))


def assess(
    services: Services,
    *,
    login: str,
    user_id: int | None,
    password_version: int | None,
    client: ClientInfo,
    device: Device | None,
) -> Attempt:
    """What this attempt must wait for or bring, from the counts so far."""
    now = _now(services)
    throttle = services.throttle
    known = _knows(services, device, user_id, password_version or 0)
    if known:
        assert device is not None
        pair = f"device:{user_id}:{device.id}"
    else:
        pair = f"pair:{login_subject(login)}:{address_key(client.address)}"
    failures = throttle.store.get(pair, now=now)
    trusted = known and failures.count < throttle.device_distrust_after
    captcha = throttle.policy.needs_captcha(failures) or (
        not trusted and _address_needs_captcha(services, client)
    )
    hard = (
        not trusted
        and user_id is not None
        and services.limits["login.account"].exceeded(str(user_id))
    )
    return Attempt(
        pair=pair,
        trusted=trusted,
        wait=throttle.policy.wait(failures, now),
        captcha=captcha,
        hard_limited=hard,
    )


def record_failure(
    services: Services, attempt: Attempt, *, user_id: int | None, client: ClientInfo
) -> Attempt:
    """Count a failed attempt (pair, account, address); returns what the next one faces."""
    throttle = services.throttle
    now = _now(services)
    failures = throttle.store.fail(attempt.pair, now=now)
    if user_id is not None:
        services.limits["login.account"].hit(str(user_id))
    if not attempt.trusted:
        services.limits["login.address"].hit(address_key(client.address))
    trusted = attempt.trusted and failures.count < throttle.device_distrust_after
    return Attempt(
        pair=attempt.pair,
        trusted=trusted,
        wait=throttle.policy.wait(failures, now),
        captcha=throttle.policy.needs_captcha(failures)
        or (not trusted and _address_needs_captcha(services, client)),
        hard_limited=attempt.hard_limited,
    )


def record_success(
    services: Services,
    attempt: Attempt,
    *,
    user_id: int,
    password_version: int,
    device: Device | None,
) -> str:
    """Forget the pair's and the account's failures; returns the device cookie to set."""
    services.throttle.store.clear(attempt.pair)
    services.limits["login.account"].clear(str(user_id))
    return services.throttle.devices.remember(
        device, user_id=user_id, password_version=password_version
    )


def device_cookie_for(services: Services, cookie: str | None, user: User) -> str:
    """The device cookie after the account's password changed on this browser (a new tag)."""
    return services.throttle.devices.remember(
        read_device(services, cookie), user_id=user.id, password_version=user.password_version
    )


def captcha_on_arrival(
    services: Services, *, client: ClientInfo, device_cookie: str | None
) -> bool:
    """Whether the empty login page shows the captcha: the address is over its limit and the
    browser knows no account (a browser that knows one may not need it; the answer says)."""
    device = read_device(services, device_cookie)
    return (device is None or not device.tags) and _address_needs_captcha(services, client)


def _binding(challenge: str) -> str:
    return hashlib.sha256(challenge.encode()).hexdigest()


def new_captcha(services: Services) -> tuple[str, bytes]:
    """A new login captcha: the challenge id for the browser's cookie, and its image."""
    if not _captcha:
        raise RuntimeError("no captcha registered (campusid.domains.install)")
    challenge = secrets.token_urlsafe(16)
    png, digest, expires = _captcha[0].new(services, _binding(challenge))
    services.throttle.store.put(
        f"captcha:{challenge}",
        json.dumps({"digest": digest, "expires": expires.isoformat()}),
        now=_now(services),
        ttl=CAPTCHA_TTL_SECONDS,
    )
    return challenge, png


def solve_captcha(services: Services, challenge: str | None, answer: str) -> bool:
    """Whether the answer solves the browser's current image; the image is used up either way."""
    if not challenge or not _captcha or len(challenge) > 64:
        return False
    raw = services.throttle.store.take(f"captcha:{challenge}", now=_now(services))
    if raw is None:
        return False
    state = json.loads(raw)
    return _captcha[0].check(
        services,
        _binding(challenge),
        state["digest"],
        datetime.fromisoformat(state["expires"]),
        answer,
    )


def captcha_state_for_tests(services: Services, challenge: str) -> tuple[str, str, datetime] | None:
    """Test hook: the binding, digest and expiry of a challenge, left in place."""
    now = _now(services)
    raw = services.throttle.store.take(f"captcha:{challenge}", now=now)
    if raw is None:
        return None
    services.throttle.store.put(f"captcha:{challenge}", raw, now=now, ttl=CAPTCHA_TTL_SECONDS)
    state = json.loads(raw)
    return _binding(challenge), state["digest"], datetime.fromisoformat(state["expires"])


def _change_key(user: User, session_token: str | None) -> str:
    session = hashlib.sha256((session_token or "").encode()).hexdigest()
    return f"change:{user.id}:{session}"


def check_current_password(
    db: Session,
    *,
    services: Services,
    user: User,
    password: str,
    stored_hash: str | None,
    client: ClientInfo,
    session_token: str | None,
    action: AuditAction = AuditAction.PASSWORD_CHANGED,
) -> str | None:
    """修改密码's current password (and 账号安全's): None when right, else what to say.

    A wrong one counts for the account like a failed sign-in (its hard limit) and for this
    session; the session's `password_change_tries`-th ends it. Audited.
    """
    throttle = services.throttle
    now = services.clock.now()
    key = _change_key(user, session_token)
    if throttle.store.get(key, now=now.timestamp()).count >= throttle.password_change_tries:
        services.hasher.burn(password)
        if session_token:
            services.sessions.delete(db, session_token)
        return CHANGE_SIGNED_OUT
    if services.hasher.verify(stored_hash, password):
        throttle.store.clear(key)
        return None
    failures = throttle.store.fail(key, now=now.timestamp())
    services.limits["login.account"].hit(str(user.id))
    ended = failures.count >= throttle.password_change_tries
    if ended and session_token:
        services.sessions.delete(db, session_token)
    audit.record(
        db,
        now=now,
        action=action,
        outcome=Outcome.FAILURE,
        route=Route.OWN,
        actor_id=user.id,
        target_user_id=user.id,
        client=client,
        detail={"reason": "password_tries" if ended else "bad_password"},
    )
    return CHANGE_SIGNED_OUT if ended else WRONG_CURRENT_PASSWORD

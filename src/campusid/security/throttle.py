"""Failure counts with growing delays, and signed device cookies: the parts of sign-in
throttling that know no domain (OWASP ASVS 5 V6.3, NIST SP 800-63B §3.2.2, OWASP "device
cookies"). The rules that use them are in `campusid.accounts.throttle`.

- `FailureStore` keeps, per key (an account + client pair), how many failures and when the
  last one was; in Redis when configured, so every app process sees the same counts, else in
  the process's memory. Times come from the injected clock: tests move it instead of sleeping.
  It also keeps short-lived values (the answer of a login captcha), taken at most once.
- `ThrottlePolicy` turns a failure count into the captcha step-up and the wait before the next
  attempt is accepted. The wait is enforced by refusing attempts before it ends, never by
  holding a request (a sleeping server is itself a denial of service).
- `DeviceCookies` signs the list of accounts that signed in from a browser before: a tag per
  account, an HMAC of the browser's random id, the account and its password version, so a tag
  can neither be forged nor moved to another browser, and a password change retires them all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Protocol

DEVICE_COOKIE = "campusid_device"
_DEVICE_VERSION = "1"
_TAG_BYTES = 12
_MAX_DEVICE_ACCOUNTS = 8  # a family computer: parents and children; the oldest tag drops out


@dataclass(frozen=True)
class Failures:
    """The failures counted under one key: how many, and when the last was (epoch seconds)."""

    count: int = 0
    last: float = 0.0


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures of a pair before the captcha and before waits, and how long these are."""

    captcha_after: int = 3
    delay_after: int = 5
    delay_base_seconds: int = 15
    delay_max_seconds: int = 120
    memory_seconds: int = 86400  # a pair's failures are forgotten this long after its last one

    def delay_for(self, failures: int) -> int:
        """The wait (seconds) after the last of `failures` failures: doubling, capped."""
        if failures < self.delay_after:
            return 0
        steps = min(failures - self.delay_after, 30)
        return int(min(self.delay_base_seconds * (2**steps), self.delay_max_seconds))

    def wait(self, failures: Failures, now: float) -> int:
        """Seconds still to wait before the next attempt is accepted (0: accepted now)."""
        if failures.count == 0:
            return 0
        left = failures.last + self.delay_for(failures.count) - now
        return max(0, int(left + 0.999))

    def needs_captcha(self, failures: Failures) -> bool:
        """Whether the next attempt must come with a solved captcha."""
        return failures.count >= self.captcha_after


class FailureStore(Protocol):
    """Failure counts per key, and single-use short-lived values."""

    def get(self, key: str, *, now: float) -> Failures:
        """The failures counted under the key (none when forgotten)."""
        ...

    def fail(self, key: str, *, now: float) -> Failures:
        """Count one failure now; returns the new state."""
        ...

    def clear(self, key: str) -> None:
        """Forget the key's failures (after a success)."""
        ...

    def put(self, key: str, value: str, *, now: float, ttl: int) -> None:
        """Keep a value for `ttl` seconds."""
        ...

    def take(self, key: str, *, now: float) -> str | None:
        """The value, removed: a second take of the same key gets None."""
        ...


class _Keys:
    """Store keys are keyed digests: phone numbers or logins never reach the store."""

    def __init__(self, secret: str, prefix: str) -> None:
        self._secret = hashlib.sha256(b"throttle:" + secret.encode()).digest()
        self.prefix = prefix

    def key(self, kind: str, key: str) -> str:
        digest = hashlib.blake2b(key.encode(), key=self._secret, digest_size=16).hexdigest()
        return f"{self.prefix}:throttle:{kind}:{digest}"


class MemoryFailureStore:
    """The embedded default: counts in this process's memory (one app process)."""

    _PRUNE_AT = 50_000

    def __init__(self, *, secret: str, memory_seconds: int) -> None:
        self._keys = _Keys(secret, "campusid")
        self._memory = memory_seconds
        self._failures: dict[str, Failures] = {}
        self._values: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def _fresh(self, failures: Failures | None, now: float) -> Failures:
        if failures is None or now - failures.last >= self._memory:
            return Failures()
        return failures

    def get(self, key: str, *, now: float) -> Failures:
        """The failures counted under the key (none when forgotten)."""
        with self._lock:
            return self._fresh(self._failures.get(self._keys.key("f", key)), now)

    def fail(self, key: str, *, now: float) -> Failures:
        """Count one failure now; returns the new state."""
        name = self._keys.key("f", key)
        with self._lock:
            before = self._fresh(self._failures.get(name), now)
            after = Failures(before.count + 1, max(now, before.last))
            self._failures[name] = after
            if len(self._failures) > self._PRUNE_AT:
                self._prune(now)
            return after

    def _prune(self, now: float) -> None:
        stale = [k for k, v in self._failures.items() if now - v.last >= self._memory]
        for k in stale:
            del self._failures[k]
        gone = [k for k, (_, until) in self._values.items() if until <= now]
        for k in gone:
            del self._values[k]

    def clear(self, key: str) -> None:
        """Forget the key's failures (after a success)."""
        with self._lock:
            self._failures.pop(self._keys.key("f", key), None)

    def put(self, key: str, value: str, *, now: float, ttl: int) -> None:
        """Keep a value for `ttl` seconds."""
        with self._lock:
            self._values[self._keys.key("v", key)] = (value, now + ttl)
            if len(self._values) > self._PRUNE_AT:
                self._prune(now)

    def take(self, key: str, *, now: float) -> str | None:
        """The value, removed: a second take of the same key gets None."""
        with self._lock:
            found = self._values.pop(self._keys.key("v", key), None)
        if found is None or found[1] <= now:
            return None
        return found[0]

    def reset(self) -> None:
        """Forget everything (tests)."""
        with self._lock:
            self._failures.clear()
            self._values.clear()


class RedisFailureStore:
    """Counts in Redis, shared by every app process: a hash (count, last) per key."""

    def __init__(self, client: Any, *, secret: str, prefix: str, memory_seconds: int) -> None:
        self.client = client
        self._keys = _Keys(secret, prefix)
        self._memory = memory_seconds

    def _read(self, name: str) -> Failures:
        raw = self.client.hgetall(name)
        if not raw:
            return Failures()
        return Failures(int(raw.get(b"count", 0)), float(raw.get(b"last", 0.0)))

    def get(self, key: str, *, now: float) -> Failures:
        """The failures counted under the key (none when forgotten)."""
        found = self._read(self._keys.key("f", key))
        return Failures() if now - found.last >= self._memory else found

    def fail(self, key: str, *, now: float) -> Failures:
        """Count one failure now; returns the new state."""
        name = self._keys.key("f", key)
        if self.get(key, now=now).count == 0:
            self.client.delete(name)  # forgotten by the injected clock: start again
        pipe = self.client.pipeline()
        pipe.hincrby(name, "count", 1)
        pipe.hset(name, "last", repr(now))
        pipe.expire(name, self._memory)  # Redis drops it too (by its own clock)
        count, _, _ = pipe.execute()
        return Failures(int(count), now)

    def clear(self, key: str) -> None:
        """Forget the key's failures (after a success)."""
        self.client.delete(self._keys.key("f", key))

    def put(self, key: str, value: str, *, now: float, ttl: int) -> None:
        """Keep a value for `ttl` seconds."""
        self.client.set(self._keys.key("v", key), f"{now + ttl!r}|{value}", ex=ttl)

    def take(self, key: str, *, now: float) -> str | None:
        """The value, removed: a second take of the same key gets None."""
        raw = self.client.getdel(self._keys.key("v", key))
        if raw is None:
            return None
        until, _, value = raw.decode().partition("|")
        return value if float(until) > now else None


def address_key(address: str | None) -> str:
    """The client as the throttle counts it: an IPv4 address, or an IPv6 /64 (one subscriber)."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{parsed}/64", strict=False))
    return str(parsed)


@dataclass(frozen=True)
class Device:
    """A browser's device cookie, read: its random id and its account tags."""

    id: str
    tags: tuple[str, ...]


class DeviceCookies:
    """Reads and writes the device cookie (OWASP "device cookies"; see the module docstring)."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"device-cookie:" + secret.encode()).digest()

    def _tag(self, device_id: str, user_id: int, password_version: int) -> str:
        mac = hmac.new(
            self._key, f"{device_id}:{user_id}:{password_version}".encode(), hashlib.sha256
        ).digest()[:_TAG_BYTES]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def read(self, value: str | None) -> Device | None:
        """The device the cookie names, or None when it is missing or malformed."""
        if not value or len(value) > 512:
            return None
        parts = value.split(".")
        if len(parts) < 2 or parts[0] != _DEVICE_VERSION or not 16 <= len(parts[1]) <= 64:
            return None
        if not all(p.replace("-", "").replace("_", "").isalnum() for p in parts[1:]):
            return None
        return Device(parts[1], tuple(parts[2 : 2 + _MAX_DEVICE_ACCOUNTS]))

    def knows(self, device: Device | None, *, user_id: int, password_version: int) -> bool:
        """Whether the account signed in from this browser since its last password change."""
        if device is None:
            return False
        expected = self._tag(device.id, user_id, password_version)
        return any(hmac.compare_digest(expected, tag) for tag in device.tags)

    def remember(self, device: Device | None, *, user_id: int, password_version: int) -> str:
        """The cookie value with this account's tag first (a new browser id if there is none)."""
        device_id = device.id if device is not None else secrets.token_urlsafe(16)
        tag = self._tag(device_id, user_id, password_version)
        others = [t for t in (device.tags if device else ()) if t != tag]
        tags = [tag, *others][:_MAX_DEVICE_ACCOUNTS]
        return ".".join([_DEVICE_VERSION, device_id, *tags])


@dataclass
class Throttle:
    """What the sign-in rules are built on: the store, the policy and the device cookies."""

    store: FailureStore
    policy: ThrottlePolicy
    devices: DeviceCookies
    device_distrust_after: int = 10
    device_cookie_days: int = 365
    password_change_tries: int = 3

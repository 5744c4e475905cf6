"""Named rate limiters over the `limits` storages (memory, or Redis when configured).

The window is computed from the injected clock, so tests move time instead of sleeping: each
key is counted in a fixed window bucket `floor(now / window)`, kept by the storage.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from limits.storage import Storage, storage_from_string

from campusid.clock import Clock


@dataclass
class Limit:
    """At most `count` hits per `window_seconds`."""

    count: int
    window_seconds: int


class RateLimiter:
    """A named limiter: `login.account`, `login.address`, `recovery.phone`, ..."""

    def __init__(
        self,
        name: str,
        limit: Limit,
        storage: Storage,
        clock: Clock,
        prefix: str = "campusid",
        secret: bytes = b"",
    ) -> None:
        self.name = name
        self.secret = secret[:64]
        self.prefix = prefix
        self.limit = limit
        self._storage = storage
        self._clock = clock

    def _bucket(self) -> int:
        return int(self._clock.now().timestamp()) // self.limit.window_seconds

    def _key(self, key: str) -> str:
        # Keys are often phone or ID numbers: the store only ever sees a keyed digest of them.
        digest = hashlib.blake2b(key.encode(), key=self.secret, digest_size=16).hexdigest()
        return f"{self.prefix}:{self.name}:{digest}:{self._bucket()}"

    def hit(self, key: str) -> bool:
        """Count one hit; False when this hit goes over the limit."""
        count = self._storage.incr(self._key(key), self.limit.window_seconds * 2)
        return count <= self.limit.count

    def count(self, key: str) -> int:
        """Hits counted so far in the current window."""
        return int(self._storage.get(self._key(key)))

    def exceeded(self, key: str) -> bool:
        """Whether the key has used up its hits in the current window."""
        return self.count(key) >= self.limit.count

    def clear(self, key: str) -> None:
        """Forget the key's hits (after a successful sign-in or a reset)."""
        self._storage.clear(self._key(key))


class RateLimits:
    """The registry of the app's named limiters, sharing one storage."""

    def __init__(
        self,
        storage_uri: str,
        clock: Clock,
        prefix: str = "campusid",
        secret: str = "",
    ) -> None:
        self.prefix = prefix
        self.secret = hashlib.sha256(secret.encode()).digest()
        storage = storage_from_string(storage_uri)
        assert isinstance(storage, Storage), "a synchronous storage is needed"
        self.storage = storage
        self.clock = clock
        self._limiters: dict[str, RateLimiter] = {}

    def define(self, name: str, count: int, window_seconds: int) -> RateLimiter:
        """Create (or replace) a named limiter."""
        limiter = RateLimiter(
            name,
            Limit(count, window_seconds),
            self.storage,
            self.clock,
            self.prefix,
            self.secret,
        )
        self._limiters[name] = limiter
        return limiter

    def named(self, name: str, count: int, window_seconds: int) -> RateLimiter:
        """The named limiter, defined with these numbers on first use (domains call this)."""
        if name not in self._limiters:
            return self.define(name, count, window_seconds)
        return self._limiters[name]

    def __getitem__(self, name: str) -> RateLimiter:
        return self._limiters[name]

    def reset(self) -> None:
        """Forget every count (tests)."""
        self.storage.reset()

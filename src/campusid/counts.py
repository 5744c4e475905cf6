"""Totals remembered for a short while: a count that visits a whole region, kept so that the
next request asking the same question does not pay for it again (issue 22).

OneRoster's `X-Total-Count` is the first user (`oneroster.service.Roster.users_page`): a page
of a collection is read through an index and stops after its rows; its total has to visit every
member of the granted schools (about 12 seconds for a 1,000,000-student region). An
application syncing a roster walks the same collection page by page, and each page would pay
for the same total again. So a total is kept, per client, granted schools, collection and
filter, for `oneroster_count_seconds` (60 by default; 0 counts every call): the walk pays for
it once. In Redis when configured (whichever process serves the next page finds it), in this
process's memory otherwise.

A remembered total may be behind the roster by up to that long, as an offset page is behind
anything that changed while the walk ran. The `next` link does not depend on it: a full page
always links to the next one (`oneroster.api._links`), so a roster that grew during the walk
is still walked to its end.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any, Protocol

from campusid.clock import Clock


class CountCache(Protocol):
    def get(self, key: str) -> int | None:
        """The total remembered under the key, if it is still fresh."""

    def put(self, key: str, total: int) -> None:
        """Remember a total just counted."""


def count_key(*parts: object) -> str:
    """A short key naming what was counted (its parts are ids, a role and the filter text)."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


class NoCountCache:
    """Every call counts (`oneroster_count_seconds = 0`)."""

    def get(self, key: str) -> int | None:
        return None

    def put(self, key: str, total: int) -> None:
        return None


class MemoryCountCache:
    """The embedded default: totals in this process's memory, aged by the injected clock."""

    _PRUNE_AT = 10_000

    def __init__(self, clock: Clock, ttl_seconds: int) -> None:
        self._clock = clock
        self._ttl = ttl_seconds
        self._entries: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def get(self, key: str) -> int | None:
        with self._lock:
            found = self._entries.get(key)
        if found is None or self._now() - found[1] >= self._ttl:
            return None
        return found[0]

    def put(self, key: str, total: int) -> None:
        now = self._now()
        with self._lock:
            self._entries[key] = (total, now)
            if len(self._entries) > self._PRUNE_AT:
                self._entries = {k: v for k, v in self._entries.items() if now - v[1] < self._ttl}


class RedisCountCache:
    """Totals in Redis, expiring by Redis's own clock."""

    def __init__(self, client: Any, *, prefix: str, ttl_seconds: int) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl = ttl_seconds

    def _name(self, key: str) -> str:
        return f"{self._prefix}:oneroster-count:{key}"

    def get(self, key: str) -> int | None:
        found = self._client.get(self._name(key))
        return None if found is None else int(found)

    def put(self, key: str, total: int) -> None:
        self._client.set(self._name(key), total, ex=self._ttl)


def make_count_cache(clock: Clock, ttl_seconds: int, redis_client: Any, prefix: str) -> CountCache:
    """The cache the settings ask for."""
    if ttl_seconds <= 0:
        return NoCountCache()
    if redis_client is not None:
        return RedisCountCache(redis_client, prefix=prefix, ttl_seconds=ttl_seconds)
    return MemoryCountCache(clock, ttl_seconds)

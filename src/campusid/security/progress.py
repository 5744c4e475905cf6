"""A progress board: how far a long request (a roster import) has got, for its page to poll.

Each entry is keyed by a random key the page generates and is bound to who started the work
(the administrator and the school), so nobody else can read it. In Redis when configured (any
app process may serve the poll), in this process's memory otherwise. Entries are forgotten
after `ttl_seconds`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def valid_key(key: str) -> bool:
    """A key the page may choose: 16 to 64 URL-safe characters."""
    return bool(KEY_PATTERN.fullmatch(key))


@dataclass(frozen=True)
class State:
    """How far the work has got: `done` of `total` in `phase`."""

    done: int
    total: int
    phase: str

    def as_json(self) -> dict[str, Any]:
        return {"done": self.done, "total": self.total, "phase": self.phase}


class ProgressBoard(Protocol):
    def report(self, key: str, owner: str, state: State) -> None:
        """Record the state under the key for its owner (a key held by another is left)."""

    def read(self, key: str, owner: str) -> State | None:
        """The state under the key, if the owner started it."""


class MemoryProgressBoard:
    """The embedded default: entries in this process's memory (one app process)."""

    _PRUNE_AT = 10_000

    def __init__(self, *, ttl_seconds: int = 3600, clock: Any = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, tuple[str, State, float]] = {}
        self._lock = threading.Lock()

    def report(self, key: str, owner: str, state: State) -> None:
        now = self._clock()
        with self._lock:
            found = self._entries.get(key)
            if found and found[0] != owner and now - found[2] < self._ttl:
                return
            self._entries[key] = (owner, state, now)
            if len(self._entries) > self._PRUNE_AT:
                self._entries = {k: v for k, v in self._entries.items() if now - v[2] < self._ttl}

    def read(self, key: str, owner: str) -> State | None:
        with self._lock:
            found = self._entries.get(key)
        if found is None or found[0] != owner or self._clock() - found[2] >= self._ttl:
            return None
        return found[1]


class RedisProgressBoard:
    """Entries in Redis, so whichever app process serves the poll sees the work's progress."""

    def __init__(self, client: Any, *, prefix: str, ttl_seconds: int = 3600) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl = ttl_seconds

    def _name(self, key: str) -> str:
        return f"{self._prefix}:progress:{key}"

    def report(self, key: str, owner: str, state: State) -> None:
        name = self._name(key)
        held = self._client.hget(name, "owner")
        if held is not None and held.decode() != owner:
            return
        self._client.hset(name, mapping={"owner": owner, "state": json.dumps(state.as_json())})
        self._client.expire(name, self._ttl)

    def read(self, key: str, owner: str) -> State | None:
        found = self._client.hgetall(self._name(key))
        if not found or found.get(b"owner", b"").decode() != owner:
            return None
        value = json.loads(found[b"state"])
        return State(done=int(value["done"]), total=int(value["total"]), phase=str(value["phase"]))

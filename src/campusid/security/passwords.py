"""Password hashing: argon2id at OWASP's parameters, with a dummy check for unknown accounts."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
TIME_COST = 2
MEMORY_COST_KIB = 19 * 1024
PARALLELISM = 1


class Hasher:
    """argon2id hashing with a count of verifications (so tests can prove equal cost)."""

    def __init__(
        self,
        time_cost: int = TIME_COST,
        memory_cost: int = MEMORY_COST_KIB,
        parallelism: int = PARALLELISM,
        max_concurrent: int | None = None,
    ) -> None:
        self._ph = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            type=Type.ID,
        )
        self._lock = threading.Lock()
        # Each argon2 call takes 19 MiB: at most this many at once (one per core by default),
        # so a flood of sign-ins queues instead of growing memory with the thread pool. They run
        # on these few threads only: the C allocator keeps a freed 19 MiB block in the arena of
        # the thread that used it, so checks spread over the web server's 40 threads would
        # leave up to 40 x 19 MiB resident after a flood; on a few threads it stays a few.
        self._pool = ThreadPoolExecutor(
            max_workers=max_concurrent or os.cpu_count() or 2, thread_name_prefix="argon2"
        )
        self.verify_calls = 0
        # Verified against when the account is unknown, so the answer takes the same time.
        self._dummy_hash = self._ph.hash("campusid-dummy-password")

    def hash(self, password: str) -> str:
        """A new argon2id hash of the password."""
        return self._pool.submit(self._ph.hash, password).result()

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether the password matches; a missing hash costs a dummy verification."""
        with self._lock:
            self.verify_calls += 1
        try:
            matched = self._pool.submit(
                self._ph.verify, password_hash or self._dummy_hash, password
            ).result()
            return matched and bool(password_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def burn(self, password: str) -> None:
        """Spend one verification's time and say nothing: used for refused sign-ins."""
        self.verify(None, password)

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other parameters than today's."""
        try:
            return self._ph.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

"""Where a sign-in's time goes beside the password hash (issue 25).

Signs the demo's pupils in through the real form (GET /login, then POST /login) in this
process, with argon2id parameters so small that the hash costs microseconds: what remains is
everything around it — the form, CSRF, the throttle, the account lookup, the session, the audit
row, the response. Sync endpoints and dependencies run inline on the event loop's thread (not
in the thread pool), so that cProfile sees all of it. Prints the milliseconds a sign-in (GET +
POST, and the POST alone) and the functions that take them.

    .venv/bin/python bench/profile_sign_in.py [--rounds 300] [--pg postgresql+psycopg://...]

The database is a fresh SQLite file (or the PostgreSQL database named, recreated), migrated,
with the demo loaded.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import fastapi.dependencies.utils
import fastapi.routing
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from campusid import demo, migrate
from campusid.app import create_app
from campusid.config import Settings
from campusid.context import build_services
from campusid.db import transaction
from campusid.security.passwords import Hasher

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PUPILS = ("lixiaoyao", "heshuhuan", "linyiping", "zhoubotong")


async def _inline(func: Any, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def _prepare(url: str) -> Settings:
    if url.startswith("postgresql"):
        import psycopg

        name = url.rsplit("/", 1)[1]
        admin = url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0]
        with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
    migrate.upgrade(url)
    settings = Settings(
        database_url=url,
        log_json=False,
        redis_url=None,
        # A sign-in each round for the same few pupils from one address: the limits of a
        # deployment would (rightly) stop this loop; the throttle's checks still run.
        login_account_limit=10**9,
        login_address_limit=10**9,
        outbox_thread=False,
    )
    services = build_services(settings, hasher=_tiny())
    with transaction(services.session_factory) as db:
        demo.load(db, services)
    return settings


def print_profile(profile: cProfile.Profile, pattern: str, top: int) -> None:
    """The `top` functions by cumulative time among those whose path matches `pattern`, then
    the `top` by their own time."""
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative").print_stats(pattern, top)
    stats.sort_stats("tottime").print_stats(top)


def _tiny() -> Hasher:
    return Hasher(time_cost=1, memory_cost=8, parallelism=1)


async def _sign_ins(client: httpx.AsyncClient, rounds: int) -> tuple[list[float], list[float]]:
    whole, posts = [], []
    for n in range(rounds):
        client.cookies.clear()
        started = time.perf_counter()
        page = await client.get("/login")
        token = TOKEN.search(page.text)
        assert token, page.text[:300]
        posted = time.perf_counter()
        answer = await client.post(
            "/login",
            data={
                "login": PUPILS[n % len(PUPILS)],
                "password": demo.DEMO_PASSWORD,
                "csrf_token": token.group(1),
            },
        )
        done = time.perf_counter()
        assert answer.status_code == 303, answer.text[:300]
        whole.append((done - started) * 1000)
        posts.append((done - posted) * 1000)
    return whole, posts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--pg", default="")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="campusid-profile-")
    url = args.pg or f"sqlite:///{folder}/profile.db"
    settings = _prepare(url)
    services = build_services(settings, hasher=_tiny())
    app = create_app(settings, services)
    fastapi.routing.run_in_threadpool = _inline  # type: ignore[attr-defined]
    fastapi.dependencies.utils.run_in_threadpool = _inline  # type: ignore[attr-defined]

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            await _sign_ins(c, 20)  # warm: caches, prepared statements
            whole, posts = await _sign_ins(c, args.rounds)
            whole.sort()
            posts.sort()
            mid = len(whole) // 2
            print(
                f"{args.rounds} sign-ins ({'PostgreSQL' if args.pg else 'SQLite'}): "
                f"GET /login + POST /login median {whole[mid]:.2f} ms, the POST alone "
                f"{posts[mid]:.2f} ms (argon2id with m=8 KiB, t=1: microseconds)"
            )
            profile = cProfile.Profile()
            profile.enable()
            await _sign_ins(c, args.rounds)
            profile.disable()
            print_profile(profile, "campusid", args.top)

    asyncio.run(run())


if __name__ == "__main__":
    main()

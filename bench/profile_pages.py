"""Where a console page's time goes (issue 25): the pages of benchmark 4, in this process.

Loads the demo into a fresh database, fills the class and the school as `class_pages.py` does
(60 students, 60 teachers, `--events` audit events), signs the homeroom teacher and the school
administrator in through the real forms (the administrator's second step answered with the demo
authenticator's code), then requests each page `--rounds` times in this process (no HTTP
server, no other clients) and prints the median milliseconds of each, its ratio of time to
`GET /me`'s, the lightest signed-in page (the inverse of benchmark 4's rate ratio, one request
at a time), and the median time its template took to render. `--statements` lists each page's
SQL statements with the time each took to execute; `--profile PATH` runs cProfile over that
page's requests and prints the functions that take the time. Sync endpoints and dependencies
run inline on the event loop's thread (not in the thread pool), so that cProfile sees them.

    .venv/bin/python bench/profile_pages.py [--rounds 200] [--profile /school/1/teachers] [--pg URL]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastapi.dependencies.utils
import fastapi.routing
import httpx
import jinja2
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))

from class_pages import PASSWORD, SCHOOL_ADMIN, TEACHER, fill_class, fill_console
from profile_sign_in import _prepare, _tiny, print_profile

from campusid.accounts import factors
from campusid.app import create_app
from campusid.context import build_services
from campusid.demo import demo_totp_secret


async def _inline(func: Any, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


async def _sign_in(client: httpx.AsyncClient, login: str) -> None:
    await client.get("/login")
    token = client.cookies["campusid_csrf"]
    answer = await client.post(
        "/login", data={"login": login, "password": PASSWORD, "csrf_token": token}
    )
    if answer.headers.get("location") == "/login/two-step":
        code = factors.code_at(demo_totp_secret(login), factors.time_step(datetime.now(UTC)))
        answer = await client.post("/login/two-step", data={"code": code, "csrf_token": token})
    if answer.status_code != 303 or "campusid_session" not in client.cookies:
        raise RuntimeError(f"sign-in of {login} failed: {answer.status_code}")


async def _median_ms(client: httpx.AsyncClient, path: str, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        answer = await client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    times.sort()
    return times[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--profile", default="", help="a page to profile (its path)")
    parser.add_argument("--pg", default="")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument(
        "--statements", action="store_true", help="print the SQL statements of each page"
    )
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="campusid-pages-")
    url = args.pg or f"sqlite:///{folder}/pages.db"
    settings = _prepare(url)
    class_id = fill_class(url, 60)
    school_id = fill_console(url, teachers=60, events=args.events)
    services = build_services(settings, hasher=_tiny())
    app = create_app(settings, services)
    fastapi.routing.run_in_threadpool = _inline  # type: ignore[attr-defined]
    fastapi.dependencies.utils.run_in_threadpool = _inline  # type: ignore[attr-defined]
    pages = {
        TEACHER: ["/me", f"/classes/{class_id}/manage/students"],
        SCHOOL_ADMIN: [
            "/me",
            f"/school/{school_id}",
            f"/school/{school_id}/teachers",
            "/audit",
        ],
    }

    seen: list[str] = []
    drawn: list[float] = []  # seconds in Template.render, this page's requests
    original = jinja2.Template.render

    def timed(self: jinja2.Template, *a: Any, **k: Any) -> str:
        started = time.perf_counter()
        try:
            return original(self, *a, **k)
        finally:
            drawn.append(time.perf_counter() - started)

    jinja2.Template.render = timed  # type: ignore[method-assign]

    @event.listens_for(services.engine, "before_cursor_execute")
    def _started(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        conn.info["started"] = time.perf_counter()

    @event.listens_for(services.engine, "after_cursor_execute")
    def _record(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        took = (time.perf_counter() - conn.info["started"]) * 1000
        seen.append(f"{took:5.2f} ms  {statement}")

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        for who, paths in pages.items():
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                await _sign_in(c, who)
                floor = 0.0
                for path in paths:
                    await _median_ms(c, path, 10)  # warm: caches, prepared statements
                    drawn.clear()
                    ms = await _median_ms(c, path, args.rounds)
                    floor = floor or ms
                    template = sorted(drawn)[len(drawn) // 2] * 1000
                    print(
                        f"{who:12} GET {path:40} {ms:6.2f} ms  {floor / ms:.2f} of /me's rate"
                        f"  (template {template:.2f} ms)"
                    )
                    if args.statements:
                        seen.clear()
                        await c.get(path)
                        print(f"  {len(seen)} statements:")
                        for statement in seen:
                            text = " ".join(statement.split())
                            print("   ", text[:90], "…", text[-150:] if len(text) > 240 else "")
                if args.profile in paths:
                    profile = cProfile.Profile()
                    profile.enable()
                    await _median_ms(c, args.profile, args.rounds)
                    profile.disable()
                    print_profile(profile, "campusid|jinja2", args.top)

    asyncio.run(run())


if __name__ == "__main__":
    main()

"""Benchmark 3: the organisation pages of a region of 1,000 schools and 1,000,000 students.

Run: .venv/bin/python bench/org_counts.py [--url postgresql://postgres@127.0.0.1:5432/test_i10_region]
     [--schools 1000] [--regenerate] [--rounds 200] [--seconds 60]

Creates the database if missing, migrates it, fills it with bench/region.py (psycopg COPY,
triggers off, then `org.counts.rebuild` recounts in set-based SQL) unless a region of that size
is already there. Then it adds two accounts if missing (a platform administrator, and the
administrator of 50 of the schools), starts `campusid serve` (1 worker) on that database and
times, over HTTP on loopback, one request after another on a keep-alive connection:
  * the district page `GET /district/{id}` (the district's distinct totals and all its schools'
    counts, from the trigger-kept tallies);
  * a school's organisation page `GET /school/{id}` (the tree with every campus, stage, grade
    and class counted live in one statement), for a random one of the 50 schools each time;
printing the median and p99 of each against the targets (district < 200 ms p99, school
< 50 ms). Each page gets `--rounds` requests or `--seconds`, whichever ends first. For
comparison it also times the counting functions alone in this process
(`org.counts.district_counts`, `org.counts.school_counts`), and what counting the district's
distinct parents live from the source rows costs.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

import region
import server

from campusid import migrate
from campusid.accounts import service as accounts
from campusid.accounts.models import SchoolMembership, SchoolRole, User
from campusid.config import Settings
from campusid.context import build_services
from campusid.db import make_engine, make_session_factory, transaction
from campusid.org import counts
from campusid.org import service as org
from campusid.org.building import Calendar

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test_i10_region"


def _ensure_database(url: str, regenerate: bool) -> None:
    info = psycopg.conninfo.conninfo_to_dict(url)
    name = str(info["dbname"])
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and regenerate:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


BENCH_PASSWORD = "Bench#2026x"
PLATFORM_ADMIN = "bench_pt_admin"
SCHOOL_ADMIN = "bench_xx_admin"
SAMPLE = 50


def _timed(call: Callable[[], object], rounds: int, seconds: float) -> list[float]:
    """Milliseconds of each call, `rounds` of them or as many as fit in `seconds`."""
    times = []
    stop = time.perf_counter() + seconds
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
        if started > stop:
            break
    return sorted(times)


def _p99(times: list[float]) -> float:
    return times[max(0, int(len(times) * 0.99) - 1)]


def _report(name: str, times: list[float], target: float, unit: str = "requests") -> None:
    p99 = _p99(times)
    verdict = "meets" if p99 < target else "MISSES"
    print(
        f"{name}: median {statistics.median(times):.1f} ms, p99 {p99:.1f} ms over "
        f"{len(times)} {unit} (target p99 < {target:.0f} ms: {verdict}, "
        f"{target / p99:.1f}x headroom)"
    )


def _accounts(sa_url: str, school_ids: list[int]) -> None:
    """The platform administrator and the administrator of the sampled schools (once)."""
    services = build_services(Settings(database_url=sa_url, log_json=False))
    with transaction(services.session_factory) as db:
        if db.scalar(select(User.id).where(User.username == PLATFORM_ADMIN)) is None:
            now = services.clock.now()
            password = services.hasher.hash(BENCH_PASSWORD)
            accounts.new_user(
                db,
                username=PLATFORM_ADMIN,
                real_name="基准平台",
                now=now,
                password_hash=password,
                is_platform_admin=True,
            )
            admin = accounts.new_user(
                db, username=SCHOOL_ADMIN, real_name="基准管理", now=now, password_hash=password
            )
            db.flush()
            for school_id in school_ids:
                accounts.join_school(
                    db, user=admin, school_id=school_id, role=SchoolRole.SCHOOL_ADMIN, now=now
                )
    services.engine.dispose()


def _administered(sa_url: str) -> list[int]:
    engine = make_engine(sa_url)
    with make_session_factory(engine)() as db:
        found = db.scalars(
            select(SchoolMembership.school_id)
            .join(User, User.id == SchoolMembership.user_id)
            .where(User.username == SCHOOL_ADMIN, SchoolMembership.role == SchoolRole.SCHOOL_ADMIN)
            .order_by(SchoolMembership.school_id)
        ).all()
    engine.dispose()
    return list(found)


def _pages(args: argparse.Namespace, sa_url: str, district_id: int, shown: str) -> None:
    """The two pages over HTTP, against a real server process on the region."""
    rng = random.Random(3)
    school_ids = _administered(sa_url)
    with server.serve(workers=1, database_url=sa_url) as srv:
        cookies = {
            who: server.signed_in_cookies(srv.base, who, BENCH_PASSWORD)
            for who in (PLATFORM_ADMIN, SCHOOL_ADMIN)
        }
        with (
            httpx.Client(base_url=srv.base, cookies=cookies[PLATFORM_ADMIN], timeout=60) as pt,
            httpx.Client(base_url=srv.base, cookies=cookies[SCHOOL_ADMIN], timeout=60) as xx,
        ):

            def district() -> httpx.Response:
                answer = pt.get(f"/district/{district_id}")
                if answer.status_code != 200:
                    raise RuntimeError(f"district page: {answer.status_code}")
                return answer

            def school() -> httpx.Response:
                answer = xx.get(f"/school/{rng.choice(school_ids)}")
                if answer.status_code != 200:
                    raise RuntimeError(f"school page: {answer.status_code}")
                return answer

            first = district()
            if shown not in first.text:
                raise RuntimeError(f"the district page does not show {shown}")
            page = school()
            print(
                f"pages: district {len(first.content) / 1024:.0f} KiB "
                f"({first.text.count('<tr>') - 1} schools), school {len(page.content) / 1024:.0f} "
                f"KiB ({page.text.count('/classes/')} class links)"
            )
            for _ in range(10):  # warm-up: templates compiled, caches filled
                district()
                school()
            _report(
                "district page GET /district/{id}",
                _timed(district, args.rounds, args.seconds),
                200,
            )
            _report(
                "school page   GET /school/{id}  ",
                _timed(school, args.rounds, args.seconds),
                50,
            )


def main() -> None:
    """Generate (if needed) and measure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=os.environ.get("BENCH_REGION_URL", DEFAULT_URL))
    parser.add_argument("--schools", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; load average at start {server.load_average()}")
    shape = region.Shape(schools=args.schools)
    _ensure_database(args.url, args.regenerate)
    sa_url = args.url.replace("postgresql://", "postgresql+psycopg://", 1)
    migrate.upgrade(sa_url)
    engine = make_engine(sa_url)
    factory = make_session_factory(engine)
    with factory() as db:
        students = int(db.scalar(text("SELECT count(*) FROM class_students")) or 0)
    if students == 0:
        print(f"generating {shape.schools:,} schools, {shape.students:,} students ...")
        figures = region.generate(args.url, shape)
        started = time.perf_counter()
        with factory() as db:
            counts.rebuild(db)
            db.commit()
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        print(
            f"generated in {figures['seconds']:.0f} s; counts rebuilt in "
            f"{time.perf_counter() - started:.0f} s"
        )
    elif students != shape.students:
        raise SystemExit(f"the database holds {students:,} students: use --regenerate")
    settings = Settings(database_url=sa_url, log_json=False)
    calendar = Calendar(
        today=date.today(),
        boundary=org.boundary_from(
            settings.school_year_boundary_month, settings.school_year_boundary_day
        ),
    )
    with factory() as db:
        district_id = int(db.scalar(text("SELECT min(id) FROM districts WHERE name = '基准区'")))
        school_ids = [
            int(i)
            for i in db.scalars(
                text("SELECT id FROM schools WHERE district_id = :d ORDER BY id"),
                {"d": district_id},
            )
        ]
        page = counts.district_counts(db, district_id=district_id)
        assert page is not None
        print(
            f"region: {len(page.schools):,} schools; district totals {page.total} "
            f"(sum over schools: {sum(s.counts.parents for s in page.schools):,} parents)"
        )
    _accounts(sa_url, random.Random(10).sample(school_ids, min(SAMPLE, len(school_ids))))
    _pages(args, sa_url, district_id, str(page.total))

    # As `campusid serve` does (campusid.app.serve_app): the long-lived objects out of the
    # collector's full passes, whose pauses would otherwise be the p99 of these timings.
    gc.collect()
    gc.freeze()
    print("the counting functions alone, in this process:")
    with factory() as db:
        rng = random.Random(10)
        district = _timed(
            lambda: counts.district_counts(db, district_id=district_id), args.rounds, args.seconds
        )
        school = _timed(
            lambda: counts.school_counts(db, school_id=rng.choice(school_ids), calendar=calendar),
            args.rounds,
            args.seconds,
        )
        live = _timed(
            lambda: db.execute(
                text(
                    "SELECT count(DISTINCT pl.parent_id) FROM parent_links pl "
                    "JOIN school_memberships m ON m.user_id = pl.child_id "
                    "AND m.role = 'student' AND m.active "
                    "JOIN schools s ON s.id = m.school_id WHERE s.district_id = :d"
                ),
                {"d": district_id},
            ).all(),
            3,
            args.seconds,
        )
        db.rollback()
    _report("  org.counts.district_counts", district, 200, "runs")
    _report("  org.counts.school_counts  ", school, 50, "runs")
    print(
        f"  for comparison, the district's distinct parents counted live from the source rows: "
        f"median {statistics.median(live):.0f} ms"
    )
    print(f"load average at the end {server.load_average()}")
    engine.dispose()


if __name__ == "__main__":
    main()

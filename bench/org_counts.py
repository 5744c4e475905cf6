"""Benchmark 3: organisation counts of a region of 1,000 schools and 1,000,000 students.

Run: .venv/bin/python bench/org_counts.py [--url postgresql://postgres@127.0.0.1:5432/test_i10_region]
     [--schools 1000] [--regenerate] [--rounds 300]

Creates the database if missing, migrates it, fills it with bench/region.py (psycopg COPY,
triggers off, then `org.counts.rebuild` recounts in set-based SQL) unless a region of that size
is already there, and then times, in this process against PostgreSQL on loopback:
  * the district page's counts (`org.counts.district_counts`: distinct totals and every school);
  * a school page's counts (`org.counts.school_counts`: every campus, stage, grade and class of a
    random school, counted live, plus the school's kept total);
printing the median and p99 of each against the targets (district < 200 ms p99, school < 50 ms),
and, for comparison, what counting the district live from the source rows costs.
The school-administration pages of issue 3 draw their tree from these functions' numbers.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

import psycopg
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

import region

from campusid import migrate
from campusid.db import make_engine, make_session_factory
from campusid.org import counts

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


def _timed(call: object, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)


def _p99(times: list[float]) -> float:
    return times[max(0, int(len(times) * 0.99) - 1)]


def main() -> None:
    """Generate (if needed) and measure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=os.environ.get("BENCH_REGION_URL", DEFAULT_URL))
    parser.add_argument("--schools", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()
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
    with factory() as db:
        district_id = int(db.scalar(text("SELECT min(id) FROM districts WHERE name = '基准区'")))
        school_ids = [
            int(i)
            for i in db.scalars(
                text("SELECT id FROM schools WHERE district_id = :d"), {"d": district_id}
            )
        ]
        page = counts.district_counts(db, district_id=district_id)
        assert page is not None
        print(
            f"region: {len(page.schools):,} schools; district totals {page.total} "
            f"(sum over schools: {sum(s.counts.parents for s in page.schools):,} parents)"
        )
        rng = random.Random(10)
        district = _timed(lambda: counts.district_counts(db, district_id=district_id), args.rounds)
        school = _timed(
            lambda: counts.school_counts(db, school_id=rng.choice(school_ids)), args.rounds
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
        )
        db.rollback()
    for name, times, target in (
        ("district page counts", district, 200),
        ("school page counts", school, 50),
    ):
        p99 = _p99(times)
        verdict = "meets" if p99 < target else "MISSES"
        print(
            f"{name}: median {statistics.median(times):.1f} ms, p99 {p99:.1f} ms "
            f"over {len(times)} runs (target p99 < {target} ms: {verdict}, "
            f"{target / p99:.1f}x headroom)"
        )
    print(
        f"for comparison, the district's distinct parents counted live from the source rows: "
        f"median {statistics.median(live):.0f} ms"
    )
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
    engine.dispose()


if __name__ == "__main__":
    main()

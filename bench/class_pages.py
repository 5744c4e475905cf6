"""Benchmark 4: the 班级学生 page of a 60-student class under load from many clients.

Run: .venv/bin/python bench/class_pages.py [--seconds 10] [--clients 32] [--workers 1 2]
         [--pg postgresql://postgres@127.0.0.1:5432/test_i10_bench]

Starts `campusid serve` on the demo data, fills 五年级1班 up to 60 students (each with a parent
linked), signs the homeroom teacher in a few times, and then many keep-alive clients request,
as fast as answers come back:
  * the list:   GET /classes/{id}/manage/students          (60 rows, every per-row form)
  * a search:   GET /classes/{id}/manage/students?q=学生1   (the rows whose name matches)
printing requests per second, the median and the p99 latency for each number of workers, and
the SQL statements one page costs (the same for 10 or 60 students: see
tests/functional/perf/test_query_counts.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadgen
import server
from sqlalchemy import select

from campusid.accounts import service as accounts
from campusid.accounts.models import SchoolRole
from campusid.classes import service as classes
from campusid.config import Settings
from campusid.context import build_services
from campusid.db import transaction
from campusid.families import service as families
from campusid.families.models import Relation
from campusid.org.models import SchoolClass

CLASS_CODE = "gu22cm"
PASSWORD = "Zjer@2026"


def fill_class(database_url: str, size: int) -> int:
    """Add students (and a parent each) to the demo class until it has `size`; its id."""
    services = build_services(Settings(database_url=database_url, log_json=False))
    with transaction(services.session_factory) as db:
        school_class = db.scalar(select(SchoolClass).where(SchoolClass.class_code == CLASS_CODE))
        assert school_class is not None
        now = services.clock.now()
        have = len(classes.students_of(db, school_class=school_class))
        for n in range(have, size):
            student = accounts.new_user(
                db, username=f"bench_s{n:02d}", real_name=f"学生{n:02d}", now=now
            )
            parent = accounts.new_user(
                db, username=f"bench_p{n:02d}", real_name=f"家长{n:02d}", now=now, is_parent=True
            )
            db.flush()
            accounts.join_school(
                db, user=student, school_id=school_class.school_id, role=SchoolRole.STUDENT, now=now
            )
            classes.enroll_student(
                db, school_class=school_class, student=student, now=now, student_number=f"{n:02d}"
            )
            families.link(db, parent=parent, child=student, relation=Relation.MOTHER, now=now)
        class_id = school_class.id
    services.engine.dispose()
    return class_id


def main() -> None:
    """Run the benchmark and print figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--pg", default=None, help="PostgreSQL URL (recreated) instead of SQLite")
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"database {'PostgreSQL' if args.pg else 'SQLite'}, load average {server.load_average()}"
    )
    rates: dict[tuple[int, str], float] = {}
    for workers in args.workers:
        with server.serve(workers=workers, pg_url=args.pg) as srv:
            class_id = fill_class(srv.env["CAMPUSID_DATABASE_URL"], 60)
            sessions = [
                server.signed_in_cookies(srv.base, "chenxiaokai", PASSWORD) for _ in range(4)
            ]
            base = f"/classes/{class_id}/manage/students"
            for name, path in (("list", base), ("search", f"{base}?q={quote('学生1')}")):
                requests = [
                    loadgen.Request("GET", path, cookies=sessions[i % len(sessions)])
                    for i in range(args.clients)
                ]
                loadgen.run(srv.host, srv.port, requests, 2, lambda s: s == 200)  # warm-up
                with server.MemoryWatch(srv.process.pid) as memory:
                    result = loadgen.run(
                        srv.host, srv.port, requests, args.seconds, lambda s: s == 200
                    )
                rates[(workers, name)] = result.rate
                print(
                    f"班级学生 {name:6} {workers} worker(s), {args.clients} clients: "
                    f"{result.rate:.0f} requests/s, median {result.median_ms:.0f} ms, "
                    f"p99 {result.p99_ms:.0f} ms, peak worker memory {memory.worker_peak:.0f} MiB"
                )
    if len(args.workers) == 2:
        one, two = args.workers
        for name in ("list", "search"):
            ratio = rates[(two, name)] / rates[(one, name)]
            print(f"scaling {name}: {two} / {one} workers {ratio:.2f}x")
    print(f"load average at the end: {server.load_average()}")


if __name__ == "__main__":
    main()

"""Benchmark: generate an .xlsx of N new students and import it, on SQLite and PostgreSQL.

    .venv/bin/python bench/import_students.py                      # 100,000 rows, SQLite
    .venv/bin/python bench/import_students.py --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

The PostgreSQL database is emptied first (its public schema is dropped): give it a scratch
database. Each run migrates a fresh schema, creates a school with 6 grades x 20 classes, writes
the workbook (not timed), then times reading it, checking every row and writing them all, the
same code path as `campusid roster import`. It prints rows per second, and how many argon2
hashes the import computed (it should be none: new accounts share the school's one default
credential, see docs/import.md).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import func, select, text

from campusid import migrate
from campusid.accounts.identifiers import id_card_check_digit
from campusid.accounts.models import User
from campusid.clock import FixedClock
from campusid.config import Settings
from campusid.context import build_services
from campusid.db import make_engine, transaction
from campusid.members.service import Actor
from campusid.org import service as org
from campusid.org.deps import calendar_for
from campusid.org.schoolyear import SchoolSystem, Stage, enrollment_year_for
from campusid.org.tree import load_school
from campusid.roster import service
from campusid.roster.excel import Limits
from campusid.security.passwords import Hasher

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
GRADES, CLASSES = 6, 20
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "子涵欣怡梓萱浩然宇轩思远雨泽一诺嘉怡俊杰明轩晨曦佳琪博文"


class CountingHasher(Hasher):
    """The production argon2id hasher, counting every hash it computes."""

    hashes = 0

    def hash(self, password: str) -> str:
        """Hash, and count."""
        CountingHasher.hashes += 1
        return super().hash(password)


def _id_card(index: int) -> str:
    born = date(2014, 1, 1) + timedelta(days=index // 900)
    first17 = f"330603{born:%Y%m%d}{index % 900 + 100:03d}"
    return first17 + id_card_check_digit(first17)


def _name(index: int) -> str:
    return (
        SURNAMES[index % len(SURNAMES)]
        + GIVEN[(index // 7) % len(GIVEN)]
        + GIVEN[(index // 131) % len(GIVEN)]
    )


def workbook(rows: int, class_names: list[str]) -> bytes:
    """The import file: `rows` new students, spread over the classes."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("学生")
    sheet.append(list(service.COLUMNS))
    for index in range(rows):
        card = _id_card(index)
        cells = {
            "操作": "新建",
            "姓名": _name(index),
            "性别": "男" if index % 2 else "女",
            "班级": class_names[index % len(class_names)],
            "学号": f"{index // len(class_names) + 1:02d}",
            "身份证号": card,
            "学籍号": "G" + card,
        }
        sheet.append([cells.get(column, "") for column in service.COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def run(url: str, rows: int) -> dict[str, float]:
    """One benchmark run on one database; returns the timings."""
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    with engine.begin() as conn:
        migrate.upgrade(connection=conn)
    settings = Settings(database_url=url, secret_key="bench")
    services = build_services(
        settings, clock=FixedClock(NOW), engine=engine, hasher=CountingHasher()
    )
    calendar = calendar_for(services)
    for db in transaction(services.session_factory):
        school = org.create_school(
            db,
            name="基准学校",
            district=None,
            default_password="Zjh13579",
            hasher=services.hasher,
            now=NOW,
        )
        campus = org.create_campus(db, school=school, name="本部")
        unit = org.add_stage(
            db, campus=campus, stage=Stage.PRIMARY, school_system=SchoolSystem.SIX_THREE
        )
        for year in range(1, GRADES + 1):
            enrolled = enrollment_year_for(
                Stage.PRIMARY, SchoolSystem.SIX_THREE, year, calendar.today, calendar.boundary
            )
            grade = org.add_grade(db, stage_unit=unit, enrollment_year=enrolled)
            for number in range(1, CLASSES + 1):
                org.add_class(db, grade=grade, number=number, now=NOW)
        school_id = school.id
    for db in transaction(services.session_factory):
        school = load_school(db, school_id)
        assert school is not None
        names = list(service.ClassDirectory(db, school, calendar).names.values())

    started = time.perf_counter()
    data = workbook(rows, names)
    generated = time.perf_counter() - started
    hashes_before = CountingHasher.hashes

    started = time.perf_counter()
    limits = Limits(max_bytes=64 * 1024 * 1024, max_uncompressed=2 * 1024 * 1024 * 1024)
    header, table = service.read_table(data, limits=limits, max_rows=rows)
    read = time.perf_counter() - started
    started = time.perf_counter()
    for db in transaction(services.session_factory):
        school = load_school(db, school_id)
        assert school is not None
        result = service.import_rows(
            db,
            school=school,
            calendar=calendar,
            header=header,
            rows=table,
            now=NOW,
            actor=Actor(user_id=None),
        )
        if not result.ok:
            sys.exit(f"import refused: {result.file_error or list(result.errors.items())[:5]}")
    imported = time.perf_counter() - started
    for db in transaction(services.session_factory):
        users = db.scalar(select(func.count()).select_from(User))
        hashed = db.scalar(
            select(func.count()).select_from(User).where(User.password_hash.is_not(None))
        )
    engine.dispose()
    return {
        "rows": rows,
        "file_mb": len(data) / 1024 / 1024,
        "generate_s": generated,
        "read_s": read,
        "check_write_s": imported,
        "total_s": read + imported,
        "rows_per_s": rows / (read + imported),
        "argon2_hashes": CountingHasher.hashes - hashes_before,
        "accounts": users or 0,
        "own_hashes": hashed or 0,
    }


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sqlite", default=None, help="SQLite file (default: a temporary one)")
    parser.add_argument("--pg-url", default=None, help="a scratch PostgreSQL database URL")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    targets = []
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_sqlite:
            targets.append(("SQLite", f"sqlite:///{args.sqlite or Path(tmp) / 'bench.db'}"))
        if args.pg_url:
            targets.append(("PostgreSQL", args.pg_url))
        print(
            f"{'database':<11} {'rows':>8} {'file MB':>8} {'read s':>7} {'check+write s':>14} "
            f"{'total s':>8} {'rows/s':>8} {'argon2':>7}"
        )
        for label, url in targets:
            figures = run(url, args.rows)
            print(
                f"{label:<11} {figures['rows']:>8,} {figures['file_mb']:>8.1f} "
                f"{figures['read_s']:>7.1f} {figures['check_write_s']:>14.1f} "
                f"{figures['total_s']:>8.1f} {figures['rows_per_s']:>8,.0f} "
                f"{figures['argon2_hashes']:>7}"
            )
            assert figures["own_hashes"] == 0, "no imported account should carry a hash of its own"


if __name__ == "__main__":
    main()

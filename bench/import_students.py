"""Benchmark: generate an .xlsx of N new students and import it, on SQLite and PostgreSQL.

    .venv/bin/python bench/import_students.py                      # 100,000 rows, SQLite
    .venv/bin/python bench/import_students.py --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

The PostgreSQL database is emptied first (its public schema is dropped): give it a scratch
database. Each run migrates a fresh schema, creates a school with 6 grades x 20 classes, writes
the workbook (not timed), then times, on that database:

- end to end: reading the file, checking every row and writing them all, the same code path as
  `campusid roster import` (`read_table` + `import_rows`, one transaction, committed);
- raw read: calamine (the import's reader, the fastest there is for Python) reading every row
  of the same bytes into Python values (openpyxl read-only's rate is printed for information);
- raw insert: the same rows as the import stores them (an account with its encrypted
  identifiers, a school membership and a class place per student, values prepared beforehand)
  into the real tables, count triggers included, by psycopg COPY on PostgreSQL or sqlite3
  executemany on SQLite, in a transaction rolled back afterwards (on PostgreSQL the
  database is then vacuumed and analysed, as autovacuum would: the rolled-back rows hold the
  very identifiers the import looks up next, and their dead index entries cost its look-ups
  about a second);

and prints the rates, end to end / min(raw read, raw insert) (the target is 0.6), and how many
argon2 hashes the import computed (it must be none: new accounts share the school's one default
credential, see docs/import.md). The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select, text

from campusid import migrate
from campusid.accounts.models import SchoolMembership, SchoolRole, User
from campusid.audit.service import Actor
from campusid.classes.models import ClassStudent
from campusid.clock import FixedClock
from campusid.config import Settings
from campusid.context import build_services
from campusid.db import make_engine, transaction
from campusid.identifiers import id_card_check_digit
from campusid.org import service as org
from campusid.org.schoolyear import SchoolSystem, Stage, calendar_for, enrollment_year_for
from campusid.org.tree import load_school
from campusid.roster import service, writer
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


def raw_read(data: bytes) -> float:
    """Seconds calamine (the reader the import uses, the fastest in Python) takes to read every
    row of the file into Python values: the raw read, the limit a reader can reach."""
    started = time.perf_counter()
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    rows = book.get_sheet_by_index(0).to_python(skip_empty_area=False)
    assert len(rows) > 1
    return time.perf_counter() - started


def raw_read_openpyxl(data: bytes) -> float:
    """Seconds openpyxl read-only takes just to iterate the rows of the file (values only);
    printed for information (the baseline before issue 25, six times slower than calamine)."""
    started = time.perf_counter()
    book = load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    count = sum(1 for _ in book.worksheets[0].iter_rows(values_only=True))
    book.close()
    assert count > 1
    return time.perf_counter() - started


def raw_insert(engine: Any, rows: int, school_id: int, class_ids: list[int]) -> float:
    """Seconds to insert `rows` students' rows (account, membership, class place) directly.

    The values are prepared first (identifiers encrypted as the import stores them), then
    written with COPY (PostgreSQL) or executemany (SQLite) into the real tables, triggers and
    all, and rolled back.
    """
    with engine.connect() as conn:
        trans = conn.begin()
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            ids = sorted(
                conn.scalars(
                    text(
                        "SELECT nextval(pg_get_serial_sequence('users', 'id')) "
                        "FROM generate_series(1, :n)"
                    ),
                    {"n": rows},
                )
            )
        else:
            top = conn.scalar(select(func.max(User.id))) or 0
            ids = list(range(top + 1, top + 1 + rows))
        users = []
        for index, user_id in enumerate(ids):
            card = _id_card(index)
            users.append(
                {
                    "id": user_id,
                    "username": f"raw{index}",
                    "real_name": _name(index),
                    "id_card_number": card,
                    "registration_number": "G" + card,
                    "must_change_password": True,
                    "created_at": NOW,
                }
            )
        tables = [
            writer._prepared(conn, User.__table__, users, with_id=True),
            writer._prepared(
                conn,
                SchoolMembership.__table__,
                (
                    {
                        "school_id": school_id,
                        "user_id": user_id,
                        "role": SchoolRole.STUDENT,
                        "active": True,
                        "joined_at": NOW,
                    }
                    for user_id in ids
                ),
            ),
            writer._prepared(
                conn,
                ClassStudent.__table__,
                (
                    {
                        "class_id": class_ids[index % len(class_ids)],
                        "student_id": user_id,
                        "student_number": f"{index // len(class_ids) + 1:02d}",
                        "joined_at": NOW,
                    }
                    for index, user_id in enumerate(ids)
                ),
            ),
        ]
        raw: Any = conn.connection.dbapi_connection
        started = time.perf_counter()
        for table, (names, values) in zip(
            ("users", "school_memberships", "class_students"), tables, strict=True
        ):
            columns = ", ".join(names)
            if postgres:
                with (
                    raw.cursor() as cursor,
                    cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
                ):
                    for row in values:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(names))
                raw.cursor().executemany(
                    f"INSERT INTO {table} ({columns}) VALUES ({marks})", values
                )
        elapsed = time.perf_counter() - started
        trans.rollback()
    return elapsed


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
    calendar = calendar_for(services.settings, services.clock)
    with transaction(services.session_factory) as db:
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
    with transaction(services.session_factory) as db:
        school = load_school(db, school_id)
        assert school is not None
        directory = service.ClassDirectory(db, school, calendar)
        names = list(directory.names.values())
        class_ids = list(directory.names)

    started = time.perf_counter()
    data = workbook(rows, names)
    generated = time.perf_counter() - started
    hashes_before = CountingHasher.hashes
    raw_read_s = raw_read(data)
    openpyxl_s = raw_read_openpyxl(data)
    raw_insert_s = raw_insert(engine, rows, school_id, class_ids)
    if engine.dialect.name == "postgresql":  # not timed: see the module's doc
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))

    started = time.perf_counter()
    limits = Limits(max_bytes=64 * 1024 * 1024, max_uncompressed=2 * 1024 * 1024 * 1024)
    header, table = service.read_table(data, limits=limits, max_rows=rows)
    read = time.perf_counter() - started
    started = time.perf_counter()
    with transaction(services.session_factory) as db:
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
    with transaction(services.session_factory) as db:
        users = db.scalar(select(func.count()).select_from(User))
        hashed = db.scalar(
            select(func.count()).select_from(User).where(User.password_hash.is_not(None))
        )
    engine.dispose()
    total = read + imported
    slower = min(rows / raw_read_s, rows / raw_insert_s)
    return {
        "rows": rows,
        "file_mb": len(data) / 1024 / 1024,
        "generate_s": generated,
        "read_s": read,
        "check_write_s": imported,
        "total_s": total,
        "rows_per_s": rows / total,
        "raw_read_per_s": rows / raw_read_s,
        "openpyxl_per_s": rows / openpyxl_s,
        "raw_insert_per_s": rows / raw_insert_s,
        "ratio": rows / total / slower,
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
        print(f"load average before: {_load()}")
        print(
            f"{'database':<11} {'rows':>8} {'file MB':>8} {'read s':>7} {'check+write s':>14} "
            f"{'total s':>8} {'rows/s':>8} {'raw read/s':>11} {'raw insert/s':>13} "
            f"{'ratio':>6} {'argon2':>7} {'openpyxl/s':>11}"
        )
        for label, url in targets:
            figures = run(url, args.rows)
            print(
                f"{label:<11} {figures['rows']:>8,} {figures['file_mb']:>8.1f} "
                f"{figures['read_s']:>7.1f} {figures['check_write_s']:>14.1f} "
                f"{figures['total_s']:>8.1f} {figures['rows_per_s']:>8,.0f} "
                f"{figures['raw_read_per_s']:>11,.0f} {figures['raw_insert_per_s']:>13,.0f} "
                f"{figures['ratio']:>6.2f} {figures['argon2_hashes']:>7} "
                f"{figures['openpyxl_per_s']:>11,.0f}",
                flush=True,
            )
            assert figures["own_hashes"] == 0, "no imported account should carry a hash of its own"
            assert figures["argon2_hashes"] == 0, "the import must compute no argon2 hash"
        print(f"load average after: {_load()}")
        print(
            "ratio = end-to-end rows/s / min(raw read (calamine), raw insert); the target is "
            ">= 0.6, and 100,000 rows in under 10 s on SQLite, 12 s on PostgreSQL"
        )


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()

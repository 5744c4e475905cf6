"""A generated region for the benchmarks: one district, N schools, their classes and people.

Written with PostgreSQL's COPY (psycopg), straight into the migrated schema, with explicit ids:
1,000 schools x 1,000 students = 1,000,000 students, 60 teachers a school, about 1.45 parents a
student (every student a mother, every other one a father too; one in twenty shares the mother
with a child of the previous school, so parents in two schools exist and distinct counts differ
from sums). A school: one campus, a primary stage (6-3), six grades, 25 classes of 40 students,
three teachers a class (the homeroom teacher and two subject teachers).

Used by bench/org_counts.py; run alone: .venv/bin/python bench/region.py --url postgresql://...
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg

CLASSES_PER_SCHOOL = 25  # 4 classes in grades 1-5, 5 in grade 6
TEACHERS_PER_SCHOOL = 60
CREATED = "2026-09-01 08:00:00+08"
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
GRADES = 6


@dataclass(frozen=True)
class Shape:
    """The size of the region."""

    schools: int = 1000
    students_per_class: int = 40

    @property
    def students_per_school(self) -> int:
        return CLASSES_PER_SCHOOL * self.students_per_class

    @property
    def students(self) -> int:
        return self.schools * self.students_per_school


def _code(number: int, length: int = 6) -> str:
    chars = []
    for _ in range(length):
        number, digit = divmod(number, len(ALPHABET))
        chars.append(ALPHABET[digit])
    return "".join(chars)


def _grade_of(class_index: int) -> tuple[int, int]:
    """(grade index 0-5, class number) of the n-th class of a school."""
    grade = min(class_index // 4, GRADES - 1)
    return grade, class_index - 4 * grade + 1


def _copy(
    conn: psycopg.Connection,  # type: ignore[type-arg]
    table: str,
    columns: str,
    rows: Iterator[str],
) -> int:
    """COPY text lines into the table, in chunks; returns the number of rows."""
    count = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        buffer = io.StringIO()
        for line in rows:
            buffer.write(line)
            count += 1
            if count % 50_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    return count


class Ids:
    """The explicit ids of the generated people."""

    def __init__(self, shape: Shape, first_user: int) -> None:
        self.shape = shape
        self.teacher0 = first_user
        self.student0 = self.teacher0 + shape.schools * TEACHERS_PER_SCHOOL
        self.mother0 = self.student0 + shape.students
        self.father0 = self.mother0 + shape.students
        self.end = self.father0 + shape.students

    def teacher(self, school: int, k: int) -> int:
        return self.teacher0 + (school - 1) * TEACHERS_PER_SCHOOL + k

    def student(self, school: int, k: int) -> int:
        return self.student0 + (school - 1) * self.shape.students_per_school + k

    def mother_of(self, school: int, k: int) -> int:
        """One in twenty shares the mother of the same-placed child of the previous school."""
        if k % 20 == 19 and school > 1:
            school -= 1
        return self.mother0 + (school - 1) * self.shape.students_per_school + k

    def father_of(self, school: int, k: int) -> int | None:
        if k % 2:
            return None
        return self.father0 + (school - 1) * self.shape.students_per_school + k


def generate(url: str, shape: Shape, log: Callable[[str], None] = print) -> dict[str, float]:
    """Fill the (migrated, empty) database; returns rows and seconds per table."""
    started = time.perf_counter()
    figures: dict[str, float] = {}
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT 1 FROM schools LIMIT 1").fetchone():
            raise SystemExit("the region goes into a migrated database with no schools yet")
        first_user = int(conn.execute("SELECT coalesce(max(id), 0) + 1 FROM users").fetchone()[0])  # type: ignore[index]
        district = int(
            conn.execute("INSERT INTO districts (name) VALUES ('基准区') RETURNING id").fetchone()[
                0
            ]  # type: ignore[index]
        )
        base = 0
        # Bulk load: skip the per-row foreign-key triggers (the generated ids are consistent by
        # construction); needs a superuser, as the loopback test server's postgres is.
        conn.execute("SET session_replication_role = replica")
        ids = Ids(shape, first_user)
        n = shape.schools
        schools = range(1, n + 1)
        spc = shape.students_per_class

        def school_id(s: int) -> int:
            return base + s

        def class_id(s: int, c: int) -> int:
            return base * CLASSES_PER_SCHOOL + (s - 1) * CLASSES_PER_SCHOOL + c + 1

        def grade_id(s: int, g: int) -> int:
            return base * GRADES + (s - 1) * GRADES + g + 1

        def timed(table: str, columns: str, rows: Iterator[str]) -> None:
            t0 = time.perf_counter()
            count = _copy(conn, table, columns, rows)
            seconds = time.perf_counter() - t0
            figures[table] = count
            log(f"  {table}: {count:,} rows in {seconds:.1f} s ({count / seconds:,.0f} rows/s)")

        timed(
            "schools",
            "id, district_id, name, reset_mode, allow_teacher_recovery, "
            "force_change_after_parent, created_at",
            (
                f"{school_id(s)}\t{district}\t基准学校{s:04d}\trandom\tf\tf\t{CREATED}\n"
                for s in schools
            ),
        )
        timed(
            "campuses",
            "id, school_id, name, code",
            (f"{school_id(s)}\t{school_id(s)}\t主校区\tB{school_id(s):07d}\n" for s in schools),
        )
        timed(
            "stages",
            "id, campus_id, stage, school_system, grade_name_overrides",
            (f"{school_id(s)}\t{school_id(s)}\tprimary\t6-3\t{{}}\n" for s in schools),
        )
        timed(
            "grades",
            "id, stage_id, enrollment_year, school_system, year_offset",
            (
                f"{grade_id(s, g)}\t{school_id(s)}\t{2026 - g}\t6-3\t0\n"
                for s in schools
                for g in range(GRADES)
            ),
        )

        def class_rows() -> Iterator[str]:
            for s in schools:
                for c in range(CLASSES_PER_SCHOOL):
                    grade, number = _grade_of(c)
                    cid = class_id(s, c)
                    yield (
                        f"{cid}\t{school_id(s)}\t{school_id(s)}\t{grade_id(s, grade)}\t"
                        f"administrative\t{number}\t{_code(cid + 7_000_000)}\t{CREATED}\n"
                    )

        timed(
            "school_classes",
            "id, school_id, campus_id, grade_id, kind, number, class_code, created_at",
            class_rows(),
        )

        def user_rows() -> Iterator[str]:
            fixed = f"active\tf\t1\tf\tf\t{CREATED}"
            for s in schools:
                for k in range(TEACHERS_PER_SCHOOL):
                    yield f"{ids.teacher(s, k)}\tbt{s}_{k}\t教师{k}\t{fixed}\tf\n"
            for s in schools:
                for k in range(shape.students_per_school):
                    yield f"{ids.student(s, k)}\tbs{s}_{k}\t学生{k}\t{fixed}\tf\n"
            for kind, first in (("bm", ids.mother0), ("bf", ids.father0)):
                for s in schools:
                    for k in range(shape.students_per_school):
                        if kind == "bf" and k % 2:
                            continue
                        uid = first + (s - 1) * shape.students_per_school + k
                        yield f"{uid}\t{kind}{s}_{k}\t家长{k}\t{fixed}\tt\n"

        timed(
            "users",
            "id, username, real_name, status, must_change_password, password_version, "
            "is_platform_admin, is_agent, created_at, is_parent",
            user_rows(),
        )

        def membership_rows() -> Iterator[str]:
            for s in schools:
                sid = school_id(s)
                for k in range(TEACHERS_PER_SCHOOL):
                    yield f"{sid}\t{ids.teacher(s, k)}\tteacher\tt\t{CREATED}\n"
                for k in range(shape.students_per_school):
                    yield f"{sid}\t{ids.student(s, k)}\tstudent\tt\t{CREATED}\n"

        timed(
            "school_memberships",
            "school_id, user_id, role, active, joined_at",
            membership_rows(),
        )

        def class_student_rows() -> Iterator[str]:
            for s in schools:
                for k in range(shape.students_per_school):
                    c = k // spc
                    yield (
                        f"{class_id(s, c)}\t{ids.student(s, k)}\t{k % spc + 1}\tnormal\tmember"
                        f"\t{CREATED}\n"
                    )

        timed(
            "class_students",
            "class_id, student_id, student_number, status, class_role, joined_at",
            class_student_rows(),
        )

        def class_teacher_rows() -> Iterator[str]:
            for s in schools:
                for c in range(CLASSES_PER_SCHOOL):
                    cid = class_id(s, c)
                    yield f"{cid}\t{ids.teacher(s, c)}\t语文\tt\n"
                    yield f"{cid}\t{ids.teacher(s, 25 + c % 18)}\t数学\tf\n"
                    yield f"{cid}\t{ids.teacher(s, 43 + c % 17)}\t英语\tf\n"

        timed("class_teachers", "class_id, teacher_id, subject, is_homeroom", class_teacher_rows())

        def link_rows() -> Iterator[str]:
            for s in schools:
                for k in range(shape.students_per_school):
                    child = ids.student(s, k)
                    yield f"{ids.mother_of(s, k)}\t{child}\tmother\t{CREATED}\n"
                    father = ids.father_of(s, k)
                    if father is not None:
                        yield f"{father}\t{child}\tfather\t{CREATED}\n"

        timed("parent_links", "parent_id, child_id, relation, created_at", link_rows())
        # Unused mother ids (the shared ones) are harmless: accounts with no child.
        for table in ("schools", "campuses", "stages", "grades", "school_classes", "users"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        t0 = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        log(f"  VACUUM ANALYZE in {time.perf_counter() - t0:.1f} s")
    figures["seconds"] = time.perf_counter() - started
    figures["district_id"] = district
    return figures


def main() -> None:
    """Generate a region into a migrated, empty PostgreSQL database."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="postgresql://user@host/db (migrated)")
    parser.add_argument("--schools", type=int, default=1000)
    parser.add_argument("--students-per-class", type=int, default=40)
    args = parser.parse_args()
    figures = generate(args.url, Shape(args.schools, args.students_per_class))
    print(f"generated in {figures['seconds']:.0f} s")


if __name__ == "__main__":
    main()

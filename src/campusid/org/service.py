"""The organisation's rules: creating nodes, class codes, and names derived from the date."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from campusid.accounts.models import DefaultCredential, SchoolMembership, SchoolRole
from campusid.i18n import N_
from campusid.org import schoolyear
from campusid.org.models import (
    Campus,
    ClassKind,
    District,
    Grade,
    ResetMode,
    School,
    SchoolClass,
    StageUnit,
)
from campusid.org.schoolyear import SchoolSystem, Stage, YearBoundary
from campusid.security.passwords import Hasher
from campusid.security.permissions import Principal, Role

# No look-alikes (0/o, 1/l/i) in codes people read out and type.
CLASS_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
CAMPUS_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def _unique_code(db: Session, column: Any, alphabet: str, length: int) -> str:
    for _ in range(20):
        code = "".join(secrets.choice(alphabet) for _ in range(length))
        if db.scalar(select(column).where(column == code)) is None:
            return code
    raise RuntimeError("could not find a free code")


def new_class_code(db: Session) -> str:
    """A fresh, unused 6-character class code like `gu22cm`."""
    return _unique_code(db, SchoolClass.class_code, CLASS_CODE_ALPHABET, 6)


def new_campus_code(db: Session) -> str:
    """A fresh, unused campus code (校区编码)."""
    return _unique_code(db, Campus.code, CAMPUS_CODE_ALPHABET, 8)


def get_or_create_district(db: Session, name: str) -> District:
    """The district of that name, created if missing."""
    district = db.scalar(select(District).where(District.name == name))
    if district is None:
        district = District(name=name)
        db.add(district)
        db.flush()
    return district


def set_default_password(
    db: Session,
    *,
    school: School,
    password: str,
    hasher: Hasher,
    now: datetime,
) -> DefaultCredential:
    """Set the school's default student password (学生默认密码): one hash for all who use it.

    Accounts still on the previous default keep pointing at the previous credential, so
    changing the default never changes an existing person's password behind their back.
    """
    credential = DefaultCredential(
        school_id=school.id,
        password_hash=hasher.hash(password),
        plain_value=password,
        created_at=now,
    )
    db.add(credential)
    db.flush()
    school.default_credential_id = credential.id
    return credential


def create_school(
    db: Session,
    *,
    name: str,
    district: District | None,
    default_password: str,
    hasher: Hasher,
    now: datetime,
    reset_mode: ResetMode = ResetMode.RANDOM,
) -> School:
    """A new school with its default student password."""
    school = School(
        name=name,
        district_id=district.id if district else None,
        reset_mode=reset_mode,
        created_at=now,
    )
    db.add(school)
    db.flush()
    set_default_password(db, school=school, password=default_password, hasher=hasher, now=now)
    return school


def create_campus(db: Session, *, school: School, name: str) -> Campus:
    """A new campus (校区) with a fresh campus code."""
    campus = Campus(school_id=school.id, name=name, code=new_campus_code(db))
    db.add(campus)
    db.flush()
    return campus


def add_stage(
    db: Session, *, campus: Campus, stage: Stage, school_system: SchoolSystem
) -> StageUnit:
    """A new stage (学段) on a campus."""
    unit = StageUnit(
        campus_id=campus.id,
        stage=stage,
        school_system=school_system,
        grade_name_overrides={},
    )
    db.add(unit)
    db.flush()
    return unit


def add_grade(
    db: Session,
    *,
    stage_unit: StageUnit,
    enrollment_year: int,
    school_system: SchoolSystem | None = None,
) -> Grade:
    """A new grade (年级), named by its enrollment year."""
    grade = Grade(
        stage_id=stage_unit.id,
        enrollment_year=enrollment_year,
        school_system=school_system or stage_unit.school_system,
        year_offset=0,
    )
    db.add(grade)
    db.flush()
    return grade


def add_class(
    db: Session, *, grade: Grade, number: int, now: datetime, class_code: str | None = None
) -> SchoolClass:
    """A new administrative class (班级) in a grade."""
    unit = grade.stage_unit
    school_class = SchoolClass(
        school_id=unit.campus.school_id,
        campus_id=unit.campus_id,
        grade_id=grade.id,
        kind=ClassKind.ADMINISTRATIVE,
        number=number,
        class_code=class_code or new_class_code(db),
        graduation_year=graduation_year_of(grade),
        created_at=now,
    )
    db.add(school_class)
    db.flush()
    return school_class


def effective_today(
    grade: Grade, today: date, boundary: YearBoundary = schoolyear.DEFAULT_BOUNDARY
) -> date:
    """The date the grade's name is computed for, after any promotion by hand.

    A promotion by hand moves the grade ahead only until the school-year boundary it anticipated;
    from then on the calendar has caught up, so the offset lapses instead of counting twice.
    """
    if grade.year_offset and grade.promoted_school_year == schoolyear.school_year(today, boundary):
        day = 28 if (today.month, today.day) == (2, 29) else today.day
        return today.replace(year=today.year + grade.year_offset, day=day)
    return today


def grade_name(grade: Grade, today: date, boundary: YearBoundary) -> str:
    """The grade's display name today (一年级 … 高三, or graduated)."""
    unit = grade.stage_unit
    overrides = {int(k): str(v) for k, v in (unit.grade_name_overrides or {}).items()}
    if grade.graduated_at is not None:
        return N_("%(year)s级（已毕业）", year=grade.enrollment_year)
    return schoolyear.grade_name(
        unit.stage,
        grade.school_system,
        grade.enrollment_year,
        effective_today(grade, today, boundary),
        boundary,
        overrides=overrides or None,
    )


def is_graduated(grade: Grade, today: date, boundary: YearBoundary) -> bool:
    """Whether the grade has left its stage (by the calendar, or by hand): THE "graduated?"."""
    if grade.graduated_at is not None:
        return True
    return schoolyear.is_graduated(
        grade.stage_unit.stage,
        grade.school_system,
        grade.enrollment_year,
        effective_today(grade, today, boundary),
        boundary,
    )


def class_display_name(school_class: SchoolClass, today: date, boundary: YearBoundary) -> str:
    """三年级1班 for an administrative class; its own name for a teaching class."""
    if school_class.kind is ClassKind.TEACHING or school_class.grade is None:
        return school_class.name or school_class.class_code
    return schoolyear.class_name(
        grade_name(school_class.grade, today, boundary),
        school_class.number or 0,
    )


def distinct_class_labels(
    names: dict[int, str], classes: dict[int, tuple[str, int | None, str]]
) -> dict[int, str]:
    """Class names a picker can tell apart: where two classes share a name, each is shown with
    its campus and its grade's enrollment year (东校区 · 五年级1班（2022级）), and its 班级编码 as
    well should even that repeat. `classes` gives each class's (campus, enrollment year, code).
    """
    count: dict[str, int] = {}
    for name in names.values():
        count[name] = count.get(name, 0) + 1
    labels = {}
    for class_id, name in names.items():
        if count[name] == 1:
            labels[class_id] = name
            continue
        campus, year, _ = classes[class_id]
        labels[class_id] = (
            N_("%(campus)s · %(name)s（%(year)s级）", campus=campus, name=name, year=year)
            if year is not None
            else N_("%(campus)s · %(name)s", campus=campus, name=name)
        )
    again: dict[str, int] = {}
    for label in labels.values():
        again[label] = again.get(label, 0) + 1
    for class_id, label in labels.items():
        if again[label] > 1:
            labels[class_id] = N_(
                "%(label)s（编码 %(code)s）", label=label, code=classes[class_id][2]
            )
    return labels


def class_graduated(school_class: SchoolClass, today: date, boundary: YearBoundary) -> bool:
    """Whether the class's grade has graduated; a class without a grade (教学班) never does."""
    grade = school_class.grade
    return grade is not None and is_graduated(grade, today, boundary)


def boundary_from(month: int, day: int) -> YearBoundary:
    """The school-year boundary of the settings."""
    return YearBoundary(month=month, day=day)


def find_class_by_code(db: Session, code: str) -> SchoolClass | None:
    """The class with this class code (全网搜索班级)."""
    return db.scalar(select(SchoolClass).where(SchoolClass.class_code == code.strip().lower()))


def withdraw_suspended_roles(db: Session, principal: Principal) -> None:
    """A suspended school (停用) gives its administrators and teachers nothing: no admin role,
    no class, no grade. Its students and parents keep theirs, so pupils still sign in; the
    school's staff are told why the console refuses them (`authz.check_school_admin`).

    Registered as the last role loader (campusid.domains): it reads what the others loaded. It
    runs on every signed-in request, so the common case (no suspended school) is one query.
    """
    if not principal.member_school_ids and not principal.taught_class_ids:
        return
    suspended = set(
        db.scalars(
            select(School.id).where(
                School.suspended_at.is_not(None),
                or_(
                    School.id.in_(principal.member_school_ids),
                    School.id.in_(
                        select(SchoolClass.school_id).where(
                            SchoolClass.id.in_(principal.taught_class_ids)
                        )
                    ),
                ),
            )
        )
    )
    if not suspended:
        return
    staff = (principal.admin_school_ids & suspended) | {
        school_id
        for (school_id,) in db.execute(
            select(SchoolClass.school_id).where(
                SchoolClass.id.in_(principal.taught_class_ids), SchoolClass.school_id.in_(suspended)
            )
        )
    }
    teaching = set(
        db.scalars(
            select(SchoolMembership.school_id).where(
                SchoolMembership.current(user_id=principal.user.id, role=SchoolRole.TEACHER),
                SchoolMembership.school_id.in_(suspended),
            )
        )
    )
    staff |= teaching
    if not staff:
        return
    principal.suspended_school_ids |= staff
    principal.admin_school_ids -= staff
    principal.member_school_ids -= staff
    gone = set(
        db.scalars(
            select(SchoolClass.id).where(
                SchoolClass.id.in_(principal.taught_class_ids), SchoolClass.school_id.in_(staff)
            )
        )
    )
    principal.taught_class_ids -= gone
    principal.homeroom_class_ids -= gone
    principal.led_grade_ids -= set(
        db.scalars(
            select(Grade.id)
            .join(StageUnit, StageUnit.id == Grade.stage_id)
            .join(Campus, Campus.id == StageUnit.campus_id)
            .where(Grade.id.in_(principal.led_grade_ids), Campus.school_id.in_(staff))
        )
    )
    if not principal.admin_school_ids:
        principal.roles.discard(Role.SCHOOL_ADMIN)
    if not principal.homeroom_class_ids:
        principal.roles.discard(Role.HOMEROOM_TEACHER)
    if not principal.led_grade_ids:
        principal.roles.discard(Role.GRADE_LEADER)
    if not principal.taught_class_ids and not (
        principal.member_school_ids
        and db.scalar(
            select(SchoolMembership.id).where(
                SchoolMembership.current(user_id=principal.user.id, role=SchoolRole.TEACHER),
                SchoolMembership.school_id.in_(principal.member_school_ids),
            )
        )
    ):
        principal.roles.discard(Role.TEACHER)


def graduation_year_of(grade: Grade) -> int:
    """The 毕业年份 of a grade and its classes: its 入学年份 plus its stage's length (学制)."""
    return schoolyear.graduation_year(
        grade.stage_unit.stage, grade.school_system, grade.enrollment_year
    )


# --------------------------------------------------------------------------- issue 23: 年级


@dataclass(frozen=True)
class LedGrade:
    """A grade its leader (年级组长) sees from 年级: its school, its name and its classes."""

    school_id: int
    school_name: str
    grade_id: int
    name: str
    classes: list[tuple[int, str]]  # (class id, 五年级1班), by number


def led_grades(
    db: Session, *, grade_ids: set[int], today: date, boundary: YearBoundary
) -> list[LedGrade]:
    """The grades of `grade_ids` with their administrative classes (a handful of queries)."""
    if not grade_ids:
        return []
    grades = list(
        db.scalars(
            select(Grade)
            .where(Grade.id.in_(grade_ids))
            .options(
                selectinload(Grade.stage_unit)
                .selectinload(StageUnit.campus)
                .selectinload(Campus.school)
            )
            .order_by(Grade.id)
        )
    )
    by_grade: dict[int, list[SchoolClass]] = {grade.id: [] for grade in grades}
    for school_class in db.scalars(
        select(SchoolClass)
        .where(SchoolClass.grade_id.in_(by_grade), SchoolClass.kind == ClassKind.ADMINISTRATIVE)
        .order_by(SchoolClass.number, SchoolClass.id)
    ):
        assert school_class.grade_id is not None
        by_grade[school_class.grade_id].append(school_class)
    return [
        LedGrade(
            school_id=grade.stage_unit.campus.school_id,
            school_name=grade.stage_unit.campus.school.name,
            grade_id=grade.id,
            name=grade_name(grade, today, boundary),
            classes=[(c.id, class_display_name(c, today, boundary)) for c in by_grade[grade.id]],
        )
        for grade in grades
    ]

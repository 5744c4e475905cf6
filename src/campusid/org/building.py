"""Building a school's organisation: the guide's four creation cases, edits, deletes, promotion.

Each function checks everything first and raises `Invalid` with every problem in Chinese before
it writes anything, so a refused request leaves nothing half-made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from campusid.accounts.models import SchoolMembership
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.service import Actor
from campusid.classes.models import (
    CadrePosition,
    ClassStudent,
    ClassTeacher,
    GradeLeader,
    JoinRequest,
)
from campusid.clock import SHANGHAI, as_utc
from campusid.i18n import N_
from campusid.org import schoolyear
from campusid.org import service as org
from campusid.org.models import Campus, ClassKind, Grade, School, SchoolClass, StageUnit
from campusid.org.schoolyear import Calendar, SchoolSystem, Stage
from campusid.web import Refused

MAX_CLASSES_PER_GRADE = 30
MAX_CLASS_NUMBER = 50
MAX_NAME = 32


class Invalid(Refused):
    """The organisation refuses the change; `messages` says why."""


@dataclass
class StagePlan:
    """One stage to create: how many classes each year of it gets (year 1 = youngest)."""

    stage: Stage
    classes_per_year: dict[int, int] = field(default_factory=dict)


def _clean_name(value: str, label: str, problems: list[str]) -> str:
    name = " ".join((value or "").split())
    if not name:
        problems.append(N_("请填写%(label)s", label=label))
    elif len(name) > MAX_NAME:
        problems.append(N_("%(label)s不能超过%(most)s个字", label=label, most=MAX_NAME))
    return name


def campus_system(campus: Campus) -> SchoolSystem | None:
    """The school system (学制) the campus's primary and junior stages already use."""
    for unit in campus.stages:
        if unit.stage is not Stage.SENIOR:
            return unit.school_system
    return None


def _check_stage_plans(
    plans: list[StagePlan],
    system: SchoolSystem,
    existing: set[Stage],
    problems: list[str],
) -> None:
    if not plans:
        problems.append(N_("请至少选择一个学段"))
    for plan in plans:
        if plan.stage in existing:
            problems.append(N_("该校区已有%(stage)s学段", stage=plan.stage.label))
        length = schoolyear.stage_length(plan.stage, system)
        for year, count in plan.classes_per_year.items():
            if not 1 <= year <= length:
                problems.append(
                    N_("%(stage)s只有%(length)s个年级", stage=plan.stage.label, length=length)
                )
            elif not 0 <= count <= MAX_CLASSES_PER_GRADE:
                problems.append(
                    N_(
                        "%(stage)s每个年级的班级数须在0-%(most)s之间",
                        stage=plan.stage.label,
                        most=MAX_CLASSES_PER_GRADE,
                    )
                )


def _build_stage(
    db: Session,
    *,
    campus: Campus,
    plan: StagePlan,
    system: SchoolSystem,
    calendar: Calendar,
    now: datetime,
) -> StageUnit:
    unit = org.add_stage(db, campus=campus, stage=plan.stage, school_system=system)
    for year in sorted(plan.classes_per_year):
        count = plan.classes_per_year[year]
        if count <= 0:
            continue
        enrolled = schoolyear.enrollment_year_for(
            plan.stage, system, year, calendar.today, calendar.boundary
        )
        grade = org.add_grade(db, stage_unit=unit, enrollment_year=enrolled, school_system=system)
        for number in range(1, count + 1):
            org.add_class(db, grade=grade, number=number, now=now)
    return unit


def quick_create(
    db: Session,
    *,
    school: School,
    campus_name: str,
    system: SchoolSystem,
    stages: list[StagePlan],
    calendar: Calendar,
    now: datetime,
) -> Campus:
    """快速创建校区、年级、班级: a campus with its stages, grades and classes in one go."""
    problems: list[str] = []
    name = _clean_name(campus_name, N_("校区名称"), problems)
    if name and db.scalar(
        select(Campus.id).where(Campus.school_id == school.id, Campus.name == name)
    ):
        problems.append(N_("校区「%(name)s」已存在", name=name))
    _check_stage_plans(stages, system, set(), problems)
    if problems:
        raise Invalid(problems)
    campus = org.create_campus(db, school=school, name=name)
    for plan in stages:
        _build_stage(db, campus=campus, plan=plan, system=system, calendar=calendar, now=now)
    db.refresh(campus)
    return campus


def add_stages(
    db: Session,
    *,
    campus: Campus,
    system: SchoolSystem,
    stages: list[StagePlan],
    calendar: Calendar,
    now: datetime,
) -> list[StageUnit]:
    """新增学段: stages a campus is missing, with their grades and classes."""
    problems: list[str] = []
    existing = {unit.stage for unit in campus.stages}
    current = campus_system(campus)
    if (
        current is not None
        and current is not system
        and any(p.stage is not Stage.SENIOR for p in stages)
    ):
        problems.append(
            N_("该校区已使用%(current)s，同一校区的小学和初中须使用相同学制", current=current.label)
        )
    _check_stage_plans(stages, system, existing, problems)
    if problems:
        raise Invalid(problems)
    units = [
        _build_stage(db, campus=campus, plan=plan, system=system, calendar=calendar, now=now)
        for plan in stages
    ]
    db.refresh(campus)
    return units


def grade_year_choices(unit: StageUnit, calendar: Calendar) -> list[tuple[int, str]]:
    """Enrollment years a new grade of the stage may have, with labels like 一年级2026级."""
    choices = []
    length = schoolyear.stage_length(unit.stage, unit.school_system)
    existing = {grade.enrollment_year for grade in unit.grades}
    overrides = overrides_of(unit)
    # Next year's intake may be set up ahead of the boundary, so year 0 is offered too.
    for year in range(0, length + 1):
        enrolled = calendar.school_year - year + 1
        if enrolled in existing:
            continue
        label = schoolyear.grade_label(
            unit.stage,
            unit.school_system,
            enrolled,
            calendar.today,
            calendar.boundary,
            overrides or None,
        )
        choices.append((enrolled, label))
    return choices


def add_grade(
    db: Session,
    *,
    unit: StageUnit,
    enrollment_year: int,
    first: int,
    last: int,
    system: SchoolSystem,
    calendar: Calendar,
    now: datetime,
) -> Grade:
    """新增年级: a grade by its enrollment year, with classes numbered first..last."""
    _hold_campus(db, unit.campus_id)
    problems: list[str] = []
    length = schoolyear.stage_length(unit.stage, system)
    year = calendar.school_year - enrollment_year + 1
    if not 0 <= year <= length:
        problems.append(
            N_(
                "入学年份须在%(first)s-%(last)s之间",
                first=calendar.school_year - length + 1,
                last=calendar.school_year + 1,
            )
        )
    elif any(grade.enrollment_year == enrollment_year for grade in unit.grades):
        problems.append(N_("%(enrollment_year)s级已存在", enrollment_year=enrollment_year))
    _check_range(first, last, problems)
    if problems:
        raise Invalid(problems)
    grade = org.add_grade(
        db, stage_unit=unit, enrollment_year=enrollment_year, school_system=system
    )
    for number in range(first, last + 1):
        org.add_class(db, grade=grade, number=number, now=now)
    db.refresh(grade)
    return grade


def _check_range(first: int, last: int, problems: list[str]) -> None:
    if not (1 <= first <= MAX_CLASS_NUMBER and 1 <= last <= MAX_CLASS_NUMBER):
        problems.append(N_("班号须在1-%(most)s之间", most=MAX_CLASS_NUMBER))
    elif first > last:
        problems.append(N_("起始班号不能大于截止班号"))
    elif last - first + 1 > MAX_CLASSES_PER_GRADE:
        problems.append(
            N_(
                "一次最多创建%(most)s个班级",
                most=MAX_CLASSES_PER_GRADE,
            )
        )


def add_classes(
    db: Session,
    *,
    grade: Grade,
    first: int,
    last: int,
    calendar: Calendar,
    now: datetime,
) -> list[SchoolClass]:
    """新增班级: one class (first == last) or a batch first..last in an existing grade.

    A class graduates with its grade: its 毕业年份 follows from the grade's 入学年份 and the
    stage's 学制 (`org.add_class` stores it), never typed.
    """
    problems: list[str] = []
    _check_range(first, last, problems)
    if not problems:
        taken = set(
            db.scalars(
                select(SchoolClass.number).where(
                    SchoolClass.grade_id == grade.id, SchoolClass.number.between(first, last)
                )
            )
        )
        name = org.grade_name(grade, calendar.today, calendar.boundary)
        problems.extend(
            N_("%(name)s%(number)s班已存在", name=name, number=number)
            for number in sorted(n for n in taken if n)
        )
    if problems:
        raise Invalid(problems)
    created = [
        org.add_class(db, grade=grade, number=number, now=now) for number in range(first, last + 1)
    ]
    db.flush()
    return created


# --------------------------------------------------------------------------- edits


def rename_campus(db: Session, *, campus: Campus, name: str) -> None:
    """Rename a campus (names are unique within the school)."""
    problems: list[str] = []
    clean = _clean_name(name, N_("校区名称"), problems)
    if clean and db.scalar(
        select(Campus.id).where(
            Campus.school_id == campus.school_id, Campus.name == clean, Campus.id != campus.id
        )
    ):
        problems.append(N_("校区「%(name)s」已存在", name=clean))
    if problems:
        raise Invalid(problems)
    campus.name = clean
    db.flush()


def edit_class(db: Session, *, school_class: SchoolClass, number: int) -> None:
    """Change an administrative class's number (班号); its 毕业年份 is its grade's."""
    problems: list[str] = []
    grade = school_class.grade
    if grade is None:
        raise Invalid(N_("教学班请在教学班页面编辑"))
    if not 1 <= number <= MAX_CLASS_NUMBER:
        problems.append(N_("班号须在1-%(most)s之间", most=MAX_CLASS_NUMBER))
    elif db.scalar(
        select(SchoolClass.id).where(
            SchoolClass.grade_id == grade.id,
            SchoolClass.number == number,
            SchoolClass.id != school_class.id,
        )
    ):
        problems.append(N_("该年级已有%(number)s班", number=number))
    if problems:
        raise Invalid(problems)
    school_class.number = number
    db.flush()


def overrides_of(unit: StageUnit) -> dict[int, str]:
    """The stage's 年级命名 overrides, keyed by year within the stage."""
    return {int(k): str(v) for k, v in (unit.grade_name_overrides or {}).items() if v}


def set_grade_names(db: Session, *, unit: StageUnit, names: dict[int, str]) -> None:
    """年级命名: custom names for years of the stage; a blank name restores the default."""
    problems: list[str] = []
    length = schoolyear.stage_length(unit.stage, unit.school_system)
    clean: dict[str, str] = {}
    for year, value in names.items():
        text = " ".join((value or "").split())
        if not 1 <= year <= length:
            problems.append(
                N_("%(stage)s只有%(length)s个年级", stage=unit.stage.label, length=length)
            )
        elif len(text) > 16:
            problems.append(N_("年级名称不能超过16个字"))
        elif text:
            clean[str(year)] = text
    if len(set(clean.values())) != len(clean):
        problems.append(N_("年级名称不能重复"))
    if problems:
        raise Invalid(problems)
    unit.grade_name_overrides = clean
    db.flush()


def promote(db: Session, *, grade: Grade, calendar: Calendar) -> None:
    """升级 by hand, ahead of the school-year boundary (the boundary would do it anyway)."""
    if org.is_graduated(grade, calendar.today, calendar.boundary):
        raise Invalid(N_("该年级已毕业"))
    if grade.year_offset and grade.promoted_school_year == calendar.school_year:
        raise Invalid(N_("该年级本学年已升级过，新学年开始后将自动顺延"))
    unit = grade.stage_unit
    year = schoolyear.year_in_stage(grade.enrollment_year, calendar.today, calendar.boundary)
    if year >= schoolyear.stage_length(unit.stage, grade.school_system):
        raise Invalid(N_("该年级已是本学段最高年级，请使用「毕业」"))
    clash = _grade_in_year(grade, year + 1, calendar)
    if clash is not None:
        name = org.grade_name(clash, calendar.today, calendar.boundary)
        raise Invalid(
            N_(
                "升级后将与本学段的%(name)s重名。请先将%(name)s升级或毕业，再升级该年级",
                name=name,
            )
        )
    grade.year_offset = 1
    grade.promoted_school_year = calendar.school_year
    db.flush()


def _hold_campus(db: Session, campus_id: int) -> None:
    """Changes to a campus's grades wait for one another (a row lock on the campus; SQLite has
    one writer anyway) and then check the grades as they are now, not as this request read
    them: two corrections at once cannot both pass and give two grades one year (a unique
    constraint's 500)."""
    db.flush()
    db.execute(select(Campus.id).where(Campus.id == campus_id).with_for_update())
    db.expire_all()


def _year_of(grade: Grade, calendar: Calendar) -> int:
    """The grade's year in its stage today (after any promotion by hand)."""
    effective = org.effective_today(grade, calendar.today, calendar.boundary)
    return schoolyear.year_in_stage(grade.enrollment_year, effective, calendar.boundary)


def _grade_in_year(grade: Grade, year: int, calendar: Calendar) -> Grade | None:
    """Another current grade of the same stage that is in this year (and so has its name)."""
    for other in grade.stage_unit.grades:
        if other.id == grade.id or org.is_graduated(other, calendar.today, calendar.boundary):
            continue
        if _year_of(other, calendar) == year:
            return other
    return None


def unpromote(db: Session, *, grade: Grade, calendar: Calendar) -> None:
    """撤销升级: a promotion by hand taken back, within the school year it was made in."""
    if grade.graduated_at is not None:
        raise Invalid(N_("该年级已毕业，请先撤销毕业"))
    if not (grade.year_offset and grade.promoted_school_year == calendar.school_year):
        raise Invalid(N_("该年级本学年没有手动升级，无可撤销"))
    year = schoolyear.year_in_stage(grade.enrollment_year, calendar.today, calendar.boundary)
    clash = _grade_in_year(grade, year, calendar)
    if clash is not None:
        name = org.grade_name(clash, calendar.today, calendar.boundary)
        raise Invalid(N_("撤销后将与本学段的%(name)s重名。请先撤销%(name)s的升级", name=name))
    grade.year_offset = 0
    grade.promoted_school_year = None
    db.flush()


def ungraduate(db: Session, *, grade: Grade, calendar: Calendar) -> None:
    """撤销毕业: a graduation by hand taken back, within the school year it was made in.

    Refused where it would put a student in two current classes (placed in another class since
    the graduation) or give the stage two grades of one name.
    """
    if grade.graduated_at is None:
        raise Invalid(N_("该年级不是手动毕业的，无法撤销"))
    graduated_on = as_utc(grade.graduated_at).astimezone(SHANGHAI).date()
    if schoolyear.school_year(graduated_on, calendar.boundary) != calendar.school_year:
        raise Invalid(N_("只能撤销本学年的毕业"))
    clash = _grade_in_year(grade, _year_of(grade, calendar), calendar)
    if clash is not None:
        raise Invalid(
            N_(
                "撤销后将与本学段的%(name)s重名",
                name=org.grade_name(clash, calendar.today, calendar.boundary),
            )
        )
    class_ids = [c.id for c in grade.classes if c.kind is ClassKind.ADMINISTRATIVE]
    if class_ids:
        others = db.scalar(
            select(func.count())
            .select_from(ClassStudent)
            .join(SchoolClass, SchoolClass.id == ClassStudent.class_id)
            .where(
                SchoolClass.school_id == grade.stage_unit.campus.school_id,
                SchoolClass.kind == ClassKind.ADMINISTRATIVE,
                SchoolClass.id.not_in(class_ids),
                ClassStudent.student_id.in_(
                    select(ClassStudent.student_id).where(ClassStudent.class_id.in_(class_ids))
                ),
            )
        )
        if others:
            raise Invalid(
                N_(
                    "毕业后已有%(n)s名学生编入其他班级，撤销毕业会使他们同时在两个班级，"
                    "请先处理这些学生",
                    n=others,
                )
            )
    grade.graduated_at = None
    db.flush()


def graduate(db: Session, *, grade: Grade, calendar: Calendar, now: datetime) -> None:
    """毕业 by hand: the grade and its classes leave the active tree; members are kept."""
    if org.is_graduated(grade, calendar.today, calendar.boundary):
        raise Invalid(N_("该年级已毕业"))
    unit = grade.stage_unit
    effective = org.effective_today(grade, calendar.today, calendar.boundary)
    year = schoolyear.year_in_stage(grade.enrollment_year, effective, calendar.boundary)
    if year < schoolyear.stage_length(unit.stage, grade.school_system):
        raise Invalid(N_("只有本学段最高年级可以毕业，请先升级"))
    grade.graduated_at = now
    db.flush()


# --------------------------------------------------------------------------- deletes


def _member_problems(db: Session, class_ids: list[int]) -> list[str]:
    if not class_ids:
        return []
    problems = []
    students = db.scalar(
        select(func.count()).select_from(ClassStudent).where(ClassStudent.class_id.in_(class_ids))
    )
    teachers = db.scalar(
        select(func.count()).select_from(ClassTeacher).where(ClassTeacher.class_id.in_(class_ids))
    )
    if students:
        problems.append(N_("其中还有%(students)s名学生，请先将学生换班或移出", students=students))
    if teachers:
        problems.append(N_("其中还有%(teachers)s个任教安排，请先移除老师", teachers=teachers))
    return problems


def _delete_classes(db: Session, class_ids: list[int]) -> None:
    if not class_ids:
        return
    db.execute(delete(CadrePosition).where(CadrePosition.class_id.in_(class_ids)))
    db.execute(delete(JoinRequest).where(JoinRequest.class_id.in_(class_ids)))
    db.execute(delete(SchoolClass).where(SchoolClass.id.in_(class_ids)))


def delete_class(db: Session, *, school_class: SchoolClass) -> None:
    """Delete a class that has no members."""
    problems = _member_problems(db, [school_class.id])
    if problems:
        raise Invalid([N_("该班级不能删除："), *problems])
    _delete_classes(db, [school_class.id])
    db.flush()


def _grade_class_ids(db: Session, grade_ids: list[int]) -> list[int]:
    if not grade_ids:
        return []
    return list(db.scalars(select(SchoolClass.id).where(SchoolClass.grade_id.in_(grade_ids))))


def delete_grade(db: Session, *, grade: Grade) -> None:
    """Delete a grade whose classes have no members and which has no grade leader."""
    class_ids = _grade_class_ids(db, [grade.id])
    problems = _member_problems(db, class_ids)
    if db.scalar(select(GradeLeader.id).where(GradeLeader.grade_id == grade.id)):
        problems.append(N_("该年级设有年级组长，请先取消"))
    if problems:
        raise Invalid([N_("该年级不能删除："), *problems])
    _delete_classes(db, class_ids)
    db.delete(grade)
    db.flush()


def delete_stage(db: Session, *, unit: StageUnit) -> None:
    """Delete a stage whose grades are all empty."""
    grade_ids = [grade.id for grade in unit.grades]
    class_ids = _grade_class_ids(db, grade_ids)
    problems = _member_problems(db, class_ids)
    if grade_ids and db.scalar(select(GradeLeader.id).where(GradeLeader.grade_id.in_(grade_ids))):
        problems.append(N_("其中有年级设有年级组长，请先取消"))
    if problems:
        raise Invalid([N_("该学段不能删除："), *problems])
    _delete_classes(db, class_ids)
    db.delete(unit)
    db.flush()


def delete_campus(db: Session, *, campus: Campus) -> None:
    """Delete a campus with nothing and nobody in it (no students parked there either)."""
    grade_ids = [grade.id for unit in campus.stages for grade in unit.grades]
    class_ids = list(db.scalars(select(SchoolClass.id).where(SchoolClass.campus_id == campus.id)))
    problems = _member_problems(db, class_ids)
    if grade_ids and db.scalar(select(GradeLeader.id).where(GradeLeader.grade_id.in_(grade_ids))):
        problems.append(N_("其中有年级设有年级组长，请先取消"))
    parked = db.scalar(
        select(func.count())
        .select_from(SchoolMembership)
        .where(SchoolMembership.current(), SchoolMembership.campus_id == campus.id)
    )
    if parked:
        problems.append(N_("校区存放中还有%(parked)s名学生，请先分班或移出学校", parked=parked))
    if problems:
        raise Invalid([N_("该校区不能删除："), *problems])
    _delete_classes(db, class_ids)
    # Ended memberships may still remember the campus they were parked at.
    db.execute(
        update(SchoolMembership)
        .where(SchoolMembership.campus_id == campus.id)
        .values(campus_id=None)
    )
    db.delete(campus)
    db.flush()


# --------------------------------------------------------------------------- teaching classes


def create_teaching_class(
    db: Session, *, campus: Campus, name: str, subject: str, now: datetime
) -> SchoolClass:
    """教学班: a subject group of the campus that draws students from several classes."""
    problems: list[str] = []
    clean = _clean_name(name, N_("教学班名称"), problems)
    clean_subject = _clean_name(subject, N_("学科"), problems)
    if clean and db.scalar(
        select(SchoolClass.id).where(
            SchoolClass.school_id == campus.school_id,
            SchoolClass.kind == ClassKind.TEACHING,
            SchoolClass.name == clean,
        )
    ):
        problems.append(N_("教学班「%(name)s」已存在", name=clean))
    if problems:
        raise Invalid(problems)
    school_class = SchoolClass(
        school_id=campus.school_id,
        campus_id=campus.id,
        grade_id=None,
        kind=ClassKind.TEACHING,
        number=None,
        name=clean,
        subject=clean_subject,
        class_code=org.new_class_code(db),
        created_at=now,
    )
    db.add(school_class)
    db.flush()
    return school_class


def edit_teaching_class(db: Session, *, school_class: SchoolClass, name: str, subject: str) -> None:
    """Rename a teaching class or change its subject."""
    problems: list[str] = []
    clean = _clean_name(name, N_("教学班名称"), problems)
    clean_subject = _clean_name(subject, N_("学科"), problems)
    if clean and db.scalar(
        select(SchoolClass.id).where(
            SchoolClass.school_id == school_class.school_id,
            SchoolClass.kind == ClassKind.TEACHING,
            SchoolClass.name == clean,
            SchoolClass.id != school_class.id,
        )
    ):
        problems.append(N_("教学班「%(name)s」已存在", name=clean))
    if problems:
        raise Invalid(problems)
    school_class.name = clean
    school_class.subject = clean_subject
    db.flush()


# --------------------------------------------------------------------------- corrections


def _record_correction(
    db: Session,
    *,
    action: AuditAction,
    actor: Actor,
    school_id: int,
    now: datetime,
    detail: dict[str, object],
) -> None:
    audit.record(
        db,
        now=now,
        action=action,
        actor_id=actor.user_id,
        actor_role="school_admin",
        school_id=school_id,
        client=actor.client,
        detail=detail,
    )


def _follow_grade(grade: Grade) -> None:
    """Keep the classes' stored graduation year in step with their grade (nothing reads it)."""
    year = org.graduation_year_of(grade)
    for school_class in grade.classes:
        if school_class.kind is ClassKind.ADMINISTRATIVE:
            school_class.graduation_year = year


def correct_school_system(
    db: Session,
    *,
    unit: StageUnit,
    system: SchoolSystem,
    calendar: Calendar,
    now: datetime,
    actor: Actor,
) -> bool:
    """Correct a stage's 学制 set up wrongly; False if it already had it (nothing written).

    The primary and junior stages of a campus share one 学制, so correcting one corrects both.
    The current grades follow (their names and their last year change); a graduated grade keeps
    the 学制 it graduated under, so none comes back. Refused where a current grade would be past
    the stage's last year under the new 学制.
    """
    if unit.stage is Stage.SENIOR:
        raise Invalid(N_("高中学段在各学制下均为三年，无需更正学制"))
    _hold_campus(db, unit.campus_id)
    units = [u for u in unit.campus.stages if u.stage is not Stage.SENIOR]
    changed = [u for u in units if u.school_system is not system]
    if not changed:
        return False
    problems: list[str] = []
    current: list[Grade] = []
    for each in changed:
        length = schoolyear.stage_length(each.stage, system)
        for grade in each.grades:
            if org.is_graduated(grade, calendar.today, calendar.boundary):
                continue
            current.append(grade)
            if _year_of(grade, calendar) > length:
                problems.append(
                    N_(
                        "改为%(system)s后%(stage)s只有%(length)s个年级，%(name)s（%(year)s级）"
                        "将超出学段。请先将该年级毕业，再修改学制",
                        system=system.label,
                        stage=each.stage.label,
                        length=length,
                        name=org.grade_name(grade, calendar.today, calendar.boundary),
                        year=grade.enrollment_year,
                    )
                )
    if problems:
        raise Invalid(problems)
    for each in changed:
        _record_correction(
            db,
            action=AuditAction.STAGE_SYSTEM_CORRECTED,
            actor=actor,
            school_id=each.campus.school_id,
            now=now,
            detail={"stage_id": each.id, "old": each.school_system.value, "new": system.value},
        )
        each.school_system = system
    for grade in current:
        grade.school_system = system
        _follow_grade(grade)
    db.flush()
    return True


def correct_enrollment_year(
    db: Session,
    *,
    grade: Grade,
    enrollment_year: int,
    calendar: Calendar,
    now: datetime,
    actor: Actor,
) -> bool:
    """Correct a current grade's 入学年份; False if it already had it (nothing written).

    Refused where the grade would graduate by it, start beyond the next school year, share its
    year with another grade of the stage, or take the name of another current grade.
    """
    _hold_campus(db, grade.stage_unit.campus_id)
    if org.is_graduated(grade, calendar.today, calendar.boundary):
        raise Invalid(N_("该年级已毕业，不能修改入学年份"))
    if enrollment_year == grade.enrollment_year:
        return False
    unit = grade.stage_unit
    length = schoolyear.stage_length(unit.stage, grade.school_system)
    # A promotion by hand this school year moves the grade one year ahead, whatever its year.
    ahead = grade.year_offset if grade.promoted_school_year == calendar.school_year else 0
    first = calendar.school_year - length + 1 + ahead
    last = calendar.school_year + 1
    if not first <= enrollment_year <= last:
        raise Invalid(N_("入学年份须在%(first)s-%(last)s之间", first=first, last=last))
    if any(
        other.id != grade.id and other.enrollment_year == enrollment_year for other in unit.grades
    ):
        raise Invalid(N_("%(enrollment_year)s级已存在", enrollment_year=enrollment_year))
    year = calendar.school_year - enrollment_year + 1 + ahead
    clash = _grade_in_year(grade, year, calendar) if year >= 1 else None
    if clash is not None:
        raise Invalid(
            N_(
                "修改后将与本学段的%(name)s重名",
                name=org.grade_name(clash, calendar.today, calendar.boundary),
            )
        )
    _record_correction(
        db,
        action=AuditAction.GRADE_ENROLLMENT_CORRECTED,
        actor=actor,
        school_id=unit.campus.school_id,
        now=now,
        detail={"grade_id": grade.id, "old": grade.enrollment_year, "new": enrollment_year},
    )
    grade.enrollment_year = enrollment_year
    _follow_grade(grade)
    db.flush()
    return True

"""Who may manage or see a school's or a district's organisation: the one place it is decided.

Default deny. Only the school's own administrators manage it; a grade leader sees the grade
they lead (and its classes), read-only. A district's page (its schools and their counts) is
for platform administrators only: no district-level role exists, and a school's administrator
has no business with the other schools' figures. Everything else is refused, whatever the URL
says.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from campusid.i18n import N_
from campusid.org.models import Grade, School, SchoolClass, StageUnit
from campusid.security.permissions import Permission, Principal

NOT_YOUR_SCHOOL = N_("您不是该学校的管理员,无权管理该学校")
NOT_YOUR_GRADE = N_("您无权查看该年级")
NOT_YOUR_DISTRICT = N_("您无权查看区县组织")


class AccessDenied(Exception):  # noqa: N818 - flow control, mapped to a 403 page
    """The actor may not do this here."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_school_admin(db: Session, principal: Principal, school_id: int) -> School:
    """The school, if the actor administers it; otherwise AccessDenied (or None-like 404)."""
    if not principal.has(Permission.SCHOOL_MANAGE) or school_id not in principal.admin_school_ids:
        raise AccessDenied(NOT_YOUR_SCHOOL)
    school = db.get(School, school_id)
    if school is None:
        raise AccessDenied(NOT_YOUR_SCHOOL)
    return school


def is_school_admin(principal: Principal, school_id: int) -> bool:
    """Whether the actor administers the school (for showing or hiding actions only)."""
    return principal.has(Permission.SCHOOL_MANAGE) and school_id in principal.admin_school_ids


def grade_of(db: Session, school_class: SchoolClass) -> Grade | None:
    """The grade an administrative class belongs to."""
    return db.get(Grade, school_class.grade_id) if school_class.grade_id else None


def school_of_grade(grade: Grade) -> int:
    """The school a grade belongs to."""
    unit: StageUnit = grade.stage_unit
    return unit.campus.school_id


def check_grade_view(db: Session, principal: Principal, school_id: int, grade: Grade) -> None:
    """Let the school's administrators and the grade's leaders see a grade; refuse the rest."""
    if school_of_grade(grade) != school_id:
        raise AccessDenied(NOT_YOUR_GRADE)
    if is_school_admin(principal, school_id):
        return
    if principal.has(Permission.GRADE_VIEW) and grade.id in principal.led_grade_ids:
        return
    raise AccessDenied(NOT_YOUR_GRADE)


def check_class_view(
    db: Session, principal: Principal, school_id: int, school_class: SchoolClass
) -> None:
    """Let the school's administrators, and the leader of the class's grade, see a class."""
    if school_class.school_id != school_id:
        raise AccessDenied(NOT_YOUR_GRADE)
    if is_school_admin(principal, school_id):
        return
    grade = grade_of(db, school_class)
    if grade is None:
        raise AccessDenied(NOT_YOUR_GRADE)
    check_grade_view(db, principal, school_id, grade)


def check_district_view(principal: Principal) -> None:
    """Let platform administrators see districts and their schools' counts; refuse the rest."""
    if not principal.has(Permission.DISTRICT_VIEW):
        raise AccessDenied(NOT_YOUR_DISTRICT)

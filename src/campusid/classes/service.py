"""Class membership rules: students, teachers and the homeroom teacher of a class."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid.accounts.models import User
from campusid.classes.models import ClassStudent, ClassTeacher
from campusid.org.models import SchoolClass


def enroll_student(
    db: Session,
    *,
    school_class: SchoolClass,
    student: User,
    now: datetime,
    student_number: str | None = None,
) -> ClassStudent:
    """Put a student in a class (adds them to the class's student list)."""
    member = ClassStudent(
        class_id=school_class.id,
        student_id=student.id,
        student_number=student_number,
        joined_at=now,
    )
    db.add(member)
    db.flush()
    return member


def assign_teacher(
    db: Session,
    *,
    school_class: SchoolClass,
    teacher: User,
    subject: str | None = None,
    homeroom: bool = False,
) -> ClassTeacher:
    """Make someone a teacher of the class; `homeroom` makes them its 班主任 (only one)."""
    if homeroom:
        for other in db.scalars(
            select(ClassTeacher).where(
                ClassTeacher.class_id == school_class.id,
                ClassTeacher.is_homeroom.is_(True),
            )
        ):
            other.is_homeroom = False
    existing = db.scalar(
        select(ClassTeacher).where(
            ClassTeacher.class_id == school_class.id,
            ClassTeacher.teacher_id == teacher.id,
        )
    )
    if existing is None:
        existing = ClassTeacher(class_id=school_class.id, teacher_id=teacher.id)
        db.add(existing)
    existing.subject = subject
    existing.is_homeroom = homeroom
    db.flush()
    return existing


# families: a child's classes and who heads them (told when a parent links the child).
def classes_of_student(db: Session, *, student_id: int) -> list[SchoolClass]:
    """The classes the student is in."""
    return list(
        db.scalars(
            select(SchoolClass)
            .join(ClassStudent, ClassStudent.class_id == SchoolClass.id)
            .where(ClassStudent.student_id == student_id)
            .order_by(SchoolClass.id)
        )
    )


def homeroom_teacher_ids(db: Session, *, student_id: int) -> list[int]:
    """The homeroom teachers (班主任) of the student's classes."""
    return list(
        db.scalars(
            select(ClassTeacher.teacher_id)
            .join(ClassStudent, ClassStudent.class_id == ClassTeacher.class_id)
            .where(ClassStudent.student_id == student_id, ClassTeacher.is_homeroom.is_(True))
            .distinct()
        )
    )

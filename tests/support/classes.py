"""Helpers for the class tests: a second school, audit rows, the shown password."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid.accounts import service as accounts
from campusid.accounts.models import SchoolRole, User
from campusid.audit.models import AuditEvent
from campusid.classes import enrolment
from campusid.classes import service as classes
from campusid.context import Services
from campusid.demo import DEMO_PASSWORD
from campusid.org import service as org
from campusid.org.models import SchoolClass
from campusid.org.schoolyear import SchoolSystem, Stage

NEW_PASSWORD = re.compile(r"新密码为：\s*<strong class=\"secret\">([^<]+)</strong>")


@dataclass
class OtherSchool:
    """A second school with its own administrator, homeroom teacher and student."""

    admin: User
    teacher: User
    student: User
    school_class: SchoolClass


def build_other_school(db: Session, services: Services) -> OtherSchool:
    """Another school: admin `qt_admin`, homeroom teacher `qt_teacher`, student `qt_student`."""
    now = services.clock.now()
    school = org.create_school(
        db,
        name="越城实验学校",
        district=None,
        default_password="Ycsy@2468",
        hasher=services.hasher,
        now=now,
    )
    campus = org.create_campus(db, school=school, name="越城校区")
    unit = org.add_stage(
        db, campus=campus, stage=Stage.PRIMARY, school_system=SchoolSystem.SIX_THREE
    )
    grade = org.add_grade(db, stage_unit=unit, enrollment_year=2022)
    school_class = org.add_class(db, grade=grade, number=1, now=now)
    own = services.hasher.hash(DEMO_PASSWORD)

    def person(username: str, name: str, role: SchoolRole) -> User:
        user = accounts.new_user(db, username=username, real_name=name, now=now, password_hash=own)
        db.flush()
        accounts.join_school(db, user=user, school_id=school.id, role=role, now=now)
        return user

    admin = person("qt_admin", "钱管理", SchoolRole.SCHOOL_ADMIN)
    teacher = person("qt_teacher", "钱老师", SchoolRole.TEACHER)
    student = person("qt_student", "钱同学", SchoolRole.STUDENT)
    classes.assign_teacher(db, school_class=school_class, teacher=teacher, homeroom=True)
    enrolment.enrol(db, school_class=school_class, student=student, now=now)
    db.commit()
    return OtherSchool(admin, teacher, student, school_class)


def audit_rows(db: Session, action: str) -> list[AuditEvent]:
    """The audit events of one action, oldest first."""
    db.expire_all()
    return list(
        db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
    )


def new_password_of(html: str) -> str:
    """The password shown on the mobile result dialog."""
    match = NEW_PASSWORD.search(html)
    assert match, html[:2000]
    return match.group(1)

"""A second school with its own administrator, and small helpers for the school pages."""

from __future__ import annotations

import io
import re
from typing import Any

from openpyxl import Workbook, load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid.accounts import service as accounts
from campusid.accounts.models import SchoolRole, User
from campusid.context import Services
from campusid.demo import DEMO_PASSWORD
from campusid.identifiers import id_card_check_digit
from campusid.org import service as org
from campusid.org.models import District, School, SchoolClass
from campusid.org.schoolyear import SchoolSystem, Stage
from campusid.roster.service import COLUMNS


def id_card(region: str = "330603", birth: str = "20150101", seq: str = "123") -> str:
    """A valid ID card number."""
    first17 = region + birth + seq
    return first17 + id_card_check_digit(first17)


def school_with_class(
    db: Session,
    services: Services,
    *,
    name: str,
    district: District | None,
    default_password: str,
    campus: str = "本部",
    enrollment_year: int = 2024,
) -> SchoolClass:
    """A school with one campus, a primary stage (六三制), one grade and its class 1."""
    now = services.clock.now()
    school = org.create_school(
        db,
        name=name,
        district=district,
        default_password=default_password,
        hasher=services.hasher,
        now=now,
    )
    place = org.create_campus(db, school=school, name=campus)
    unit = org.add_stage(
        db, campus=place, stage=Stage.PRIMARY, school_system=SchoolSystem.SIX_THREE
    )
    grade = org.add_grade(db, stage_unit=unit, enrollment_year=enrollment_year)
    return org.add_class(db, grade=grade, number=1, now=now)


def other_school(db: Session, services: Services) -> tuple[School, User, SchoolClass]:
    """另一所学校 with its administrator `yy_admin` and one class."""
    now = services.clock.now()
    school_class = school_with_class(
        db, services, name="另一所学校", district=None, default_password="Other#2026x"
    )
    school = school_class.school
    admin = accounts.new_user(
        db,
        username="yy_admin",
        real_name="另管理",
        now=now,
        password_hash=services.hasher.hash(DEMO_PASSWORD),
    )
    db.flush()
    accounts.join_school(db, user=admin, school_id=school.id, role=SchoolRole.SCHOOL_ADMIN, now=now)
    db.commit()
    return school, admin, school_class


def xlsx(rows: list[list[Any]], header: list[str] | tuple[str, ...] = COLUMNS) -> bytes:
    """A workbook with the header and rows, as an upload."""
    book = Workbook()
    sheet = book.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def read_xlsx(data: bytes, sheet: int = 0) -> list[list[Any]]:
    """The rows of a downloaded workbook."""
    book = load_workbook(io.BytesIO(data))
    return [list(r) for r in book.worksheets[sheet].iter_rows(values_only=True)]


def counts(html: str) -> str:
    """The first "N个老师 N个学生 N个家长" on a page."""
    found = re.search(r"(\d+)个老师 (\d+)个学生 (\d+)个家长", html)
    assert found, "no counts on the page"
    return found.group(0)


def user(db: Session, username: str) -> User:
    """An account by username, fresh from the database."""
    db.expire_all()
    found = db.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


def import_roster(client: Any, school_id: int, data: bytes, name: str = "学生.xlsx") -> Any:
    """批量导入: upload (上传并预览) and, if the preview came, confirm it (确认导入).

    Returns the preview's response when the upload was refused, else the confirmation's.
    """
    from tests.support.http import post_form

    preview = post_form(
        client,
        f"/school/{school_id}/roster/import",
        files={"file": (name, data, "application/octet-stream")},
    )
    found = re.search(r'name="token" value="([^"]+)"', preview.text)
    if preview.status_code != 200 or not found:
        return preview
    return post_form(
        client, f"/school/{school_id}/roster/import/confirm", {"token": found.group(1)}
    )

"""扫码登录卡 in tests: turn badges on for a class, print them, read the codes off the page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session

from campusid.badges.models import BadgeStageSetting
from campusid.badges.service import PREFIX
from campusid.org.models import SchoolClass
from tests.support.http import post_form

CARD = re.compile(r'data-student="(\d+)" data-badge="([A-Za-z0-9_-]+)"')


def enable_for_class(
    db: Session, school_class: SchoolClass, *, years: list[int] | None = None
) -> None:
    """Badges on for the class's grade (the demo's 五年级 is year 5 of its primary stage)."""
    db.expire_all()
    loaded = db.get(SchoolClass, school_class.id)
    assert loaded is not None and loaded.grade is not None
    stage_id = loaded.grade.stage_id
    row = db.get(BadgeStageSetting, stage_id)
    if row is None:
        db.add(BadgeStageSetting(stage_id=stage_id, years=years or [5]))
    else:
        row.years = years or [5]
    db.commit()


def printed_codes(response: Response) -> dict[int, str]:
    """The printable page's badges: pupil id -> what the QR code says."""
    assert response.status_code == 200, response.text[:1000]
    return {int(uid): PREFIX + token for uid, token in CARD.findall(response.text)}


def print_badges(client: TestClient, class_id: int, *student_ids: int) -> dict[int, str]:
    """打印 from the class's badge page (all its pupils when none is named)."""
    data = {"student_id": [str(s) for s in student_ids]} if student_ids else {}
    return printed_codes(post_form(client, f"/classes/{class_id}/badges/print", data))


def scan(client: TestClient, code: str, next_path: str = "/") -> Response:
    """扫码登录 with a code (what the camera or a USB scanner reads)."""
    return post_form(client, "/login/badge", {"code": code, "next": next_path})

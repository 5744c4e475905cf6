"""The demo world as test data, with handles on its people and classes."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid import demo
from campusid.accounts.models import User
from campusid.context import Services
from campusid.org.models import School, SchoolClass


@dataclass
class World:
    """Handles on the demo data."""

    school: School
    class51: SchoolClass
    class52: SchoolClass
    users: dict[str, User]

    def __getitem__(self, username: str) -> User:
        return self.users[username]


def build_world(db: Session, services: Services) -> World:
    """Load the demo data and return handles on it."""
    demo.load(db, services)
    db.flush()
    users = {u.username: u for u in db.scalars(select(User))}
    school = db.scalar(select(School).where(School.name == "之江汇学校"))
    class51 = db.scalar(select(SchoolClass).where(SchoolClass.class_code == "gu22cm"))
    assert school is not None and class51 is not None
    class52 = db.scalar(
        select(SchoolClass).where(SchoolClass.grade_id == class51.grade_id, SchoolClass.number == 2)
    )
    assert class52 is not None
    return World(school=school, class51=class51, class52=class52, users=users)

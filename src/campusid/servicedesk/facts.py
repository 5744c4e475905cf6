"""What an account's verification facts are, and whether a caller's answer matches one.

The agent types what the caller says; the system compares it with the account, so the agent
never needs to see the account's real name, class, ID card number or parents' names.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid.accounts.models import AccountStatus, SchoolMembership, SchoolRole, User
from campusid.classes.models import ClassStudent
from campusid.families.models import ParentLink
from campusid.org import service as org_service
from campusid.org.models import School, SchoolClass
from campusid.org.schoolyear import YearBoundary
from campusid.servicedesk.models import Fact

_SPACES = re.compile(r"\s+")
_CHINESE_DIGITS = str.maketrans("一二三四五六七八九〇零", "12345678900")


def normalise(text: str | None) -> str:
    """Compare names loosely: no spaces, Chinese digits as digits (五年级一班 = 5年级1班)."""
    return _SPACES.sub("", text or "").translate(_CHINESE_DIGITS).lower()


def same(a: str | None, b: str | None) -> bool:
    """Whether two answers are the same after normalising (constant-time on the result)."""
    left, right = normalise(a), normalise(b)
    return bool(left) and hmac.compare_digest(left.encode(), right.encode())


@dataclass
class AccountFacts:
    """The facts of one account that a caller can be asked about."""

    real_name: str
    id_card_tail: str | None
    phone: str | None
    # (school name, class name) pairs; class "" where the person is in the school but no class.
    placements: list[tuple[str, str]] = field(default_factory=list)
    # Linked parents' names (a child's account) or linked children's names (a parent's account).
    linked_names: list[str] = field(default_factory=list)
    linked_are_children: bool = False
    # Linked parents' bound phones, as (parent id, phone), oldest link first (a child's account).
    parent_phones: list[tuple[int, str]] = field(default_factory=list)
    # A child's account: a pupil somewhere, or linked to a parent. Its temporary password is
    # never read out over the phone.
    is_child: bool = False

    def applicable(self, fact: Fact) -> bool:
        """Whether this fact can be asked about this account."""
        return {
            Fact.REAL_NAME: bool(self.real_name),
            Fact.SCHOOL_CLASS: bool(self.placements),
            Fact.ID_CARD_TAIL: bool(self.id_card_tail),
            Fact.PARENT_NAME: bool(self.linked_names),
            Fact.PHONE_CODE: bool(self.phone or self.parent_phones),
        }[fact]

    def matches(self, fact: Fact, answer: str, class_name: str = "") -> bool:
        """Whether the caller's answer matches the account (not for the phone code)."""
        if fact is Fact.REAL_NAME:
            return same(answer, self.real_name)
        if fact is Fact.ID_CARD_TAIL:
            return self.id_card_tail is not None and same(answer.upper(), self.id_card_tail)
        if fact is Fact.PARENT_NAME:
            # Every name is compared, so the time does not tell which one matched.
            return any([same(answer, name) for name in self.linked_names])  # noqa: C419
        if fact is Fact.SCHOOL_CLASS:
            return any(
                [  # noqa: C419 - compare them all
                    same(answer, school) and (not klass or same(class_name, klass))
                    for school, klass in self.placements
                ]
            )
        raise ValueError(f"{fact} is checked by its code")


def facts_of(db: Session, user: User, *, today: date, boundary: YearBoundary) -> AccountFacts:
    """Gather the account's facts (its schools and current classes, its family links)."""
    schools = {
        school.id: school.name
        for school in db.scalars(
            select(School)
            .join(SchoolMembership, SchoolMembership.school_id == School.id)
            .where(SchoolMembership.current(user_id=user.id))
        )
    }
    placements: list[tuple[str, str]] = []
    placed_schools: set[int] = set()
    for school_class in db.scalars(
        select(SchoolClass)
        .join(ClassStudent, ClassStudent.class_id == SchoolClass.id)
        .where(ClassStudent.student_id == user.id)
    ):
        if org_service.class_graduated(school_class, today, boundary):
            continue
        if school_class.school_id in schools:
            placements.append(
                (
                    schools[school_class.school_id],
                    org_service.class_display_name(school_class, today, boundary),
                )
            )
            placed_schools.add(school_class.school_id)
    placements.extend((name, "") for sid, name in schools.items() if sid not in placed_schools)

    parent_rows = db.execute(
        select(User.id, User.real_name, User.phone, User.status)
        .join(ParentLink, ParentLink.parent_id == User.id)
        .where(ParentLink.child_id == user.id)
        .order_by(ParentLink.id)
    ).all()
    parents = [row.real_name for row in parent_rows]
    parent_phones = [
        (row.id, row.phone)
        for row in parent_rows
        if row.phone and row.status is AccountStatus.ACTIVE
    ]
    is_pupil = db.scalar(
        select(SchoolMembership.id)
        .where(SchoolMembership.current(user_id=user.id, role=SchoolRole.STUDENT))
        .limit(1)
    )
    children = list(
        db.scalars(
            select(User.real_name)
            .join(ParentLink, ParentLink.child_id == User.id)
            .where(ParentLink.parent_id == user.id)
        )
    )
    return AccountFacts(
        real_name=user.real_name,
        id_card_tail=user.id_card_number[-4:] if user.id_card_number else None,
        phone=user.phone,
        placements=placements,
        linked_names=parents or children,
        linked_are_children=not parents and bool(children),
        parent_phones=parent_phones,
        is_child=bool(parents) or is_pupil is not None,
    )

"""Fixtures shared by the functional tests."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from campusid.context import Services
from tests.support.classes import OtherSchool, build_other_school


@pytest.fixture
def other_school(db: Session, services: Services, world) -> OtherSchool:  # type: ignore[no-untyped-def]
    """A second school (越城实验学校) beside the demo world."""
    return build_other_school(db, services)

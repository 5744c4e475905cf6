"""The objects a school console URL names, found inside the page's school (else 404)."""

from __future__ import annotations

from typing import Any

from campusid.members import service as members
from campusid.org.deps import SchoolPage
from campusid.org.models import Campus, Grade, SchoolClass, StageUnit
from campusid.org.tree import SchoolTree
from campusid.web import NotFound


def node(tree: SchoolTree, kind: str, node_id: int) -> Any:
    """The tree's node of that kind and id."""
    found = tree.find(kind, node_id)
    if found is None:
        raise NotFound
    return found


def campus(page: SchoolPage, campus_id: int) -> Campus:
    """A campus of the page's school."""
    found = page.db.get(Campus, campus_id)
    if found is None or found.school_id != page.school_id:
        raise NotFound
    return found


def stage(page: SchoolPage, stage_id: int) -> StageUnit:
    """A stage (学段) of the page's school."""
    unit = page.db.get(StageUnit, stage_id)
    if unit is None or unit.campus.school_id != page.school_id:
        raise NotFound
    return unit


def grade(page: SchoolPage, grade_id: int) -> Grade:
    """A grade of the page's school."""
    found = members.grade_in(page.db, page.school, grade_id)
    if found is None:
        raise NotFound
    return found


def school_class(page: SchoolPage, class_id: int) -> SchoolClass:
    """A class (administrative or teaching) of the page's school."""
    found = members.school_class(page.db, page.school, class_id)
    if found is None:
        raise NotFound
    return found

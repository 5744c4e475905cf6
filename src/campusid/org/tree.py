"""The organisation tree as pages show it, with exact member counts on every node.

The counts come from `org.counts.school_counts`, counted from the membership rows each time
they are shown, never stored, so they cannot drift and no "recount" button is needed. The tree
costs the school's loading (`load_school`), its teaching classes and the two queries of the
counts, however many classes the school has.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from campusid.i18n import N_
from campusid.org import counts
from campusid.org import service as org
from campusid.org.counts import Counts
from campusid.org.models import Campus, ClassKind, Grade, School, SchoolClass, StageUnit
from campusid.org.schoolyear import Calendar


@dataclass
class Node:
    """A node of the tree: its kind, id, label, children and counts."""

    kind: str  # school, campus, stage, grade, class, teaching
    id: int
    label: str
    url: str
    counts: Counts = field(default_factory=Counts)
    children: list[Node] = field(default_factory=list)
    graduated: bool = False
    obj: object = None

    def walk(self) -> Iterable[Node]:
        """This node and every node below it."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class SchoolTree:
    """The whole school: the active tree, teaching classes and graduated grades."""

    root: Node
    teaching: list[Node]
    graduated: list[Node]
    by_key: dict[tuple[str, int], Node]

    def find(self, kind: str, node_id: int) -> Node | None:
        """The node of that kind and id, if it is in this school."""
        return self.by_key.get((kind, node_id))

    def search(self, text: str, limit: int = 50) -> list[Node]:
        """Nodes whose name contains the text, or whose 班级编码/校区编码 is the text."""
        wanted = text.strip()
        if not wanted:
            return []
        found = []
        graduated = (node for grade in self.graduated for node in grade.walk())
        for node in (*self.root.walk(), *self.teaching, *graduated):
            code = getattr(node.obj, "class_code", None) or getattr(node.obj, "code", None) or ""
            if node.kind != "school" and (wanted in node.label or wanted.lower() == code.lower()):
                found.append(node)
        return found[:limit]

    def path_to(self, kind: str, node_id: int) -> list[Node]:
        """The nodes from the school down to the one named (for the breadcrumb)."""
        target = self.find(kind, node_id)
        if target is None:
            return []

        def search(node: Node, trail: list[Node]) -> list[Node] | None:
            if node is target:
                return [*trail, node]
            for child in node.children:
                found = search(child, [*trail, node])
                if found:
                    return found
            return None

        for top in (self.root, *self.graduated, *self.teaching):
            found = search(top, [])
            if found:
                return found if found[0] is self.root else [self.root, *found]
        return [target]


def grade_label(grade: Grade, calendar: Calendar) -> str:
    """一年级2020级, or the stage's own 年级命名."""
    if org.is_graduated(grade, calendar.today, calendar.boundary):
        return N_("%(year)s级（已毕业）", year=grade.enrollment_year)
    name = org.grade_name(grade, calendar.today, calendar.boundary)
    return N_("%(name)s%(year)s级", name=name, year=grade.enrollment_year)


def load_school(db: Session, school_id: int) -> School | None:
    """The school with its campuses, stages and grades loaded in a few queries."""
    return db.scalar(
        select(School)
        .where(School.id == school_id)
        .options(
            selectinload(School.campuses)
            .selectinload(Campus.stages)
            .selectinload(StageUnit.grades)
            .selectinload(Grade.classes)
        )
    )


def build_tree(db: Session, school: School, calendar: Calendar) -> SchoolTree:
    """The organisation tree of a school with the counts of every node (`org.counts`)."""
    base = f"/school/{school.id}"
    found = counts.school_counts(db, school_id=school.id, calendar=calendar)
    by_key: dict[tuple[str, int], Node] = {}

    def node(kind: str, node_id: int, label: str, url: str, obj: object) -> Node:
        level = "class" if kind == "teaching" else kind
        made = Node(kind, node_id, label, url, counts=found.of(level, node_id), obj=obj)
        by_key[(level, node_id)] = made
        return made

    root = node("school", school.id, school.name, base, school)
    graduated: list[Node] = []
    for campus in school.campuses:
        campus_node = node("campus", campus.id, campus.name, f"{base}/campuses/{campus.id}", campus)
        root.children.append(campus_node)
        for unit in campus.stages:
            stage_node = node("stage", unit.id, unit.stage.label, f"{base}/stages/{unit.id}", unit)
            campus_node.children.append(stage_node)
            for grade in unit.grades:
                is_done = org.is_graduated(grade, calendar.today, calendar.boundary)
                label = grade_label(grade, calendar)
                if is_done:
                    label = N_(
                        "%(campus)s · %(stage)s · %(grade)s",
                        campus=campus.name,
                        stage=unit.stage.label,
                        grade=label,
                    )
                grade_node = node("grade", grade.id, label, f"{base}/grades/{grade.id}", grade)
                grade_node.graduated = is_done
                (graduated if is_done else stage_node.children).append(grade_node)
                for school_class in grade.classes:
                    name = (
                        N_(
                            "%(year)s级%(number)s班",
                            year=grade.enrollment_year,
                            number=school_class.number,
                        )
                        if is_done
                        else org.class_display_name(school_class, calendar.today, calendar.boundary)
                    )
                    class_node = node(
                        "class",
                        school_class.id,
                        name,
                        f"{base}/classes/{school_class.id}",
                        school_class,
                    )
                    class_node.graduated = is_done
                    grade_node.children.append(class_node)

    teaching = [
        node(
            "teaching",
            school_class.id,
            school_class.name or school_class.class_code,
            f"{base}/classes/{school_class.id}",
            school_class,
        )
        for school_class in sorted(
            db.scalars(
                select(SchoolClass).where(
                    SchoolClass.school_id == school.id, SchoolClass.kind == ClassKind.TEACHING
                )
            ),
            key=lambda c: (c.name or "", c.id),
        )
    ]
    graduated.sort(key=lambda n: -getattr(n.obj, "enrollment_year", 0))
    return SchoolTree(root=root, teaching=teaching, graduated=graduated, by_key=by_key)

"""The organisation tree as pages show it, with exact member counts on every node.

The tree's shape and labels (the outline) are kept per process, keyed by the very rows they are
drawn from (`outline`): reading the key is two plain statements, however many classes the
school has, and a change anywhere is another key. The counts come from
`org.counts.school_counts`, counted from the membership rows each time they are shown, never
stored, so they cannot drift and no "recount" button is needed; `with_counts` lays them over a
copy of the outline.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from sqlalchemy import Integer, Select, bindparam, select
from sqlalchemy.orm import Session, selectinload

from campusid.i18n import N_
from campusid.org import counts
from campusid.org import service as org
from campusid.org.counts import Counts
from campusid.org.models import Campus, ClassKind, Grade, School, SchoolClass, StageUnit
from campusid.org.schoolyear import Calendar, SchoolSystem


@dataclass(frozen=True)
class Facts:
    """What pages show of a node beside its label: plain values, not the row's object, so
    that an outline can be kept across requests (`outline`)."""

    code: str | None = None  # a campus's 校区编码
    school_system: SchoolSystem | None = None  # a stage's or grade's 学制
    enrollment_year: int | None = None  # a grade's
    class_code: str | None = None  # a class's 班级编码
    subject: str | None = None  # a teaching class's


def _facts(obj: object) -> Facts:
    if isinstance(obj, Campus):
        return Facts(code=obj.code)
    if isinstance(obj, StageUnit):
        return Facts(school_system=obj.school_system)
    if isinstance(obj, Grade):
        return Facts(school_system=obj.school_system, enrollment_year=obj.enrollment_year)
    if isinstance(obj, SchoolClass):
        return Facts(class_code=obj.class_code, subject=obj.subject)
    return Facts()


@dataclass
class Node:
    """A node of the tree: its kind, id, label, children and counts (None in an outline)."""

    kind: str  # school, campus, stage, grade, class, teaching
    id: int
    label: str
    url: str
    counts: Counts | None = None
    children: list[Node] = field(default_factory=list)
    graduated: bool = False
    facts: Facts = field(default_factory=Facts)

    @property
    def level(self) -> str:
        """The level its counts and its key are under (a teaching class is a class)."""
        return "class" if self.kind == "teaching" else self.kind

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
            code = node.facts.class_code or node.facts.code or ""
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
    """The organisation tree of a school, without counts: an outline (`Node.counts` is None;
    `with_counts` lays them over it). A template given None for a count fails loudly rather
    than show a zero."""
    base = f"/school/{school.id}"
    by_key: dict[tuple[str, int], Node] = {}

    def node(kind: str, node_id: int, label: str, url: str, obj: object) -> Node:
        made = Node(kind, node_id, label, url, facts=_facts(obj))
        by_key[(made.level, node_id)] = made
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
    graduated.sort(key=lambda n: -(n.facts.enrollment_year or 0))
    return SchoolTree(root=root, teaching=teaching, graduated=graduated, by_key=by_key)


def with_counts(tree: SchoolTree, found: counts.SchoolCounts) -> SchoolTree:
    """A copy of the tree with every node's counts (the outline itself is left as it is: it
    is shared between requests)."""
    by_key: dict[tuple[str, int], Node] = {}

    def copy(node: Node) -> Node:
        made = replace(
            node,
            counts=found.of(node.level, node.id),
            children=[copy(child) for child in node.children],
        )
        by_key[(node.level, node.id)] = made
        return made

    return SchoolTree(
        root=copy(tree.root),
        teaching=[copy(n) for n in tree.teaching],
        graduated=[copy(n) for n in tree.graduated],
        by_key=by_key,
    )


def counted_tree(db: Session, school: School, calendar: Calendar) -> SchoolTree:
    """The school's tree with the counts of every node, live (`org.counts.school_counts`):
    the kept outline and the two statements of the counts, given the graduated grades the
    outline found (the same rule, `org.is_graduated`)."""
    tree = outline(db, school, calendar)
    graduated = [node.id for node in tree.graduated]
    found = counts.school_counts(db, school_id=school.id, calendar=calendar, graduated=graduated)
    return with_counts(tree, found)


# --------------------------------------------------------------------------- the sidebar's outline


class _Outlines:
    """The last outlines drawn, by what they were drawn from (a bounded LRU, per process)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._trees: OrderedDict[Hashable, SchoolTree] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> SchoolTree | None:
        with self._lock:
            tree = self._trees.get(key)
            if tree is not None:
                self._trees.move_to_end(key)
            return tree

    def put(self, key: Hashable, tree: SchoolTree) -> None:
        with self._lock:
            self._trees[key] = tree
            self._trees.move_to_end(key)
            while len(self._trees) > self.size:
                self._trees.popitem(last=False)


_OUTLINES = _Outlines(512)


@cache
def _organisation_rows() -> tuple[Select[Any], Select[Any]]:
    """The statements of `_outline_key` (parameter `school_id`), built once: every column of
    the school's campuses, stages and grades (one outer-joined read), and of its classes."""
    school_id = bindparam("school_id", type_=Integer)
    campus, stage, grade = Campus.__table__, StageUnit.__table__, Grade.__table__
    places = (
        select(campus, stage, grade)
        .select_from(campus)
        .outerjoin(stage, stage.c.campus_id == campus.c.id)
        .outerjoin(grade, grade.c.stage_id == stage.c.id)
        .where(campus.c.school_id == school_id)
        .order_by(campus.c.id, stage.c.id, grade.c.id)
    )
    classes = SchoolClass.__table__
    return places, select(classes).where(classes.c.school_id == school_id).order_by(classes.c.id)


def _frozen(value: object) -> Hashable:
    """A column's value as part of a key (a JSON column's dict as its sorted text)."""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def _outline_key(db: Session, school: School, calendar: Calendar) -> Hashable:
    """Everything an outline is drawn from: the school's name, today's calendar, and every
    column of its campuses, stages, grades and classes, read as plain rows (two statements,
    no objects built)."""
    places, classes = _organisation_rows()
    parameters = {"school_id": school.id}
    return (
        school.id,
        school.name,
        calendar,
        tuple(tuple(map(_frozen, row)) for row in db.execute(places, parameters)),
        tuple(tuple(map(_frozen, row)) for row in db.execute(classes, parameters)),
    )


def outline(db: Session, school: School, calendar: Calendar) -> SchoolTree:
    """The tree the console's sidebar draws on every page: the nodes without counts or objects.

    Building it (the school's objects, five statements, the labels) cost more than the rest of
    a page such as 成员管理; it is kept per process, keyed by the very rows it is drawn from
    (`_outline_key`), so it cannot be stale: any change to a campus, stage, grade or class, a
    new day or another school-year boundary is another key. Reading the key is two plain
    statements. A tree built while the rows changed under it (read again after building, in
    PostgreSQL's read-committed transactions) is drawn but not kept.
    """
    key = _outline_key(db, school, calendar)
    tree = _OUTLINES.get(key)
    if tree is not None:
        return tree
    loaded = load_school(db, school.id)
    assert loaded is not None
    tree = build_tree(db, loaded, calendar)
    if _outline_key(db, school, calendar) == key:
        _OUTLINES.put(key, tree)
    return tree

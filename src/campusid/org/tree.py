"""The organisation tree as pages show it, with exact member counts on every node.

Counts are computed from the membership rows each time they are shown, never stored, so they
cannot drift and no "recount" button is needed. A school is a few hundred classes at most; the
whole tree costs four queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from campusid.accounts.models import SchoolMembership, SchoolRole
from campusid.classes.models import ClassStudent, ClassTeacher
from campusid.families.models import ParentLink
from campusid.i18n import N_
from campusid.org import service as org
from campusid.org.building import Calendar, overrides_of
from campusid.org.models import Campus, ClassKind, Grade, School, SchoolClass, StageUnit


@dataclass
class Counts:
    """Distinct teachers, students and parents under a node."""

    teachers: int = 0
    students: int = 0
    parents: int = 0

    def __str__(self) -> str:
        return f"{self.teachers}个老师 {self.students}个学生 {self.parents}个家长"


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
    parked: int = 0

    def walk(self) -> Iterable[Node]:
        """This node and every node below it."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class _People:
    teachers: set[int] = field(default_factory=set)
    students: set[int] = field(default_factory=set)

    def add(self, other: _People) -> None:
        self.teachers |= other.teachers
        self.students |= other.students


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
        return N_("%(year)s级(已毕业)", year=grade.enrollment_year)
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
    """The organisation tree of a school with the counts of every node."""
    base = f"/school/{school.id}"
    classes = list(db.scalars(select(SchoolClass).where(SchoolClass.school_id == school.id)))
    teachers_of: dict[int, set[int]] = defaultdict(set)
    students_of: dict[int, set[int]] = defaultdict(set)
    class_ids = [c.id for c in classes]
    if class_ids:
        for class_id, teacher_id in db.execute(
            select(ClassTeacher.class_id, ClassTeacher.teacher_id)
            .join(SchoolClass, SchoolClass.id == ClassTeacher.class_id)
            .where(SchoolClass.school_id == school.id)
        ):
            teachers_of[class_id].add(teacher_id)
        for class_id, student_id in db.execute(
            select(ClassStudent.class_id, ClassStudent.student_id)
            .join(SchoolClass, SchoolClass.id == ClassStudent.class_id)
            .where(SchoolClass.school_id == school.id)
        ):
            students_of[class_id].add(student_id)
    parked_at: dict[int, set[int]] = defaultdict(set)
    for user_id, campus_id in db.execute(
        select(SchoolMembership.user_id, SchoolMembership.campus_id).where(
            SchoolMembership.school_id == school.id,
            SchoolMembership.role == SchoolRole.STUDENT,
            SchoolMembership.active.is_(True),
            SchoolMembership.campus_id.is_not(None),
        )
    ):
        if campus_id is not None:
            parked_at[campus_id].add(user_id)
    parents_of: dict[int, set[int]] = defaultdict(set)
    for child_id, parent_id in db.execute(
        select(ParentLink.child_id, ParentLink.parent_id).where(
            ParentLink.child_id.in_(
                select(SchoolMembership.user_id).where(
                    SchoolMembership.school_id == school.id,
                    SchoolMembership.role == SchoolRole.STUDENT,
                )
            )
        )
    ):
        parents_of[child_id].add(parent_id)

    def counts(people: _People) -> Counts:
        parents: set[int] = set()
        for student in people.students:
            parents |= parents_of.get(student, set())
        return Counts(len(people.teachers), len(people.students), len(parents))

    def class_people(class_id: int) -> _People:
        return _People(set(teachers_of.get(class_id, ())), set(students_of.get(class_id, ())))

    by_key: dict[tuple[str, int], Node] = {}
    school_people = _People()
    root = Node("school", school.id, school.name, base, obj=school)
    graduated: list[Node] = []
    for campus in school.campuses:
        campus_node = Node(
            "campus", campus.id, campus.name, f"{base}/campuses/{campus.id}", obj=campus
        )
        campus_people = _People(students=set(parked_at.get(campus.id, ())))
        campus_node.parked = len(parked_at.get(campus.id, ()))
        for unit in campus.stages:
            stage_node = Node(
                "stage", unit.id, unit.stage.label, f"{base}/stages/{unit.id}", obj=unit
            )
            stage_people = _People()
            for grade in unit.grades:
                is_done = org.is_graduated(grade, calendar.today, calendar.boundary)
                grade_node = Node(
                    "grade",
                    grade.id,
                    grade_label(grade, calendar),
                    f"{base}/grades/{grade.id}",
                    graduated=is_done,
                    obj=grade,
                )
                grade_people = _People()
                for school_class in grade.classes:
                    people = class_people(school_class.id)
                    grade_people.add(people)
                    class_node = Node(
                        "class",
                        school_class.id,
                        org.class_display_name(school_class, calendar.today, calendar.boundary),
                        f"{base}/classes/{school_class.id}",
                        counts=counts(people),
                        graduated=is_done,
                        obj=school_class,
                    )
                    if is_done:
                        class_node.label = N_(
                            "%(year)s级%(number)s班",
                            year=grade.enrollment_year,
                            number=school_class.number,
                        )
                    grade_node.children.append(class_node)
                    by_key[("class", school_class.id)] = class_node
                grade_node.counts = counts(grade_people)
                by_key[("grade", grade.id)] = grade_node
                if is_done:
                    grade_node.label = N_(
                        "%(campus)s · %(stage)s · %(grade)s",
                        campus=campus.name,
                        stage=unit.stage.label,
                        grade=grade_node.label,
                    )
                    graduated.append(grade_node)
                else:
                    stage_node.children.append(grade_node)
                    stage_people.add(grade_people)
            stage_node.counts = counts(stage_people)
            by_key[("stage", unit.id)] = stage_node
            campus_node.children.append(stage_node)
            campus_people.add(stage_people)
        campus_node.counts = counts(campus_people)
        by_key[("campus", campus.id)] = campus_node
        root.children.append(campus_node)
        school_people.add(campus_people)

    teaching: list[Node] = []
    for school_class in sorted(classes, key=lambda c: (c.name or "", c.id)):
        if school_class.kind is not ClassKind.TEACHING:
            continue
        people = class_people(school_class.id)
        node = Node(
            "teaching",
            school_class.id,
            school_class.name or school_class.class_code,
            f"{base}/classes/{school_class.id}",
            counts=counts(people),
            obj=school_class,
        )
        teaching.append(node)
        by_key[("class", school_class.id)] = node
        school_people.teachers |= people.teachers

    # Teachers of the school count even before they are given a class.
    school_people.teachers |= set(
        db.scalars(
            select(SchoolMembership.user_id).where(
                SchoolMembership.school_id == school.id,
                SchoolMembership.role == SchoolRole.TEACHER,
                SchoolMembership.active.is_(True),
            )
        )
    )
    root.counts = counts(school_people)
    root.parked = sum(len(v) for v in parked_at.values())
    by_key[("school", school.id)] = root
    graduated.sort(key=lambda n: -getattr(n.obj, "enrollment_year", 0))
    return SchoolTree(root=root, teaching=teaching, graduated=graduated, by_key=by_key)


def stage_grade_names(unit: StageUnit) -> dict[int, str]:
    """The overrides of a stage, for its settings page."""
    return overrides_of(unit)

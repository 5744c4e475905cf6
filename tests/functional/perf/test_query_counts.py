"""No N+1 queries: the SQL statements a page runs do not grow with the rows it shows.

Each page is fetched twice, with few and with many rows behind it (10 then 60 students in the
class, 1 then 4 taught classes, 1 then 4 children, ...); the statements counted on the test
engine (`before_cursor_execute`) must be the same both times.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from campusid.accounts import service as accounts
from campusid.accounts.models import Gender, SchoolRole, User
from campusid.classes import enrolment
from campusid.classes import service as classes
from campusid.classes.models import CadrePosition, ClassParent
from campusid.context import Services
from campusid.families import service as families
from campusid.families.models import Relation
from campusid.messaging import service as messaging
from campusid.org import service as org
from campusid.org.models import SchoolClass
from tests.support.http import post_form, sign_in
from tests.support.schools import school_with_class

_serial = itertools.count(1)


class StatementCounter:
    """Counts the statements sent to the database while active."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.active = False

    def __call__(self, _conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if self.active:
            self.statements.append(statement)

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        self.statements = []
        self.active = True
        try:
            yield self.statements
        finally:
            self.active = False


@pytest.fixture
def counter(services: Services) -> Iterator[StatementCounter]:
    found = StatementCounter()
    event.listen(services.engine, "before_cursor_execute", found)
    yield found
    event.remove(services.engine, "before_cursor_execute", found)


def _person(db: Session, services: Services, name: str, **fields: object) -> User:
    serial = next(_serial)
    user = accounts.new_user(
        db,
        username=f"perf_{serial}",
        real_name=f"{name}{serial}",
        now=services.clock.now(),
        password_hash=None,
        **fields,
    )
    db.flush()
    return user


def add_students(
    db: Session, services: Services, school_class: SchoolClass, count: int, parents: bool = True
) -> list[User]:
    """`count` new students in the class, each with a parent linked (and one joined by code)."""
    now = services.clock.now()
    added = []
    for _ in range(count):
        student = _person(db, services, "学生", gender=Gender.FEMALE)
        accounts.join_school(
            db, user=student, school_id=school_class.school_id, role=SchoolRole.STUDENT, now=now
        )
        member = enrolment.enrol(
            db, school_class=school_class, student=student, now=now, student_number=str(student.id)
        )
        member.cadre_position = "班长" if student.id % 7 == 0 else None
        if parents:
            parent = _person(db, services, "家长", is_parent=True)
            families.link(db, parent=parent, child=student, relation=Relation.MOTHER, now=now)
            db.add(ClassParent(class_id=school_class.id, parent_id=parent.id, joined_at=now))
        added.append(student)
    db.commit()
    return added


def grow_to(db: Session, services: Services, school_class: SchoolClass, size: int) -> None:
    """Add students until the class has `size` of them."""
    have = len(classes.students_of(db, school_class=school_class))
    add_students(db, services, school_class, size - have)


def _normal(statement: str) -> str:
    return re.sub(r"sa_savepoint_\d+", "sa_savepoint", statement)


def assert_flat(
    counter: StatementCounter,
    fetch: Callable[[], object],
    grow: Callable[[], None],
    page: str,
) -> int:
    """The page's statement count before and after `grow` must be equal."""
    with counter.counting() as few:
        fetch()
    grow()
    with counter.counting() as many:
        fetch()
    extra = Counter(map(_normal, many)) - Counter(map(_normal, few))
    assert len(many) == len(few), (
        f"{page}: {len(few)} statements with few rows, {len(many)} with many; repeated:\n"
        + "\n---\n".join(f"{n}x {sql}" for sql, n in extra.items())
    )
    return len(many)


def _ok(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text[:500]


# --------------------------------------------------------------------------- class pages


def test_class_student_list_web_and_search(client, db, services, world, counter):
    class51 = world.class51
    db.add(CadrePosition(class_id=class51.id, name="班长"))
    grow_to(db, services, class51, 10)
    sign_in(client, "chenxiaokai")
    base = f"/classes/{class51.id}/manage/students"

    def fetch() -> None:
        response = client.get(base)
        _ok(response)
        _ok(client.get(base, params={"q": "学生"}))

    assert_flat(counter, fetch, lambda: grow_to(db, services, class51, 60), "班级学生")
    assert client.get(base).text.count('name="student_ids"') >= 60


def test_class_pages_mobile(client, db, services, world, counter):
    class51 = world.class51
    grow_to(db, services, class51, 10)
    sign_in(client, "chenxiaokai")

    def fetch() -> None:
        for path in ("", "/members", "/invite"):
            _ok(client.get(f"/m/classes/{class51.id}{path}"))

    assert_flat(counter, fetch, lambda: grow_to(db, services, class51, 60), "手机 班级成员")


def test_class_home_teachers_and_requests(client, db, services, world, counter):
    class51 = world.class51
    grow_to(db, services, class51, 10)
    sign_in(client, "chenxiaokai")

    def fetch() -> None:
        for path in ("", "/manage/teachers", "/manage/requests", "/manage/positions"):
            _ok(client.get(f"/classes/{class51.id}{path}"))

    assert_flat(counter, fetch, lambda: grow_to(db, services, class51, 60), "班级主页")


def _more_classes(db: Session, services: Services, world, count: int) -> None:  # type: ignore[no-untyped-def]
    """The homeroom teacher gets `count` more classes, each with students."""
    now = services.clock.now()
    teacher = world["chenxiaokai"]
    grade = world.class51.grade
    for _ in range(count):
        number = 10 + next(_serial)
        school_class = org.add_class(db, grade=grade, number=number, now=now)
        classes.assign_teacher(db, school_class=school_class, teacher=teacher, subject="数学")
        add_students(db, services, school_class, 5)
    db.commit()


def test_teaching_lists(client, db, services, world, counter):
    grow_to(db, services, world.class51, 10)
    sign_in(client, "chenxiaokai")

    def fetch() -> None:
        _ok(client.get("/teaching"))
        _ok(client.get("/m/classes"))

    assert_flat(counter, fetch, lambda: _more_classes(db, services, world, 3), "任教班级")


# --------------------------------------------------------------------------- personal pages


def test_personal_space_and_notices(client, db, services, world, counter):
    user = world["chenxiaokai"]
    now = services.clock.now()

    def notices(count: int) -> None:
        for n in range(count):
            messaging.notify(
                db, user_id=user.id, kind="info", title=f"通知{n}", body="内容", now=now
            )
        db.commit()

    notices(2)
    sign_in(client, "chenxiaokai")

    def fetch() -> None:
        for path in ("/", "/me", "/notices", "/account/security"):
            _ok(client.get(path))

    assert_flat(counter, fetch, lambda: notices(30), "个人空间 / 消息")


def test_my_children_for_a_parent_of_several(client, db, services, world, counter):
    parent = world["p_lidaniang"]
    now = services.clock.now()

    def children(count: int) -> None:
        both = itertools.cycle([world.class51, world.class52])
        for school_class in itertools.islice(both, count):
            (child,) = add_students(db, services, school_class, 1, parents=False)
            families.link(db, parent=parent, child=child, relation=Relation.MOTHER, now=now)
        db.commit()

    sign_in(client, "p_lidaniang")

    def fetch() -> None:
        _ok(client.get("/me/children"))
        _ok(client.get("/me"))

    assert_flat(counter, fetch, lambda: children(4), "我的孩子")


# --------------------------------------------------------------------------- the hotline


def test_agent_search_results(client, db, services, world, counter):
    def namesakes(count: int) -> None:
        now = services.clock.now()
        for _ in range(count):
            student = _person(db, services, "同名")
            student.real_name = "王同名"
            accounts.join_school(
                db, user=student, school_id=world.school.id, role=SchoolRole.STUDENT, now=now
            )
        db.commit()

    namesakes(1)
    sign_in(client, "kefu01")

    def fetch() -> None:
        response = post_form(client, "/servicedesk/search", {"name": "王同名", "school": "之江汇"})
        _ok(response)

    assert_flat(counter, fetch, lambda: namesakes(8), "客服 查找账号")


def test_school_parent_links(client, db, services, world, counter):
    grow_to(db, services, world.class51, 10)
    sign_in(client, "xx_admin")

    def fetch() -> None:
        _ok(client.get("/school/links"))

    assert_flat(counter, fetch, lambda: grow_to(db, services, world.class51, 60), "家长关联")


# --------------------------------------------------------------------------- organisation pages


def test_school_organisation_page(client, db, services, world, counter):
    grade = world.class51.grade
    sign_in(client, "xx_admin")
    numbers = itertools.count(3)

    def grow() -> None:
        for _ in range(4):
            school_class = org.add_class(
                db, grade=grade, number=next(numbers), now=services.clock.now()
            )
            add_students(db, services, school_class, 3)

    def fetch() -> None:
        _ok(client.get(f"/school/{world.school.id}"))
        _ok(client.get(f"/school/{world.school.id}/grades/{grade.id}"))

    assert_flat(counter, fetch, grow, "组织管理")


def test_district_pages(client, db, services, world, counter):
    district_id = world.school.district_id
    sign_in(client, "pt_admin")

    def grow() -> None:
        for _ in range(3):
            school_class = school_with_class(
                db,
                services,
                name=f"柯桥第{next(_serial)}小学",
                district=world.school.district,
                default_password="Kq2x@2468",
            )
            add_students(db, services, school_class, 2)

    def fetch() -> None:
        _ok(client.get(f"/district/{district_id}"))
        _ok(client.get("/districts"))

    assert_flat(counter, fetch, grow, "区县组织")

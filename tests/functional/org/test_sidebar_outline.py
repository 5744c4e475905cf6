"""The console's sidebar (issue 25): an outline of the school kept per process, never stale.

Every school console page draws the organisation tree on the left. Pages other than the tree's
own draw it from `org.tree.outline`, kept per process and keyed by the rows it is drawn from:
these tests change the organisation behind the app's back (another session, as another worker
would) and in the app, move the calendar, and check that the next page shows the change; and
that an unchanged organisation is not built again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from campusid.org import building
from campusid.org import service as org
from campusid.org.models import Campus, SchoolClass
from tests.support.http import post_form, sign_in


@pytest.fixture
def admin(client, world):  # type: ignore[no-untyped-def]
    sign_in(client, "xx_admin")
    return client


@pytest.fixture
def statements(services) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_rest) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(services.engine, "before_cursor_execute", record)
    yield seen
    event.remove(services.engine, "before_cursor_execute", record)


def _sidebar(html: str) -> str:
    start = html.index('class="card org-tree"')
    return html[start : html.index("</aside>", start)]


def _builds(seen: list[str]) -> int:
    """How many times the school's objects were loaded to build a tree (`load_school`)."""
    return sum("FROM campuses" in s and "campuses.school_id IN" in s for s in seen)


def test_an_unchanged_organisation_is_drawn_without_building_it_again(admin, world, statements):
    page = f"/school/{world.school.id}/teachers"
    first = admin.get(page)
    assert first.status_code == 200 and "五年级1班" in _sidebar(first.text)
    statements.clear()
    again = admin.get(page)
    assert _sidebar(again.text) == _sidebar(first.text)
    assert _builds(statements) == 0, "the outline was built again with nothing changed"


def test_a_change_by_another_worker_shows_on_the_next_page(admin, world, db, services):
    page = f"/school/{world.school.id}/teachers"
    admin.get(page)
    # Another worker renames the campus and adds a class: the rows the outline is keyed by.
    campus = db.get(Campus, world.class51.campus_id)
    building.rename_campus(db, campus=campus, name="西校区")
    org.add_class(db, grade=world.class51.grade, number=9, now=services.clock.now())
    db.commit()
    sidebar = _sidebar(admin.get(page).text)
    assert "西校区" in sidebar and "五年级9班" in sidebar


def test_a_change_in_the_console_shows_and_the_page_before_is_not_drawn_again(
    admin, world, db, statements
):
    school = world.school
    page = f"/school/{school.id}/roster"
    assert "五年级1班" in _sidebar(admin.get(page).text)
    renumbered = post_form(
        admin, f"/school/{school.id}/classes/{world.class51.id}/edit", {"number": "7"}
    )
    assert renumbered.status_code == 303, renumbered.text[:300]
    db.expire_all()
    assert db.get(SchoolClass, world.class51.id).number == 7
    statements.clear()
    sidebar = _sidebar(admin.get(page).text)
    assert "五年级7班" in sidebar and "五年级1班" not in sidebar
    assert _builds(statements) == 1


def test_a_new_school_year_renames_the_grades_in_the_sidebar(admin, world, clock):
    page = f"/school/{world.school.id}/teachers"
    assert "五年级2022级" in _sidebar(admin.get(page).text)
    clock.set(datetime(2027, 9, 2, 2, 0, tzinfo=UTC))
    sign_in(admin, "xx_admin")  # the session has lapsed by then
    sidebar = _sidebar(admin.get(page).text)
    assert "六年级2022级" in sidebar and "五年级2022级" not in sidebar


def test_the_tabs_that_show_counts_still_count(admin, world, db, clock):
    school = world.school
    made = post_form(
        admin,
        f"/school/{school.id}/teaching/new",
        {"campus_id": world.class51.campus_id, "name": "数学提高班", "subject": "数学"},
    )
    assert made.status_code == 303, made.text[:300]
    teaching = admin.get(f"/school/{school.id}/teaching")
    assert teaching.status_code == 200 and "数学提高班" in teaching.text
    table = teaching.text.split("</thead>", 1)[1]
    row = next(r for r in table.split("</tr>") if "数学提高班" in r)
    made_class = db.scalar(select(SchoolClass).where(SchoolClass.name == "数学提高班"))
    assert "数学" in row and made_class.class_code in row and "0个学生" in row
    campus = db.get(Campus, world.class51.campus_id)
    campus_page = admin.get(f"/school/{school.id}/campuses/{campus.id}").text
    assert f"校区编码 {campus.code}" in campus_page
    # The tree's own page counts every node; the sidebar of another page shows no count.
    assert "个学生" in admin.get(f"/school/{school.id}").text
    assert "个学生" not in _sidebar(admin.get(f"/school/{school.id}/teachers").text)
    clock.set(datetime(2028, 9, 2, 2, 0, tzinfo=UTC))
    sign_in(admin, "xx_admin")
    graduated = admin.get(f"/school/{school.id}/graduated")
    assert graduated.status_code == 200
    assert "2022级（已毕业）" in graduated.text and "个学生" in graduated.text

"""Only a school's own administrators manage it: every page and action, refused to the rest."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from campusid.accounts.models import User
from campusid.audit.models import AuditEvent
from campusid.classes.models import ClassStudent, ClassTeacher
from campusid.org.models import Campus, SchoolClass
from tests.support.http import csrf_token, post_form, sign_in
from tests.support.schools import other_school, xlsx


def _school_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every school administration route, found from the app itself."""
    found = []

    def walk(routes) -> None:
        for route in routes:
            path = getattr(route, "path", None)
            if (
                path is not None
                and hasattr(route, "methods")
                and path.startswith("/school/{school_id}")
            ):
                found.extend((method, path) for method in route.methods if method != "HEAD")
            for attribute in ("routes", "router", "original_router"):
                inner = getattr(route, attribute, None)
                if inner is not None:
                    walk(inner if isinstance(inner, list) else getattr(inner, "routes", []))

    walk(app.routes)
    return sorted(set(found))


def _fill(path: str, world) -> str:
    ids = {
        "school_id": world.school.id,
        "campus_id": world.class51.campus_id,
        "stage_id": world.class51.grade.stage_id,
        "grade_id": world.class51.grade_id,
        "class_id": world.class51.id,
        "user_id": world["lixiaoyao"].id,
        "teacher_id": world["chenxiaokai"].id,
        "token": "x" * 32,
        "key": "x" * 32,  # issue 17: a roster import's progress
        "request_id": 9999999,  # 转学申请: refused before any request is looked up
        "client_pk": 9999999,  # issue 22: an app granted the roster; refused before the lookup
    }
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)


def _state(db) -> tuple[int, ...]:
    db.expire_all()
    return (
        db.scalar(select(func.count()).select_from(Campus)),
        db.scalar(select(func.count()).select_from(SchoolClass)),
        db.scalar(select(func.count()).select_from(ClassStudent)),
        db.scalar(select(func.count()).select_from(ClassTeacher)),
    )


def test_the_route_list_covers_the_whole_issue(app):
    routes = _school_routes(app)
    assert len(routes) >= 50
    paths = {path for _, path in routes}
    for expected in (
        "/school/{school_id}/quick-create",
        "/school/{school_id}/members/add",
        "/school/{school_id}/roster/import",
        "/school/{school_id}/settings",
        "/school/{school_id}/teachers/batch",
        "/school/{school_id}/grades/{grade_id}/promote",
    ):
        assert expected in paths


@pytest.mark.parametrize("who", ["yy_admin", "chenxiaokai", "lixiaoyao", "p_lidaniang"])
def test_everyone_but_the_schools_admins_is_refused_everywhere(
    client, world, db, services, app, who
):
    other_school(db, services)
    sign_in(client, who)
    token = csrf_token(client)
    before = _state(db)
    routes = _school_routes(app)
    for method, path in routes:
        url = _fill(path, world)
        if method == "GET":
            response = client.get(url)
        elif path.endswith("/roster/import"):
            response = client.post(
                url, data={"csrf_token": token}, files={"file": ("a.xlsx", xlsx([]), "x")}
            )
        else:
            response = post_form(
                client,
                url,
                {
                    "class_id": world.class52.id,
                    "name": "改名",
                    "teacher_id": world["zhaoshuxue"].id,
                    "campus_name": "入侵校区",
                    "stage_primary": "on",
                },
            )
        assert response.status_code == 403, (who, method, url, response.status_code)
        assert "学校" in response.text or "无权" in response.text
    assert _state(db) == before
    # One refused request, one audit row (the refusal is audited by the one handler only).
    db.expire_all()
    denied = db.scalars(
        select(AuditEvent).where(
            AuditEvent.actor_id == select(User.id).where(User.username == who).scalar_subquery(),
            AuditEvent.outcome == "denied",
        )
    ).all()
    assert len(denied) == len(routes)
    assert {e.action for e in denied} == {"access_denied"}


def test_an_admin_cannot_reach_another_schools_objects_through_their_own_school(
    client, world, db, services
):
    school2, admin2, class2 = other_school(db, services)
    sign_in(client, "yy_admin")
    # Their own school works...
    assert client.get(f"/school/{school2.id}").status_code == 200
    # ...but school 1's class, member or grade named under school 2's URL is not found.
    for url in (
        f"/school/{school2.id}/classes/{world.class51.id}/edit",
        f"/school/{school2.id}/members/{world['lixiaoyao'].id}",
        f"/school/{school2.id}/grades/{world.class51.grade_id}/settings",
        f"/school/{school2.id}/campuses/{world.class51.campus_id}",
    ):
        assert client.get(url).status_code in (403, 404), url
    for url, form in (
        (f"/school/{school2.id}/members/{world['lixiaoyao'].id}/leave", {}),
        (f"/school/{school2.id}/members/{world['lixiaoyao'].id}/move", {"class_id": class2.id}),
        (f"/school/{school2.id}/classes/{world.class51.id}/delete", {}),
        (
            f"/school/{school2.id}/teachers/assign",
            {"teacher_id": world["chenxiaokai"].id, "class_id": class2.id},
        ),
        (
            f"/school/{school2.id}/teachers/assign",
            {"teacher_id": admin2.id, "class_id": world.class51.id},
        ),
    ):
        response = post_form(client, url, form)
        assert response.status_code in (400, 403, 404), url
    db.expire_all()
    assert (
        db.scalar(
            select(ClassStudent.class_id).where(ClassStudent.student_id == world["lixiaoyao"].id)
        )
        == world.class51.id
    )
    # Searching their school never finds school 1's people.
    found = post_form(client, f"/school/{school2.id}/search", {"q": "李逍遥"}).text
    assert "没有匹配的成员" in found


def test_signed_out_visitors_go_to_the_login_page(client, world):
    response = client.get(f"/school/{world.school.id}")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert client.get("/school").headers["location"].startswith("/login")

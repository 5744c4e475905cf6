"""issue 22 (performance): users are filtered, sorted and paged in SQL, and every answer is the
one the records filtered, sorted and paged in Python give (the first implementation, kept as
the fallback). A table of filters, sorts and pages, on every user collection."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from campusid.accounts.models import User
from campusid.classes.models import ClassStudent
from campusid.oneroster import service as roster
from campusid.oneroster import sql
from campusid.oneroster.api import CLASS_FIELDS, ENROLLMENT_FIELDS, USER_FIELDS
from campusid.oneroster.query import Query
from campusid.org.models import School, SchoolClass
from campusid.org.schoolyear import calendar_for
from tests.functional.oneroster.conftest import API
from tests.functional.oneroster.test_rostering import _grant


def _roster(
    db: Any, settings: Any, clock: Any, demographics: bool = False, sparse: bool = False
) -> roster.Roster:
    """The roster of every school; `sparse`: as if the schools were a few of a large region
    (pages read the schools' ids first instead of walking every user in order)."""
    made = roster.Roster(
        db,
        roster.all_school_ids(db),
        calendar_for(settings, clock),
        base="https://id.example",
        demographics=demographics,
    )
    if sparse:
        made.__dict__["_region_schools"] = 1_000_000  # the cached count of the region's schools
    return made


def _spread_stamps(db: Any, clock: Any) -> list[str]:
    """Give the users distinct dateLastModified values (some within one millisecond)."""
    ids = list(db.scalars(select(User.id).order_by(User.id)))
    base = clock.now().replace(microsecond=0)
    for n, uid in enumerate(ids):
        micro = (n % 4) * 400  # 0, 400, 800, 1200 µs: pairs share a millisecond
        at = base - timedelta(hours=n // 3, microseconds=-micro)
        db.execute(update(User).where(User.id == uid).values(updated_at=at))
    db.commit()
    return [roster.stamp(u.updated_at) for u in db.scalars(select(User))]


def _filters(stamps: list[str], some_id: str, some_name: str) -> list[str | None]:
    middle = sorted(stamps)[len(stamps) // 2]
    return [
        None,
        f"sourcedId='{some_id}'",
        f"sourcedId!='{some_id}'",
        f"sourcedId>'{some_id}'",
        f"sourcedId<='{some_id[:8]}'",
        f"sourcedId~'{some_id[2:6].upper()}'",
        "status='active'",
        "status!='active'",
        "status>'a'",
        f"dateLastModified='{middle}'",
        f"dateLastModified!='{middle}'",
        f"dateLastModified>'{middle}'",
        f"dateLastModified>='{middle}'",
        f"dateLastModified<'{middle}'",
        f"dateLastModified<='{middle}'",
        f"dateLastModified>'{middle[:10]}'",
        f"dateLastModified<'{middle[:13]}'",
        f"dateLastModified>='{middle[:-2]}'",
        f"dateLastModified>'{middle} '",
        "dateLastModified>'2099'",
        "dateLastModified<'1999-01-01'",
        f"username='{some_name}'",
        f"username!='{some_name}'",
        f"username>'{some_name}'",
        f"username~'{some_name[:2]}'",
        "enabledUser='true'",
        "enabledUser!='true'",
        "email='a@b.c'",
        "email!='a@b.c'",
        "middleName!='x'",
        "roles='student'",
        f"givenName>'{some_name}'",
        f"dateLastModified>'{middle}' AND username<'{some_name}'",
        f"sourcedId='{some_id}' OR dateLastModified<'{middle}'",
        f"username~'{some_name[1:3]}' OR status='x'",
    ]


SORTS: list[dict[str, str]] = [
    {},
    {"sort": "sourcedId"},
    {"sort": "sourcedId", "orderBy": "desc"},
    {"sort": "username", "orderBy": "desc"},
    {"sort": "status", "orderBy": "desc"},
    {"sort": "email"},
    {"sort": "dateLastModified"},
    {"orderBy": "desc"},
]
PAGES = [("100", "0"), ("3", "4"), ("2", "0"), ("1000", "50")]


@pytest.mark.parametrize("demographics", [False, True])
def test_sql_paging_answers_as_python_does(db, world, settings, clock, demographics):
    stamps = _spread_stamps(db, clock)
    everyone = _roster(db, settings, clock, demographics).users_records()
    assert len(everyone) > 10
    pick = everyone[len(everyone) // 2]
    school = db.scalar(select(School).where(School.name == "之江汇学校"))
    classes = list(db.scalars(select(SchoolClass).where(SchoolClass.school_id == school.id)))
    scopes: list[dict[str, Any]] = [
        {},
        {"role": "student"},
        {"role": "teacher"},
        {"role": "student", "school": school},
        {"role": "teacher", "school": school},
    ]
    scopes += [{"role": r, "school_class": c} for c in classes[:2] for r in ("student", "teacher")]
    lists = [_python(db, settings, clock, demographics, scope) for scope in scopes]
    translated = 0
    # Every filter with every sort; the pages and the collections taken in turn.
    n = 0
    for text in _filters(stamps, pick["sourcedId"], pick["username"]):
        for sort in SORTS:
            n += 1
            limit, offset = PAGES[n % len(PAGES)]
            scope, records = scopes[n % len(scopes)], lists[n % len(scopes)]
            params = {**sort, "limit": limit, "offset": offset}
            if text is not None:
                params["filter"] = text
            query = Query.parse(params, USER_FIELDS)
            expected = query.apply(records)
            try:
                for sparse in (False, True):
                    made = _roster(db, settings, clock, demographics, sparse=sparse)
                    got = made.users_page(query, **scope)
                    assert got == expected, (params, scope, sparse)
            except sql.UntranslatableError:
                continue
            translated += 1
    assert translated > 150  # most of the table ran in SQL


def _python(db: Any, settings: Any, clock: Any, demographics: bool, scope: dict[str, Any]):
    data = _roster(db, settings, clock, demographics)
    if "school_class" in scope:
        return data.class_members(scope["school_class"], scope["role"])
    if "school" in scope:
        return data.school_members(scope["school"], scope["role"])
    records = data.users_records()
    if "role" in scope:
        return [u for u in records if any(r["role"] == scope["role"] for r in u["roles"])]
    return records


def test_pages_through_the_api_add_up_to_the_whole_list(db, world, clock, make_roster_app):
    app = make_roster_app("作业本")
    for school in db.scalars(select(School)):
        roster.grant(
            db,
            client_pk=app.row.id,
            school_id=school.id,
            actor_id=world["pt_admin"].id,
            now=clock.now(),
        )
    db.commit()
    params = {"sort": "sourcedId", "orderBy": "desc", "filter": "status='active'"}
    whole = app.get("/users", limit="1000", **params)
    assert whole.status_code == 200, whole.text
    users = whole.json()["users"]
    total = int(whole.headers["X-Total-Count"])
    assert total == len(users) > 5
    assert [u["sourcedId"] for u in users] == sorted((u["sourcedId"] for u in users), reverse=True)
    paged: list[dict[str, Any]] = []
    for offset in range(0, total, 4):
        page = app.get("/users", limit="4", offset=str(offset), **params)
        assert page.headers["X-Total-Count"] == str(total)
        paged += page.json()["users"]
    assert paged == users
    one = app.get(f"/users/{users[2]['sourcedId']}", fields="sourcedId,username")
    assert one.json() == {"user": {k: users[2][k] for k in ("sourcedId", "username")}}
    assert app.get("/users/" + "0" * 36).status_code == 404
    assert API.endswith("v1p2")


def test_the_streamed_export_reads_what_the_whole_roster_reads(db, world, settings, clock):
    whole = _roster(db, settings, clock)
    users, classes = whole.users_records(), whole.classes_records()
    courses = whole.courses_records()
    enrollments = [e for e in whole.enrollments_records() if e["status"] == "active"]
    assert users and classes and courses and enrollments

    def streamed() -> roster.Roster:
        return _roster(db, settings, clock)

    assert list(streamed().iter_users(batch=3)) == users
    assert list(streamed().iter_classes(batch=2)) == classes
    assert list(streamed().iter_courses(batch=2)) == courses
    assert list(streamed().iter_active_enrollments(batch=4)) == enrollments


ENROLLMENT_SORTS: list[dict[str, str]] = [
    {},
    {"orderBy": "desc"},
    {"sort": "sourcedId"},
    {"sort": "role", "orderBy": "desc"},
    {"sort": "status"},
    {"sort": "primary"},
    {"sort": "beginDate"},
]


def _school_table(
    db: Any,
    settings: Any,
    clock: Any,
    *,
    everyone: list[dict[str, Any]],
    school: School,
    filters: list[str | None],
    sorts: list[dict[str, str]],
    fields: frozenset[str],
    page: Any,
) -> int:
    """Every filter with every sort, the pages and the scopes (every school, then one) taken in
    turn: each answer `page(roster, query, **scope)` gives in SQL, as for a whole region and as
    for a few schools of a large one, must be the records filtered, sorted and paged in Python.
    Returns how many of the questions ran in SQL."""
    scopes: list[dict[str, Any]] = [{}, {"school": school}]
    translated = n = 0
    for text in filters:
        for sort in sorts:
            n += 1
            limit, offset = PAGES[n % len(PAGES)]
            scope = scopes[n % len(scopes)]
            params = {**sort, "limit": limit, "offset": offset}
            if text is not None:
                params["filter"] = text
            query = Query.parse(params, fields)
            records = everyone
            if "school" in scope:
                records = [r for r in everyone if r["school"]["sourcedId"] == school.sourced_id]
            expected = query.apply(records)
            try:
                for sparse in (False, True):
                    got = page(_roster(db, settings, clock, sparse=sparse), query, **scope)
                    assert got == expected, (params, scope, sparse)
            except sql.UntranslatableError:
                continue
            translated += 1
    return translated


def _walk(app: Any, school: School, collection: str, one: str, step: int, field: str) -> list[Any]:
    """The collection through the API: whole, paged by `step`, the one granted school's nested
    collection, one record by its sourcedId with `fields`, and an unknown id; the records."""
    whole = app.get(f"/{collection}", limit="1000")
    assert whole.status_code == 200, whole.text
    everything = whole.json()[collection]
    assert int(whole.headers["X-Total-Count"]) == len(everything) > step
    paged = []
    for offset in range(0, len(everything), step):
        paged += app.get(f"/{collection}", limit=str(step), offset=str(offset)).json()[collection]
    assert paged == everything
    mine = app.get(f"/schools/{school.sourced_id}/{collection}", limit="1000").json()
    assert mine[collection] == everything  # the one granted school
    pick = everything[1]
    found = app.get(f"/{collection}/{pick['sourcedId']}", fields=f"sourcedId,{field}")
    assert found.json() == {one: {"sourcedId": pick["sourcedId"], field: pick[field]}}
    assert app.get(f"/{collection}/" + "0" * 36).status_code == 404
    return everything


def test_enrollments_page_in_sql_as_in_python(db, world, settings, clock):
    # One enrollment ended (移出班级), so the list has a `tobedeleted` record too.
    place = db.scalars(select(ClassStudent).order_by(ClassStudent.id)).first()
    db.delete(place)
    db.commit()
    clock.advance(hours=1)
    everyone = _roster(db, settings, clock).enrollments_records()
    statuses = {e["status"] for e in everyone}
    assert statuses == {"active", "tobedeleted"} and len(everyone) > 10
    school = db.scalar(select(School).where(School.name == "之江汇学校"))
    pick = everyone[len(everyone) // 2]
    middle = sorted(e["dateLastModified"] for e in everyone)[len(everyone) // 2]
    filters: list[str | None] = [
        None,
        f"sourcedId='{pick['sourcedId']}'",
        f"sourcedId>'{pick['sourcedId']}'",
        "status='tobedeleted'",
        "status!='active'",
        "role='teacher'",
        "role='student' AND primary='false'",
        "primary='true'",
        f"user.sourcedId='{pick['user']['sourcedId']}'",
        f"class.sourcedId='{pick['class']['sourcedId']}' OR role='teacher'",
        f"school.sourcedId='{school.sourced_id}'",
        "school.type='org'",
        f"dateLastModified>'{middle}'",
        f"dateLastModified<='{middle[:10]}'",
        "endDate='2027-01-01'",
        "endDate!='2027-01-01'",
        "metadata='x'",
        "beginDate>'2020'",
        "user.href~'users'",
    ]
    translated = _school_table(
        db,
        settings,
        clock,
        everyone=everyone,
        school=school,
        filters=filters,
        sorts=ENROLLMENT_SORTS,
        fields=ENROLLMENT_FIELDS,
        page=roster.Roster.enrollments_page,
    )
    assert translated > 80


def test_enrollments_through_the_api_page_in_sql(db, world, clock, make_roster_app):
    app = make_roster_app("作业本")
    _walk(app, _grant(db, world, clock, app), "enrollments", "enrollment", 3, "role")


CLASS_SORTS: list[dict[str, str]] = [
    {},
    {"orderBy": "desc"},
    {"sort": "sourcedId"},
    {"sort": "classCode", "orderBy": "desc"},
    {"sort": "classType"},
    {"sort": "dateLastModified", "orderBy": "desc"},
    {"sort": "title"},
]


def test_classes_page_in_sql_as_in_python(db, world, settings, clock, services):
    # A teaching class (scheduled) beside the administrative ones, and distinct stamps.
    from campusid.org.models import ClassKind

    teaching = SchoolClass(
        school_id=world.class51.school_id,
        campus_id=world.class51.campus_id,
        kind=ClassKind.TEACHING,
        name="数学提高班",
        subject="数学",
        class_code="tq7k2m",
        created_at=clock.now(),
    )
    db.add(teaching)
    db.commit()
    for n, class_id in enumerate(db.scalars(select(SchoolClass.id).order_by(SchoolClass.id))):
        at = clock.now().replace(microsecond=0) - timedelta(hours=n // 2, microseconds=n * 300)
        db.execute(update(SchoolClass).where(SchoolClass.id == class_id).values(updated_at=at))
    db.commit()
    everyone = _roster(db, settings, clock).classes_records()
    assert {c["classType"] for c in everyone} == {"homeroom", "scheduled"} and len(everyone) > 3
    school = db.scalar(select(School).where(School.name == "之江汇学校"))
    pick = everyone[len(everyone) // 2]
    middle = sorted(c["dateLastModified"] for c in everyone)[len(everyone) // 2]
    filters: list[str | None] = [
        None,
        f"sourcedId='{pick['sourcedId']}'",
        f"sourcedId>'{pick['sourcedId']}'",
        f"classCode='{pick['classCode']}'",
        f"classCode~'{pick['classCode'][:2].upper()}'",
        "classType='scheduled'",
        "classType!='scheduled' AND status='active'",
        "status!='active'",
        f"dateLastModified>'{middle}'",
        f"dateLastModified<='{middle[:10]}' OR classType='scheduled'",
        f"school.sourcedId='{school.sourced_id}'",
        "title~'五年级'",
        "location=''",
    ]
    translated = _school_table(
        db,
        settings,
        clock,
        everyone=everyone,
        school=school,
        filters=filters,
        sorts=CLASS_SORTS,
        fields=CLASS_FIELDS,
        page=roster.Roster.classes_page,
    )
    assert translated > 40


def test_classes_through_the_api_page_in_sql(db, world, clock, make_roster_app):
    app = make_roster_app("作业本")
    everything = _walk(app, _grant(db, world, clock, app), "classes", "class", 2, "title")
    titled = app.get("/classes", filter="title~'班'", limit="1000")  # answered in Python
    assert titled.json()["classes"] == [c for c in everything if "班" in c["title"]]

"""issue 22: an application reads the demo's rosters through the OneRoster 1.2 binding.

It registers, takes a client_credentials token, and walks schools → classes → students →
enrollments with paging and filtering; every response is validated against the binding's JSON
Schemas (tests/functional/oneroster/schemas/). A second application without a grant sees none
of it; a bad filter is the binding's 400 payload; every call is one audit row.
"""

from __future__ import annotations

import re

from sqlalchemy import delete, select

from campusid.audit.actions import AuditAction
from campusid.audit.models import AuditEvent
from campusid.classes.models import ClassStudent, ClassTeacher
from campusid.oneroster import service as roster
from campusid.org.models import School
from tests.functional.oneroster.conftest import API, validate


def _grant(db, world, clock, app, school_name: str = "之江汇学校") -> School:
    school = db.scalar(select(School).where(School.name == school_name))
    assert school is not None
    roster.grant(
        db,
        client_pk=app.row.id,
        school_id=school.id,
        actor_id=world["pt_admin"].id,
        now=clock.now(),
    )
    db.commit()
    return school


def _next(link: str) -> str | None:
    found = re.search(r'<([^>]+)>; rel="next"', link)
    return found.group(1) if found else None


def test_an_application_walks_schools_classes_students_and_enrollments(
    db, world, clock, make_roster_app
):
    app = make_roster_app("作业本")
    school = _grant(db, world, clock, app)

    # Schools: only the granted one, with its district as parent; no database id anywhere.
    schools = app.get("/schools")
    assert schools.status_code == 200, schools.text
    body = validate(schools.json(), "org", "OrgSet")
    assert [o["name"] for o in body["orgs"]] == ["之江汇学校"]
    school_id = body["orgs"][0]["sourcedId"]
    assert school_id == school.sourced_id and school_id != str(school.id)
    assert schools.headers["X-Total-Count"] == "1"
    orgs = validate(app.get("/orgs").json(), "org", "OrgSet")["orgs"]
    assert {o["type"] for o in orgs} == {"district", "school"}
    assert "柯桥实验小学" not in {o["name"] for o in orgs}
    validate(app.get(f"/schools/{school_id}").json(), "org", "SingleOrg")
    sessions = validate(
        app.get("/academicSessions").json(), "academicSession", "AcademicSessionSet"
    )
    assert [s["type"] for s in sessions["academicSessions"]] == ["schoolYear", "term", "term"]

    # Classes, two a page, walked by the Link header to the end.
    first = app.get(f"/schools/{school_id}/classes", limit=2, sort="title")
    assert first.status_code == 200
    total = int(first.headers["X-Total-Count"])
    assert total >= 4
    titles: list[str] = []
    page = first
    while True:
        titles += [c["title"] for c in validate(page.json(), "class", "ClassSet")["classes"]]
        url = _next(page.headers["Link"])
        if url is None:
            break
        page = app.server.get(url, headers={"Authorization": f"Bearer {app.token}"})
    assert len(titles) == total and titles == sorted(titles)
    assert {"五年级1班", "五年级2班", "三年级1班", "七年级1班"} <= set(titles)

    # Filter: the one class by its title; a homeroom class of grade 05.
    found = app.get("/classes", filter="title='五年级1班' AND classType='homeroom'")
    classes = validate(found.json(), "class", "ClassSet")["classes"]
    assert len(classes) == 1 and classes[0]["grades"] == ["05"]
    assert classes[0]["classCode"] == "gu22cm"
    class_id = classes[0]["sourcedId"]
    validate(app.get(f"/classes/{class_id}").json(), "class", "SingleClass")
    course = app.get(classes[0]["course"]["href"].removeprefix("http://testserver" + API))
    assert validate(course.json(), "course", "SingleCourse")["course"]["grades"] == ["05"]
    validate(app.get("/courses").json(), "course", "CourseSet")

    # Its students: names and usernames; never an ID card number; no phone without the scope.
    students = app.get(f"/classes/{class_id}/students")
    users = validate(students.json(), "user", "UserSet")["users"]
    names = {u["familyName"] + u["givenName"] for u in users}
    assert {"李逍遥", "何书桓", "魏璎珞", "林依萍", "周伯通"} <= names
    for account in ("lixiaoyao", "heshuhuan"):
        number = world[account].id_card_number
        assert number and number not in students.text
    assert "13800000001" not in students.text and all("phone" not in u for u in users)
    li = next(u for u in users if u["username"] == "lixiaoyao")
    # The guardian is an agent of the pupil and a user with the guardian role.
    mother = validate(
        app.get(f"/users/{li['agents'][0]['sourcedId']}").json(), "user", "SingleUser"
    )
    assert mother["user"]["username"] == "p_lidaniang"
    assert mother["user"]["roles"][0]["role"] == "guardian"
    teachers = validate(app.get(f"/classes/{class_id}/teachers").json(), "user", "UserSet")
    assert {"chenxiaokai", "zhaoshuxue"} <= {u["username"] for u in teachers["users"]}

    # Enrollments of the class's students, by filter on the class reference and the role.
    enrolled = app.get(
        "/enrollments", filter=f"class.sourcedId='{class_id}' AND role='student'", limit=3
    )
    assert enrolled.status_code == 200
    page_one = validate(enrolled.json(), "enrollment", "EnrollmentSet")["enrollments"]
    assert len(page_one) == 3
    assert int(enrolled.headers["X-Total-Count"]) == len(users)
    every = app.get("/enrollments", filter=f"class.sourcedId='{class_id}'", limit=1000)
    roles = {(e["user"]["sourcedId"], e["role"], e["primary"]) for e in every.json()["enrollments"]}
    homeroom = next(u for u in teachers["users"] if u["username"] == "chenxiaokai")
    assert (homeroom["sourcedId"], "teacher", "true") in roles
    one = every.json()["enrollments"][0]["sourcedId"]
    validate(app.get(f"/enrollments/{one}").json(), "enrollment", "SingleEnrollment")

    # fields: only what was asked.
    slim = app.get("/users", fields="sourcedId,username", limit=2).json()["users"]
    assert all(set(u) == {"sourcedId", "username"} for u in slim)

    # Every call above is one audit row of this application with its path.
    calls = db.scalars(
        select(AuditEvent).where(AuditEvent.action == AuditAction.ONEROSTER_CALL)
    ).all()
    mine = [e for e in calls if e.detail["client_id"] == app.row.client_id]
    assert len(mine) == len(calls) >= 14
    assert any(e.detail["path"].endswith(f"/classes/{class_id}/students") for e in mine)


def test_a_change_shows_in_the_delta_by_date_last_modified(db, world, clock, make_roster_app):
    clock.advance(days=1)
    since = roster.stamp(clock.now())
    clock.advance(minutes=5)
    app = make_roster_app("作业本")
    _grant(db, world, clock, app)
    world["heshuhuan"].real_name = "何书环"
    db.commit()
    delta = app.get("/users", filter=f"dateLastModified>'{since}'")
    users = validate(delta.json(), "user", "UserSet")["users"]
    assert [u["username"] for u in users] == ["heshuhuan"]
    assert users[0]["dateLastModified"] == roster.stamp(clock.now())
    # OR: two usernames.
    both = app.get("/users", filter="username='heshuhuan' OR username='lixiaoyao'")
    assert {u["username"] for u in both.json()["users"]} == {"heshuhuan", "lixiaoyao"}


def test_phone_and_email_only_with_the_demographics_scope(db, world, clock, make_roster_app):
    app = make_roster_app("家校通", roster.DEMOGRAPHICS)
    _grant(db, world, clock, app)
    mother = app.get("/users", filter="username='p_lidaniang'")
    users = validate(mother.json(), "user", "UserSet")["users"]
    assert users[0]["phone"] == "13900000011"


def test_an_application_without_a_grant_sees_nothing(db, world, clock, make_roster_app):
    granted = make_roster_app("作业本")
    school = _grant(db, world, clock, granted)
    class_id = world.class51.sourced_id
    stranger = make_roster_app("阅读")
    # Another school granted to it changes nothing for 之江汇学校.
    _grant(db, world, clock, stranger, "柯桥实验小学")

    names = {o["name"] for o in stranger.get("/schools").json()["orgs"]}
    assert names == {"柯桥实验小学"}
    students = stranger.get("/students").json()["users"]
    assert "lixiaoyao" not in {u["username"] for u in students}
    assert stranger.get("/enrollments", filter=f"class.sourcedId='{class_id}'").json() == {
        "enrollments": []
    }
    for path in (
        f"/schools/{school.sourced_id}/classes",
        f"/schools/{school.sourced_id}/students",
        f"/classes/{class_id}/students",
    ):
        refused = stranger.get(path)
        assert refused.status_code == 403, path
        payload = validate(refused.json(), "common", "imsx_StatusInfo")
        assert payload["imsx_codeMajor"] == "failure"
        assert "李逍遥" not in refused.text
    assert stranger.get(f"/users/{world['lixiaoyao'].sourced_id}").status_code == 404
    denied = db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == AuditAction.ONEROSTER_CALL, AuditEvent.school_id == school.id
        )
    ).all()
    assert {e.detail["client_id"] for e in denied if e.outcome == "denied"} == {
        stranger.row.client_id
    }


def test_bad_requests_get_the_binding_payload(db, world, clock, make_roster_app, client):
    app = make_roster_app("作业本")
    _grant(db, world, clock, app)
    cases = {
        ("filter", "nosuchfield='x'"): "invalid_filter_field",
        ("filter", "username = lixiaoyao"): "invalid_filter_field",
        ("filter", "username='a' AND username='b' OR username='c'"): "invalid_filter_field",
        ("sort", "nosuchfield"): "invalid_sort_field",
        ("fields", "sourcedId,idCard"): "invalid_selection_field",
        ("limit", "lots"): "invaliddata",
    }
    for (name, value), minor in cases.items():
        response = app.get("/users", **{name: value})
        assert response.status_code == 400, (name, value)
        payload = validate(response.json(), "common", "imsx_StatusInfo")
        field = payload["imsx_CodeMinor"]["imsx_codeMinorField"][0]
        assert field["imsx_codeMinorFieldValue"] == minor
    anonymous = client.get(roster.BASE_PATH + "/schools")
    assert anonymous.status_code == 401
    assert validate(anonymous.json(), "common", "imsx_StatusInfo")["imsx_severity"] == "error"
    wrong = client.get(roster.BASE_PATH + "/schools", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert app.get("/classes/no-such-class/students").status_code == 404


def test_an_ended_enrollment_is_served_as_tobedeleted(db, world, clock, make_roster_app):
    app = make_roster_app("作业本")
    _grant(db, world, clock, app)
    clock.advance(minutes=1)
    since = roster.stamp(clock.now())
    clock.advance(minutes=1)
    student = world["zhoubotong"]
    place = db.scalar(
        select(ClassStudent).where(
            ClassStudent.student_id == student.id, ClassStudent.class_id == world.class51.id
        )
    )
    assert place is not None
    gone = place.sourced_id
    db.delete(place)  # as 移出班级 does
    db.execute(  # as leaving the school does
        delete(ClassTeacher).where(
            ClassTeacher.teacher_id == world["zhaoshuxue"].id,
            ClassTeacher.class_id == world.class51.id,
        )
    )
    db.commit()
    delta = app.get("/enrollments", filter=f"dateLastModified>'{since}'")
    ended = validate(delta.json(), "enrollment", "EnrollmentSet")["enrollments"]
    assert {(e["role"], e["status"], e["user"]["sourcedId"]) for e in ended} == {
        ("student", "tobedeleted", student.sourced_id),
        ("teacher", "tobedeleted", world["zhaoshuxue"].sourced_id),
    }
    assert gone in {e["sourcedId"] for e in ended}
    current = app.get("/enrollments", filter="status='active'", limit=1000).json()
    assert gone not in {e["sourcedId"] for e in current["enrollments"]}


def test_a_class_change_ends_the_old_enrollment_and_begins_a_new_one(
    db, world, clock, settings, make_roster_app
):
    """换班 moves the pupil's place in place; an application reading deltas sees the enrollment
    in the old class as `tobedeleted` and a new one (a new sourcedId) in the new class."""
    from campusid.classes import enrolment
    from campusid.org.schoolyear import calendar_for
    from campusid.types import ClientInfo

    app = make_roster_app("作业本")
    _grant(db, world, clock, app)
    clock.advance(minutes=1)
    since = roster.stamp(clock.now())
    clock.advance(minutes=1)
    pupil = world["zhoubotong"]
    old = db.scalar(
        select(ClassStudent.sourced_id).where(
            ClassStudent.student_id == pupil.id, ClassStudent.class_id == world.class51.id
        )
    )
    act = enrolment.Act(
        actor_id=world["xx_admin"].id,
        actor_role="school_admin",
        client=ClientInfo(),
        now=clock.now(),
        cal=calendar_for(settings, clock),
    )
    enrolment.move(db, student=pupil, school_class=world.class52, act=act)
    db.commit()
    db.expire_all()
    new = db.scalar(select(ClassStudent.sourced_id).where(ClassStudent.student_id == pupil.id))
    assert old and new and new != old

    delta = app.get("/enrollments", filter=f"dateLastModified>'{since}'", limit=1000)
    changed = validate(delta.json(), "enrollment", "EnrollmentSet")["enrollments"]
    by_id = {e["sourcedId"]: e for e in changed}
    assert by_id[old]["status"] == "tobedeleted"
    assert by_id[old]["class"]["sourcedId"] == world.class51.sourced_id
    assert by_id[new]["status"] == "active"
    assert by_id[new]["class"]["sourcedId"] == world.class52.sourced_id
    assert by_id[new]["user"]["sourcedId"] == by_id[old]["user"]["sourcedId"] == pupil.sourced_id

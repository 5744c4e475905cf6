"""平台管理 → 学校: onboarding a school from an empty platform, its administrators, suspension."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from tests.support.http import enrol_totp, post_form, sign_in
from tests.support.secrets import remember

from campusid.accounts import service as accounts
from campusid.accounts.models import SchoolMembership, SchoolRole, User
from campusid.audit.models import AuditEvent
from campusid.demo import DEMO_PASSWORD
from campusid.org.models import District, School, SchoolClass
from campusid.org.schoolyear import SchoolSystem

ONE_TIME = re.compile(r'id="one-time-password">([^<]+)<')
USERNAME = re.compile(r'id="new-admin-username">([^<]+)<')
NEW_PASSWORD = "Xuexiao#2026a"


@pytest.fixture
def platform_admin(db, services):  # type: ignore[no-untyped-def]
    """An empty platform: one platform administrator and nothing else (no demo world)."""
    user = accounts.new_user(
        db,
        username="pt_root",
        real_name="平台根",
        now=services.clock.now(),
        password_hash=services.hasher.hash(DEMO_PASSWORD),
        is_platform_admin=True,
    )
    db.commit()
    return user


def _onboard(client, *, code: str = "YC-001", **admin: str):  # type: ignore[no-untyped-def]
    """新建区县 and 新建学校 through the pages; the response showing the new school."""
    assert post_form(client, "/platform/districts", {"name": "越城区"}).status_code == 303
    page = client.get("/platform/schools/new")
    district_id = re.search(r'<option value="(\d+)"[^>]*>越城区<', page.text)
    assert district_id, page.text
    form = {
        "name": "越城实验学校",
        "district_id": district_id.group(1),
        "code": code,
        "school_system": "5-4",
        "admin_mode": "new",
        "admin_name": "王校管",
        **admin,
    }
    return post_form(client, "/platform/schools", form)


def test_a_school_is_onboarded_from_an_empty_platform(
    client, make_client, db, platform_admin
) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, "pt_root")
    assert 'href="/platform/schools"' in client.get("/platform").text
    created = _onboard(client, admin_username="wang_xg")
    assert created.status_code == 200, created.text
    password = ONE_TIME.search(created.text).group(1)  # type: ignore[union-attr]
    remember(password)
    assert USERNAME.search(created.text).group(1) == "wang_xg"  # type: ignore[union-attr]
    # Shown once: the school's page never shows it again.
    db.expire_all()
    school = db.scalar(select(School).where(School.code == "YC-001"))
    assert school is not None and school.school_system is SchoolSystem.FIVE_FOUR
    assert school.district is not None and school.district.name == "越城区"
    assert password not in client.get(f"/platform/schools/{school.id}").text
    listed = client.get("/platform/schools", params={"q": "yc-001"}).text
    assert "越城实验学校" in listed and "0个学生" in listed
    assert "越城实验学校" not in client.get("/platform/schools", params={"q": "柯桥"}).text

    # The new administrator signs in, must change the one-time password, then builds a class.
    admin = make_client()
    sign_in(admin, "wang_xg", password)
    assert admin.get("/school").headers["location"] == "/password/change-required"
    changed = post_form(
        admin,
        "/password/change-required",
        {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert changed.status_code == 303, changed.text
    # Issue 19: a school administrator enrols an authenticator before any page.
    assert admin.get("/school").headers["location"] == "/account/two-step/setup"
    enrol_totp(admin)
    assert admin.get("/school").headers["location"] == f"/school/{school.id}"
    offered = admin.get(f"/school/{school.id}/quick-create").text
    # The school's own school system (五四制) is offered first.
    assert 'value="5-4" checked' in offered and 'value="6-3" checked' not in offered
    form = {
        "campus_name": "本部",
        "school_system": "5-4",
        "stage_primary": "on",
        "classes_primary_1": "2",
    }
    built = post_form(admin, f"/school/{school.id}/quick-create", form)
    assert built.status_code == 303, built.text
    db.expire_all()
    classes = db.scalars(select(SchoolClass).where(SchoolClass.school_id == school.id)).all()
    assert len(classes) == 2
    user = db.scalar(select(User).where(User.username == "wang_xg"))
    assert user is not None and not user.must_change_password
    actions = set(db.scalars(select(AuditEvent.action).where(AuditEvent.school_id == school.id)))
    assert {"school_created", "school_admin_appointed"} <= actions


def test_refusals_leave_nothing_behind(client, db, platform_admin) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, "pt_root")
    assert _onboard(client).status_code == 200
    again = post_form(
        client,
        "/platform/schools",
        {"name": "另一所", "district_id": "0", "code": "yc-001", "admin_name": "李四"},
    )
    assert again.status_code == 400
    assert "学校编码「YC-001」已被使用" in again.text and "请选择区县" in again.text
    twice = post_form(client, "/platform/districts", {"name": "越城区"})
    assert twice.status_code == 400 and "已存在" in twice.text
    db.expire_all()
    assert len(db.scalars(select(School)).all()) == 1
    assert len(db.scalars(select(District)).all()) == 1
    assert db.scalar(select(User).where(User.real_name == "李四")) is None


def test_suspending_a_school_closes_its_console(client, make_client, db, world, services) -> None:  # type: ignore[no-untyped-def]
    school = world.school
    admin = make_client()
    sign_in(admin, "xx_admin")
    teacher = make_client()
    sign_in(teacher, "chenxiaokai")
    pupil = make_client()
    assert admin.get(f"/school/{school.id}").status_code == 200
    assert teacher.get(f"/classes/{world.class51.id}").status_code == 200

    sign_in(client, "pt_admin")
    page = client.get(f"/platform/schools/{school.id}").text
    assert "学生和家长仍可正常登录" in page
    assert post_form(client, f"/platform/schools/{school.id}/suspend").status_code == 303

    refused = admin.get(f"/school/{school.id}")
    assert refused.status_code == 403 and "该学校已停用" in refused.text
    assert "该学校已停用" in admin.get("/school").text
    assert teacher.get(f"/classes/{world.class51.id}").status_code in (403, 404)
    # Its pupils still sign in.
    sign_in(pupil, "lixiaoyao")
    assert pupil.get("/").status_code == 200
    db.expire_all()
    assert db.get(School, school.id).suspended_at is not None

    assert post_form(client, f"/platform/schools/{school.id}/reopen").status_code == 303
    assert admin.get(f"/school/{school.id}").status_code == 200
    actions = list(
        db.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.school_id == school.id, AuditEvent.action.like("school_%"))
            .order_by(AuditEvent.id)
        )
    )
    assert actions[-2:] == ["school_suspended", "school_reopened"]


def test_the_last_administrator_is_kept(client, db, world) -> None:  # type: ignore[no-untyped-def]
    school = world.school
    admins = db.scalars(
        select(SchoolMembership).where(
            SchoolMembership.school_id == school.id,
            SchoolMembership.role == SchoolRole.SCHOOL_ADMIN,
            SchoolMembership.active.is_(True),
        )
    ).all()
    assert len(admins) == 1
    only = admins[0].user_id
    sign_in(client, "pt_admin")
    refused = post_form(client, f"/platform/schools/{school.id}/admins/{only}/remove")
    assert refused.status_code == 400 and "唯一的管理员" in refused.text

    # With a second administrator (a teacher appointed), the first can go.
    teacher = world["zhaoshuxue"]
    appointed = post_form(client, f"/platform/schools/{school.id}/admins", {"login": teacher.phone})
    assert appointed.status_code == 303
    removed = post_form(client, f"/platform/schools/{school.id}/admins/{only}/remove")
    assert removed.status_code == 303
    last = post_form(client, f"/platform/schools/{school.id}/admins/{teacher.id}/remove")
    assert last.status_code == 400
    db.expire_all()
    active = set(
        db.scalars(
            select(SchoolMembership.user_id).where(
                SchoolMembership.school_id == school.id,
                SchoolMembership.role == SchoolRole.SCHOOL_ADMIN,
                SchoolMembership.active.is_(True),
            )
        )
    )
    assert active == {teacher.id}
    trail = list(
        db.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.school_id == school.id, AuditEvent.action.like("school_admin_%"))
            .order_by(AuditEvent.id)
        )
    )
    assert trail == ["school_admin_appointed", "school_admin_removed"]


def test_a_student_account_is_never_appointed(client, db, world) -> None:  # type: ignore[no-untyped-def]
    school = world.school
    student = world["lixiaoyao"]
    sign_in(client, "pt_admin")
    for login in ("lixiaoyao", student.id_card_number):
        refused = post_form(client, f"/platform/schools/{school.id}/admins", {"login": login})
        assert refused.status_code == 400
        assert "是学生账号，不能任命为学校管理员" in refused.text
    new_school = post_form(
        client,
        "/platform/schools",
        {
            "name": "新学校",
            "district_id": str(school.district_id),
            "code": "NEW-1",
            "admin_mode": "existing",
            "admin_login": "lixiaoyao",
        },
    )
    assert new_school.status_code == 400
    db.expire_all()
    assert db.scalar(select(School).where(School.code == "NEW-1")) is None
    roles = set(
        db.scalars(select(SchoolMembership.role).where(SchoolMembership.user_id == student.id))
    )
    assert SchoolRole.SCHOOL_ADMIN not in roles


def test_the_command_line_creates_a_school(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from campusid import cli, migrate
    from campusid.db import make_engine

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate.upgrade(url)
    monkeypatch.setenv("CAMPUSID_DATABASE_URL", url)
    monkeypatch.setenv("CAMPUSID_SECRET_KEY", "cli-test-key")
    school = [
        "school", "create", "--name", "越城实验学校", "--district", "越城区", "--code", "yc-9",
        "--system", "5-4", "--admin-name", "王校管", "--admin-username", "wang_cli",
    ]  # fmt: skip
    cli.get_settings.cache_clear()
    try:
        runner = CliRunner()
        no_district = runner.invoke(cli.app, school)
        district = runner.invoke(cli.app, ["district", "create", "--name", "越城区"])
        district_again = runner.invoke(cli.app, ["district", "create", "--name", "越城区"])
        first = runner.invoke(cli.app, school)
        second = runner.invoke(cli.app, school)
    finally:
        cli.get_settings.cache_clear()
    assert no_district.exit_code == 1 and "不存在" in no_district.output
    assert district.exit_code == 0, district.output
    assert district_again.exit_code == 1 and "已存在" in district_again.output
    assert first.exit_code == 0, first.output
    password = re.search(r"one-time password\): (\S+)", first.output)
    assert password, first.output
    remember(password.group(1))
    assert second.exit_code == 1 and "已存在" in second.output
    assert password.group(1) not in second.output
    engine = make_engine(url)
    with engine.connect() as conn:
        schools = conn.exec_driver_sql("SELECT code, school_system FROM schools").all()
        admins = conn.exec_driver_sql(
            "SELECT u.username, u.must_change_password FROM users u "
            "JOIN school_memberships m ON m.user_id = u.id WHERE m.role = 'school_admin'"
        ).all()
    engine.dispose()
    assert schools == [("YC-9", "5-4")]
    assert [(name, bool(flag)) for name, flag in admins] == [("wang_cli", True)]


def test_the_list_shows_each_schools_counts(client, db, world) -> None:  # type: ignore[no-untyped-def]
    from campusid.org.counts import school_total

    total = school_total(db, school_id=world.school.id)
    assert total.students > 0
    sign_in(client, "pt_admin")
    page = client.get("/platform/schools").text
    row = page[page.index(world.school.name) :]
    row = row[: row.index("</tr>")]
    for number, word in ((total.teachers, "个老师"), (total.students, "个学生")):
        assert f"<td>{number}{word}</td>" in row
    assert ">1</td>" in row  # one administrator
    assert world.school.name not in client.get("/platform/schools", params={"q": "没有"}).text

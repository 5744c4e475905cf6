"""issue 22: the OneRoster 1.2 CSV bulk export (CLI and console) has the 1.2 CSV binding's
columns; a school administrator decides which applications read the school's roster, and a
platform administrator grants schools on the application's page."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from campusid.audit.actions import AuditAction
from campusid.audit.models import AuditEvent
from campusid.cli import app
from campusid.config import get_settings
from campusid.oneroster import service as roster
from campusid.oneroster.models import RosterGrant
from tests.support.http import post_form, sign_in

# The OneRoster v1.2 CSV binding's column lists, as the specification gives them.
SPEC_COLUMNS = {
    "orgs.csv": "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId",
    "academicSessions.csv": (
        "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear"
    ),
    "courses.csv": (
        "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,"
        "orgSourcedId,subjects,subjectCodes"
    ),
    "classes.csv": (
        "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,"
        "location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods"
    ),
    "users.csv": (
        "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,"
        "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,"
        "userMasterIdentifier,resourceSourcedIds,preferredGivenName,preferredMiddleName,"
        "preferredFamilyName,primaryOrgSourcedId,pronouns"
    ),
    "roles.csv": (
        "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,"
        "orgSourcedId,userProfileSourcedId"
    ),
    "enrollments.csv": (
        "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,"
        "primary,beginDate,endDate"
    ),
}


def read_zip(data: bytes) -> dict[str, list[dict[str, str]]]:
    """Each CSV of the zip as rows; asserts the header is the 1.2 column list."""
    out: dict[str, list[dict[str, str]]] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        assert names == {"manifest.csv", *SPEC_COLUMNS}
        for name in names:
            text = archive.read(name).decode("utf-8")
            reader = csv.DictReader(io.StringIO(text))
            if name in SPEC_COLUMNS:
                assert ",".join(reader.fieldnames or []) == SPEC_COLUMNS[name], name
            out[name] = list(reader)
    manifest = {r["propertyName"]: r["value"] for r in out["manifest.csv"]}
    assert manifest["oneroster.version"] == "1.2" and manifest["manifest.version"] == "1.0"
    for name in SPEC_COLUMNS:
        assert manifest["file." + name.removesuffix(".csv")] == "bulk"
    assert manifest["file.demographics"] == "absent"
    return out


def check_references(files: dict[str, list[dict[str, str]]]) -> None:
    """Every sourcedId a file points at is a record of the export; bulk rows have no status."""
    users = {r["sourcedId"] for r in files["users.csv"]}
    classes = {r["sourcedId"] for r in files["classes.csv"]}
    orgs = {r["sourcedId"] for r in files["orgs.csv"]}
    courses = {r["sourcedId"] for r in files["courses.csv"]}
    terms = {r["sourcedId"] for r in files["academicSessions.csv"]}
    for e in files["enrollments.csv"]:
        assert e["userSourcedId"] in users and e["classSourcedId"] in classes
        assert e["schoolSourcedId"] in orgs and e["status"] == ""
    for c in files["classes.csv"]:
        assert c["courseSourcedId"] in courses and c["schoolSourcedId"] in orgs
        assert set(c["termSourcedIds"].split(",")) <= terms
    for r in files["roles.csv"]:
        assert r["userSourcedId"] in users and r["orgSourcedId"] in orgs
    for u in files["users.csv"]:
        assert all(a in users for a in u["agentSourcedIds"].split(",") if a)


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CAMPUSID_DATABASE_URL", url)
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["demo"]).exit_code == 0
    yield url
    get_settings.cache_clear()


def test_the_cli_exports_the_region_with_the_1_2_columns(database: str, tmp_path: Path) -> None:
    out = tmp_path / "region.zip"
    result = CliRunner().invoke(app, ["oneroster", "export", str(out)])
    assert result.exit_code == 0, result.output
    files = read_zip(out.read_bytes())
    check_references(files)
    names = {r["name"] for r in files["orgs.csv"]}
    assert {"柯桥区", "之江汇学校", "柯桥实验小学"} <= names
    usernames = {r["username"] for r in files["users.csv"]}
    assert {"lixiaoyao", "zhangxiaofan", "chenxiaokai", "p_lidaniang"} <= usernames
    assert all(r["phone"] == "" and r["email"] == "" for r in files["users.csv"])
    # No national identifier in any form: identifier and userIds stay empty.
    assert all(r["identifier"] == "" and r["userIds"] == "" for r in files["users.csv"])
    text = out.read_bytes()

    one = tmp_path / "one.zip"
    assert (
        CliRunner().invoke(app, ["oneroster", "export", str(one), "--school", "1"]).exit_code == 0
    )
    only = read_zip(one.read_bytes())
    assert {r["type"] for r in only["orgs.csv"]} == {"district", "school"}
    assert len([r for r in only["orgs.csv"] if r["type"] == "school"]) == 1
    assert text != one.read_bytes()
    missing = CliRunner().invoke(app, ["oneroster", "export", str(one), "--school", "999"])
    assert missing.exit_code == 1


def test_a_school_administrator_grants_and_withdraws_and_exports(
    client, db, world, clock, make_roster_app
):
    application = make_roster_app("作业本")
    school = world.school
    assert application.get("/schools").json() == {"orgs": []}

    sign_in(client, "xx_admin")
    page = client.get(f"/school/{school.id}/apps")
    assert page.status_code == 200 and "作业本" in page.text
    granted = post_form(client, f"/school/{school.id}/apps/{application.row.id}/grant")
    assert granted.status_code == 303
    assert [o["name"] for o in application.get("/schools").json()["orgs"]] == ["之江汇学校"]
    assert "已允许读取" in client.get(f"/school/{school.id}/apps").text

    exported = client.get(f"/school/{school.id}/apps/oneroster.zip")
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/zip"
    files = read_zip(exported.content)
    check_references(files)
    assert [r["name"] for r in files["orgs.csv"] if r["type"] == "school"] == ["之江汇学校"]
    assert "zhangxiaofan" not in {r["username"] for r in files["users.csv"]}

    revoked = post_form(client, f"/school/{school.id}/apps/{application.row.id}/revoke")
    assert revoked.status_code == 303
    assert application.get("/schools").json() == {"orgs": []}
    actions = [
        e.action
        for e in db.scalars(
            select(AuditEvent).where(AuditEvent.school_id == school.id).order_by(AuditEvent.id)
        )
        if e.action.startswith("oneroster.") and e.action != AuditAction.ONEROSTER_CALL
    ]
    assert actions == [
        AuditAction.ONEROSTER_GRANTED,
        AuditAction.ONEROSTER_EXPORTED,
        AuditAction.ONEROSTER_REVOKED,
    ]


def test_another_schools_administrator_cannot_grant(client, db, world, clock, make_roster_app):
    application = make_roster_app("作业本")
    sign_in(client, "kq_admin")
    refused = post_form(client, f"/school/{world.school.id}/apps/{application.row.id}/grant")
    assert refused.status_code == 403
    assert db.scalar(select(RosterGrant)) is None


def test_a_platform_administrator_grants_on_the_application_page(
    client, db, world, clock, make_roster_app
):
    application = make_roster_app("作业本")
    sign_in(client, "pt_admin")
    page = client.get(f"/platform/clients/{application.row.id}/rosters")
    assert page.status_code == 200 and "之江汇学校" in page.text
    assert (
        f"/platform/clients/{application.row.id}/rosters"
        in client.get(f"/platform/clients/{application.row.id}").text
    )
    done = post_form(
        client, f"/platform/clients/{application.row.id}/rosters", {"school_id": world.school.id}
    )
    assert done.status_code == 303
    assert roster.granted_school_ids(db, application.row.id) == {world.school.id}
    listed = client.get(done.headers["location"])
    assert "已允许该应用读取学校名册" in listed.text
    post_form(client, f"/platform/clients/{application.row.id}/rosters/{world.school.id}/revoke")
    assert roster.granted_school_ids(db, application.row.id) == frozenset()

"""区县组织: a district's schools with their counts and its distinct total, for platform admins."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from campusid.accounts import service as accounts
from campusid.accounts.models import SchoolRole
from campusid.audit.models import AuditEvent
from campusid.classes import enrolment
from campusid.families import service as families
from campusid.families.models import Relation
from campusid.org.models import District
from tests.support.http import sign_in
from tests.support.schools import counts, school_with_class


def _rows(page: str) -> dict[str, str]:
    """School name -> its three counts, from the district page's table."""
    found = {}
    for name, teachers, students, parents in re.findall(
        r"<tr>\s*<td>([^<]+)</td>\s*<td>(\d+)个老师</td>\s*<td>(\d+)个学生</td>\s*"
        r"<td>(\d+)个家长</td>",
        page,
    ):
        found[name] = f"{teachers}个老师 {students}个学生 {parents}个家长"
    return found


@pytest.fixture
def second_school(db, services, world):  # type: ignore[no-untyped-def]
    """柯桥第二小学 in the same district: two pupils, one of them a child of 李大娘 too."""
    now = services.clock.now()
    school_class = school_with_class(
        db,
        services,
        name="柯桥第二小学",
        district=world.school.district,
        default_password="Kq2x@2468",
    )
    school = school_class.school
    for n in (1, 2):
        pupil = accounts.new_user(db, username=f"kq2_s{n}", real_name=f"二小学生{n}", now=now)
        db.flush()
        accounts.join_school(db, user=pupil, school_id=school.id, role=SchoolRole.STUDENT, now=now)
        enrolment.enrol(db, school_class=school_class, student=pupil, now=now)
        if n == 1:
            families.link(
                db, parent=world["p_lidaniang"], child=pupil, relation=Relation.MOTHER, now=now
            )
    db.commit()
    return school


def test_platform_admin_sees_the_district_and_its_schools(
    client, make_client, world, second_school
):
    sign_in(client, "pt_admin")
    platform = client.get("/platform").text
    assert 'href="/districts"' in platform and "区县组织" in platform
    listing = client.get("/districts")
    assert listing.status_code == 200
    district_id = world.school.district_id
    assert f'href="/district/{district_id}"' in listing.text and "柯桥区" in listing.text

    page = client.get(f"/district/{district_id}").text
    rows = _rows(page)
    assert rows["柯桥第二小学"] == "0个老师 2个学生 1个家长"
    # The school's line is what the school's own organisation page shows at its root.
    admin = make_client()
    sign_in(admin, "xx_admin")
    assert rows["之江汇学校"] == counts(admin.get(f"/school/{world.school.id}").text)
    # 李大娘 has a child in each of two schools: one parent in the district, not two.
    totals = [sum(int(re.findall(r"\d+", line)[i]) for line in rows.values()) for i in range(3)]
    assert set(rows) == {"之江汇学校", "柯桥第二小学", "柯桥实验小学"}
    teachers, students, parents = totals[0], totals[1], totals[2] - 1
    assert counts(page) == f"{teachers}个老师 {students}个学生 {parents}个家长"
    assert "3所学校" in page
    # The list of districts shows the same total.
    assert f"{students}个学生" in listing.text


def test_an_unknown_district_is_not_found(client, db, world):
    sign_in(client, "pt_admin")
    missing = (db.scalar(select(District.id).order_by(District.id.desc())) or 0) + 1
    assert client.get(f"/district/{missing}").status_code == 404


@pytest.mark.parametrize(
    "who", ["xx_admin", "kefu01", "chenxiaokai", "zhaoshuxue", "lixiaoyao", "p_lidaniang"]
)
def test_everyone_else_is_refused_and_it_is_audited(client, db, world, who):
    district_id = world.school.district_id
    missing = (db.scalar(select(District.id).order_by(District.id.desc())) or 0) + 1
    sign_in(client, who)
    for path in ("/districts", f"/district/{district_id}", f"/district/{missing}"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "柯桥区" not in response.text
        assert "您无权查看区县组织" in response.text
    assert 'href="/districts"' not in client.get("/").text
    events = db.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "access_denied", AuditEvent.actor_id == world[who].id
        )
    ).all()
    assert {e.detail["path"] for e in events} >= {"/districts", f"/district/{district_id}"}


def test_signed_out_visitors_are_sent_to_sign_in(client, world):
    for path in ("/districts", f"/district/{world.school.district_id}"):
        response = client.get(path)
        assert response.status_code == 303 and "/login" in response.headers["location"]

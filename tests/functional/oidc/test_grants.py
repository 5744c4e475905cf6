"""issue 21: 授权管理 — the applications a person authorised, withdrawing them (tokens stop at
once), consent expiry, a school administrator's read-only view and a guardian's say for a child
under 14. The application is a hand-written client (tests.support.rawrp)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from tests.support.http import post_form, sign_in
from tests.support.oidc import register
from tests.support.rawrp import authorize_query, consent_and_sign_in, http

from campusid.audit.models import AuditEvent
from campusid.demo import _id_card
from campusid.oidc.models import Consent

SCOPE = "openid profile school"


@pytest.fixture
def reading_app(db, world, clock):
    """阅读打卡: a third-party, confidential client (asks for consent)."""
    return register(db, world["pt_admin"], clock.now(), name="阅读打卡", first_party=False)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _pupil_authorises(client, make_client, reading_app) -> dict:  # type: ignore[no-untyped-def]
    """李逍遥, in a browser of his own, authorises 阅读打卡; its token response."""
    row, secret = reading_app
    pupil = make_client()
    sign_in(pupil, "lixiaoyao")
    return consent_and_sign_in(
        pupil, http(client), client_id=row.client_id, secret=secret, scope=SCOPE
    )


def test_a_person_sees_and_withdraws_an_app_and_its_tokens_stop(
    client, make_client, db, world, clock, reading_app
):
    row, secret = reading_app
    server = http(client)
    sign_in(client, "lixiaoyao")
    tokens = consent_and_sign_in(
        client, server, client_id=row.client_id, secret=secret, scope=SCOPE
    )
    assert server.get("/oauth/userinfo", headers=_bearer(tokens["access_token"])).status_code == 200

    assert "授权管理" in client.get("/account/security").text
    page = client.get("/account/apps")
    assert page.status_code == 200
    for words in ("阅读打卡", "您的姓名", "您所在的学校", "撤销授权"):
        assert words in page.text

    withdrawn = post_form(client, f"/people/{world['lixiaoyao'].id}/apps/{row.id}/withdraw")
    assert (
        withdrawn.status_code == 303
        and withdrawn.headers["location"] == "/account/apps?withdrawn=1"
    )
    assert "阅读打卡" not in client.get("/account/apps").text

    db.expire_all()
    assert db.scalar(select(Consent).where(Consent.client_id == row.id)) is None
    assert server.get("/oauth/userinfo", headers=_bearer(tokens["access_token"])).status_code == 401
    refreshed = server.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(row.client_id, secret),
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "oidc.consent_withdrawn"))
    assert event is not None and event.target_user_id == world["lixiaoyao"].id

    # Asked again next time; withdrawing twice changes nothing and is no error.
    query, _ = authorize_query(row.client_id, SCOPE)
    assert "同意授权" in client.get(f"/oauth/authorize?{query}").text
    again = post_form(client, f"/people/{world['lixiaoyao'].id}/apps/{row.id}/withdraw")
    assert again.status_code == 303
    db.expire_all()
    withdrawn_events = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "oidc.consent_withdrawn")
    ).all()
    assert len(withdrawn_events) == 1


def test_an_old_consent_is_asked_again(client, db, world, clock, reading_app, services):
    row, secret = reading_app
    server = http(client)
    sign_in(client, "lixiaoyao")
    consent_and_sign_in(client, server, client_id=row.client_id, secret=secret, scope=SCOPE)
    query, _ = authorize_query(row.client_id, SCOPE)
    assert client.get(f"/oauth/authorize?{query}").status_code == 302  # remembered

    days = services.settings.oidc_consent_days
    assert days > 0
    consent = db.scalar(select(Consent).where(Consent.client_id == row.id))
    consent.granted_at = clock.now() - timedelta(days=days)
    db.commit()
    page = client.get(f"/oauth/authorize?{query}")
    assert page.status_code == 200 and "同意授权" in page.text


def test_a_parent_sees_and_withdraws_the_grants_of_a_child_under_14(
    client, make_client, db, world, clock, reading_app
):
    row, _secret = reading_app
    child = world["lixiaoyao"]
    tokens = _pupil_authorises(client, make_client, reading_app)

    sign_in(client, "p_lidaniang")
    assert f"/people/{child.id}/apps" in client.get(f"/me/children/{child.id}").text
    page = client.get(f"/people/{child.id}/apps")
    assert page.status_code == 200 and "阅读打卡" in page.text and "监护人" in page.text
    done = post_form(client, f"/people/{child.id}/apps/{row.id}/withdraw")
    assert done.headers["location"] == f"/people/{child.id}/apps?withdrawn=1"
    gone = http(client).get("/oauth/userinfo", headers=_bearer(tokens["access_token"]))
    assert gone.status_code == 401
    db.expire_all()
    assert db.scalar(select(Consent).where(Consent.user_id == child.id)) is None
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "oidc.consent_withdrawn"))
    assert event.actor_id == world["p_lidaniang"].id and event.detail["by"] == "guardian"


def test_a_child_of_14_decides_alone(client, db, world, clock, reading_app):
    child = world["lixiaoyao"]
    child.id_card_number = _id_card("330603", f"{clock.now().year - 15}0312", "011")
    db.commit()
    sign_in(client, "p_lidaniang")
    assert client.get(f"/people/{child.id}/apps").status_code == 404
    row, _ = reading_app
    assert post_form(client, f"/people/{child.id}/apps/{row.id}/withdraw").status_code == 404


def test_a_school_admin_reads_a_pupils_grants_and_cannot_withdraw(
    client, make_client, db, world, clock, reading_app
):
    row, _secret = reading_app
    child = world["lixiaoyao"]
    tokens = _pupil_authorises(client, make_client, reading_app)
    sign_in(client, "xx_admin")
    page = client.get(f"/people/{child.id}/apps")
    assert page.status_code == 200 and "阅读打卡" in page.text and "只读" in page.text
    assert "撤销授权</button>" not in page.text
    refused = post_form(client, f"/people/{child.id}/apps/{row.id}/withdraw")
    assert refused.status_code == 403
    still = http(client).get("/oauth/userinfo", headers=_bearer(tokens["access_token"]))
    assert still.status_code == 200
    db.expire_all()
    assert db.scalar(select(Consent).where(Consent.user_id == child.id)) is not None


@pytest.mark.parametrize("login", ["chenxiaokai", "p_zhoujia", "heshuhuan"])
def test_others_may_not_see_someone_s_grants(client, world, login):
    """Out of reach answers like an id nobody holds: the page tells nobody which ids exist."""
    sign_in(client, login)
    out_of_reach = client.get(f"/people/{world['lixiaoyao'].id}/apps")
    nobody = client.get("/people/987654/apps")
    assert out_of_reach.status_code == nobody.status_code == 404
    pupil = str(world["lixiaoyao"].id)
    same = out_of_reach.text.replace(f"/people/{pupil}/", "/people/ID/")
    assert same == nobody.text.replace("/people/987654/", "/people/ID/")

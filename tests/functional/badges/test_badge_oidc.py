"""Issue 24: an application learns a pupil signed in with a badge (amr ["qr"], acr
urn:campusid:qr) and can ask for more with acr_values (the password first)."""

from __future__ import annotations

from urllib.parse import unquote

from tests.support.badges import enable_for_class, print_badges, scan
from tests.support.http import sign_in as sign_in_page
from tests.support.oidc import (
    Flow,
    callback_params,
    register,
    relying_party,
    sign_in,
    verify_id_token,
)


def _badge_session(client, make_client, db, world):
    enable_for_class(db, world.class51)
    teacher = make_client()
    sign_in_page(teacher, "chenxiaokai")
    uid = world["lixiaoyao"].id
    code = print_badges(teacher, world.class51.id, uid)[uid]
    assert scan(client, code).status_code == 303


def test_the_id_token_says_qr(client, make_client, db, world, clock):
    _badge_session(client, make_client, db, world)
    row, secret = register(db, world["pt_admin"], clock.now())
    rp = relying_party(make_client(), row, secret)
    token, flow = sign_in(rp, client, login=None)
    claims = verify_id_token(
        rp, token["id_token"], nonce=flow.nonce, clock=clock, access_token=token["access_token"]
    )
    assert claims["amr"] == ["qr"]
    assert claims["acr"] == "urn:campusid:qr"
    meta = client.get("/.well-known/openid-configuration").json()
    assert "urn:campusid:qr" in meta["acr_values_supported"]


def test_an_app_asking_for_the_password_sends_the_pupil_to_it(
    client, make_client, db, world, clock
):
    _badge_session(client, make_client, db, world)
    row, secret = register(db, world["pt_admin"], clock.now())
    rp = relying_party(make_client(), row, secret)
    asked = client.get(Flow(rp, acr_values="urn:campusid:pwd").url)
    assert asked.status_code == 303
    location = asked.headers["location"]
    assert location.startswith("/login?prompt=login&next=")
    assert unquote(location.split("next=", 1)[1]).startswith("/oauth/authorize/continue?")
    # prompt=none cannot ask: interaction_required, back at the app
    silent = client.get(Flow(rp, acr_values="urn:campusid:pwd", prompt="none").url)
    assert silent.status_code == 302
    assert callback_params(silent.headers["location"])["error"] == "interaction_required"

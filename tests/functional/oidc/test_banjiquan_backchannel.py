"""issue 21: the example application 班级圈 (examples/banjiquan) takes the logout token campusid
sends when the person signs out: it checks it against campusid's published keys and ends its
own sessions that came from the campusid session the token names, and refuses a replayed or
forged token. The token is the one campusid's outbox delivered to a real loopback endpoint;
the example app runs in-process, reading campusid's discovery and JWKS through the test
transport."""

from __future__ import annotations

import importlib.util
import sys
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from tests.support.backchannel import backchannel_endpoint
from tests.support.http import post_form
from tests.support.oidc import register
from tests.support.rawrp import code_flow, http

from campusid.audit.service import ClientInfo
from campusid.oidc import keys
from campusid.oidc import service as oidc
from campusid.oidc.logout import logout_token

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "banjiquan" / "app.py"


@pytest.fixture
def banjiquan(client, db, world, clock, monkeypatch) -> ModuleType:  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("banjiquan_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "banjiquan_example", module)
    spec.loader.exec_module(module)
    server = http(client)
    monkeypatch.setattr(module, "fetch_json", lambda url: dict(server.get(url).json()))
    monkeypatch.setattr(module, "ISSUER", "http://testserver")
    monkeypatch.setattr(module, "clock", lambda: clock.now().timestamp())
    return module


def _claims(server, token: str) -> dict:  # type: ignore[no-untyped-def]
    keys = KeySet.import_key_set(server.get("/oauth/jwks").json())
    return dict(jwt.decode(token, keys, algorithms=["RS256"]).claims)


def test_banjiquan_ends_its_session_when_the_parent_signs_out_of_campusid(
    client, make_client, db, world, clock, services, banjiquan, monkeypatch
):
    row, secret = register(db, world["pt_admin"], clock.now())
    monkeypatch.setenv("BJQ_CLIENT_ID", row.client_id)
    server = http(client)
    app = TestClient(banjiquan.app, base_url="http://127.0.0.1:8001")
    with backchannel_endpoint() as endpoint:
        form = oidc.ClientForm.of(row)
        form.backchannel_logout_uri = endpoint.uri
        oidc.update_client(
            db, row=row, form=form, actor=world["pt_admin"], now=clock.now(), client=ClientInfo()
        )
        db.commit()
        # The parent signs in to 班级圈 on two browsers; 班级圈 keeps a session for each, with
        # the `sub` and `sid` of its ID token (as its /callback does).
        browsers = [make_client(), make_client()]
        for n, browser in enumerate(browsers):
            tokens = code_flow(
                browser, server, client_id=row.client_id, secret=secret, login="p_lidaniang"
            )
            claims = _claims(server, tokens["id_token"])
            banjiquan.SESSIONS[f"bjq-{n}"] = {
                "user": {"name": "李大娘"},
                "sub": claims["sub"],
                "op_sid": claims["sid"],
            }
        app.cookies.set(banjiquan.COOKIE, "bjq-0")
        assert "李大娘" in app.get("/").text

        # She signs out of campusid on the first browser: every app token of hers ends, and
        # campusid's outbox delivers one logout token per campusid session 班级圈 holds.
        assert post_form(browsers[0], "/logout").status_code == 303
        assert len(endpoint.tokens) == 2

    first_sid = banjiquan.SESSIONS["bjq-0"]["op_sid"]
    [for_first] = [t for t in endpoint.tokens if _claims(server, t)["sid"] == first_sid]
    answered = app.post("/backchannel-logout", data={"logout_token": for_first})
    assert answered.status_code == 200
    assert "bjq-0" not in banjiquan.SESSIONS and "bjq-1" in banjiquan.SESSIONS
    assert "使用之江汇账号登录" in app.get("/").text  # 班级圈 shows its sign-in again
    # The same token again is a replay: refused.
    replayed = app.post("/backchannel-logout", data={"logout_token": for_first})
    assert replayed.status_code == 400

    [for_second] = [t for t in endpoint.tokens if t != for_first]
    assert app.post("/backchannel-logout", data={"logout_token": for_second}).status_code == 200
    assert banjiquan.SESSIONS == {}


def test_banjiquan_refuses_a_forged_or_foreign_logout_token(
    client, db, world, clock, services, banjiquan, monkeypatch
):
    row, _secret = register(db, world["pt_admin"], clock.now())
    monkeypatch.setenv("BJQ_CLIENT_ID", row.client_id)
    banjiquan.SESSIONS["bjq-kept"] = {"sub": str(world["p_lidaniang"].id), "op_sid": "s1"}
    app = TestClient(banjiquan.app, base_url="http://127.0.0.1:8001")
    forger = RSAKey.generate_key(2048, auto_kid=True)
    forged = logout_token(
        issuer="http://testserver",
        client_id=row.client_id,
        sub=str(world["p_lidaniang"].id),
        sid="s1",
        kid=str(forger.kid),
        key=forger,
        now=clock.now(),
    )
    assert app.post("/backchannel-logout", data={"logout_token": forged}).status_code == 400
    assert app.post("/backchannel-logout", data={}).status_code == 400
    # A genuine token for another application (aud) is refused too.
    kid, key = keys.signing_key(
        db,
        secret_key=keys.sealing_secret(services.settings),
        now=clock.now(),
        grace=timedelta(hours=1),
    )
    db.commit()
    foreign = logout_token(
        issuer="http://testserver",
        client_id="another-app",
        sub=str(world["p_lidaniang"].id),
        sid="s1",
        kid=kid,
        key=key,
        now=clock.now(),
    )
    assert app.post("/backchannel-logout", data={"logout_token": foreign}).status_code == 400
    assert "bjq-kept" in banjiquan.SESSIONS

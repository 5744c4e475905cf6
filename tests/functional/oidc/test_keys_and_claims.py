"""Signing-key rotation, the claims behind each scope, and password resets by other routes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from authlib.integrations.base_client.errors import OAuthError
from joserfc import jwt
from sqlalchemy import select
from tests.support.oidc import ISSUER, register, relying_party, sign_in, verify_id_token

from campusid.accounts import service as accounts
from campusid.audit.service import ClientInfo, Route
from campusid.oidc import keys
from campusid.oidc.models import KeyState, SigningKey


def _rotate(db, services):
    key = keys.rotate_keys(
        db,
        secret_key=keys.sealing_secret(services.settings),
        now=services.clock.now(),
        grace=timedelta(hours=services.settings.oidc_key_grace_hours),
    )
    db.commit()
    return key


def test_rotation_keeps_old_keys_verifying_until_they_expire(
    client, make_client, db, world, clock, services
):
    row, secret = register(db, world["pt_admin"], clock.now())
    rp = relying_party(make_client(), row, secret)
    old_token, old_flow = sign_in(rp, client, login="chenxiaokai")
    old_kid = jwt.decode(old_token["id_token"], keys.public_key_set(db, now=clock.now())).header[
        "kid"
    ]

    new_key = _rotate(db, services)
    published = {k["kid"] for k in client.get("/oauth/jwks").json()["keys"]}
    assert published == {old_kid, new_key.kid}
    # A token signed before the rotation still verifies against the JWKS.
    verify_id_token(
        rp,
        old_token["id_token"],
        nonce=old_flow.nonce,
        clock=clock,
        access_token=old_token["access_token"],
    )
    # New tokens are signed with the new key.
    rp2 = relying_party(make_client(), row, secret)
    new_token, _ = sign_in(rp2, client, login=None)
    header = jwt.decode(new_token["id_token"], keys.public_key_set(db, now=clock.now())).header
    assert header["kid"] == new_key.kid

    clock.advance(hours=services.settings.oidc_key_grace_hours, seconds=1)
    published = {k["kid"] for k in client.get("/oauth/jwks").json()["keys"]}
    assert published == {new_key.kid}


def test_private_keys_are_stored_encrypted(db, world, services, clock):
    key = keys.create_key(db, secret_key=services.settings.secret_key, now=clock.now())
    assert "d" not in key.public_jwk
    assert '"d"' not in key.private_jwk_encrypted
    kid, private = keys.signing_key(
        db, secret_key=services.settings.secret_key, now=clock.now(), grace=timedelta(hours=1)
    )
    assert kid == key.kid and private.is_private


def test_a_changed_secret_key_rotates_instead_of_failing(db, world, services, clock):
    first = keys.create_key(db, secret_key="old-secret", now=clock.now())
    kid, _ = keys.signing_key(
        db, secret_key=services.settings.secret_key, now=clock.now(), grace=timedelta(hours=1)
    )
    assert kid != first.kid
    db.refresh(first)
    assert first.state is KeyState.RETIRED
    assert first.kid in {k["kid"] for k in keys.jwks(db, now=clock.now())["keys"]}


def test_cli_rotates_keys(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from campusid import cli, migrate
    from campusid.db import make_engine

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate.upgrade(url)
    monkeypatch.setenv("CAMPUSID_DATABASE_URL", url)
    monkeypatch.setenv("CAMPUSID_SECRET_KEY", "cli-test-key")
    cli.get_settings.cache_clear()
    try:
        first = CliRunner().invoke(cli.app, ["oidc", "rotate-keys"])
        second = CliRunner().invoke(cli.app, ["oidc", "rotate-keys"])
    finally:
        cli.get_settings.cache_clear()
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    engine = make_engine(url)
    with engine.connect() as conn:
        states = sorted(r[0] for r in conn.exec_driver_sql("SELECT state FROM oidc_signing_keys"))
    engine.dispose()
    assert states == ["active", "retired"]


def test_family_scope_lists_the_childrens_classes(client, make_client, db, world, clock):
    row, secret = register(db, world["pt_admin"], clock.now())
    rp = relying_party(make_client(), row, secret)
    sign_in(rp, client, login="p_lidaniang")
    info = rp.get(f"{ISSUER}/oauth/userinfo").json()
    child = world["lixiaoyao"]
    assert [c["sub"] for c in info["children"]] == [str(child.id)]
    classes = info["children"][0]["classes"]
    assert classes[0]["name"] == "五年级1班" and classes[0]["role"] == "student"
    assert info["children"][0]["name"] == "李逍遥"  # issue 21
    assert info["classes"] == []  # the parent is in no class


def test_scopes_limit_what_is_shared(client, make_client, db, world, clock):
    row, secret = register(db, world["pt_admin"], clock.now(), scopes="openid")
    rp = relying_party(make_client(), row, secret, scope="openid profile school identifiers.full")
    token, _ = sign_in(rp, client, login="chenxiaokai")
    assert token["scope"] == "openid"
    info = rp.get(f"{ISSUER}/oauth/userinfo").json()
    assert set(info) == {"sub"}


def test_identifiers_are_masked_unless_the_full_scope_was_granted(
    client, make_client, db, world, clock
):
    masked, secret = register(
        db, world["pt_admin"], clock.now(), scopes="openid identifiers identifiers.full"
    )
    rp = relying_party(make_client(), masked, secret, scope="openid identifiers")
    sign_in(rp, client, login="chenxiaokai")
    info = rp.get(f"{ISSUER}/oauth/userinfo").json()
    assert info["phone_number_masked"] == "138****0001"
    assert "phone_number" not in info and "id_card_number" not in info

    full = relying_party(make_client(), masked, secret, scope="openid identifiers.full")
    sign_in(full, client, login=None)
    info = full.get(f"{ISSUER}/oauth/userinfo").json()
    assert info["phone_number"] == "13800000001"


def test_a_reset_by_the_homeroom_teacher_revokes_the_students_tokens(
    client, make_client, db, world, clock, services
):
    row, secret = register(db, world["pt_admin"], clock.now())
    rp = relying_party(make_client(), row, secret)
    sign_in(rp, client, login="lixiaoyao")
    assert rp.get(f"{ISSUER}/oauth/userinfo").status_code == 200

    student = db.merge(world["lixiaoyao"])
    accounts.set_password(
        db,
        services=services,
        user=student,
        new_password="Chong#Zhi2026",
        route=Route.TEACHER,
        actor=db.merge(world["chenxiaokai"]),
        must_change=True,
        client=ClientInfo(),
    )
    db.commit()
    assert rp.get(f"{ISSUER}/oauth/userinfo").status_code == 401
    with pytest.raises(OAuthError):
        rp.refresh_token(f"{ISSUER}/oauth/token")


def test_signing_key_is_created_once(client, db, world):
    client.get("/oauth/jwks")
    client.get("/oauth/jwks")
    assert len(list(db.scalars(select(SigningKey)))) == 1

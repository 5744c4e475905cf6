"""Issue 21: one signing key for every worker and machine, sealed under the data key;
rotation with overlap from the command line; production needs a secret key."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from tests.support.oidc import register
from tests.support.rp import HandRP, browse_to_callback

from campusid.config import Settings
from campusid.context import build_services
from campusid.oidc import keys
from campusid.oidc.models import SigningKey
from campusid.oidc.server import Context


def _worker(services, db, secret_key):  # type: ignore[no-untyped-def]
    """Another worker process: the same database and data key, its own random secret key."""
    settings = services.settings.model_copy(update={"secret_key": secret_key})
    other = services.__class__(**{**services.__dict__, "settings": settings})
    return Context(db=db, services=other, issuer="http://testserver")


def test_workers_without_a_shared_secret_key_sign_with_one_key(db, services):
    kids = {_worker(services, db, f"random-{n}").signing_key()[0] for n in range(6)}
    assert len(kids) == 1
    assert db.scalar(select(func.count()).select_from(SigningKey)) == 1


def test_sign_ins_in_several_workers_leave_one_key_in_the_jwks(
    client, make_client, db, world, clock, services
):
    row, secret = register(db, world["pt_admin"], clock.now())
    for login in ("lixiaoyao", "chenxiaokai"):
        rp = HandRP(make_client(), row.client_id, secret)
        req = rp.authorization()
        tokens = rp.redeem(browse_to_callback(make_client(), req, login), req)
        rp.id_token(tokens["id_token"], req, int(clock.now().timestamp()))
        _worker(services, db, "yet-another-random-key").signing_key()
    assert len(client.get("/oauth/jwks").json()["keys"]) == 1


def test_rotation_overlaps_and_the_cli_alias(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from campusid import cli, migrate
    from campusid.db import make_engine

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate.upgrade(url)
    monkeypatch.setenv("CAMPUSID_DATABASE_URL", url)
    cli.get_settings.cache_clear()
    try:
        first = CliRunner().invoke(cli.app, ["oidc", "rotate-key"])
        second = CliRunner().invoke(cli.app, ["oidc", "rotate-key"])
    finally:
        cli.get_settings.cache_clear()
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT state, expires_at FROM oidc_signing_keys ORDER BY id"
        ).all()
    engine.dispose()
    # Different processes (each its own random secret key) opened and rotated the same keys.
    assert [r[0] for r in rows] == ["retired", "active"] and rows[0][1] is not None


def test_a_key_sealed_under_the_data_key_cannot_be_opened_without_it(db, services, clock):
    key = keys.create_key(db, secret_key=keys.sealing_secret(services.settings), now=clock.now())
    assert '"d"' not in key.private_jwk_encrypted
    kid, _ = keys.signing_key(
        db, secret_key="another-data-key", now=clock.now(), grace=timedelta(hours=1)
    )
    assert kid != key.kid  # rotated rather than failing; the old key still verifies


def test_production_refuses_to_start_without_a_secret_key():
    data_key = "A" * 86 + "=="
    with pytest.raises(RuntimeError, match="CAMPUSID_SECRET_KEY"):
        build_services(
            Settings(environment="production", database_url="sqlite://", data_key=data_key)
        )
    build_services(
        Settings(
            environment="production",
            database_url="sqlite://",
            data_key=data_key,
            secret_key="set-by-the-operator",
        )
    )

"""issue 21: retired signing keys leave the JWKS after the grace period and the database with
`campusid db purge` once the longest token they signed has expired too; on the injected clock."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from campusid.oidc import keys
from campusid.oidc.models import KeyState, SigningKey
from campusid.ops.purge import purge_now


def _kids(client) -> set[str]:  # type: ignore[no-untyped-def]
    return {k["kid"] for k in client.get("/oauth/jwks").json()["keys"]}


def _stored(db) -> dict[str, KeyState]:  # type: ignore[no-untyped-def]
    db.expire_all()
    return {row.kid: row.state for row in db.scalars(select(SigningKey))}


def test_a_retired_key_leaves_the_jwks_then_the_purge_deletes_it(
    client, db, world, services, clock
):
    settings = services.settings
    secret = keys.sealing_secret(settings)
    grace = timedelta(hours=settings.oidc_key_grace_hours)
    old = keys.create_key(db, secret_key=secret, now=clock.now())
    db.commit()
    new = keys.rotate_keys(db, secret_key=secret, now=clock.now(), grace=grace)
    db.commit()
    assert _kids(client) == {old.kid, new.kid}

    # Still published during the grace period: the purge keeps it.
    clock.advance(hours=settings.oidc_key_grace_hours - 1)
    assert purge_now(services)["oidc_signing_keys"] == 0
    assert _kids(client) == {old.kid, new.kid}

    # Past the grace period the JWKS no longer lists it, but an ID token it signed at the very
    # end could still be checked by a relying party's cached JWKS: kept a token's lifetime more.
    clock.advance(hours=1, seconds=1)
    assert _kids(client) == {new.kid}
    assert purge_now(services)["oidc_signing_keys"] == 0
    assert set(_stored(db)) == {old.kid, new.kid}

    clock.advance(seconds=keys.longest_token_seconds(settings))
    assert purge_now(services)["oidc_signing_keys"] == 1
    assert _stored(db) == {new.kid: KeyState.ACTIVE}
    assert purge_now(services)["oidc_signing_keys"] == 0  # idempotent

    # The active key is never purged, however old.
    clock.advance(days=3650)
    assert purge_now(services)["oidc_signing_keys"] == 0
    assert _kids(client) == {new.kid}

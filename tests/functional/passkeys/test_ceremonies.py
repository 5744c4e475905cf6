"""Passkeys over HTTP: registration and authentication ceremonies with a software
authenticator (real attestations and signatures, checked by the `webauthn` library)."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from campusid.audit.models import AuditEvent
from campusid.demo import DEMO_PASSWORD
from campusid.messaging.models import Notice
from campusid.passkeys.models import PasskeyChallenge, PasskeyCredential
from tests.support.http import csrf_token, post_form, sign_in
from tests.support.webauthn import SoftAuthenticator, b64url

ORIGIN = "http://testserver"


def _options(client, url):  # type: ignore[no-untyped-def]
    answer = client.post(url, headers={"X-CSRF-Token": csrf_token(client)})
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-type"].startswith("application/json")
    return answer.json()


def _register(
    client, authenticator, *, label="我的安全密钥", origin=ORIGIN, password=DEMO_PASSWORD
):  # type: ignore[no-untyped-def]
    options = _options(client, "/account/passkeys/options")
    response = authenticator.create(options, origin=origin)
    return post_form(
        client,
        "/account/passkeys",
        {"credential": json.dumps(response), "label": label, "current_password": password},
    )


def _assert(client, authenticator, **kwargs):  # type: ignore[no-untyped-def]
    options = _options(client, "/account/passkeys/verify/options")
    response = authenticator.get(options, origin=kwargs.pop("origin", ORIGIN), **kwargs)
    return post_form(client, "/account/passkeys/verify", {"credential": json.dumps(response)})


def _passkeys(db, user_id):  # type: ignore[no-untyped-def]
    db.expire_all()
    return list(db.scalars(select(PasskeyCredential).where(PasskeyCredential.user_id == user_id)))


def test_register_then_authenticate_with_a_security_key(client, make_client, db, world):
    teacher = world["chenxiaokai"]
    elsewhere = make_client()
    sign_in(elsewhere, "chenxiaokai")
    sign_in(client, "chenxiaokai")
    options = _options(client, "/account/passkeys/options")
    assert options["rp"]["id"] == "testserver"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["user"]["name"] == "chenxiaokai"
    key = SoftAuthenticator(attestation="packed")

    done = _register(client, key)
    assert done.status_code == 303, done.text[:500]
    page = client.get(done.headers["location"]).text
    assert "通行密钥已添加" in page and "我的安全密钥" in page and "仅限本设备的密钥" in page
    (row,) = _passkeys(db, teacher.id)
    assert row.label == "我的安全密钥" and row.amr == "hwk" and row.sign_count == 0
    assert row.attachment == "cross-platform" and row.transports == "usb"
    # A credential change: audited, the holder told, the other sessions ended, this one kept.
    assert db.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "passkey_added", AuditEvent.target_user_id == teacher.id
        )
    )
    assert db.scalar(
        select(Notice).where(Notice.user_id == teacher.id, Notice.kind == "passkey_added")
    )
    assert elsewhere.get("/").status_code == 303
    assert client.get("/").status_code == 200

    verified = _assert(client, key)
    assert verified.status_code == 200, verified.text[:300]
    assert verified.json() == {"user": teacher.id, "passkey": row.id, "amr": "hwk"}
    db.expire_all()
    assert db.get(PasskeyCredential, row.id).sign_count == 1
    assert db.get(PasskeyCredential, row.id).last_used_at is not None


def test_a_synced_passkey_is_a_software_key(client, db, world):
    sign_in(client, "chenxiaokai")
    phone = SoftAuthenticator(synced=True, attachment="platform", counts=False)
    assert _register(client, phone, label="").status_code == 303
    (row,) = _passkeys(db, world["chenxiaokai"].id)
    assert row.amr == "swk" and row.backup_eligible and row.label == "通行密钥 1"
    # Synced passkeys send a counter of 0 every time: accepted (there is nothing to compare).
    assert _assert(client, phone).json()["amr"] == "swk"
    assert _assert(client, phone).json()["amr"] == "swk"


def test_a_replayed_response_is_refused(client, db, world):
    sign_in(client, "chenxiaokai")
    key = SoftAuthenticator()
    options = _options(client, "/account/passkeys/options")
    response = json.dumps(key.create(options, origin=ORIGIN))
    data = {"credential": response, "label": "a", "current_password": DEMO_PASSWORD}
    assert post_form(client, "/account/passkeys", data).status_code == 303
    again = post_form(client, "/account/passkeys", data)
    assert again.status_code == 400 and "验证已过期" in again.text
    assert len(_passkeys(db, world["chenxiaokai"].id)) == 1

    options = _options(client, "/account/passkeys/verify/options")
    assertion = json.dumps(key.get(options, origin=ORIGIN))
    first = post_form(client, "/account/passkeys/verify", {"credential": assertion})
    assert first.status_code == 200
    replay = post_form(client, "/account/passkeys/verify", {"credential": assertion})
    assert replay.status_code == 400 and replay.json()["error"]["message"] == "验证已过期，请重试。"
    assert db.scalar(select(PasskeyChallenge)) is None  # used challenges are gone


def test_a_challenge_expires_and_belongs_to_its_session(client, make_client, db, world, clock):
    sign_in(client, "chenxiaokai")
    key = SoftAuthenticator()
    options = _options(client, "/account/passkeys/options")
    clock.set(clock.now() + timedelta(minutes=6))
    late = post_form(
        client,
        "/account/passkeys",
        {
            "credential": json.dumps(key.create(options, origin=ORIGIN)),
            "label": "late",
            "current_password": DEMO_PASSWORD,
        },
    )
    assert late.status_code == 400 and "验证已过期" in late.text
    assert 'value="late"' in late.text  # the form keeps what was typed
    # A challenge asked for by one browser is useless in another session of the same person.
    other = make_client()
    sign_in(other, "chenxiaokai")
    options = _options(client, "/account/passkeys/options")
    stolen = post_form(
        other,
        "/account/passkeys",
        {
            "credential": json.dumps(SoftAuthenticator().create(options, origin=ORIGIN)),
            "current_password": DEMO_PASSWORD,
        },
    )
    assert stolen.status_code == 400 and "验证已过期" in stolen.text
    assert _passkeys(db, world["chenxiaokai"].id) == []


def test_wrong_origin_and_wrong_rp_id_are_refused(client, db, world):
    sign_in(client, "chenxiaokai")
    key = SoftAuthenticator()
    phished = _register(client, key, origin="https://testserver.evil.example")
    assert phished.status_code == 400 and "通行密钥验证未通过" in phished.text
    options = _options(client, "/account/passkeys/options")
    other_rp = post_form(
        client,
        "/account/passkeys",
        {
            "credential": json.dumps(key.create(options, origin=ORIGIN, rp_id="evil.example")),
            "current_password": DEMO_PASSWORD,
        },
    )
    assert other_rp.status_code == 400
    assert _passkeys(db, world["chenxiaokai"].id) == []

    assert _register(client, key).status_code == 303
    assert _assert(client, key, origin="https://evil.example").status_code == 400
    assert _assert(client, key, rp_id="evil.example").status_code == 400
    assert _assert(client, key).status_code == 200


def test_a_signature_counter_going_backwards_is_refused(client, db, world, caplog):
    sign_in(client, "chenxiaokai")
    key = SoftAuthenticator()
    assert _register(client, key).status_code == 303
    assert _assert(client, key, counter=5).status_code == 200
    clone = _assert(client, key, counter=3)
    assert clone.status_code == 400
    assert _assert(client, key, counter=5).status_code == 400  # not going up is refused too
    assert "cloned key" in caplog.text
    (row,) = _passkeys(db, world["chenxiaokai"].id)
    assert row.sign_count == 5
    assert _assert(client, key, counter=6).status_code == 200


def test_another_persons_passkey_does_not_verify(client, make_client, db, world):
    sign_in(client, "chenxiaokai")
    key = SoftAuthenticator()
    assert _register(client, key).status_code == 303
    other = make_client()
    sign_in(other, "zhaoshuxue")
    none = other.post(
        "/account/passkeys/verify/options", headers={"X-CSRF-Token": csrf_token(other)}
    )
    assert none.status_code == 400 and "还没有添加通行密钥" in none.json()["error"]["message"]
    # Her own options name none of his credentials; his key answering them is refused.
    sign_in(other, "zhaoshuxue")
    mine = SoftAuthenticator()
    assert _register(other, mine).status_code == 303
    options = _options(other, "/account/passkeys/verify/options")
    options["allowCredentials"] = [
        {"id": b64url(next(iter(key.credentials))), "type": "public-key"}
    ]
    forged = key.get(options, origin=ORIGIN)  # his key, answering her own challenge
    answer = post_form(other, "/account/passkeys/verify", {"credential": json.dumps(forged)})
    assert answer.status_code == 400


def test_registration_needs_the_password_and_garbage_is_refused(client, db, world):
    sign_in(client, "chenxiaokai")
    wrong = _register(client, SoftAuthenticator(), password="Wrong#Pass1")
    assert wrong.status_code == 400 and "当前密码不正确" in wrong.text
    for garbage in (
        "",
        "not json",
        "[]",
        '{"response": {}}',
        '{"response": {"clientDataJSON": "!!"}}',
    ):
        answer = post_form(
            client,
            "/account/passkeys",
            {"credential": garbage, "label": "x", "current_password": DEMO_PASSWORD},
        )
        assert answer.status_code == 400, garbage
    assert _passkeys(db, world["chenxiaokai"].id) == []


def test_the_same_key_twice_and_removing_one(client, make_client, db, world):
    teacher = world["chenxiaokai"]
    sign_in(client, "chenxiaokai")
    key = SoftAuthenticator()
    assert _register(client, key).status_code == 303
    # The options exclude it: the authenticator refuses to make a second credential.
    options = _options(client, "/account/passkeys/options")
    assert len(options["excludeCredentials"]) == 1
    (row,) = _passkeys(db, teacher.id)

    stranger = make_client()
    sign_in(stranger, "zhaoshuxue")
    theirs = post_form(
        stranger, f"/account/passkeys/{row.id}/delete", {"current_password": DEMO_PASSWORD}
    )
    assert theirs.status_code == 404
    no_password = post_form(client, f"/account/passkeys/{row.id}/delete", {"current_password": ""})
    assert no_password.status_code == 400
    assert len(_passkeys(db, teacher.id)) == 1

    elsewhere = make_client()
    sign_in(elsewhere, "chenxiaokai")
    gone = post_form(
        client, f"/account/passkeys/{row.id}/delete", {"current_password": DEMO_PASSWORD}
    )
    assert gone.status_code == 303
    assert "通行密钥已删除" in client.get(gone.headers["location"]).text
    assert _passkeys(db, teacher.id) == []
    assert elsewhere.get("/").status_code == 303
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "passkey_removed"))
    assert db.scalar(select(Notice).where(Notice.kind == "passkey_removed"))


def test_the_page_and_its_endpoints_need_a_sign_in(client, world):
    assert client.get("/account/passkeys").status_code == 303
    answer = client.post("/account/passkeys/options", headers={"X-CSRF-Token": csrf_token(client)})
    assert answer.status_code == 303
    # Without the CSRF header the options are refused before anything else.
    sign_in(client, "chenxiaokai")
    assert client.post("/account/passkeys/options").status_code == 403
    page = client.get("/account/passkeys").text
    assert 'src="/static/passkeys.js"' in page and "添加通行密钥" in page

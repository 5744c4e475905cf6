"""Passkeys over HTTP: registration and authentication ceremonies with a software
authenticator (real attestations and signatures, checked by the `webauthn` library), at the
sign-in's second step and for a step-up."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import delete, select

from campusid.accounts.models import FactorRecoveryCode, SecondFactor
from campusid.audit.models import AuditEvent
from campusid.demo import DEMO_PASSWORD
from campusid.messaging.models import Notice
from campusid.passkeys.models import PasskeyChallenge, PasskeyCredential
from campusid.security.models import SessionRecord
from campusid.security.sessions import hash_token
from tests.support.http import csrf_token, post_form, sign_in
from tests.support.passkeys import ORIGIN, options, register, sign_in_with_passkey, step_up
from tests.support.webauthn import SoftAuthenticator, b64url


def _passkeys(db, user_id):  # type: ignore[no-untyped-def]
    db.expire_all()
    return list(db.scalars(select(PasskeyCredential).where(PasskeyCredential.user_id == user_id)))


def _session(db, client):  # type: ignore[no-untyped-def]
    db.expire_all()
    return db.get(SessionRecord, hash_token(client.cookies.get("campusid_session")))


def test_register_then_sign_in_with_a_security_key(client, make_client, db, world, clock):
    holder = world["p_lidaniang"]
    elsewhere = make_client()
    sign_in(elsewhere, "p_lidaniang")
    sign_in(client, "p_lidaniang")
    opts = options(client, "/account/passkeys/options")
    assert opts["rp"]["id"] == "testserver"
    assert opts["authenticatorSelection"]["userVerification"] == "preferred"
    assert opts["user"]["name"] == "p_lidaniang"
    key = SoftAuthenticator(attestation="packed")

    done = register(client, key, label="我的安全密钥")
    # His first factor: the ten recovery codes, shown once.
    assert done.status_code == 200, done.text[:500]
    assert "请保存您的恢复码" in done.text
    (row,) = _passkeys(db, holder.id)
    assert row.label == "我的安全密钥" and row.amr == "hwk" and row.sign_count == 0
    assert row.attachment == "cross-platform" and row.transports == "usb"
    factor = db.get(SecondFactor, row.factor_id)
    assert factor.kind == "webauthn" and factor.confirmed_at is not None
    assert (
        len(
            list(
                db.scalars(
                    select(FactorRecoveryCode).where(FactorRecoveryCode.user_id == holder.id)
                )
            )
        )
        == 10
    )
    # A credential change: audited, the holder told, the other sessions ended, this one kept
    # and counted as checked with the new key.
    assert (
        db.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "factor_added", AuditEvent.target_user_id == holder.id
            )
        ).detail["kind"]
        == "webauthn"
    )
    notice = db.scalar(
        select(Notice).where(Notice.user_id == holder.id, Notice.title == "您的两步验证设置已变更")
    )
    assert notice is not None and "添加了通行密钥「我的安全密钥」" in notice.body
    assert elsewhere.get("/").status_code == 303
    assert client.get("/").status_code == 200
    assert _session(db, client).amr == "pwd hwk"
    page = client.get("/account/passkeys").text
    assert "我的安全密钥" in page and "仅限本设备的密钥" in page

    # Signing in now takes the key at the second step (使用通行密钥 beside the code field).
    clock.set(clock.now() + timedelta(minutes=5))
    browser = make_client()
    first = post_form(browser, "/login", {"login": "p_lidaniang", "password": DEMO_PASSWORD})
    assert first.headers["location"] == "/login/two-step"
    second = browser.get("/login/two-step")
    assert "使用通行密钥" in second.text and 'action="/login/two-step/passkey"' in second.text
    assert browser.get("/").status_code == 303  # no session before the second step
    signed_in = sign_in_with_passkey(browser, key)
    assert signed_in.status_code == 303, signed_in.text[:500]
    assert browser.get("/").status_code == 200
    assert _session(db, browser).amr == "pwd hwk"
    assert _session(db, browser).second_factor_at is not None
    db.expire_all()
    assert db.get(PasskeyCredential, row.id).sign_count == 1
    # Its last use is its factor's (listed on 账号安全 with the others).
    assert db.get(SecondFactor, row.factor_id).last_used_at == clock.now()
    assert db.get(PasskeyCredential, row.id).last_used_at == clock.now()
    event = db.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "sign_in", AuditEvent.target_user_id == holder.id)
        .order_by(AuditEvent.id.desc())
    ).first()
    assert event.detail == {"factor": "hwk"}


def test_a_synced_passkey_is_a_software_key(client, db, world, clock):
    sign_in(client, "p_lidaniang")
    phone = SoftAuthenticator(synced=True, attachment="platform", counts=False)
    assert register(client, phone, label="").status_code == 200
    (row,) = _passkeys(db, world["p_lidaniang"].id)
    assert row.amr == "swk" and row.backup_eligible and row.label == "通行密钥 1"
    assert row.transports == "internal"
    # Synced passkeys send a counter of 0 every time: accepted (there is nothing to compare).
    for _ in range(2):
        clock.set(clock.now() + timedelta(minutes=20))
        assert step_up(client, phone).status_code == 303
        assert _session(db, client).amr == "pwd swk"


def test_a_step_up_with_a_passkey(client, db, world, clock):
    sign_in(client, "p_lidaniang")
    key = SoftAuthenticator()
    register(client, key)
    clock.set(clock.now() + timedelta(minutes=30))
    # The step-up is due: 通行密钥 itself asks for it before showing the keys.
    page = client.get("/account/passkeys")
    assert page.status_code == 303 and page.headers["location"].startswith("/account/verify")
    verify = client.get(page.headers["location"])
    assert 'action="/account/verify/passkey"' in verify.text
    assert (
        step_up(client, key, next_path="/account/passkeys").headers["location"]
        == "/account/passkeys"
    )
    assert _session(db, client).second_factor_at == clock.now()
    assert client.get("/account/passkeys").status_code == 200
    assert db.scalar(
        select(AuditEvent).where(AuditEvent.action == "second_factor_checked")
    ).detail == {"factor": "hwk"}


def test_a_replayed_response_is_refused(client, db, world, clock):
    sign_in(client, "p_lidaniang")
    key = SoftAuthenticator()
    opts = options(client, "/account/passkeys/options")
    response = json.dumps(key.create(opts, origin=ORIGIN))
    data = {"credential": response, "label": "a", "current_password": DEMO_PASSWORD}
    assert post_form(client, "/account/passkeys", data).status_code == 200
    again = post_form(client, "/account/passkeys", data)
    assert again.status_code == 400 and "验证已过期" in again.text
    assert len(_passkeys(db, world["p_lidaniang"].id)) == 1

    opts = options(client, "/account/verify/passkey/options")
    assertion = json.dumps(key.get(opts, origin=ORIGIN))
    first = post_form(client, "/account/verify/passkey", {"credential": assertion, "next": "/"})
    assert first.status_code == 303
    replay = post_form(client, "/account/verify/passkey", {"credential": assertion, "next": "/"})
    assert replay.status_code == 400 and "验证已过期，请重试。" in replay.text
    assert db.scalar(select(PasskeyChallenge)) is None  # used challenges are gone


def test_a_challenge_expires_and_belongs_to_its_session(client, make_client, db, world, clock):
    sign_in(client, "p_lidaniang")
    key = SoftAuthenticator()
    opts = options(client, "/account/passkeys/options")
    clock.set(clock.now() + timedelta(minutes=6))
    late = post_form(
        client,
        "/account/passkeys",
        {
            "credential": json.dumps(key.create(opts, origin=ORIGIN)),
            "label": "late",
            "current_password": DEMO_PASSWORD,
        },
    )
    assert late.status_code == 400 and "验证已过期" in late.text
    assert 'value="late"' in late.text  # the form keeps what was typed
    # A challenge asked for by one browser is useless in another session of the same person.
    other = make_client()
    sign_in(other, "p_lidaniang")
    opts = options(client, "/account/passkeys/options")
    stolen = post_form(
        other,
        "/account/passkeys",
        {
            "credential": json.dumps(SoftAuthenticator().create(opts, origin=ORIGIN)),
            "current_password": DEMO_PASSWORD,
        },
    )
    assert stolen.status_code == 400 and "验证已过期" in stolen.text
    assert _passkeys(db, world["p_lidaniang"].id) == []


def test_wrong_origin_and_wrong_rp_id_are_refused(client, db, world):
    sign_in(client, "p_lidaniang")
    key = SoftAuthenticator()
    phished = register(client, key, origin="https://testserver.evil.example")
    assert phished.status_code == 400 and "通行密钥验证未通过" in phished.text
    opts = options(client, "/account/passkeys/options")
    other_rp = post_form(
        client,
        "/account/passkeys",
        {
            "credential": json.dumps(key.create(opts, origin=ORIGIN, rp_id="evil.example")),
            "current_password": DEMO_PASSWORD,
        },
    )
    assert other_rp.status_code == 400
    assert _passkeys(db, world["p_lidaniang"].id) == []

    assert register(client, key).status_code == 200
    assert step_up(client, key, origin="https://evil.example").status_code == 400
    assert step_up(client, key, rp_id="evil.example").status_code == 400
    assert step_up(client, key).status_code == 303


def test_a_signature_counter_going_backwards_is_refused(client, make_client, db, world, caplog):
    sign_in(client, "p_lidaniang")
    key = SoftAuthenticator()
    register(client, key)
    assert step_up(client, key, counter=5).status_code == 303
    clone = step_up(client, key, counter=3)
    assert clone.status_code == 400 and "通行密钥验证未通过" in clone.text
    assert step_up(client, key, counter=5).status_code == 400  # not going up is refused too
    assert "cloned key" in caplog.text
    (row,) = _passkeys(db, world["p_lidaniang"].id)
    assert row.sign_count == 5
    # At the second step too; the refusals are counted like wrong codes.
    browser = make_client()
    post_form(browser, "/login", {"login": "p_lidaniang", "password": DEMO_PASSWORD})
    refused = sign_in_with_passkey(browser, key, counter=4)
    assert refused.status_code == 400 and "通行密钥验证未通过" in refused.text
    assert browser.get("/").status_code == 303
    assert (
        db.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "sign_in",
                AuditEvent.outcome == "failure",
                AuditEvent.target_user_id == row.user_id,
            )
        ).detail["reason"]
        == "bad_second_factor"
    )
    assert sign_in_with_passkey(browser, key, counter=6).status_code == 303


def test_another_persons_passkey_does_not_verify(client, make_client, db, world):
    sign_in(client, "p_lidaniang")
    key = SoftAuthenticator()
    register(client, key)
    other = make_client()
    sign_in(other, "zhaoshuxue")
    none = other.post(
        "/account/verify/passkey/options", headers={"X-CSRF-Token": csrf_token(other)}
    )
    assert none.status_code == 400 and "还没有添加通行密钥" in none.json()["error"]["message"]
    mine = SoftAuthenticator()
    register(other, mine)
    # His key, answering her own challenge: refused.
    opts = options(other, "/account/verify/passkey/options")
    opts["allowCredentials"] = [{"id": b64url(next(iter(key.credentials))), "type": "public-key"}]
    forged = key.get(opts, origin=ORIGIN)
    answer = post_form(other, "/account/verify/passkey", {"credential": json.dumps(forged)})
    assert answer.status_code == 400


def test_registration_needs_the_password_and_garbage_is_refused(client, db, world):
    sign_in(client, "p_lidaniang")
    wrong = register(client, SoftAuthenticator(), password="Wrong#Pass1")
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
    assert _passkeys(db, world["p_lidaniang"].id) == []


def test_the_same_key_twice_and_removing_one(client, make_client, db, world):
    holder = world["p_lidaniang"]
    sign_in(client, "p_lidaniang")
    key = SoftAuthenticator()
    register(client, key)
    # The options exclude it: the authenticator refuses to make a second credential.
    opts = options(client, "/account/passkeys/options")
    assert len(opts["excludeCredentials"]) == 1
    (row,) = _passkeys(db, holder.id)
    factor_id = row.factor_id

    stranger = make_client()
    sign_in(stranger, "zhaoshuxue")
    theirs = post_form(stranger, f"/account/two-step/{factor_id}/remove")
    assert theirs.status_code == 404
    assert len(_passkeys(db, holder.id)) == 1

    elsewhere = make_client()
    post_form(elsewhere, "/login", {"login": "p_lidaniang", "password": DEMO_PASSWORD})
    assert sign_in_with_passkey(elsewhere, key).status_code == 303
    gone = post_form(client, f"/account/two-step/{factor_id}/remove")
    assert gone.status_code == 303
    assert _passkeys(db, holder.id) == []  # the factor went, and its key with it
    assert db.get(SecondFactor, factor_id) is None
    assert elsewhere.get("/").status_code == 303
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "factor_removed")).detail == {
        "kind": "webauthn"
    }


def test_the_page_and_its_endpoints_need_a_sign_in(client, world):
    assert client.get("/account/passkeys").status_code == 303
    answer = client.post("/account/passkeys/options", headers={"X-CSRF-Token": csrf_token(client)})
    assert answer.status_code == 303
    # Without a pending sign-in the second step's options are refused.
    refused = client.post(
        "/login/two-step/passkey/options", headers={"X-CSRF-Token": csrf_token(client)}
    )
    assert refused.status_code == 400
    # Without the CSRF header the options are refused before anything else.
    sign_in(client, "p_lidaniang")
    assert client.post("/account/passkeys/options").status_code == 403
    page = client.get("/account/passkeys").text
    assert 'src="/static/passkeys.js"' in page and "添加通行密钥" in page


def test_pupils_are_not_offered_passkeys(client, world):
    sign_in(client, "lixiaoyao")
    assert client.get("/account/passkeys").status_code == 404
    answer = client.post("/account/passkeys/options", headers={"X-CSRF-Token": csrf_token(client)})
    assert answer.status_code == 404


def test_a_lost_factor_reset_removes_the_passkeys(client, make_client, db, world):
    holder = world["p_lidaniang"]
    sign_in(client, "p_lidaniang")
    register(client, SoftAuthenticator())
    assert len(_passkeys(db, holder.id)) == 1
    admin = make_client()
    sign_in(admin, "pt_admin")
    done = post_form(admin, f"/people/{holder.id}/two-step/reset", {"back": "/"})
    assert done.status_code == 200, done.text[:300]
    assert _passkeys(db, holder.id) == []
    assert db.scalar(select(SecondFactor).where(SecondFactor.user_id == holder.id)) is None
    assert client.get("/").status_code == 303  # every session of hers ended


def test_a_required_role_may_enrol_a_passkey_instead(client, db, world):
    admin = world["xx_admin"]
    db.execute(delete(SecondFactor).where(SecondFactor.user_id == admin.id))
    db.commit()
    first = post_form(client, "/login", {"login": "xx_admin", "password": DEMO_PASSWORD})
    assert first.headers["location"].startswith("/account/two-step/setup")
    assert client.get("/").headers["location"] == "/account/two-step/setup"
    setup = client.get("/account/two-step/setup")
    assert 'href="/account/passkeys?next=' in setup.text
    page = client.get("/account/passkeys")
    assert page.status_code == 200 and "您的角色必须启用两步验证" in page.text
    done = register(client, SoftAuthenticator(), next_path="/")
    assert done.status_code == 200 and "请保存您的恢复码" in done.text
    assert client.get("/").status_code == 200  # enrolled: the pages open
    assert _session(db, client).amr == "pwd hwk"


def test_a_form_without_the_browsers_answer_and_an_eleventh_key_are_refused(client, db, world):
    holder = world["p_lidaniang"]
    sign_in(client, "p_lidaniang")
    # The script did not put the authenticator's answer in the form (cancelled, no script).
    empty = post_form(
        client,
        "/account/passkeys",
        {"credential": "", "label": "空的", "current_password": DEMO_PASSWORD},
    )
    assert empty.status_code == 400 and "浏览器没有完成通行密钥的创建" in empty.text
    assert 'value="空的"' in empty.text  # the form keeps what was typed
    assert _passkeys(db, holder.id) == []
    for number in range(10):
        assert register(client, SoftAuthenticator(), label=f"钥匙 {number}").status_code in (
            200,
            303,
        )
    assert len(_passkeys(db, holder.id)) == 10
    # The eleventh: no options (so no challenge), and the reason for the page's script.
    refused = client.post("/account/passkeys/options", headers={"X-CSRF-Token": csrf_token(client)})
    assert refused.status_code == 400
    assert "最多可添加 10 个通行密钥" in refused.json()["error"]["message"]
    db.expire_all()
    assert db.scalar(select(PasskeyChallenge)) is None
    assert len(_passkeys(db, holder.id)) == 10

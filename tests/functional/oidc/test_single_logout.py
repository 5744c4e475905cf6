"""issue 21: single logout. 退出登录 at campusid, a password change and an administrator's reset
revoke the person's application tokens and queue a signed logout token (Back-Channel Logout 1.0)
in the transactional outbox, delivered to a real HTTP server on loopback after the commit and
retried with the outbox's back-off; front-channel URIs are framed on the signed-out page, with
`iss` and `sid` for an application that asked. ID tokens and logout tokens carry the browser
session's `sid`. The application is hand-written (httpx + joserfc), not Authlib.

The tests run without the dispatcher thread (CAMPUSID_OUTBOX_THREAD=false): the committing
request offers the token once, and retries come when the test moves the injected clock past
the back-off and drains the outbox, as the thread or `campusid outbox work` would.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select
from tests.support.backchannel import backchannel_endpoint
from tests.support.http import post_form, sign_in
from tests.support.oidc import AFTER_LOGOUT, ISSUER, change_own_password, register
from tests.support.rawrp import code_flow, http

from campusid import outbox
from campusid.audit.models import AuditEvent
from campusid.audit.service import ClientInfo
from campusid.oidc import service as oidc
from campusid.oidc.logout import BACKCHANNEL_EVENT, CHANNEL
from campusid.security.sessions import hash_token
from campusid.senders import OutboxMessage

FRONT = "https://bjq.example/frontchannel"
SESSION_COOKIE = "campusid_session"


def _with_logout_uris(db, world, clock, row, *, back: str = "", front: str = "", sid=False):
    form = replace(
        oidc.ClientForm.of(row),
        backchannel_logout_uri=back,
        frontchannel_logout_uri=front,
        frontchannel_logout_session_required=sid,
    )
    oidc.update_client(
        db, row=row, form=form, actor=world["pt_admin"], now=clock.now(), client=ClientInfo()
    )
    db.commit()


def _claims(server, token: str) -> dict:
    published = KeySet.import_key_set(server.get("/oauth/jwks").json())
    return dict(jwt.decode(token, published, algorithms=["RS256"]).claims)


def _verify(server, token: str, *, client_id: str, sub: str, clock) -> dict:
    """What the application must check (Back-Channel Logout 1.0, section 2.6)."""
    published = KeySet.import_key_set(server.get("/oauth/jwks").json())
    decoded = jwt.decode(token, published, algorithms=["RS256"])
    assert decoded.header["typ"] == "logout+jwt" and decoded.header["kid"]
    claims = dict(decoded.claims)
    jwt.JWTClaimsRegistry(
        now=int(clock.now().timestamp()),
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": client_id},
        iat={"essential": True},
        jti={"essential": True},
    ).validate(claims)
    assert claims["events"] == {BACKCHANNEL_EVENT: {}}
    assert claims["sub"] == sub and "nonce" not in claims
    return claims


def _userinfo(server, token: str) -> int:
    return server.get("/oauth/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code


def _logout_rows(db) -> list[OutboxMessage]:
    db.expire_all()
    return list(
        db.scalars(
            select(OutboxMessage).where(OutboxMessage.channel == CHANNEL).order_by(OutboxMessage.id)
        )
    )


def test_discovery_says_back_and_front_channel_logout_with_sessions(client):
    meta = client.get("/.well-known/openid-configuration").json()
    assert meta["backchannel_logout_supported"] is True
    assert meta["frontchannel_logout_supported"] is True
    assert meta["backchannel_logout_session_supported"] is True
    assert meta["frontchannel_logout_session_supported"] is True
    assert "sid" in meta["claims_supported"]


def test_the_id_token_names_the_browser_session_not_its_cookie(
    client, make_client, db, world, clock
):
    first, first_secret = register(db, world["pt_admin"], clock.now(), name="班级圈")
    second, second_secret = register(db, world["pt_admin"], clock.now(), name="作业本")
    server = http(client)
    browser = make_client()
    a = code_flow(
        browser, server, client_id=first.client_id, secret=first_secret, login="chenxiaokai"
    )
    b = code_flow(browser, server, client_id=second.client_id, secret=second_secret, login=None)
    sid = _claims(server, a["id_token"])["sid"]
    # One browser session: the same sid for every application.
    assert _claims(server, b["id_token"])["sid"] == sid
    cookie = browser.cookies.get(SESSION_COOKIE)
    assert cookie and sid not in (cookie, hash_token(cookie)) and cookie not in sid
    # Another browser of the same person: another session, another sid.
    other = code_flow(
        make_client(), server, client_id=first.client_id, secret=first_secret, login="chenxiaokai"
    )
    assert _claims(server, other["id_token"])["sid"] != sid


def test_signing_out_of_campusid_tells_the_app_and_ends_its_tokens(
    client, make_client, db, world, clock
):
    row, secret = register(db, world["pt_admin"], clock.now())
    server = http(client)
    with backchannel_endpoint() as endpoint:
        _with_logout_uris(db, world, clock, row, back=endpoint.uri, front=FRONT)
        browser = make_client()
        tokens = code_flow(
            browser, server, client_id=row.client_id, secret=secret, login="chenxiaokai"
        )
        sid = _claims(server, tokens["id_token"])["sid"]
        assert _userinfo(server, tokens["access_token"]) == 200

        out = post_form(browser, "/logout")
        assert out.status_code == 200
        # Without frontchannel_logout_session_required: iss only.
        assert f'src="{FRONT}?iss=http%3A%2F%2Ftestserver"' in out.text
        assert "frame-src https://bjq.example" in out.headers["content-security-policy"]

        assert len(endpoint.tokens) == 1
        assert endpoint.content_types[0] == "application/x-www-form-urlencoded"
        claims = _verify(
            server,
            endpoint.tokens[0],
            client_id=row.client_id,
            sub=str(world["chenxiaokai"].id),
            clock=clock,
        )
        assert claims["exp"] > claims["iat"] and claims["sid"] == sid
        # The token went through the outbox: one row, delivered, its key the token's jti.
        [message] = _logout_rows(db)
        assert (message.status, message.attempts, message.recipient) == ("sent", 1, row.client_id)
        assert message.payload is None and claims["jti"] == message.idempotency_key

    assert _userinfo(server, tokens["access_token"]) == 401
    refreshed = server.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(row.client_id, secret),
    )
    assert refreshed.json()["error"] == "invalid_grant"
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "oidc.backchannel_logout"))
    assert event is not None and event.detail["client_id"] == row.client_id


def test_a_failing_app_does_not_hold_up_the_sign_out_and_gets_its_token_once_it_recovers(
    client, make_client, db, world, clock, services
):
    row, secret = register(db, world["pt_admin"], clock.now())
    server = http(client)
    with backchannel_endpoint() as endpoint:
        _with_logout_uris(db, world, clock, row, back=endpoint.uri)
        browser = make_client()
        tokens = code_flow(
            browser, server, client_id=row.client_id, secret=secret, login="chenxiaokai"
        )
        endpoint.fail_first = 2  # the application is down for two attempts, then recovers

        out = post_form(browser, "/logout")
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert browser.get("/", follow_redirects=False).status_code in (302, 303)
        assert _userinfo(server, tokens["access_token"]) == 401  # revoked regardless

        # The first offer failed: the row waits for its back-off, visible to operators.
        [message] = _logout_rows(db)
        assert (message.status, message.attempts, message.last_error) == ("pending", 1, "HTTP 503")
        assert [m.id for m in outbox.troubled(db)] == [message.id]
        assert endpoint.tokens == []

        # Before the back-off has passed nothing is offered; after it, a second failure.
        assert services.drain_outbox().claimed == 0
        clock.advance(seconds=31)
        assert services.drain_outbox().retrying == 1
        clock.advance(seconds=61)  # the back-off doubled
        report = services.drain_outbox()
        assert (report.sent, report.retrying) == (1, 0)

        assert endpoint.statuses == [503, 503, 200]
        [token] = endpoint.tokens
        claims = _verify(
            server, token, client_id=row.client_id, sub=str(world["chenxiaokai"].id), clock=clock
        )
        # Signed when delivered: fresh for the application's clock, the same jti throughout.
        assert claims["iat"] == int(clock.now().timestamp())
        [message] = _logout_rows(db)
        assert (message.status, message.attempts) == ("sent", 3)
        assert claims["jti"] == message.idempotency_key

        # Nothing is delivered twice: a later dispatch finds nothing to do.
        clock.advance(hours=2)
        assert services.drain_outbox().claimed == 0
        assert endpoint.statuses == [503, 503, 200]


def test_with_a_dispatcher_thread_the_sign_out_never_calls_the_app_itself(
    client, make_client, db, world, clock, services
):
    """`inline` dispatch with the thread running (as in `make run`): the request only wakes the
    thread; the application is called by the dispatcher, never inside 退出登录."""
    row, secret = register(db, world["pt_admin"], clock.now())
    server = http(client)
    woken: list[bool] = []
    thread = outbox.DispatcherThread(services.deliver_outbox, poll_seconds=3600)
    thread.wake = lambda: woken.append(True)  # type: ignore[method-assign]  # not started
    services.outbox_thread = thread
    with backchannel_endpoint() as endpoint:
        _with_logout_uris(db, world, clock, row, back=endpoint.uri)
        browser = make_client()
        code_flow(browser, server, client_id=row.client_id, secret=secret, login="chenxiaokai")
        assert post_form(browser, "/logout").status_code == 303
        assert endpoint.statuses == [] and woken == [True]
        [message] = _logout_rows(db)
        assert (message.status, message.attempts) == ("pending", 0)

        assert services.drain_outbox().sent == 1  # what the woken thread does
        assert len(endpoint.tokens) == 1


def test_an_app_that_refuses_the_token_is_a_dead_letter_an_admin_sees_and_resends(
    client, make_client, db, world, clock, services
):
    row, secret = register(db, world["pt_admin"], clock.now())
    server = http(client)
    with backchannel_endpoint() as endpoint:
        _with_logout_uris(db, world, clock, row, back=endpoint.uri)
        browser = make_client()
        code_flow(browser, server, client_id=row.client_id, secret=secret, login="chenxiaokai")
        endpoint.fail_first, endpoint.fail_status = 1, 400  # "invalid logout token"
        post_form(browser, "/logout")
        # A refusal is for good: no back-off, a dead letter at once.
        [message] = _logout_rows(db)
        assert (message.status, message.attempts, message.last_error) == ("dead", 1, "HTTP 400")
        clock.advance(hours=1)
        assert services.drain_outbox().claimed == 0

        # 平台管理 → 消息投递 lists it by the application's client id; a resend delivers it.
        admin = make_client()
        sign_in(admin, "pt_admin")
        page = admin.get("/platform/outbox")
        assert page.status_code == 200
        assert "应用退出通知" in page.text and row.client_id in page.text
        assert "backchannel_logout" in page.text
        resent = post_form(admin, f"/platform/outbox/{message.id}/retry")
        assert resent.status_code == 200 and "已重新发送" in resent.text
        assert endpoint.statuses == [400, 200] and len(endpoint.tokens) == 1
        [message] = _logout_rows(db)
        assert message.status == "sent" and message.payload is None


def test_nothing_is_sent_when_the_change_rolls_back(
    client, make_client, db, world, clock, services
):
    row, secret = register(db, world["pt_admin"], clock.now())
    server = http(client)
    with backchannel_endpoint() as endpoint:
        _with_logout_uris(db, world, clock, row, back=endpoint.uri)
        code_flow(
            make_client(), server, client_id=row.client_id, secret=secret, login="chenxiaokai"
        )
        from campusid.oidc.logout import end_app_sessions

        with services.session_factory() as session:
            session.info["services"] = services
            user = session.get(type(world["chenxiaokai"]), world["chenxiaokai"].id)
            end_app_sessions(session, user, clock.now())
            session.rollback()
        services.drain_outbox()
        assert endpoint.statuses == [] and _logout_rows(db) == []


@pytest.mark.parametrize("how", ["own_change", "admin_reset"])
def test_a_password_change_or_reset_logs_the_person_out_of_apps(
    client, make_client, db, world, clock, services, how
):
    row, secret = register(db, world["pt_admin"], clock.now())
    server = http(client)
    with backchannel_endpoint() as endpoint:
        _with_logout_uris(db, world, clock, row, back=endpoint.uri)
        browser = make_client()
        tokens = code_flow(
            browser, server, client_id=row.client_id, secret=secret, login="chenxiaokai"
        )
        if how == "own_change":
            change_own_password(browser)
        else:
            from campusid.accounts import service as accounts
            from campusid.accounts.service import Route

            with services.session_factory() as session:
                session.info["services"] = services
                session.info["base_url"] = ISSUER
                accounts.set_password(
                    session,
                    services=services,
                    user=session.get(type(world["chenxiaokai"]), world["chenxiaokai"].id),
                    new_password="Chong#Zhi2027",
                    actor=session.get(type(world["pt_admin"]), world["pt_admin"].id),
                    route=Route.ADMIN,
                    must_change=True,
                    client=ClientInfo(),
                )
                session.commit()
            # Committed outside a request: the dispatcher (thread or worker) delivers it.
            assert endpoint.statuses == []
            services.drain_outbox()
        assert len(endpoint.tokens) == 1
        _verify(
            server,
            endpoint.tokens[0],
            client_id=row.client_id,
            sub=str(world["chenxiaokai"].id),
            clock=clock,
        )
    assert _userinfo(server, tokens["access_token"]) == 401


def test_a_front_channel_app_that_asked_gets_iss_and_sid(client, make_client, db, world, clock):
    row, secret = register(db, world["pt_admin"], clock.now())
    _with_logout_uris(db, world, clock, row, front=FRONT + "?app=1", sid=True)
    server = http(client)
    browser = make_client()
    tokens = code_flow(browser, server, client_id=row.client_id, secret=secret, login="chenxiaokai")
    sid = _claims(server, tokens["id_token"])["sid"]
    out = post_form(browser, "/logout")
    assert out.status_code == 200
    frame = out.text.split('class="frontchannel-logout" src="', 1)[1].split('"', 1)[0]
    query = parse_qs(urlsplit(frame.replace("&amp;", "&")).query)
    assert query == {"app": ["1"], "iss": [ISSUER], "sid": [sid]}


def test_rp_initiated_logout_runs_the_other_apps_front_channel_frames(
    client, make_client, db, world, clock
):
    """Logging out from 班级圈 with its id_token_hint ends the browser's campusid session and
    still frames 作业本's front-channel logout URI before going back to 班级圈."""
    asking, asking_secret = register(db, world["pt_admin"], clock.now(), name="班级圈")
    other, other_secret = register(db, world["pt_admin"], clock.now(), name="作业本")
    _with_logout_uris(db, world, clock, other, front="https://zyb.example/frontchannel", sid=True)
    server = http(client)
    browser = make_client()
    token = code_flow(
        browser, server, client_id=asking.client_id, secret=asking_secret, login="chenxiaokai"
    )
    theirs = code_flow(browser, server, client_id=other.client_id, secret=other_secret, login=None)
    sid = _claims(server, token["id_token"])["sid"]

    out = browser.get(
        "/oauth/logout",
        params={"id_token_hint": token["id_token"], "post_logout_redirect_uri": AFTER_LOGOUT},
    )
    assert out.status_code == 200, out.text[:300]
    assert f'src="https://zyb.example/frontchannel?iss=http%3A%2F%2Ftestserver&amp;sid={sid}"' in (
        out.text
    )
    assert "frame-src https://zyb.example" in out.headers["content-security-policy"]
    assert f'href="{AFTER_LOGOUT}"' in out.text and f"url={AFTER_LOGOUT}" in out.text
    # Both applications' tokens ended, and the browser's campusid session with them.
    assert _userinfo(server, theirs["access_token"]) == 401
    assert _userinfo(server, token["access_token"]) == 401
    assert browser.get("/").status_code in (302, 303)


def test_a_signed_out_person_without_apps_goes_to_the_login_page(client, make_client, world):
    browser = make_client()
    sign_in(browser, "chenxiaokai")
    out = post_form(browser, "/logout")
    assert out.status_code == 303 and out.headers["location"] == "/login"


def test_a_refreshed_token_keeps_its_session_for_the_logout_token(
    client, make_client, db, world, clock
):
    row, secret = register(db, world["pt_admin"], clock.now())
    server = http(client)
    with backchannel_endpoint() as endpoint:
        _with_logout_uris(db, world, clock, row, back=endpoint.uri)
        browser = make_client()
        tokens = code_flow(
            browser, server, client_id=row.client_id, secret=secret, login="chenxiaokai"
        )
        sid = _claims(server, tokens["id_token"])["sid"]
        refreshed = server.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=(row.client_id, secret),
        )
        assert refreshed.status_code == 200
        post_form(browser, "/logout")
        [token] = endpoint.tokens  # the refreshed pair carries the sign-in's session
        assert _claims(server, token)["sid"] == sid

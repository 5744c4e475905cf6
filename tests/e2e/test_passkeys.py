"""Scenario (issue 19): a teacher signs in with her authenticator code, adds a passkey through
the browser's virtual authenticator (the DevTools WebAuthn domain), signs out, and signs in
again with the passkey at the second step.

WebAuthn needs a secure context and a relying party id that is a domain: the page is opened on
http://localhost (a secure context; the development server takes its RP id, "localhost", from
the address it was reached at), not on 127.0.0.1 (an IP address is no RP id).
"""

from __future__ import annotations

from sqlalchemy import select

from campusid.accounts.models import User
from campusid.demo import DEMO_PASSWORD
from campusid.passkeys.models import PasskeyCredential
from tests.e2e.conftest import DESKTOP, fill_secret, new_page, sign_in

LOGIN = "wulaoshi"  # 吴老师 of the district's second school: no other scenario signs her in


def _password_only(page, base: str) -> None:  # type: ignore[no-untyped-def]
    """The login page's first step alone (the helper would type the code too)."""
    page.goto(base + "/login")
    page.get_by_label("账号").fill(LOGIN)
    fill_secret(page, "密码", DEMO_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="登录").click()


def _virtual_authenticator(page) -> str:  # type: ignore[no-untyped-def]
    """A platform authenticator with user verification (Touch ID, Windows Hello) in the page."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return str(added["authenticatorId"])


def test_a_teacher_adds_a_passkey_and_signs_in_with_it(live_server, browser, shots):
    base = live_server.url.replace("127.0.0.1", "localhost")
    page = new_page(browser, DESKTOP)
    _virtual_authenticator(page)

    # The password, then the authenticator app's code at 两步验证 (the helper types it).
    sign_in(page, base, LOGIN, DEMO_PASSWORD)
    assert page.url == base + "/"

    # 账号安全 → 添加通行密钥: the browser creates the credential, the server checks it.
    page.goto(base + "/account/security")
    with page.expect_navigation():
        page.get_by_role("link", name="添加通行密钥").click()
    assert page.get_by_role("heading", name="通行密钥", exact=True).is_visible()
    shots(page, "passkeys")
    page.get_by_label("名称").fill("我的电脑")
    fill_secret(page, "当前密码", DEMO_PASSWORD)
    with page.expect_navigation(url="**/account/passkeys?done=added"):
        page.get_by_role("button", name="添加通行密钥").click()
    assert page.get_by_text("通行密钥已添加").is_visible()
    assert page.get_by_role("cell", name="我的电脑").is_visible()
    shots(page, "passkey-added")

    with live_server.session() as db:
        user = db.scalar(select(User).where(User.username == LOGIN))
        (row,) = db.scalars(select(PasskeyCredential).where(PasskeyCredential.user_id == user.id))
        assert row.label == "我的电脑" and row.attachment == "platform"
        assert row.amr == "hwk"  # the virtual authenticator's key is device-bound

    # Signed out, then in again: the passkey at the second step, no code typed.
    with page.expect_navigation():
        page.get_by_role("button", name="退出登录").click()
    _password_only(page, base)
    assert page.url.endswith("/login/two-step")
    shots(page, "two-step-with-passkey")
    with page.expect_navigation(url=base + "/"):
        page.get_by_role("button", name="使用通行密钥").click()
    assert page.get_by_role("heading", name="吴老师").is_visible()

    with live_server.session() as db:
        row = db.scalar(select(PasskeyCredential).where(PasskeyCredential.user_id == user.id))
        assert row.last_used_at > row.created_at and row.sign_count >= 1  # used at sign-in
    page.goto(base + "/account/security")
    assert page.get_by_text("登录成功（密码 + 安全密钥）").first.is_visible()
    page.context.close()

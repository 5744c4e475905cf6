"""Scenario: a school lets an application read its roster (应用名册授权), and takes it back.

The platform has registered 作业本 with the OneRoster scope; the school administrator allows it
on the console's 应用名册授权 tab, the application's own calls (client credentials, over HTTP)
then see the school; the administrator withdraws it through the confirmation dialog, and the
next call sees nothing of the school.
"""

from __future__ import annotations

import httpx
from sqlalchemy import select

from campusid.accounts.models import User
from campusid.audit.service import ClientInfo
from campusid.demo import DEMO_PASSWORD
from campusid.oidc import service as oidc
from campusid.oneroster import service as roster
from tests.e2e.conftest import DESKTOP, new_page, sign_in
from tests.support.oidc import CALLBACK
from tests.support.rawrp import service_token


def _schools(api: httpx.Client, token: str) -> list[str]:
    answer = api.get(roster.BASE_PATH + "/schools", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return [org["name"] for org in answer.json()["orgs"]]


def test_a_school_grants_an_application_its_roster_and_withdraws_it(live_server, browser, shots):
    with live_server.session() as db:
        admin = db.scalar(select(User).where(User.username == "pt_admin"))
        form = oidc.ClientForm(
            name="作业本",
            redirect_uris=[CALLBACK],
            scopes=["openid", "profile"],
            is_confidential=True,
            service_scopes=[roster.ROSTER],
        )
        row, secret = oidc.create_client(
            db, form=form, actor=admin, now=live_server.now(), client=ClientInfo()
        )
        client_id = row.client_id
    assert secret is not None
    with httpx.Client(base_url=live_server.url, timeout=10) as api:
        issued = service_token(api, client_id, secret)
        assert issued.status_code == 200, issued.text
        token = issued.json()["access_token"]
        assert _schools(api, token) == []  # no school has allowed it yet

        page = new_page(browser, DESKTOP)
        sign_in(page, live_server.url, "xx_admin", DEMO_PASSWORD)
        page.goto(live_server.url + "/school")
        page.get_by_role("navigation", name="学校管理").get_by_role(
            "link", name="应用名册授权"
        ).click()
        page.wait_for_load_state("networkidle")
        app_row = page.get_by_role("row").filter(has_text="作业本")
        assert "未允许" in app_row.inner_text()
        # The console's tabs stay, to go on to another part of the school's administration.
        tabs = page.get_by_role("navigation", name="学校管理")
        assert tabs.get_by_role("link", name="应用名册授权").get_attribute("aria-current") == "page"
        shots(page, "apps-before")

        app_row.get_by_role("button", name="允许读取").click()
        page.wait_for_url("**/apps?done=granted")
        assert "已允许读取" in page.get_by_role("row").filter(has_text="作业本").inner_text()
        shots(page, "app-allowed")
        assert _schools(api, token) == ["之江汇学校"]

        page.get_by_role("row").filter(has_text="作业本").get_by_role(
            "button", name="取消授权"
        ).click()
        dialog = page.get_by_role("dialog")
        assert "取消后该应用立即无法读取本校名册" in dialog.inner_text()
        shots(page, "withdraw-confirm")
        page.keyboard.press("Escape")  # cancelled: nothing changes
        assert _schools(api, token) == ["之江汇学校"]
        page.get_by_role("row").filter(has_text="作业本").get_by_role(
            "button", name="取消授权"
        ).click()
        page.get_by_role("dialog").get_by_role("button", name="取消授权").click()
        page.wait_for_url("**/apps?done=revoked")
        assert "未允许" in page.get_by_role("row").filter(has_text="作业本").inner_text()
        shots(page, "app-withdrawn")
        assert _schools(api, token) == []
        page.context.close()

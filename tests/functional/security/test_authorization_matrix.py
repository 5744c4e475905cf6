"""Every route of the app, for every role: allowed, sent to sign in, or refused.

The routes are read from the app's router, so a new page cannot escape: a route missing from
the table in tests/support/matrix.py fails here with the row to add. POST routes are checked
for the roles that must not reach them (with a valid CSRF token, so the refusal comes from
authorization, not from the CSRF check). Every page a role reaches is also checked for forms
that post without a CSRF token.
"""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from httpx import Response
from tests.support.classes import build_other_school
from tests.support.http import csrf_token, enrol_totp, post_form, sign_in
from tests.support.matrix import (
    ALLOW,
    BAD,
    BEARER,
    DENY,
    LOGIN,
    MATRIX,
    ROLES,
    build_targets,
    fill,
    form_for,
    missing_rows,
)

from campusid.demo import DEMO_PASSWORD


def app_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every route the app serves; a mounted app is ("MOUNT", path)."""
    keys: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        methods = set(getattr(context, "methods", None) or ())
        if not methods:
            keys.add(("MOUNT", context.path))
            continue
        # HEAD rides along with GET; list it only where it stands alone.
        for method in methods - {"HEAD"} or methods:
            keys.add((method, context.path))
    return sorted(keys)


def outcome_of(response: Response) -> str:
    """The matrix outcome a response stands for."""
    status = response.status_code
    if 300 <= status < 400:
        location = response.headers.get("location", "")
        return LOGIN if location.startswith("/login") else ALLOW
    if 200 <= status < 300:
        return ALLOW
    if status == 403 and "页面已过期或来源不明" in response.text:
        return "csrf"  # refused by the CSRF check, which proves nothing about authorization
    return {400: BAD, 401: BEARER, 403: DENY, 404: DENY}.get(status, f"status {status}")


class _Forms(HTMLParser):
    """Collects each form's method, action and its csrf_token field's value."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str | None]] = []
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self._open = {
                "method": (values.get("method") or "get").lower(),
                "action": values.get("action"),
                "csrf": None,
            }
            self.forms.append(self._open)
        elif tag == "input" and self._open is not None and values.get("name") == "csrf_token":
            self._open["csrf"] = values.get("value")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def forms_without_token(html: str) -> list[str]:
    """The actions of `<form method="post">` elements that carry no non-empty csrf_token."""
    parser = _Forms()
    parser.feed(html)
    return [
        str(form["action"])
        for form in parser.forms
        if form["method"] == "post" and not (form["csrf"] or "").strip()
    ]


def test_every_route_is_in_the_table(app: Any) -> None:
    missing = missing_rows(app_routes(app))
    assert not missing, (
        "These routes have no row in the authorization matrix (tests/support/matrix.py, MATRIX); "
        "add one saying what each role may reach:\n"
        + "\n".join(f'    ("{m}", "{p}"): Row(...),' for m, p in missing)
    )


def test_the_table_has_no_stale_rows(app: Any) -> None:
    served = set(app_routes(app))
    stale = sorted(key for key in MATRIX if key not in served)
    assert not stale, f"MATRIX lists routes the app no longer serves; remove them: {stale}"


@pytest.mark.parametrize("role", list(ROLES))
def test_what_each_role_reaches(client, db, services, world, role) -> None:  # type: ignore[no-untyped-def]
    build_other_school(db, services)
    targets = build_targets(db, services, world)
    login = ROLES[role]
    if login:
        sign_in(client, login)
    token = csrf_token(client)
    wrong: list[str] = []
    unprotected: list[str] = []
    observed: dict[str, str] = {}
    # GETs first (no side effects), then the POSTs this role must not reach.
    keys = [k for k in app_routes(client.app) if k in MATRIX]
    keys.sort(key=lambda k: (k[0] == "POST", k))
    for method, path in keys:
        row = MATRIX[(method, path)]
        expected = row.expect[role]
        url = row.probe or fill(path, row, targets)
        if method == "POST":
            if expected == ALLOW:
                continue  # reaching it would change the world; its own tests cover that
            response = client.post(url, data={**form_for(row, targets), "csrf_token": token})
        else:
            response = client.get(url + (f"?{row.query}" if row.query else ""))
        got = outcome_of(response)
        observed[f"{method} {path}"] = got
        if got != expected:
            wrong.append(
                f"{method} {path} ({url}): expected {expected}, got {got} "
                f"[{response.status_code} {response.headers.get('location', '')}]"
            )
        if (
            method == "GET"
            and got == ALLOW
            and response.headers.get("content-type", "").startswith("text/html")
        ):
            unprotected += [f"{path} -> {action}" for action in forms_without_token(response.text)]
    if os.environ.get("CAMPUSID_MATRIX_OBSERVE"):
        with open(os.environ["CAMPUSID_MATRIX_OBSERVE"] + f".{role}.json", "w") as out:
            json.dump(observed, out, ensure_ascii=False, indent=1)
    assert not wrong, f"{role}: {len(wrong)} routes differ from the matrix:\n" + "\n".join(wrong)
    assert not unprotected, f"{role}: forms that post without a csrf_token field:\n" + "\n".join(
        unprotected
    )


def test_a_form_without_a_token_is_caught() -> None:
    html = (
        '<form method="post" action="/a"><input name="csrf_token" value="t"></form>'
        '<form method="POST" action="/b"><input name="x"></form>'
        '<form method="post" action="/c"><input name="csrf_token" value=""></form>'
        '<form action="/d"></form>'
    )
    assert forms_without_token(html) == ["/b", "/c"]


# Issue 19: a role that requires a second factor reaches no page before it has enrolled one.
# The enrolment: an authenticator app, or a passkey (issue 19) instead.
ENROLMENT_PAGES = {"/account/two-step/setup", "/account/passkeys"}


@pytest.mark.parametrize("role", ["school_admin", "agent", "platform_admin"])
def test_a_required_role_without_a_factor_reaches_no_page(  # type: ignore[no-untyped-def]
    client, db, services, world, role
) -> None:
    from sqlalchemy import delete

    from campusid.accounts.models import SecondFactor

    build_other_school(db, services)
    targets = build_targets(db, services, world)
    login = ROLES[role]
    assert login
    db.execute(delete(SecondFactor).where(SecondFactor.user_id == world[login].id))
    db.commit()
    response = post_form(client, "/login", {"login": login, "password": DEMO_PASSWORD})
    assert response.headers["location"].startswith("/account/two-step/setup")
    reached: list[str] = []
    for method, path in sorted(k for k in app_routes(client.app) if k in MATRIX):
        row = MATRIX[(method, path)]
        if method != "GET" or row.expect["anonymous"] != LOGIN or path in ENROLMENT_PAGES:
            continue  # public pages, and the enrolment itself
        url = fill(path, row, targets) + (f"?{row.query}" if row.query else "")
        got = client.get(url)
        location = got.headers.get("location", "")
        if got.status_code in (403, 404) or location.startswith(
            ("/account/two-step/setup", "/login")
        ):
            continue
        if path == "/password/change-required" and location == "/":
            continue  # nothing to change: back home, which sends to the enrolment
        reached.append(f"GET {path}: {got.status_code} {location}")
    assert not reached, f"{role} reached pages before enrolling:\n" + "\n".join(reached)
    # Enrolling opens the pages.
    enrol_totp(client)
    assert client.get("/").status_code == 200

"""Schemathesis against the app's own OpenAPI schema, in-process: no input gives a 500.

Each operation is called as a signed-in person who reaches it (the agent for /servicedesk,
the platform administrator for /platform, ...) with a valid CSRF token, so the generated
input gets past the door and into the handlers. Kept small (FUZZ_EXAMPLES per operation) so
the whole run stays within a couple of minutes on a small machine; CI runs it on SQLite and
on PostgreSQL with the rest of the suite.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from tests.support.classes import build_other_school
from tests.support.http import csrf_token, sign_in
from tests.support.matrix import build_targets

from campusid.app import create_app
from campusid.config import Settings

FUZZ_EXAMPLES = int(os.environ.get("CAMPUSID_FUZZ_EXAMPLES", "12"))

# Who calls an operation, by the longest matching path prefix (None: signed out).
ACTOR_BY_PREFIX: dict[str, str | None] = {
    "/": "chenxiaokai",
    "/login": None,
    "/signup": None,
    "/recovery": None,
    "/recovery/approvals": "chenxiaokai",
    "/oauth": "lixiaoyao",
    "/me": "p_lidaniang",
    "/school": "xx_admin",
    "/audit": "xx_admin",
    "/servicedesk": "kefu01",
    "/servicedesk/supervision": "pt_admin",
    "/platform": "pt_admin",
    "/account": "lixiaoyao",
}


def actor_for(path: str) -> str | None:
    """The demo account that calls this path."""
    prefix = max((p for p in ACTOR_BY_PREFIX if path.startswith(p)), key=len)
    return ACTOR_BY_PREFIX[prefix]


@pytest.fixture
def reachable(db, services, world) -> None:  # type: ignore[no-untyped-def]
    """A demo world with objects to reach: another school, a ticket, a join request, ..."""
    build_other_school(db, services)
    build_targets(db, services, world)


@pytest.fixture
def credentials(app: Any):  # type: ignore[no-untyped-def]
    """Session and CSRF cookies for one demo account, signed in once per operation."""
    cache: dict[str | None, dict[str, str]] = {}

    def get(login: str | None) -> dict[str, str]:
        if login not in cache:
            with TestClient(app, follow_redirects=False) as browser:
                if login:
                    sign_in(browser, login)
                token = csrf_token(browser)
                cache[login] = dict(browser.cookies) | {"campusid_csrf": token}
        return cache[login]

    return get


# The schema does not depend on the database: read it from an app built for the purpose; each
# case is then sent to the test's own app (on the test's rolled-back transaction).
SCHEMA = schemathesis.openapi.from_asgi(
    "/api/openapi.json",
    create_app(Settings(environment="development", database_url="sqlite://", log_json=False)),
)
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}


def _cases(operation: Any) -> st.SearchStrategy[Any]:
    """Valid input and, where the schema allows it, input that breaks the schema."""
    strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
    with contextlib.suppress(Exception):
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    return st.one_of(strategies)


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_no_input_makes_a_server_error(
    label: str, app: Any, reachable: None, credentials: Any
) -> None:
    operation = OPERATIONS[label]
    cookies = credentials(actor_for(operation.path))

    @given(case=_cases(operation))
    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        # No shrinking: the failure message already carries a curl command that reproduces it.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def call(case: Any) -> None:
        response = case.call(
            app=app,
            cookies=cookies,
            headers={"X-CSRF-Token": cookies["campusid_csrf"]},
            allow_redirects=False,
        )
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} -> {response.status_code}\n"
            f"{case.as_curl_command()}\n{response.text[:500]}"
        )

    call()

"""Redis down (issue 20): sign-ins and rate limits fail closed, with a clean 503, and recover.

With Redis configured, it holds the sessions, the rate-limit counters and the sign-in
throttle's failure counts. When it is out of reach, nothing falls back to "no limit": a sign-in
is refused (503, no session cookie), even with the right password, because its throttle and
limits cannot be read; a signed-in page is refused too, because the session cannot be checked.
Once Redis answers again the same server process signs people in again. A Redis that lost its
data (this one keeps nothing on disk) has lost the sessions: their holders sign in again.

Run once, in the SQLite run (`make test`): the server uses a database file of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.support.faults import (
    SESSION_COOKIE,
    assert_clean_unavailable,
    browser,
    campusid_server,
    prepare_database,
    private_redis,
    sign_in,
    wait_for,
)

pytestmark = pytest.mark.slow

if os.environ.get("CAMPUSID_TEST_DATABASE_URL"):
    pytest.skip(
        "run in the SQLite run only: the server uses its own database and Redis either way",
        allow_module_level=True,
    )


def test_redis_down_fails_closed_and_recovers(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'faults.db'}"
    prepare_database(database_url)
    with (
        private_redis() as redis_server,
        campusid_server(tmp_path, database_url, redis_url=redis_server.url) as server,
    ):
        signed_in = browser(server)
        assert sign_in(signed_in, "lixiaoyao").status_code == 303
        assert signed_in.get("/").status_code == 200
        newcomer = browser(server)
        assert newcomer.get("/login").status_code == 200  # its CSRF cookie, before the outage

        redis_server.kill()

        # Even the login page: it asks the throttle whether this network must solve a captcha.
        assert_clean_unavailable(browser(server).get("/login"))
        # The signed-in person's page: the session cannot be checked, so it is not served.
        assert_clean_unavailable(signed_in.get("/"))
        # A sign-in with the right password is refused: its throttle cannot be read.
        refused = sign_in(newcomer, "heshuhuan")
        assert_clean_unavailable(refused)
        assert SESSION_COOKIE not in refused.cookies
        # So is a wrong one, again and again: no failure goes uncounted past a skipped limit.
        for _ in range(3):
            assert_clean_unavailable(sign_in(newcomer, "heshuhuan", "wrong-password-1"))

        # Redis comes back (empty: it kept nothing on disk) on the same address.
        redis_server.start()

        def signs_in() -> bool:
            try:
                return sign_in(newcomer, "heshuhuan").status_code == 303
            except httpx.HTTPError:
                return False

        wait_for("sign-ins to work again", signs_in, 20)
        assert newcomer.get("/").status_code == 200
        # The session kept in the Redis that went away is gone: its holder signs in again.
        again = signed_in.get("/")
        assert again.status_code == 303 and again.headers["location"].startswith("/login")
        assert server.process.poll() is None
        assert "Traceback" not in server.log_text()

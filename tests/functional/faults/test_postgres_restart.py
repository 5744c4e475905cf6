"""PostgreSQL restarted under load (issue 20): clean 503 pages while it is down, and the same
server process serves again once it is back, without a restart.

The test's own PostgreSQL cluster (never the suite's shared one) is stopped with `pg_ctl -m
fast` while one thread loads a signed-in person's home page and another signs in over and over;
then started again. The server runs on it the whole time.

Run once, in the SQLite run (`make test`): the server here always uses its own cluster, so the
PostgreSQL run would repeat the same test.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.support.faults import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    UNAVAILABLE,
    Load,
    browser,
    campusid_server,
    prepare_database,
    private_postgres,
    sign_in,
    wait_for,
)

pytestmark = pytest.mark.slow

if os.environ.get("CAMPUSID_TEST_DATABASE_URL"):
    pytest.skip(
        "run in the SQLite run only: the server uses its own PostgreSQL cluster either way",
        allow_module_level=True,
    )


def test_postgres_restart_under_load(tmp_path: Path) -> None:
    with private_postgres() as cluster:
        prepare_database(cluster.url)
        with campusid_server(tmp_path, cluster.url) as server:
            reader = browser(server)
            assert sign_in(reader, "lixiaoyao").status_code == 303
            assert reader.get("/").status_code == 200
            signer = browser(server)
            signer.get("/login")
            token = signer.cookies[CSRF_COOKIE]

            def sign_in_again():  # type: ignore[no-untyped-def]
                signer.cookies.delete(SESSION_COOKIE)
                return signer.post(
                    "/login",
                    data={"login": "heshuhuan", "password": "Zjer@2026", "csrf_token": token},
                )

            with Load(lambda: reader.get("/")) as pages, Load(sign_in_again) as sign_ins:
                wait_for(
                    "pages and sign-ins to go through",
                    lambda: pages.count(200) >= 3 and sign_ins.count(303) >= 3,
                )
                down_at = time.monotonic()
                cluster.stop()
                wait_for(
                    "503 answers while the database is down",
                    lambda: pages.count(503, down_at) >= 3 and sign_ins.count(503, down_at) >= 3,
                )
                up_at = time.monotonic()
                cluster.start()
                wait_for(
                    "the same server to serve again",
                    lambda: pages.count(200, up_at) >= 3 and sign_ins.count(303, up_at) >= 3,
                )

            assert server.process.poll() is None, "the server process did not survive"
            for load in (pages, sign_ins):
                assert not load.errors, load.errors[:3]
                statuses = {status for _, status, _ in load.answers}
                assert statuses <= {200, 303, 503}, statuses
                for _, status, text in load.answers:
                    if status == 503:
                        assert_clean_unavailable_text(text)
            # A fresh browser signs in as well: nothing of the outage stays.
            assert sign_in(browser(server), "weiyingluo").status_code == 303
            assert "Traceback" not in server.log_text()


def assert_clean_unavailable_text(text: str) -> None:
    """The 503 page: the Chinese message, nothing of the code."""
    assert UNAVAILABLE in text
    assert "Traceback" not in text and "psycopg" not in text and "sqlalchemy" not in text.lower()

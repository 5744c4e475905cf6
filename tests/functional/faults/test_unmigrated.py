"""A database that is down or was never migrated: the pages still answer with the app's own
error page (in Chinese, no trace), not a bare "Internal Server Error" — the error page's hotline
line falls back to the weekday hours when it cannot read the service calendar."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from campusid.app import create_app
from campusid.config import Settings


def test_an_unmigrated_database_gets_the_apps_error_page(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'never-migrated.db'}",
        environment="development",
        redis_url=None,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        login = client.get("/login")  # needs no table: drawn, hotline by the weekday hours
        page = client.get("/privacy")  # reads its text from the database
    assert login.status_code == 200 and "客服热线" in login.text
    assert page.status_code == 503  # "no such table": out of reach, as a database that is down
    assert "服务暂时不可用，请稍后再试" in page.text
    assert "text/html" in page.headers["content-type"]
    assert "Internal Server Error" not in page.text
    assert "Traceback" not in page.text
    assert "客服热线" in page.text  # the whole page, footer included

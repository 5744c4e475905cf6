"""SQLite: page views read without the write lock; a GET that must write after all still works.

These tests need a database of their own (a real file, real connections): the suite's usual
fixture wraps every test in one connection's transaction, where no lock is ever contended.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from campusid import migrate
from campusid.app import create_app
from campusid.clock import FixedClock
from campusid.config import Settings
from campusid.context import Services, build_services
from campusid.db import begin_reading, make_engine
from campusid.security.passwords import Hasher
from campusid.web import DbSession
from tests.conftest import TEST_NOW

pytestmark = pytest.mark.skipif(
    "postgresql" in os.environ.get("CAMPUSID_TEST_DATABASE_URL", ""),
    reason="SQLite's locking; PostgreSQL takes no lock when a transaction begins",
)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Path, Engine]]:
    path = tmp_path / "locks.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        migrate.upgrade(connection=conn)
        conn.execute(text("CREATE TABLE scratch (n INTEGER)"))
    yield path, engine
    engine.dispose()


@pytest.fixture
def services(database: tuple[Path, Engine], hasher: Hasher) -> Services:
    path, engine = database
    settings = Settings(
        database_url=f"sqlite:///{path}",
        secret_key="test-key",
        log_json=False,
        environment="development",
    )
    return build_services(settings, clock=FixedClock(TEST_NOW), engine=engine, hasher=hasher)


def other_writer_can_lock(path: Path) -> bool:
    """Whether another connection can take the write lock right now (no waiting)."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


def write_elsewhere(path: Path) -> None:
    other = sqlite3.connect(path, timeout=5, isolation_level=None)
    other.execute("INSERT INTO scratch (n) VALUES (0)")
    other.close()


def test_a_reading_session_leaves_the_write_lock_free_and_others_take_it(
    database: tuple[Path, Engine], services: Services
) -> None:
    path, _engine = database
    with services.session_factory() as reader:
        begin_reading(reader)
        reader.execute(text("SELECT count(*) FROM users"))
        assert other_writer_can_lock(path)
    with services.session_factory() as writer:
        writer.execute(text("SELECT count(*) FROM users"))
        assert not other_writer_can_lock(path)


def _app_with(services: Services, attempts: list[str]) -> FastAPI:
    app = create_app(services.settings, services)
    path = Path(services.settings.database_url.removeprefix("sqlite:///"))

    def look(db: DbSession) -> PlainTextResponse:
        db.execute(text("SELECT count(*) FROM users"))
        attempts.append("look")
        return PlainTextResponse("free" if other_writer_can_lock(path) else "locked")

    def write_after_other(db: DbSession) -> PlainTextResponse:
        db.execute(text("SELECT count(*) FROM scratch"))  # the snapshot starts here
        attempts.append("write")
        if len(attempts) == 1:
            write_elsewhere(path)  # another connection writes after that snapshot
        db.execute(text("INSERT INTO scratch (n) VALUES (1)"))
        return PlainTextResponse("written")

    app.add_api_route("/_test/look", look, methods=["GET"])
    app.add_api_route("/_test/write-after-other", write_after_other, methods=["GET"])
    return app


def test_a_page_view_does_not_hold_the_write_lock(services: Services) -> None:
    attempts: list[str] = []
    with TestClient(_app_with(services, attempts)) as client:
        answer = client.get("/_test/look")
    assert answer.text == "free"
    assert attempts == ["look"]


def test_a_get_that_loses_the_race_to_write_runs_again_as_a_writer(
    database: tuple[Path, Engine], services: Services
) -> None:
    _path, engine = database
    attempts: list[str] = []
    with TestClient(_app_with(services, attempts)) as client:
        answer = client.get("/_test/write-after-other")
    assert answer.status_code == 200
    assert answer.text == "written"
    # The first run was refused at its write (another connection wrote after its snapshot)
    # and rolled back; the second, a writer from the start, wrote.
    assert attempts == ["write", "write"]
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT group_concat(n) FROM scratch")) == "0,1"

"""Test fixtures: the schema built by the migrations, each test in a rolled-back transaction.

The database is SQLite in a temporary file unless CAMPUSID_TEST_DATABASE_URL names another
(CI runs the suite a second time against PostgreSQL). Under pytest-xdist (`-n 2`) each worker has
its own: a temporary file each, or on PostgreSQL a database of its own next to the named one
(`<name>_gw0`, `<name>_gw1`, …), made afresh at the start of the run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from campusid import domains, migrate
from campusid.app import create_app
from campusid.clock import FixedClock
from campusid.config import Settings
from campusid.context import Services, build_services
from campusid.db import make_engine
from campusid.demo import DEMO_PASSWORD, SCHOOL_DEFAULT_PASSWORD
from campusid.security import crypto
from campusid.security.passwords import Hasher
from tests.support.secrets import CAPTURE, leaks, remember

# Monday 2026-11-30 10:00 in Shanghai: a working day, inside service hours.
TEST_NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)

# What the domains register in the base, as create_app() does, for tests that call services
# without the app.
domains.install()


def _worker_database(url: str, worker: str) -> str:
    """A fresh PostgreSQL database for one xdist worker, beside the one `url` names."""
    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("CAMPUSID_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """An engine on a database whose schema the migrations built."""
    url = _database_url(tmp_path_factory)
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    with engine.begin() as conn:
        migrate.upgrade(connection=conn)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    conn = engine.connect()
    trans = conn.begin()
    yield conn
    trans.rollback()
    conn.close()


@pytest.fixture
def clock() -> FixedClock:
    """The injected clock, standing at TEST_NOW until a test moves it."""
    return FixedClock(TEST_NOW)


@pytest.fixture(scope="session")
def hasher() -> Hasher:
    """argon2id with tiny parameters, so tests are quick (production ones are tested apart)."""
    return Hasher(time_cost=1, memory_cost=256, parallelism=1)


@pytest.fixture
def settings() -> Settings:
    """Settings for tests."""
    return Settings(
        environment="development",
        database_url="sqlite://",
        secret_key="test-key",
        log_json=False,
        # The tests drive the outbox themselves (services.drain_outbox): no dispatcher thread
        # sharing the test's connection.
        outbox_thread=False,
    )


@pytest.fixture
def services(
    settings: Settings,
    clock: FixedClock,
    engine: Engine,
    connection: Connection,
    hasher: Hasher,
) -> Services:
    """The app's services, with every request's session joined to the test's transaction."""
    services = build_services(settings, clock=clock, engine=engine, hasher=hasher)
    services.session_factory = sessionmaker(
        bind=connection,
        expire_on_commit=False,
        join_transaction_mode="create_savepoint",
        info={"clock": clock},
    )
    hasher.verify_calls = 0
    return services


@pytest.fixture
def db(services: Services) -> Iterator[Session]:
    """A session for arranging and checking data, on the test's transaction."""
    session = services.session_factory()
    yield session
    session.close()


@pytest.fixture
def app(services: Services):  # type: ignore[no-untyped-def]
    """The application under test."""
    return create_app(services.settings, services)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A browser-like HTTP client."""
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        yield client


@pytest.fixture
def make_client(app):  # type: ignore[no-untyped-def]
    """Another browser, for tests that need two sessions."""
    clients: list[TestClient] = []

    def make() -> TestClient:
        c = TestClient(app, base_url="http://testserver", follow_redirects=False)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


@pytest.fixture(autouse=True)
def _data_key_restored() -> Iterator[None]:
    """A test that builds services with a data key of its own installs it process-wide
    (`crypto.configure`); give the next test (an e2e one reading the live server's database
    with the development key) the cipher it found."""
    before = crypto._cipher
    yield
    crypto._cipher = before


@pytest.fixture
def world(db: Session, services: Services):  # type: ignore[no-untyped-def]
    """The guide's demo world (柯桥区 / 之江汇学校 / 五年级1班 gu22cm), committed to the test DB."""
    from tests.support.world import build_world

    world = build_world(db, services)
    db.commit()
    for user in world.users.values():
        remember(user.id_card_number, user.phone, user.registration_number)
    return world


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The end-to-end scenarios start a real server and a browser: slow."""
    e2e = ROOT / "tests" / "e2e"
    for item in items:
        if item.path.is_relative_to(e2e):
            item.add_marker(pytest.mark.slow)


def pytest_configure(config: pytest.Config) -> None:
    """Capture every log record of the session, for the secrets scan at the end; give an xdist
    worker its own PostgreSQL database (before the test modules that read the URL are imported)."""
    url = os.environ.get("CAMPUSID_TEST_DATABASE_URL", "")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and url.startswith("postgresql"):
        os.environ["CAMPUSID_TEST_DATABASE_URL"] = _worker_database(url, worker)
    remember(DEMO_PASSWORD, SCHOOL_DEFAULT_PASSWORD)
    root = logging.getLogger()
    root.addHandler(CAPTURE)
    root.setLevel(logging.INFO)
    # The test client's own request log is the browser's side, not the platform's logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)


WORKER_LEAKS: list[tuple[str, str]] = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist controller: collect what a worker's secrets scan found (see below)."""
    WORKER_LEAKS.extend(tuple(pair) for pair in node.workeroutput.get("secret_leaks", []))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any password, code, session id or identifier reached a log.

    An xdist worker's logs are its own: it hands what it found to the controller, which reports
    and fails the run (a worker's exit status does not reach the controller).
    """
    found = leaks()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["secret_leaks"] = [list(pair) for pair in found]
        return
    found += WORKER_LEAKS
    if found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"SECRETS IN LOGS: {len(found)} log lines hold a secret:", red=True)
            for secret, line in found[:20]:
                reporter.write_line(f"  {secret}: {line}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_report_header(config: pytest.Config) -> str:
    """Say which database the suite runs against."""
    url = os.environ.get("CAMPUSID_TEST_DATABASE_URL", "sqlite (temporary file)")
    return f"campusid test database: {url.split('@')[-1]}"


ROOT = Path(__file__).resolve().parent.parent

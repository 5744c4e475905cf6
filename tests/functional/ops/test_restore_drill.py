"""The backup-and-restore drill (issue 20): pg_dump → pg_restore → `campusid db check`.

PostgreSQL only (CI's `make test-pg`); skipped on SQLite. It builds a small database of its own
(the migrations and the demo world), runs scripts/restore_drill.sh on it, and drops it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url

from campusid import demo, migrate
from campusid.clock import FixedClock
from campusid.config import Settings
from campusid.context import build_services
from campusid.db import make_engine, transaction

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "restore_drill.sh"


@pytest.fixture(scope="module")
def source_database(engine, hasher):  # type: ignore[no-untyped-def]
    if engine.dialect.name != "postgresql":
        pytest.skip("the restore drill runs on PostgreSQL (make test-pg)")
    if not shutil.which("pg_dump") or not shutil.which("pg_restore"):
        pytest.skip("pg_dump / pg_restore not installed")
    base = make_url(engine.url.render_as_string(hide_password=False))
    name = f"{base.database}_drill_src"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        settings = Settings(database_url=url, secret_key="drill", log_json=False)
        source = make_engine(url)
        services = build_services(settings, clock=FixedClock(), engine=source, hasher=hasher)
        with transaction(services.session_factory) as db:
            demo.load(db, services)
        source.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}_restore_drill" WITH (FORCE)')
        admin.dispose()


def test_a_dump_restores_into_a_database_that_passes_db_check(source_database):
    libpq_url = source_database.replace("postgresql+psycopg://", "postgresql://")
    env = {
        **os.environ,
        "CAMPUSID": f"{sys.executable} -m campusid.cli",
        "CAMPUSID_SECRET_KEY": "drill",
        "CAMPUSID_LOG_JSON": "false",
    }
    result = subprocess.run(
        ["bash", str(SCRIPT), libpq_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "数据库检查通过" in output
    assert "restore drill: passed" in output


def test_the_drill_fails_when_the_copy_differs(source_database, tmp_path, monkeypatch):
    """db check refuses a copy whose counts differ from the source's (a lost table's rows)."""
    from typer.testing import CliRunner

    from campusid.cli import app
    from campusid.config import get_settings

    counts = tmp_path / "counts.json"
    monkeypatch.setenv("CAMPUSID_DATABASE_URL", source_database)
    get_settings.cache_clear()
    try:
        written = CliRunner().invoke(app, ["db", "check", "--write-counts", str(counts)])
        assert written.exit_code == 0, written.output
        counts.write_text(counts.read_text().replace('"users": ', '"users": 1'))
        compared = CliRunner().invoke(app, ["db", "check", "--expect-counts", str(counts)])
    finally:
        get_settings.cache_clear()
    assert compared.exit_code == 1
    assert "users:" in compared.output

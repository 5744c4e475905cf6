"""Fault tests of the transactional outbox (issue 20) with real processes on loopback.

A real `campusid serve` process and real `campusid outbox work` processes share a database of
their own (a SQLite file; under `make test-pg`, a PostgreSQL database beside the test database)
and a real SMS gateway on loopback (tests/support/sms_gateway.py). Time is the servers' clock
file: the test moves it past a back-off or a claim's lease instead of sleeping; what it waits
for (a process delivering) it polls with a bounded deadline.

- The gateway answers 500, hangs past the timeout, or is down: the teacher's reset (over HTTP,
  on a server that leaves delivery to the workers) commits, and the parent's SMS is delivered
  exactly once when the gateway is back, though two worker processes look for it.
- A worker killed with SIGKILL mid-batch (one message handed over, its answer not yet back):
  after the claim's lease another worker delivers the rest; the message handed over twice is
  dropped by the gateway by its idempotency key; nothing lost, nothing delivered twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, delete, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from campusid.accounts.models import SecondFactor, User
from campusid.clock import SHANGHAI
from campusid.config import Settings
from campusid.context import build_services
from campusid.db import make_engine, transaction
from campusid.org.models import SchoolClass
from campusid.security import crypto
from campusid.senders import OutboxMessage
from tests.support.faults import post_form, sign_in, wait_for
from tests.support.net import free_port
from tests.support.sms_gateway import SmsGateway, sms_gateway

pytestmark = pytest.mark.slow

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=SHANGHAI)  # a Monday morning
PARENT_PHONE = "13900000011"  # 李大娘, 李逍遥's mother
DEADLINE = 30.0  # seconds: the longest any wait for a process may take
CLI = [sys.executable, "-m", "campusid.cli"]


def _own_database(tmp_path: Path) -> tuple[str, Callable[[], None]]:
    """A database for these processes alone, and how to drop it."""
    suite = os.environ.get("CAMPUSID_TEST_DATABASE_URL", "")
    if not suite.startswith("postgresql"):
        return f"sqlite:///{tmp_path / 'outbox.db'}", lambda: None
    url = make_url(suite)
    name = f"{url.database}_outbox"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    drop()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop_and_dispose() -> None:
        drop()
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop_and_dispose


@dataclass
class Rig:
    """The database, the clock file, the gateway and how to start the processes."""

    env: dict[str, str]
    workdir: Path
    engine: Engine
    clock_file: Path
    gateway: SmsGateway
    processes: list[subprocess.Popen[bytes]]

    def set_clock(self, at: datetime) -> None:
        self.clock_file.write_text(at.isoformat())

    def now(self) -> datetime:
        return datetime.fromisoformat(self.clock_file.read_text())

    def start(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"process-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [*CLI, *args],
            env={**self.env, **env},
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.processes.append(process)
        return process

    def work_once(self) -> str:
        done = subprocess.run(
            [*CLI, "outbox", "work", "--once"],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            timeout=DEADLINE,
            check=True,
        )
        return done.stdout.decode()

    def messages(self, **where: Any) -> list[OutboxMessage]:
        with Session(self.engine) as db:
            query = select(OutboxMessage).order_by(OutboxMessage.id)
            for name, value in where.items():
                query = query.where(getattr(OutboxMessage, name) == value)
            return list(db.scalars(query))


@dataclass
class Shared:
    """What the module's tests share: the database, the gateway, the clock file, the server."""

    url: str
    workdir: Path
    data_key: str
    gateway: SmsGateway
    clock_file: Path
    env: dict[str, str]
    server: str = ""


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    """The database, migrated and loaded with the demo data once; the gateway; the clock."""
    workdir = tmp_path_factory.mktemp("outbox")
    url, drop = _own_database(workdir)
    data_key = crypto.new_key()
    clock_file = workdir / "clock"
    clock_file.write_text(NOW.isoformat())
    with sms_gateway(hang_seconds=DEADLINE) as gateway:
        env = {
            **os.environ,
            "CAMPUSID_ENVIRONMENT": "development",
            "CAMPUSID_DATABASE_URL": url,
            "CAMPUSID_SECRET_KEY": "outbox-fault-tests",
            "CAMPUSID_DATA_KEY": data_key,
            "CAMPUSID_CLOCK_FILE": str(clock_file),
            "CAMPUSID_SMS_GATEWAY_URL": gateway.url,
            "CAMPUSID_SMS_GATEWAY_KEY": "test-key",
            "CAMPUSID_SMS_GATEWAY_TIMEOUT_SECONDS": "1",
            "CAMPUSID_OUTBOX_POLL_SECONDS": "0.1",
            "CAMPUSID_LOG_LEVEL": "WARNING",
        }
        env.pop("CAMPUSID_REDIS_URL", None)
        for step in (["db", "upgrade"], ["demo"]):
            subprocess.run([*CLI, *step], env=env, cwd=workdir, check=True, capture_output=True)
        try:
            yield Shared(url, workdir, data_key, gateway, clock_file, env)
        finally:
            drop()


@pytest.fixture(scope="module")
def server(shared: Shared) -> Iterator[str]:
    """A `campusid serve` process that writes the outbox and leaves delivery to the workers
    (CAMPUSID_OUTBOX_DISPATCH=worker)."""
    port = free_port()
    with (shared.workdir / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env={**shared.env, "CAMPUSID_OUTBOX_DISPATCH": "worker"},
            cwd=shared.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            return httpx.get(base + "/login", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for("the server to start", ready, 60)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def rig(shared: Shared, tmp_path: Path) -> Iterator[Rig]:
    """A fresh start: an empty outbox, a healthy gateway with no history, the clock at NOW."""
    shared.clock_file.write_text(NOW.isoformat())
    engine = make_engine(shared.url)
    with engine.begin() as conn:
        conn.execute(OutboxMessage.__table__.delete())
    gateway = shared.gateway
    if gateway._server is None:
        gateway.start()
    gateway.mode, gateway.hold_on_request, gateway.duplicates = "ok", None, 0
    gateway.requests.clear()
    gateway.accepted.clear()
    gateway.held.clear()
    gateway._release.clear()
    rig = Rig(shared.env, tmp_path, engine, shared.clock_file, gateway, [])
    try:
        yield rig
    finally:
        gateway.release()
        for process in rig.processes:
            if process.poll() is None:
                process.terminate()
        for process in rig.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        engine.dispose()


@pytest.mark.parametrize("fault", ["error", "hang", "down"])
def test_a_reset_commits_while_the_gateway_fails_and_its_sms_goes_once_when_it_is_back(
    rig: Rig, server: str, fault: str
) -> None:
    base = server
    with Session(rig.engine) as db:
        class_id = db.scalar(select(SchoolClass.id).where(SchoolClass.class_code == "gu22cm"))
        student_id = db.scalar(select(User.id).where(User.username == "lixiaoyao"))
        teacher_id = db.scalar(select(User.id).where(User.username == "chenxiaokai"))
        old_hash = db.scalar(select(User.password_hash).where(User.id == student_id))
    # This test is about the outbox, not the second factor: the teacher (for whom one is
    # optional) signs in with her password alone.
    with Session(rig.engine) as db, db.begin():
        db.execute(delete(SecondFactor).where(SecondFactor.user_id == teacher_id))
    rig.start("outbox", "work")  # two worker processes look for due messages side by side
    rig.start("outbox", "work")
    if fault == "down":
        rig.gateway.stop()
    else:
        rig.gateway.mode = fault

    with httpx.Client(base_url=base, timeout=DEADLINE) as teacher:
        signed = sign_in(teacher, "chenxiaokai")
        assert signed.status_code == 303 and signed.headers["location"] == "/"
        done = post_form(teacher, f"/m/classes/{class_id}/students/{student_id}/reset", {})
    assert done.status_code == 200 and "密码重置成功" in done.text

    # Committed: the student's password changed; the SMS waits with one failed attempt (made
    # after the commit by whichever worker claimed it first).
    with Session(rig.engine) as db:
        assert db.scalar(select(User.password_hash).where(User.id == student_id)) != old_hash
    wait_for(
        "the first attempt",
        lambda: [m.attempts for m in rig.messages(recipient=PARENT_PHONE)] == [1],
    )
    [row] = rig.messages(recipient=PARENT_PHONE)
    assert row.status == "pending" and row.last_error
    assert rig.gateway.delivered() == []

    # The gateway is back; once the back-off has passed, both workers look for due messages:
    # the SMS is delivered once.
    rig.gateway.release()
    if fault == "down":
        rig.gateway.start()
    rig.gateway.mode = "ok"
    rig.set_clock(rig.now() + timedelta(seconds=31))
    wait_for(
        "the SMS to be delivered",
        lambda: [m.status for m in rig.messages(recipient=PARENT_PHONE)] == ["sent"],
    )
    [sent] = rig.gateway.delivered(PARENT_PHONE)
    assert sent.template == "child_password_reset" and "李逍遥" in sent.text
    assert "sent 0" in rig.work_once()  # nothing left to deliver
    assert len(rig.gateway.delivered(PARENT_PHONE)) == 1 and rig.gateway.duplicates == 0
    [row] = rig.messages(recipient=PARENT_PHONE)
    assert row.payload is None and row.attempts == 2


def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(rig: Rig) -> None:
    count = 10
    settings = Settings(
        environment="development",
        database_url=rig.env["CAMPUSID_DATABASE_URL"],
        secret_key=rig.env["CAMPUSID_SECRET_KEY"],
        data_key=rig.env["CAMPUSID_DATA_KEY"],
        clock_file=str(rig.clock_file),
        sms_gateway_url=rig.gateway.url,
        outbox_dispatch="worker",
        redis_url=None,
        log_json=False,
    )
    services = build_services(settings)
    with transaction(services.session_factory) as db:
        for n in range(count):
            services.sms.send(
                db,
                f"1390000{n:04d}",
                "password_changed",
                {"name": f"学生{n}", "time": "10:00", "route": "班主任重置"},
            )
    services.engine.dispose()
    keys = [m.idempotency_key for m in rig.messages()]
    assert len(set(keys)) == count and all(keys)

    # The worker hands over three messages; the gateway takes the fourth and holds its answer.
    rig.gateway.hold_on_request = 4
    # (a timeout longer than the test waits: the worker is killed while it waits for the answer)
    worker = rig.start("outbox", "work", CAMPUSID_SMS_GATEWAY_TIMEOUT_SECONDS=str(DEADLINE))
    wait_for("the gateway to hold the fourth message", rig.gateway.held.is_set)
    worker.send_signal(signal.SIGKILL)
    assert worker.wait(timeout=DEADLINE) == -signal.SIGKILL

    assert len(rig.gateway.delivered()) == 4
    assert [m.status for m in rig.messages()] == ["sent"] * 3 + ["pending"] * 7
    claimed = rig.messages(status="pending")
    assert all(m.claimed_until is not None for m in claimed)  # the dead worker's claim

    # While the dead worker's claim lasts, another worker leaves its rows alone.
    rig.gateway.release()
    rig.gateway.hold_on_request = None
    assert "sent 0" in rig.work_once()
    assert len(rig.gateway.delivered()) == 4

    # Past the lease, the next worker delivers them: the fourth again, with its same key.
    rig.set_clock(rig.now() + timedelta(seconds=settings.outbox_lease_seconds + 1))
    assert "sent 7" in rig.work_once()

    messages = rig.messages()
    assert [m.status for m in messages] == ["sent"] * count
    assert all(m.payload is None for m in messages)
    delivered = rig.gateway.delivered()
    assert sorted(r.key for r in delivered) == sorted(keys)  # every message, once
    assert rig.gateway.duplicates == 1  # the fourth, offered twice, dropped by its key
    assert [r.key for r in rig.gateway.requests].count(keys[3]) == 2

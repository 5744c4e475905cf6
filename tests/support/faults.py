"""Fault tests (issue 20): private PostgreSQL, Redis and `campusid serve` processes on loopback.

Each test brings its own parts, so the suite's shared PostgreSQL (127.0.0.1:5432) and Redis
are never touched: a private PostgreSQL cluster (initdb into a temporary directory, run as the
`postgres` user when the tests run as root), a private `redis-server`, and `campusid serve`
on free ports. Every wait polls with a deadline; nothing sleeps for an expiry.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from campusid import demo, migrate
from campusid.config import Settings
from campusid.context import build_services
from campusid.db import make_engine
from campusid.security.passwords import Hasher
from tests.support.net import free_port

UNAVAILABLE = "服务暂时不可用，请稍后再试"
CSRF_COOKIE = "campusid_csrf"
SESSION_COOKIE = "campusid_session"
POLL = 0.1  # seconds between two looks at a process or a page (never an expiry)


def wait_for(what: str, check: Callable[[], bool], seconds: float = 30.0) -> None:
    """Poll `check` until it holds; fail the test with `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what} after {seconds:.0f} s")
        time.sleep(POLL)


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


@dataclass
class PrivateCluster:
    """A PostgreSQL cluster of the test's own, on a free loopback port."""

    bindir: Path
    root: Path
    port: int
    as_user: list[str]

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of its `postgres` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        """Start it and wait until it accepts connections (pg_ctl -w)."""
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._pg_ctl("-l", str(self.root / "server.log"), "-w", "-t", "30", "-o", options, "start")

    def stop(self) -> None:
        """Stop it at once: connections in use are terminated (pg_ctl -m fast)."""
        self._pg_ctl("-m", "fast", "-w", "-t", "30", "stop")


INITDB = ["--auth=trust", "-N", "-E", "UTF8", "--locale=C.UTF-8"]


@contextmanager
def private_postgres() -> Iterator[PrivateCluster]:
    """initdb + pg_ctl start; stopped and removed at the end. Skips without the binaries."""
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="campusid-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as postgres")
        shutil.chown(root, "postgres")
        as_user = [runuser, "-u", "postgres", "--"]
    cluster = PrivateCluster(bindir=bindir, root=root, port=free_port(), as_user=as_user)
    try:
        subprocess.run(
            [*as_user, str(bindir / "initdb"), "-D", str(root / "data"), "-U", "postgres", *INITDB],
            check=True,
            capture_output=True,
            timeout=60,
        )
        cluster.start()
        yield cluster
    finally:
        # Not running any more if the test stopped it, or it never started.
        with suppress(subprocess.CalledProcessError):
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


REDIS_OPTIONS = ["--save", "", "--appendonly", "no", "--protected-mode", "yes"]


@dataclass
class PrivateRedis:
    """A `redis-server` of the test's own, on a free loopback port, keeping nothing on disk."""

    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait until it answers PING."""
        server = shutil.which("redis-server")
        assert server is not None
        self.process = subprocess.Popen(
            [server, "--port", str(self.port), "--bind", "127.0.0.1", *REDIS_OPTIONS],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        try:
            wait_for("redis-server to answer", answers, 20)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL it and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    """A running private Redis; killed at the end. Skips without `redis-server`."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not installed")
    server = PrivateRedis(port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()


def prepare_database(url: str) -> None:
    """Migrate the database and load the demo accounts (cheap argon2 parameters: quick)."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            migrate.upgrade(connection=conn)
        services = build_services(
            Settings(database_url=url, secret_key="faults", log_json=False),
            engine=engine,
            hasher=Hasher(time_cost=1, memory_cost=256, parallelism=1),
        )
        with Session(engine) as db, db.begin():
            demo.load(db, services)
    finally:
        engine.dispose()


@dataclass
class Server:
    """A running `campusid serve`: its URL, its process and its log."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        """What the server wrote so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def campusid_server(
    workdir: Path, database_url: str, *, workers: int = 1, **settings: str
) -> Iterator[Server]:
    """`campusid serve` on a free loopback port, up when /login answers; stopped at the end."""
    port = free_port()
    env = {
        **os.environ,
        "CAMPUSID_DATABASE_URL": database_url,
        "CAMPUSID_ENVIRONMENT": "development",
        "CAMPUSID_SECRET_KEY": "faults",
        "CAMPUSID_LOG_JSON": "true",
        **{f"CAMPUSID_{name.upper()}": value for name, value in settings.items()},
    }
    if "redis_url" not in settings:
        env.pop("CAMPUSID_REDIS_URL", None)
    env.pop("CAMPUSID_DATA_KEY", None)
    env.pop("CAMPUSID_CLOCK_FILE", None)
    log = workdir / f"server-{port}.log"
    command = [sys.executable, "-m", "campusid.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(url=f"http://127.0.0.1:{port}", process=process, log=log)

    def up() -> bool:
        if process.poll() is not None:
            pytest.fail(f"campusid serve exited:\n{server.log_text()[-3000:]}")
        try:
            return httpx.get(server.url + "/login", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for("campusid serve to answer", up, 90)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def browser(server: Server, timeout: float = 10.0) -> httpx.Client:
    """A new browser (no cookies) pointed at the server."""
    return httpx.Client(base_url=server.url, follow_redirects=False, timeout=timeout)


def post_form(client: httpx.Client, url: str, data: dict[str, str]) -> httpx.Response:
    """Post a form with the browser's CSRF token (loading the login page first for one)."""
    token = client.cookies.get(CSRF_COOKIE)
    if token is None:
        client.get("/login")
        token = client.cookies.get(CSRF_COOKIE)
    assert token, "no CSRF cookie"
    return client.post(url, data={**data, "csrf_token": token})


def sign_in(client: httpx.Client, login: str, password: str = demo.DEMO_PASSWORD) -> httpx.Response:
    """Post the login form (no assertion: a fault test looks at every answer)."""
    return post_form(client, "/login", {"login": login, "password": password})


def assert_clean_unavailable(response: httpx.Response) -> None:
    """A 503 with the Chinese page (or the API's JSON), and no trace of the code."""
    assert response.status_code == 503, (response.status_code, response.text[:500])
    assert UNAVAILABLE in response.text
    assert "Traceback" not in response.text and "sqlalchemy" not in response.text.lower()
    assert "redis" not in response.text.lower()
    assert response.headers.get("retry-after")


@dataclass
class Load:
    """Requests run from a thread until stopped; every answer (or transport error) kept."""

    request: Callable[[], httpx.Response]
    answers: list[tuple[float, int, str]] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                response = self.request()
                self.answers.append((time.monotonic(), response.status_code, response.text))
            except httpx.HTTPError as error:
                self.errors.append((time.monotonic(), repr(error)))
            self._stop.wait(0.02)  # pacing, so two cores are not flooded

    def __enter__(self) -> Load:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=30)

    def count(self, status: int, since: float = 0.0) -> int:
        """Answers with this status after `since` (a time.monotonic value)."""
        return sum(1 for at, code, _ in self.answers if code == status and at >= since)

"""Start a real `campusid serve` for a benchmark: its own database, demo data, N workers."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

from campusid.accounts import factors
from campusid.demo import demo_totp_secret

CLI = [sys.executable, "-m", "campusid.cli"]


def fresh_database(pg_url: str | None, workdir: Path) -> str:
    """A SQLAlchemy URL of an empty database: a SQLite file, or the PostgreSQL one recreated."""
    if not pg_url:
        return f"sqlite:///{workdir / 'bench.db'}"
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    name = str(psycopg.conninfo.conninfo_to_dict(plain)["dbname"])
    with psycopg.connect(
        psycopg.conninfo.make_conninfo(plain, dbname="postgres"), autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return plain.replace("postgresql://", "postgresql+psycopg://", 1)


def listening_sockets(port: int) -> int:
    """How many sockets listen on the TCP port (one per worker of `campusid serve`)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
                count += 1
    return count


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pids(root: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(root)], capture_output=True, text=True)
    return [root, *(int(p) for p in out.stdout.split())]


def _rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(root: int) -> float:
    """CPU seconds used so far by the server's processes (the supervisor and its workers)."""
    return sum(process_cpu_seconds(pid) for pid in _pids(root))


@dataclass
class MemoryWatch:
    """Samples the resident memory of the server's processes every 50 ms."""

    root: int
    peak_mib: dict[int, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> MemoryWatch:
        self.peak_mib = {}
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            for pid in _pids(self.root):
                mib = _rss_kib(pid) / 1024
                self.peak_mib[pid] = max(self.peak_mib.get(pid, 0.0), mib)

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def worker_peak(self) -> float:
        """The largest peak of one process (with workers, the supervisor is small)."""
        return max(self.peak_mib.values(), default=0.0)


@dataclass
class Server:
    """A running server: where it listens and its process."""

    host: str
    port: int
    process: subprocess.Popen[bytes]
    env: dict[str, str]

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextmanager
def serve(
    *,
    workers: int,
    pg_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    prepare: list[list[str]] | None = None,
    database_url: str | None = None,
    cpus: set[int] | None = None,
) -> Iterator[Server]:
    """A migrated database with the demo data, served by `campusid serve --workers N`.

    With `database_url`, that existing database is served as it is (migrated, no demo data).
    With `cpus`, the server (and so its workers) may run only on those CPUs.
    """
    workdir = Path(tempfile.mkdtemp(prefix="campusid-bench-"))
    env = {
        **os.environ,
        "CAMPUSID_DATABASE_URL": database_url or fresh_database(pg_url, workdir),
        "CAMPUSID_SECRET_KEY": "bench-secret-key",
        "CAMPUSID_LOG_LEVEL": "WARNING",
        # Lockouts would stop a benchmark that signs the same people in thousands of times.
        "CAMPUSID_LOGIN_ACCOUNT_LIMIT": "100000000",
        "CAMPUSID_LOGIN_ADDRESS_LIMIT": "100000000",
        **(extra_env or {}),
    }
    demo = [] if database_url else [["demo"]]
    for step in (["db", "upgrade"], *demo, *(prepare or [])):
        subprocess.run([*CLI, *step], env=env, cwd=workdir, check=True, capture_output=True)
    port = free_port()
    process = subprocess.Popen(
        [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    server = Server("127.0.0.1", port, process, env)
    try:
        deadline = time.monotonic() + 60
        while True:
            # Every worker listening, and one answering: a benchmark that started while one
            # worker was still importing would give all its connections to the other.
            try:
                ready = listening_sockets(port) >= workers
                if ready and httpx.get(server.base + "/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"campusid serve did not start ({process.poll()})")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(workdir, ignore_errors=True)


def signed_in_cookies(base: str, login: str, password: str) -> dict[str, str]:
    """The cookies of a browser that signed in (session and CSRF).

    Demo staff (issue 19) answer the second step with their demo authenticator's code; a code
    is accepted once, so sign such a person in once and share the cookies."""
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client:
        client.get("/login")
        token = client.cookies["campusid_csrf"]
        answer = client.post(
            "/login", data={"login": login, "password": password, "csrf_token": token}
        )
        if answer.headers.get("location") == "/login/two-step":
            secret = demo_totp_secret(login)
            step = factors.time_step(datetime.now(UTC))
            for offset in (0, 1):  # the next step's code if this one's was used already
                code = factors.code_at(secret, step + offset)
                answer = client.post("/login/two-step", data={"code": code, "csrf_token": token})
                if answer.status_code == 303:
                    break
        if answer.status_code != 303 or "campusid_session" not in client.cookies:
            raise RuntimeError(f"sign-in of {login} failed: {answer.status_code}")
        return dict(client.cookies.items())


def load_average() -> str:
    """The 1-minute load average, to tell a quiet machine from a shared one."""
    return f"{os.getloadavg()[0]:.1f}"

"""`campusid serve --workers 2`: one socket per worker on one port, supervised.

A real server process on a SQLite file of its own: both workers answer on the one port (each
took new connections), a worker that dies is replaced while the other keeps serving, and
SIGTERM stops the supervisor and every worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.net import free_port

CLI = [sys.executable, "-m", "campusid.cli"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT"),
]


@dataclass
class Served:
    base: str
    process: subprocess.Popen[bytes]


def workers_of(pid: int) -> list[int]:
    """The worker processes under the supervisor (not multiprocessing's helpers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def connections_of(pid: int, port: int) -> int:
    """How many established TCP connections to `port` the process holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == port and fields[3] == "01" and fields[9] in inodes:  # ESTABLISHED
            count += 1
    return count


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def answers(base: str) -> bool:
    try:
        return httpx.get(base + "/login", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    env = {
        **os.environ,
        "CAMPUSID_ENVIRONMENT": "development",
        "CAMPUSID_DATABASE_URL": f"sqlite:///{tmp_path / 'workers.db'}",
        "CAMPUSID_LOG_LEVEL": "WARNING",
    }
    subprocess.run([*CLI, "db", "upgrade"], env=env, cwd=tmp_path, check=True, capture_output=True)
    port = free_port()
    command = [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=log)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: len(workers_of(process.pid)) == 2 and answers(base))
            yield Served(base, process)
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=60)


def test_both_workers_take_connections_on_the_one_port(served: Served) -> None:
    port = int(served.base.rsplit(":", 1)[1])
    clients = [httpx.Client(base_url=served.base, timeout=10) for _ in range(16)]
    try:
        for client in clients:
            assert client.get("/login").status_code == 200  # the connection stays open
        held = [connections_of(pid, port) for pid in workers_of(served.process.pid)]
    finally:
        for client in clients:
            client.close()
    assert sum(held) == 16
    # The kernel hashes connections over the workers' sockets: both get some (all 16 on one
    # worker would happen once in 2**15 runs).
    assert min(held) > 0


def test_workers_end_when_the_supervisor_is_killed(served: Served) -> None:
    workers = workers_of(served.process.pid)
    served.process.kill()  # SIGKILL: the supervisor cannot stop them itself
    served.process.wait()
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers))


def test_a_worker_that_dies_is_replaced_and_sigterm_stops_all(served: Served) -> None:
    first, second = workers_of(served.process.pid)
    os.kill(first, signal.SIGKILL)
    # Connections the kernel had already queued on the dead worker's socket are reset (a
    # reverse proxy retries them); new ones go to the living worker's.
    wait_for(lambda: answers(served.base))
    wait_for(
        lambda: (
            len(workers_of(served.process.pid)) == 2 and first not in workers_of(served.process.pid)
        )
    )
    assert second in workers_of(served.process.pid)
    wait_for(lambda: answers(served.base))
    workers = workers_of(served.process.pid)

    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=60) == 0
    for pid in workers:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )


def test_metrics_add_up_every_workers_requests(served: Served) -> None:
    """Issue 20: prometheus-client's multi-process mode: /metrics in any worker counts all."""
    port = int(served.base.rsplit(":", 1)[1])
    clients = [httpx.Client(base_url=served.base, timeout=10) for _ in range(16)]
    try:
        for client in clients:
            assert client.get("/login").status_code == 200
        held = [connections_of(pid, port) for pid in workers_of(served.process.pid)]
    finally:
        for client in clients:
            client.close()
    assert min(held) > 0  # both workers served some of the 16
    page = httpx.get(served.base + "/metrics", timeout=10).text
    line = next(
        row
        for row in page.splitlines()
        if row.startswith("campusid_request_duration_seconds_count")
        and 'route="/login"' in row
        and 'method="GET"' in row
    )
    assert float(line.rsplit(" ", 1)[1]) >= 16

"""Benchmark 1: end-to-end HTTP sign-ins per second against the raw argon2id rate.

Run: .venv/bin/python bench/sign_in.py [--seconds 15] [--concurrency 16]

Measures, on this machine in this run:
  * raw argon2id verifications per second (production parameters) in 1 and in 2 processes;
  * HTTP sign-ins per second (real password check, SQLite database, demo accounts) against
    `campusid serve` with 1 and with 2 worker processes, with the median and p99 latency while
    the server is saturated and the peak memory (VmHWM) of the worker processes;
  * the ratios: sign-ins/s divided by the raw rate of the same number of processes.
The load generator is an asyncio httpx client in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from argon2 import PasswordHasher, Type

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Zjer@2026"
ACCOUNTS = [
    "chenxiaokai",
    "zhaoshuxue",
    "sunbanzhu",
    "lixiaoyao",
    "heshuhuan",
    "weiyingluo",
    "linyiping",
    "zhoubotong",
    "p_lidaniang",
    "xx_admin",
]


def _raw_worker(seconds: float, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    ph = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)
    digest = ph.hash(PASSWORD)
    count, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        ph.verify(digest, PASSWORD)
        count += 1
    queue.put(count)


def raw_rate(processes: int, seconds: float) -> float:
    """argon2id verifications per second with this many processes."""
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    workers = [
        multiprocessing.Process(target=_raw_worker, args=(seconds, queue)) for _ in range(processes)
    ]
    for w in workers:
        w.start()
    total = sum(queue.get() for _ in workers)
    for w in workers:
        w.join()
    return total / seconds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _peak_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0


async def _client_loop(base: str, login: str, deadline: float, latencies: list[float]) -> None:
    async with httpx.AsyncClient(base_url=base, follow_redirects=False, timeout=60) as client:
        page = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = await client.post(
                "/login", data={"login": login, "password": PASSWORD, "csrf_token": token}
            )
            if response.status_code != 303:
                raise RuntimeError(f"sign-in failed: {response.status_code}")
            latencies.append(time.perf_counter() - started)


async def _load(base: str, seconds: float, concurrency: int) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    await asyncio.gather(
        *(
            _client_loop(base, ACCOUNTS[i % len(ACCOUNTS)], deadline, latencies)
            for i in range(concurrency)
        )
    )
    return latencies


def http_rate(workers: int, seconds: float, concurrency: int) -> dict[str, float]:
    """Sign-ins per second, latencies and peak memory against a server with N workers."""
    workdir = Path(tempfile.mkdtemp(prefix="campusid-bench-"))
    env = {
        **os.environ,
        "CAMPUSID_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
        "CAMPUSID_SECRET_KEY": "bench",
        "CAMPUSID_LOG_LEVEL": "WARNING",
        # Lockout would stop a benchmark that signs the same people in thousands of times.
        "CAMPUSID_LOGIN_ACCOUNT_LIMIT": "1000000",
        "CAMPUSID_LOGIN_ADDRESS_LIMIT": "1000000",
    }
    cli = [sys.executable, "-m", "campusid.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([*cli, "demo"], env=env, check=True, capture_output=True)
    port = _free_port()
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(base + "/login", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        asyncio.run(_load(base, 2, concurrency))  # warm-up
        latencies = asyncio.run(_load(base, seconds, concurrency))
        pids = [server.pid, *_children(server.pid)]
        peak_mib = max(_peak_kib(p) for p in pids) / 1024
    finally:
        server.terminate()
        server.wait(timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)
    latencies.sort()
    return {
        "rate": len(latencies) / seconds,
        "median_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "peak_mib": peak_mib,
    }


def main() -> None:
    """Run the benchmark and print figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    raw1 = raw_rate(1, args.seconds)
    raw2 = raw_rate(2, args.seconds)
    print(f"raw argon2id (m=19MiB,t=2,p=1): 1 process {raw1:.1f}/s, 2 processes {raw2:.1f}/s")
    results = {}
    for workers in (1, 2):
        r = http_rate(workers, args.seconds, args.concurrency)
        results[workers] = r
        raw = raw1 if workers == 1 else raw2
        print(
            f"HTTP sign-in, {workers} worker(s): {r['rate']:.1f}/s "
            f"(ratio to raw {r['rate'] / raw:.2f}), median {r['median_ms']:.0f} ms, "
            f"p99 {r['p99_ms']:.0f} ms, peak worker memory {r['peak_mib']:.0f} MiB"
        )
    print(f"scaling 2 workers / 1 worker: {results[2]['rate'] / results[1]['rate']:.2f}x")


if __name__ == "__main__":
    main()

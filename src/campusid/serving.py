"""`campusid serve`: Uvicorn, and with several workers one listening socket per worker.

Uvicorn's own `--workers` shares one listening socket between its worker processes, and which
worker takes a connection is decided when it connects: with a few long-lived keep-alive
connections (a reverse proxy's, or a browser's), one worker often holds most of them while the
other idles (docs/performance.md measured 2 workers at 1.1x one). Here every worker binds the
port itself with SO_REUSEPORT, and the kernel spreads new connections evenly over the workers'
sockets. The supervisor restarts a worker that dies and stops them all on SIGTERM or SIGINT.
Where SO_REUSEPORT is missing (not Linux), it falls back to Uvicorn's workers.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import uvicorn

log = logging.getLogger("campusid.serving")

APP = "campusid.app:serve_app"
# A worker that keeps dying at start (a bad setting, the port taken by another user's program)
# is not restarted in a tight loop.
RESTART_PAUSE = 1.0
_PR_SET_PDEATHSIG = 1
SHUTDOWN_GRACE = 30.0


def uvicorn_options() -> dict[str, Any]:
    """The options every worker runs Uvicorn with."""
    return {
        "factory": True,
        "proxy_headers": True,
        "server_header": False,
        "access_log": False,  # campusid.access logs each request, without its query string
        "log_config": None,  # the app installs JSON logging itself (in every worker)
    }


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port that other sockets of this user may bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _end_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its supervisor dies, even by SIGKILL."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return


def _worker(host: str, port: int, supervisor: int) -> None:
    """One worker process: its own socket on the shared port, one Uvicorn server."""
    _end_with_parent()
    if os.getppid() != supervisor:  # it died before the request above took effect
        return
    sock = listening_socket(host, port)
    config = uvicorn.Config(APP, host=host, port=port, **uvicorn_options())
    uvicorn.Server(config).run(sockets=[sock])


def serve(host: str, port: int, workers: int = 1, reload: bool = False) -> None:
    """Serve the application: one process, or `workers` processes on one port."""
    made = _metrics_directory() if workers > 1 else None
    try:
        if workers <= 1 or reload or not hasattr(socket, "SO_REUSEPORT"):
            uvicorn.run(
                APP, host=host, port=port, workers=workers, reload=reload, **uvicorn_options()
            )
            return
        # Bound (not listening) for as long as the supervisor runs: a port already taken by
        # someone else fails here, once, and not in every worker.
        with listening_socket(host, port):
            Supervisor(host, port, workers).run()
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)


def _metrics_directory() -> str | None:
    """prometheus-client's multi-process mode for several workers (issue 20): every worker
    writes its samples to files in one directory, which /metrics in any worker adds up. The
    directory is made empty at start (old files would add a previous run's counts). Returns
    the directory if it was made here (removed when serving ends)."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    made = None
    if not path:
        path = made = tempfile.mkdtemp(prefix="campusid-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))
    return made


class Supervisor:
    """Starts the workers, restarts one that dies, stops them all on a signal."""

    def __init__(self, host: str, port: int, workers: int) -> None:
        self.host, self.port, self.count = host, port, workers
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[BaseProcess] = []
        self.stopping = False

    def _start(self) -> BaseProcess:
        process = self.context.Process(
            target=_worker, args=(self.host, self.port, os.getpid()), name="campusid-worker"
        )
        process.start()
        return process

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> None:
        """Run until SIGTERM or SIGINT, then stop the workers (gracefully, then by force)."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.workers = [self._start() for _ in range(self.count)]
            log.info("serving on %s:%s with %d workers", self.host, self.port, self.count)
            while not self.stopping:
                time.sleep(0.2)
                for index, process in enumerate(self.workers):
                    if not process.is_alive() and not self.stopping:
                        if process.pid is not None:
                            from campusid.metrics import mark_process_dead

                            mark_process_dead(process.pid)
                        log.warning(
                            "worker %s exited (%s); starting another", process.pid, process.exitcode
                        )
                        time.sleep(RESTART_PAUSE)
                        self.workers[index] = self._start()
        finally:
            self._shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _shutdown(self) -> None:
        for process in self.workers:
            if process.is_alive() and process.pid is not None:
                process.terminate()  # SIGTERM: Uvicorn finishes the requests in flight
        deadline = time.monotonic() + SHUTDOWN_GRACE
        for process in self.workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()

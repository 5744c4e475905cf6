"""End-to-end: a real server process on a loopback port, driven by Debian's Chromium.

The server runs `campusid serve` with its own SQLite database and the demo data. Its clock can
be set through a file (CAMPUSID_CLOCK_FILE), which only development servers accept. Each
scenario saves screenshots of its key screens under artifacts/e2e/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest

CHROMIUM = os.environ.get("CAMPUSID_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}

if not Path(CHROMIUM).exists():
    pytest.skip(
        f"end-to-end tests skipped: Chromium not found at {CHROMIUM} "
        "(apt-get install chromium; .ci/run installs it)",
        allow_module_level=True,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A running campusid server and the file that sets its clock."""

    url: str
    clock_file: Path
    database_url: str

    def set_time(self, at: datetime) -> None:
        """Move the server's clock (an aware datetime)."""
        self.clock_file.write_text(at.isoformat(), encoding="utf-8")

    def real_time(self) -> None:
        """Give the server the real time back."""
        self.clock_file.write_text("", encoding="utf-8")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Start `campusid serve` on a free port with a fresh database and the demo data."""
    workdir = tmp_path_factory.mktemp("e2e")
    port = _free_port()
    clock_file = workdir / "clock"
    clock_file.write_text("", encoding="utf-8")
    database_url = f"sqlite:///{workdir / 'e2e.db'}"
    env = {
        **os.environ,
        "CAMPUSID_DATABASE_URL": database_url,
        "CAMPUSID_ENVIRONMENT": "development",
        "CAMPUSID_CLOCK_FILE": str(clock_file),
        "CAMPUSID_SECRET_KEY": "e2e-secret",
    }
    env.pop("CAMPUSID_REDIS_URL", None)
    cli = [sys.executable, "-m", "campusid.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([*cli, "demo"], env=env, check=True, capture_output=True)
    log = (workdir / "server.log").open("w")
    process = subprocess.Popen(
        [*cli, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/login", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError((workdir / "server.log").read_text())
        time.sleep(0.2)  # waiting for a process to start, not for an expiry
    yield LiveServer(url=url, clock_file=clock_file, database_url=database_url)
    process.terminate()
    process.wait(timeout=10)
    log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        yield browser
        browser.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Save a screenshot of a key screen: shots(page, "step-name")."""
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 100))

    def shoot(page, name: str) -> None:  # type: ignore[no-untyped-def]
        page.screenshot(path=str(folder / f"{next(counter):02d}-{name}.png"), full_page=True)

    return shoot


def new_page(browser, viewport: dict[str, int], *, clipboard: bool = False):  # type: ignore[no-untyped-def]
    """A fresh browser context (its own cookies) and page."""
    context = browser.new_context(
        viewport=viewport,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        permissions=["clipboard-read", "clipboard-write"] if clipboard else [],
        is_mobile=viewport is PHONE,
        has_touch=viewport is PHONE,
    )
    return context.new_page()


def sign_in(page, base_url: str, login: str, password: str) -> None:  # type: ignore[no-untyped-def]
    """Sign in through the login page as a person would."""
    page.goto(base_url + "/login")
    page.get_by_label("账号").fill(login)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state("networkidle")

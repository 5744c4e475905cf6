"""End-to-end: a real server process on a loopback port, driven by Debian's Chromium.

One server for the whole session: `campusid serve` with its own SQLite database and the demo
data, mail sent to a real SMTP server on loopback (aiosmtpd) and SMS to the development outbox.
Its clock can be set through a file (CAMPUSID_CLOCK_FILE), which only development servers
accept. Each scenario saves screenshots of its key screens under artifacts/e2e/<test>/.

Every page a test opens is watched: a Content-Security-Policy violation, a script error or a
failed sub-resource fails the test, and each screenshot first checks the page (every field
labelled, every button named, nothing wider than the screen, and no serious or critical
violation of axe-core's WCAG 2.2 A/AA rules).

The PostgreSQL run (CAMPUSID_TEST_DATABASE_URL set) skips these tests: the server they drive
always runs on its own SQLite database, so a second run would test nothing new.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from tests.support.net import free_port
from tests.support.secrets import CAPTURE, remember
from tests.support.smtp import Inbox, smtp_server

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
    "--lang=zh-CN",  # the browser's own words (file and date pickers) in Chinese too
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
SECRET_KEY = "e2e-secret"

if os.environ.get("CAMPUSID_TEST_DATABASE_URL"):
    pytest.skip(
        "end-to-end tests skipped in the PostgreSQL run: their server always uses its own "
        "SQLite database, and the SQLite run (make test) has already driven it",
        allow_module_level=True,
    )
if not Path(CHROMIUM).exists():
    pytest.skip(
        f"end-to-end tests skipped: Chromium not found at {CHROMIUM} "
        "(apt-get install chromium fonts-noto-cjk; .ci/run installs it)",
        allow_module_level=True,
    )


@dataclass
class LiveServer:
    """A running campusid server, the file that sets its clock, its database and its mail."""

    url: str
    clock_file: Path
    database_url: str
    inbox: Inbox
    secret_key: str = SECRET_KEY
    _engine: Any = field(default=None, repr=False)

    def set_time(self, at: datetime) -> None:
        """Move the server's clock (an aware datetime)."""
        self.clock_file.write_text(at.isoformat(), encoding="utf-8")

    def now(self) -> datetime:
        """The server's time: the clock file's, else the real time."""
        text = self.clock_file.read_text(encoding="utf-8").strip()
        return datetime.fromisoformat(text) if text else datetime.now(UTC)

    def real_time(self) -> None:
        """Give the server the real time back."""
        self.clock_file.write_text("", encoding="utf-8")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session on the server's database (the app's models read and write it), committed."""
        from campusid.db import make_engine

        if self._engine is None:
            self._engine = make_engine(self.database_url)
        with Session(self._engine, expire_on_commit=False) as db, db.begin():
            yield db


_LIVE: list[LiveServer] = []  # the session's server, for sign_in's second step


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Start `campusid serve` on a free port with a fresh database, the demo data and SMTP."""
    workdir = tmp_path_factory.mktemp("e2e")
    port = free_port()
    clock_file = workdir / "clock"
    clock_file.write_text("", encoding="utf-8")
    database_url = f"sqlite:///{workdir / 'e2e.db'}"
    with smtp_server() as (inbox, smtp_port):
        env = {
            **os.environ,
            "CAMPUSID_DATABASE_URL": database_url,
            "CAMPUSID_ENVIRONMENT": "development",
            "CAMPUSID_CLOCK_FILE": str(clock_file),
            "CAMPUSID_SECRET_KEY": SECRET_KEY,
            "CAMPUSID_SMTP_HOST": "127.0.0.1",
            "CAMPUSID_SMTP_PORT": str(smtp_port),
        }
        env.pop("CAMPUSID_REDIS_URL", None)
        env.pop("CAMPUSID_DATA_KEY", None)
        cli = [sys.executable, "-m", "campusid.cli"]
        subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run([*cli, "demo"], env=env, check=True, capture_output=True)
        log_path = workdir / "server.log"
        log = log_path.open("w")
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
                raise RuntimeError(log_path.read_text())
            time.sleep(0.2)  # waiting for a process to start, not for an expiry
        server = LiveServer(url=url, clock_file=clock_file, database_url=database_url, inbox=inbox)
        _LIVE[:] = [server]
        yield server
        process.terminate()
        process.wait(timeout=10)
        log.close()
        if server._engine is not None:
            server._engine.dispose()
        # The server's own log lines join the session's secrets scan (tests/conftest.py).
        CAPTURE.lines.extend(log_path.read_text(encoding="utf-8", errors="replace").splitlines())


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
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


# ------------------------------------------------------------------------ watching the pages

PROBLEMS: list[str] = []
EXPECTED_REFUSALS: set[str] = set()  # addresses a test asks for knowing they answer 4xx


def expect_refusal(url: str) -> None:
    """A request the test sends on purpose to be refused: its 4xx is not a page problem."""
    EXPECTED_REFUSALS.add(url)


# Runs before the page's own scripts (injected by the browser, so the CSP does not apply to it).
_REPORT_CSP = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline")
                + " at " + (e.sourceFile || "") + ":" + e.lineNumber);
});
"""


def _watch(page: Any) -> None:
    """Record CSP violations, script errors and failed sub-resources of a page."""

    def on_console(message: Any) -> None:
        if message.type != "error":
            return
        text = message.text
        failed = message.location.get("url")
        if text.startswith("Failed to load resource") and (
            failed == page.url or failed in EXPECTED_REFUSALS
        ):
            return  # the document itself answered 4xx on purpose (a refused form, an error page)
        PROBLEMS.append(f"{page.url}: {text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: PROBLEMS.append(f"{page.url}: script error {error}"))


@pytest.fixture(autouse=True)
def _no_browser_problems() -> Iterator[None]:
    """Fail a test whose pages broke the CSP, threw a script error or missed a resource."""
    PROBLEMS.clear()
    EXPECTED_REFUSALS.clear()
    yield
    problems, PROBLEMS[:] = list(PROBLEMS), []
    assert not problems, "the browser reported problems:\n" + "\n".join(problems)


_PAGE_CHECK = """
(screenWidth) => {
  const problems = [];
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const named = (el) => (el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")
                         || (el.labels && el.labels.length) || el.getAttribute("title"));
  document.querySelectorAll("input, select, textarea").forEach((el) => {
    if (["hidden", "submit", "button"].includes(el.type) || !visible(el)) return;
    if (!named(el)) problems.push("field without a label: " + el.outerHTML.slice(0, 120));
  });
  document.querySelectorAll("button, a[href]").forEach((el) => {
    if (!visible(el)) return;
    if (!el.textContent.trim() && !el.getAttribute("aria-label") && !el.querySelector("img[alt]"))
      problems.push("control without a name: " + el.outerHTML.slice(0, 120));
  });
  const styled = document.querySelector('[style]:not([style=""])');  // htmx leaves style=""
  if (styled) problems.push("style attribute: " + styled.outerHTML.slice(0, 120));
  const width = document.documentElement.scrollWidth;
  if (width > screenWidth + 1)
    problems.push("page wider than the screen: " + width + "px > " + screenWidth + "px");
  const headings = document.querySelectorAll("h1").length;
  if (headings !== 1) problems.push(headings + " h1 headings (one names the page)");
  return problems;
}
"""


# axe-core (issue 23): the WCAG 2.x A and AA rules, and 2.2's; a serious or critical violation
# fails the page. The script is axe-core's own, shipped inside axe-playwright-python (pinned);
# page.evaluate runs it outside the page's Content-Security-Policy.
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
AXE_FAILS = {"serious", "critical"}
_TABBAR_IN_FLOW = """(on) => document.querySelectorAll("nav.tabbar").forEach((bar) => {
  if (on) { bar.style.position = "static"; } else { bar.removeAttribute("style"); }
})"""


def axe_violations(page: Any) -> list[str]:
    """The page's serious and critical axe-core violations, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    # The phone's tab bar is fixed to the bottom of the screen: whatever the page shows under it
    # at this scroll position would count as "obscured" (target size). Checked in the flow.
    page.evaluate(_TABBAR_IN_FLOW, True)
    try:
        results = Axe().run(page, options=AXE_OPTIONS).response
    finally:
        page.evaluate(_TABBAR_IN_FLOW, False)
    return [
        f"axe {v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["html"][:140] for node in v["nodes"][:4])
        for v in results["violations"]
        if v["impact"] in AXE_FAILS
    ]


def check_page(page: Any) -> None:
    """A page as everyone can use it: labelled fields, named controls, no sideways scrolling,
    and no serious or critical axe-core violation."""
    problems = page.evaluate(_PAGE_CHECK, page.viewport_size["width"])
    problems += axe_violations(page)
    assert not problems, f"{page.url}:\n" + "\n".join(problems)


@pytest.fixture
def shots(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Check and save a screenshot of a key screen: shots(page, "step-name")."""
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 100))

    def shoot(page: Any, name: str) -> None:
        check_page(page)
        page.screenshot(path=str(folder / f"{next(counter):02d}-{name}.png"), full_page=True)

    return shoot


def new_page(
    browser: Any,
    viewport: dict[str, int],
    *,
    clipboard: bool = False,
    storage_state: Any = None,
) -> Any:
    """A fresh browser context (its own cookies, or those of `storage_state`) and page, watched."""
    context = browser.new_context(
        storage_state=storage_state,
        viewport=viewport,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        # no entrance animations: a toast is checked (axe) at its final colours, not mid-fade
        reduced_motion="reduce",
        permissions=["clipboard-read", "clipboard-write"] if clipboard else [],
        is_mobile=viewport is PHONE,
        has_touch=viewport is PHONE,
    )
    context.set_default_timeout(10_000)
    context.add_init_script(_REPORT_CSP)
    page = context.new_page()
    _watch(page)
    return page


def sign_in(page: Any, base_url: str, login: str, password: str) -> None:
    """Sign in through the login page as a person would (issue 19: with the code of their
    authenticator when they hold one, computed from their factor and the server's clock)."""
    remember(password)
    page.goto(base_url + "/login")
    page.get_by_label("账号").fill(login)
    page.get_by_label("密码").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="登录").click()
    if page.url.split("?")[0].endswith("/login/two-step"):
        second_step(page, login)


def second_step(page: Any, login: str) -> None:
    """Type the current code of the person's authenticator into 两步验证."""
    from tests.support.factors import usable_code

    server = _LIVE[0]
    with server.session() as db:
        code = usable_code(db, login, server.now())
    remember(code)
    page.get_by_label("动态验证码").fill(code)
    with page.expect_navigation():
        page.get_by_role("button", name="验证").click()


def fill_secret(page: Any, label: str, value: str) -> None:
    """Type a password or code into a field (and remember it for the secrets scan)."""
    remember(value)
    page.get_by_label(label, exact=True).fill(value)


CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")

"""Scale-out: two real `campusid serve` processes share one PostgreSQL database and one Redis.

What one process starts, the other continues: a session signed in on one is known to the other
(and ended by signing out there), failed sign-ins counted on both ask for a captcha on both, and
找回密码 by phone runs with its captcha solved, its code checked and its new password set on
alternating processes. The test makes its own database (`<test database>_scaleout`) and its own
Redis key prefix; it needs the PostgreSQL of `make test-pg` and a Redis, and is skipped (saying
why) without them.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from campusid.demo import DEMO_PASSWORD
from campusid.recovery import captcha
from campusid.recovery.models import RecoveryFlow
from campusid.recovery.service import FLOW_COOKIE
from campusid.security import crypto
from campusid.security.sessions import COOKIE_NAME, hash_token
from campusid.senders import OutboxMessage
from tests.support.net import free_port

REDIS_URL = os.environ.get("CAMPUSID_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_URL = os.environ.get("CAMPUSID_TEST_DATABASE_URL", "")
PHONE = "13800000001"  # 陈小凯
NEW_PASSWORD = "Kuo#Rong2027"
SIGNED_OUT = "账号或密码错误"


def _skip_reason() -> str | None:
    if not PG_URL.startswith("postgresql"):
        return "needs PostgreSQL: runs under `make test-pg` (CAMPUSID_TEST_DATABASE_URL)"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return f"needs Redis at {REDIS_URL}"
    try:
        with socket.create_connection(
            (make_url(PG_URL).host or "127.0.0.1", make_url(PG_URL).port or 5432), timeout=1
        ):
            pass
    except OSError:
        return f"PostgreSQL not reachable at {make_url(PG_URL).host}"
    return None


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or ""),
]


@dataclass
class Platform:
    """Two app processes (a, b) over one database and one Redis prefix."""

    a: str
    b: str
    engine: Engine
    secret_key: str
    prefix: str
    redis: redis.Redis


def _own_database() -> str:
    """A fresh database next to the test database, migrated and loaded with the demo data."""
    url = make_url(PG_URL)
    name = f"{url.database}_scaleout"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on {base} exited with {process.returncode}")
        try:
            if httpx.get(base + "/login", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on {base} did not start")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    database_url = _own_database()
    prefix = "campusid-scaleout-" + secrets.token_hex(4)
    secret_key = secrets.token_urlsafe(32)
    env = {
        **os.environ,
        "CAMPUSID_ENVIRONMENT": "development",  # codes go to the shared outbox table
        "CAMPUSID_DATABASE_URL": database_url,
        "CAMPUSID_REDIS_URL": REDIS_URL,
        "CAMPUSID_REDIS_PREFIX": prefix,
        "CAMPUSID_SECRET_KEY": secret_key,
        "CAMPUSID_DATA_KEY": crypto.new_key(),
        "CAMPUSID_LOG_LEVEL": "WARNING",
    }
    cli = [sys.executable, "-m", "campusid.cli"]
    workdir = tmp_path_factory.mktemp("scaleout")
    for step in (["db", "upgrade"], ["demo"]):
        subprocess.run([*cli, *step], env=env, cwd=workdir, check=True, capture_output=True)
    processes = []
    bases = []
    logs = []
    try:
        for name in ("a", "b"):
            port = free_port()
            log = Path(workdir / f"{name}.log").open("wb")  # noqa: SIM115
            logs.append(log)
            processes.append(
                subprocess.Popen(
                    [*cli, "serve", "--host", "127.0.0.1", "--port", str(port)],
                    env=env,
                    cwd=workdir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            bases.append(f"http://127.0.0.1:{port}")
        for base, process in zip(bases, processes, strict=True):
            _wait_ready(base, process)
        engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
        store = redis.Redis.from_url(REDIS_URL)
        _ENGINES[:] = [engine]
        yield Platform(bases[0], bases[1], engine, secret_key, prefix, store)
        engine.dispose()
        for key in store.scan_iter(f"*{prefix}:*"):
            store.delete(key)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()


_ENGINES: list[Engine] = []  # the platform's database, for the second step of staff sign-ins


class Browser:
    """One browser: one cookie jar, talking to whichever process the balancer picks."""

    def __init__(self) -> None:
        self.http = httpx.Client(follow_redirects=False, timeout=30)

    def get(self, url: str) -> httpx.Response:
        return self.http.get(url)

    def post(self, base: str, path: str, data: dict[str, str]) -> httpx.Response:
        if self.http.cookies.get("campusid_csrf") is None:
            self.http.get(base + "/login")
        token = self.http.cookies.get("campusid_csrf")
        assert token
        return self.http.post(base + path, data={**data, "csrf_token": token})

    def sign_in(self, base: str, login: str, password: str = DEMO_PASSWORD) -> httpx.Response:
        answer = self.post(base, "/login", {"login": login, "password": password})
        if answer.headers.get("location") != "/login/two-step":
            return answer
        # Issue 19: staff answer the second step with their demo authenticator's code (the
        # servers run on the real clock and seal secrets under their own data key). A code
        # already used in this 30-second step is refused as a replay: then the next step's.
        from datetime import UTC, datetime

        from campusid.accounts import factors
        from campusid.demo import demo_totp_secret

        # Any identifier signs in: the one phone number these tests type is 陈小凯's.
        secret = demo_totp_secret({PHONE: "chenxiaokai"}.get(login, login))
        step = factors.time_step(datetime.now(UTC))
        for offset in (0, 1):
            code = factors.code_at(secret, step + offset)
            answer = self.post(base, "/login/two-step", {"code": code})
            if answer.status_code == 303:
                break
        return answer


def test_a_session_started_on_one_process_lives_and_ends_on_the_other(platform):
    browser = Browser()
    assert browser.sign_in(platform.a, "zhaoshuxue").status_code == 303
    token = browser.http.cookies.get(COOKIE_NAME)
    assert token
    # Only the hash of the session id is in Redis, under this platform's prefix.
    assert platform.redis.exists(f"{platform.prefix}:session:{hash_token(token)}")
    home = browser.get(platform.b + "/")
    assert home.status_code == 200 and "赵数学" in home.text
    # Signing out on b ends it for a too.
    assert browser.post(platform.b, "/logout", {}).status_code == 303
    assert browser.get(platform.a + "/").status_code == 303
    assert not platform.redis.exists(f"{platform.prefix}:session:{hash_token(token)}")


def test_failed_sign_ins_on_both_processes_are_counted_on_both(platform):
    # Sunbanzhu signed in on this browser before (process a): it holds a device cookie.
    known = Browser()
    assert known.sign_in(platform.a, "sunbanzhu").status_code == 303
    assert known.post(platform.a, "/logout", {}).status_code == 303
    browser = Browser()
    # Three wrong passwords, alternating processes: each process alone saw fewer than three.
    for attempt in range(3):
        base = platform.a if attempt % 2 else platform.b
        answer = browser.sign_in(base, "sunbanzhu", "Wrong#Pass1")
        assert answer.status_code == 200 and SIGNED_OUT in answer.text
    # Now this login from this address must come with a solved captcha, on either process
    # (the right password is not even checked without it) ...
    for base in (platform.a, platform.b):
        answer = browser.sign_in(base, "sunbanzhu")
        assert answer.status_code == 200 and "请输入图片验证码" in answer.text
    # The counts live in Redis, under this platform's prefix, as keyed digests.
    keys = [k.decode() for k in platform.redis.scan_iter(f"{platform.prefix}:throttle:*")]
    assert keys and not any("sunbanzhu" in k for k in keys)
    # ... but nobody is locked out: the known browser signs in on the other process.
    assert known.sign_in(platform.b, "sunbanzhu").status_code == 303
    assert Browser().sign_in(platform.b, "heshuhuan").status_code == 303


def _flow(platform: Platform, browser: Browser) -> RecoveryFlow:
    token = browser.http.cookies.get(FLOW_COOKIE)
    assert token
    with Session(platform.engine) as db:
        flow = db.scalar(select(RecoveryFlow).where(RecoveryFlow.token_digest == hash_token(token)))
        assert flow is not None
        return flow


def _last_code(platform: Platform) -> str:
    """The code of the last SMS to the phone (sent after the answer: wait for it a little)."""
    deadline = time.monotonic() + 15
    while True:
        with Session(platform.engine) as db:
            message = db.scalar(
                select(OutboxMessage)
                .where(OutboxMessage.recipient == PHONE)
                .order_by(OutboxMessage.id.desc())
                .limit(1)
            )
        if message is not None or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert message is not None
    match = re.search(r"(?<!\d)(\d{6})(?!\d)", message.body)
    assert match
    return match.group(1)


def test_password_recovery_by_phone_crosses_processes(platform):
    signed_in = Browser()
    assert signed_in.sign_in(platform.b, "chenxiaokai").status_code == 303

    browser = Browser()
    assert browser.get(platform.a + "/recovery").status_code == 200
    # The captcha is drawn by a; its answer (kept server-side, hashed) is checked by b.
    assert browser.get(platform.a + "/recovery/captcha").status_code == 200
    answer = captcha.answer_for_tests(_flow(platform, browser), secret_key=platform.secret_key)
    assert answer is not None
    sent = browser.post(
        platform.b, "/recovery/code", {"way": "phone", "phone": PHONE, "captcha": str(answer)}
    )
    assert sent.status_code == 200 and "验证码已发送" in sent.text
    # The code was issued by b and is checked by a.
    code = _last_code(platform)
    verified = browser.post(platform.a, "/recovery/verify", {"way": "phone", "code": code})
    assert verified.status_code == 303
    assert "设置新密码" in browser.get(platform.b + "/recovery").text
    done = browser.post(
        platform.b,
        "/recovery/password",
        {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert done.status_code == 200 and "完成" in done.text
    # The other session (held through b) ended everywhere; the new password works on a.
    assert signed_in.get(platform.a + "/").status_code == 303
    assert signed_in.get(platform.b + "/").status_code == 303
    assert Browser().sign_in(platform.a, PHONE, NEW_PASSWORD).status_code == 303
    assert Browser().sign_in(platform.b, "chenxiaokai").status_code == 200

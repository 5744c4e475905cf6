"""Sessions and rate limits in a real Redis, as configured for many app processes."""

from __future__ import annotations

import os
import secrets

import pytest
import redis
from tests.support.http import post_form, sign_in
from tests.support.login import solve_login_captcha

from campusid.app import create_app
from campusid.context import build_services
from campusid.demo import DEMO_PASSWORD

REDIS_URL = os.environ.get("CAMPUSID_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


pytestmark = pytest.mark.skipif(not _redis_available(), reason=f"no Redis at {REDIS_URL}")


@pytest.fixture
def redis_services(settings, clock, engine, services, hasher):
    prefix = "campusid-test-" + secrets.token_hex(4)
    configured = settings.model_copy(update={"redis_url": REDIS_URL, "redis_prefix": prefix})
    built = build_services(configured, clock=clock, engine=engine, hasher=hasher)
    built.session_factory = services.session_factory
    yield built
    for key in built.redis.scan_iter(f"*{prefix}:*"):
        built.redis.delete(key)


@pytest.fixture
def redis_app(redis_services):
    return create_app(redis_services.settings, redis_services)


def _client(app):
    from fastapi.testclient import TestClient

    return TestClient(app, base_url="http://testserver", follow_redirects=False)


def test_sessions_live_in_redis_and_cross_app_processes(redis_services, services, world):
    first, second = _client(create_app(redis_services.settings, redis_services)), None
    sign_in(first, "chenxiaokai")
    token = first.cookies.get("campusid_session")
    keys = list(redis_services.redis.scan_iter(f"{redis_services.settings.redis_prefix}:session:*"))
    assert len(keys) == 1
    assert token not in keys[0].decode()  # only the hash of the id is stored
    # Another process (another app instance on the same Redis) knows the session.
    second = _client(create_app(redis_services.settings, redis_services))
    second.cookies.set("campusid_session", token)
    assert second.get("/").status_code == 200
    post_form(first, "/logout")
    assert second.get("/").status_code == 303


def test_password_change_ends_redis_sessions(redis_app, world):
    one, two = _client(redis_app), _client(redis_app)
    sign_in(one, "chenxiaokai")
    sign_in(two, "chenxiaokai")
    post_form(
        one,
        "/account/password",
        {
            "current_password": DEMO_PASSWORD,
            "new_password": "Chen#2027ab",
            "confirm_password": "Chen#2027ab",
        },
    )
    assert one.get("/").status_code == 200
    assert two.get("/").status_code == 303


def test_throttle_is_shared_through_redis(redis_services, world, clock):
    apps = [create_app(redis_services.settings, redis_services) for _ in range(2)]
    steps = redis_services.settings.login_captcha_after_failures
    for i in range(steps):  # from one address, on either process
        client = _client(apps[i % 2])
        post_form(client, "/login", {"login": "heshuhuan", "password": "Wrong#Pass1"})
    browser = _client(apps[steps % 2])
    asked = post_form(browser, "/login", {"login": "heshuhuan", "password": DEMO_PASSWORD})
    assert asked.status_code == 200 and "请输入图片验证码" in asked.text
    keys = [
        k.decode()
        for k in redis_services.redis.scan_iter(f"{redis_services.settings.redis_prefix}:*")
    ]
    assert any(":throttle:" in k for k in keys)
    assert all(
        "heshuhuan" not in k and str(world["heshuhuan"].id) not in k.split(":") for k in keys
    )
    # The captcha's answer is kept in Redis too, and taken once.
    answer = solve_login_captcha(browser, redis_services)
    done = post_form(
        browser, "/login", {"login": "heshuhuan", "password": DEMO_PASSWORD, "captcha": answer}
    )
    assert done.status_code == 303
    # After a day without failures the pair is forgotten.
    clock.advance(seconds=redis_services.settings.login_pair_memory_seconds)
    assert redis_services.throttle.store.get("anything", now=clock.now().timestamp()).count == 0


def test_roster_progress_is_shared_through_redis(redis_services, redis_app, world):
    """Issue 17: the progress one app process reports, another serves to the page's poll."""
    from campusid.roster.service import BoardReport
    from campusid.security.progress import RedisProgressBoard

    assert isinstance(redis_services.progress, RedisProgressBoard)
    # The importing process: its own board on the same Redis.
    worker = RedisProgressBoard(redis_services.redis, prefix=redis_services.settings.redis_prefix)
    key = secrets.token_hex(16)
    report = BoardReport(worker, key, user_id=world["xx_admin"].id, school_id=world.school.id)
    report.start()
    report.rows(500, dry_run=False)
    report("check", 200)
    client = _client(redis_app)
    sign_in(client, "xx_admin")
    url = f"/school/{world.school.id}/roster/progress/{key}"
    assert client.get(url).json() == {"done": 200, "total": 1500, "phase": "check"}
    report.finish()
    assert client.get(url).json() == {"done": 1500, "total": 1500, "phase": "done"}
    assert redis_services.redis.ttl(f"{redis_services.settings.redis_prefix}:progress:{key}") > 0
    # Bound to the administrator and school: the same key under another owner is not theirs.
    assert worker.read(key, f"{world['xx_admin'].id}@{world.school.id + 1}") is None

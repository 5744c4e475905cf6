"""/healthz, /readyz and /metrics (issue 20): JSON without secrets, metrics by route template."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import text

from campusid.demo import DEMO_PASSWORD
from tests.support.http import post_form, sign_in


def _local(app) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(app, base_url="http://testserver", client=("127.0.0.1", 40000))


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_healthz_answers_without_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_the_database_and_the_migrations(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["checks"] == {"database": "ok", "migrations": "ok"}
    assert body["failing"] == []


def test_readyz_logs_nothing_when_ready(client, caplog):
    client.get("/readyz")  # the first call reads the migration scripts (once per process)
    caplog.clear()
    with caplog.at_level("DEBUG"):
        assert client.get("/readyz").status_code == 200
    assert [r.name for r in caplog.records if not r.name.startswith("campusid.access")] == []


def test_readyz_names_a_schema_behind_the_code(client, db):
    db.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    db.commit()
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["migrations"]
    assert body["checks"]["database"] == "ok"
    assert "0001" in body["checks"]["migrations"]


def test_readyz_names_an_unreachable_database_and_no_secret(app, services):
    from campusid.db import make_engine, make_session_factory

    services.session_factory = make_session_factory(
        make_engine("postgresql+psycopg://campusid:s3cret-pw@127.0.0.1:1/nothing?connect_timeout=2")
    )
    response = TestClient(app).get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]
    assert "s3cret" not in response.text and "127.0.0.1" not in response.text


def test_readyz_names_an_unreachable_redis(app, services):
    import redis

    services.settings.redis_url = "redis://127.0.0.1:1/0"
    services.redis = redis.Redis.from_url(services.settings.redis_url, socket_connect_timeout=1)
    response = TestClient(app).get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["redis"]


def test_metrics_only_from_loopback_or_with_the_token(app, client, services):
    assert client.get("/metrics").status_code == 404  # from "testclient", not loopback
    local = _local(app)
    assert local.get("/metrics").status_code == 200
    forwarded = local.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert forwarded.status_code == 404
    services.settings.metrics_token = "t0ken-for-scrapers"
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    scraped = client.get("/metrics", headers={"Authorization": "Bearer t0ken-for-scrapers"})
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")


def test_sign_ins_resets_and_latency_are_counted_by_route_template(app, client, world):
    ok_before = _sample("campusid_sign_ins_total", route="/login", outcome="success")
    bad_before = _sample("campusid_sign_ins_total", route="/login", outcome="failure")
    resets_before = _sample("campusid_password_resets_total", route="teacher")

    post_form(client, "/login", {"login": "lixiaoyao", "password": "wrong-Password1"})
    sign_in(client, "chenxiaokai", DEMO_PASSWORD)
    student = world["lixiaoyao"]
    reset = post_form(
        client,
        f"/classes/{world.class51.id}/manage/students/reset",
        {"student_ids": [student.id]},
    )
    assert reset.status_code in {200, 303}, reset.text

    assert _sample("campusid_sign_ins_total", route="/login", outcome="success") == ok_before + 1
    assert _sample("campusid_sign_ins_total", route="/login", outcome="failure") == bad_before + 1
    assert _sample("campusid_password_resets_total", route="teacher") == resets_before + 1

    page = _local(app).get("/metrics").text
    assert 'route="/classes/{class_id}/manage/students/reset"' in page
    # No id, phone number or raw path in any label.
    labels = " ".join(re.findall(r"\{[^}]*\}", page))
    assert f"/classes/{world.class51.id}/" not in labels
    assert student.phone is None or student.phone not in page
    assert "campusid_queue_depth" in page or "campusid_queue_depth" not in page  # hook optional


def test_a_registered_queue_depth_is_reported(app):
    from campusid import metrics

    metrics.register_queue("sms", lambda: 7)
    try:
        page = _local(app).get("/metrics").text
    finally:
        metrics._queue_hooks.pop("sms", None)
    assert 'campusid_queue_depth{queue="sms"} 7.0' in page

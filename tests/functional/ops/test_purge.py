"""`campusid db purge` (issue 20): what expired goes, what is live stays; on the injected clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.audit.models import AuditEvent
from campusid.config import Settings
from campusid.ops.purge import PurgeTimer, purge, purge_now
from campusid.recovery.models import RecoveryFlow
from campusid.security import onetime
from campusid.security.captcha import CaptchaChallenge
from campusid.security.models import SessionRecord
from campusid.security.onetime import OneTimeCode


def _count(db, model) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).select_from(model))


def _arrange(db, services, world, now):  # type: ignore[no-untyped-def]
    """One old and one fresh row of each kind, made at the clock's times."""
    user = world["lixiaoyao"]
    for at in (now - timedelta(days=40), now):
        services.sessions.create(
            db, user_id=user.id, now=at, client_address="127.0.0.1", user_agent="t"
        )
        db.add(
            OneTimeCode(
                purpose="test",
                target_digest=f"t{at.timestamp()}",
                code_digest="x",
                created_at=at,
                expires_at=at + timedelta(minutes=10),
                attempts=0,
            )
        )
        db.add(
            RecoveryFlow(
                token_digest=f"flow{at.timestamp()}",
                created_at=at,
                expires_at=at + timedelta(minutes=30),
            )
        )
        db.add(
            CaptchaChallenge(
                token_digest=f"cap{at.timestamp()}",
                form="login",
                captcha_expires_at=at + timedelta(minutes=5),
            )
        )
    for age in (timedelta(days=4 * 365), timedelta(days=200), timedelta(days=1)):
        audit.record(db, now=now - age, action=AuditAction.SIGN_OUT, actor_id=user.id)
    db.commit()


def test_purge_deletes_the_expired_and_keeps_the_live(db, services, world, clock):
    now = clock.now()
    before_audit = _count(db, AuditEvent)
    _arrange(db, services, world, now)

    counts = purge_now(services)

    assert counts["sessions"] >= 1
    assert counts["one_time_codes"] == 1
    assert counts["recovery_flows"] == 1
    assert counts["captcha_challenges"] == 1
    assert counts["audit_events"] == 1  # only the row older than three years
    db.expire_all()
    assert _count(db, OneTimeCode) == 1
    assert _count(db, RecoveryFlow) == 1
    assert _count(db, CaptchaChallenge) == 1
    fresh = db.scalars(select(SessionRecord.created_at)).all()
    assert fresh and all(at >= now - timedelta(hours=12) for at in fresh)
    assert _count(db, AuditEvent) == before_audit + 2

    # Idempotent: a second run at the same time deletes nothing.
    assert set(purge_now(services).values()) == {0}


def test_a_live_code_survives_and_an_expired_one_goes_after_the_grace(db, services, clock):
    issued = onetime.issue(
        db, secret_key="k", now=clock.now(), purpose="signup", target="13800000009"
    )
    assert issued.code
    db.commit()
    clock.advance(minutes=11)  # expired, but within the day's grace
    assert purge_now(services)["one_time_codes"] == 0
    clock.advance(hours=24)
    assert purge_now(services)["one_time_codes"] == 1


def test_the_audit_retention_follows_the_setting(db, services, world, clock):
    now = clock.now()
    audit.record(
        db,
        now=now - timedelta(days=200),
        action=AuditAction.SIGN_OUT,
        actor_id=world["p_zhoujia"].id,
    )
    db.commit()
    services.settings.retention_audit_days = 190
    assert purge(db, services.settings, now)["audit_events"] >= 1


def test_retention_of_logs_is_never_shorter_than_six_months():
    with pytest.raises(ValueError, match="183"):
        Settings(retention_audit_days=30)
    assert Settings().retention_audit_days == 3 * 365


def test_the_timer_is_off_at_zero_and_stops(services):
    services.settings.purge_interval_minutes = 0
    timer = PurgeTimer(services)
    timer.start()
    assert timer.thread is None
    services.settings.purge_interval_minutes = 60
    timer = PurgeTimer(services)
    timer.start()
    assert timer.thread is not None and timer.thread.is_alive()
    timer.stop()
    assert not timer.thread.is_alive()


def test_the_command_prints_counts(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from campusid import migrate
    from campusid.cli import app
    from campusid.config import get_settings

    url = f"sqlite:///{tmp_path / 'purge.db'}"
    migrate.upgrade(url)
    monkeypatch.setenv("CAMPUSID_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["db", "purge"])
        checked = CliRunner().invoke(app, ["db", "check"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "audit_events" in result.output and "one_time_codes" in result.output
    assert checked.exit_code == 0, checked.output
    assert "数据库检查通过" in checked.output


def test_db_check_names_a_schema_behind_and_a_missing_table(tmp_path):
    from sqlalchemy import text

    from campusid import migrate
    from campusid.db import make_engine
    from campusid.ops.check import check, compare_counts

    url = f"sqlite:///{tmp_path / 'check.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        report = check(engine)
        assert report.ok, report.problems
        assert report.counts["users"] == 0
        compare_counts(report, {"users": 3})
        assert report.problems == ["users: 0 rows, expected 3"]

        with engine.begin() as conn:
            conn.execute(text("DROP TABLE servicedesk_days"))
        report = check(engine)
        assert any("servicedesk_days" in p for p in report.problems)

        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        report = check(engine)
        assert report.problems and report.problems[0].startswith("migrations:")
    finally:
        engine.dispose()


def test_outbox_messages_go_sent_after_their_retention_dead_later_pending_never(
    db, services, clock
):
    from campusid.senders import OutboxMessage

    now = clock.now()
    services.settings.retention_outbox_sent_days = 30
    services.settings.retention_outbox_dead_days = 180
    rows = {
        # (status, written, sent): whether it should stay
        "sent_old": ("sent", now - timedelta(days=40), now - timedelta(days=31)),
        "sent_lately": ("sent", now - timedelta(days=200), now - timedelta(days=29)),
        "dead_old": ("dead", now - timedelta(days=181), None),
        "dead_young": ("dead", now - timedelta(days=40), None),
        "pending_old": ("pending", now - timedelta(days=400), None),
    }
    for key, (status, written, sent) in rows.items():
        db.add(
            OutboxMessage(
                channel="sms",
                recipient="13800000000",
                template="test",
                body=key,
                created_at=written,
                status=status,
                sent_at=sent,
                idempotency_key=key,
            )
        )
    db.commit()

    assert purge_now(services)["outbox_messages"] == 2
    db.expire_all()
    assert set(db.scalars(select(OutboxMessage.body))) == {
        "sent_lately",
        "dead_young",
        "pending_old",
    }
    assert purge_now(services)["outbox_messages"] == 0

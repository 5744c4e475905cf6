"""Issue 18, finding 9: emails unreadable at rest; no code or password left in the outbox;
/dev/outbox only in development; no child's name in a log line."""

from __future__ import annotations

import importlib.util
import logging
from datetime import timedelta
from pathlib import Path

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import select, text
from tests.support.classes import new_password_of
from tests.support.http import post_form, sign_in
from tests.support.recovery import last_code, request_code, verify

import campusid
from campusid.accounts.models import User
from campusid.config import Settings
from campusid.context import build_services
from campusid.messaging import service as messaging
from campusid.security.crypto import cipher
from campusid.senders import OutboxMessage, OutboxSmsSender

EMAIL = "chen.xiaokai@example.com"


def _dump(db, table: str) -> str:
    return " ".join(str(v) for row in db.execute(text(f"SELECT * FROM {table}")).all() for v in row)


def test_an_email_is_encrypted_at_rest_and_still_found(client, db, world, services):
    teacher = world["chenxiaokai"]
    teacher.email = EMAIL
    db.commit()
    dump = _dump(db, "users")
    assert EMAIL not in dump and "chen.xiaokai" not in dump
    db.expire_all()
    assert db.scalar(select(User).where(User.email == EMAIL)).id == teacher.id
    # Recovery by email, typed in another case, still finds the account.
    request_code(client, db, services, way="email", email="Chen.XiaoKai@Example.com")
    assert verify(client, last_code(db, EMAIL), way="email").status_code == 303


def test_the_migration_encrypts_the_emails_already_stored(connection, db, world):
    path = Path(campusid.__file__).parent / "migrations" / "versions"
    [file] = path.glob("0019_*.py")
    spec = importlib.util.spec_from_file_location("migration_0019", file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    user_id = world["chenxiaokai"].id
    db.commit()
    connection.execute(
        text("UPDATE users SET email = :email WHERE id = :id"),
        {"email": " Chen.XiaoKai@Example.com", "id": user_id},
    )
    connection.execute(
        text(
            "INSERT INTO outbox_messages (channel, recipient, template, body, created_at) "
            "VALUES ('sms', '13800000001', 'recovery_code', :body, :at)"
        ),
        {"body": "【之江汇】您正在找回密码,验证码为123456,10分钟内有效", "at": "2026-01-01"},
    )
    with Operations.context(MigrationContext.configure(connection)):
        module._convert_emails(encrypt=True)
        module._mask_outbox()
    stored = connection.execute(
        text("SELECT email FROM users WHERE id = :id"), {"id": user_id}
    ).scalar_one()
    assert stored.startswith("v1:")
    assert cipher().decrypt(stored, "users.email") == "chen.xiaokai@example.com"
    assert "123456" not in _dump(db, "outbox_messages")


def _teacher_resets(client, world, student) -> str:
    sign_in(client, "chenxiaokai")
    base = f"/m/classes/{world.class51.id}/students/{student.id}"
    return new_password_of(post_form(client, f"{base}/reset").text)


def test_a_code_is_readable_in_development_only_until_its_time_is_up(db, world, services, clock):
    request_phone = "13800000001"
    services.sms.send(db, request_phone, "recovery_code", {"code": "654321"})
    db.flush()
    [row] = db.scalars(select(OutboxMessage)).all()
    assert "654321" in row.body
    assert "654321" not in (row.masked_body or "")
    clock.set(clock.now() + timedelta(minutes=services.settings.outbox_secret_minutes))
    messaging.outbox(db, now=clock.now())
    db.expire_all()
    assert "654321" not in _dump(db, "outbox_messages")
    assert "******" in db.scalars(select(OutboxMessage.body)).one()


def test_outside_development_the_outbox_never_keeps_a_code_or_password(db, world, clock):
    sender = OutboxSmsSender(clock, keep_secrets=False)
    sender.send(db, "13800000001", "recovery_code", {"code": "654321"})
    sender.send(db, "13800000001", "temporary_password", {"password": "Tmp#Pass2027"})
    db.flush()
    dump = _dump(db, "outbox_messages")
    assert "654321" not in dump and "Tmp#Pass2027" not in dump
    assert dump.count("******") == 2


def test_a_demo_keeps_no_secrets_in_the_outbox(engine, clock, hasher):
    settings = Settings(
        environment="demo", database_url="sqlite://", secret_key="test-key", log_json=False
    )
    built = build_services(settings, clock=clock, engine=engine, hasher=hasher)
    assert isinstance(built.sms, OutboxSmsSender)
    assert built.sms.keep_secrets is False
    assert built.mail.keep_secrets is False  # type: ignore[attr-defined]


def test_the_outbox_page_is_only_there_in_development(client, settings, world):
    assert client.get("/dev/outbox").status_code == 200
    settings.environment = "demo"
    assert client.get("/dev/outbox").status_code == 404


def test_no_childs_name_in_a_log_line(make_client, db, world, caplog):
    student = world["lixiaoyao"]  # 李大娘, her mother, has a bound phone: she gets an SMS
    with caplog.at_level(logging.DEBUG):
        password = _teacher_resets(make_client(), world, student)
    sms = [r.getMessage() for r in caplog.records if r.name == "campusid.messaging"]
    assert any("child_password_reset" in line for line in sms)
    for record in caplog.records:
        line = record.getMessage()
        assert "李逍遥" not in line and "逍遥" not in line
        assert password not in line

"""Driving the 找回密码 page as a browser does: solving the captcha, reading the codes sent."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from campusid.context import Services
from campusid.recovery import captcha
from campusid.recovery.models import RecoveryFlow
from campusid.recovery.service import FLOW_COOKIE
from campusid.security.sessions import hash_token
from campusid.senders import OutboxMessage
from tests.support.http import post_form

CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
NEW_PASSWORD = "Xin#Mima2027"


def flow_of(client: TestClient, db: Session) -> RecoveryFlow | None:
    """The browser's flow, as stored."""
    token = client.cookies.get(FLOW_COOKIE)
    if token is None:
        return None
    db.expire_all()
    return db.scalar(select(RecoveryFlow).where(RecoveryFlow.token_digest == hash_token(token)))


def solve_captcha(client: TestClient, db: Session, services: Services) -> str:
    """Load a captcha image (as the page does) and read its answer through the test hook."""
    response = client.get("/recovery/captcha")
    assert response.status_code == 200
    flow = flow_of(client, db)
    assert flow is not None
    answer = captcha.answer_for_tests(flow, secret_key=services.settings.secret_key)
    assert answer is not None
    return str(answer)


def request_code(
    client: TestClient, db: Session, services: Services, way: str = "phone", **fields: Any
) -> Response:
    """获取, with a freshly solved captcha."""
    data = {"way": way, "captcha": solve_captcha(client, db, services), **fields}
    return post_form(client, "/recovery/code", data)


def messages_to(db: Session, recipient: str) -> list[OutboxMessage]:
    """The outbox messages sent to a phone or address, oldest first."""
    db.expire_all()
    return list(
        db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.recipient == recipient)
            .order_by(OutboxMessage.id)
        )
    )


def last_code(db: Session, recipient: str) -> str:
    """The code in the last message to the recipient."""
    sent = messages_to(db, recipient)
    assert sent, f"nothing was sent to {recipient}"
    match = CODE.search(sent[-1].body)
    assert match is not None
    return match.group(1)


def verify(client: TestClient, code: str, way: str = "phone") -> Response:
    """下一步 with the code."""
    return post_form(client, "/recovery/verify", {"way": way, "code": code})


def set_new_password(client: TestClient, password: str = NEW_PASSWORD) -> Response:
    """设置新密码, twice."""
    return post_form(
        client,
        "/recovery/password",
        {"new_password": password, "confirm_password": password},
    )


def normalised(text: str) -> str:
    """A page with its random parts (tokens, image addresses) blanked, to compare answers."""
    text = re.sub(r"[A-Za-z0-9_-]{43}", "<token>", text)
    return re.sub(r"captcha\?n=[0-9a-f]+", "captcha?n=<n>", text)

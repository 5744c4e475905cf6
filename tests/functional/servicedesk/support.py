"""Driving the agent's console over HTTP."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.support.http import post_form

from campusid.senders import OutboxMessage


def open_ticket(client: TestClient, user_id: int, relation: str = "parent") -> int:
    """Open the account as the agent does from the search results; the ticket id."""
    response = post_form(
        client, "/servicedesk/tickets", {"user_id": str(user_id), "relation": relation}
    )
    assert response.status_code == 303, response.text[:500]
    return int(response.headers["location"].rsplit("/", 1)[1])


def check(
    client: TestClient, ticket_id: int, fact: str, answer: str, class_name: str = ""
) -> Response:
    """Type the caller's answer to one fact."""
    return post_form(
        client,
        f"/servicedesk/tickets/{ticket_id}/check",
        {"fact": fact, "answer": answer, "class_name": class_name},
    )


def reset(client: TestClient, ticket_id: int) -> Response:
    """Press 重置密码."""
    return post_form(client, f"/servicedesk/tickets/{ticket_id}/reset")


def last_sms(db: Session, phone: str, template: str) -> str:
    """The body of the newest outbox SMS to the phone with this template."""
    db.expire_all()
    body = db.scalar(
        select(OutboxMessage.body)
        .where(OutboxMessage.recipient == phone, OutboxMessage.template == template)
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    assert body is not None, f"no {template} SMS to {phone}"
    return body


def code_in(body: str) -> str:
    """The 6-digit code of an SMS."""
    match = re.search(r"\d{6}", body)
    assert match
    return match.group(0)

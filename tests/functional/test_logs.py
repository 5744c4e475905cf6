"""Logs are JSON lines with a request id, and hold no secret."""

from __future__ import annotations

import json
import logging

from campusid.logs import JsonFormatter, request_id_var
from tests.support.http import post_form, sign_in
from tests.support.secrets import CAPTURE


def test_every_response_carries_a_request_id_and_is_logged(client, world):
    response = client.get("/login", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    line = json.loads(CAPTURE.lines[-1])
    assert line["logger"] == "campusid.access"
    assert line["request_id"] == "abc-123"
    assert line["path"] == "/login"
    assert line["status"] == 200


def test_hostile_request_ids_are_replaced(client):
    response = client.get("/login", headers={"X-Request-ID": "bad id\nwith newline"})
    assert response.headers["x-request-id"] != "bad id\nwith newline"
    assert len(response.headers["x-request-id"]) == 32


def test_query_strings_are_not_logged(client, world):
    client.get("/login?next=/notices&secret=hunter22")
    assert "hunter22" not in CAPTURE.lines[-1]


def test_sign_in_flows_log_no_secret(client, world):
    post_form(client, "/login", {"login": "chenxiaokai", "password": "Wrong#Pass1"})
    sign_in(client, "chenxiaokai")
    token = client.cookies.get("campusid_session")
    text = "\n".join(CAPTURE.lines[-10:])
    assert "Wrong#Pass1" not in text
    assert token not in text


def test_formatter_writes_one_json_object():
    token = request_id_var.set("r1")
    try:
        record = logging.LogRecord("x", logging.INFO, "", 0, "hello %s", ("world",), None)
        data = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert data["message"] == "hello world"
    assert data["request_id"] == "r1"

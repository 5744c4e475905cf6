"""A real SMS gateway on loopback (issue 20): an HTTP server that answers like a provider's API,
or fails the way one fails.

It speaks what `campusid.senders.HttpSmsGateway` sends (a JSON POST with an `Idempotency-Key`
header) and keeps every request it saw. Like a real provider it drops a message whose key it has
accepted before (answering 200), so `accepted` holds each message once and `duplicates` counts
the repeats. Its `mode` says how it answers the next requests:

- `ok`: accept, answer 200;
- `error`: answer 500, accept nothing;
- `hang`: accept nothing and answer nothing until `release()` (or `hang_seconds`): the client
  times out;
- `lose_answer`: accept the message, then close the connection without answering (the answer is
  lost: the sender must offer it again with the same key);
- `hold`: accept, then keep the answer back until `release()` (a sender killed meanwhile never
  learns it was accepted).

`hold_on_request = n` holds only the n-th request (counting every request seen) as `hold` does.
`stop()` takes it down (connections refused); `start()` brings it back on the same port.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.net import free_port


@dataclass
class Received:
    """One request as the gateway saw it."""

    key: str
    phone: str
    template: str
    text: str
    params: dict[str, str] = field(repr=False)


class SmsGateway:
    """The gateway's state and its server (see the module's text)."""

    def __init__(self, port: int | None = None, *, hang_seconds: float = 30) -> None:
        self.port = port or free_port()
        self.mode = "ok"
        self.hold_on_request: int | None = None
        self.hang_seconds = hang_seconds
        self.requests: list[Received] = []
        self.accepted: list[Received] = []
        self.duplicates = 0
        self.lock = threading.Lock()
        self.held = threading.Event()  # set when a request is being held (hang, hold)
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where the app POSTs."""
        return f"http://127.0.0.1:{self.port}/sms"

    def start(self) -> None:
        """Listen (again) on the port."""
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                gateway._handle(self)

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self._release.clear()
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Go down: the port refuses connections."""
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def release(self) -> None:
        """Let held requests go on."""
        self._release.set()

    def delivered(self, phone: str | None = None) -> list[Received]:
        """The messages accepted (each once), to one phone if given."""
        with self.lock:
            return [r for r in self.accepted if phone is None or r.phone == phone]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length) or b"{}")
        received = Received(
            key=handler.headers.get("Idempotency-Key") or "",
            phone=body.get("phone", ""),
            template=body.get("template", ""),
            text=body.get("text", ""),
            params=body.get("params", {}),
        )
        mode = self.mode
        with self.lock:
            self.requests.append(received)
            if self.hold_on_request == len(self.requests):
                mode = "hold"
        if mode == "error":
            self._answer(handler, 500, {"error": "internal"})
            return
        if mode == "hang":
            self.held.set()
            self._release.wait(self.hang_seconds)
            self._drop(handler)
            return
        with self.lock:
            if received.key and any(r.key == received.key for r in self.accepted):
                self.duplicates += 1
            else:
                self.accepted.append(received)
        if mode == "lose_answer":
            self._drop(handler)
            return
        if mode == "hold":
            self.held.set()
            self._release.wait(self.hang_seconds)
        self._answer(handler, 200, {"ok": True, "message_id": received.key})

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass  # the client gave up (timed out or was killed)

    @staticmethod
    def _drop(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        with suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)


@contextmanager
def sms_gateway(**options: Any) -> Iterator[SmsGateway]:
    """Run a gateway on 127.0.0.1 for the duration."""
    gateway = SmsGateway(**options)
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.stop()

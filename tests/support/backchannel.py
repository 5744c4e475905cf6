"""A relying party's back-channel logout endpoint: a real HTTP server on loopback that keeps
the logout tokens POSTed to it (issue 21)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class Receiver:
    """What the endpoint received; `status` is what it answers (200, or a failure to retry)."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.content_types: list[str] = []
        self.statuses: list[int] = []  # answered, one per request
        self.fail_first = 0
        self.fail_status = 503  # what a failing request is answered (400: a refusal)
        self.port = 0

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/backchannel"


@contextmanager
def backchannel_endpoint() -> Iterator[Receiver]:
    """Serve POST /backchannel on 127.0.0.1 (a free port) for the test's duration."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length).decode()
            receiver.content_types.append(self.headers.get("content-type", ""))
            status = 200
            if receiver.fail_first > 0:
                receiver.fail_first -= 1
                status = receiver.fail_status
            else:
                receiver.tokens.extend(parse_qs(body).get("logout_token", []))
            receiver.statuses.append(status)
            self.send_response(status)
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

"""The base of the app's middleware: plain ASGI, acting on HTTP requests only.

Starlette's `BaseHTTPMiddleware` (`@app.middleware("http")`) runs the rest of each request in a
task of its own, which cost a simple page a third of its time (docs/performance.md); these
wrap the ASGI call directly.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class HttpMiddleware:
    """Passes lifespan and websocket scopes through; `handle` sees every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The middleware's work on one HTTP request (it calls `self.app` to go on)."""
        await self.app(scope, receive, send)

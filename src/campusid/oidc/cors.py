"""CORS for browser applications (issue 21): the origins of registered public clients, on the
endpoints such an application calls, and nowhere else.

A public client (a single-page app, the 应用接入 form's "public" type) runs in the browser at
the origin of its redirect URIs; it must read discovery and the JWKS, redeem its code and
refresh at the token endpoint, call userinfo and revoke. Starlette's CORSMiddleware does the
protocol (preflight, Vary, the allowed methods and headers); this wrapper only decides, per
request and from the database, which origin it allows, and limits it to those paths. Every
other route never carries an Access-Control-Allow-Origin header.

A token request from a browser origin that is not allowed is refused here, before the grant
runs: the browser would not let the page read the answer anyway, and the code would be spent.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from campusid.context import Services
from campusid.oidc import service as oidc

CORS_PATHS = frozenset(
    {
        "/.well-known/openid-configuration",
        "/oauth/jwks",
        "/oauth/token",
        "/oauth/userinfo",
        "/oauth/revoke",
    }
)
PREFLIGHT_MAX_AGE = 600


class ClientOriginsCORS:
    """ASGI middleware: CORS on `CORS_PATHS` for the origins `allowed` says yes to."""

    def __init__(self, app: ASGIApp, allowed: Callable[[str], bool]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in CORS_PATHS:
            await self.app(scope, receive, send)
            return
        origin = Headers(scope=scope).get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = await run_in_threadpool(self.allowed, origin)
        if not allowed and scope["method"] == "POST" and scope["path"] == "/oauth/token":
            refusal = JSONResponse(
                {
                    "error": "invalid_request",
                    "error_description": "This origin is not registered for any public client.",
                },
                status_code=403,
            )
            await refusal(scope, receive, send)
            return
        cors = CORSMiddleware(
            self.app,
            allow_origins=[origin] if allowed else [],
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=PREFLIGHT_MAX_AGE,
        )
        await cors(scope, receive, send)


def origin_checker(services: Services) -> Callable[[str], bool]:
    """Whether an origin is that of an enabled public client's redirect URI (a fresh read)."""

    def allowed(origin: str) -> bool:
        with services.session_factory() as db:
            return origin in oidc.public_client_origins(db)

    return allowed

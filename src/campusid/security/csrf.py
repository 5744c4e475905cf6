"""CSRF protection for every unsafe request: a random cookie echoed in a form field or header.

The cookie is HttpOnly and SameSite=Lax; the page carries the token in a hidden field and in
htmx's request headers. A request whose token does not match the cookie is refused with 403.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request

COOKIE_NAME = "campusid_csrf"
FIELD_NAME = "csrf_token"
HEADER_NAME = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# OpenID Connect endpoints that other applications call server to server (or, for logout, by
# a cross-site form the spec allows). They carry no cookie-based authority: the token and
# revocation endpoints authenticate the client, userinfo a bearer token, and logout without a
# valid id_token_hint asks the person to confirm on a CSRF-protected page; introspection
# (issue 21) authenticates the client like the token endpoint. Exact paths only.
EXEMPT_PATHS = frozenset(
    {"/oauth/token", "/oauth/revoke", "/oauth/userinfo", "/oauth/logout", "/oauth/introspect"}
)


class CSRFError(Exception):
    """The request's CSRF token is missing or wrong."""


def token_for(request: Request) -> str:
    """The token of this browser, made on first use and set as a cookie by the middleware."""
    token = getattr(request.state, "csrf_token", None)
    if token is None:
        token = request.cookies.get(COOKIE_NAME) or secrets.token_urlsafe(32)
        request.state.csrf_token = token
    return str(token)


async def verify_csrf(request: Request) -> None:
    """App-wide dependency: refuse an unsafe request without the right token."""
    if request.method in SAFE_METHODS or request.url.path in EXEMPT_PATHS:
        return
    cookie = request.cookies.get(COOKIE_NAME)
    sent = request.headers.get(HEADER_NAME)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(FIELD_NAME)
            sent = value if isinstance(value, str) else None
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        raise CSRFError

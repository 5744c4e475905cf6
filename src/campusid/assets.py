"""Static files, compressed and cacheable (issue 20).

Templates name a static file through one helper, `static_url('app.css')`, which gives
`/static/app.css?v=<hash of its content>`. A request carrying the current hash is answered with
`Cache-Control: public, max-age=31536000, immutable` (a new release changes the hash, so the
browser fetches the new file); a request without it (or with an old hash) may be cached for five
minutes only. The mount is wrapped in Starlette's GZipMiddleware: text files leave compressed
to a browser that accepts gzip. Only static files are compressed: pages carry the CSRF token,
and compressing secrets next to reflected input invites BREACH.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import files

from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"


@cache
def content_hash(name: str) -> str:
    """The first 12 hex digits of the file's SHA-256 (read once per process)."""
    data = (files("campusid") / "static" / name).read_bytes()
    return hashlib.sha256(data).hexdigest()[:12]


@cache
def _names() -> frozenset[str]:
    names: set[str] = set()
    folders = [(files("campusid") / "static", "")]
    while folders:  # vendor/ holds third-party files (issue 24: jsQR)
        folder, prefix = folders.pop()
        for entry in folder.iterdir():
            if entry.is_file():
                names.add(prefix + entry.name)
            elif entry.is_dir():
                folders.append((entry, f"{prefix}{entry.name}/"))
    return frozenset(names)


def static_url(name: str) -> str:
    """The URL of a static file, with its content hash as the version."""
    return f"/static/{name}?v={content_hash(name)}"


class CachingStatic:
    """ASGI app: the package's static files, with Cache-Control by version, gzip-compressed."""

    def __init__(self) -> None:
        self.files = StaticFiles(packages=[("campusid", "static")])
        self.app: ASGIApp = GZipMiddleware(self._with_cache_headers, minimum_size=500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    async def _with_cache_headers(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = self.files.get_path(scope).replace("\\", "/")
        version = _query_value(scope.get("query_string", b""), b"v")
        # Only the package's own files are hashed (never a name a client made up).
        current = content_hash(name) if version and name in _names() else ""
        policy = IMMUTABLE if version and version == current else SHORT

        async def send_with_cache(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in {200, 304}:
                MutableHeaders(scope=message)["Cache-Control"] = policy
            await send(message)

        await self.files(scope, receive, send_with_cache)


def _query_value(query: bytes, key: bytes) -> str:
    for part in query.split(b"&"):
        name, _, value = part.partition(b"=")
        if name == key:
            return value.decode("ascii", "replace")
    return ""

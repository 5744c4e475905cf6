"""/healthz, /readyz and /metrics: JSON and Prometheus text for operators, no secrets."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from campusid import metrics
from campusid.ops import health
from campusid.web import get_services

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> JSONResponse:
    """The process is alive and answering (checks nothing else)."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the database answers, its schema is at head, Redis answers if used.

    503 names the failing checks; no URL, host or password is ever in the answer.
    """
    checks = health.readiness(get_services(request))
    ready = all(check.ok for check in checks)
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": {c.name: ("ok" if c.ok else f"failed: {c.detail}") for c in checks},
        "failing": [c.name for c in checks if not c.ok],
    }
    return JSONResponse(body, status_code=200 if ready else 503)


def _from_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def metrics_allowed(request: Request) -> bool:
    """Loopback clients, or anyone with the configured bearer token."""
    token = get_services(request).settings.metrics_token
    given = request.headers.get("authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    # Behind a proxy every request comes from loopback: a forwarded request is not local.
    return _from_loopback(request) and "x-forwarded-for" not in request.headers


@router.get("/metrics")
def prometheus_metrics(request: Request) -> Response:
    """The Prometheus metrics (see campusid.metrics); 404 to anyone not allowed."""
    if not metrics_allowed(request):
        return JSONResponse({"error": "not found"}, status_code=404)
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)

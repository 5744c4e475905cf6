"""Prometheus metrics (prometheus-client): what an operator watches, without a person in a label.

Labels are small fixed sets: the route *template* of a request (`/classes/{class_id}`, never the
path with its ids or a phone number), an outcome, a reset route. Counters of business events
(sign-ins, throttle steps, password resets) are counted when the transaction that records them
in the audit trail commits, so a rolled-back reset is not counted (`count_on_commit`).

With several worker processes (`campusid serve --workers N`) prometheus-client's multi-process
mode is used: `serving` sets PROMETHEUS_MULTIPROC_DIR before the workers start, each worker
writes its samples to files there, and `/metrics` in any worker adds them all up.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from sqlalchemy import event
from sqlalchemy.orm import Session
from starlette.types import Receive, Scope, Send

from campusid.asgi import HttpMiddleware

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "<unmatched>"

SIGN_INS = Counter(
    "campusid_sign_ins_total",
    "Sign-in attempts by route template and outcome (success, failure, refused).",
    ["route", "outcome"],
)
THROTTLE = Counter(
    "campusid_sign_in_throttle_total",
    "Sign-ins stopped by the throttle: captcha step-ups, waits, the per-account hard limit.",
    ["step"],
)
RESETS = Counter(
    "campusid_password_resets_total",
    "Passwords reset, by route (teacher, parent, recovery, hotline, school_admin).",
    ["route"],
)
LATENCY = Histogram(
    "campusid_request_duration_seconds",
    "Request latency by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
QUEUE_DEPTH = Gauge(
    "campusid_queue_depth",
    "Messages waiting to be delivered, by queue (filled by the registered queue hooks).",
    ["queue"],
    multiprocess_mode="livemostrecent",
)

# The route template of the request being handled (set by RequestMetrics), for the counters.
_current_scope: ContextVar[Scope | None] = ContextVar("metrics_scope", default=None)

# Queue hooks: name -> a function answering the queue's depth; called when /metrics is read.
_queue_hooks: dict[str, Callable[[], int]] = {}

_PENDING = "campusid_metrics_pending"


def route_template(scope: Scope | None) -> str:
    """The matched route's path template, or a fixed word: never the raw path."""
    if scope is None:
        return UNMATCHED
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


def current_route() -> str:
    """The route template of the request in progress (or `<unmatched>` outside one)."""
    return route_template(_current_scope.get())


def count_on_commit(session: Session, increment: Callable[[], None]) -> None:
    """Run `increment` when the session's transaction commits; forget it on a rollback."""
    session.info.setdefault(_PENDING, []).append(increment)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    for increment in session.info.pop(_PENDING, []):
        increment()


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous: Any) -> None:
    if not session.in_transaction():
        session.info.pop(_PENDING, None)


def register_queue(name: str, depth: Callable[[], int]) -> None:
    """A queue whose depth /metrics reports (the outbox registers its SMS and mail queues)."""
    _queue_hooks[name] = depth


def _fill_queue_gauges() -> None:
    for name, depth in list(_queue_hooks.items()):
        try:
            QUEUE_DEPTH.labels(queue=name).set(depth())
        except Exception:  # noqa: S112 - a failing hook must not break the scrape
            continue


def exposition() -> tuple[bytes, str]:
    """The metrics in the text format, summed over every worker in multi-process mode."""
    _fill_queue_gauges()
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """Drop a dead worker's live gauges (the supervisor calls it when one exits)."""
    if os.environ.get(MULTIPROC_ENV):
        prometheus_multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class RequestMetrics(HttpMiddleware):
    """Middleware: each request's latency by method and route template."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request; label it by the route the router matched."""
        token = _current_scope.set(scope)
        started = time.perf_counter()

        try:
            await self.app(scope, receive, send)
        finally:
            _current_scope.reset(token)
            LATENCY.labels(method=scope["method"], route=route_template(scope)).observe(
                time.perf_counter() - started
            )


# -- what the audit trail feeds (audit.service.record calls `audit_event`) -----------------------
_RESET_ROUTES = {
    "teacher": "teacher",
    "parent": "parent",
    "self-service": "recovery",
    "agent": "hotline",
    "admin": "school_admin",
}
_THROTTLE_STEPS = {"captcha": "captcha", "wait": "wait"}


def audit_event(
    session: Session, *, action: str, outcome: str, route: str | None, detail: Any
) -> None:
    """Count a sign-in, a throttle step or a reset the audit trail records, once it commits."""
    why = detail.get("reason") if isinstance(detail, dict) else None
    if action == "sign_in":
        web_route = current_route()
        label = {"success": "success", "failure": "failure"}.get(outcome, "refused")
        count_on_commit(session, lambda: SIGN_INS.labels(route=web_route, outcome=label).inc())
        step = _THROTTLE_STEPS.get(str(why)) if outcome == "denied" else None
        if outcome == "failure" and why == "locked":
            step = "account_limit"
        if step is not None:
            count_on_commit(session, lambda: THROTTLE.labels(step=step).inc())
    elif action in {"password_reset", "servicedesk_reset"} and outcome == "success":
        reset_route = _RESET_ROUTES.get(route or "")
        if reset_route is not None:
            count_on_commit(session, lambda: RESETS.labels(route=reset_route).inc())

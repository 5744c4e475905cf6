"""create_app(): routers, middleware, error pages."""

from __future__ import annotations

import gc
import importlib
import logging
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import redis.exceptions
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from limits.errors import StorageError
from sqlalchemy import exc as sa
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import campusid
from campusid import domains, logs, metrics, outbox
from campusid.accounts.models import User
from campusid.asgi import HttpMiddleware
from campusid.assets import CachingStatic
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.config import Settings, get_settings
from campusid.context import Services, build_services
from campusid.db import transaction
from campusid.i18n import N_
from campusid.oidc.cors import ClientOriginsCORS, origin_checker
from campusid.security import authz, csrf, inputs
from campusid.web import (
    CONTENT_SECURITY_POLICY,
    LoginRequired,
    NotFound,
    PasswordChangeRequired,
    PasswordSessionRequired,
    Refused,
    RerunAsWriter,
    SecondFactorEnrolmentRequired,
    StepUpRequired,
    client_info,
    cookie_secure,
    keep_refused,
    login_url,
    redirect,
    render,
)

log = logging.getLogger("campusid")


def _routers() -> list[Any]:
    """Every domain's `views.router` (and `api.router`), found by walking the package."""
    routers = []
    for info in sorted(pkgutil.iter_modules(campusid.__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        for leaf in ("views", "api"):
            name = f"campusid.{info.name}.{leaf}"
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name == name:
                    continue
                raise
            router = getattr(module, "router", None)
            if router is not None:
                routers.append(router)
    return routers


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error(request: Request, status: int, code: str, message: str) -> Response:
    """A structured error for the API, a Chinese page for people."""
    if _is_api(request):
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)


def _refusal_target(denied: authz.Denied, viewer_id: int | None) -> int | None:
    """Whose account a refusal row names: the account the act aimed at; for a plain refused
    request (a page, a school's console) the refused person's own, so their school sees the
    attempt; a refused act on several accounts names none (its school and count say it)."""
    if denied.target_user_id is not None:
        return denied.target_user_id
    return viewer_id if denied.action == authz.ACCESS_DENIED else None


def _audit_denial(request: Request, denied: authz.Denied) -> None:
    """Record a refusal once, in its own transaction (the request's own is rolled back).

    The row carries the refused act's own audit action where the rule named one (a refused
    reset is a refused `password_reset`), else `access_denied`, with whose account and which
    school it concerned, so the school sees attempts on its pupils.
    """
    services: Services = request.app.state.services
    viewer = getattr(request.state, "viewer", None)
    principal = getattr(request.state, "principal", None)
    main_role = principal.main_role if principal is not None else None
    target = _refusal_target(denied, viewer.id if viewer else None)
    try:
        with transaction(services.session_factory) as db:
            if target is not None and db.get(User, target) is None:
                target = None  # an id made up in the URL: the row keeps the path, names nobody
            audit.record(
                db,
                now=services.clock.now(),
                action=AuditAction(denied.action),
                outcome=audit.Outcome.DENIED,
                actor_id=viewer.id if viewer else None,
                actor_role=main_role.value if main_role else None,
                target_user_id=target,
                school_id=denied.school_id,
                route=audit.Route(denied.route) if denied.route else None,
                client=client_info(request),
                detail={
                    "method": request.method,
                    "path": request.url.path,
                    "reason": denied.reason,
                    **denied.detail,
                },
            )
    except Exception:  # an audit failure must not turn a refusal into a crash
        log.exception("could not audit a refused request")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        if _is_api(request):
            return _error(request, 401, "login_required", N_("请先登录"))
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect(login_url(target), 303)

    @app.exception_handler(PasswordChangeRequired)
    async def _must_change(request: Request, _exc: PasswordChangeRequired) -> Response:
        if _is_api(request):
            return _error(request, 403, "password_change_required", N_("请先修改密码"))
        return redirect("/password/change-required", 303)

    @app.exception_handler(SecondFactorEnrolmentRequired)
    async def _must_enrol(request: Request, _exc: SecondFactorEnrolmentRequired) -> Response:
        if _is_api(request):
            return _error(request, 403, "second_factor_required", N_("请先设置两步验证"))
        return redirect("/account/two-step/setup", 303)

    @app.exception_handler(StepUpRequired)
    async def _step_up(request: Request, exc: StepUpRequired) -> Response:
        if _is_api(request):
            return _error(request, 403, "step_up_required", N_("此操作需要再次验证身份"))
        if request.method in {"GET", "HEAD"}:
            return redirect(exc.target, 303)
        return render(
            request,
            "accounts/step_up_refused.html",
            {"target": exc.target, "enrol": exc.enrol},
            status_code=403,
        )

    @app.exception_handler(PasswordSessionRequired)
    async def _password_session(request: Request, exc: PasswordSessionRequired) -> Response:
        # issue 24: a badge session changes no credential; the password sign-in comes first.
        if _is_api(request):
            return _error(request, 403, "password_required", N_("此操作需要先用密码登录"))
        target = "/login?prompt=login&next=" + quote(exc.back, safe="/")
        if request.method in {"GET", "HEAD"}:
            return redirect(target, 303)
        return render(
            request, "accounts/password_session_required.html", {"target": target}, status_code=403
        )

    @app.exception_handler(authz.Denied)
    async def _denied(request: Request, exc: authz.Denied) -> Response:
        _audit_denial(request, exc)
        return _error(request, 403, "forbidden", exc.message)

    @app.exception_handler(Refused)
    def _refused(request: Request, exc: Refused) -> Response:
        # The request's transaction is already rolled back: nothing it wrote stays but what the
        # refusal itself keeps (its audit event), written now in a transaction of its own.
        keep_refused(request, exc)
        draw = getattr(request.state, "refusal_page", None)
        if draw is not None:
            try:
                response: Response = draw(exc.messages)
            finally:
                request.state.refusal_page = None
            return response
        if _is_api(request):
            return JSONResponse(
                {"error": {"code": "refused", "message": "; ".join(exc.messages)}},
                status_code=400,
            )
        return render(
            request,
            "error.html",
            {"status": 400, "message": exc.messages[0], "messages": exc.messages[1:]},
            status_code=400,
        )

    @app.exception_handler(csrf.CSRFError)
    async def _csrf(request: Request, _exc: csrf.CSRFError) -> Response:
        return _error(request, 403, "csrf", N_("页面已过期或来源不明，请刷新页面后重试"))

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, _exc: NotFound) -> Response:
        return _error(request, 404, "not_found", N_("页面不存在，或您无权查看"))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = sorted({".".join(str(p) for p in e.get("loc", ())[1:]) for e in exc.errors()})
        if _is_api(request):
            return JSONResponse(
                {
                    "error": {
                        "code": "invalid_input",
                        "message": N_("提交的内容不完整或格式不正确"),
                        "fields": fields,
                    }
                },
                status_code=422,
            )
        return render(
            request,
            "error.html",
            {
                "status": 400,
                "message": N_("提交的内容不完整或格式不正确，请返回检查后重试"),
            },
            status_code=400,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {404: N_("页面不存在"), 405: N_("不支持此操作"), 413: N_("上传的文件过大")}
        return _error(
            request, exc.status_code, "http_error", messages.get(exc.status_code, str(exc.detail))
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(request, 500, "internal_error", N_("系统繁忙，请稍后再试"))


def _freeze_startup_objects() -> None:
    """Move what the process holds once started (modules, routes, mappers, templates,
    catalogs: hundreds of thousands of long-lived objects) out of the cyclic collector's reach
    (`gc.freeze`): every full collection walked them all, 50-150 ms pauses that made a page's
    p99 several times its median (docs/performance.md). Objects created later are collected
    as usual. Once per process: in the server, and in a benchmark or test that enters the app."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


def _outbox_lifespan(services: Services) -> Any:
    """issue 20: the in-process dispatcher thread, while the app runs (`inline` and `thread`
    dispatch, when any channel has a transport: a gateway, an SMTP host, or the back-channel
    logout of issue 21; unless CAMPUSID_OUTBOX_THREAD=false)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        _freeze_startup_objects()
        thread = None
        settings = services.settings
        if (
            settings.outbox_dispatch != "worker"
            and settings.outbox_thread
            and services.has_transports()
        ):
            thread = outbox.DispatcherThread(
                services.deliver_outbox, services.settings.outbox_poll_seconds
            )
            services.outbox_thread = thread
            thread.start()
        try:
            yield
        finally:
            if thread is not None:
                thread.stop()
                services.outbox_thread = None

    return lifespan


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """The campusid web application."""
    settings = settings or get_settings()
    services = services or build_services(settings)
    if settings.log_json:
        logs.configure_logging(settings.log_level)
    app = FastAPI(
        title="campusid",
        version="0.1.0",
        dependencies=[Depends(csrf.verify_csrf), Depends(inputs.refuse_nul)],
        docs_url="/api/docs" if settings.is_development else None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=_outbox_lifespan(services),
    )
    # What the domains add to every request and page (the base imports none of them).
    domains.install()
    app.state.services = services
    # issue 20: hashed URLs with long max-age, gzip (campusid.assets)
    app.mount("/static", CachingStatic(), name="static")
    for router in _routers():
        app.include_router(router)
    _install_error_handlers(app)
    # Innermost of the middleware: a re-run repeats only the routing, not the logging or headers.
    app.add_middleware(RerunAsWriter)
    # issue 20: the database or Redis out of reach answers a clean 503, outside the re-run.
    app.add_middleware(Unavailable)
    # issue 21: CORS for registered public clients' origins on the OpenID endpoints only.
    app.add_middleware(ClientOriginsCORS, allowed=origin_checker(services))

    # Outermost last: request ids and the access log, then the headers of every answer, then
    # the body-size limit (plain ASGI middleware: see logs.RequestContext).
    app.add_middleware(BodyLimit, settings=settings)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(logs.RequestContext)
    # issue 20: latency by route template for /metrics (outermost: it times everything).
    app.add_middleware(metrics.RequestMetrics)
    return app


class BodyLimit(HttpMiddleware):
    """Refuse oversized bodies before anything parses them (the CSRF check reads forms)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        super().__init__(app)
        self.settings = settings

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 413 to a declared length over the limit; else go on."""
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.settings.max_request_bytes:
            refusal = _error(Request(scope), 413, "too_large", N_("上传的文件过大"))
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


class SecurityHeaders(HttpMiddleware):
    """The headers every answer carries, and the CSRF cookie when the request made a token."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers to the answer as it starts."""

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._add(scope, MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    def _add(scope: Scope, headers: MutableHeaders) -> None:
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        if not scope["path"].startswith("/static/"):
            headers.setdefault("Cache-Control", "no-store")
        token = scope.get("state", {}).get("csrf_token")
        if not token:
            return
        request = Request(scope)
        if request.cookies.get(csrf.COOKIE_NAME) != token:
            cookie = Response()  # builds the Set-Cookie header line
            cookie.set_cookie(
                csrf.COOKIE_NAME,
                token,
                httponly=True,
                samesite="lax",
                path="/",
                secure=cookie_secure(request),
            )
            headers.append("set-cookie", cookie.headers["set-cookie"])


def serve_app() -> FastAPI:
    """The application as `campusid serve` runs it in each worker process (its lifespan
    freezes the startup objects out of the collector's reach: `_freeze_startup_objects`)."""
    application = create_app()
    # issue 20: the retention purge on a timer in every serving process (idempotent deletes).
    from campusid.ops.purge import PurgeTimer

    PurgeTimer(application.state.services).start()
    return application


# issue 20 (fault tests): a part the app depends on out of reach.
UNAVAILABLE_MESSAGE = N_("服务暂时不可用，请稍后再试")
UNAVAILABLE_RETRY_AFTER = "5"


def is_unavailable(error: BaseException) -> bool:
    """Whether the error says the database or Redis is out of reach, not that the code is wrong.

    A connection the database dropped (restarted, failed over, killed), a database that refuses
    new connections, a pool with no connection free in time, a Redis that is down or silent.
    SQLite's "database is locked" is an OperationalError too: RerunAsWriter, inside this
    middleware, has already retried a GET that met it, so what arrives here is also "try again".
    """
    if isinstance(error, sa.DBAPIError):
        return error.connection_invalidated or isinstance(
            error, sa.OperationalError | sa.InterfaceError
        )
    return isinstance(
        error,
        sa.TimeoutError
        | redis.exceptions.ConnectionError
        | redis.exceptions.TimeoutError
        | StorageError,
    )


class Unavailable(HttpMiddleware):
    """A request that met a database or Redis out of reach: 503 with a plain page, no trace.

    Nothing of the request stays: its transaction was rolled back (or never began) when the
    error left the handler. The pool drops the broken connections (and checks each one before
    use: `pool_pre_ping`), so once the database is back the same process serves again.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request; answer 503 if a part it needs was out of reach before it answered."""
        answered = False

        async def watch(message: Message) -> None:
            nonlocal answered
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as error:
            if answered or not is_unavailable(error):
                raise
            log.warning(
                "service unavailable on %s %s: %s",
                scope["method"],
                scope["path"],
                type(error).__name__,
            )
            response = _error(Request(scope), 503, "unavailable", UNAVAILABLE_MESSAGE)
            response.headers["Retry-After"] = UNAVAILABLE_RETRY_AFTER
            await response(scope, receive, send)

"""What every page handler shares: templates, dependencies, and the errors they raise."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import iter_route_contexts
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from pydantic import Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from starlette.types import Message, Receive, Scope, Send

from campusid import i18n, metrics, nav, outbox
from campusid.asgi import HttpMiddleware
from campusid.assets import static_url
from campusid.clock import SHANGHAI
from campusid.context import Services
from campusid.db import begin_reading, is_write_conflict, transaction
from campusid.i18n import COOKIE_NAME as LANG_COOKIE
from campusid.i18n import LANGUAGES, pick_language
from campusid.identifiers import mask_email, mask_id_card, mask_phone
from campusid.security import authz, csrf
from campusid.security.permissions import Permission, Principal, principal_for
from campusid.security.sessions import COOKIE_NAME as SESSION_COOKIE
from campusid.types import MAX_ID, ClientInfo

if TYPE_CHECKING:
    # The type only: the signed-in person is an accounts User, loaded by the loader accounts
    # registers (register_user_loader); the base does not import a domain.
    from campusid.accounts.models import User
else:
    User = object  # what the dependency aliases below name at run time (FastAPI ignores it)

log = logging.getLogger(__name__)

# The policy every answer carries (a page may widen form-action, as the OIDC consent does).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Viewer:
    """Who is looking at the page, as the page frame shows it."""

    id: int
    real_name: str
    must_change_password: bool
    # What the domains count for the page frame, once per request (see register_viewer_count);
    # messaging: unread notices for the 消息 badge (`viewer.counts.unread_notices`).
    counts: Mapping[str, int] = field(default_factory=dict)


# -- what the domains add to every page ------------------------------------------------------
# The base knows no domain: a domain registers what the page frame shows of it, and
# campusid.domains.install() registers them all, in a fixed order, when the app is built.

UserLoader = Callable[[Session, int], "User | None"]
ViewerCount = Callable[[Session, int], int]
PageContext = Callable[[Request], Any]
_user_loader: list[UserLoader] = []
_viewer_counts: dict[str, ViewerCount] = {}
_page_context: dict[str, PageContext] = {}


def register_user_loader(loader: UserLoader) -> None:
    """How a session's user id becomes the signed-in person (accounts registers it)."""
    _user_loader[:] = [loader]


def register_viewer_count(name: str, count: ViewerCount) -> None:
    """A number shown beside the signed-in person, counted once per request (`viewer.counts`)."""
    _viewer_counts[name] = count


def register_page_context(name: str, provider: PageContext) -> None:
    """A value every page's template sees under `name` (servicedesk: `hotline`)."""
    _page_context[name] = provider


# An object's id in a URL or a form: a positive database integer, else a 400 before any query.
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
FormId = Annotated[int, Form(ge=1, le=MAX_ID)]
FormIds = Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None, Form()]


class LoginRequired(Exception):  # noqa: N818 - flow control, not an error
    """The page needs a signed-in person."""


class PasswordChangeRequired(Exception):  # noqa: N818
    """The person must change their password before anything else."""


class SecondFactorEnrolmentRequired(Exception):  # noqa: N818
    """The person's role requires a second factor: nothing but its enrolment until there is one."""


class StepUpRequired(Exception):  # noqa: N818
    """A sensitive act needs a recent second-factor check (`require_step_up`)."""

    def __init__(self, back: str, *, enrol: bool = False) -> None:
        super().__init__(back)
        self.back = back
        self.enrol = enrol  # no factor to check yet: the person must enrol one first

    @property
    def target(self) -> str:
        """Where the person checks (or first enrols) a factor, then comes back to `back`."""
        page = "/account/two-step/setup" if self.enrol else "/account/verify"
        return page + "?next=" + quote(self.back, safe="/")


class PasswordSessionRequired(Exception):  # noqa: N818
    """Issue 24: a credential change from a session a badge opened needs the password first
    (`require_password_session`)."""

    def __init__(self, back: str) -> None:
        super().__init__(back)
        self.back = back


class Refused(Exception):  # noqa: N818 - a refusal with its reasons, not a crash
    """A domain refused the request's input; `messages` say why (translatable, in Chinese).

    Raised by a service (`org.building.Invalid`, `members.batch.MemberError`); the app's handler
    rolls the request back and draws the page's refusal: `request.state.refusal_page` when the
    page set one (the school console does), else a plain 400 page with the reasons.

    `keep` holds rows that outlive the refusal (the audit event of a refused attempt): the
    handler writes them in a transaction of their own once the request's is rolled back, so the
    refusal is recorded and nothing else the request wrote stays.
    """

    def __init__(self, messages: list[str] | str, *, keep: Sequence[object] = ()) -> None:
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        self.keep: list[object] = list(keep)
        super().__init__("; ".join(self.messages))


def keep_refused(request: Request, refused: Refused) -> None:
    """Write the rows a refusal keeps (`Refused.keep`) in a transaction of their own, once the
    request's was rolled back; an audit event among them counts for /metrics like any other."""
    if not refused.keep:
        return
    services: Services = request.app.state.services
    try:
        with transaction(services.session_factory) as db:
            db.add_all(refused.keep)
            for row in refused.keep:
                action = getattr(row, "action", None)
                if isinstance(action, str):  # an audit event (audit.service.event)
                    metrics.audit_event(
                        db,
                        action=action,
                        outcome=getattr(row, "outcome", ""),
                        route=getattr(row, "route", None),
                        detail=getattr(row, "detail", None),
                    )
    except Exception:  # an audit failure must not turn a refusal into a crash
        log.exception("could not keep the record of a refused request")


class NotFound(Exception):  # noqa: N818
    """Nothing here (or nothing this person may know of)."""


def _format_time(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return str(value.astimezone(SHANGHAI).strftime(fmt))


_current_csrf_token: ContextVar[str] = ContextVar("current_csrf_token", default="")


@cache
def environment(language: str) -> Environment:
    """The Jinja2 environment of a language, with autoescaping and the masking filters."""
    env = Environment(
        loader=PackageLoader("campusid", "templates"),
        autoescape=select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        # The templates ship inside the package and change only with a release (a restart):
        # no stat() of every template and macro file on every page (issue 25).
        auto_reload=False,
    )
    env.filters.update(
        mask_phone=mask_phone,
        mask_id_card=mask_id_card,
        mask_email=mask_email,
        localtime=_format_time,
    )
    i18n.install(env, language)
    env.globals["language"] = language
    # A function, not a context variable, so macros imported without context can use it.
    env.globals["current_csrf_token"] = _current_csrf_token.get
    # issue 20: every static file through one helper (content-hashed URL, cached for a year)
    env.globals["static"] = static_url
    env.globals["icon"] = icon
    return env


def icon(name: str, css_class: str = "icon") -> Markup:
    """An icon of the Lucide sprite (issue 23), drawn in the text's colour, hidden from screen
    readers (the link or button beside it carries the words)."""
    return Markup(
        '<svg class="{}" aria-hidden="true" focusable="false" fill="none" stroke="currentColor" '
        'stroke-width="2" stroke-linecap="round" stroke-linejoin="round">'
        '<use href="{}#{}"></use></svg>'
    ).format(css_class, static_url("vendor/lucide/icons.svg"), name)


def get_services(request: Request) -> Services:
    """The app's services."""
    return request.app.state.services


async def _services(request: Request) -> Services:
    # The dependencies that only read the request are `async`: FastAPI runs a plain `def`
    # dependency on a worker thread, a thread hop (and a turn for the interpreter lock) each.
    return get_services(request)


Svc = Annotated[Services, Depends(_services)]


# Set on a request's scope when it is run again as a writer (see RerunAsWriter).
AS_WRITER = "campusid.as_writer"
_READING_METHODS = frozenset({"GET", "HEAD"})


def get_db(request: Request) -> Iterator[Session]:
    """One session and one transaction per request: committed if the handler succeeds.

    A GET reads (`begin_reading`: on SQLite it does not take the write lock, so page views run
    side by side); should it write after all and lose a race for it, `RerunAsWriter` runs the
    request again as a writer.
    """
    services = get_services(request)
    session = services.session_factory()
    # For work done after the commit (issue 21: back-channel logout notices).
    session.info["services"] = services
    session.info["base_url"] = str(request.base_url)
    if request.method in _READING_METHODS and not request.scope.get(AS_WRITER):
        begin_reading(session)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        outbox.forget_keys(session)
        raise
    finally:
        session.close()
    # issue 20: what the transaction wrote to the outbox is delivered now that it committed.
    services.after_commit(session)


class RerunAsWriter(HttpMiddleware):
    """ASGI middleware: a GET whose reading transaction lost a write to another connection runs
    again, once, as a writer.

    A GET that writes is rare (a session's last-seen time once a minute, a first visit's
    records) and on SQLite a deferred transaction cannot take the write lock once another
    connection has written since it began reading: SQLite refuses at once. The handler has not
    answered yet (the transaction commits before the response), and a GET is safe to repeat, so
    the request runs again from the start in a transaction that takes the write lock first.
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request; once more as a writer if its reading transaction lost a write."""
        if scope["method"] not in _READING_METHODS:
            await self.app(scope, receive, send)
            return
        answered = False

        async def watch(message: Message) -> None:
            nonlocal answered
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        state = scope.setdefault("state", {})
        before = dict(state)
        try:
            await self.app(scope, receive, watch)
        except DBAPIError as error:
            if answered or not is_write_conflict(error):
                raise
            log.info("GET %s wrote after another connection; run again as a writer", scope["path"])
            # The same state the outer middleware reads, as it was before the first run (the
            # signed-in person loaded by the failed transaction must not be reused).
            state.clear()
            state.update(before)
            scope[AS_WRITER] = True
            await self.app(scope, receive, send)


# scope="function": the transaction commits before the response leaves, so the page the
# browser is redirected to always sees what this request wrote.
DbSession = Annotated[Session, Depends(get_db, scope="function")]


def client_info(request: Request) -> ClientInfo:
    """The client's address and browser, for audit events."""
    return ClientInfo(
        address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


async def _client(request: Request) -> ClientInfo:
    return client_info(request)


Client = Annotated[ClientInfo, Depends(_client)]


def optional_user(request: Request, db: DbSession) -> User | None:
    """The signed-in person, if any (loaded once per request)."""
    if hasattr(request.state, "user"):
        return request.state.user
    user = None
    token = request.cookies.get(SESSION_COOKIE)
    services = get_services(request)
    info = None
    if token:
        info = services.sessions.load(db, token, services.clock.now())
        if info is not None:
            user = _user_loader[0](db, info.user_id) if _user_loader else None
    request.state.user = user
    # issue 19: how this session was opened (amr, last second-factor check, enrolment due).
    request.state.session_info = info if user is not None else None
    # A plain copy for the page frame, readable even after the transaction has ended.
    request.state.viewer = (
        Viewer(
            user.id,
            user.real_name,
            user.must_change_password,
            {name: count(db, user.id) for name, count in _viewer_counts.items()},
        )
        if user
        else None
    )
    return user


OptionalUser = Annotated[User | None, Depends(optional_user)]


async def user_even_if_must_change(user: OptionalUser) -> User:
    """The signed-in person, even one who must still change their password."""
    if user is None:
        raise LoginRequired
    return user


PendingUser = Annotated[User, Depends(user_even_if_must_change)]


async def enrolling_user(request: Request, user: PendingUser) -> User:
    """The signed-in person, even one who must still enrol a second factor (its own pages).

    A pupil signed in by a badge (issue 24) is not sent to the forced password change: the badge
    did not use the password, and changing it needs a password sign-in anyway."""
    if user.must_change_password and not is_badge_session(request):
        raise PasswordChangeRequired
    return user


EnrollingUser = Annotated[User, Depends(enrolling_user)]


def check_enrolled(request: Request) -> None:
    """Issue 19: a session whose role requires a second factor it has not enrolled reaches no
    page but the enrolment (every signed-in page passes here, through `current_user`)."""
    info = getattr(request.state, "session_info", None)
    if info is not None and info.factor_enrolment == "required":
        raise SecondFactorEnrolmentRequired


async def current_user(request: Request, user: EnrollingUser) -> User:
    """The signed-in person, with no forced password change and no second-factor enrolment
    pending (issue 19: a role that requires a factor reaches no page before it has one)."""
    check_enrolled(request)
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def current_principal(request: Request, db: DbSession, user: CurrentUser) -> Principal:
    """The signed-in person with their roles."""
    if not hasattr(request.state, "principal"):
        request.state.principal = principal_for(db, user)
    return request.state.principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(permission: Permission) -> Any:
    """A dependency refusing anyone whose roles do not grant the permission."""

    async def check(principal: CurrentPrincipal) -> Principal:
        authz.check_permission(principal, permission)
        return principal

    return Depends(check)


def session_token(request: Request) -> str | None:
    """The raw session id of this browser (to keep it when ending the others)."""
    return request.cookies.get(SESSION_COOKIE)


def language_of(request: Request) -> str:
    """The page language for this request: an application's `ui_locales` (issue 21, on the
    authorization, login and consent pages), else the cookie, else the browser's."""
    asked = i18n.from_ui_locales(request.query_params.get("ui_locales"))
    if asked is not None:
        return asked
    return pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a page in the request's language, with the CSRF token and the signed-in person."""
    language = language_of(request)
    services = get_services(request)
    ctx: dict[str, Any] = {
        "request": request,
        "csrf_token": csrf.token_for(request),
        "user": getattr(request.state, "user", None),
        "viewer": getattr(request.state, "viewer", None),
        "principal": getattr(request.state, "principal", None),
        "language": language,
        "languages": LANGUAGES,
        "settings": services.settings,
        "is_htmx": request.headers.get("hx-request") == "true",
    }
    # issue 23: one list of entries (campusid.nav), drawn as the desktop's top navigation, the
    # phone's tab bar and the personal space's 常用功能.
    items = nav.items_for(getattr(request.state, "principal", None), _paths(request.app))
    ctx |= {
        "nav_items": items,
        "nav_desktop": nav.desktop_items(items),
        "nav_phone": nav.phone_items(items),
        "nav_tiles": nav.tile_items(items),
        "nav_current": nav.current(items, request.url.path),
    }
    ctx.update({name: provide(request) for name, provide in _page_context.items()})
    ctx.update(context or {})
    token = _current_csrf_token.set(ctx["csrf_token"])
    try:
        html = environment(language).get_template(name).render(ctx)
    finally:
        _current_csrf_token.reset(token)
    return HTMLResponse(html, status_code=status_code)


def _paths(app: Any) -> set[str]:
    cached = getattr(app.state, "route_paths", None)
    if cached is None:
        # FastAPI keeps included routers as lazy entries; walk through them.
        cached = {context.path or "" for context in iter_route_contexts(app.routes)}
        app.state.route_paths = cached
    return cached


def route_paths(app: Any) -> set[str]:
    """Every path the app serves (a link is shown once its page exists)."""
    return _paths(app)


def redirect(url: str, status_code: int = 303) -> RedirectResponse:
    """A redirect; after a POST, 303 so the browser follows with a GET."""
    return RedirectResponse(url, status_code=status_code)


def login_url(next_path: str) -> str:
    """The login page, coming back to `next_path` afterwards."""
    return "/login?next=" + quote(next_path, safe="/")


def safe_next(value: str | None) -> str:
    """A local path to go to after sign-in; anything else (another site) becomes the home."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def cookie_secure(request: Request) -> bool:
    """Whether cookies get the Secure flag: by setting, else when the request came over HTTPS."""
    configured = get_services(request).settings.cookie_secure
    return bool(configured) if configured is not None else request.url.scheme == "https"


# The word a session's amr carries when a remembered browser skipped the second step (issue 19,
# accounts.factors.AMR_REMEMBERED).
REMEMBERED_AMR = "remembered"


def require_step_up(request: Request, *, back: str | None = None) -> None:
    """Step-up (issue 19): refuse a sensitive act unless this session checked a second factor
    within `CAMPUSID_MFA_STEP_UP_MINUTES`.

    A person who holds a factor is sent to 「请再次验证」 (a GET comes back to itself; a POST is
    refused with a link, its form to be sent again). A person whose role requires a factor and
    who is still in the grace period must enrol one first. A person whose role only offers one
    and who has none is not asked (there is nothing to check).
    """
    info = getattr(request.state, "session_info", None)
    if info is None:
        raise LoginRequired
    if back is None:
        back = _back_to(request)
    if info.second_factor_at is None:
        if info.factor_enrolment is not None:
            raise StepUpRequired(safe_next(back), enrol=True)
        if REMEMBERED_AMR in info.amr.split():
            # A remembered browser skipped the second step: the person holds a factor, and
            # none was checked in this session.
            raise StepUpRequired(safe_next(back))
        return
    window = get_services(request).settings.mfa_step_up_minutes
    age = get_services(request).clock.now() - info.second_factor_at
    if age.total_seconds() > window * 60:
        raise StepUpRequired(safe_next(back))


# issue 24: the amr of a session a badge (扫码登录卡) opened (badges.service.AMR_BADGE).
AMR_BADGE = "qr"


def is_badge_session(request: Request) -> bool:
    """Whether this request's session was opened by a badge, not a password."""
    info = getattr(request.state, "session_info", None)
    return info is not None and AMR_BADGE in (info.amr or "").split()


def require_password_session(request: Request, *, back: str | None = None) -> None:
    """Issue 24: refuse a credential change (password, phone, email, a passkey) in a session a
    badge opened; the person signs in with the password first (a GET is sent to the login page
    and comes back; a POST is refused with the link, nothing done). The one check every
    credential-changing route makes."""
    if is_badge_session(request):
        raise PasswordSessionRequired(safe_next(back if back is not None else _back_to(request)))


def _back_to(request: Request) -> str:
    """Where the check comes back to: the page itself for a GET; for a form, the page it was
    sent from (this site's own, by the Referer), else the home page."""
    if request.method in _READING_METHODS:
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.url.netloc:
        return "/"
    return (referer.path or "/") + (f"?{referer.query}" if referer.query else "")

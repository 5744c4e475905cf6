"""统一认证 for other applications: the OpenID Connect endpoints and the client registry."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import (
    AccountSelectionRequiredError,
    ConsentRequiredError,
    InteractionRequiredError,
    LoginRequiredError,
    RequestNotSupportedError,
    RequestURINotSupportedError,
)
from authlib.oidc.rpinitiated import EndSessionRequest
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, Response

from campusid.accounts import factors
from campusid.accounts import service as accounts
from campusid.accounts.models import User
from campusid.accounts.views import signed_out_page
from campusid.audit import service as audit
from campusid.audit.actions import AuditAction
from campusid.i18n import N_
from campusid.oidc import keys
from campusid.oidc import logout as single_logout
from campusid.oidc import service as oidc
from campusid.oidc.models import OAuthClient
from campusid.oidc.server import (
    Context,
    Provider,
    StarletteOAuth2Request,
    issuer_of,
    read_request,
)
from campusid.org.schoolyear import calendar_for
from campusid.security import authz
from campusid.security.authz import FactorNeed
from campusid.security.permissions import Permission, Principal, Role, principal_for
from campusid.security.sessions import COOKIE_NAME as SESSION_COOKIE
from campusid.web import (
    CONTENT_SECURITY_POLICY,
    Client,
    CurrentPrincipal,
    CurrentUser,
    DbSession,
    Id,
    NotFound,
    OptionalUser,
    Svc,
    is_badge_session,
    login_url,
    redirect,
    render,
    require,
    require_step_up,
    session_token,
)

router = APIRouter()

OAuthRequest = Annotated[StarletteOAuth2Request, Depends(read_request)]
ClientAdmin = Annotated[Principal, require(Permission.PLATFORM_CLIENTS_MANAGE)]

# issue 21: how long applications may cache discovery and the JWKS. A rotated-in key signs at
# once, so the JWKS is cached briefly (an application also refetches on an unknown `kid`).
DISCOVERY_MAX_AGE = 3600
JWKS_MAX_AGE = 300

INVALID_REQUEST = N_("该应用的登录请求无效，请联系应用提供方。")


def _provider(request: Request, db: DbSession, services: Svc) -> Provider:
    return Provider(Context(db=db, services=services, issuer=issuer_of(request, services)))


ProviderDep = Annotated[Provider, Depends(_provider)]


# -- discovery and keys ----------------------------------------------------------------


@router.get("/.well-known/openid-configuration")
def discovery(request: Request, services: Svc) -> JSONResponse:
    """OpenID Provider metadata (OpenID Connect Discovery 1.0)."""
    issuer = issuer_of(request, services)
    return JSONResponse(
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/oauth/authorize",
            "token_endpoint": f"{issuer}/oauth/token",
            "userinfo_endpoint": f"{issuer}/oauth/userinfo",
            "jwks_uri": f"{issuer}/oauth/jwks",
            "revocation_endpoint": f"{issuer}/oauth/revoke",
            "end_session_endpoint": f"{issuer}/oauth/logout",
            "scopes_supported": list(oidc.SCOPES) + list(oidc.SERVICE_SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            # issue 21: RFC 7662, for confidential clients about their own tokens.
            "introspection_endpoint": f"{issuer}/oauth/introspect",
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
            "frontchannel_logout_supported": True,
            "frontchannel_logout_session_supported": True,
            "introspection_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": [keys.ALGORITHM],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": oidc.CLAIMS_SUPPORTED,
            "ui_locales_supported": ["zh-CN", "en"],
            # issue 19: `acr_values=urn:campusid:mfa` (or "mfa") demands a second factor.
            "acr_values_supported": oidc.ACR_VALUES,
            # issue 21: request objects are not supported, and say so.
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "claims_parameter_supported": False,
            "prompt_values_supported": ["none", "login", "consent", "select_account"],
        },
        headers={"Cache-Control": f"public, max-age={DISCOVERY_MAX_AGE}"},
    )


@router.get("/oauth/jwks")
def jwks(db: DbSession, services: Svc) -> JSONResponse:
    """The public signing keys, current and recently retired."""
    now = services.clock.now()
    if not keys.published_keys(db, now=now):
        keys.create_key(db, secret_key=keys.sealing_secret(services.settings), now=now)
    return JSONResponse(
        keys.jwks(db, now=now), headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE}"}
    )


# -- authorization ---------------------------------------------------------------------


def _content_security_policy(redirect_uri: str) -> str:
    """The app's policy, letting the consent form's redirect reach the client's origin."""
    parts = urlsplit(redirect_uri)
    origin = f"{parts.scheme}://{parts.netloc}"
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action 'self' {origin}")


def _refused(request: Request, provider: Provider, oreq: Any, error: OAuth2Error) -> Response:
    """Back to the client with the error when its redirect URI is trusted, else our own page."""
    if getattr(error, "redirect_uri", None):
        return provider.handle_error_response(oreq, error)
    return render(
        request,
        "oidc/error.html",
        {"message": INVALID_REQUEST, "code": error.error, "detail": error.description},
        status_code=400,
    )


def _issue_code(
    request: Request, provider: Provider, oreq: Any, grant: Any, user: User
) -> Response:
    services = provider.ctx.services
    token = session_token(request)
    info = services.sessions.load(provider.ctx.db, token, services.clock.now()) if token else None
    provider.ctx.auth_time = info.created_at if info else None
    provider.ctx.sid = (
        oidc.session_sid(info.id_hash, secret=keys.sealing_secret(services.settings))
        if info
        else None
    )
    # issue 19: what the session used (amr) and the class it meets (acr), for the ID token.
    amr = oidc.amr_of(info.amr, info.has_second_factor) if info else ["pwd"]
    provider.ctx.amr = amr
    provider.ctx.acr = oidc.acr_of(amr, oidc.wants_mfa(oreq.payload.data.get("acr_values")))
    return provider.create_authorization_response(oreq, grant_user=user, grant=grant)


class UnmetAuthenticationRequirementsError(OAuth2Error):  # type: ignore[misc]
    """OpenID Connect Unmet Authentication Requirements 1.0: the person cannot meet the asked
    context class (a pupil, whom the policy offers no second factor)."""

    error = "unmet_authentication_requirements"


def _demand_second_factor(
    request: Request, provider: Provider, oreq: Any, grant: Any, user: User, prompts: set[str]
) -> Response | None:
    """An application asked for a second factor (`acr_values`, oidc.service.ACR_MFA) that this
    session has not used: the person is stepped up (请再次验证, or the enrolment when they hold
    no factor yet) and comes back to the authorization; None when there is nothing to do."""
    info = getattr(request.state, "session_info", None)
    if is_badge_session(request) and oidc.wants_password(oreq.payload.data.get("acr_values")):
        # issue 24: a badge alone does not meet urn:campusid:pwd (or more): the password first.
        if "none" in prompts:
            interaction: OAuth2Error = InteractionRequiredError(redirect_uri=grant.redirect_uri)
            interaction.state = oreq.payload.state
            return _refused(request, provider, oreq, interaction)
        back = quote(f"/oauth/authorize/continue?{urlsplit(oreq.uri).query}", safe="/")
        return redirect(f"/login?prompt=login&next={back}")
    if not oidc.wants_mfa(oreq.payload.data.get("acr_values")):
        return None
    if info is not None and info.has_second_factor:
        return None
    db, services = provider.ctx.db, provider.ctx.services
    back = quote(f"/oauth/authorize/continue?{urlsplit(oreq.uri).query}", safe="/")
    if factors.has_factor(db, user.id):
        target = f"/account/verify?next={back}"
    elif factors.need_of(services, principal_for(db, user)) is not FactorNeed.NOT_OFFERED:
        target = f"/account/two-step/setup?next={back}"
    else:
        refusal: OAuth2Error = UnmetAuthenticationRequirementsError(redirect_uri=grant.redirect_uri)
        refusal.state = oreq.payload.state
        return _refused(request, provider, oreq, refusal)
    if "none" in prompts:
        refusal = InteractionRequiredError(redirect_uri=grant.redirect_uri)
        refusal.state = oreq.payload.state
        return _refused(request, provider, oreq, refusal)
    return redirect(target)


CONTINUE_PATH = "/oauth/authorize/continue"


def _to_client(
    oreq: Any, grant: Any, error: type[OAuth2Error], description: str | None = None
) -> Any:
    """An error the application receives at its (validated) redirect URI, with its state."""
    refusal = error(description=description, redirect_uri=grant.redirect_uri)
    refusal.state = oreq.payload.state
    return refusal


def _unsupported(oreq: Any, grant: Any) -> OAuth2Error | None:
    """Parameters this provider does not implement are refused, never silently ignored
    (issue 21): request objects, request URIs, and response modes other than `query`."""
    data = oreq.payload.data
    if "request" in data:
        return _to_client(oreq, grant, RequestNotSupportedError)
    if "request_uri" in data:
        return _to_client(oreq, grant, RequestURINotSupportedError)
    mode = data.get("response_mode")
    if mode is not None and mode != "query":
        return _to_client(
            oreq, grant, InvalidRequestError, "Only response_mode=query is supported."
        )
    max_age = data.get("max_age")
    if max_age is not None and (not max_age.isdigit() or len(max_age) > 9):
        return _to_client(oreq, grant, InvalidRequestError, "'max_age' must be a whole number.")
    return None


def _query_after_sign_in(oreq: Any) -> str:
    """The authorization request once the person has signed in afresh: `prompt=login` and
    `select_account` are met and `max_age` is satisfied (auth_time in the ID token is the new
    sign-in), so they are dropped and the request does not loop back to the login page."""
    pairs = []
    for key, value in parse_qsl(urlsplit(oreq.uri).query, keep_blank_values=True):
        if key == "max_age":
            continue
        if key == "prompt":
            value = " ".join(p for p in value.split() if p not in {"login", "select_account"})
            if not value:
                continue
        pairs.append((key, value))
    return urlencode(pairs)


def _sign_in_again(oreq: Any, prompt: str | None) -> Response:
    """The login page (with `prompt`, shown even to a signed-in person), then back here; in
    the languages the application asked for (`ui_locales`)."""
    target = login_url(f"{CONTINUE_PATH}?{_query_after_sign_in(oreq)}")
    if prompt:
        target += f"&prompt={prompt}"
    ui_locales = oreq.payload.data.get("ui_locales")
    if ui_locales:
        target += "&" + urlencode({"ui_locales": ui_locales[:64]})
    return redirect(target)


def _session_too_old(provider: Provider, oreq: Any, request: Request) -> bool:
    """Whether the session signed in longer ago than the application's `max_age` allows."""
    max_age = oreq.payload.data.get("max_age")
    info = getattr(request.state, "session_info", None)
    if max_age is None or info is None:
        return False
    return (provider.ctx.now - info.created_at).total_seconds() > int(max_age)


def _login_needed(provider: Provider, oreq: Any, request: Request, prompts: set[str]) -> str | None:
    """Why the signed-in person must go through the login page again, if they must: "login"
    (a fresh sign-in: `prompt=login`, or `max_age` exceeded) or "select_account"."""
    if "login" in prompts or _session_too_old(provider, oreq, request):
        return "login"
    if "select_account" in prompts:
        return "select_account"
    return None


def _interrupted(back: str, target: str) -> Response:
    """A page of ours that must come first (forced password change, second-factor
    enrolment), coming back to the authorization request afterwards (issue 21)."""
    return redirect(f"{target}?next=" + quote(back, safe="/"))


@router.get("/oauth/authorize")
def authorize(
    request: Request,
    db: DbSession,
    provider: ProviderDep,
    oreq: OAuthRequest,
    user: OptionalUser,
) -> Response:
    """The authorization endpoint: sign in on our login page, consent if third-party, code."""
    try:
        grant = provider.get_consent_grant(oreq, end_user=user)
    except OAuth2Error as error:
        return _refused(request, provider, oreq, error)
    unsupported = _unsupported(oreq, grant)
    if unsupported is not None:
        return _refused(request, provider, oreq, unsupported)
    prompts = set((oreq.payload.data.get("prompt") or "").split())
    if user is None:
        # Back through a page of ours: browsers apply the login form's CSP form-action to the
        # whole redirect chain after it, which would block the final hop to the application.
        return _sign_in_again(oreq, None)
    again = _login_needed(provider, oreq, request, prompts)
    if again is not None:
        if "none" in prompts:
            kind = LoginRequiredError if again == "login" else AccountSelectionRequiredError
            return _refused(request, provider, oreq, _to_client(oreq, grant, kind))
        return _sign_in_again(oreq, again)
    back = f"{CONTINUE_PATH}?{urlsplit(oreq.uri).query}"
    info = getattr(request.state, "session_info", None)
    if user.must_change_password or (info is not None and info.factor_enrolment == "required"):
        if "none" in prompts:
            return _refused(
                request, provider, oreq, _to_client(oreq, grant, InteractionRequiredError)
            )
        if user.must_change_password:
            return _interrupted(back, "/password/change-required")
        return _interrupted(back, "/account/two-step/setup")
    row: OAuthClient = grant.request.client
    scope: str = grant.request.scope
    stepped_up = _demand_second_factor(request, provider, oreq, grant, user, prompts)
    if stepped_up is not None:
        return stepped_up
    ask = not row.is_first_party and (
        "consent" in prompts
        or oidc.needs_consent(
            db,
            user=user,
            row=row,
            scope=scope,
            now=provider.ctx.now,
            consent_days=provider.ctx.services.settings.oidc_consent_days,
        )
    )
    if ask:
        if "none" in prompts:
            return _refused(request, provider, oreq, _to_client(oreq, grant, ConsentRequiredError))
        response = render(
            request,
            "oidc/consent.html",
            {
                "client_name": row.name,
                "scopes": oidc.scope_descriptions(scope),
                "query": request.url.query,
            },
        )
        response.headers["Content-Security-Policy"] = _content_security_policy(grant.redirect_uri)
        return response
    return _issue_code(request, provider, oreq, grant, user)


@router.get("/oauth/authorize/continue")
def authorize_continue(request: Request) -> Response:
    """After signing in: a fresh navigation (not a form's redirect) back to the authorization."""
    return render(
        request, "oidc/continue.html", {"target": f"/oauth/authorize?{request.url.query}"}
    )


@router.post("/oauth/authorize/consent")
def consent_submit(
    request: Request,
    db: DbSession,
    services: Svc,
    provider: ProviderDep,
    user: CurrentUser,
    client: Client,
    query: Annotated[str, Form(max_length=4096)] = "",
    decision: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """同意授权 or 拒绝: the request is validated again from what the page carried back."""
    oreq = StarletteOAuth2Request(
        method="GET",
        uri=f"{issuer_of(request, services)}/oauth/authorize?{query}",
        headers=request.headers,
        args=parse_qsl(query, keep_blank_values=True),
        form=[],
        enforce_https=services.settings.environment == "production",
    )
    try:
        grant = provider.get_consent_grant(oreq, end_user=user)
    except OAuth2Error as error:
        return _refused(request, provider, oreq, error)
    if decision != "allow":
        return provider.create_authorization_response(oreq, grant_user=None, grant=grant)
    stepped_up = _demand_second_factor(request, provider, oreq, grant, user, set())
    if stepped_up is not None:
        return stepped_up
    oidc.grant_consent(
        db,
        user=user,
        row=grant.request.client,
        scope=grant.request.scope,
        now=services.clock.now(),
        client=client,
    )
    return _issue_code(request, provider, oreq, grant, user)


# -- token, userinfo, revocation (called by applications, not pages) -------------------


@router.post("/oauth/token")
def token(provider: ProviderDep, oreq: OAuthRequest) -> Response:
    """The token endpoint: code or refresh token in, tokens out (client authentication)."""
    return provider.create_token_response(oreq)


# One route per method, so each has its own operation id in the OpenAPI schema.
@router.get("/oauth/userinfo", operation_id="userinfo_get")
@router.post("/oauth/userinfo", operation_id="userinfo_post")
def userinfo(provider: ProviderDep, oreq: OAuthRequest) -> Response:
    """The claims of the bearer token's scopes."""
    return provider.create_endpoint_response("userinfo", oreq)


@router.get("/oauth/picture")
def picture(provider: ProviderDep, oreq: OAuthRequest) -> Response:
    """The `picture` claim's image (issue 21): the person's avatar, to the holder of an access
    token with the `profile` scope (never public: most accounts are minors')."""
    ctx = provider.ctx
    header = oreq.headers.get("Authorization") or ""
    scheme, _, value = header.partition(" ")
    token = (
        oidc.find_access_token(ctx.db, access_token=value.strip(), now=ctx.now)
        if scheme.lower() == "bearer" and value
        else None
    )
    user = oidc.active_user(ctx.db, token.user_id) if token is not None else None
    if token is None or user is None or "profile" not in token.scope.split():
        return JSONResponse(
            {"error": "invalid_token"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="campusid", error="invalid_token"'},
        )
    if not user.avatar:
        return JSONResponse({"error": "not_found"}, status_code=404)
    return Response(user.avatar, media_type="image/jpeg", headers={"Cache-Control": "private"})


@router.post("/oauth/introspect")
def introspect(provider: ProviderDep, oreq: OAuthRequest) -> Response:
    """Token introspection (RFC 7662, issue 21): is this token of mine live, and what may it do."""
    return provider.create_endpoint_response("introspection", oreq)


@router.post("/oauth/revoke")
def revoke(provider: ProviderDep, oreq: OAuthRequest) -> Response:
    """Token revocation (RFC 7009)."""
    return provider.create_endpoint_response("revocation", oreq)


# -- RP-initiated logout ---------------------------------------------------------------


def _end_browser_session(request: Request, provider: Provider, user: User | None) -> None:
    services = provider.ctx.services
    token = session_token(request)
    if token:
        services.sessions.delete(provider.ctx.db, token)
    if user is not None:
        audit.record(
            provider.ctx.db,
            now=provider.ctx.now,
            action=AuditAction.SIGN_OUT,
            actor_id=user.id,
            target_user_id=user.id,
            detail={"via": "oidc_logout"},
        )


def _logged_out(request: Request, response: Response | None = None) -> Response:
    request.state.viewer = None
    response = response or render(request, "oidc/logged_out.html")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/oauth/logout", operation_id="end_session_get")
@router.post("/oauth/logout", operation_id="end_session_post")
def end_session(
    request: Request,
    provider: ProviderDep,
    oreq: OAuthRequest,
    user: OptionalUser,
) -> Response:
    """RP-initiated logout: with a valid id_token_hint at once, otherwise after confirming."""
    try:
        validated = provider.validate_endpoint_request("end_session", oreq)
    except OAuth2Error as error:
        return _refused(request, provider, oreq, error)
    client_name = validated.client.name if validated.client else None
    if validated.needs_confirmation:
        return render(request, "oidc/logout_confirm.html", {"client_name": client_name})
    hinted = str((validated.id_token_claims or {}).get("sub", ""))
    secret = keys.sealing_secret(provider.ctx.services.settings)
    if user is not None and hinted != oidc.subject_for(validated.client, user.id, secret=secret):
        # Another person's ID token (a link planted by someone else, or a shared computer):
        # nothing ends by itself; the person here may still choose to sign out.
        return render(
            request,
            "oidc/logout_confirm.html",
            {"client_name": client_name, "other_account": True},
        )

    frontchannel: list[str] = []

    def end(req: EndSessionRequest) -> None:
        _end_browser_session(request, provider, user)
        db, now = provider.ctx.db, provider.ctx.now
        sub = (req.id_token_claims or {}).get("sub")
        if req.client is not None and sub:
            # The hint is the signed-in person's (checked above); with no session here, the
            # hinted person with a live token of this client.
            user_id = (
                user.id
                if user is not None
                else oidc.user_of_subject(db, req.client, str(sub), secret=secret, now=now)
            )
            if user_id is not None:
                oidc.revoke_tokens(db, now=now, user_id=user_id, client_pk=req.client.id)
        if user is not None:  # issue 21: the other applications are told too
            frontchannel.extend(single_logout.end_app_sessions(db, user, now))

    provider.ctx.on_end_session = end
    response = provider.create_endpoint_response("end_session", validated)
    if frontchannel:
        # The other applications' front-channel frames load on the signed-out page, which
        # then goes on to where the application asked to return (if it did).
        redirected = response is not None and response.status_code in (302, 303)
        location = response.headers.get("location") if redirected else None
        response = signed_out_page(request, frontchannel, continue_to=location)
    return _logged_out(request, response)


@router.post("/oauth/logout/confirm")
def end_session_confirmed(request: Request, provider: ProviderDep, user: OptionalUser) -> Response:
    """The person confirmed signing out (the request came without an ID token): as at
    退出登录, their applications' tokens end and the applications are told (issue 21)."""
    _end_browser_session(request, provider, user)
    if user is not None:
        frontchannel = single_logout.end_app_sessions(provider.ctx.db, user, provider.ctx.now)
        if frontchannel:
            return _logged_out(request, signed_out_page(request, frontchannel))
    return _logged_out(request)


# -- client registry (平台管理 · 应用接入) -------------------------------------------------


def _client_or_404(db: DbSession, client_pk: Id) -> OAuthClient:
    row = oidc.get_client(db, client_pk)
    if row is None:
        raise NotFound
    return row


def _form_page(
    request: Request,
    form: oidc.ClientForm,
    *,
    row: OAuthClient | None = None,
    errors: list[str] | None = None,
    secret: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "oidc/client_form.html",
        {
            "form": form,
            "row": row,
            "errors": errors or [],
            "secret": secret,
            "all_scopes": oidc.SCOPES,
            "sensitive": oidc.SENSITIVE_SCOPES,
            "service_scopes": oidc.SERVICE_SCOPES,
        },
        status_code=status_code,
    )


def _parse_form(
    name: str,
    redirect_uris: str,
    post_logout_redirect_uris: str,
    scopes: list[str],
    client_type: str,
    first_party: str,
    extra: IssueTwentyOneFields | None = None,
) -> oidc.ClientForm:
    extra = extra or IssueTwentyOneFields()
    return oidc.ClientForm.parse(
        name=name,
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=post_logout_redirect_uris,
        scopes=scopes,
        is_confidential=client_type != "public",
        is_first_party=first_party == "1",
        service_scopes=extra.service_scopes,
        backchannel_logout_uri=extra.backchannel_logout_uri,
        frontchannel_logout_uri=extra.frontchannel_logout_uri,
        frontchannel_logout_session_required=extra.frontchannel_session == "1",
    )


@dataclass
class IssueTwentyOneFields:
    """The client form's service scopes and logout URIs (issue 21)."""

    service_scopes: list[str] = dc_field(default_factory=list)
    backchannel_logout_uri: str = ""
    frontchannel_logout_uri: str = ""
    frontchannel_session: str = ""  # "1": frame with iss and sid


UriField = Annotated[str, Form(max_length=512)]


NameField = Annotated[str, Form(max_length=64)]
UrisField = Annotated[str, Form(max_length=6000)]
ScopesField = Annotated[list[str], Form()]
ShortField = Annotated[str, Form(max_length=16)]


@router.get("/platform/clients")
def clients_page(request: Request, db: DbSession, principal: ClientAdmin) -> Response:
    """应用接入: the registered applications."""
    return render(request, "oidc/clients.html", {"clients": oidc.list_clients(db)})


@router.get("/platform/clients/new")
def new_client_page(request: Request, principal: ClientAdmin) -> Response:
    """The form for a new application."""
    return _form_page(request, oidc.ClientForm())


@router.post("/platform/clients")
def create_client(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: ClientAdmin,
    client: Client,
    name: NameField = "",
    redirect_uris: UrisField = "",
    post_logout_redirect_uris: UrisField = "",
    scopes: ScopesField = [],  # noqa: B006 - FastAPI copies defaults
    client_type: ShortField = "confidential",
    first_party: ShortField = "",
    service_scopes: ScopesField = [],  # noqa: B006
    backchannel_logout_uri: UriField = "",
    frontchannel_logout_uri: UriField = "",
    frontchannel_session: ShortField = "",
) -> Response:
    """Register an application; its secret is shown on this page, once."""
    require_step_up(request)  # issue 19
    form = _parse_form(
        name,
        redirect_uris,
        post_logout_redirect_uris,
        scopes,
        client_type,
        first_party,
        IssueTwentyOneFields(
            service_scopes, backchannel_logout_uri, frontchannel_logout_uri, frontchannel_session
        ),
    )
    try:
        row, secret = oidc.create_client(
            db, form=form, actor=principal.user, now=services.clock.now(), client=client
        )
    except oidc.ClientFormError as exc:
        return _form_page(request, form, errors=exc.problems, status_code=400)
    return _form_page(request, oidc.ClientForm.of(row), row=row, secret=secret)


@router.get("/platform/clients/{client_pk}")
def client_page(request: Request, db: DbSession, principal: ClientAdmin, client_pk: Id) -> Response:
    """One application: edit it, reset its secret, disable it."""
    row = _client_or_404(db, client_pk)
    return _form_page(request, oidc.ClientForm.of(row), row=row)


@router.post("/platform/clients/{client_pk}")
def update_client(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: ClientAdmin,
    client: Client,
    client_pk: Id,
    name: NameField = "",
    redirect_uris: UrisField = "",
    post_logout_redirect_uris: UrisField = "",
    scopes: ScopesField = [],  # noqa: B006
    first_party: ShortField = "",
    service_scopes: ScopesField = [],  # noqa: B006
    backchannel_logout_uri: UriField = "",
    frontchannel_logout_uri: UriField = "",
    frontchannel_session: ShortField = "",
) -> Response:
    """Save an application's settings."""
    row = _client_or_404(db, client_pk)
    form = _parse_form(
        name,
        redirect_uris,
        post_logout_redirect_uris,
        scopes,
        "confidential" if row.is_confidential else "public",
        first_party,
        IssueTwentyOneFields(
            service_scopes, backchannel_logout_uri, frontchannel_logout_uri, frontchannel_session
        ),
    )
    try:
        oidc.update_client(
            db, row=row, form=form, actor=principal.user, now=services.clock.now(), client=client
        )
    except oidc.ClientFormError as exc:
        return _form_page(request, form, row=row, errors=exc.problems, status_code=400)
    return redirect(f"/platform/clients/{row.id}")


@router.post("/platform/clients/{client_pk}/secret")
def reset_client_secret(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: ClientAdmin,
    client: Client,
    client_pk: Id,
) -> Response:
    """重置密钥: a new secret, shown once; the old one stops working at once."""
    require_step_up(request)  # issue 19
    row = _client_or_404(db, client_pk)
    try:
        secret = oidc.reset_secret(
            db, row=row, actor=principal.user, now=services.clock.now(), client=client
        )
    except oidc.ClientFormError as exc:
        return _form_page(
            request, oidc.ClientForm.of(row), row=row, errors=exc.problems, status_code=400
        )
    return _form_page(request, oidc.ClientForm.of(row), row=row, secret=secret)


@router.post("/platform/clients/{client_pk}/enabled")
def set_client_enabled(
    db: DbSession,
    services: Svc,
    principal: ClientAdmin,
    client: Client,
    client_pk: Id,
    enabled: ShortField = "",
) -> Response:
    """停用 (its tokens are revoked) or 启用 an application."""
    row = _client_or_404(db, client_pk)
    oidc.set_client_enabled(
        db,
        row=row,
        enabled=enabled == "1",
        actor=principal.user,
        now=services.clock.now(),
        client=client,
    )
    return redirect(f"/platform/clients/{row.id}")


# -- the login page of an authorization request (issue 21) -------------------------------


def login_context(request: Request) -> dict[str, str] | None:
    """For the login page: the application whose authorization request it interrupts
    (「XX 应用请求登录」) and the account it suggested (`login_hint`, prefilled).

    Read from the page's `next` (the continuation of the authorization request), so only a
    registered, enabled application can be named; registered in `domains.install`.
    """
    next_path = getattr(request.state, "login_next", None)
    if not isinstance(next_path, str) or not next_path.startswith(CONTINUE_PATH + "?"):
        return None
    params = dict(parse_qsl(urlsplit(next_path).query))
    services: Any = request.app.state.services
    with services.session_factory() as db:
        row = oidc.find_active_client(db, params.get("client_id"))
        name = row.name if row is not None else None
    if name is None:
        return None
    return {"app_name": name, "login_hint": params.get("login_hint", "")[:64]}


# -- 授权管理 (issue 21) --------------------------------------------------------------------


WITHDRAWN = N_("已撤销授权，该应用的登录已立即失效。")


def _grant_owner(db: DbSession, services: Svc, person: User) -> authz.GrantOwner:
    target = principal_for(db, person)
    today = calendar_for(services.settings, services.clock).today
    return authz.GrantOwner(
        user_id=person.id,
        is_student=Role.STUDENT in target.roles,
        school_ids=frozenset(target.member_school_ids),
        under_14=oidc.under_14(person, today),
    )


def _person_in_reach(
    db: DbSession, services: Svc, principal: Principal, user_id: int
) -> tuple[User, authz.GrantOwner]:
    """The person in the URL whose grants the caller may see; 404 otherwise, for an unknown id
    and a person out of reach alike, so the answer does not tell which ids exist (as the
    class pages and /me/children/{id} answer)."""
    person = accounts.get_user(db, user_id)
    owner = _grant_owner(db, services, person) if person is not None else None
    if person is None or owner is None or authz.grants_access(principal, owner) is None:
        raise NotFound
    return person, owner


def _grants_page(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: Principal,
    person: User,
) -> Response:
    access = authz.check_grants(principal, _grant_owner(db, services, person), manage=False)
    grants = oidc.list_grants(
        db,
        user_id=person.id,
        now=services.clock.now(),
        consent_days=services.settings.oidc_consent_days,
    )
    return render(
        request,
        "oidc/grants.html",
        {
            "person": person,
            "own": person.id == principal.user.id,
            "can_withdraw": access is authz.GrantAccess.MANAGE,
            "grants": grants,
            "done": WITHDRAWN if request.query_params.get("withdrawn") == "1" else None,
        },
    )


@router.get("/account/apps")
def my_grants(
    request: Request, db: DbSession, services: Svc, principal: CurrentPrincipal
) -> Response:
    """授权管理: the applications I authorised, what each may read; withdraw."""
    return _grants_page(request, db, services, principal, principal.user)


@router.get("/people/{user_id}/apps")
def person_grants(
    request: Request, db: DbSession, services: Svc, principal: CurrentPrincipal, user_id: Id
) -> Response:
    """Someone else's 授权管理: a linked parent of a child under 14 (withdraws too) or a school
    administrator of the pupil's school (reads only); see authz.grants_access."""
    person, _owner = _person_in_reach(db, services, principal, user_id)
    return _grants_page(request, db, services, principal, person)


@router.post("/people/{user_id}/apps/{client_pk}/withdraw")
def withdraw_grant(
    request: Request,
    db: DbSession,
    services: Svc,
    principal: CurrentPrincipal,
    client: Client,
    user_id: Id,
    client_pk: Id,
) -> Response:
    """撤销授权: the consent goes and the application's tokens stop working at once."""
    person, owner = _person_in_reach(db, services, principal, user_id)
    authz.check_grants(principal, owner, manage=True)  # a reader may not withdraw: 403
    row = _client_or_404(db, client_pk)
    oidc.withdraw_grant(
        db,
        owner_id=person.id,
        row=row,
        actor=principal.user,
        now=services.clock.now(),
        client=client,
    )
    target = "/account/apps" if person.id == principal.user.id else f"/people/{person.id}/apps"
    return redirect(f"{target}?withdrawn=1")

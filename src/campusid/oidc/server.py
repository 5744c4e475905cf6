"""Authlib's OAuth 2 / OpenID Connect server, wired to FastAPI, our tables and our clock.

Authlib does the protocol (request validation, PKCE, grants, errors, revocation, RP-initiated
logout); this module only says where things are stored and what time it is. A `Provider` is
built per request, bound to that request's database session, so nothing is shared between
threads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from authlib.common.security import generate_token
from authlib.consts import default_json_headers
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Payload, OAuth2Request, grants
from authlib.oauth2.rfc6749.errors import (
    InvalidScopeError,
    MissingAuthorizationError,
    UnsupportedTokenTypeError,
)
from authlib.oauth2.rfc6749.resource_protector import ResourceProtector
from authlib.oauth2.rfc6750 import (
    BearerTokenGenerator,
    BearerTokenValidator,
    InsufficientScopeError,
    InvalidTokenError,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core import UserInfoEndpoint
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.rpinitiated import EndSessionEndpoint, EndSessionRequest
from fastapi import Request
from fastapi.responses import Response
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy.orm import Session
from starlette.datastructures import MutableHeaders

from campusid.accounts.models import User
from campusid.context import Services
from campusid.oidc import keys
from campusid.oidc import service as oidc
from campusid.oidc.models import AuthorizationCode, OAuthClient, OAuthToken
from campusid.org.schoolyear import calendar_for

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


def issuer_of(request: Request, services: Services) -> str:
    """The issuer identifier: the configured one, else the URL this request came to."""
    configured = services.settings.oidc_issuer
    return (configured or str(request.base_url)).rstrip("/")


class FormPayload(OAuth2Payload):  # type: ignore[misc]
    """The request's parameters: query and form together, first value of each."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._lists: dict[str, list[str]] = {}
        for key, value in pairs:
            self._lists.setdefault(key, []).append(value)

    @property
    def data(self) -> dict[str, str]:
        return {key: values[0] for key, values in self._lists.items()}

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._lists


class StarletteOAuth2Request(OAuth2Request):  # type: ignore[misc]
    """An Authlib request made from what FastAPI parsed."""

    def __init__(
        self,
        *,
        method: str,
        uri: str,
        headers: Any,
        args: list[tuple[str, str]],
        form: list[tuple[str, str]],
        enforce_https: bool,
    ) -> None:
        # Production refuses plain HTTP (behind the proxy the scheme comes from
        # X-Forwarded-Proto); development and tests run on plain http://testserver.
        super().__init__(method, uri if enforce_https else "https://localhost/", headers=headers)
        self.uri = uri
        self._args = FormPayload(args).data
        self._form = FormPayload(form).data
        self.payload = FormPayload(args + form)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


async def read_request(request: Request) -> StarletteOAuth2Request:
    """FastAPI dependency: the request as Authlib sees it (the form read once, here)."""
    form: list[tuple[str, str]] = []
    content_type = request.headers.get("content-type", "")
    if request.method == "POST" and content_type.startswith("application/x-www-form-urlencoded"):
        parsed = await request.form()
        form = [(k, v) for k, v in parsed.multi_items() if isinstance(v, str)]
    services: Services = request.app.state.services
    return StarletteOAuth2Request(
        method=request.method,
        uri=str(request.url),
        headers=request.headers,
        args=list(request.query_params.multi_items()),
        form=form,
        enforce_https=services.settings.environment == "production",
    )


@dataclass
class Context:
    """What the provider needs from the request it serves."""

    db: Session
    services: Services
    issuer: str
    auth_time: datetime | None = None
    # issue 19: how the session signed in (RFC 8176) and the context class met, for the code.
    amr: list[str] | None = None
    acr: str | None = None
    # issue 21: the browser session's `sid` (oidc.service.session_sid), for the code.
    sid: str | None = None
    on_end_session: Callable[[EndSessionRequest], None] | None = None
    signing: tuple[str, Any] | None = field(default=None, repr=False)

    @property
    def now(self) -> datetime:
        return self.services.clock.now()

    def signing_key(self) -> tuple[str, Any]:
        if self.signing is None:
            self.signing = keys.signing_key(
                self.db,
                secret_key=keys.sealing_secret(self.services.settings),
                now=self.now,
                grace=timedelta(hours=self.services.settings.oidc_key_grace_hours),
            )
        return self.signing

    def subject(self, row: OAuthClient | None) -> oidc.SubjectOf:
        """How this client names people (`sub`: public or pairwise, issue 21)."""
        return oidc.subject_function(row, secret=keys.sealing_secret(self.services.settings))

    def claims(self, user: User, scope: str, row: OAuthClient | None = None) -> dict[str, Any]:
        cal = calendar_for(self.services.settings, self.services.clock)
        return oidc.user_claims(
            self.db,
            user=user,
            scope=scope,
            today=cal.today,
            year=cal.boundary,
            subject=self.subject(row),
            picture_url=f"{self.issuer}/oauth/picture",
        )


def _ctx(grant_or_endpoint: Any) -> Context:
    return grant_or_endpoint.server.ctx


class PKCE(CodeChallenge):  # type: ignore[misc]
    """PKCE (RFC 7636) with S256 only, required of public clients at the authorization step."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        challenge = data.get("code_challenge")
        if not challenge and not grant.request.client.is_confidential:
            raise InvalidRequestError("Public clients must use PKCE: missing 'code_challenge'.")
        if challenge and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """The authorization code grant, codes stored hashed and single use."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def save_authorization_code(self, code: str, request: Any) -> None:
        ctx = _ctx(self)
        data = request.payload.data
        oidc.save_code(
            ctx.db,
            code=code,
            row=request.client,
            user=request.user,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            auth_time=ctx.auth_time or ctx.now,
            now=ctx.now,
            lifetime=timedelta(seconds=ctx.services.settings.oidc_code_seconds),
            amr=" ".join(ctx.amr) if ctx.amr else None,
            acr=ctx.acr,
            sid=ctx.sid,
        )

    def query_authorization_code(self, code: str, client: OAuthClient) -> Any:
        ctx = _ctx(self)
        return oidc.redeem_code(ctx.db, code=code, row=client, now=ctx.now)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        authorization_code.used_at = _ctx(self).now

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User | None:
        return oidc.active_user(_ctx(self).db, authorization_code.user_id)


class IDToken(OpenIDCode):  # type: ignore[misc]
    """The ID token: signed with the current key, timed by the injected clock."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(require_nonce=False)
        self.ctx = ctx

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return False  # nonces are the client's to check; codes are single use anyway

    def get_client_algorithm(self, client: OAuthClient) -> str:
        return keys.ALGORITHM

    def get_encode_header(self, client: OAuthClient) -> dict[str, str]:
        return {"alg": keys.ALGORITHM, "kid": self.ctx.signing_key()[0], "typ": "JWT"}

    def resolve_client_private_key(self, client: OAuthClient) -> Any:
        return self.ctx.signing_key()[1]

    def get_client_claims(self, client: OAuthClient) -> dict[str, Any]:
        ctx = self.ctx
        now = int(ctx.now.timestamp())
        return {
            "iss": ctx.issuer,
            "aud": [client.client_id],
            "iat": now,
            "exp": now + ctx.services.settings.oidc_id_token_seconds,
        }

    _client: OAuthClient | None = None

    def get_authorization_code_claims(self, authorization_code: AuthorizationCode) -> Any:
        claims = super().get_authorization_code_claims(authorization_code)
        if authorization_code.sid:
            claims["sid"] = authorization_code.sid  # the session logout tokens will name
        return claims

    def encode_id_token(self, token: Any, request: Any) -> Any:
        self._client = request.client  # whose `sub` the ID token carries
        return super().encode_id_token(token, request)

    def generate_user_info(self, user: User, scope: str) -> dict[str, Any]:
        # The ID token names the person; school and family claims come from userinfo.
        claims: dict[str, Any] = {"sub": self.ctx.subject(self._client)(user.id)}
        if "profile" in scope.split():
            claims["name"] = user.real_name
            claims["preferred_username"] = user.username
        return claims


class RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    """Refresh with rotation: every use gives a new refresh token; a reused one kills the family."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> OAuthToken | None:
        ctx = _ctx(self)
        return oidc.redeem_refresh_token(
            ctx.db, refresh_token=refresh_token, row=self.request.client, now=ctx.now
        )

    def authenticate_user(self, refresh_token: OAuthToken) -> User | None:
        return oidc.active_user(_ctx(self).db, refresh_token.user_id)

    def revoke_old_credential(self, refresh_token: OAuthToken) -> None:
        oidc.rotate_out(_ctx(self).db, item=refresh_token, now=_ctx(self).now)


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """Token revocation (RFC 7009), public clients included (they prove only their id)."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> OAuthToken | None:
        return oidc.find_token(_ctx(self).db, token=token_string, hint=token_type_hint)

    def revoke_token(self, token: OAuthToken, request: Any) -> None:
        oidc.revoke_token(_ctx(self).db, item=token, now=_ctx(self).now)


class BearerValidator(BearerTokenValidator):  # type: ignore[misc]
    """Bearer access tokens, looked up by hash, expired by the injected clock."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(realm=REALM)
        self.ctx = ctx

    def authenticate_token(self, token_string: str) -> OAuthToken | None:
        return oidc.find_access_token(self.ctx.db, access_token=token_string, now=self.ctx.now)

    def validate_token(self, token: OAuthToken | None, scopes: Any, request: Any) -> None:
        if token is None:
            raise InvalidTokenError(realm=self.realm)
        if self.scope_insufficient(token.scope, scopes):
            raise InsufficientScopeError()


class UserInfo(UserInfoEndpoint):  # type: ignore[misc]
    """The userinfo endpoint: the claims of the token's scopes, as JSON."""

    def __call__(self, request: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        ctx = _ctx(self)
        _bearer_from_form(request)
        try:
            token = self.resource_protector.validate_request(["openid"], request)
        except (MissingAuthorizationError, UnsupportedTokenTypeError) as exc:
            # RFC 6750 section 3.1: a missing or unusable token is `invalid_token` (Authlib's
            # own `missing_authorization` is not a registered error code).
            raise InvalidTokenError(realm=REALM) from exc
        user = oidc.active_user(ctx.db, token.user_id)
        if user is None:
            raise InvalidTokenError()
        row = ctx.db.get(OAuthClient, token.client_id)
        return 200, ctx.claims(user, token.scope, row), default_json_headers


REALM = "campusid"


def _bearer_from_form(request: Any) -> None:
    """RFC 6750 section 2.2: the access token in a form-encoded POST body is taken as if it
    came in the Authorization header; more than one method, or one in the query, is refused
    (section 2: a client MUST NOT use more than one)."""
    in_form = "access_token" in request.form
    in_query = "access_token" in request.args
    in_header = bool(request.headers.get("Authorization"))
    if in_query or (in_form and in_header):
        raise InvalidRequestError(
            "Send the access token once: in the Authorization header or a form body."
        )
    if in_form:
        headers = MutableHeaders(raw=list(request.headers.raw))
        headers["Authorization"] = "Bearer " + request.form["access_token"]
        request.headers = headers


class _HintClaims(jwt.JWTClaimsRegistry):
    """An id_token_hint may have expired (RP-Initiated Logout 1.0, section 2)."""

    def validate_exp(self, value: object) -> None:
        return None


class EndSession(EndSessionEndpoint):  # type: ignore[misc]
    """RP-initiated logout: verifies id_token_hint against our own published keys."""

    def get_server_jwks(self) -> dict[str, Any]:
        ctx = _ctx(self)
        return keys.jwks(ctx.db, now=ctx.now)

    def resolve_client_from_id_token_claims(self, id_token_claims: dict[str, Any]) -> Any:
        aud = id_token_claims.get("aud")
        if isinstance(aud, list) and len(aud) == 1:
            aud = aud[0]
        return self.server.query_client(aud) if isinstance(aud, str) else None

    def _validate_id_token_hint(self, id_token_hint: str) -> dict[str, Any]:
        # Authlib's version judges iat by the system clock; ours is injected. Same checks,
        # plus the issuer.
        ctx = _ctx(self)
        try:
            token = jwt.decode(
                id_token_hint, keys.public_key_set(ctx.db, now=ctx.now), [keys.ALGORITHM]
            )
            _HintClaims(
                now=int(ctx.now.timestamp()), iss={"essential": True, "value": ctx.issuer}
            ).validate(token.claims)
        except JoseError as exc:
            raise InvalidRequestError(exc.description) from exc
        return dict(token.claims)

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        callback = _ctx(self).on_end_session
        if callback is not None:
            callback(end_session_request)


class Provider(AuthorizationServer):  # type: ignore[misc]
    """The authorization server of one request."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(scopes_supported=list(oidc.SCOPES))
        self.ctx = ctx
        settings = ctx.services.settings
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=_random_token,
                refresh_token_generator=_random_token,
                expires_generator=settings.oidc_access_token_seconds,
            ),
        )
        self.register_grant(CodeGrant, [PKCE(required=True), IDToken(ctx)])
        self.register_grant(RefreshGrant)
        # issue 21: server-to-server tokens (no refresh token) and RFC 7662 introspection.
        self.register_token_generator(
            "client_credentials",
            ServiceTokenGenerator(
                access_token_generator=_random_token,
                expires_generator=settings.oidc_access_token_seconds,
            ),
        )
        self.register_grant(ClientCredentials)
        self.register_endpoint(Introspection)
        self.register_endpoint(Revocation)
        protector = ResourceProtector()
        protector.register_token_validator(BearerValidator(ctx))
        self.register_endpoint(UserInfo(resource_protector=protector))
        self.register_endpoint(EndSession)

    def query_client(self, client_id: str) -> OAuthClient | None:
        return oidc.find_active_client(self.ctx.db, client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        source = request.authorization_code or request.refresh_token
        oidc.save_token(
            self.ctx.db,
            token=token,
            row=request.client,
            user=request.user,
            family_id=source.family_id if source is not None else oidc.new_family_id(),
            now=self.ctx.now,
            refresh_lifetime=timedelta(days=self.ctx.services.settings.oidc_refresh_token_days),
            sid=getattr(source, "sid", None),
        )

    def create_oauth2_request(self, request: Any) -> Any:
        return request

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def handle_response(self, status_code: int, payload: Any, headers: Any) -> Response:
        body = json.dumps(payload) if isinstance(payload, dict) else payload
        return Response(body, status_code=status_code, headers=dict(headers))


def _random_token(**_kwargs: Any) -> str:
    return str(generate_token(48))


# -- server-to-server calls (issue 21) ---------------------------------------------------------


class ServiceTokenGenerator(BearerTokenGenerator):  # type: ignore[misc]
    """Bearer tokens of the client_credentials grant: the scope is the service scope the grant
    settled, not filtered by the client's sign-in scopes."""

    @staticmethod
    def get_allowed_scope(client: OAuthClient, scope: str) -> str:
        return scope


class ClientCredentials(grants.ClientCredentialsGrant):  # type: ignore[misc]
    """RFC 6749 4.4 for a confidential client given service scopes (应用接入); no refresh
    token, no person."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]

    def validate_requested_scope(self) -> None:
        client: OAuthClient = self.request.client
        scope = client.get_service_scope(self.request.payload.scope)
        if scope is None or not scope:
            raise InvalidScopeError()
        self.request.service_scope = scope

    def create_token_response(self) -> tuple[int, Any, list[tuple[str, str]]]:
        token = self.generate_token(scope=self.request.service_scope, include_refresh_token=False)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662: a confidential client asks whether a token issued to it is live."""

    CLIENT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> OAuthToken | None:
        return oidc.find_token(_ctx(self).db, token=token_string, hint=token_type_hint)

    def check_permission(self, token: OAuthToken, client: OAuthClient, request: Any) -> bool:
        return oidc.may_introspect(token, client)

    def create_introspection_payload(self, token: OAuthToken | None) -> dict[str, Any]:
        ctx = _ctx(self)
        return oidc.introspection(
            ctx.db,
            item=token,
            issuer=ctx.issuer,
            now=ctx.now,
            secret=keys.sealing_secret(ctx.services.settings),
        )

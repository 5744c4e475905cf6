"""The OpenID Connect provider's tables: clients, codes, tokens, consents and signing keys.

Every secret here (client secret, code, access and refresh token) is stored only as its SHA-256
(they are 256-bit random values, so a fast hash is enough); the private half of a signing key
only encrypted.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from campusid.db import Base, UTCDateTime
from campusid.security.sessions import hash_token
from campusid.types import enum_by_value

# Authlib's server calls these on the client model (duck-typed, see oauth2.rfc6749.models).
CONFIDENTIAL_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
GRANT_TYPES = ("authorization_code", "refresh_token")
# issue 21: server-to-server calls (RFC 6749 4.4), for a confidential client given service scopes.
CLIENT_CREDENTIALS = "client_credentials"


class KeyState(StrEnum):
    """A signing key's life: it signs while active, only verifies while retired."""

    ACTIVE = "active"
    RETIRED = "retired"


class OAuthClient(Base):
    """An application that signs people in through campusid (a relying party)."""

    __tablename__ = "oidc_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(48), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str | None] = mapped_column(
        String(64), comment="SHA-256 of the secret; NULL for a public client"
    )
    is_confidential: Mapped[bool] = mapped_column(Boolean, default=True)
    is_first_party: Mapped[bool] = mapped_column(
        Boolean, default=False, comment="the platform's own app: no consent page"
    )
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, comment="exact match only")
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    allowed_scopes: Mapped[str] = mapped_column(String(255), comment="space-separated")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # issue 21: a third-party client sees a `sub` of its own (OpenID Connect Core 8.1), so two
    # applications cannot link a person by it; first-party clients keep the public one.
    pairwise_subject: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        server_default=false(),
        comment="sub differs per client (third-party apps cannot link people)",
    )
    # issue 21: what the client may do on its own behalf (client_credentials), and where it
    # is told that a person signed out (Back-Channel / Front-Channel Logout 1.0).
    service_scopes: Mapped[str] = mapped_column(
        String(255), default="", server_default="", comment="space-separated; client_credentials"
    )
    backchannel_logout_uri: Mapped[str | None] = mapped_column(String(512))
    frontchannel_logout_uri: Mapped[str | None] = mapped_column(String(512))
    # Front-Channel Logout 1.0 `frontchannel_logout_session_required`: the URI is framed with
    # `iss` and `sid` query parameters.
    frontchannel_logout_session_required: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        server_default=false(),
        comment="front-channel logout URI gets iss and sid",
    )

    # -- what Authlib asks of a client ---------------------------------------------------

    def get_client_id(self) -> str:
        """The public identifier."""
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        """None: every request must name its redirect URI (OpenID Connect requires it)."""
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        """The requested scopes this client may have, in the order asked."""
        if not scope:
            return ""
        allowed = set(self.allowed_scopes.split())
        return " ".join(s for s in dict.fromkeys(scope.split()) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact string match against the registered URIs: no prefixes, no wildcards."""
        return redirect_uri in (self.redirect_uris or [])

    def check_client_secret(self, client_secret: str) -> bool:
        """Never true for a public client; a keyed, constant-time comparison otherwise."""
        if self.secret_hash is None:
            return False
        return hmac.compare_digest(self.secret_hash, hash_token(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Confidential clients authenticate with their secret; public ones cannot."""
        if self.is_confidential:
            return method in CONFIDENTIAL_AUTH_METHODS
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        """Only the authorization code flow."""
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        """Authorization code and refresh token grants; client credentials for a confidential
        client given service scopes."""
        if grant_type == CLIENT_CREDENTIALS:
            return self.is_confidential and bool(self.service_scopes.split())
        return grant_type in GRANT_TYPES

    def get_service_scope(self, scope: str | None) -> str | None:
        """The service scopes of a client_credentials request: all allowed ones when none is
        named, None when one named is not allowed (invalid_scope)."""
        allowed = self.service_scopes.split()
        if not scope:
            return " ".join(allowed)
        asked = list(dict.fromkeys(scope.split()))
        return " ".join(asked) if set(asked) <= set(allowed) else None

    @property
    def client_metadata(self) -> dict[str, Any]:
        """Registration metadata Authlib reads (RP-initiated logout, userinfo signing)."""
        return {"post_logout_redirect_uris": list(self.post_logout_redirect_uris or [])}


class AuthorizationCode(Base):
    """A one-time code handed to the client's redirect URI; 10 minutes at most."""

    __tablename__ = "oidc_authorization_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("oidc_clients.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    family_id: Mapped[str] = mapped_column(
        String(32), comment="shared by every token that descends from this code"
    )
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(255))
    nonce: Mapped[str | None] = mapped_column(String(255))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(8))
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # issue 19: how the session that approved the code signed in (RFC 8176 values, space-
    # separated: "pwd", "pwd otp mfa", "pwd hwk mfa") and the context class it satisfied.
    amr: Mapped[str | None] = mapped_column(String(64))
    acr: Mapped[str | None] = mapped_column(String(64))
    # issue 21: the browser session it came from (`sid` of the ID and logout tokens): a keyed
    # digest of the session's id, never the cookie's value (oidc.service.session_sid).
    sid: Mapped[str | None] = mapped_column(
        String(64),
        comment="the browser session it came from (keyed digest, never the cookie)",
    )

    # -- what Authlib asks of a code -----------------------------------------------------

    def get_redirect_uri(self) -> str:
        """The redirect URI the code was issued for."""
        return self.redirect_uri

    def get_scope(self) -> str:
        """The granted scopes."""
        return self.scope

    def get_nonce(self) -> str | None:
        """The nonce of the authentication request."""
        return self.nonce

    def get_auth_time(self) -> int:
        """When the person signed in (seconds since the epoch)."""
        return int(self.auth_time.timestamp())

    def get_acr(self) -> str | None:
        """The authentication context class the sign-in satisfied (see oidc.service.ACR_MFA)."""
        return self.acr

    def get_amr(self) -> list[str]:
        """How the person signed in: a password, and the second factor if one was used."""
        return (self.amr or "pwd").split()


class OAuthToken(Base):
    """An access token and (usually) a refresh token issued together.

    Refresh tokens rotate: using one marks it used and issues a new pair in the same family;
    presenting a used one again is treated as theft and revokes the whole family.
    """

    __tablename__ = "oidc_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("oidc_clients.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"), index=True, comment="NULL for a client_credentials token"
    )
    family_id: Mapped[str] = mapped_column(String(32), index=True)
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(255))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refresh_used_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), comment="set when rotated; a second use is reuse"
    )
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # issue 21: the browser session it came from (`sid` of the ID and logout tokens): a keyed
    # digest of the session's id, never the cookie's value (oidc.service.session_sid).
    sid: Mapped[str | None] = mapped_column(
        String(64),
        comment="the browser session it came from (keyed digest, never the cookie)",
    )

    def check_client(self, client: OAuthClient) -> bool:
        """Whether the token was issued to this client (Authlib asks)."""
        return self.client_id == client.id

    def get_scope(self) -> str:
        """The granted scopes."""
        return self.scope


class Consent(Base):
    """The scopes a person allowed a third-party client (同意授权), remembered."""

    __tablename__ = "oidc_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("oidc_clients.id"), index=True)
    scope: Mapped[str] = mapped_column(String(255))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("user_id", "client_id"),)


class SigningKey(Base):
    """An RS256 key pair for ID tokens. The public JWK is served; the private one never is."""

    __tablename__ = "oidc_signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    algorithm: Mapped[str] = mapped_column(String(16), default="RS256")
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_jwk_encrypted: Mapped[str] = mapped_column(
        Text, comment="AES-GCM under a key derived from the secret key"
    )
    state: Mapped[KeyState] = mapped_column(enum_by_value(KeyState), default=KeyState.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), comment="after this the key is no longer published"
    )

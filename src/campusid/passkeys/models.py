"""A person's registered passkeys and security keys, and the ceremonies' live challenges."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campusid.accounts.models import SecondFactor
from campusid.db import Base, UTCDateTime


class PasskeyCredential(Base):
    """A WebAuthn credential: the authenticator keeps the private key, we keep the public one.

    `backup_eligible` tells a synced passkey (iCloud Keychain, Google Password Manager: the key
    leaves the device, OIDC reports `swk`) from a device-bound one (a security key, Windows
    Hello on a TPM: `hwk`); `attachment` is what the browser said (platform or cross-platform).
    Its name and last use are its second factor's (one record of each, listed with the others).
    """

    __tablename__ = "passkey_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # The person's second factor this key is (kind "webauthn"): listed, removed and reset with
    # the others; removing the factor removes the key (ON DELETE CASCADE).
    factor_id: Mapped[int] = mapped_column(
        ForeignKey("second_factors.id", ondelete="CASCADE"), unique=True
    )
    credential_id: Mapped[str] = mapped_column(
        String(1400), unique=True, comment="base64url of the authenticator's credential id"
    )
    public_key: Mapped[bytes] = mapped_column(LargeBinary, comment="COSE_Key")
    sign_count: Mapped[int] = mapped_column(
        BigInteger, default=0, comment="the authenticator's counter; a lower one is a clone"
    )
    transports: Mapped[str] = mapped_column(String(128), default="", comment="space-separated")
    aaguid: Mapped[str] = mapped_column(String(36), default="")
    attachment: Mapped[str | None] = mapped_column(String(16), comment="platform, cross-platform")
    backup_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    factor: Mapped[SecondFactor] = relationship(lazy="joined")

    @property
    def label(self) -> str:
        return self.factor.label

    @property
    def last_used_at(self) -> datetime | None:
        return self.factor.last_used_at

    @property
    def amr(self) -> str:
        """RFC 8176: `swk` for a synced (software-held) passkey, `hwk` for a device-bound key."""
        return "swk" if self.backup_eligible else "hwk"


class PasskeyChallenge(Base):
    """A challenge handed to the browser: only its SHA-256 is kept; single use, short-lived."""

    __tablename__ = "passkey_challenges"

    challenge_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), comment="register or authenticate")
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    binding_digest: Mapped[str] = mapped_column(
        String(64), comment="HMAC of the session (or pending sign-in) that asked for it"
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

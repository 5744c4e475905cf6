"""A software authenticator: real WebAuthn registration and authentication responses.

It does what a security key or a phone does, with the `cryptography` package: an ECDSA P-256
key pair per credential, the authenticator data (RP id hash, flags, signature counter, the
attested credential with its COSE key), a "none" or "packed" self-attestation, and assertions
signed over the authenticator data and the client data hash. The responses are the JSON a
browser's PublicKeyCredential gives (base64url fields), so the server's `webauthn` library
checks them exactly as it checks a browser's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64url(data: bytes) -> str:
    """base64url without padding, as WebAuthn's JSON has it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """The bytes of a base64url string (padding optional)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftCredential:
    """One credential the authenticator holds."""

    credential_id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    counter: int = 0

    def cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )


@dataclass
class SoftAuthenticator:
    """A security key (device-bound, `hwk`) or, with `synced`, a synced passkey (`swk`)."""

    synced: bool = False
    user_verified: bool = True
    attachment: str = "cross-platform"
    attestation: str = "none"  # or "packed" (self attestation)
    counts: bool = True  # keeps a signature counter (synced passkeys usually send 0)
    aaguid: bytes = b"\x00" * 16
    credentials: dict[bytes, SoftCredential] = field(default_factory=dict)

    def _flags(self, *, attested: bool) -> int:
        flags = UP | (UV if self.user_verified else 0)
        if self.synced:
            flags |= BE | BS
        return flags | (AT if attested else 0)

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False},
            separators=(",", ":"),
        ).encode()

    def create(
        self, options: dict[str, Any], *, origin: str, rp_id: str | None = None
    ) -> dict[str, Any]:
        """navigator.credentials.create(): a new credential, attested; the browser's JSON."""
        rp = rp_id or options["rp"]["id"]
        excluded = {unb64url(c["id"]) for c in options.get("excludeCredentials", [])}
        if excluded & set(self.credentials):
            raise RuntimeError("InvalidStateError: this authenticator is already registered")
        credential = SoftCredential(
            credential_id=secrets.token_bytes(32),
            key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=rp,
            user_handle=unb64url(options["user"]["id"]),
        )
        self.credentials[credential.credential_id] = credential
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        cose = credential.cose_key()
        auth_data = (
            hashlib.sha256(rp.encode()).digest()
            + bytes([self._flags(attested=True)])
            + struct.pack(">I", credential.counter)
            + self.aaguid
            + struct.pack(">H", len(credential.credential_id))
            + credential.credential_id
            + cose
        )
        statement: dict[str, Any] = {}
        if self.attestation == "packed":
            signed = auth_data + hashlib.sha256(client_data).digest()
            statement = {"alg": -7, "sig": credential.key.sign(signed, ec.ECDSA(hashes.SHA256()))}
        attestation = cbor2.dumps(
            {"fmt": self.attestation, "attStmt": statement, "authData": auth_data}
        )
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "authenticatorAttachment": self.attachment,
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"] if self.attachment == "platform" else ["usb"],
            },
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str,
        rp_id: str | None = None,
        counter: int | None = None,
    ) -> dict[str, Any]:
        """navigator.credentials.get(): an assertion by an allowed credential; the browser's
        JSON. `counter` forces the signature counter (a clone's stale one, say)."""
        rp = rp_id or options["rpId"]
        allowed = [unb64url(c["id"]) for c in options.get("allowCredentials", [])]
        mine = [self.credentials[c] for c in allowed if c in self.credentials]
        if not mine:
            raise RuntimeError("NotAllowedError: no credential of this authenticator is allowed")
        credential = mine[0]
        if counter is not None:
            credential.counter = counter
        elif self.counts:
            credential.counter += 1
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = (
            hashlib.sha256(rp.encode()).digest()
            + bytes([self._flags(attested=False)])
            + struct.pack(">I", credential.counter)
        )
        signature = credential.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "authenticatorAttachment": self.attachment,
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(credential.user_handle),
            },
        }

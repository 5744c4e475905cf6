"""Passkeys and security keys (WebAuthn) as a second factor (issue 19)."""
